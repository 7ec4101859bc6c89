"""``convcore bench``: its cases, peers, metrics, peak probe and command line, on a few
small cases with short timings.  Nothing here asserts a speed."""

import contextlib
import functools
import io
import json
import math
import mmap
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import convcore
from convcore import _cli, _peak, bench
from convcore._bench_report import TARGETS
from convcore.bench import (
    BACKWARD_CASES,
    CONV_CASES,
    POOL_CASES,
    ConvCase,
    implementations,
    measure_peak,
    run_bench,
)

CSRC = Path(__file__).resolve().parent.parent / "csrc"
QUICK_CASES = "tiny_8x8_3x3,lecture_320x280_2x1,max_2x2s2"

try:
    import torch
except ImportError:
    torch = None


def _cli_run(argv):
    """convcore._cli.main in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run through the command line, on one thread, with its JSON."""
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    code, out, err = _cli_run(["bench", "--quick", "--threads", "1", "--cases", QUICK_CASES,
                               "--json", str(path)])
    return code, out, err, json.loads(path.read_text())


def _case(report, name):
    return next(c for c in report["cases"] if c["name"] == name)


# ---- the case list -------------------------------------------------------------------------

def test_case_list_covers_the_issue():
    names = {c.name for c in CONV_CASES}
    for name in ("vgg_64x224_3x3", "vgg_256x56_3x3", "resnet_128x28_3x3_b8",
                 "resnet_1x1_256to64x56_b8", "alexnet_conv1_11x11_s4",
                 "rgb_stem_3to32x224_3x3_s2_b8", "lenet_c1_5x5_b64", "lecture_320x280_2x1",
                 "tiny_8x8_3x3", "depthwise_64x56_3x3_b8"):
        assert name in names
    for size in (512, 2048):
        for k in (3, 5, 7):
            case = next(c for c in CONV_CASES if c.name == f"gray_{size}x{size}_{k}x{k}")
            assert case.one_channel and case.out_hw == (size, size)  # 'same' padding
    depthwise = next(c for c in CONV_CASES if c.name.startswith("depthwise"))
    assert depthwise.groups == depthwise.C == depthwise.K == 64
    assert {(p.op, p.kernel, p.stride, p.shape) for p in POOL_CASES} == {
        (op, k, s, (8, 64, 112, 112)) for op in ("max", "avg") for k, s in ((2, 2), (3, 2))}
    assert {c.name for c in BACKWARD_CASES} == {c.name for c in CONV_CASES
                                                 if c.large and not c.D}
    c3d = next(c for c in CONV_CASES if c.D)  # the issue's 3-D layer
    assert (c3d.x_shape, c3d.w_shape, c3d.out_spatial) == (
        (1, 64, 16, 56, 56), (64, 64, 3, 3, 3), (16, 56, 56))
    assert c3d.flops == 2 * 64 * 16 * 56 * 56 * 64 * 27
    assert {c.name.split("_")[0] for c in BACKWARD_CASES} == {"vgg", "resnet"}


def test_work_formulas():
    vgg = next(c for c in CONV_CASES if c.name == "vgg_64x224_3x3")
    assert vgg.flops == 2 * 1 * 64 * 224 * 224 * 64 * 3 * 3 == 3_699_376_128
    alexnet = next(c for c in CONV_CASES if c.name == "alexnet_conv1_11x11_s4")
    assert alexnet.out_hw == (55, 55)
    assert alexnet.flops == 2 * 96 * 55 * 55 * 3 * 11 * 11
    depthwise = next(c for c in CONV_CASES if c.name.startswith("depthwise"))
    assert depthwise.flops == 2 * 8 * 64 * 56 * 56 * 1 * 3 * 3  # C / groups = 1
    pool = next(p for p in POOL_CASES if p.name == "max_3x3s2p1")
    assert pool.out_shape == (8, 64, 56, 56)
    assert pool.nbytes("float64") == 8 * (8 * 64 * 112 * 112 + 8 * 64 * 56 * 56)


# ---- the peers compute what convcore computes ------------------------------------------------

