"""``convcore report``: the lecture's numbers, computed by the library and, where the
lecture makes a claim about speed or memory, measured."""

from __future__ import annotations

import datetime
import json
import sys
import time

import numpy as np

import convcore
from convcore._bench_report import CONTENDED
from convcore._checks import available_memory
from convcore._geometry import prepare_conv
from convcore.analysis import (
    ALGORITHM_NAMES,
    _row_blocks,
    algorithm_costs,
    conv_macs,
    conv_params,
    fc_params,
    locally_connected_params,
    predicted_seconds,
    representation_costs,
)
from convcore.matrix import DENSE_MEMORY_FRACTION

EDGE = np.array([[[[1.0], [-1.0]]]], np.float32)  # x[i, j] - x[i+1, j]

# (name, kind, args): conv (out, kernel, stride, pad), pool (kernel, stride), fc (out)
VGG16 = ([("conv3-64", "conv", (64, 3, 1, 1))] * 2 + [("maxpool", "pool", (2, 2))]
         + [("conv3-128", "conv", (128, 3, 1, 1))] * 2 + [("maxpool", "pool", (2, 2))]
         + [("conv3-256", "conv", (256, 3, 1, 1))] * 3 + [("maxpool", "pool", (2, 2))]
         + [("conv3-512", "conv", (512, 3, 1, 1))] * 3 + [("maxpool", "pool", (2, 2))]
         + [("conv3-512", "conv", (512, 3, 1, 1))] * 3 + [("maxpool", "pool", (2, 2))]
         + [("fc4096", "fc", (4096,)), ("fc4096", "fc", (4096,)), ("fc1000", "fc", (1000,))])
LENET5 = [("C1", "conv", (6, 5, 1, 0)), ("S2", "pool", (2, 2)), ("C3", "conv", (16, 5, 1, 0)),
          ("S4", "pool", (2, 2)), ("C5", "conv", (120, 5, 1, 0)), ("F6", "fc", (84,)),
          ("output", "fc", (10,))]
ALEXNET = [("conv1", "conv", (96, 11, 4, 0)), ("pool1", "pool", (3, 2)),
           ("conv2", "conv", (256, 5, 1, 2, 2)), ("pool2", "pool", (3, 2)),
           ("conv3", "conv", (384, 3, 1, 1)), ("conv4", "conv", (384, 3, 1, 1, 2)),
           ("conv5", "conv", (256, 3, 1, 1, 2)), ("pool5", "pool", (3, 2)),
           ("fc6", "fc", (4096,)), ("fc7", "fc", (4096,)), ("fc8", "fc", (1000,))]


def network_table(layers, input_shape) -> list[dict]:
    """Output shape, parameters, multiply-accumulates and activations of each layer."""
    c, h, w = input_shape
    rows = [dict(name="input", output=(c, h, w), params=0, macs=0, activations=c * h * w)]
    flat = None
    for name, kind, args in layers:
        if kind == "conv":
            out, k, s, p, *rest = args
            groups = rest[0] if rest else 1
            h2, w2 = convcore.conv_output_size((h, w), k, s, p)
            params = conv_params(c, out, k, groups)
            macs = conv_macs((c, h, w), out, k, s, p, groups=groups)
            c, h, w = out, h2, w2
        elif kind == "pool":
            k, s = args
            h, w = convcore.conv_output_size((h, w), k, s)
            params = macs = 0
        else:
            n_in = flat if flat is not None else c * h * w
            params, macs = fc_params(n_in, args[0]), n_in * args[0]
            flat = args[0]
        shape = (flat,) if flat is not None else (c, h, w)
        rows.append(dict(name=name, output=shape, params=params, macs=macs,
                         activations=int(np.prod(shape))))
    return rows


