"""Every pooling kernel at every SIMD level, writing into results poisoned before the call
(NaN, then a finite value no result takes; -7 for indices): an element a kernel leaves
unwritten, or reads before writing, shows against the NumPy references.  Odd sizes,
padding, dilation and ceil_mode put windows on every edge; NaN and inf in the input must
come through as the references say."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close
from pool_nd_reference import (
    adaptive_avg_pool_nd_ref,
    adaptive_max_pool_nd_ref,
    avg_pool_nd_backward_ref,
    avg_pool_nd_ref,
    max_pool_nd_backward_ref,
    max_pool_nd_ref,
    max_unpool_nd_ref,
)

import convcore
from convcore import _checks

POISON_INDEX = -7
# (nd, input shape, kernel, stride, padding, dilation, ceil_mode)
WINDOWS = [
    (1, (2, 3, 17), 3, 2, 1, 2, True),
    (2, (2, 3, 11, 13), 3, 2, 1, 1, True),
    (2, (1, 5, 9, 16), (2, 3), (2, 1), (1, 0), (1, 2), False),
    (2, (3, 2, 35, 7), 2, 2, 0, 1, False),  # the stride-2 vector paths, an odd width
    (3, (1, 2, 7, 9, 10), 3, 2, 1, 1, True),
    (3, (2, 1, 5, 6, 33), (1, 2, 2), (1, 2, 2), 0, 1, False),
    # the other windows compiled with constant sizes: 1-D 2/2, 3x3/1, 2x2x2/2
    (1, (2, 3, 21), 2, 2, 0, 1, False),
    (2, (1, 3, 10, 19), 3, 1, 1, 1, False),
    (3, (1, 2, 6, 7, 18), 2, 2, 0, 1, True),
]
MAX = {1: convcore.max_pool1d, 2: convcore.max_pool2d, 3: convcore.max_pool3d}
AVG = {1: convcore.avg_pool1d, 2: convcore.avg_pool2d, 3: convcore.avg_pool3d}
MAX_BACK = {1: convcore.max_pool1d_backward, 2: convcore.max_pool2d_backward,
            3: convcore.max_pool3d_backward}
AVG_BACK = {1: convcore.avg_pool1d_backward, 2: convcore.avg_pool2d_backward,
            3: convcore.avg_pool3d_backward}
ADAPTIVE_AVG = {1: convcore.adaptive_avg_pool1d, 2: convcore.adaptive_avg_pool2d,
                3: convcore.adaptive_avg_pool3d}
ADAPTIVE_MAX = {1: convcore.adaptive_max_pool1d, 2: convcore.adaptive_max_pool2d,
                3: convcore.adaptive_max_pool3d}


@pytest.fixture(params=[np.nan, -3.0e38], ids=["nan", "finite"])
def poisoned(monkeypatch, request):
    """Results come filled with NaN, or with a finite value no result takes (where the
    right result is itself NaN, a NaN poison would pass unwritten), indices with
    POISON_INDEX; counts the arrays made."""
    made = []

    def result_array(shape, dtype):
        a = np.empty(shape, dtype)
        a.fill(POISON_INDEX if np.dtype(dtype).kind in "iu" else request.param)
        made.append(a)
        return a

    monkeypatch.setattr(_checks, "result_array", result_array)
    return made


def _input(shape, dtype, seed, specials=True):
    x = np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)
    if specials:  # NaN and inf in the first plane
        x.reshape(-1, *shape[2:])[0].flat[[1, 4]] = [np.nan, np.inf]
    return x


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: f"{w[0]}d{w[1]}")
def test_forward_and_backward(window, dtype, isa, poisoned):
    nd, shape, k, s, p, d, ceil = window
    x = _input(shape, dtype, 1)
    y, idx = MAX[nd](x, k, s, p, d, ceil, return_indices=True)
    ref, ref_idx = max_pool_nd_ref(x, nd, k, s, p, d, ceil)
    assert len(poisoned) == 2
    assert_close(y, ref, dtype, err_msg=isa)
    np.testing.assert_array_equal(idx, ref_idx, err_msg=isa)
    assert_close(MAX[nd](x, k, s, p, d, ceil), ref, dtype, err_msg=isa)

    go = _input(y.shape, dtype, 2, specials=False)
    ref_gx = max_pool_nd_backward_ref(go, x, nd, k, s, p, d, ceil)
    assert_close(MAX_BACK[nd](go, x, k, s, p, d, ceil, indices=idx), ref_gx, dtype,
                 terms=8, err_msg=isa)
    assert_close(MAX_BACK[nd](go, x, k, s, p, d, ceil), ref_gx, dtype, terms=8, err_msg=isa)

    if d == 1:  # average pools have no dilation
        for include_pad, divisor in ((True, None), (False, None), (True, 5)):
            kw = {"count_include_pad": include_pad, "divisor_override": divisor}
            ya = AVG[nd](x, k, s, p, ceil, **kw)
            assert_close(ya, avg_pool_nd_ref(x, nd, k, s, p, ceil, **kw), dtype, terms=27,
                         err_msg=isa)
            go = _input(ya.shape, dtype, 3, specials=False)
            assert_close(AVG_BACK[nd](go, x, k, s, p, ceil, **kw),
                         avg_pool_nd_backward_ref(go, x, nd, k, s, p, ceil, **kw), dtype,
                         terms=27, err_msg=isa)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd, shape, out", [(1, (2, 3, 19), 5), (2, (1, 4, 11, 7), (4, 3)),
                                            (3, (1, 2, 5, 9, 6), (2, 4, 3))])
def test_adaptive_pools_and_unpool(nd, shape, out, dtype, isa, poisoned):
    x = _input(shape, dtype, 4)
    assert_close(ADAPTIVE_AVG[nd](x, out), adaptive_avg_pool_nd_ref(x, nd, out), dtype,
                 terms=9, err_msg=isa)
    y, idx = ADAPTIVE_MAX[nd](x, out, return_indices=True)
    ref, ref_idx = adaptive_max_pool_nd_ref(x, nd, out)
    assert_close(y, ref, dtype, err_msg=isa)
    np.testing.assert_array_equal(idx, ref_idx, err_msg=isa)
    unpool = {1: convcore.max_unpool1d, 2: convcore.max_unpool2d, 3: convcore.max_unpool3d}[nd]
    # a kernel as long as the input's extra cells, stride 1: the input's sizes by default
    k = tuple(n - o for n, o in zip(shape[-nd:], y.shape[-nd:], strict=True))
    z = unpool(y, idx, tuple(v + 1 for v in k), 1)
    assert z.shape == shape
    assert_close(z, max_unpool_nd_ref(y, idx, nd, shape[-nd:]), dtype, err_msg=isa)
    assert len(poisoned) >= 4


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_channels_last_pools(dtype, isa, poisoned):
    x = _input((2, 3, 13, 10), dtype, 5)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y, idx = convcore.max_pool2d(nhwc, 3, 2, 1, return_indices=True, layout="NHWC")
    ref, ref_idx = max_pool_nd_ref(x, 2, 3, 2, 1)
    assert_close(y.transpose(0, 3, 1, 2), ref, dtype, err_msg=isa)
    np.testing.assert_array_equal(idx.transpose(0, 3, 1, 2), ref_idx, err_msg=isa)
    ya = convcore.avg_pool2d(nhwc, 3, 2, 1, count_include_pad=False, layout="NHWC")
    assert_close(ya.transpose(0, 3, 1, 2),
                 avg_pool_nd_ref(x, 2, 3, 2, 1, count_include_pad=False), dtype, terms=9,
                 err_msg=isa)
    assert len(poisoned) == 3
