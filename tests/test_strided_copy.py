"""The C library's strided copy (convcore.transpose._copy_into, over
convcore._conv.copy_into) against NumPy's assignment."""

import numpy as np
import pytest

from convcore.transpose import _copy_into


def _views(rng, dtype):
    """(dst view, src view) pairs of one shape: strided, reversed, transposed, 0-d to 5-d,
    two large enough for the rows to be shared among threads."""
    big = rng.standard_normal((6, 5, 9, 8), dtype=np.float64).astype(dtype)
    out = np.full((4, 7, 10, 17), np.nan, dtype)
    yield out[1:3, ::2, 1::3, 1:15:2], big[:2, 1:5, ::-3, 1:]
    yield out[:, :5, 0, :5].T, big[:5, :, 2, :4]  # transposed destination
    yield out[2, 3, 4, 5:9], big[0, 0, 0, 4:]     # one row
    yield out[0, 0, 0, 0:0], big[0, 0, 0, 0:0]    # empty
    yield out[3, 6, 9, 16, ...], big[5, 4, 8, 7, ...]  # 0-d
    part = rng.standard_normal((3, 1, 4, 8, 9, 9)).astype(dtype)
    y = np.full((3, 1, 8, 16, 16), np.nan, dtype)
    for i, (a, b) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):  # a phase scatter
        yield y[:, :, :, a::2, b::2], part[:, :, i, :, a:a + 8, b:b + 8]
    wide = rng.standard_normal((2, 40, 30, 64)).astype(dtype)  # parallel-sized
    yield np.empty((2, 40, 64, 30), dtype).transpose(0, 1, 3, 2), wide
    odd = rng.standard_normal((7, 131, 97)).astype(dtype)  # an odd number of rows
    yield np.full((7, 131, 2 * 97), np.nan, dtype)[:, ::-1, ::2], odd


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_copy_equals_numpy_assignment(dtype, n_threads):
    import convcore

    convcore.set_num_threads(n_threads)
    try:
        rng = np.random.default_rng(5)
        for dst, src in _views(rng, dtype):
            base = dst.base if dst.base is not None else dst
            while base.base is not None:
                base = base.base
            expect = base.copy()
            offset = (dst.__array_interface__["data"][0]
                      - base.__array_interface__["data"][0])
            np.ndarray(dst.shape, dtype, expect, offset, dst.strides)[...] = src
            src_before = src.copy()
            _copy_into(dst, src)
            np.testing.assert_array_equal(base, expect)  # NaN where nothing was written
            np.testing.assert_array_equal(src, src_before)
    finally:
        convcore.set_num_threads(None)


def test_copy_falls_back_to_numpy():
    src = np.arange(12, dtype=np.int64).reshape(3, 4)
    dst = np.zeros((4, 3), np.int64).T  # an integer dtype
    _copy_into(dst, src)
    np.testing.assert_array_equal(dst, src)
    raw = np.zeros(4 * 12 + 1, np.uint8)
    unaligned = raw[1:].view(np.float32).reshape(3, 4)  # not aligned to 4 bytes
    _copy_into(unaligned, src.astype(np.float32))
    np.testing.assert_array_equal(unaligned, src)
    a = np.arange(10, dtype=np.float64)
    _copy_into(a[1:], a[:-1])  # overlapping: NumPy's assignment, which handles overlap
    np.testing.assert_array_equal(a, [0, 0, 1, 2, 3, 4, 5, 6, 7, 8])
    ro = np.zeros((3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _copy_into(ro, src.astype(np.float32))