@pytest.mark.parametrize("case", [
    ConvCase("img_same", 1, 1, 19, 23, 1, 5, 5, padding=2),
    ConvCase("img_even_valid", 1, 1, 20, 17, 1, 2, 1),
    ConvCase("img_3x3_valid", 1, 1, 8, 8, 1, 3, 3),
], ids=lambda c: c.name)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scipy_peers_agree(case, dtype):
    calls = implementations("conv", case, dtype)
    assert {"ndimage", "signal"} <= calls.keys()
    ref = calls["auto"]()
    tol = 1e-5 if dtype == "float32" else 1e-12
    for name in ("direct", "im2col", "ndimage", "signal"):
        got = calls[name]()
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(np.squeeze(got), np.squeeze(ref), rtol=tol, atol=tol)


def test_scipy_peers_only_where_they_compute_the_same():
    strided = ConvCase("img_strided", 1, 1, 16, 16, 1, 3, 3, stride=2)
    assert not {"ndimage", "signal"} & implementations("conv", strided).keys()
    layer = ConvCase("layer", 2, 3, 8, 8, 4, 3, 3, padding=1)
    assert not {"ndimage", "signal"} & implementations("conv", layer).keys()


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_torch_peers_agree():
    layer = ConvCase("small", 2, 3, 9, 8, 4, 3, 3, stride=2, padding=1)
    for kind in ("conv", "backward"):
        calls = implementations(kind, layer, "float64")
        ref, got = calls["auto"](), calls["torch"]()
        for r, g in zip(ref if kind == "backward" else (ref,),
                        got if kind == "backward" else (got,), strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)
    pool = POOL_CASES[1]._replace(shape=(2, 3, 9, 9))
    calls = implementations("pool", pool, "float32")
    np.testing.assert_array_equal(calls["torch"](), calls["convcore"]())


# ---- the peak probe ------------------------------------------------------------------------

def test_peak_probe_positive_and_finite():
    peak = measure_peak(1, seconds=0.01, buffer_bytes=3 * 2**20)
    assert peak["threads"] == 1 and peak["simd"] == _peak.simd_level()
    values = [*peak["fma_gflops"].values(), peak["bandwidth_gbps"]]
    assert all(math.isfinite(v) and v > 0 for v in values)


def test_peak_probe_at_every_simd_level():
    before = _peak.simd_level()
    try:
        for level in _peak.simd_levels():
            _peak.force_simd(level)
            rate = _peak.fma_gflops(False, 1, 0.005)
            assert math.isfinite(rate) and rate > 0, _peak.simd_level()
    finally:
        _peak.force_simd(before)
    assert _peak.simd_level() == before


def test_c_allocations_are_the_listed_thread_buffers():
    """tracemalloc sees the workspaces made in Python as NumPy arrays, not what C allocates.
    C allocates only per-thread buffers a few input rows in size: the direct driver's band
    copies and pointwise panels (counted by functional._workspace_bytes), a max pool's
    row of window maxima (a plane in 3-D), the row table of the 2-D C API, and the
    threads' shares of the work beyond 64 threads (cc_omp.h, 64 bytes a thread).  The
    bench's extra bytes leave them out and say so; a new allocation in C fails here until
    it is listed."""
    alloc = re.compile(r"\b(malloc|calloc|realloc|aligned_alloc|posix_memalign)\s*\(")
    skip = {"build", "tests", "fuzz"}  # the C tests and the fuzzer are not the library
    files = [p for p in CSRC.rglob("*.[ch]") if not skip & set(p.relative_to(CSRC).parts)]
    assert len(files) > 20
    allocating = sorted(str(p.relative_to(CSRC)) for p in files if alloc.search(p.read_text()))
    assert allocating == ["cc_omp.h", "driver/cc_scratch.h", "driver/conv_direct_impl.h",
                          "driver/pool2d_run_impl.h"]


# ---- a quick run end to end ------------------------------------------------------------------

def test_quick_run_lists_every_case(quick_run):
    code, out, err, report = quick_run
    assert code == 0, err
    assert sorted(c["name"] for c in report["cases"]) == sorted(QUICK_CASES.split(","))
    assert report["command"] == f"convcore bench --threads 1 --quick --cases {QUICK_CASES}"
    for name in QUICK_CASES.split(","):
        assert name in out
    assert "Targets" in out and "Peak probe" in out
    assert re.search(r"\d+ passed, \d+ failed, \d+ skipped", out)
    assert "[1/" in err  # the progress bar (one line per step when not a terminal)
    assert report["machine"]["simd"] == convcore.get_isa()
    assert report["machine"]["simd_detected"] == convcore.detected_isa()
    assert f"(kernels {convcore.get_isa()}" in out.splitlines()[1]


