"""The C library on its own: it builds without Python and passes its C tests."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"


def _source_files():
    return sorted(p for p in CSRC.rglob("*") if p.suffix in (".c", ".h"))


def test_no_python_headers_in_c_library():
    files = _source_files()
    assert any(p.name == "convcore.h" for p in files)
    include = re.compile(r'#\s*include\s*[<"](Python|numpy/)', re.IGNORECASE)
    offenders = [str(p.relative_to(CSRC)) for p in files if include.search(p.read_text())]
    assert not offenders, f"Python/NumPy headers included in {offenders}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(shutil.which((os.environ.get("CC") or "cc").split()[0]) is None,
                    reason="no C compiler")
@pytest.mark.parametrize("target", ["test", "test-noomp"])
def test_c_kernels_standalone(tmp_path, target):
    """The C library builds without Python (with OpenMP, and serial) and passes its tests."""
    before = {p.relative_to(CSRC) for p in CSRC.rglob("*")}
    jobs = f"-j{min(os.cpu_count() or 1, 4)}"
    proc = subprocess.run(["make", "-C", str(CSRC), jobs, f"BUILD={tmp_path}", target],
                          capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    lib_dir = tmp_path / "noomp" if target == "test-noomp" else tmp_path
    assert (lib_dir / "libconvcore.a").is_file()
    summary = re.search(r"(\d+) passed, (\d+) failed", proc.stdout)
    assert summary, output[-5000:]
    assert int(summary[1]) > 0 and int(summary[2]) == 0
    assert {p.relative_to(CSRC) for p in CSRC.rglob("*")} == before, "build wrote into csrc/"
