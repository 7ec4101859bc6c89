"""Threads and re-entrancy for every kernel family (tests/test_threads.py covers conv2d).

- every kernel releases the GIL: another Python thread keeps running during a long call;
- many Python threads calling every function at once (each kernel call with its own
  OpenMP team) get exactly the results of serial calls, also while another thread keeps
  changing the thread count;
- results are reproducible run to run and do not depend on the thread count, bit for bit,
  on every route (the GEMM routes sum each output over a partition fixed by the shapes,
  on the ISA's GEMM tile), float32 and float64.
"""

import threading
import time

import numpy as np
import pytest
from conftest import run_concurrently

import convcore

N_WORKERS = 8
THREAD_COUNTS = (1, 2, 3, 4)


@pytest.fixture(autouse=True)
def restore_threads():
    yield
    convcore.set_num_threads(None)


def _arrays(seed, dtype):
    rng = np.random.default_rng(seed)
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    return dict(x=r(3, 8, 30, 33), w=r(12, 4, 3, 3), b=r(12), x1=r(2, 6, 90), w1=r(8, 3, 5),
                go=r(3, 12, 15, 17), go1=r(2, 8, 42), xp=r(4, 16, 40, 41), gp=r(4, 16, 20, 21),
                cols=r(3, 72, 30 * 33), x_one=r(1, 32, 20, 21), w_one=r(48, 32, 3, 3),
                x_big=r(6, 48, 40, 44), w_big=r(64, 48, 3, 3), w_pw=r(40, 48, 1, 1),
                go_big=r(6, 64, 40, 44))


def _flat(result):
    if isinstance(result, tuple):
        return [a for r in result for a in _flat(r)]
    if result is None:
        return []
    if hasattr(result, "indptr"):
        return [result.data, result.indices, result.indptr]
    return [result]