def test_header_says_when_the_level_is_forced(quick_run):
    report = json.loads(json.dumps(quick_run[3]))  # a copy
    report["machine"].update(simd="avx2", simd_detected="avx512")
    header = bench.format_bench(report).splitlines()[1]
    assert "(kernels avx2 forced, the CPU runs avx512, OpenMP" in header
    report["machine"].update(simd="avx512")
    assert "forced" not in bench.format_bench(report).splitlines()[1]


def test_quick_run_json_structure(quick_run):
    report = quick_run[3]
    assert {"command", "date", "machine", "peak", "peers", "cases", "memory",
            "targets"} <= report.keys()
    assert report["peers"]["torch"] == (None if torch is None else torch.__version__)
    expected = {"tiny_8x8_3x3": {"direct", "im2col", "auto", "ndimage", "signal"},
                "lecture_320x280_2x1": {"direct", "im2col", "auto", "ndimage", "signal"},
                "max_2x2s2": {"convcore"}}
    for name, impls in expected.items():
        c = _case(report, name)
        if torch is not None:
            impls = impls | {"torch"}
        assert set(c["results"]) == impls
        assert c["dtype"] == "float32" and c["mismatched"] == []
        assert all(e is not None and e < 1e-5 for e in c["max_relative_error"].values())
        for impl, r in c["results"].items():
            assert r["median_s"] > 0 and r["rounds"] >= 3 and r["calls"] >= r["rounds"]
            assert len(r["round_s"]) == r["rounds"] and min(r["round_s"]) >= r["min_s"]
            assert ("extra_bytes" in r) == (impl not in bench.PEER_LABELS)
    conv = _case(report, "tiny_8x8_3x3")
    assert conv["auto"]["picked"] in ("direct", "im2col")
    assert conv["auto"]["fastest"] in ("direct", "im2col")
    statuses = {t["status"] for t in report["targets"]}
    assert statuses <= {"PASS", "FAIL", "SKIP"}
    groups = {t["group"] for t in report["targets"]}
    assert {"tiny", "pool", "auto", "memory"} <= groups
    assert groups <= TARGETS.keys()


def test_quick_run_metrics(quick_run):
    report = quick_run[3]
    peak = report["peak"]["1"]
    lecture = _case(report, "lecture_320x280_2x1")
    assert lecture["work"] == 2 * 1 * 1 * 319 * 280 * 1 * 2 * 1
    for impl, r in lecture["results"].items():
        assert r["rate"] == pytest.approx(lecture["work"] / r["median_s"] / 1e9)
        if impl not in bench.PEER_LABELS:
            assert r["frac_peak"] == pytest.approx(r["rate"] / peak["fma_gflops"]["float32"])
            for peer, ratio in r["ratios"].items():
                # paired by round: the median of the per-round ratios
                per_round = (np.array(r["round_s"])
                             / np.array(lecture["results"][peer]["round_s"]))
                assert ratio == pytest.approx(np.median(per_round))
            assert set(r["ratios"]) == set(lecture["results"]) & set(bench.PEER_LABELS)
    pool = _case(report, "max_2x2s2")
    assert pool["unit"] == "GB/s"
    assert pool["work"] == 4 * (8 * 64 * 112 * 112 + 8 * 64 * 56 * 56)
    r = pool["results"]["convcore"]
    # pooling's fraction is of the triad timed in the case's own rounds, not the probe's
    assert pool["triad_gbps"] > 0 and "triad" not in pool["results"]
    assert r["frac_peak"] == pytest.approx(pool["work"] / r["median_s"] / 1e9
                                           / pool["triad_gbps"])
    assert "triad_gbps" not in lecture


def test_quick_run_threads_honoured(quick_run):
    report = quick_run[3]
    assert report["machine"]["threads"] == 1
    assert list(report["peak"]) == ["1"]
    assert all(c["threads"] == 1 for c in report["cases"])


