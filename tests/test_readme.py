"""The README: one page, its tour runs as written, its commands are CI's, its links
resolve."""

import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_is_about_one_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= 100, len(lines)
    assert not any(line.startswith("|") for line in lines), "tables belong in docs/"


def test_readme_tour_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "one tour"
    namespace: dict = {}
    try:
        exec(compile(blocks[0], str(README), "exec"), namespace)
    finally:
        import convcore

        convcore.set_num_threads(None)
    out = capsys.readouterr().out
    y, x = namespace["y"], namespace["x"]
    assert y.shape == (8, 64, 112, 112) and y.dtype == np.float32
    assert namespace["gx"].shape == x.shape and namespace["gw"].shape == namespace["w"].shape
    assert namespace["idx"].shape == (8, 3, 112, 112)
    assert namespace["cols"].shape == (8, 27, 112 * 112)
    assert out.splitlines()[0] == str(namespace["model"].summary().total_params) == "41418"
    assert "OpenMP" in out


def test_readme_commands_match_ci():
    text = README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = 'python -m pip install -e ".[test]" && python -m pytest'
    assert test_cmd in text and test_cmd in ci
    assert "python -m pip install . && convcore report" in text


def test_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)", README.read_text()):
        if "://" not in target:
            assert (ROOT / target).exists(), target
