"""conv2d called from several Python threads at once (the kernels run without the GIL)
gives exactly the results of serial calls, also while the thread count is changed."""

import threading
import time

import numpy as np
import pytest
from conftest import random_array, run_concurrently

import convcore

N_WORKERS = 4
REPEATS = 20
ALGORITHMS = ("direct", "im2col")


def _problems(rng):
    """One (x, w, b, kwargs) per worker, with different shapes and parameters."""
    specs = [
        ((2, 8, 24, 24), (16, 8, 3, 3), dict(padding=1)),
        ((1, 6, 20, 36), (12, 3, 3, 3), dict(stride=2, padding=(1, 0), groups=2)),
        ((3, 4, 18, 18), (8, 4, 5, 5), dict(dilation=2, padding=4)),
        ((2, 16, 14, 14), (32, 16, 1, 1), {}),
    ]
    out = []
    for i, (xs, ws, kw) in enumerate(specs):
        dtype = np.float32 if i % 2 == 0 else np.float64
        out.append((random_array(rng, xs, dtype), random_array(rng, ws, dtype),
                    random_array(rng, ws[:1], dtype), kw))
    return out


@pytest.fixture
def restore_threads():
    yield
    convcore.set_num_threads(None)


def test_concurrent_calls_match_serial(rng):
    problems = _problems(rng)
    serial = [{a: convcore.conv2d(x, w, b, algorithm=a, **kw) for a in ALGORITHMS}
              for x, w, b, kw in problems]
    inputs_before = [(x.copy(), w.copy()) for x, w, _, _ in problems]
    mismatches = []

    def work(i):
        x, w, b, kw = problems[i]
        for rep in range(REPEATS):
            for a in ALGORITHMS:
                y = convcore.conv2d(x, w, b, algorithm=a, **kw)
                if not np.array_equal(y, serial[i][a]):
                    mismatches.append((i, rep, a))

    run_concurrently(work, N_WORKERS)
    assert not mismatches, f"(worker, repeat, algorithm) differing from serial: {mismatches}"
    for (x, w, _, _), (x0, w0) in zip(problems, inputs_before, strict=True):
        assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_concurrent_calls_sharing_inputs(rng):
    """Threads reading the same inputs, each writing into its own `out` array."""
    x, w, b, kw = _problems(rng)[0]
    expected = {a: convcore.conv2d(x, w, b, algorithm=a, **kw) for a in ALGORITHMS}
    outs = [np.empty_like(expected["direct"]) for _ in range(N_WORKERS)]

    def work(i):
        for rep in range(REPEATS):
            outs[i].fill(np.nan)
            algorithm = ALGORITHMS[(i + rep) % 2]
            y = convcore.conv2d(x, w, b, algorithm=algorithm, out=outs[i], **kw)
            assert y is outs[i]
            assert np.array_equal(y, expected[algorithm]), (i, rep, algorithm)

    run_concurrently(work, N_WORKERS)


def test_set_num_threads_while_computing(rng, restore_threads):
    """Changing the thread count mid-flight neither crashes nor changes any result
    (results do not depend on the thread count)."""
    problems = _problems(rng)
    serial = [{a: convcore.conv2d(x, w, b, algorithm=a, **kw) for a in ALGORITHMS}
              for x, w, b, kw in problems]
    remaining = [N_WORKERS]
    lock = threading.Lock()
    mismatches = []
    setter_calls = [0]

    def work(i):
        if i == N_WORKERS:  # the extra thread only changes the thread count
            settings = (1, 2, None, 3)
            while remaining[0]:
                convcore.set_num_threads(settings[setter_calls[0] % len(settings)])
                setter_calls[0] += 1
                time.sleep(0.0005)  # pacing only; nothing is timed
            return
        try:
            x, w, b, kw = problems[i]
            for rep in range(REPEATS):
                for a in ALGORITHMS:
                    if not np.array_equal(convcore.conv2d(x, w, b, algorithm=a, **kw),
                                          serial[i][a]):
                        mismatches.append((i, rep, a))
        finally:
            with lock:
                remaining[0] -= 1

    run_concurrently(work, N_WORKERS + 1)
    assert not mismatches, f"(worker, repeat, algorithm) differing from serial: {mismatches}"
    assert setter_calls[0] > 0
    convcore.set_num_threads(None)
    assert convcore.get_num_threads() >= 1
