"""Shared fixtures, helpers and Hypothesis settings for the convcore tests."""

import os
import sys
import threading
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Make ``reference`` and these helpers importable whatever the import mode.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

settings.register_profile(
    "default",
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ALGORITHMS = ("direct", "im2col", "auto")
FLOAT_DTYPES = (np.float32, np.float64)


def tolerance(dtype, terms=1):
    """Relative tolerance for a sum of ``terms`` products computed in ``dtype``."""
    if np.dtype(dtype) == np.float32:
        return 1e-5 * max(1.0, np.sqrt(terms))
    return 1e-10


def assert_close(got, ref, dtype, terms=1, err_msg=""):
    """Compare ``got`` with a float64 reference; NaN/inf positions must match.

    The absolute tolerance is the relative one scaled by the largest finite
    reference magnitude, so cancellation near zero does not cause failures.
    """
    got = np.asarray(got)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"shape {got.shape} != {ref.shape} {err_msg}"
    rtol = tolerance(dtype, terms)
    finite = np.abs(ref[np.isfinite(ref)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(got.astype(np.float64), ref, rtol=rtol,
                               atol=rtol * scale, equal_nan=True, err_msg=err_msg)


def rel_err(got, ref):
    """The largest error of ``got`` relative to the largest magnitude of ``ref``."""
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.abs(np.asarray(got, np.float64) - ref).max()
                 / max(np.abs(ref).max(), 1e-300))


def random_3x3_layer(rng, max_h, max_w):
    """A random grouped 3x3 layer: (N, C, K, H, W, groups, padding), padding
    ((top, bottom), (left, right)) of 0-2 each, the image at least as large as the
    kernel once padded."""
    groups = int(rng.choice([1, 1, 2, 3]))
    C = groups * int(rng.integers(1, 6))
    K = groups * int(rng.integers(1, 8))
    N, H, W = int(rng.integers(1, 4)), int(rng.integers(1, max_h)), int(rng.integers(1, max_w))
    pads = [int(rng.integers(0, 3)) for _ in range(4)]
    H, W = max(H, 3 - pads[0] - pads[1]), max(W, 3 - pads[2] - pads[3])
    return N, C, K, H, W, groups, ((pads[0], pads[1]), (pads[2], pads[3]))


def random_array(rng, shape, dtype=np.float64, layout="C"):
    """Random values in [-1, 1) with the requested memory layout.

    ``layout`` is one of "C", "F" (Fortran order), "strided" (a view taking
    every other element along each axis) or "reversed" (negative strides).
    """
    shape = tuple(shape)
    if layout == "strided":
        big = rng.uniform(-1, 1, tuple(2 * n for n in shape)).astype(dtype)
        out = big[tuple(slice(None, None, 2) for _ in shape)]
    elif layout == "reversed":
        out = rng.uniform(-1, 1, shape).astype(dtype)[tuple(slice(None, None, -1) for _ in shape)]
    elif layout == "F":
        out = np.asfortranarray(rng.uniform(-1, 1, shape).astype(dtype))
    else:
        out = rng.uniform(-1, 1, shape).astype(dtype)
    assert out.shape == shape
    return out


@pytest.fixture
def rng(request):
    """A generator seeded from the test id, so every test is reproducible."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def results_per_thread_count(fn, counts=(1, 2, 3)):
    """fn() run at each thread count (the count in use restored after)."""
    import convcore

    before = convcore.get_num_threads()
    try:
        results = []
        for n in counts:
            convcore.set_num_threads(n)
            results.append(fn())
    finally:
        convcore.set_num_threads(before)
    return results


def run_concurrently(target, n):
    """Start n threads on target(i) together; re-raise the first exception."""
    barrier = threading.Barrier(n)
    errors = []

    def wrapped(i):
        try:
            barrier.wait(timeout=60)
            target(i)
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    if errors:
        raise errors[0]


def _available_isas():
    import convcore

    return convcore.available_isas()


@pytest.fixture(params=_available_isas())
def isa(request):
    """Run the test at each SIMD level this CPU supports (from the portable kernels up to
    the best); restore the level in use before (CONVCORE_ISA's, when set) after."""
    import convcore

    before = convcore.get_isa()
    convcore.set_isa(request.param)
    yield request.param
    convcore.set_isa(before)
