"""``convcore bench``'s verdicts and output: the targets of docs/performance.md checked
against a run, the text table and the plot (the run itself is convcore.bench)."""

from __future__ import annotations

import numpy as np

PEER_LABELS = {"torch": "torch", "ndimage": "scipy.ndimage", "signal": "scipy.signal",
               "zeros": "zero padding"}
SINGLE = "auto@1"  # auto on one thread, for the scaling target
MiB = 1 << 20

# The targets of docs/performance.md (time ratios convcore / peer in the same run, float32),
# by group; check_targets tags each verdict with its group.
TARGETS = {
    "large": "3x3 and 1x1 layers with >= 64 channels (VGG, ResNet): <= 1.25 x PyTorch's "
             "time and >= 75% of the measured FMA peak",
    "few_channels": "layers with <= 3 input channels (RGB stem, LeNet C1, AlexNet conv1): "
                    "<= 0.5 x PyTorch's time",
    "image": "one-channel images, 3x3 to 7x7, 512^2 to 2048^2: <= 0.3 x PyTorch's and "
             "<= 0.3 x scipy.ndimage.correlate's time",
    "pool": "max/avg pooling 2x2/2 and 3x3/2, NCHW: <= 0.3 x PyTorch's time and >= 50% "
            "of the measured memory bandwidth",
    "pool3d": "max_pool3d 2x2x2/2 and 3x3x3/2 on (4, 64, 16, 56, 56): >= 50% of the "
              "measured memory bandwidth",
    "tiny": "a tiny call (1x1x8x8, 3x3): <= 0.5 x PyTorch's time",
    "scaling": "1 -> N threads on the large layers: >= 1.8x",
    "winograd": "3x3 layers, auto (Winograd): VGG 256@56 and ResNet 128@28 b8 <= 0.6 x "
                "PyTorch's time, VGG 64@224 <= 0.8 x",
    "fft": "2048^2 31x31: auto <= 0.05 x scipy.ndimage.correlate and <= 0.7 x "
           "scipy.signal.fftconvolve; 10^6 samples, 1001 taps: <= 0.7 x oaconvolve",
    "auto": "algorithm='auto' is the fastest of convcore's algorithms (within 5%) on every "
            "case",
    "padding_mode": "conv2d with padding_mode='reflect': <= 1.1 x the time of the same call "
                    "with zero padding",
    "memory": "direct: nothing beyond the output but the repacked weights; im2col: a "
              "bounded workspace, not proportional to the batch",
}
SCALING_TARGET = 1.8   # speed-up from 1 thread to the run's threads, large layers
TIE = 1.05             # auto counts as the faster algorithm when within 5% of it
CALL_OVERHEAD = 16 * 1024  # Python objects of one call, allowed besides workspaces
CONTENDED = 0.25       # cores other processes kept busy, above which a case is marked
BUSY_NOTE = ("a multi-threaded call then waits for a core (a scheduler tick, a few ms), so its "
             "time says more about the load than about the code")
FAR = 2.0  # a case's core-to-core round trip over the run's fastest, above which it is marked
FAR_NOTE = ("the cores of threads 0 and 1 were then further apart than at the run's "
            "fastest reading (on a VM: virtual CPUs the host moved onto cores without a "
            "shared cache); a run that is far throughout marks nothing, its header shows it")
MATPLOTLIB_MISSING = ('--plot needs matplotlib: pip install matplotlib (in a convcore checkout: '
                      'pip install -e ".[plot]", which reuses the compiled objects)')


def plural(n: int, word: str) -> str:
    """``"1 thread"``, ``"2 threads"``.

    >>> plural(1, "thread"), plural(2, "thread")
    ('1 thread', '2 threads')
    """
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---- targets -------------------------------------------------------------------------------

def paired_ratio(a: dict, b: dict) -> float:
    """Time ratio of two implementations timed in the same rounds: the median over the
    rounds of a's time in the round over b's (``round_s``: each round's median), so
    that a slow spell of the machine, which falls on both within a round, cancels out of
    the ratio.  Rows without per-round times (JSON written before they were kept) give
    the ratio of the medians."""
    ra, rb = a.get("round_s"), b.get("round_s")
    if ra and rb and len(ra) == len(rb):
        return float(np.median(np.asarray(ra) / np.asarray(rb)))
    return a["median_s"] / b["median_s"]


def _target(group: str, name: str, status: str, value, limit, detail: str = "") -> dict:
    return {"group": group, "target": name, "status": status, "value": value,
            "limit": limit, "detail": detail}