def test_ratios_pair_the_rounds():
    # a slow spell that falls on both implementations within a round cancels out of the
    # paired ratio; the ratio of the medians (1.1 / 2.3 here) would keep it
    a = {"median_s": 1.1, "round_s": [1.0, 10.0, 1.1]}
    b = {"median_s": 2.3, "round_s": [2.0, 20.0, 2.3]}
    assert bench.paired_ratio(a, b) == pytest.approx(0.5)
    assert bench.paired_ratio(b, a) == pytest.approx(2.0)
    # rows without per-round times (older JSON): the ratio of the medians
    assert bench.paired_ratio({"median_s": 3.0}, {"median_s": 2.0}) == pytest.approx(1.5)


def test_round_robin_keeps_each_rounds_time(monkeypatch):
    # two slow implementations on a clock that moves only when they run: each round's
    # time is kept, and the paired ratio reads through the slow second round
    now = [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: now[0])
    script = {"a": iter([0.03, 0.03, 0.03, 0.3, 0.04]),  # two warm-up calls, then rounds
              "b": iter([0.06, 0.06, 0.06, 0.6, 0.1])}

    def call(name):
        now[0] += next(script[name])

    calls = {n: functools.partial(call, n) for n in script}
    timing = bench._time_round_robin(calls, bench.QUICK)
    assert timing["a"]["rounds"] == 3  # the 0.2 s budget is spent by then
    assert timing["a"]["round_s"] == pytest.approx([0.03, 0.3, 0.04])
    assert timing["b"]["round_s"] == pytest.approx([0.06, 0.6, 0.1])
    assert timing["a"]["median_s"] / timing["b"]["median_s"] == pytest.approx(0.4)
    assert bench.paired_ratio(timing["a"], timing["b"]) == pytest.approx(0.5)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts Linux page faults")
def test_round_robin_counts_page_faults_per_call():
    # a call that maps 1 MiB afresh and writes every page faults on each page (a new
    # anonymous mapping starts unmapped); a call that touches nothing, hardly at all
    def fresh():
        m = mmap.mmap(-1, 1 << 20)
        for at in range(0, 1 << 20, mmap.PAGESIZE):
            m[at] = 1
        m.close()

    timing = bench._time_round_robin({"fresh": fresh, "idle": lambda: None}, bench.QUICK)
    pages = (1 << 20) // mmap.PAGESIZE
    assert len(timing["fresh"]["round_faults"]) == timing["fresh"]["rounds"]
    assert min(timing["fresh"]["round_faults"]) >= pages
    assert max(timing["idle"]["round_faults"]) < 1


def test_round_robin_times_the_once_calls_once_per_round():
    # the pooling cases' triad: a fast call would otherwise run for the whole sample time
    calls = {"fast": lambda: None, "triad": lambda: None}
    timing = bench._time_round_robin(calls, bench.QUICK, once=("triad",))
    assert timing["triad"]["calls"] == timing["triad"]["rounds"] >= bench.QUICK.min_rounds
    assert timing["fast"]["calls"] > timing["fast"]["rounds"]


def test_threads_reach_the_kernels_and_are_restored(monkeypatch):
    seen = []
    original = bench._time_round_robin

    def spy(calls, settings, **kw):
        seen.append(convcore.get_num_threads())
        if torch is not None:
            seen.append(torch.get_num_threads())
        return original(calls, settings, **kw)

    monkeypatch.setattr(bench, "_time_round_robin", spy)
    before = convcore.get_num_threads()
    report = run_bench(2, quick=True, cases="tiny", progress=False)
    assert seen and set(seen) == {2}
    assert report["cases"][0]["threads"] == 2
    assert convcore.get_num_threads() == before


def test_json_to_stdout():
    code, out, err = _cli_run(["bench", "--quick", "--cases", "tiny", "--threads", "1",
                               "--no-progress", "--json", "-"])
    assert code == 0
    report = json.loads(out)
    assert [c["name"] for c in report["cases"]] == ["tiny_8x8_3x3"]
    assert "Targets" in err  # the table goes to stderr


