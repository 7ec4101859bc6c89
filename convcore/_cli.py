"""The ``convcore`` command line: ``report``, ``summary``, ``bench``, ``demo``, ``config``."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import numpy as np

import convcore
from convcore._bench_report import BUSY_NOTE, CONTENDED, plural
from convcore._checks import did_you_mean


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


class CommandError(Exception):
    """A command's bad input: printed as ``convcore <command>: error: ...``, exit status 2."""


def _writable(path: str, option: str) -> None:
    """Refuse an output path that cannot be written, before any work runs."""
    if os.path.isdir(path):
        raise CommandError(f"{option} {path}: is a directory, not a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{option} {path}: the folder {folder} does not exist")
    target = path if os.path.exists(path) else folder
    if not os.access(target, os.W_OK):
        raise CommandError(f"{option} {path}: not writable")


# ---- demo ------------------------------------------------------------------------------------

def _demo(args: argparse.Namespace) -> int:
    from convcore.bench import _cpu_clock, _others_cores

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
    threads = convcore.get_num_threads()
    print(f"\nTimings ({plural(threads, 'thread')}, float32, median):")
    print(f"  {'layer':<37} {'algorithm':<9} {'ms':>9} {'GFLOP/s':>9}")
    busy_rows = 0
    for name, xs, ws, stride, pad in layers:
        xa = rng.standard_normal(xs).astype(np.float32)
        wa = rng.standard_normal(ws).astype(np.float32)
        y = convcore.conv2d(xa, wa, stride=stride, padding=pad)
        flops = 2 * y.size * ws[1] * ws[2] * ws[3]
        for alg in ("direct", "im2col"):
            def run(a=alg, xa=xa, wa=wa, stride=stride, pad=pad):
                return convcore.conv2d(xa, wa, stride=stride, padding=pad, algorithm=a)

            start = _cpu_clock()
            t = _median_seconds(run)
            others = _others_cores(start, _cpu_clock())
            busy = others is not None and others > CONTENDED
            busy_rows += busy
            label = name + ("*" if busy else "")
            print(f"  {label:<37} {alg:<9} {t * 1e3:9.3f} {flops / t / 1e9:9.1f}")
    if busy_rows:
        print(f"\n* other processes kept more than {CONTENDED} cores busy on average while "
              f"this row was timed: {BUSY_NOTE}")
    print("\nconvcore bench compares these with PyTorch and SciPy on the same arrays.")
    return 0


# ---- report ----------------------------------------------------------------------------------

def _report(args: argparse.Namespace) -> int:
    from convcore.report import matplotlib_or_message, run

    if args.plot:
        message = matplotlib_or_message()
        if message:
            raise CommandError(message)
        _writable(args.plot, "--plot")
    if args.json:
        _writable(args.json, "--json")
    return run(args.quick, args.json, args.plot)


# ---- summary ---------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][\w-]*")