def googlenet_resnet() -> dict:
    """The lecture's GoogLeNet and ResNet points, computed from :mod:`convcore.nn.models`:
    global average pooling of 7x7x1024 to 1x1x1024 against a fully connected head, and
    the parameters and multiply-accumulates of AlexNet, VGG-16, GoogLeNet and ResNets.

    Examples
    --------
    >>> from convcore.report import googlenet_resnet
    >>> r = googlenet_resnet()
    >>> r["head"]["gap_params"], r["networks"]["googlenet"]["params"]
    (0, 6624904)
    """
    from convcore import nn

    gap = nn.AdaptiveAvgPool2d(1)
    volume = (1, 1024, 7, 7)
    fc_on_volume = nn.Linear(1024 * 7 * 7, 1000, init=False)
    fc_after_gap = nn.Linear(1024, 1000, init=False)
    c, h, w = gap.output_shape(volume)[1:]
    head = {  # shapes in the lecture's H x W x C order
        "volume": [7, 7, 1024], "gap_output": [h, w, c],
        "gap_params": gap.num_params,
        # the same 1000 classes from the flattened 7x7x1024 volume, or from the pooled 1024
        "fc_head_params": fc_on_volume.num_params,
        "gap_head_params": gap.num_params + fc_after_gap.num_params,
        # a fully connected layer that, like the pool, keeps 1024 features
        "fc_7x7x1024_to_1024_params": fc_params(7 * 7 * 1024, 1024),
    }
    head["params_saved"] = head["fc_head_params"] - head["gap_head_params"]
    networks = {}
    for name in ("alexnet", "vgg16", "googlenet", "resnet18", "resnet34", "resnet50",
                 "resnet152"):
        s = nn.models.summary(name)
        networks[name] = {"params": s.total_params, "macs": s.total_macs,
                          "input": list(s.input_shape)}
    classifier = nn.models.googlenet(init=False)["fc"].num_params
    return {"head": head, "networks": networks,
            "googlenet_without_classifier": networks["googlenet"]["params"] - classifier}


def _format_googlenet_resnet(r: dict) -> list[str]:
    h = r["head"]
    lines = ["\n6. GoogLeNet and ResNet",
             f"   global average pooling {'x'.join(map(str, h['volume']))} -> "
             f"{'x'.join(map(str, h['gap_output']))}: {h['gap_params']} parameters",
             f"   1000-class head on the flattened 7x7x1024 volume (fc): "
             f"{h['fc_head_params']:>12,} parameters",
             f"   1000-class head after the average pool (GoogLeNet): "
             f"{h['gap_head_params']:>12,} parameters",
             f"   saved by the pool: {h['params_saved']:,} parameters",
             f"   (a fully connected 7x7x1024 -> 1024 layer alone would hold "
             f"{h['fc_7x7x1024_to_1024_params']:,})",
             f"   {'network':<10} {'input':>11} {'parameters':>14} {'MACs':>16}"]
    for name, n in r["networks"].items():
        shape = "x".join(map(str, n["input"]))
        lines.append(f"   {name:<10} {shape:>11} {n['params']:>14,} {n['macs']:>16,}")
    lines += ["   AlexNet as published (two-GPU grouping); GoogLeNet and the ResNets as "
              "torchvision builds them",
              "   (BatchNorm included; GoogLeNet without its auxiliary classifiers, "
              f"{r['googlenet_without_classifier']:,} parameters without its 1000-class "
              "layer)"]
    return lines


def _median(fn, quick: bool) -> float:
    fn()
    times, start = [], time.perf_counter()
    budget = 0.05 if quick else 0.3
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 100):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _dense_side(limit: int, quick: bool) -> int:
    """Largest n (multiple of 8) for which the dense matrix of the n x n edge case fits."""
    n = 8
    cap = 96 if quick else 4096
    while n + 8 <= cap and (n + 7) * (n + 8) * (n + 8) * (n + 8) * 4 <= limit:
        n += 8
    return n