# ---- bad arguments ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--threads", "0"], "threads must be between 1 and 1024, got 0"),
    (["--threads", "two"], "threads must be an integer"),
    (["--dtype", "float16"], "invalid choice: 'float16'"),
])
def test_bad_arguments_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        _cli.main(["bench", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_case_is_a_clear_error():
    code, out, err = _cli_run(["bench", "--quick", "--cases", "no_such_layer"])
    assert code == 2 and out == ""
    assert "no case matches 'no_such_layer'" in err and "tiny_8x8_3x3" in err


def test_plot_without_matplotlib_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(bench, "_matplotlib", lambda: None)
    code, out, err = _cli_run(["bench", "--quick", "--cases", "tiny", "--plot", "x.png"])
    assert code == 2 and "--plot needs matplotlib" in err


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(threads=0), ValueError, "threads must be between 1 and 1024"),
    (dict(threads=1.5), TypeError, "threads must be an integer"),
    (dict(dtypes="float16"), ValueError, "dtype must be float32, float64 or both"),
    (dict(cases=","), ValueError, "cases must name at least one pattern"),
])
def test_run_bench_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        run_bench(**kwargs, quick=True, progress=False)


def test_measure_peak_and_implementations_bad_arguments():
    with pytest.raises(ValueError, match="seconds must be positive"):
        measure_peak(1, seconds=0)
    with pytest.raises(ValueError, match="at least 3 doubles"):
        measure_peak(1, buffer_bytes=16)
    with pytest.raises(ValueError, match="kind must be"):
        implementations("deconv", CONV_CASES[0])
    with pytest.raises(TypeError, match="must be a PoolCase"):
        implementations("pool", CONV_CASES[0])
    with pytest.raises(ValueError, match="dtype must be one of"):
        implementations("conv", CONV_CASES[0], "float16")


def test_im2col_workspace_measured_against_the_batch():
    m = bench._batch_independence(1)
    sizes = m["extra_bytes"]
    assert sizes["batch_1"] > 0  # the column tile is traced
    report = {"cases": [], "memory": m}
    (verdict,) = bench.check_targets(report)
    assert verdict["group"] == "memory" and verdict["value"] == sizes["batch_8"]


def test_other_processes_load_is_measured_and_marked(quick_run):
    report = json.loads(json.dumps(quick_run[3]))  # a copy
    assert bench._others_cores((0.0, 10.0, 1.0), (2.0, 13.0, 2.0)) == pytest.approx(1.0)
    assert bench._others_cores(None, (2.0, 13.0, 2.0)) is None
    for c in report["cases"]:
        assert c["others_cores"] is None or c["others_cores"] >= 0
        c["others_cores"] = 1.0 if c["name"] == "tiny_8x8_3x3" else 0.0
    report["targets"] = bench.check_targets(report)
    text = bench.format_bench(report)
    assert "tiny_8x8_3x3*" in text and "* other processes kept more than" in text
    marked = [t for t in report["targets"] if t.get("contended")]
    assert marked and all(t["target"].startswith("tiny_8x8_3x3") for t in marked)


