"""Channels-last (layout='NHWC') conv2d and pooling against the NumPy references."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close, random_array
from pool_reference import avg_pool2d_ref, max_pool2d_ref
from reference import conv2d_ref

import convcore


def _nchw(a):
    return np.moveaxis(a, -1, -3)


def _nhwc(a):
    return np.moveaxis(a, -3, -1)


CONV_CASES = [
    # (N, C, H, W), (K, R, S), stride, padding, dilation, groups
    ((2, 6, 9, 7), (4, 1, 1), 1, 0, 1, 1),            # pointwise: one GEMM
    ((2, 6, 9, 7), (4, 1, 1), 2, 0, 1, 1),            # strided 1x1: NCHW kernels
    ((1, 3, 11, 10), (5, 3, 3), 1, 1, 1, 1),
    ((3, 4, 8, 9), (6, 3, 2), (2, 1), ((1, 0), (0, 2)), (1, 2), 2),
    ((2, 8, 7, 7), (8, 3, 3), 1, "same", 1, 8),       # depthwise
    ((3, 5, 6), (2, 2, 2), 1, "valid", 1, 1),         # one image without the batch axis
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
@pytest.mark.parametrize("memory", ["C", "strided"])
def test_conv2d_nhwc_matches_reference(rng, dtype, case, memory):
    nchw, (k, r, s), stride, padding, dilation, groups = CONV_CASES[case]
    c = nchw[-3]
    x = random_array(rng, (*nchw[:-3], *nchw[-2:], c), dtype, memory)  # channels last
    w = random_array(rng, (k, c // groups, r, s), dtype)
    b = random_array(rng, (k,), dtype)
    before = x.copy()
    y = convcore.conv2d(x, w, b, stride, padding, dilation, groups, layout="NHWC")
    xr = _nchw(x)[None] if x.ndim == 3 else _nchw(x)
    pads = padding
    if padding == "same":
        pads = ((1, 1), (1, 1))
    elif padding == "valid":
        pads = 0
    ref = conv2d_ref(xr, w, b, stride, pads, dilation, groups)
    ref = _nhwc(ref)[0] if x.ndim == 3 else _nhwc(ref)
    assert y.dtype == dtype and y.flags.c_contiguous
    assert_close(y, ref, dtype, terms=c // groups * r * s)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_conv2d_nhwc_out_nan_and_inf(rng, dtype):
    x = random_array(rng, (2, 5, 4, 3), dtype)
    x[0, 1, 2, 0] = np.nan
    x[1, 3, 3, 2] = np.inf
    for w in (random_array(rng, (4, 3, 1, 1), dtype), random_array(rng, (4, 3, 3, 3), dtype)):
        expected = _nhwc(conv2d_ref(_nchw(x), w, padding=((1, 1), (1, 1)) if w.shape[2] == 3
                                    else 0))
        out = np.full(expected.shape, 7, dtype)
        got = convcore.conv2d(x, w, padding=w.shape[2] // 2, layout="NHWC", out=out)
        assert got is out
        assert_close(out, expected, dtype, terms=27)
    with pytest.raises(ValueError, match="out has shape"):
        convcore.conv2d(x, w, layout="NHWC", out=np.empty((2, 4, 5, 4), dtype))
    with pytest.raises(ValueError, match="share memory with x"):
        convcore.conv2d(x, np.ones((3, 3, 1, 1), dtype), layout="NHWC", out=x)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", [
    (2, 2, 0, 1, False), (3, 2, 1, 1, False), (3, 1, 1, 1, False), (3, 2, 1, 2, True),
    ((2, 3), (1, 2), (1, 1), (2, 1), True), (5, 3, 2, 1, True),
])
@pytest.mark.parametrize("memory", ["C", "reversed"])
def test_max_pool2d_nhwc_matches_reference(rng, dtype, kernel, stride, padding, dilation,
                                           ceil_mode, memory):
    x = random_array(rng, (2, 9, 10, 7), dtype, memory)
    x[0, 1, 1, 2] = np.nan
    x[1, 4, 5, 0] = np.inf
    x[1, 0, 0, 3] = -np.inf
    before = x.copy()
    y, idx = convcore.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode,
                                 return_indices=True, layout="NHWC")
    ref, ref_idx = max_pool2d_ref(_nchw(x), kernel, stride, padding, dilation, ceil_mode)
    assert y.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, _nhwc(ref).astype(dtype))
    np.testing.assert_array_equal(idx, _nhwc(ref_idx))
    # the same values without indices, and the same as the NCHW kernel bit for bit
    alone = convcore.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, layout="NHWC")
    np.testing.assert_array_equal(alone, y)
    nchw = convcore.max_pool2d(np.ascontiguousarray(_nchw(x)), kernel, stride, padding,
                               dilation, ceil_mode)
    np.testing.assert_array_equal(_nhwc(nchw), y)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, include, divisor", [
    (2, 2, 0, False, True, None), (3, 2, 1, False, True, None), (3, 2, 1, True, False, None),
    ((3, 2), (2, 1), (1, 0), True, True, 5), (4, 3, 2, True, False, None),
])
def test_avg_pool2d_nhwc_matches_reference(rng, dtype, kernel, stride, padding, ceil_mode,
                                           include, divisor):
    x = random_array(rng, (3, 11, 9, 5), dtype, "strided")
    x[2, 5, 5, 1] = np.nan
    y = convcore.avg_pool2d(x, kernel, stride, padding, ceil_mode, include, divisor,
                            layout="NHWC")
    ref = avg_pool2d_ref(_nchw(x), kernel, stride, padding, ceil_mode, include, divisor)
    k = np.prod(np.broadcast_to(kernel, 2))
    assert_close(y, _nhwc(ref), dtype, terms=int(k))
    nchw = convcore.avg_pool2d(np.ascontiguousarray(_nchw(x)), kernel, stride, padding,
                               ceil_mode, include, divisor)
    np.testing.assert_array_equal(_nhwc(nchw), y)  # summed in the same order


def test_nhwc_unbatched_empty_and_errors():
    x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    assert convcore.max_pool2d(x[0], 2, layout="NHWC").shape == (2, 2, 3)
    assert convcore.avg_pool2d(x[:0], 2, layout="NHWC").shape == (0, 2, 2, 3)
    assert convcore.conv2d(x[:0], np.ones((5, 3, 1, 1), np.float32),
                           layout="NHWC").shape == (0, 4, 4, 5)
    for bad in ("nhwc", "NCWH", None, 1):
        with pytest.raises(ValueError, match="layout must be 'NCHW' or 'NHWC'"):
            convcore.conv2d(x, np.ones((1, 3, 1, 1)), layout=bad)
        with pytest.raises(ValueError, match="layout must be 'NCHW' or 'NHWC'"):
            convcore.max_pool2d(x, 2, layout=bad)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\) or \(H, W, C\)"):
        convcore.avg_pool2d(x[0, 0], 2, layout="NHWC")
    with pytest.raises(ValueError, match="channels"):  # weights for 4 channels, x has 3
        convcore.conv2d(x, np.ones((1, 4, 1, 1), np.float32), layout="NHWC")
    with pytest.raises(TypeError, match="dtype"):
        convcore.max_pool2d(x.astype(complex), 2, layout="NHWC")