def _ratio_check(group: str, name: str, row: dict, peer: str, limit: float) -> dict:
    ratio = row.get("ratios", {}).get(peer)
    if ratio is None:
        return _target(group, name, "SKIP", None, limit, f"{PEER_LABELS[peer]} not measured")
    return _target(group, name, "PASS" if ratio <= limit else "FAIL", ratio, limit,
                   f"time ratio vs {PEER_LABELS[peer]}")


def _at_least(group: str, name: str, value: float, limit: float, detail: str) -> dict:
    return _target(group, name, "PASS" if value >= limit else "FAIL", value, limit, detail)


def check_targets(report: dict) -> list[dict]:
    """The targets of docs/performance.md checked against a run of
    :func:`convcore.bench.run_bench`: one dict per verdict, with ``group`` (a key of
    ``TARGETS``), ``target``, ``status`` (PASS, FAIL, or SKIP when a peer is missing),
    the measured ``value``, the ``limit`` and a ``detail`` (which notes a case run while
    other processes were busy, ``contended``, or while the two threads' cores were apart,
    ``far``)."""
    out = []
    fastest = fastest_round_trip(report)
    for c in report["cases"]:
        if c["dtype"] != "float32":
            continue
        first = len(out)
        ours = c["results"].get("auto") or c["results"].get("convcore")
        name, group = c["name"], c["target"]
        if c["kind"] == "conv" and group == "large":
            out.append(_ratio_check(group, f"{name}: auto / torch <= 1.25", ours, "torch", 1.25))
            out.append(_at_least(group, f"{name}: >= 75% of peak", ours["frac_peak"], 0.75,
                                 f"{ours['rate']:.1f} GFLOP/s"))
        elif c["kind"] == "conv" and group in ("few_channels", "tiny"):
            out.append(_ratio_check(group, f"{name}: auto / torch <= 0.5", ours, "torch", 0.5))
        elif c["kind"] == "conv" and group == "image":
            out.append(_ratio_check(group, f"{name}: auto / torch <= 0.3", ours, "torch", 0.3))
            out.append(_ratio_check(group, f"{name}: auto / scipy.ndimage <= 0.3", ours,
                                    "ndimage", 0.3))
        elif c["kind"] == "pool" and group == "pool":
            out.append(_ratio_check(group, f"{name}: convcore / torch <= 0.3", ours, "torch",
                                    0.3))
            out.append(_at_least(group, f"{name}: >= 50% of memory bandwidth",
                                 ours["frac_peak"], 0.5, f"{ours['rate']:.1f} GB/s"))
        elif c["kind"] == "conv" and group == "padding_mode":
            out.append(_ratio_check(group, f"{name}: auto / zero padding <= 1.1", ours,
                                    "zeros", 1.1))
        elif c["kind"] == "pool" and group == "pool3d":
            out.append(_at_least(group, f"{name}: >= 50% of memory bandwidth",
                                 ours["frac_peak"], 0.5, f"{ours['rate']:.1f} GB/s"))
        out += _fast_targets(c, ours)
        single = c["results"].get(SINGLE)
        if single is not None:
            out.append(_at_least("scaling", f"{name}: 1 -> {c['threads']} threads >= "
                                 f"{SCALING_TARGET}x", paired_ratio(single, ours),
                                 SCALING_TARGET, "speed-up of auto"))
        _mark_conditions(out[first:], c, fastest)
    for c in report["cases"]:
        if c["kind"] in ("conv", "backward"):
            a = c["auto"]
            what = (f"picked {a['picked']}, fastest {a['fastest']}" if c["kind"] == "conv"
                    else f"per-gradient choice vs fastest route ({a['fastest']})")
            ratio = a.get("picked_over_fastest", a.get("auto_over_fastest"))
            out.append(_target("auto", f"{c['name']} {c['dtype']}",
                               "PASS" if a["ok"] else "FAIL", ratio, TIE,
                               f"{what}; auto time / fastest"))
            _mark_conditions(out[-1:], c, fastest)
    return out + _memory_targets(report)


# Time ratios of auto the fast algorithms must reach: case -> [(peer, limit)].
FAST_TARGETS = {
    "vgg_256x56_3x3": ("winograd", [("torch", 0.6)]),
    "resnet_128x28_3x3_b8": ("winograd", [("torch", 0.6)]),
    "vgg_64x224_3x3": ("winograd", [("torch", 0.8)]),
    "gray_2048x2048_31x31": ("fft", [("ndimage", 0.05), ("signal", 0.7)]),
    "signal_1e6_1001taps": ("fft", [("signal", 0.7)]),
}