def workloads(dtype):
    """name -> (call, exact): every route, all exact (the flag is kept for the callers)."""
    a = _arrays(7, dtype)
    cc = convcore
    nhwc = np.ascontiguousarray(a["x_big"].transpose(0, 2, 3, 1))
    return {
        "conv2d-direct": (lambda: cc.conv2d(a["x"], a["w"], a["b"], 2, 1, groups=2,
                                            algorithm="direct"), True),
        "conv2d-im2col": (lambda: cc.conv2d(a["x"], a["w"], a["b"], 2, 1, groups=2,
                                            algorithm="im2col"), True),
        # one image, one pixel tile: the output channels are split into blocks
        "conv2d-im2col-one-gemm": (lambda: cc.conv2d(a["x_one"], a["w_one"], padding=1,
                                                     algorithm="im2col"), True),
        # enough work for several chunks, whose size depends on the thread count
        "conv2d-im2col-chunks": (lambda: cc.conv2d(a["x_big"], a["w_big"], padding=1,
                                                   algorithm="im2col"), True),
        "conv2d-auto": (lambda: (cc.conv2d(a["x_big"], a["w_big"], padding=1),
                                 cc.conv2d(a["x_big"], a["w_pw"]),
                                 cc.conv2d(a["x_one"], a["w_one"], stride=3)), True),
        "conv2d-sparse": (lambda: cc.conv2d(a["x"], a["w"], a["b"], 1, "same", groups=2,
                                            algorithm="sparse"), True),
        "conv2d-nhwc": (lambda: (cc.conv2d(nhwc, a["w_pw"], a["b"][:1].repeat(40),
                                           layout="NHWC"),
                                 cc.conv2d(nhwc, a["w_big"], padding=1, layout="NHWC")), True),
        "conv1d": (lambda: (cc.conv1d(a["x1"], a["w1"], None, 2, 1, dilation=2, groups=2),
                            cc.conv1d(a["x1"], a["w1"], None, 1, 2, groups=2,
                                      algorithm="im2col")), True),
        "conv2d_backward-direct": (lambda: cc.conv2d_backward(
            a["go"], a["x"], a["w"], 2, 1, groups=2, algorithm="direct"), True),
        "conv2d_backward-im2col": (lambda: cc.conv2d_backward(
            a["go"], a["x"], a["w"], 2, 1, groups=2, algorithm="im2col"), True),
        "conv2d_backward-auto-big": (lambda: cc.conv2d_backward(
            a["go_big"], a["x_big"], a["w_big"], 1, 1), True),
        "conv1d_backward": (lambda: cc.conv1d_backward(a["go1"], a["x1"], a["w1"], 2, 1,
                                                       dilation=2, groups=2), True),
        "im2col": (lambda: cc.im2col(a["x"], 3, padding=1), True),
        "col2im": (lambda: cc.col2im(a["cols"], (30, 33), 3, padding=1), True),
        "max_pool2d": (lambda: cc.max_pool2d(a["xp"], 3, 2, 1, return_indices=True), True),
        "avg_pool2d": (lambda: cc.avg_pool2d(a["xp"], 3, 2, 1, count_include_pad=False), True),
        "pool2d-nhwc": (lambda: (cc.max_pool2d(nhwc, 3, 2, 1, return_indices=True,
                                               layout="NHWC"),
                                 cc.avg_pool2d(nhwc, 3, 2, 1, layout="NHWC")), True),
        "max_pool2d_backward": (lambda: cc.max_pool2d_backward(a["gp"], a["xp"], 3, 2, 1), True),
        "avg_pool2d_backward": (lambda: cc.avg_pool2d_backward(a["gp"], a["xp"], 3, 2, 1), True),
        "pool1d": (lambda: (cc.max_pool1d(a["x1"], 4), cc.avg_pool1d(a["x1"], 3, 1, 1)), True),
        "adaptive": (lambda: (cc.adaptive_avg_pool2d(a["xp"], (7, 5)),
                              cc.adaptive_max_pool2d(a["xp"], 6, return_indices=True),
                              cc.global_avg_pool2d(a["xp"]), cc.global_max_pool2d(a["xp"])),
                     True),
        "conv_matrix": (lambda: cc.conv_matrix((8, 30, 33), a["w"], 2, 1, groups=2), True),
    }


def _compare(got, ref, exact, dtype):
    """None when got matches ref bit for bit (NaN where NaN), else a message."""
    for g, r in zip(_flat(got), _flat(ref), strict=True):
        if not np.array_equal(g, r, equal_nan=g.dtype.kind == "f"):
            return "not bit-identical"
    return None


# ---------------------------------------------------------------- the GIL


def _gil_cases():
    """name -> function of a batch size n, each ~10 ms of one-thread work per unit of n."""
    f32 = np.float32
    w = np.ones((32, 32, 3, 3), f32)
    a = {}

    def x(n, c=32, hw=48):
        key = (n, c, hw)
        if key not in a:
            a[key] = np.ones((n, c, hw, hw), f32)
        return a[key]

    return {
        "conv2d-direct": lambda n: convcore.conv2d(x(n), w, algorithm="direct"),
        "conv2d-im2col": lambda n: convcore.conv2d(x(n), w, algorithm="im2col"),
        "im2col": lambda n: convcore.im2col(x(n, 16), 3, padding=1),
        "col2im": lambda n: convcore.col2im(np.ones((n, 144, 2304), f32), 48, 3, padding=1),
        "max_pool2d": lambda n: convcore.max_pool2d(x(n, 32, 64), 7, 1, 3,
                                                    return_indices=True),
        "avg_pool2d": lambda n: convcore.avg_pool2d(x(n, 32, 64), 7, 1, 3),
        "max_pool2d_backward": lambda n: convcore.max_pool2d_backward(x(n, 32, 64),
                                                                      x(n, 32, 64), 7, 1, 3),
        "avg_pool2d_backward": lambda n: convcore.avg_pool2d_backward(x(n, 32, 64),
                                                                      x(n, 32, 64), 7, 1, 3),
        "adaptive_max_pool2d": lambda n: convcore.adaptive_max_pool2d(x(n, 32, 64), 50),
        "adaptive_avg_pool2d": lambda n: convcore.adaptive_avg_pool2d(x(n, 32, 64), 50),
        "conv_matrix": lambda n: convcore.conv_matrix((16, 32 * n, 64), w[:16, :16]),
        "conv_transpose2d": lambda n: convcore.conv_transpose2d(x(n, 32, 24), w, stride=2,
                                                                padding=1),
    }


