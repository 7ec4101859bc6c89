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
    if objdump:  # the portable GEMM tile and peak loop really use NEON's vector FMA
        obj = tmp_path / "aarch64" / "kernels" / "generic.o"
        for symbol in ("gemm_tile_f32_generic", "cc_peak_fma_f32_generic"):
            dis = _disassemble(objdump, obj, symbol)
            assert re.search(r"fmla\s+v\d+\.4s", dis), f"no NEON fmla in {symbol}"


def _disassemble(objdump, obj, symbol):
    proc = subprocess.run([objdump, "-d", "--no-show-raw-insn", f"--disassemble={symbol}",
                           str(obj)], capture_output=True, text=True, check=True)
    assert f"<{symbol}>:" in proc.stdout, f"{symbol} not in {obj.name}"
    return proc.stdout


@pytest.mark.skipif(shutil.which("objdump") is None or shutil.which("make") is None,
                    reason="needs binutils' objdump and make")
@pytest.mark.skipif(os.uname().machine not in ("x86_64", "amd64"), reason="x86-64's ISA files")
def test_each_x86_isa_file_computes_in_its_own_registers(tmp_path):
    """Each ISA's GEMM tile, direct tile and peak loop are FMAs on that ISA's registers
    (ymm at AVX2, zmm at AVX-512), and no file uses a register wider than its ISA's."""
    proc = subprocess.run(["make", "-C", str(CSRC), f"-j{min(os.cpu_count() or 1, 4)}",
                           f"BUILD={tmp_path}", "lib"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    wider = {"generic": r"%[yz]mm", "avx2": r"%zmm", "avx512": None}
    fma = {"generic": None, "avx2": r"vfmadd\w+ps\s.*%ymm", "avx512": r"vfmadd\w+ps\s.*%zmm"}
    for isa in ("generic", "avx2", "avx512"):
        obj = tmp_path / "kernels" / f"{isa}.o"
        whole = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(obj)],
                               capture_output=True, text=True, check=True).stdout
        if wider[isa]:
            assert not re.search(wider[isa], whole), f"{isa}.o uses registers beyond {isa}"
        for kernel in ("gemm_tile_f32", "row_big_f32", "cc_peak_fma_f32"):
            dis = _disassemble("objdump", obj, f"{kernel}_{isa}")
            if fma[isa]:
                assert len(re.findall(fma[isa], dis)) >= 12, f"{kernel}_{isa}: too few FMAs"