def test_core_to_core_round_trip_is_measured_and_far_cases_marked(quick_run):
    report = json.loads(json.dumps(quick_run[3]))  # a copy
    two = bench._round_trip(2)
    assert bench._round_trip(1) is None
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else {0, 1}
    if _peak.round_trip_ns(10) >= 0 and len(cpus) >= 2:
        assert two is not None and two > 0 and math.isfinite(two)  # a time in ns
    else:  # no OpenMP team of two, or one CPU
        assert two is None
    if hasattr(os, "sched_setaffinity"):
        try:  # on one CPU: no reading
            os.sched_setaffinity(0, {min(cpus)})
            assert bench._round_trip(2) is None
        finally:
            os.sched_setaffinity(0, cpus)
        # the probe itself, both threads on one CPU: it finishes (its waits yield)
        code = (f"import os; os.sched_setaffinity(0, {{{min(cpus)}}}); "
                "from convcore import _peak; print(_peak.round_trip_ns(50))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120, env=dict(os.environ, OMP_NUM_THREADS="2"))
        ns = float(out.stdout)
        assert ns == -1 or (ns > 0 and math.isfinite(ns)), out
    for c in report["cases"]:
        trips = c["round_trip_ns"]
        assert len(trips) == 2 and all(v is None or v > 0 for v in trips)
        c["round_trip_ns"] = [300.0, 310.0] if c["name"] == "tiny_8x8_3x3" else [50.0, 60.0]
        c["others_cores"] = 0.0  # an idle machine: no busy mark (*) beside the ~
    report["targets"] = bench.check_targets(report)
    far = [t for t in report["targets"] if t.get("far")]
    assert far and all(t["target"].startswith("tiny_8x8_3x3") for t in far)
    assert all("(~ the cores were apart)" in t["detail"] for t in far)
    text = bench.format_bench(report)
    assert "core-to-core round trip" in text and "50-310 ns" in text
    assert "tiny_8x8_3x3~" in text and "~ a core-to-core round trip" in text
    others = [c["name"] for c in report["cases"] if c["name"] != "tiny_8x8_3x3"]
    assert others and all(f"{n}~" not in text for n in others)
    for c in report["cases"]:  # no readings (one thread): no line, no marks
        c["round_trip_ns"] = [None, None]
    text = bench.format_bench(report)
    assert "core-to-core" not in text and "~ a core" not in text


def test_transposed_case_and_its_peer():
    from convcore.bench import TRANSPOSE_CASES, TransposeCase, _transpose_calls, _transpose_targets

    dcgan = next(c for c in TRANSPOSE_CASES if c.target == "transpose")
    assert (dcgan.N, dcgan.C, dcgan.H, dcgan.W, dcgan.K, dcgan.R, dcgan.stride) == (
        8, 128, 32, 32, 64, 4, 2)
    assert dcgan.out_hw == (64, 64)
    assert dcgan.flops == 2 * 8 * 128 * 64 * 32 * 32 * 16  # every input pixel, every tap
    small = TransposeCase("small", 2, 6, 5, 7, 4, 3, 4, stride=2, padding=1, output_padding=1)
    rng = np.random.default_rng(0)
    a = {"x": rng.standard_normal((2, 6, 5, 7)), "w": rng.standard_normal((6, 4, 3, 4)),
         "b": rng.standard_normal(4)}
    calls = _transpose_calls(small, a)
    ref = calls["auto"]()
    assert ref.shape == (2, 4, *small.out_hw)
    for name in ("direct", "im2col") + (("torch",) if torch is not None else ()):
        np.testing.assert_allclose(calls[name](), ref, rtol=1e-12, atol=1e-12)
    report = {"cases": [{"kind": "transpose", "target": "transpose", "dtype": "float32",
                         "name": "t", "results": {"auto": {"ratios": {"torch": 0.9}}}}]}
    verdict, = _transpose_targets(report)
    assert verdict["status"] == "PASS" and verdict["value"] == 0.9


def test_peak_is_the_best_of_the_probes_before_and_after(monkeypatch):
    # the first probe reads low (its cores were taken), the second high, field by field
    probes = iter([
        {"threads": 1, "simd": "x", "fma_gflops": {"float32": 10.0, "float64": 9.0},
         "bandwidth_gbps": 40.0, "buffer_bytes": 8},
        {"threads": 1, "simd": "x", "fma_gflops": {"float32": 20.0, "float64": 4.0},
         "bandwidth_gbps": 30.0, "buffer_bytes": 8},
    ])
    monkeypatch.setattr(bench, "measure_peak", lambda *a, **k: next(probes))
    report = bench.run_bench(1, quick=True, cases="tiny", progress=False)
    peak = report["peak"]["1"]
    assert peak["fma_gflops"] == {"float32": 20.0, "float64": 9.0}
    assert peak["bandwidth_gbps"] == 40.0
    r = report["cases"][0]["results"]["auto"]
    assert r["frac_peak"] == pytest.approx(r["rate"] / 20.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_auto_judged_by_the_choice_in_the_cases_dtype(monkeypatch, dtype):
    """The route auto runs depends on the dtype (float64 takes FFT at smaller kernels):
    the verdict and the routes timed beside it ask the choice in the case's dtype."""
    asked = []

    def choose(g, dt=np.float32, weights_kept=False):
        asked.append(np.dtype(dt))
        return "direct"

    monkeypatch.setattr(bench, "choose_algorithm", choose)
    case = next(c for c in bench.CONV_CASES if c.name == "gray_2048x2048_15x15")
    job = bench._Job("conv", case._replace(H=64, W=64), dtype)
    a = bench._arrays(job)
    bench._fast_algorithm_calls(job.case, a["x"], a["w"], a.get("b"))
    row = {"median_s": 1.0, "round_s": [1.0]}
    verdict = bench._auto_choice(job, a, {"direct": row, "im2col": row, "fft": row})
    assert verdict["picked"] == "direct"
    assert asked == [np.dtype(dtype)] * 2
