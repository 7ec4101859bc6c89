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


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None
                    or shutil.which("qemu-aarch64") is None,
                    reason="needs Debian's gcc-aarch64-linux-gnu and qemu-user (.ci/run "
                           "installs them)")
def test_c_kernels_cross_compiled_for_aarch64(tmp_path):
    """The portable kernels (NEON through 16-byte vectors) cross-compiled for AArch64 pass
    the same C tests under qemu-aarch64."""
    proc = subprocess.run(["make", "-C", str(CSRC), f"-j{min(os.cpu_count() or 1, 4)}",
                           f"BUILD={tmp_path}", "cross-test"],
                          capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    summary = re.search(r"(\d+) passed, (\d+) failed", proc.stdout)
    assert summary and int(summary[1]) > 0 and int(summary[2]) == 0, output[-5000:]
    objdump = shutil.which("aarch64-linux-gnu-objdump")
    if objdump:  # the generic kernels really use NEON's vector FMA
        dis = subprocess.run([objdump, "-d", str(tmp_path / "aarch64" / "kernels"
                                                 / "generic.o")],
                             capture_output=True, text=True).stdout
        assert re.search(r"fmla\s+v\d+\.4s", dis), "no NEON fmla in the portable kernels"
