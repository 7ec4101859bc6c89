"""Why one call can take longer than the same call in ``convcore bench``: idle cores
before it, and fresh pages for its result.

Run:
    python benchmarks/cold_call.py                      # VGG 256@56 3x3, float32
    python benchmarks/cold_call.py --layer dcgan --threads 2
    python benchmarks/cold_call.py --keep-pages         # glibc keeps freed blocks

For one layer it times convcore's ``auto`` (and PyTorch's call, when installed) in
three ways, in one process:

- warm: calls back to back;
- after idle: each call after 50 ms of idle cores, as ``convcore bench`` does before
  each call over 10 ms (the caches then hold what other processes left in them, not the
  call's own data);
- and, for each, the minor page faults per call: a result array freshly mapped from
  the system on every call is zeroed page by page inside the timed call.  Whether the
  allocator maps it afresh depends on what the process allocated and freed before
  (glibc's mmap threshold grows with the blocks it has freed), so the same library call
  can fault on every call in a short script and never inside a long benchmark process.

It prints the median of each and the ratio of convcore's time to PyTorch's both ways.
``--keep-pages`` first tells glibc (``mallopt``) to serve blocks up to 256 MiB from its
heap and to keep up to 1 GiB of freed memory, so no call maps fresh pages.
"""

import argparse
import resource
import time

import numpy as np

import convcore

LAYERS = {
    # name: (x shape, weight shape, conv kwargs, transposed)
    "vgg256": ((1, 256, 56, 56), (256, 256, 3, 3), {"padding": 1}, False),
    "resnet128": ((8, 128, 28, 28), (128, 128, 3, 3), {"padding": 1}, False),
    "dcgan": ((8, 128, 32, 32), (128, 64, 4, 4), {"stride": 2, "padding": 1}, True),
}


def keep_pages() -> None:
    """glibc: blocks up to 256 MiB from the heap, up to 1 GiB of freed memory kept."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError as exc:
        raise SystemExit(f"--keep-pages needs glibc: {exc}") from exc
    m_trim_threshold, m_mmap_threshold = -1, -3
    if not (libc.mallopt(m_mmap_threshold, 256 << 20)
            and libc.mallopt(m_trim_threshold, 1 << 30)):
        raise SystemExit("mallopt refused the thresholds")


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(fn, calls: int, idle: float) -> tuple[float, float]:
    """(median seconds, minor page faults per call) over ``calls`` calls, each after
    ``idle`` seconds of sleep."""
    fn()
    times, f0 = [], faults()
    for _ in range(calls):
        if idle:
            time.sleep(idle)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), (faults() - f0) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layer", choices=sorted(LAYERS), default="vgg256")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--keep-pages", action="store_true",
                    help="glibc keeps freed blocks: no call maps fresh pages")
    args = ap.parse_args()
    if args.keep_pages:
        keep_pages()
    if args.threads is not None:
        convcore.set_num_threads(args.threads)
    xs, ws, kw, transposed = LAYERS[args.layer]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32)
    ours = convcore.conv_transpose2d if transposed else convcore.conv2d
    calls = {"convcore": lambda: ours(x, w, **kw)}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(convcore.get_num_threads())
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        theirs = (torch.nn.functional.conv_transpose2d if transposed
                  else torch.nn.functional.conv2d)

        def run_torch():
            with torch.inference_mode():
                return theirs(tx, tw, **kw).numpy()

        calls["torch"] = run_torch
    print(f"{args.layer}, {convcore.get_num_threads()} threads, "
          f"{convcore.get_isa()} kernels")
    medians = {}
    for mode, idle in (("warm", 0.0), ("after 50 ms idle", 0.05)):
        for name, fn in calls.items():
            t, f = measure(fn, args.calls, idle)
            medians[mode, name] = t
            print(f"  {mode:17s} {name:9s} {t * 1e3:8.2f} ms  {f:7.0f} page faults a call")
        if "torch" in calls:
            print(f"  {mode:17s} convcore / torch: "
                  f"{medians[mode, 'convcore'] / medians[mode, 'torch']:.2f}")


if __name__ == "__main__":
    main()