def measure(quick: bool, progress) -> dict:
    """Time the convolution, the sparse matrix and the dense matrix on the same inputs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 320, 280)).astype(np.float32)
    m = convcore.conv_matrix((1, 320, 280), EDGE)
    out = {"edge_320x280": {}}
    for alg in ("direct", "im2col"):
        progress(f"timing conv2d {alg} on 320x280")
        out["edge_320x280"][alg] = _median(lambda a=alg: convcore.conv2d(x, EDGE, algorithm=a),
                                           quick)
    progress("timing the sparse matrix product on 320x280")
    flat = x.ravel()
    out["edge_320x280"]["sparse"] = _median(lambda: m @ flat, quick)
    avail = available_memory() or 2**33
    n = _dense_side(int(DENSE_MEMORY_FRACTION * avail / 4), quick)  # leave room
    progress(f"timing the dense matrix product on {n}x{n}")
    xs = rng.standard_normal((1, 1, n, n)).astype(np.float32)
    dense = convcore.conv_matrix((1, n, n), EDGE, format="dense")
    out[f"edge_{n}x{n}"] = {
        "direct": _median(lambda: convcore.conv2d(xs, EDGE, algorithm="direct"), quick),
        "sparse": _median(lambda: convcore.conv_matrix((1, n, n), EDGE) @ xs.ravel(), quick),
        "dense": _median(lambda: dense @ xs.ravel(), quick),
    }
    out["dense_side"] = n
    return out


# ---- every algorithm on a few layers: the cost model beside the clock ---------------------

# (name, input (N, C, *S), weight (K, C, *k), padding): a VGG 3x3 layer (Winograd's
# domain), one-channel images with small and large kernels (direct's and FFT's) and a
# long 1-D filter; the small image is the one whose dense matrix fits in memory.
COMPARISON_LAYERS = [
    ("VGG conv3-256 @56", (1, 256, 56, 56), (256, 256, 3, 3), 1),
    ("ResNet 128 @28, batch 8", (8, 128, 28, 28), (128, 128, 3, 3), 1),
    ("gray 64x64, 7x7", (1, 1, 64, 64), (1, 1, 7, 7), 3),
    ("gray 1024x1024, 5x5", (1, 1, 1024, 1024), (1, 1, 5, 5), 2),
    ("gray 1024x1024, 31x31", (1, 1, 1024, 1024), (1, 1, 31, 31), 15),
    ("1-D 10^5 samples, 501 taps", (1, 1, 100_000), (1, 1, 501), 0),
]
QUICK_COMPARISON = ("VGG conv3-256 @56", "gray 64x64, 7x7", "gray 1024x1024, 31x31")
SLOW_FACTOR = 20     # algorithms predicted this much slower than the fastest and
SLOW_SECONDS = 0.05  # slower than this are not timed


def _run_algorithm(name: str, x, w, pad, dense_matrix):
    """A call of ``name`` on (x, w): conv1d/conv2d with that algorithm; 'dense' is the
    product of the prebuilt dense matrix with the flattened batch."""
    if name == "dense":
        return lambda: dense_matrix @ x.reshape(x.shape[0], -1).T
    conv = convcore.conv1d if x.ndim == 3 else convcore.conv2d
    return lambda: conv(x, w, padding=pad, algorithm=name)


def algorithm_comparison(quick: bool, progress=lambda msg: None) -> list[dict]:
    """For each layer of ``COMPARISON_LAYERS`` and each algorithm: the cost model's
    multiplications, additions, extra bytes and predicted time beside the measured
    median time (None where the algorithm does not apply)."""
    rng = np.random.default_rng(3)
    threads = convcore.get_num_threads()
    rows = []
    for name, xs, ws, pad in COMPARISON_LAYERS:
        if quick and name not in QUICK_COMPARISON:
            continue
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(np.float32)
        costs = algorithm_costs(xs[2:], ws[2:], xs[1], ws[0], padding=pad, batch=xs[0])
        # the model auto uses: one-channel filters in blocks of output rows at full rate
        blocks = _row_blocks(prepare_conv(x.ndim - 2, x, w, None, 1, pad, 1, 1)[0])
        predicted = predicted_seconds(costs, (xs[1], ws[0]), threads=threads,
                                      row_blocks=blocks)
        dense = None
        if costs["dense"].applicable and x.ndim == 4:
            dense = convcore.conv_matrix(xs[1:], w, padding=pad, format="dense")
        elif costs["dense"].applicable:     # the 1-D layer as a 2-D one of height 1
            dense = convcore.conv_matrix((xs[1], 1, xs[2]), w[:, :, None], padding=((0, 0),
                                         (pad, pad)), format="dense")
        entry = {"layer": name, "input": list(xs), "weight": list(ws), "algorithms": {}}
        fastest = min(predicted.values())
        for alg in ALGORITHM_NAMES:
            c = costs[alg]
            measured = None
            # what the model predicts far slower than the best is not timed (the FFT of a
            # 256-channel layer would take seconds); the report says so
            slow = predicted.get(alg, 0) > max(SLOW_FACTOR * fastest, SLOW_SECONDS)
            if c.applicable and (alg != "dense" or dense is not None) and not slow:
                progress(f"timing {alg} on {name}")
                measured = _median(_run_algorithm(alg, x, w, pad, dense), quick)
            entry["algorithms"][alg] = dict(
                muls=c.muls, adds=c.adds, extra_bytes=c.extra_bytes, applicable=c.applicable,
                reason=c.reason, predicted_s=predicted.get(alg), measured_s=measured)
        rows.append(entry)
    return rows


def format_comparison(rows: list[dict]) -> list[str]:
    lines = ["\n7. Every algorithm: the cost model beside the clock (float32, "
             f"{convcore.get_num_threads()} threads; predicted from the calibrated rates, "
             f"measured median; not timed: predicted over {SLOW_FACTOR}x the fastest and "
             f"over {SLOW_SECONDS * 1e3:.0f} ms)"]
    lines.append(f"   {'algorithm':<9} {'multiplications':>16} {'additions':>16} "
                 f"{'extra bytes':>14} {'predicted ms':>13} {'measured ms':>12}")
    for e in rows:
        lines.append(f"   {e['layer']}")
        for alg, a in e["algorithms"].items():
            if not a["applicable"]:
                lines.append(f"   {alg:<9} not applicable: {a['reason']}")
                continue
            pred = "" if a["predicted_s"] is None else f"{a['predicted_s'] * 1e3:.3f}"
            meas = ("(not timed)" if a["measured_s"] is None
                    else f"{a['measured_s'] * 1e3:.3f}")
            lines.append(f"   {alg:<9} {a['muls']:>16,} {a['adds']:>16,} "
                         f"{a['extra_bytes']:>14,} {pred:>13} {meas:>12}")
    return lines


def plot_savings(rows: list[dict], path: str) -> None:
    """Multiplications saved against time saved, both relative to direct, one point per
    (layer, algorithm) that was measured: the diagonal is "time follows arithmetic"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    markers = dict(zip(ALGORITHM_NAMES, "o^sDvP", strict=True))
    colors = {a: f"C{i}" for i, a in enumerate(ALGORITHM_NAMES)}
    seen = set()
    lo, hi = 1.0, 1.0
    for e in rows:
        base = e["algorithms"]["direct"]
        for alg, a in e["algorithms"].items():
            if alg == "direct" or a["measured_s"] is None or not a["muls"]:
                continue
            xs = base["muls"] / a["muls"]
            ys = base["measured_s"] / a["measured_s"]
            lo, hi = min(lo, xs, ys), max(hi, xs, ys)
            ax.scatter(xs, ys, marker=markers[alg], s=50, color=colors[alg],
                       label=alg if alg not in seen else None)
            seen.add(alg)
            ax.annotate(e["layer"], (xs, ys), fontsize=6, xytext=(4, 2),
                        textcoords="offset points")
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="time saved = multiplications saved")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set(xlabel="multiplications saved (direct / algorithm)",
           ylabel="time saved (direct time / algorithm time)",
           title="Does saving multiplications save time?")
    ax.axhline(1, color="grey", lw=0.5)
    ax.axvline(1, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_report(quick: bool = False, progress=lambda msg: None) -> dict:
    """Every number the report prints, as a dict (also what ``--json`` writes)."""
    costs = representation_costs((320, 280), (2, 1))
    conv, dense = costs["convolution"], costs["dense"]
    vgg = network_table(VGG16, (3, 224, 224))
    lenet = network_table(LENET5, (1, 32, 32))
    alexnet = network_table(ALEXNET, (3, 227, 227))
    # a fully connected layer after F x F x C equals a convolution with F x F kernels
    rng = np.random.default_rng(1)
    volume, fc_w = rng.standard_normal((5, 4, 4)), rng.standard_normal((7, 5 * 4 * 4))
    as_conv = convcore.conv2d(volume, fc_w.reshape(7, 5, 4, 4)).ravel()
    report = {
        "sparse_interactions": {
            name: dict(stored_floats=c.stored_floats, index_entries=c.index_entries,
                       muls=c.muls, adds=c.adds, flops=c.flops, bytes=c.bytes)
            for name, c in costs.items()},
        "ratios": {"dense_over_conv_storage": dense.stored_floats / conv.stored_floats,
                   "dense_over_conv_flops": dense.flops / conv.flops},
        "parameters": {
            "fully connected 32x32 -> 32x32": fc_params(32 * 32, 32 * 32),
            "locally connected 3x3, gray, 30x30": locally_connected_params(30, 3),
            "locally connected 3x3, 3 channels, 30x30": locally_connected_params(30, 3, 3),
            "convolution 3x3x3, 1 filter": conv_params(3, 1, 3),
            "convolution 3x3x3, 4 filters": conv_params(3, 4, 3),
            "fc neuron on 32x32x3": 32 * 32 * 3,
            "fc neuron on 200x200x3": 200 * 200 * 3,
        },
        "output_sizes": {
            "1x1 padded by 2, 5x5 filter": convcore.conv_output_size(1, 5, padding=2),
            "300x400 padded by 2, 5x5 filter": convcore.conv_output_size((300, 400), 5,
                                                                         padding=2),
            "2x2 max pool stride 2 on 300x400": convcore.conv_output_size((300, 400), 2, 2),
            "AlexNet conv1 227, 11x11 stride 4": convcore.conv_output_size(227, 11, 4),
            "4/4 layer on 32": convcore.conv_output_size(32, 4, 4),
            "3x3 stride 2 pool on 32": convcore.conv_output_size(32, 3, 2),
        },
        "vgg16": vgg,
        "vgg16_total_params": sum(r["params"] for r in vgg),
        "lenet5_total_params": sum(r["params"] for r in lenet),
        "alexnet_total_params": sum(r["params"] for r in alexnet),
        "fc_as_conv_max_difference": float(np.abs(as_conv - fc_w @ volume.ravel()).max()),
    }
    report["googlenet_resnet"] = googlenet_resnet()
    report["measured"] = measure(quick, progress)
    report["algorithms"] = algorithm_comparison(quick, progress)
    return report


def format_report(r: dict) -> str:
    si, lines = r["sparse_interactions"], []
    lines.append("1. Sparse interactions: 320x280 input, 2x1 kernel (output 319x280)")
    lines.append(f"   {'representation':<14} {'stored floats':>16} {'flops':>16} {'bytes':>16}")
    for name in ("convolution", "sparse", "dense"):
        c = si[name]
        lines.append(f"   {name:<14} {c['stored_floats']:>16,} {c['flops']:>16,} "
                     f"{c['bytes']:>16,}")
    ra = r["ratios"]
    lines.append(f"   dense / convolution: {ra['dense_over_conv_storage']:.3g}x the storage, "
                 f"{ra['dense_over_conv_flops']:,.0f}x the arithmetic")
    lines.append("\n2. Parameters")
    lines += [f"   {k:<42} {v:>12,}" for k, v in r["parameters"].items()]
    lines.append("\n3. Output sizes")
    lines += [f"   {k:<42} {v!s:>12}" for k, v in r["output_sizes"].items()]
    lines.append("\n4. VGG-16 on 224x224x3")
    lines.append(f"   {'layer':<10} {'output':>16} {'params':>14} {'activations':>12}")
    for row in r["vgg16"]:
        shape = "x".join(str(v) for v in row["output"])
        lines.append(f"   {row['name']:<10} {shape:>16} {row['params']:>14,} "
                     f"{row['activations']:>12,}")
    lines.append(f"   total parameters {r['vgg16_total_params']:,}")
    lines.append(f"   LeNet-5 parameters {r['lenet5_total_params']:,}; AlexNet parameters "
                 f"{r['alexnet_total_params']:,}")
    lines.append(f"   fully connected = convolution with the volume's size: max difference "
                 f"{r['fc_as_conv_max_difference']:.1e}")
    m = r["measured"]
    e = m["edge_320x280"]
    lines.append("\n5. Measured (median, this machine)")
    lines.append(f"   320x280 2x1: direct {e['direct'] * 1e3:.3f} ms, im2col "
                 f"{e['im2col'] * 1e3:.3f} ms, sparse matrix {e['sparse'] * 1e3:.3f} ms "
                 f"(sparse / direct {e['sparse'] / e['direct']:.1f}x; same arithmetic)")
    n = m["dense_side"]
    d = m[f"edge_{n}x{n}"]
    pred = representation_costs((n, n), (2, 1))
    lines.append(f"   {n}x{n} 2x1: direct {d['direct'] * 1e3:.3f} ms, sparse "
                 f"{d['sparse'] * 1e3:.3f} ms, dense {d['dense'] * 1e3:.3f} ms; dense / direct "
                 f"measured {d['dense'] / d['direct']:,.0f}x, predicted by flops "
                 f"{pred['dense'].flops / pred['convolution'].flops:,.0f}x")
    lines += _format_googlenet_resnet(r["googlenet_resnet"])
    if "algorithms" in r:
        lines += format_comparison(r["algorithms"])
    return "\n".join(lines)


def matplotlib_or_message() -> str | None:
    """None when matplotlib can be imported, else the message saying how to get it."""
    from convcore._bench_report import MATPLOTLIB_MISSING

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return MATPLOTLIB_MISSING
    return None


def _seconds_label(v: float, _pos=None) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if v >= scale * 0.999:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g} s"