def _calls_pausing_python(fn, calls=6):
    """Run fn() ``calls`` times while a Python thread spins; return (the calls' durations,
    how many calls the spinning thread was paused for more than half of).  A call that
    holds the GIL pauses it for the whole call; one that releases the GIL only for the
    odd scheduling hiccup (the machine may be busy), so a majority is not noise."""
    stop, pauses = threading.Event(), []

    def tick():
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            if now - last > 5e-4:
                pauses.append((last, now))
            last = now

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.01)
    spans = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        spans.append((start, time.perf_counter()))
    stop.set()
    ticker.join()
    paused = 0
    for s, e in spans:
        longest = max((min(e, pe) - max(s, ps) for ps, pe in pauses), default=0.0)
        paused += longest > 0.5 * (e - s)
    return [e - s for s, e in spans], paused


@pytest.mark.parametrize("name", sorted(_gil_cases()))
def test_kernels_release_the_gil(name):
    """A Python thread keeps running during kernel calls of 20 ms or more: with the GIL
    held it would pause for each whole call (a switch interval cannot interrupt C)."""
    convcore.set_num_threads(1)
    fn = _gil_cases()[name]
    fn(1)  # warm up
    n, took = 1, 0.0
    while took < 0.02 and n < 96:  # a batch size for calls of 20 ms or more
        start = time.perf_counter()
        fn(n)
        took = time.perf_counter() - start
        if took < 0.02:
            n = int(min(96, max(2 * n, np.ceil(n * 0.03 / max(took, 1e-4)))))
    durations, paused = _calls_pausing_python(lambda: fn(n))
    assert min(durations) > 0.01, f"calls too short to tell: {durations} (n={n})"
    assert paused <= len(durations) // 3, (
        f"a Python thread was paused through {paused} of {len(durations)} {name} calls "
        f"({min(durations) * 1e3:.0f}-{max(durations) * 1e3:.0f} ms): the GIL is held")


def test_gil_probe_sees_a_held_gil():
    """The probe is not vacuous: a C function that keeps the GIL (list.sort) pauses the
    spinning thread through every call."""
    data = np.random.default_rng(0).standard_normal(300_000).tolist()
    durations, paused = _calls_pausing_python(lambda: sorted(data))
    assert min(durations) > 0.01, durations
    assert paused == len(durations)


# ---------------------------------------------------------------- many threads at once


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_threads_every_kernel_match_serial(dtype):
    loads = workloads(dtype)
    serial = {name: fn() for name, (fn, _) in loads.items()}
    names = sorted(loads)
    mismatches = []

    def work(i):
        order = names[i % len(names):] + names[:i % len(names)]  # every kernel, staggered
        for rep in range(2):
            for name in order:
                fn, exact = loads[name]
                problem = _compare(fn(), serial[name], exact, dtype)
                if problem:
                    mismatches.append((i, rep, name, problem))

    run_concurrently(work, N_WORKERS)
    assert not mismatches, mismatches[:10]


