"""A repeated small direct call (functional._REPEATED, _conv.DirectCall) gives what a new
call gives, for every array it may meet, against the NumPy reference."""

import numpy as np
import pytest
from convcore._conv import DirectCall
from reference import conv1d_ref, conv2d_ref, conv3d_ref, conv_border_ref

import convcore
from convcore import functional
from convcore._geometry import prepare_key


def _key(x, w, b=None, padding=0, algorithm="direct", nd=2, stride=1, dilation=1, groups=1,
         padding_mode="zeros"):
    return (prepare_key(nd, x, w, b, stride, padding, dilation, groups, padding_mode),
            algorithm, convcore.get_num_threads(), convcore._conv.simd_code())


def _plan(*args, **kwargs):
    entry = functional._REPEATED[_key(*args, **kwargs)]
    assert isinstance(entry, DirectCall), entry
    return entry


@pytest.fixture(autouse=True)
def _fresh():
    functional._REPEATED.clear()
    yield
    functional._REPEATED.clear()


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["auto", "direct"])
def test_a_repeated_call_matches_the_reference(dtype, algorithm):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    first = rng.standard_normal((2, 2, 7, 9)).astype(dtype)
    convcore.conv2d(first, w, b, padding=1, algorithm=algorithm)
    entry = functional._REPEATED[_key(first, w, b, 1, algorithm)]
    if algorithm == "direct":  # auto keeps a plan when its choice is the direct route
        assert isinstance(entry, DirectCall)
    for _ in range(3):  # new values each time: nothing of the first call's data is kept
        x = rng.standard_normal(first.shape).astype(dtype)
        kept = x.copy()
        y = convcore.conv2d(x, w, b, padding=1, algorithm=algorithm)
        assert y.dtype == dtype and y.shape == (2, 3, 7, 9)
        np.testing.assert_allclose(y, conv2d_ref(x, w, b, padding=((1, 1), (1, 1))),
                                   **_tol(dtype))
        np.testing.assert_array_equal(x, kept)


def test_unbatched_1d_3d_and_grouped_repeats():
    """Unbatched images, signals, volumes, groups, strides, dilations, a border mode,
    'same' padding, a 1x1 layer and no bias: each kept as a plan, each repeat equal to the
    reference (and to the first call, bit for bit)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5))
    w = rng.standard_normal((4, 2, 2, 2))
    first = convcore.conv2d(x, w, algorithm="direct")
    _plan(x, w)
    np.testing.assert_array_equal(convcore.conv2d(x, w, algorithm="direct"), first)
    np.testing.assert_allclose(first, conv2d_ref(x[None], w)[0], **_tol(np.float64))
    assert first.shape == (4, 2, 4)

    sig = rng.standard_normal((2, 2, 11))
    w1 = rng.standard_normal((4, 1, 3))
    for _ in range(2):
        y = convcore.conv1d(sig, w1, stride=2, dilation=2, groups=2, algorithm="direct")
        np.testing.assert_allclose(y, conv1d_ref(sig, w1, stride=2, dilation=2, groups=2),
                                   **_tol(np.float64))
    _plan(sig, w1, nd=1, stride=2, dilation=2, groups=2)

    vol = rng.standard_normal((1, 2, 4, 5, 6)).astype(np.float32)
    w3 = rng.standard_normal((3, 2, 3, 3, 3)).astype(np.float32)
    ys = [convcore.conv3d(vol, w3, padding=1, algorithm="direct") for _ in range(2)]
    _plan(vol, w3, padding=1, nd=3)
    np.testing.assert_array_equal(ys[0], ys[1])
    np.testing.assert_allclose(ys[1], conv3d_ref(vol, w3, padding=1), **_tol(np.float32))

    img = rng.standard_normal((1, 2, 6, 7))
    wi = rng.standard_normal((2, 2, 3, 3))
    for mode in ("reflect", "circular"):
        for _ in range(2):
            y = convcore.conv2d(img, wi, padding="same", padding_mode=mode,
                                algorithm="direct")
            np.testing.assert_allclose(
                y, conv_border_ref(img, wi, None, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, mode),
                **_tol(np.float64))
        _plan(img, wi, padding="same", padding_mode=mode)

    pw_x = rng.standard_normal((2, 8, 3, 5)).astype(np.float32)
    pw_w = rng.standard_normal((16, 8, 1, 1)).astype(np.float32)
    for _ in range(2):
        np.testing.assert_allclose(convcore.conv2d(pw_x, pw_w, algorithm="direct"),
                                   conv2d_ref(pw_x, pw_w), **_tol(np.float32))
    _plan(pw_x, pw_w)


def test_arrays_the_plan_does_not_fit_take_the_general_path():
    """Non-contiguous, misaligned, byte-swapped or read-only arrays, a conversion, NaN
    and inf: each repeated call still equals the reference, and the plan itself refuses
    the arrays it cannot read as they are."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    x = rng.standard_normal((1, 1, 6, 8)).astype(np.float32)
    ref = conv2d_ref(x, w)
    convcore.conv2d(x, w, algorithm="direct")
    call = _plan(x, w)
    wide = np.zeros((1, 1, 6, 16), np.float32)
    wide[..., ::2] = x
    strided = wide[..., ::2]
    raw = np.zeros(x.nbytes + 1, np.uint8)
    misaligned = raw[1:].view(np.float32).reshape(x.shape)
    misaligned[...] = x
    swapped = x.astype(">f4")
    frozen = w.copy()  # read-only and owning its memory: its packed form is kept
    frozen.flags.writeable = False
    frozen_view = w.copy()[...]  # read-only view: nothing kept, the plan takes it
    frozen_view.flags.writeable = False
    assert call(strided, w, None) is None and call(misaligned, w, None) is None
    assert call(swapped, w, None) is None and call(x.astype(np.float64), w, None) is None
    assert call(x, frozen, None) is None
    np.testing.assert_allclose(call(x, frozen_view, None), ref, rtol=1e-5, atol=1e-5)
    for xi, wi in ((strided, w), (misaligned, w), (swapped, w), (x, frozen)):
        for _ in range(2):
            np.testing.assert_allclose(convcore.conv2d(xi, wi, algorithm="direct"), ref,
                                       rtol=1e-5, atol=1e-5)
    special = x.copy()
    special[0, 0, 2, 3], special[0, 0, 4, 6] = np.nan, np.inf
    got = convcore.conv2d(special, w, algorithm="direct")
    want = conv2d_ref(special, w)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-5, atol=1e-5)
    # a float32 input with float64 weights converts: marked, never planned
    w64 = w.astype(np.float64)
    convcore.conv2d(x, w64, algorithm="direct")
    assert functional._REPEATED[_key(x, w64)] is False
    np.testing.assert_allclose(convcore.conv2d(x, w64, algorithm="direct"), ref, rtol=1e-6)