def _count_label(v: float, _pos=None) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g}"


def measure_sizes(quick: bool) -> dict:
    """Median time per call and stored floats of the convolution, its sparse and its dense
    matrix on n x n images (2x1 edge kernel, float32), with whether other processes kept
    the cores busy during each timing: the data of :func:`plot_report`."""
    from convcore.bench import _cpu_clock, _others_cores

    sizes = [8, 16, 24, 32] if quick else [8, 16, 32, 48, 64, 96]
    names = ("convolution", "sparse", "dense")
    data = {"sizes": sizes, "time_s": {k: [] for k in names}, "busy": {k: [] for k in names},
            "stored_floats": {k: [] for k in names}}
    rng = np.random.default_rng(2)
    for n in sizes:
        x = rng.standard_normal((1, 1, n, n)).astype(np.float32)
        dense = convcore.conv_matrix((1, n, n), EDGE, format="dense")
        sparse = convcore.conv_matrix((1, n, n), EDGE)
        calls = {"convolution": lambda x=x: convcore.conv2d(x, EDGE),
                 "sparse": lambda s=sparse, x=x: s @ x.ravel(),
                 "dense": lambda d=dense, x=x: d @ x.ravel()}
        for k, fn in calls.items():
            start = _cpu_clock()
            data["time_s"][k].append(_median(fn, quick))
            others = _others_cores(start, _cpu_clock())
            data["busy"][k].append(bool(others is not None and others > CONTENDED))
        for k, c in representation_costs((n, n), (2, 1)).items():
            data["stored_floats"][k].append(c.stored_floats)
    return data


