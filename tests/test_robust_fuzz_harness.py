"""A short, sanitizer-free run of the C fuzz harness (csrc/fuzz/fuzz_kernels.c): every
kernel family on a few thousand pseudo-random geometries (1-4 OpenMP threads, every SIMD
level, NaN and inf in some inputs) against the harness's own references.  The long runs
under libFuzzer and the sanitizers are scripts/fuzz.sh and scripts/sanitize.sh."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parent.parent / "csrc"
CC = (os.environ.get("CC") or "cc").split()[0]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(shutil.which(CC) is None, reason="no C compiler")
def test_fuzz_harness_replays_random_inputs(tmp_path):
    before = {p.relative_to(CSRC) for p in CSRC.rglob("*")}
    # -O0: the library compiles in seconds; the kernels' results do not depend on it
    proc = subprocess.run(
        ["make", "-s", "-C", str(CSRC), f"-j{min(os.cpu_count() or 1, 4)}", f"BUILD={tmp_path}",
         "CFLAGS=-O0 -Wall -Wno-psabi", "fuzz-replay", "FUZZ_RUNS=3000"],
        capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    line = re.search(r"convcore fuzz replay: (\d+) inputs, no mismatch; kernels run: (.*)",
                     proc.stdout)
    assert line, output[-5000:]
    assert int(line[1]) == 3000
    counts = {name.strip(): int(n) for name, n in (item.rsplit(" ", 1)
                                                    for item in line[2].split(","))}
    assert set(counts) == {"direct", "gemm", "im2col/col2im", "conv_matrix", "pool forward",
                           "pool backward", "adaptive", "pool nhwc", "matmul"}
    assert min(counts.values()) >= 100, counts  # every family ran on many geometries
    assert {p.relative_to(CSRC) for p in CSRC.rglob("*")} == before, "build wrote into csrc/"
