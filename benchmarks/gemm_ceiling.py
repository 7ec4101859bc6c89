"""How much of the FMA peak probe a large matrix product reaches on this machine.

Run:
    python benchmarks/gemm_ceiling.py            # float32, n = 2048
    python benchmarks/gemm_ceiling.py --n 1536 --dtype float64

The peak probe (``convcore bench``'s "% peak") runs register-only FMAs.  Real kernels
also load their operands, and on some machines two cores doing that at once run
slower each than one core alone.  This script times NumPy's BLAS ``matmul`` of two
n x n matrices (a kernel tuned by others, so a fair ceiling for GEMM-shaped work):

- one thread, alone;
- two threads in one process;
- one thread in each of two processes at the same time;

and prints each rate beside the probe of the same thread count.  ``CONVCORE_ISA=avx2``
caps the probe and the BLAS at AVX2, as in ``convcore bench``.  When the BLAS itself
stays well below the two-thread probe, a "% of peak" target above that fraction is out
of reach for any kernel of the same shape on this machine.
"""

import argparse
import json
import subprocess
import sys
import time

# convcore first: it caps the BLAS at CONVCORE_ISA's level (as the probe) before NumPy loads it
import convcore  # noqa: F401

# isort: split
import numpy as np


def gemm_rate(n: int, dtype: str, threads: int, seconds: float = 2.0) -> float:
    """GFLOP/s of n x n matmuls on ``threads`` BLAS threads (median of repeated calls)."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty_like(a)
    with threadpool_limits(threads):
        np.matmul(a, b, out=c)
        times = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or len(times) < 3:
            t = time.perf_counter()
            np.matmul(a, b, out=c)
            times.append(time.perf_counter() - t)
    return 2 * n**3 / float(np.median(times)) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # one timed process
    args = ap.parse_args()
    if args.worker:  # set up, then wait for the parent's go so the two time together
        print("ready", flush=True)
        sys.stdin.readline()
        print(json.dumps(gemm_rate(args.n, args.dtype, args.worker)))
        return

    from convcore import _peak

    f64 = args.dtype == "float64"
    probe1 = _peak.fma_gflops(f64, 1, 0.5)
    probe2 = _peak.fma_gflops(f64, 2, 0.5)
    alone = gemm_rate(args.n, args.dtype, 1)
    both = gemm_rate(args.n, args.dtype, 2)
    cmd = [sys.executable, __file__, "--n", str(args.n), "--dtype", args.dtype, "--worker", "1"]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        p.stdout.readline()  # "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    pair = [json.loads(p.communicate()[0]) for p in procs]

    print(f"{args.dtype} matmul {args.n} x {args.n} (NumPy's BLAS) against the FMA probe")
    print(f"  probe: {probe1:.1f} GFLOP/s on 1 thread, {probe2:.1f} on 2")
    print(f"  1 thread alone:              {alone:7.1f} GFLOP/s  {alone / probe1:4.0%} of the "
          "1-thread probe")
    print(f"  2 threads, one process:      {both:7.1f} GFLOP/s  {both / probe2:4.0%} of the "
          "2-thread probe")
    print(f"  1 thread in each of 2 procs: {pair[0]:7.1f} + {pair[1]:.1f} GFLOP/s  "
          f"{sum(pair) / probe2:4.0%} of the 2-thread probe")


if __name__ == "__main__":
    main()