def test_other_routes_and_out_are_not_planned():
    x = np.ones((1, 1, 8, 8))
    w = np.ones((1, 1, 3, 3))
    convcore.conv2d(x, w, algorithm="im2col")
    convcore.conv2d(x, w, out=np.empty((1, 1, 6, 6)))
    convcore.conv2d(x.transpose(0, 2, 3, 1), w, layout="NHWC")
    assert not functional._REPEATED


def test_the_thread_count_and_the_simd_level_are_part_of_the_plan():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    before_threads, before_isa = convcore.get_num_threads(), convcore.get_isa()
    results, keys, counts = [], set(), set()
    try:
        for n in (1, 2):
            convcore.set_num_threads(n)
            counts.add(convcore.get_num_threads())  # always 1 without OpenMP
            for level in convcore.available_isas():
                convcore.set_isa(level)
                for _ in range(2):
                    results.append(convcore.conv2d(x, w, padding=1, algorithm="direct"))
                keys.add(_key(x, w, padding=1))
                call = _plan(x, w, padding=1)
            for level in convcore.available_isas():  # a plan of another level stands down
                convcore.set_isa(level)
                assert (call(x, w, None) is None) == (level != convcore.available_isas()[-1])
    finally:
        convcore.set_num_threads(before_threads)
        convcore.set_isa(before_isa)
    ref = conv2d_ref(x, w, padding=((1, 1), (1, 1)))
    for y in results:
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    assert len(keys) == len(counts) * len(convcore.available_isas())
    assert keys <= set(functional._REPEATED)


def test_a_plan_gives_the_same_bits_on_every_thread_count():
    """A call of many work items, shared among 1 and then 2 threads: its plan gives the
    bits the general path gives."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 16, 40, 40)).astype(np.float32)
    w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
    before = convcore.get_num_threads()
    try:
        outs = []
        for n in (1, 2):
            convcore.set_num_threads(n)
            general = convcore.conv2d(x, w, padding=1, algorithm="direct")
            outs += [general, convcore.conv2d(x, w, padding=1, algorithm="direct")]
            _plan(x, w, padding=1)
    finally:
        convcore.set_num_threads(before)
    for y in outs[1:]:
        np.testing.assert_array_equal(y, outs[0])
    np.testing.assert_allclose(outs[0], conv2d_ref(x, w, padding=((1, 1), (1, 1))),
                               rtol=1e-4, atol=1e-4)


def test_large_calls_are_not_planned_and_the_table_stays_bounded():
    w = np.ones((1, 1, 1, 1), np.float32)
    big = np.ones((1, 1, 1, (1 << 22) + 1), np.float32)  # 16 MiB + 4 bytes: the budget runs
    convcore.conv2d(big, w, algorithm="direct")
    assert functional._REPEATED[_key(big, w)] is False
    for n in range(1, functional._REPEATED_MAX + 20):
        convcore.conv2d(np.ones((1, 1, 1, n), np.float32), w, algorithm="direct")
    assert len(functional._REPEATED) <= functional._REPEATED_MAX