def test_set_num_threads_while_every_kernel_runs():
    """One thread cycles the thread count (1, 2, None, 3, 4) while the others compute:
    nothing crashes or hangs, and every result matches the serial one."""
    dtype = np.float64
    loads = workloads(dtype)
    serial = {name: fn() for name, (fn, _) in loads.items()}
    names = sorted(loads)
    remaining = [N_WORKERS]
    lock = threading.Lock()
    mismatches, setter_calls = [], [0]

    def work(i):
        if i == N_WORKERS:
            settings = (1, 2, None, 3, 4)
            while remaining[0]:
                convcore.set_num_threads(settings[setter_calls[0] % len(settings)])
                setter_calls[0] += 1
                time.sleep(0.0002)  # pacing only; nothing is timed
            return
        try:
            for name in names[i:] + names[:i]:
                fn, exact = loads[name]
                problem = _compare(fn(), serial[name], exact, dtype)
                if problem:
                    mismatches.append((i, name, problem))
        finally:
            with lock:
                remaining[0] -= 1

    run_concurrently(work, N_WORKERS + 1)
    assert not mismatches, mismatches[:10]
    assert setter_calls[0] > 10


def test_errors_in_some_threads_do_not_disturb_others():
    """Threads raising validation errors (and MemoryError) alongside computing threads."""
    loads = workloads(np.float32)
    fn, _ = loads["conv2d-direct"]
    expected = fn()
    bad = [lambda: convcore.conv2d(np.zeros((1, 3, 4, 4)), np.zeros((1, 2, 3, 3))),
           lambda: convcore.max_pool2d(np.zeros((1, 4, 4)), 3, padding=2),
           lambda: convcore.conv2d(np.zeros((2, 1, 4, 4)), np.zeros((1, 1, 1, 1)),
                                   padding=10**9)]
    mismatches = []

    def work(i):
        for rep in range(20):
            if i % 2:
                with pytest.raises((ValueError, MemoryError)):
                    bad[(i + rep) % len(bad)]()
            elif not np.array_equal(fn(), expected):
                mismatches.append((i, rep))

    run_concurrently(work, N_WORKERS)
    assert not mismatches


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_call_same_bits_run_to_run(dtype):
    """At a fixed thread count every result is reproducible bit for bit."""
    for n in (1, 3):
        convcore.set_num_threads(n)
        for name, (fn, _) in workloads(dtype).items():
            first = fn()
            for _ in range(2):
                assert _compare(fn(), first, True, dtype) is None, (name, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_the_result(dtype):
    """Bit-identical for 1, 2, 3 and 4 threads (up to twice the cores of the development
    machines), float32 and float64, on every route."""
    loads = workloads(dtype)
    results = {}
    for n in THREAD_COUNTS:
        convcore.set_num_threads(n)
        results[n] = {name: fn() for name, (fn, _) in loads.items()}
    problems = []
    for name, (_, exact) in loads.items():
        for n in THREAD_COUNTS[1:]:
            problem = _compare(results[n][name], results[1][name], exact, dtype)
            if problem:
                problems.append((name, n, problem))
    assert not problems, problems


def test_direct_kernel_is_thread_count_independent_on_many_shapes():
    """The direct kernels, pooling, unfold/fold and the matrix split work by output tiles,
    planes or rows, never inside a sum: exact for any thread count, on shapes whose work
    splits unevenly across threads."""
    rng = np.random.default_rng(11)
    for case in range(12):
        n, c, k = (int(v) for v in rng.integers(1, 5, 3))
        h, w = (int(v) for v in rng.integers(5, 40, 2))
        x = rng.standard_normal((n, 2 * c, h, w)).astype(np.float32)
        wt = rng.standard_normal((2 * k, c, 3, 3)).astype(np.float32)
        outs = []
        for t in THREAD_COUNTS:
            convcore.set_num_threads(t)
            outs.append((convcore.conv2d(x, wt, padding=1, groups=2, algorithm="direct"),
                         convcore.avg_pool2d(x, 3, 1, 1),
                         convcore.im2col(x, 3, stride=2, padding=1),
                         convcore.max_pool2d(x, 2, return_indices=True)[1]))
        for o in outs[1:]:
            for a, b in zip(o, outs[0], strict=True):
                assert np.array_equal(a, b), case