def _fast_targets(case: dict, ours: dict) -> list[dict]:
    if case["kind"] != "conv" or case["case"] not in FAST_TARGETS:
        return []
    group, limits = FAST_TARGETS[case["case"]]
    return [_ratio_check(group, f"{case['name']}: auto / {PEER_LABELS[p]} <= {limit}", ours,
                         p, limit) for p, limit in limits]


def _mark_conditions(verdicts: list[dict], case: dict, fastest: float | None) -> None:
    if _contended(case):
        for v in verdicts:
            v["contended"] = True
            v["detail"] += " (* other processes were busy)"
    if _far(case, fastest):
        for v in verdicts:
            v["far"] = True
            v["detail"] += " (~ the cores were apart)"


def _memory_targets(report: dict) -> list[dict]:
    out = []
    worst_direct, worst_im2col = None, None
    for c in report["cases"]:
        if c["kind"] != "conv":
            continue
        layer = c["layer"]
        weight_bytes = (layer["K"] * (layer["C"] // layer["groups"]) * layer["R"] * layer["S"]
                        * layer.get("T", 1) * np.dtype(c["dtype"]).itemsize)  # T: 3-D
        # the repacked weights fill whole register tiles: at most twice the weights
        excess = c["results"]["direct"]["extra_bytes"] - 2 * weight_bytes - CALL_OVERHEAD
        if worst_direct is None or excess > worst_direct[0]:
            worst_direct = (excess, c["name"], c["dtype"], c["results"]["direct"]["extra_bytes"])
        excess = (c["results"]["im2col"]["extra_bytes"] - c["im2col_workspace_bound"]
                  - CALL_OVERHEAD)
        if worst_im2col is None or excess > worst_im2col[0]:
            worst_im2col = (excess, c["name"], c["dtype"], c["results"]["im2col"]["extra_bytes"])
    if worst_direct is not None:
        excess, name, dtype, extra = worst_direct
        out.append(_target("memory", "direct: no workspace beyond the repacked weights",
                           "PASS" if excess <= 0 else "FAIL", extra, None,
                           f"worst case {name} {dtype}: {extra} bytes traced beyond the output "
                           f"(allowed: 2 x weight bytes + {CALL_OVERHEAD // 1024} KiB)"))
        excess, name, dtype, extra = worst_im2col
        out.append(_target("memory", "im2col: workspace within its bound (a tile per thread)",
                           "PASS" if excess <= 0 else "FAIL", extra, None,
                           f"worst case {name} {dtype}: {extra} bytes traced beyond the output"))
    m = report.get("memory")
    if m:
        b1, b8 = m["extra_bytes"]["batch_1"], m["extra_bytes"]["batch_8"]
        ok = b8 <= b1 + CALL_OVERHEAD
        out.append(_target("memory", "im2col: workspace not proportional to the batch",
                           "PASS" if ok else "FAIL", b8, b1 + CALL_OVERHEAD,
                           f"{m['case']}: {b1} bytes at batch 1, {b8} at batch 8"))
    return out


# ---- output --------------------------------------------------------------------------------

def _contended(case: dict) -> bool:
    others = case.get("others_cores")
    return others is not None and others > CONTENDED


def _round_trips(report: dict) -> list[float]:
    return [v for c in report["cases"] for v in (c.get("round_trip_ns") or []) if v]


def fastest_round_trip(report: dict) -> float | None:
    """The run's fastest core-to-core round trip (ns), None without readings."""
    trips = _round_trips(report)
    return min(trips) if trips else None


def _far(case: dict, fastest: float | None) -> bool:
    """Whether the case ran while the two cores were far apart, relative to the rest of
    the run: a round trip measured beside it more than FAR times the run's fastest."""
    trips = [v for v in (case.get("round_trip_ns") or []) if v]
    return bool(fastest and trips and max(trips) > FAR * fastest)


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.4f}" if ms < 0.1 else f"{ms:.3f}" if ms < 100 else f"{ms:.1f}"


def _row_label(name: str, case: dict) -> str:
    if name == "auto" and "auto" in case and case["kind"] == "conv":
        return f"auto ({case['auto']['picked']})"
    if name == SINGLE:
        return "auto, 1 thread"
    return PEER_LABELS.get(name, name)


