"""Filter an image larger than you would want in memory, block by block, with Dask.

Run (about 20 s on 2 cores; ``--in-memory`` needs 2 GiB of memory, ``--store-dir``
1 GiB of disk):
    python benchmarks/dask_large_image.py --store-dir /tmp --in-memory
    python benchmarks/dask_large_image.py --chunk 1024 --kernel 3 --json out.json

A 16384 x 16384 float32 image (1 GiB) is generated lazily in chunks
(``dask.array.random``), convolved with a normalised box filter by
:func:`convcore.dask.conv2d` ('same' padding) and consumed block by block, so the whole
image never exists in memory:

- ``sum``: the filtered image reduced to its sum (float64), the way a statistic or a
  downsampled product is computed;
- ``store``: every filtered block written to a raw float32 file on disk (``da.store``
  into a writer that copies rows with ``os.pwrite``), the way a filtered image is
  saved (skipped without ``--store-dir``, which needs 1 GiB of disk).

Each consumer runs in a fresh Python process with Dask's threaded scheduler (one
worker thread per core, each block's kernel on one thread).  The process's peak
resident memory (VmHWM, reset through /proc/self/clear_refs just before computing, so
imports do not count; ``ru_maxrss`` where that is not available) is compared with the
1 GiB the image alone would take; ``generate`` (the same image summed without filtering)
separates the cost of making the data.  ``--in-memory`` also runs
:func:`convcore.conv2d` on the computed array for comparison (2 GiB: input and output).
Throughput is output pixels per second and GFLOP/s (2 flops per multiply-add).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _peak_reset() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class _RawWriter:
    """A ``da.store`` target: a (H, W) float32 array stored row-major in a raw file."""

    def __init__(self, path: str, shape: tuple[int, int], itemsize: int):
        self.shape, self.itemsize = shape, itemsize
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(self.fd, shape[0] * shape[1] * itemsize)

    def __setitem__(self, key, block) -> None:
        rows, cols = key[-2], key[-1]
        block = block.reshape(block.shape[-2:])
        for i, row in enumerate(block):
            offset = ((rows.start + i) * self.shape[1] + cols.start) * self.itemsize
            os.pwrite(self.fd, row.tobytes(), offset)

    def close(self) -> None:
        os.close(self.fd)


def run_phase(args) -> dict:
    """One measurement in this process; returns the figures as a dict."""
    import dask
    import dask.array as da
    import numpy as np

    import convcore
    import convcore.dask

    convcore.set_num_threads(args.kernel_threads)
    n, c, k = args.size, args.chunk, args.kernel
    x = da.random.default_rng(args.seed).random((1, 1, n, n), dtype=np.float32,
                                                chunks=(1, 1, c, c))
    w = np.full((1, 1, k, k), 1.0 / (k * k), dtype=np.float32)
    rss_before = _status_kib("VmRSS")
    exact_peak = _peak_reset()
    if not exact_peak:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        if args.phase == "generate":
            value = float(x.sum(dtype=np.float64).compute())
        elif args.phase == "sum":
            y = convcore.dask.conv2d(x, w, padding="same")
            value = float(y.sum(dtype=np.float64).compute())
        elif args.phase == "store":
            y = convcore.dask.conv2d(x, w, padding="same")
            path = os.path.join(args.store_dir, "filtered.f32")
            writer = _RawWriter(path, (n, n), 4)
            try:
                da.store(y[0, 0], writer, lock=False)
            finally:
                writer.close()
                os.unlink(path)
            value = None
        else:  # in-memory
            xa = x.compute()
            y = convcore.conv2d(xa, w, padding="same")
            value = float(y.sum(dtype=np.float64))
    seconds = time.perf_counter() - t0
    peak = _status_kib("VmHWM") if exact_peak else resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss
    return {
        "phase": args.phase, "size": n, "chunk": c, "kernel": k, "seconds": seconds,
        "peak_rss_mib": peak / 1024, "rss_before_mib": rss_before / 1024,
        "peak_extra_mib": (peak - rss_before) / 1024, "exact_peak": exact_peak,
        "value": value,
        "gflops": 0.0 if args.phase == "generate" else 2 * k * k * n * n / seconds / 1e9,
        "mpixels_per_s": n * n / seconds / 1e6,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=16384, help="image height and width")
    p.add_argument("--chunk", type=int, default=2048, help="chunk height and width")
    p.add_argument("--kernel", type=int, default=5, help="box filter size (odd)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="Dask worker threads (default: all cores)")
    p.add_argument("--kernel-threads", type=int, default=1,
                   help="convcore threads per block (default 1: Dask runs blocks in parallel)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--store-dir", help="directory for the 'store' run (needs size^2 * 4 bytes)")
    p.add_argument("--in-memory", action="store_true",
                   help="also time convcore.conv2d on the whole computed array")
    p.add_argument("--json", help="write every figure to this file")
    p.add_argument("--phase", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.phase:
        print(json.dumps(run_phase(args)))
        return 0

    phases = ["generate", "sum"]
    if args.store_dir:
        phases.append("store")
    if args.in_memory:
        phases.append("in-memory")
    whole_mib = args.size * args.size * 4 / 2**20
    print(f"{args.size} x {args.size} float32 image ({whole_mib:.0f} MiB) in "
          f"{args.chunk} x {args.chunk} chunks, {args.kernel}x{args.kernel} box filter, "
          f"'same' padding, {args.workers} Dask threads x {args.kernel_threads} convcore "
          "thread(s)")
    print(f"{'run':<10} {'time s':>8} {'Mpix/s':>8} {'GFLOP/s':>8} {'peak RSS MiB':>13} "
          f"{'extra MiB':>10} {'extra / image':>14}")
    results = []
    for phase in phases:
        cmd = [sys.executable, os.path.abspath(__file__), "--phase", phase,
               "--size", str(args.size), "--chunk", str(args.chunk),
               "--kernel", str(args.kernel), "--workers", str(args.workers),
               "--kernel-threads", str(args.kernel_threads), "--seed", str(args.seed)]
        if args.store_dir:
            cmd += ["--store-dir", args.store_dir]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results.append(r)
        print(f"{phase:<10} {r['seconds']:8.2f} {r['mpixels_per_s']:8.1f} {r['gflops']:8.2f} "
              f"{r['peak_rss_mib']:13.0f} {r['peak_extra_mib']:10.0f} "
              f"{r['peak_extra_mib'] / whole_mib:14.2f}")
    sums = [r["value"] for r in results if r["phase"] in ("sum", "in-memory")]
    if len(sums) == 2:
        print(f"sum of the filtered image: {sums[0]:.6e} (Dask) vs {sums[1]:.6e} (in memory)")
    if not results[0]["exact_peak"]:
        print("note: /proc/self/clear_refs unavailable; peaks are ru_maxrss, imports included")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "whole_image_mib": whole_mib, "results": results},
                      f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
