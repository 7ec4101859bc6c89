"""docs/: every Python example runs, every link resolves, every docs file that the code
names exists, and the API reference builds without a warning (when Sphinx is installed)."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("path", [p for p in DOCS if _blocks(p)], ids=lambda p: p.name)
def test_python_examples_run(path):
    if path.name == "dask.md":
        pytest.importorskip("dask.array")
    import convcore

    try:
        for block in _blocks(path):
            exec(compile(block, str(path), "exec"), {})
    finally:
        convcore.set_num_threads(None)


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_links_resolve(path):
    for target in re.findall(r"\]\(([^)#]+)", path.read_text()):
        if "://" not in target:
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_docs_files_named_in_the_code_exist():
    named = set()
    for source in (ROOT / "convcore").rglob("*.py"):
        named |= set(re.findall(r"docs/[\w-]+\.md", source.read_text()))
    assert "docs/performance.md" in named  # convcore bench's targets
    for name in named:
        assert (ROOT / name).exists(), name


def test_index_lists_every_page():
    index = (ROOT / "docs" / "index.md").read_text()
    for path in DOCS:
        if path.name != "index.md":
            assert f"({path.name})" in index, path.name


def test_api_reference_lists_every_public_name():
    """Every name of convcore.__all__ has its page in the API reference (a function,
    class or constant of the top-level package; submodules have sections of their own)."""
    import types

    import convcore

    listed = set(re.findall(r"^   (\w+)$", (ROOT / "docs" / "api" / "index.rst").read_text(),
                            flags=re.M))
    names = {n for n in convcore.__all__ if not n.startswith("__")
             and not isinstance(getattr(convcore, n), types.ModuleType)}
    assert names - listed == set()


def test_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("dask.array")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d",
         str(tmp_path / "doctrees"),
         str(ROOT / "docs" / "api"), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "html" / "generated" / "convcore.im2col.html").read_text()
    assert "dilation" in page and "unfold" in page