def format_bench(report: dict) -> str:
    """The report as text: the table, auto's choices, memory, the targets."""
    m = report["machine"]
    torch = report["peers"]["torch"] or "not installed"
    detected = m.get("simd_detected", m["simd"])
    forced = f" forced, the CPU runs {detected}" if detected != m["simd"] else ""
    lines = [f"{report.get('command', 'convcore bench')}  ({report['date']})",
             f"{m['cpu']}, {plural(m['threads'], 'thread')}, convcore {m['convcore']} (kernels "
             f"{m['simd']}{forced}, OpenMP {'yes' if m['openmp'] else 'no'}), torch {torch}, "
             f"scipy {report['peers']['scipy']}"]
    if m.get("others_cores") is not None:
        lines.append(f"other processes kept {m['others_cores']:.2f} of the {m['cores']} cores "
                     "busy on average during the run")
    trips = _round_trips(report)
    fastest = fastest_round_trip(report)
    if trips:
        lines.append(f"core-to-core round trip (peak probe, before and after each case): "
                     f"{min(trips):.0f}-{max(trips):.0f} ns, median "
                     f"{float(np.median(trips)):.0f}")
    lines.append("\nPeak probe (csrc/peak_probe.c; the better of its runs before and after "
                 "the cases):")
    for t, p in report["peak"].items():
        lines.append(f"  {plural(int(t), 'thread')}: FMA ({p['simd']}) "
                     f"{p['fma_gflops']['float32']:.1f} GFLOP/s float32, "
                     f"{p['fma_gflops']['float64']:.1f} float64; STREAM triad "
                     f"{p['bandwidth_gbps']:.1f} GB/s ({p['buffer_bytes'] // MiB} MiB)")
    head = (f"{'case':<34} {'dtype':<7} {'implementation':<16} {'median ms':>10} "
            f"{'rate':>8} {'unit':<7} {'% peak':>6} {'vs torch':>8} {'vs ndimage':>10} "
            f"{'vs signal':>9} {'vs zeros':>8} {'extra MiB':>9}")
    lines += ["", "Median over alternating rounds; rate = work / median; vs = time ratio, "
              "the median of the ratios in each round (lower is better); extra = memory "
              "traced beyond the result.", head,
              "-" * len(head)]
    for c in report["cases"]:
        first = True
        for name, r in c["results"].items():
            ratios = r.get("ratios", {})
            cells = [f"{ratios[p]:.2f}" if p in ratios else "" for p in PEER_LABELS]
            frac = "" if r["frac_peak"] is None else f"{100 * r['frac_peak']:.0f}%"
            extra = "" if "extra_bytes" not in r else f"{r['extra_bytes'] / MiB:.2f}"
            case = c["name"] + ("*" if _contended(c) else "") + ("~" if _far(c, fastest) else "")
            lines.append(
                f"{case if first else '':<34} {c['dtype'] if first else '':<7} "
                f"{_row_label(name, c):<16} {_ms(r['median_s']):>10} {r['rate']:>8.2f} "
                f"{c['unit']:<7} {frac:>6} {cells[0]:>8} {cells[1]:>10} {cells[2]:>9} "
                f"{cells[3]:>8} {extra:>9}")
            first = False
        if c["mismatched"]:
            lines.append(f"  !! {', '.join(c['mismatched'])} disagree with convcore: "
                         + ", ".join(f"{n} {c['max_relative_error'][n]:.1e}"
                                     for n in c["mismatched"]))
    paired = [c for c in report["cases"] if "triad_gbps" in c]
    if paired:
        lines.append("Pooling's % peak is of the STREAM triad timed in the same rounds (GB/s): "
                     + ", ".join(f"{c['name']} {c['triad_gbps']:.1f}" for c in paired))
    if any(_contended(c) for c in report["cases"]):
        lines.append(f"* other processes kept more than {CONTENDED} cores busy on average "
                     f"while this case ran: {BUSY_NOTE}")
    if any(_far(c, fastest) for c in report["cases"]):
        lines.append(f"~ a core-to-core round trip beside this case took more than {FAR:g} times "
                     f"the run's fastest ({fastest:.0f} ns): {FAR_NOTE}")
    mem = report.get("memory")
    if mem:
        e = mem["extra_bytes"]
        lines.append(f"\nim2col workspace on {mem['case']}: {e['batch_1']:,} bytes at batch 1, "
                     f"{e['batch_8']:,} at batch 8 (traced)")
    lines.append(f"\nTargets (docs/performance.md; float32 unless named, "
                 f"{plural(m['threads'], 'thread')}; "
                 "value = time ratio, fraction or speed-up):")
    group = None
    for t in report["targets"]:
        if t["group"] != group:
            group = t["group"]
            lines.append(f"  {TARGETS[group]}")
        value = t["value"]
        shown = ("-" if value is None else f"{value:.3g}" if isinstance(value, float)
                 else f"{value:,}")
        lines.append(f"    {t['status']:<4}  {t['target']:<52} {shown:>10}  {t['detail']}")
    counts = {s: sum(t["status"] == s for t in report["targets"]) for s in ("PASS", "FAIL",
                                                                              "SKIP")}
    lines.append(f"  {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped")
    return "\n".join(lines)


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_heading(machine: dict, dtypes: str, date: str) -> str:
    """The line under a plot's title: machine, ISA level, dtype, threads and date."""
    return (f"{machine['cpu']} ({plural(machine['cores'], 'core')}), {machine['simd']} kernels, "
            f"{dtypes}, {plural(machine['threads'], 'thread')}, {date}")


