"""A repeated small direct call (functional._REPEATED, _conv.DirectCall) gives what a new
call gives, for every array it may meet, against the NumPy reference."""

import numpy as np
import pytest
from reference import conv1d_ref, conv2d_ref

import convcore
from convcore import functional
from convcore._geometry import prepare_key


def _key(x, w, b=None, padding=0, algorithm="auto", nd=2):
    return (prepare_key(nd, x, w, b, 1, padding, 1, 1), algorithm,
            convcore.get_num_threads(), convcore._conv.simd_code())


@pytest.fixture(autouse=True)
def _fresh():
    functional._REPEATED.clear()
    yield
    functional._REPEATED.clear()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["auto", "direct"])
def test_a_repeated_call_matches_the_reference(dtype, algorithm):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    first = rng.standard_normal((2, 2, 7, 9)).astype(dtype)
    convcore.conv2d(first, w, b, padding=1, algorithm=algorithm)
    assert isinstance(functional._REPEATED[_key(first, w, b, 1, algorithm)],
                      convcore._conv.DirectCall)
    for _ in range(3):  # new values each time: nothing of the first call's data is kept
        x = rng.standard_normal(first.shape).astype(dtype)
        kept = x.copy()
        y = convcore.conv2d(x, w, b, padding=1, algorithm=algorithm)
        assert y.dtype == dtype and y.shape == (2, 3, 7, 9)
        ref = conv2d_ref(x, w, b, padding=((1, 1), (1, 1)))
        np.testing.assert_allclose(y, ref, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-5 if dtype == np.float32 else 1e-12)
        np.testing.assert_array_equal(x, kept)


def test_unbatched_and_1d_repeats_keep_their_shapes():
    x = np.arange(30.0).reshape(2, 3, 5)
    w = np.ones((4, 2, 2, 2))
    for _ in range(3):
        y = convcore.conv2d(x, w)
        assert y.shape == (4, 2, 4)
        np.testing.assert_array_equal(y, conv2d_ref(x[None], w)[0])
    sig = np.arange(12.0).reshape(1, 2, 6)
    w1 = np.array([[[1.0, -1.0], [2.0, 0.5]]])
    for _ in range(3):
        np.testing.assert_allclose(convcore.conv1d(sig, w1), conv1d_ref(sig, w1))
    assert functional._REPEATED[_key(sig, w1, nd=1)]


def test_arrays_the_plan_does_not_fit_take_the_general_path():
    """Non-contiguous, misaligned, byte-swapped or read-only arrays, a conversion, NaN
    and inf: each repeated call still equals the reference (and the plan is not used
    where it does not fit)."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    x = rng.standard_normal((1, 1, 6, 8)).astype(np.float32)
    ref = conv2d_ref(x, w)
    convcore.conv2d(x, w)
    call = functional._REPEATED[_key(x, w)]
    wide = np.zeros((1, 1, 6, 16), np.float32)
    wide[..., ::2] = x
    strided = wide[..., ::2]
    raw = np.zeros(x.nbytes + 1, np.uint8)
    misaligned = raw[1:].view(np.float32).reshape(x.shape)
    misaligned[...] = x
    swapped = x.astype(">f4")
    frozen = w.copy()
    frozen.flags.writeable = False
    assert call(strided, w, None) is None and call(misaligned, w, None) is None
    assert call(x, frozen, None) is None  # read-only weights keep their packed form
    for xi, wi in ((strided, w), (misaligned, w), (swapped, w), (x, frozen)):
        for _ in range(2):
            np.testing.assert_allclose(convcore.conv2d(xi, wi), ref, rtol=1e-5, atol=1e-5)
    special = x.copy()
    special[0, 0, 2, 3], special[0, 0, 4, 6] = np.nan, np.inf
    got = convcore.conv2d(special, w)
    want = conv2d_ref(special, w)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5)
    # a float32 input with float64 weights converts: marked, never planned
    convcore.conv2d(x, w.astype(np.float64))
    assert functional._REPEATED[_key(x, w.astype(np.float64))] is False
    np.testing.assert_allclose(convcore.conv2d(x, w.astype(np.float64)), ref, rtol=1e-6)


def test_other_routes_and_out_are_not_planned():
    x = np.ones((1, 1, 8, 8))
    w = np.ones((1, 1, 3, 3))
    convcore.conv2d(x, w, algorithm="im2col")
    convcore.conv2d(x, w, out=np.empty((1, 1, 6, 6)))
    assert not functional._REPEATED
    convcore.conv2d(x, w, padding="same")  # a str padding is a key like an int
    assert functional._REPEATED


def test_the_thread_count_and_the_simd_level_are_part_of_the_plan():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    before_threads, before_isa = convcore.get_num_threads(), convcore.get_isa()
    results, keys = [], set()
    try:
        for n in (1, 2):
            convcore.set_num_threads(n)
            for level in convcore.available_isas():
                convcore.set_isa(level)
                for _ in range(2):
                    results.append(convcore.conv2d(x, w, padding=1))
                keys.add(_key(x, w, padding=1))
                call = functional._REPEATED[_key(x, w, padding=1)]
            for level in convcore.available_isas():  # a plan of another level stands down
                convcore.set_isa(level)
                assert (call(x, w, None) is None) == (level != convcore.available_isas()[-1])
    finally:
        convcore.set_num_threads(before_threads)
        convcore.set_isa(before_isa)
    ref = conv2d_ref(x, w, padding=((1, 1), (1, 1)))
    for y in results:
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    assert len(keys) == 2 * len(convcore.available_isas()) and keys <= set(functional._REPEATED)


def test_large_calls_are_not_planned_and_the_table_stays_bounded():
    w = np.ones((1, 1, 1, 1), np.float32)
    big = np.ones((1, 1, 1, (1 << 22) + 1), np.float32)  # 16 MiB + 4 bytes: the budget runs
    convcore.conv2d(big, w)
    assert functional._REPEATED[_key(big, w)] is False
    for n in range(1, functional._REPEATED_MAX + 20):
        convcore.conv2d(np.ones((1, 1, 1, n), np.float32), w)
    assert len(functional._REPEATED) <= functional._REPEATED_MAX
