"""The README's tour runs as written."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs(capsys):
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    assert len(blocks) >= 3, "expected the convolution tour, gradients and pooling"
    namespace: dict = {}
    try:
        exec(compile(blocks[0], str(README), "exec"), namespace)
        y = namespace["y"]
        assert y.shape == (64, 224, 224) and y.dtype == np.float32
        assert np.all(y >= 0)  # relu(y) did not modify y, but y came from non-negative data
        assert "OpenMP" in capsys.readouterr().out
        exec(compile(blocks[1], str(README), "exec"), namespace)  # gradients, same x and w
        gx, gw, gb = namespace["gx"], namespace["gw"], namespace["gb"]
        assert gx.shape == namespace["x"].shape and gw.shape == namespace["w"].shape
        assert gb.shape == (64,) and np.all(gb == 8 * 112 * 112)
        exec(compile(blocks[2], str(README), "exec"), namespace)  # pooling, same x
    finally:
        import convcore

        convcore.set_num_threads(None)
    x, g, idx = namespace["x"], namespace["g"], namespace["idx"]
    assert g.shape == x.shape and g.dtype == np.float32
    assert idx.dtype == np.int64 and idx.shape == (8, 3, 112, 112)


def test_readme_other_sections_run():
    """Every python block after the tour is self-contained and runs in a fresh namespace."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    try:
        for block in blocks[3:]:
            exec(compile(block, str(README), "exec"), {})
    finally:
        import convcore

        convcore.set_num_threads(None)


def test_readme_commands_match_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    test_cmd = 'python -m pip install -e ".[test]" && python -m pytest'
    assert test_cmd in text and test_cmd in ci