def plot_report(path: str, quick: bool, data: dict | None = None) -> None:
    """Time per call and stored floats of the three representations against image size,
    written to ``path`` (PNG).  Log scales (the dense matrix grows as n**4) with plain tick
    labels; timings taken while other processes kept the cores busy are drawn hollow."""
    message = matplotlib_or_message()
    if message:
        raise SystemExit(message)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from convcore._bench_report import plot_heading
    from convcore.bench import _machine

    data = measure_sizes(quick) if data is None else data
    sizes = data["sizes"]
    colors = {"convolution": "tab:blue", "sparse": "tab:orange", "dense": "tab:red"}
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.6))
    busy_any = False
    for k, color in colors.items():
        times, busy = data["time_s"][k], data["busy"][k]
        a.plot(sizes, times, "-", color=color, label=k)
        for n, t, bz in zip(sizes, times, busy, strict=True):
            a.plot(n, t, "o", color=color, mfc="white" if bz else color)
            busy_any |= bz
        a.annotate(_seconds_label(times[-1]), (sizes[-1], times[-1]), fontsize=8,
                   xytext=(4, 0), textcoords="offset points", va="center")
        b.plot(sizes, data["stored_floats"][k], "o-", color=color, label=k)
        b.annotate(_count_label(data["stored_floats"][k][-1]),
                   (sizes[-1], data["stored_floats"][k][-1]), fontsize=8, xytext=(4, 0),
                   textcoords="offset points", va="center")
    for ax, formatter in ((a, _seconds_label), (b, _count_label)):
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, numticks=12))
        ax.yaxis.set_major_formatter(FuncFormatter(formatter))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(sizes)
        ax.set_xlim(sizes[0] - 2, sizes[-1] * 1.15)
        ax.grid(True, which="major", color="0.9")
        ax.legend(fontsize=8, loc="upper left")
    a.set(xlabel="image side n (n x n image, 2x1 kernel)",
          ylabel="median time per call (log scale)",
          title="Time per call: the dense product grows as n⁴")
    b.set(xlabel="image side n", ylabel="stored floats (log scale)",
          title="Storage: 2 weights, against 2n² and n⁴ matrix entries")
    a.title.set_fontsize(9)
    b.title.set_fontsize(9)
    if busy_any:
        a.text(0.99, 0.02, "hollow: other processes kept the cores busy\nwhile it was timed",
               transform=a.transAxes, ha="right", va="bottom", fontsize=7)
    machine = _machine(convcore.get_num_threads())
    fig.suptitle("convcore report: a convolution against its sparse and dense matrices\n"
                 + plot_heading(machine, "float32", datetime.date.today().isoformat()),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _savings_path(plot_path: str) -> str:
    """The second figure's file: ``name_algorithms.png`` beside ``name.png``."""
    stem, dot, ext = plot_path.rpartition(".")
    return f"{stem}_algorithms.{ext}" if dot else f"{plot_path}_algorithms.png"


def run(quick: bool, json_path: str | None, plot_path: str | None) -> int:
    def progress(msg: str) -> None:
        print(f"  ... {msg}", file=sys.stderr, flush=True)

    if plot_path and matplotlib_or_message():  # before any work runs
        raise SystemExit(matplotlib_or_message())
    report = build_report(quick, progress)
    print(format_report(report))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report, f, indent=1, default=list)
    if plot_path:
        plot_report(plot_path, quick)
        print(f"\nplot written to {plot_path}")
        savings = _savings_path(plot_path)
        plot_savings(report["algorithms"], savings)
        print(f"multiplications saved vs time saved written to {savings}")
    return 0