def _spec_text(arg: str) -> str:
    """The spec a ``summary`` argument names: a file's contents, a built-in name, or the
    argument itself (a text or JSON spec)."""
    from convcore.nn.models import MODELS as BUILTIN_NETWORKS

    if os.path.isfile(arg):
        with open(arg, "rb") as f:
            data = f.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{arg} is not a text file (byte {data[exc.start]:#04x} at "
                               f"offset {exc.start} is not UTF-8); a spec file holds a text "
                               "or JSON spec") from None
    if os.path.isdir(arg):
        raise CommandError(f"{arg} is a directory; give a spec file, a built-in name or a spec")
    names = ", ".join(BUILTIN_NETWORKS)
    looks_like_path = os.sep in arg or "/" in arg or re.search(r"\.[A-Za-z]\w*$", arg)
    if looks_like_path and not re.search(r"[\s,\[]", arg):
        raise CommandError(f"no such file: {arg}")
    if _WORD.fullmatch(arg) and arg.lower() not in BUILTIN_NETWORKS:
        hint = did_you_mean(arg, BUILTIN_NETWORKS)
        raise CommandError(f"unknown network {arg!r}{hint + ' ' if hint else '. '}The "
                           f"built-in networks are {names}; otherwise give a text or JSON "
                           "spec, or a file holding one (convcore summary --help)")
    return arg


def _check_json_items(items) -> None:
    """Refuse the JSON items whose errors the spec parser would not name."""
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if isinstance(item, str) and not item.strip():
            raise CommandError(f"spec item {i} is an empty string")
        if isinstance(item, dict) and str(item.get("type", "")).lower() == "input":
            shape = item.get("shape")
            if isinstance(shape, list) and not shape:
                raise CommandError(f"spec item {i}: the input shape is empty; write it as "
                                   '{"type": "input", "shape": [3, 224, 224]}')


def _summary(args: argparse.Namespace) -> int:
    from convcore import nn

    spec = _spec_text(args.spec)
    if spec.lstrip().startswith("["):
        try:
            spec = json.loads(spec)
        except RecursionError:
            raise CommandError("the spec nests lists or objects too deeply to read") from None
        except json.JSONDecodeError as exc:
            raise CommandError(f"spec is not valid JSON: {exc}") from None
        _check_json_items(spec)
    try:
        table = nn.summary(spec)
    except (TypeError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    except (IndexError, KeyError, RecursionError) as exc:
        # the spec parser's own checks missed it: still an error line, not a traceback
        raise CommandError(f"the spec could not be read ({type(exc).__name__}: {exc}); see "
                           "convcore summary --help for the grammar") from None
    print(json.dumps(table.as_dict(), indent=1) if args.json else table)
    return 0


# ---- bench, config -------------------------------------------------------------------------

def _bench(args: argparse.Namespace) -> int:
    from convcore.bench import main as bench_main

    if args.json and args.json != "-":
        _writable(args.json, "--json")
    if args.plot:
        _writable(args.plot, "--plot")
    return bench_main(args)


def _config(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(convcore.config_info(), indent=1, default=str))
    else:
        convcore.show_config()
    return 0


# ---- the parser ------------------------------------------------------------------------------

DESCRIPTION = """\
convcore: fast CPU convolution and pooling (C kernels, NumPy API).
Run `convcore COMMAND --help` for a command's description, options and examples."""

HELP = {
    "report": ("the lecture's numbers, computed and measured", """\
Reproduce the numbers of the lecture on convolutional networks, computed by the library:
the storage and arithmetic of a convolution against its sparse and dense matrices, the
parameter counts of fully connected, locally connected and convolutional layers, output
sizes, the VGG-16 table (and LeNet-5, AlexNet). Then measure the convolution, the sparse
and the dense matrix products on this machine.""", """\
examples:
  convcore report                                  # everything (about a minute)
  convcore report --quick                          # short measurements
  convcore report --json report.json               # also every number as JSON
  convcore report --quick --plot costs.png         # time and storage against image size"""),
    "summary": ("output shapes, parameters and MACs of a network", """\
Print the layer table of a network: output shape, parameters, multiply-accumulates and
activations per layer, computed without allocating any weight. SPEC is a built-in network
name ({names}), a text spec, a JSON list, or a file holding a text or JSON spec.

The spec grammar:

{grammar}""", """\
examples:
  convcore summary vgg16
  convcore summary "input 3x32x32, conv3-16 p1, relu, maxpool2, conv3-32 p1, relu, gap, fc10"
  convcore summary '["input 1x28x28", {{"type": "conv2d", "out_channels": 6,
                    "kernel_size": 5}}, "fc10"]'
  convcore summary net.txt --json

A spec that does not fit (a layer whose input is too small) exits with status 2 and names
the layer."""),
    "bench": ("time convcore against PyTorch and SciPy, check the performance targets", """\
Time convcore's algorithms and every installed peer (PyTorch; SciPy's filters on
one-channel images) on the same arrays in one process, after checking that their results
agree. Prints the median, the rate (GFLOP/s or GB/s), the fraction of this machine's
measured peak, the time ratios, the memory each call allocates, and the performance
targets, PASS or FAIL. Cases during which other processes kept the cores busy are marked
with *, those whose core-to-core round trip took over twice the run's fastest with ~.""", """\
examples:
  convcore bench --quick                           # a few small cases (about 20 s)
  convcore bench                                   # every case, float32 and float64
  convcore bench --threads 2 --cases "vgg*,gray_2048*" --dtype float32 --json b.json
  convcore bench --quick --plot bench.png          # bar chart (needs matplotlib)

exit status: 0, or 1 when a peer's result disagreed with convcore's, 2 on bad arguments."""),
    "demo": ("check and time the kernels on the lecture's layers", """\
Print the configuration, check the lecture's edge detector against NumPy, and time the
direct and im2col algorithms on four classic layers (the edge detector, LeNet C1, AlexNet
conv1, a VGG layer). Rows timed while other processes kept the cores busy are marked
with *.""", """\
examples:
  convcore demo
  convcore --threads 1 demo"""),
    "config": ("print the build and run-time configuration (OpenMP, threads, SIMD)", """\
Print convcore's version, whether it was built with OpenMP, the thread count it uses
(set by --threads, OMP_NUM_THREADS or convcore.set_num_threads; default: all cores), the
SIMD level each kernel runs at (AVX-512, AVX2 or generic, chosen at run time from the
CPU), and the BLAS of NumPy's products (the FFT route's channel products; the kernels
call none). The same as convcore.show_config().""", """\
examples:
  convcore config
  convcore --threads 1 config
  convcore config --json                           # convcore.config_info() as JSON"""),
}


def _sub(sub, name: str, **fmt) -> argparse.ArgumentParser:
    short, description, epilog = HELP[name]
    return sub.add_parser(name, help=short, description=description.format(**fmt),
                          epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    """The ``convcore`` argument parser (every subcommand with its help and examples)."""
    from convcore.bench import add_arguments as bench_arguments
    from convcore.nn.models import MODELS as BUILTIN_NETWORKS
    from convcore.nn.spec import SPEC_GRAMMAR

    parser = argparse.ArgumentParser(prog="convcore", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=convcore.__version__)
    parser.add_argument("--threads", type=int, default=None,
                        help="number of threads (default: OMP_NUM_THREADS or all cores)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rep = _sub(sub, "report")
    rep.add_argument("--quick", action="store_true", help="short measurements")
    rep.add_argument("--json", metavar="PATH", help="also write every number as JSON")
    rep.add_argument("--plot", metavar="PATH.png",
                     help="plot time and stored floats against image size (matplotlib)")
    rep.set_defaults(func=_report)

    summ = _sub(sub, "summary", names=", ".join(BUILTIN_NETWORKS), grammar=SPEC_GRAMMAR.strip())
    summ.add_argument("spec", metavar="SPEC",
                      help="built-in name, text or JSON spec, or a file holding one")
    summ.add_argument("--json", action="store_true", help="print the table as JSON")
    summ.set_defaults(func=_summary)

    ben = _sub(sub, "bench")
    bench_arguments(ben)
    ben.set_defaults(func=_bench)

    _sub(sub, "demo").set_defaults(func=_demo)
    conf = _sub(sub, "config")
    conf.add_argument("--json", action="store_true", help="print the configuration as JSON")
    conf.set_defaults(func=_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None:
        try:
            convcore.set_num_threads(args.threads)
        except (TypeError, ValueError) as exc:
            parser.error(str(exc))
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"convcore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
