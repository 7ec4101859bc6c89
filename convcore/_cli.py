"""The ``convcore`` command line: ``report``, ``summary``, ``demo``, ``config``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import convcore


def _median_seconds(fn, min_time: float = 0.2, max_runs: int = 200) -> float:
    """Median wall time of ``fn()`` over enough runs to fill about ``min_time``."""
    fn()  # warm up (first-touch of pages, thread pool start)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < min_time and len(times) < max_runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _demo(args: argparse.Namespace) -> int:
    convcore.show_config()
    rng = np.random.default_rng(0)

    print("\nThe lecture's edge detector: out[i, j] = x[i, j] - x[i+1, j] on a 320x280 image")
    x = rng.standard_normal((320, 280)).astype(np.float32)
    w = np.array([[[[1.0], [-1.0]]]], dtype=np.float32)  # (K=1, C=1, R=2, S=1)
    y = convcore.conv2d(x[None], w)[0]
    expected = x[:-1] - x[1:]
    print(f"  output {y.shape[0]}x{y.shape[1]}; kernel stores {w.size} floats; "
          f"{y.size * 3:,} flops (2 multiplications + 1 addition per output)")
    print(f"  max |conv2d - (x[:-1] - x[1:])| = {np.abs(y - expected).max():.1e}")

    layers = [
        ("edge 2x1, 1x320x280", (1, 1, 320, 280), (1, 1, 2, 1), 1, 0),
        ("LeNet C1 5x5, 64x1x32x32", (64, 1, 32, 32), (6, 1, 5, 5), 1, 0),
        ("AlexNet conv1 11x11/4, 1x3x227x227", (1, 3, 227, 227), (96, 3, 11, 11), 4, 0),
        ("VGG conv3-64, 1x64x112x112", (1, 64, 112, 112), (64, 64, 3, 3), 1, 1),
    ]
    print(f"\nTimings ({convcore.get_num_threads()} threads, float32, median):")
    print(f"  {'layer':<36} {'algorithm':<9} {'ms':>9} {'GFLOP/s':>9}")
    for name, xs, ws, stride, pad in layers:
        xa = rng.standard_normal(xs).astype(np.float32)
        wa = rng.standard_normal(ws).astype(np.float32)
        y = convcore.conv2d(xa, wa, stride=stride, padding=pad)
        flops = 2 * y.size * ws[1] * ws[2] * ws[3]
        for alg in ("direct", "im2col"):
            def run(a=alg, xa=xa, wa=wa, stride=stride, pad=pad):
                return convcore.conv2d(xa, wa, stride=stride, padding=pad, algorithm=a)

            t = _median_seconds(run)
            print(f"  {name:<36} {alg:<9} {t * 1e3:9.3f} {flops / t / 1e9:9.1f}")
    print("\nFor side-by-side comparisons with PyTorch: python -m pytest benchmarks/")
    return 0


def _report(args: argparse.Namespace) -> int:
    from convcore.report import run

    return run(args.quick, args.json, args.plot)


def _summary(args: argparse.Namespace) -> int:
    import json
    import os

    from convcore import nn

    spec = args.spec
    if os.path.isfile(spec):  # a file holding a text or JSON spec
        with open(spec, encoding="utf-8") as f:
            spec = f.read()
    try:
        table = nn.summary(spec)
    except (TypeError, ValueError) as exc:
        print(f"convcore summary: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(table.as_dict(), indent=1) if args.json else table)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from convcore.bench import main as bench_main

    return bench_main(args)


def _config(args: argparse.Namespace) -> int:
    convcore.show_config()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="convcore", description=convcore.__doc__)
    parser.add_argument("--version", action="version", version=convcore.__version__)
    parser.add_argument("--threads", type=int, default=None,
                        help="number of threads (default: OMP_NUM_THREADS or all cores)")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="the lecture's numbers, computed and measured")
    rep.add_argument("--quick", action="store_true", help="short measurements")
    rep.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    rep.add_argument("--plot", metavar="PATH.png",
                     help="plot time and stored floats against input size (matplotlib)")
    rep.set_defaults(func=_report)
    sub.add_parser("demo", help="check and time the kernels on the lecture's examples"
                   ).set_defaults(func=_demo)
    sub.add_parser("config", help="print the build and run-time configuration"
                   ).set_defaults(func=_config)
    from convcore.bench import add_arguments as bench_arguments

    ben = sub.add_parser("bench", help="time convcore against PyTorch and SciPy, check the "
                         "performance targets")
    bench_arguments(ben)
    ben.set_defaults(func=_bench)
    from convcore.nn.spec import SPEC_GRAMMAR

    summ = sub.add_parser("summary", help="output shapes, parameters and MACs of a network",
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          description="Print the layer table of a network: a built-in name, "
                          "a text spec, a JSON list, or a file holding one.\n\n"
                          + SPEC_GRAMMAR)
    summ.add_argument("spec", help="built-in name, text or JSON spec, or a file")
    summ.add_argument("--json", action="store_true", help="print the table as JSON")
    summ.set_defaults(func=_summary)
    args = parser.parse_args(argv)
    if args.threads is not None:
        try:
            convcore.set_num_threads(args.threads)
        except (TypeError, ValueError) as exc:
            parser.error(str(exc))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
