"""The convolution as a matrix: the same linear operator as conv2d, stored sparse (CSR)
or dense, so its size and speed can be counted and measured against the kernel's."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse

from convcore import _matrix
from convcore._checks import (
    _MAX_BYTES,
    _TEXT,
    array_bytes,
    as_int,
    as_real_array,
    available_memory,
    check_budget,
    compute_dtype,
    copy_bytes,
    did_you_mean,
    format_bytes,
)
from convcore._geometry import contiguous as _contiguous
from convcore._geometry import prepare_conv as _prepare
from convcore._threads import get_num_threads

# Share of the available memory a dense matrix may take when no limit is given.
DENSE_MEMORY_FRACTION = 0.5


def _dense_limit(max_bytes) -> int:
    if max_bytes is not None:
        limit = as_int("max_bytes", max_bytes)
        if limit < 0:
            raise ValueError(f"max_bytes must be >= 0, got {limit}")
        return limit
    avail = available_memory()
    return int(DENSE_MEMORY_FRACTION * avail) if avail is not None else 2**34


def conv_matrix(input_shape, weight, stride=1, padding=0, dilation=1, groups=1, *,
                format="csr", max_bytes=None):
    """The matrix M of :func:`convcore.conv2d` (no bias) for images of ``input_shape``.

    ``conv_matrix(x.shape, w, ...) @ x.ravel() == conv2d(x[None], w, ...).ravel()`` for
    an image ``x`` of shape (C, H, W): row ``(k * Hout + i) * Wout + j`` holds the weights
    output pixel (k, i, j) multiplies, at the columns of the input pixels they multiply.

    Parameters
    ----------
    input_shape : (int, int, int)
        (C, H, W) of one image.
    weight : array_like, shape (K, C // groups, R, S)
    stride, padding, dilation, groups
        As :func:`convcore.conv2d`.
    format : {'csr', 'dense'}
        A ``scipy.sparse.csr_array`` storing only the (output, input) pairs the kernel
        touches inside the image (padding stores nothing), or a dense ndarray.
    max_bytes : int, optional
        Refuse a dense matrix larger than this; default half of the available memory.

    Returns
    -------
    scipy.sparse.csr_array or numpy.ndarray, shape (K*Hout*Wout, C*H*W)
        float32 for float32 weights, else float64.

    Raises
    ------
    MemoryError
        For ``format='dense'`` above the limit, or CSR arrays that would not fit in the
        available memory, before allocating; the message gives the size needed.
    TypeError, ValueError
        As :func:`convcore.conv2d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> m = convcore.conv_matrix((1, 3, 3), np.array([[[[1.0], [-1.0]]]]))
    >>> m.shape, m.nnz                          # 2x3 outputs, 2 entries each
    ((6, 9), 12)
    >>> m.toarray()[0]
    array([ 1.,  0.,  0., -1.,  0.,  0.,  0.,  0.,  0.])
    """
    try:
        dims = () if isinstance(input_shape, _TEXT) else tuple(input_shape)
    except TypeError:
        dims = ()
    if len(dims) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    c, h, w = (as_int("input_shape", v) for v in dims)
    if min(c, h, w) < 1:
        raise ValueError(f"input_shape must be positive, got {input_shape!r}")
    if c * h * w * 8 > _MAX_BYTES:
        raise ValueError(f"input_shape {input_shape!r} has {c * h * w:,} pixels; an image "
                         "that large cannot exist (more than 2**63 - 1 bytes)")
    if format not in ("csr", "dense"):
        raise ValueError(f"format must be 'csr' or 'dense', got {format!r}"
                         + did_you_mean(format, ("csr", "dense")))
    weight = as_real_array("weight", weight)
    image = np.broadcast_to(np.zeros((), compute_dtype(weight)), (1, c, h, w))  # no memory
    g, _, w4, _, dtype, _ = _prepare(2, image, weight, None, stride, padding, dilation, groups)
    shape = (g.K * g.Hout * g.Wout, c * h * w)
    if format == "dense":  # refused by the size asked for, before the CSR bound
        nbytes, limit = math.prod(shape) * dtype.itemsize, _dense_limit(max_bytes)
        if nbytes > limit:
            raise MemoryError(
                f"dense conv matrix of shape {shape} needs {format_bytes(nbytes)} "
                f"({math.prod(shape):,} {dtype}); limit is {format_bytes(limit)}"
            )
    rows = shape[0]
    check_budget(
        "conv_matrix",
        ("the CSR row pointers", array_bytes("the CSR row pointers", (rows + 1,), 8),
         (rows + 1,)),
        ("the CSR entries (an upper bound)", csr_bytes_bound(g, dtype)),
        ("the dense matrix", math.prod(shape) * dtype.itemsize if format == "dense" else 0),
        ("a contiguous copy of weight", copy_bytes(w4, dtype)))
    wc = _contiguous("weight", w4, dtype)
    indptr = np.empty(rows + 1, dtype=np.int64)
    nnz = _matrix.conv_matrix_indptr(wc, g, indptr)
    data = np.empty(max(nnz, 1), dtype=dtype)
    indices = np.empty(max(nnz, 1), dtype=np.int64)
    _matrix.conv_matrix_fill(wc, g, indptr, indices, data, get_num_threads())
    m = scipy.sparse.csr_array((data[:nnz], indices[:nnz], indptr), shape=shape)
    return m.toarray() if format == "dense" else m


def csr_bytes_bound(g, dtype: np.dtype) -> int:
    """An upper bound on the bytes of the CSR entries (values and int64 column indices)
    of a validated geometry, refusing sizes no array can have.

    Each tap r reads a given input row for at most one output row, and an input row is
    read by at most min(R, Hout) (output row, tap) pairs: a bound on the entries that
    needs no loop over the taps (exact when no window reaches the padding).
    """
    rows_read = min(g.R * g.Hout, g.H * min(g.R, g.Hout))
    cols_read = min(g.S * g.Wout, g.W * min(g.S, g.Wout))
    entries = g.K * (g.C // g.groups) * rows_read * cols_read
    return array_bytes("the CSR entries (an upper bound)", (entries,), dtype.itemsize + 8)
