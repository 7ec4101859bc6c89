"""Channels-last (NHWC) input for conv2d and the 2-D pools.

Validation runs on the NCHW view of the same memory (a transpose, no copy), so the
rules and messages are the NCHW ones.  Pooling has kernels of its own that sweep the
contiguous channels of each pixel.  The convolution (prepared once in
convcore.functional, on the NCHW view) runs a 1x1 layer as a GEMM on the (pixels, C)
matrix, which is what channels-last memory already is (fixed tiles of pixels,
single-threaded gemms on convcore's threads), and any other layer on the NCHW kernels
followed by one transposed copy.
"""

from __future__ import annotations

import math

import numpy as np

from convcore import _checks, _pool
from convcore._checks import (
    as_bool,
    as_real_array,
    did_you_mean,
)
from convcore._geometry import contiguous
from convcore._matmul import matmul
from convcore._threads import get_num_threads

LAYOUTS = ("NCHW", "NHWC")


def check_layout(layout) -> bool:
    """True for 'NHWC', False for 'NCHW'; ValueError otherwise."""
    if layout == "NCHW":
        return False
    if layout == "NHWC":
        return True
    raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}"
                     + did_you_mean(layout, LAYOUTS))


def nchw_view(name: str, x) -> np.ndarray:
    """(N, H, W, C) -> (N, C, H, W) and (H, W, C) -> (C, H, W), as a view."""
    x = as_real_array(name, x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must have shape (N, H, W, C) or (H, W, C) with "
                         f"layout='NHWC'; got shape {x.shape}")
    return np.moveaxis(x, -1, -3)


def _nhwc(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, -3, -1)


def _into(out, result: np.ndarray) -> np.ndarray:
    """``result`` (a channels-last view) as a new C-contiguous array, or copied into
    ``out``."""
    if out is None:
        return np.ascontiguousarray(result)
    out[...] = result
    return out


def into_nhwc(out, y: np.ndarray) -> np.ndarray:
    """The NCHW result ``y`` of a channels-last call, written channels-last into ``out``
    (or a new array)."""
    return _into(out, _nhwc(y))


def pointwise_nhwc(g, x, w4, bias, dtype, out, shape) -> np.ndarray:
    """A 1x1 stride-1 layer on channels-last pixels: (pixels, C) @ (C, K), one GEMM over
    fixed tiles of pixels on convcore's threads (the call is validated and budgeted)."""
    pixels = contiguous("x", np.asarray(x), dtype).reshape(1, -1, g.C)
    wt = contiguous("weight", w4, dtype).reshape(1, g.K, g.C).transpose(0, 2, 1)
    if out is None:
        out = np.empty(shape, dtype)
    y = out.reshape(1, -1, g.K)
    matmul(pixels, wt, y, bias=None if bias is None else bias.astype(dtype, copy=False),
           n_threads=get_num_threads())
    return out


def _pool_arrays(call, x, dtype, return_indices=False):
    """The contiguous (N, H, W, C) input and the (N, Hout, Wout, C) result's shapes,
    after checking the call's memory budget (result, indices, copy of x)."""
    x = np.asarray(x)
    C, (H, W), (Ho, Wo) = x.shape[-1], x.shape[-3:-1], call.geom.out_dhw[1:]
    n = math.prod(x.shape[:-3])
    shape = (*x.shape[:-3], Ho, Wo, C)
    call.reserve(x, (shape, dtype), (shape, np.int64) if return_indices else None)
    if not (x.dtype == dtype and x.flags.c_contiguous and x.flags.aligned):
        x = np.array(x, dtype=dtype, order="C")  # aligned too, unlike ascontiguousarray
    return x.reshape(n, H, W, C), shape, (n, Ho, Wo, C)


def max_pool2d_nhwc(call, x, return_indices: bool):
    """The NHWC max pool of a validated call (``call`` built on the NCHW view)."""
    x4, shape, shape4 = _pool_arrays(call, x, call.dtype, return_indices)
    y = _checks.result_array(shape, call.dtype)
    idx = _checks.result_array(shape, np.int64) if return_indices else None
    if y.size:
        _pool.max_pool_nhwc(x4, y.reshape(shape4),
                            None if idx is None else idx.reshape(shape4), call.geom,
                            get_num_threads())
    return (y, idx) if return_indices else y


def avg_pool2d_nhwc(call, x, count_include_pad, divisor: int):
    """The NHWC average pool of a validated call."""
    x4, shape, shape4 = _pool_arrays(call, x, call.dtype)
    y = _checks.result_array(shape, call.dtype)
    if y.size:
        _pool.avg_pool_nhwc(x4, y.reshape(shape4), as_bool("count_include_pad",
                                                           count_include_pad),
                            divisor, call.geom, get_num_threads())
    return y