def _rate_text(rate: float, unit: str) -> str:
    """A rate in plain digits: 21.6 kFLOP/s rather than 2.16e-05 GFLOP/s."""
    prefix, base = unit[0], unit[1:]
    prefixes = "GMk" if prefix == "G" else prefix
    for p in prefixes:
        if rate >= 0.1 or p == prefixes[-1]:
            return f"{rate:.3g} {p}{base}"
        rate *= 1e3
    return f"{rate:.3g} {unit}"


def plot_bench(report: dict, path: str) -> None:
    """Bar charts of each case's implementations, one panel per kind and dtype, written to
    ``path``.

    Each bar is an implementation's throughput relative to the fastest of its case
    (a linear axis from 0: the fastest is 1), with the throughput itself written beside it;
    ``auto``'s bar names the algorithm it took, and cases during which other processes
    kept the cores busy are hatched and starred.

    Raises
    ------
    RuntimeError
        When matplotlib is not installed.
    """
    plt = _matplotlib()
    if plt is None:
        raise RuntimeError(MATPLOTLIB_MISSING)
    panels: dict[tuple[str, str], list[dict]] = {}
    for c in report["cases"]:
        panels.setdefault((c["kind"], c["dtype"]), []).append(c)
    impls = list(dict.fromkeys(n for c in report["cases"] for n in c["results"]))
    colors = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(impls)}
    bars = [sum(len(c["results"]) + 1 for c in cases) for cases in panels.values()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 1.8 + 0.24 * sum(bars)),
                             squeeze=False, height_ratios=bars)
    kinds = {"conv": "convolution", "pool": "pooling", "backward": "backward pass"}
    busy_any = False
    for ax, ((kind, dtype), cases) in zip(axes[:, 0], panels.items(), strict=True):
        y, ticks, labels, labelled = 0.0, [], [], set()
        for c in cases:
            busy = _contended(c)
            busy_any |= busy
            best = max(r["rate"] for r in c["results"].values())
            names = list(c["results"])
            ticks.append(y + (len(names) - 1) / 2)
            labels.append(c["case"] + (" *" if busy else ""))
            for name in names:
                r = c["results"][name]
                label = None if name in labelled else _row_label(name, {"kind": ""})
                labelled.add(name)
                ax.barh(y, r["rate"] / best, 0.85, color=colors[name], label=label,
                        hatch="///" if busy else None, edgecolor="white" if busy else None)
                text = _rate_text(r["rate"], c["unit"])
                if name == "auto" and kind == "conv" and "auto" in c:
                    text += f"  (auto took {c['auto']['picked']})"
                ax.text(r["rate"] / best + 0.01, y, text, va="center", fontsize=7)
                y += 1
            y += 1
        ax.set_yticks(ticks)
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.45)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_xticklabels(["0", "0.25", "0.5", "0.75", "1 = fastest"])
        ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
        ax.set_title(f"{kinds.get(kind, kind)}, {dtype}: throughput relative to the fastest "
                     "implementation of each case (longer is faster)", fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    m = report["machine"]
    dtypes = " and ".join(dict.fromkeys(c["dtype"] for c in report["cases"]))
    fig.suptitle(f"convcore bench\n{plot_heading(m, dtypes, report['date'])}", fontsize=10)
    if busy_any:
        fig.text(0.01, 0.002, f"* hatched: other processes kept more than {CONTENDED} cores "
                 "busy while the case ran; its times say more about the load than the code",
                 fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.015 if busy_any else 0, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
