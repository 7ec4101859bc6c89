"""Public convolution functions: validate, normalise, pick the algorithm, allocate, call.

Convolution here is cross-correlation, as in PyTorch and every deep-learning library:
``out[k, i, j] = bias[k] + sum_{c, r, s} x[c, i*sh + r*dh - pt, j*sw + s*dw - pl] * w[k, c, r, s]``
with no kernel flip.  A true (flipped) convolution is ``conv2d(x, w[..., ::-1, ::-1])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convcore import _conv, _im2col, _layout
from convcore._blas import aligned_empty, single_threaded_blas
from convcore._checks import (
    array_bytes,
    as_int,
    as_real_array,
    check_budget,
    compute_dtype,
    copy_bytes,
    int_tuple,
    padding_pairs,
    same_padding,
)
from convcore._shapes import output_length
from convcore._threads import get_num_threads

ALGORITHMS = ("auto", "direct", "im2col", "sparse")
_INT32_MAX = 2**31 - 1
_NO_BIAS = {np.dtype(t): np.empty(0, t) for t in (np.float32, np.float64)}


@dataclass(frozen=True)
class _Geometry:
    """A validated 2-D convolution (1-D is H = R = 1)."""

    N: int
    C: int
    H: int
    W: int
    K: int
    R: int
    S: int
    groups: int
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[tuple[int, int], tuple[int, int]]
    Hout: int
    Wout: int

    def bridge(self) -> tuple:
        """The tuple the Cython bridge unpacks into the C geometry struct."""
        return (self.groups, *self.stride, *self.dilation, self.pad[0][0], self.pad[1][0],
                self.Hout, self.Wout)


def _resolve_padding(padding, sizes, kernels, strides, dilations):
    """Padding as ((top, bottom), (left, right)) from any accepted form."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in sizes)
        if padding == "same":
            return tuple(same_padding(n, k, s, d)
                         for n, k, s, d in zip(sizes, kernels, strides, dilations, strict=True))
        raise ValueError(f"padding must be an int, a tuple, 'valid' or 'same'; got {padding!r}")
    return padding_pairs(padding, len(sizes))


def _output_sizes(sizes, kernels, strides, pads, dilations, names):
    outs = []
    for n, k, s, p, d, name in zip(sizes, kernels, strides, pads, dilations, names,
                                   strict=True):
        out = output_length(n, k, s, p, d, False)
        if out < 1:
            raise ValueError(
                f"kernel {name} {k} (dilation {d}: spans {d * (k - 1) + 1}) is larger than "
                f"the input {name} {n} padded by {p[0]} + {p[1]}; output {name} would be {out}"
            )
        outs.append(out)
    return outs


# Validated calls by their shapes, dtypes and int/str arguments: a repeated small call
# skips the validation it already passed (nothing in it depends on the data).
_PREPARED: dict = {}
_PREPARED_MAX = 256


def _prepare_key(nd, x, weight, bias, stride, padding, dilation, groups):
    """The cache key of a call, or None when an argument is not of a cacheable type
    (exact ndarrays; ints and strings only, so that True never stands for 1)."""
    if not (type(x) is np.ndarray and type(weight) is np.ndarray):
        return None
    if bias is not None and type(bias) is not np.ndarray:
        return None
    for v in (stride, dilation, groups):
        if type(v) is not int:
            return None
    if type(padding) is not int and type(padding) is not str:
        return None
    return (nd, x.shape, x.dtype, weight.shape, weight.dtype,
            None if bias is None else (bias.shape, bias.dtype),
            stride, padding, dilation, groups)


def _prepare(nd, x, weight, bias, stride, padding, dilation, groups):
    """Validate a conv{nd}d call; return (geometry, x4, w4, bias, dtype, batched)."""
    key = _prepare_key(nd, x, weight, bias, stride, padding, dilation, groups)
    hit = _PREPARED.get(key) if key is not None else None
    if hit is not None:
        geom, dtype, batched = hit
        if not batched:
            x = x[None]
        if nd == 1:
            x, weight = x[:, :, None, :], weight[:, :, None, :]
        return geom, x, weight, bias, dtype, batched
    out = _validate(nd, x, weight, bias, stride, padding, dilation, groups)
    if key is not None:
        if len(_PREPARED) >= _PREPARED_MAX:
            _PREPARED.clear()
        _PREPARED[key] = (out[0], out[4], out[5])
    return out


def _validate(nd, x, weight, bias, stride, padding, dilation, groups):
    x = as_real_array("x", x)
    weight = as_real_array("weight", weight)
    letters = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"x must have shape {letters} or one image without the batch axis; got {x.ndim} "
            f"dimensions, shape {x.shape}"
        )
    if weight.ndim != nd + 2:
        wl = "(K, C // groups, S)" if nd == 1 else "(K, C // groups, R, S)"
        raise ValueError(f"weight must have shape {wl}; got shape {weight.shape}")
    batched = x.ndim == nd + 2
    if not batched:
        x = x[None]
    groups = as_int("groups", groups)
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    N, C = x.shape[:2]
    K, Cg = weight.shape[:2]
    ksizes = weight.shape[2:]
    if C == 0:
        raise ValueError(f"x has 0 channels (shape {x.shape}); it must have at least one")
    if C % groups:
        raise ValueError(f"input channels {C} are not divisible by groups={groups}")
    if K % groups:
        raise ValueError(f"weight has {K} output channels, not divisible by groups={groups}")
    if Cg * groups != C:
        raise ValueError(
            f"weight has {Cg} input channels per group but input has {C} channels "
            f"(groups={groups}: expected {C // groups} per group)"
        )
    if any(k < 1 for k in ksizes):
        raise ValueError(f"kernel sizes must be >= 1, got weight shape {weight.shape}")
    if any(n < 1 for n in x.shape[2:]):
        raise ValueError(f"spatial sizes of x must be >= 1, got shape {x.shape}")
    strides = int_tuple("stride", stride, nd)
    dilations = int_tuple("dilation", dilation, nd)
    sizes = x.shape[2:]
    pads = _resolve_padding(padding, sizes, ksizes, strides, dilations)
    names = ("length",) if nd == 1 else ("height", "width")
    outs = _output_sizes(sizes, ksizes, strides, pads, dilations, names)
    dtype = compute_dtype(x, weight)
    if bias is not None:
        bias = as_real_array("bias", bias)
        if bias.shape != (K,):
            raise ValueError(f"bias must have shape ({K},) (one per output channel); "
                             f"got shape {bias.shape}")
    if nd == 1:  # a 1-D convolution is a 2-D one of height 1
        x = x[:, :, None, :]
        weight = weight[:, :, None, :]
        strides, dilations, pads, outs = (1, *strides), (1, *dilations), ((0, 0), *pads), [1, *outs]
    geom = _Geometry(N, C, x.shape[2], x.shape[3], K, weight.shape[2], weight.shape[3], groups,
                     tuple(strides), tuple(dilations), tuple(pads), outs[0], outs[1])
    return geom, x, weight, bias, dtype, batched


def choose_algorithm(g: _Geometry) -> str:
    """The algorithm ``algorithm="auto"`` picks for a validated geometry.

    Direct when the reduction per output is short (few input channels per group:
    image filtering, RGB stems, depthwise), where im2col would copy more than it
    multiplies; im2col + GEMM for 1x1 layers at stride 1 without padding (the column
    matrix is the input itself: GEMMs on its pixel tiles, no copy), for strides of 3 or
    more (the direct kernel vectorises along output columns and would gather) and for
    narrow outputs with many channels,
    where a GEMM tile over all pixels uses the vector lanes better; direct otherwise.
    """
    reduction = (g.C // g.groups) * g.R * g.S
    if reduction <= 32 or not _gemm_fits(g):
        return "direct"
    if _pointwise(g):
        return "im2col"
    if g.stride[1] >= 3:
        return "im2col"
    if g.Wout < 16 and g.K // g.groups >= 8:
        return "im2col"
    return "direct"


def _pointwise(g: _Geometry) -> bool:
    """A 1x1 layer at stride 1 without padding or groups: its column matrix is the
    input itself, so the im2col kernel multiplies the input's pixel tiles in place (no
    copy), one single-threaded GEMM per tile on convcore's threads."""
    return (g.R, g.S, g.groups) == (1, 1, 1) and g.stride == (1, 1) and (
        g.pad == ((0, 0), (0, 0)))


def _gemm_fits(g: _Geometry) -> bool:
    """BLAS takes 32-bit sizes: every GEMM dimension and leading dimension must fit."""
    return max(g.Hout * g.Wout, (g.C // g.groups) * g.R * g.S, g.K) <= _INT32_MAX


def _contiguous(name: str, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` as an aligned C-contiguous array of ``dtype`` (what the kernels assume: an
    unaligned float* is undefined behaviour in C): itself when it already is, else a copy
    (counted in the call's memory budget by the caller: a broadcast view can be huge)."""
    flags = a.flags
    if a.dtype == dtype and flags.c_contiguous and flags.aligned:
        return a
    return np.array(a, dtype=dtype, order="C")  # a copy, aligned (ascontiguousarray of
    # an unaligned C-contiguous array would return it as it is)


def _check_out(out, shape, dtype, inputs):
    """``out`` must be an ndarray of the result's shape and dtype, C-contiguous,
    writeable and sharing no memory with the inputs (a kernel reads them while writing)."""
    if type(out) is not np.ndarray:
        raise TypeError(f"out must be a numpy.ndarray (not a subclass), got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; the result has shape {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}; the result has dtype {dtype}")
    if not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous; got strides {out.strides}")
    if not out.flags.aligned:
        raise ValueError(f"out must be aligned to its {out.dtype} items; got an array at "
                         f"address {out.ctypes.data:#x}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable; got a read-only array")
    for name, a in inputs:
        if a is not None and np.may_share_memory(out, a):
            raise ValueError(f"out must not share memory with {name}")


def _run_conv(nd, x, weight, bias, stride, padding, dilation, groups, algorithm, out):
    g, x4, w4, bias, dtype, batched = _prepare(nd, x, weight, bias, stride, padding,
                                                dilation, groups)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if algorithm == "auto":
        algorithm = choose_algorithm(g)
    elif algorithm == "im2col" and not _gemm_fits(g):
        raise ValueError("im2col: a GEMM dimension exceeds 2**31 - 1; use algorithm='direct'")
    spatial = (g.Wout,) if nd == 1 else (g.Hout, g.Wout)
    shape = (g.N, g.K, *spatial) if batched else (g.K, *spatial)
    if out is not None:
        _check_out(out, shape, dtype, (("x", x4), ("weight", w4), ("bias", bias)))
        y = out
        out_bytes = 0
    else:
        out_bytes = array_bytes("the convolution output", shape, dtype.itemsize)
    n_threads = get_num_threads()
    if (out_bytes < _SMALL_CALL_BYTES and x4.nbytes < _SMALL_CALL_BYTES
            and w4.nbytes < _SMALL_CALL_BYTES and algorithm != "sparse"):
        pass  # a small call: everything it may allocate is far below the budget's threshold
    elif math.prod(shape):
        check_budget(
            f"conv{nd}d", ("the output", out_bytes, shape),
            ("a contiguous copy of x", copy_bytes(x4, dtype)),
            ("a contiguous copy of weight", copy_bytes(w4, dtype)),
            ("the " + algorithm + " workspace", _workspace_bytes(g, algorithm, dtype, n_threads)))
    if out is None:
        y = np.empty(shape, dtype=dtype)
    if not y.size:  # no image or no output channel: nothing to compute or copy
        return y
    y4 = y.reshape(g.N, g.K, g.Hout, g.Wout)
    xc = _contiguous("x", x4, dtype)
    wc = _contiguous("weight", w4, dtype)
    bc = _NO_BIAS[dtype] if bias is None else _contiguous("bias", bias, dtype)
    if algorithm == "direct":
        _conv.conv2d_direct(xc, wc, bc, y4, g.bridge(), n_threads)
    elif algorithm == "sparse":
        _run_sparse(g, xc, wc, bc, y4)
    elif y.size:
        _run_gemm(g, xc, wc, bc, y4, n_threads)
    return y


# Below this, a call's output and input are so small that nothing it allocates can reach
# the memory budget's threshold (workspaces are bounded tiles, copies the inputs' size).
_SMALL_CALL_BYTES = 1 << 24


def _workspace_bytes(g: _Geometry, algorithm: str, dtype: np.dtype, n_threads: int) -> int:
    """Bytes an algorithm allocates besides the output and the input copies."""
    if algorithm == "im2col":
        items, per_thread = _conv.gemm_plan((g.N, g.C, g.H, g.W), (g.K, 0, g.R, g.S),
                                            g.bridge())
        return (min(n_threads, items) * per_thread + 16) * dtype.itemsize
    if algorithm == "direct":  # the repacked weights, about the weights' size
        return g.K * (g.C // g.groups) * g.R * g.S * dtype.itemsize
    if algorithm == "sparse":  # the CSR matrix (an upper bound) and the product
        from convcore.matrix import csr_bytes_bound

        return csr_bytes_bound(g, dtype) + 2 * g.N * g.K * g.Hout * g.Wout * dtype.itemsize
    return 0


def _run_sparse(g: _Geometry, xc, wc, bc, y4) -> None:
    """y = M x for the whole batch at once: the CSR matrix of the convolution times the
    (C*H*W, N) matrix of images (for comparisons: it stores every weight copy)."""
    from convcore.matrix import conv_matrix  # the matrix module builds on this one

    m = conv_matrix((g.C, g.H, g.W), wc, g.stride, g.pad, g.dilation, g.groups)
    prod = m @ xc.reshape(g.N, g.C * g.H * g.W).T  # (K*Hout*Wout, N)
    y4[...] = prod.T.reshape(y4.shape)
    if bc.size:
        with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN, silently
            y4 += bc.reshape(1, -1, 1, 1)


def _run_gemm(g: _Geometry, xc, wc, bc, y4, n_threads: int) -> None:
    """im2col + GEMM with a workspace of one column tile per working thread.

    The work items (image, group, pixel tile, block of output channels) are fixed by the
    geometry; convcore's threads share them out and each runs single-threaded GEMMs, so
    the result is the same for any thread count.
    """
    geom = g.bridge()
    items, per_thread = _conv.gemm_plan((g.N, g.C, g.H, g.W), (g.K, 0, g.R, g.S), geom)
    workers = max(1, min(n_threads, items))
    workspace = aligned_empty(max(workers * per_thread, 1), xc.dtype)
    with single_threaded_blas():
        _conv.conv2d_gemm(xc, wc, bc, y4, workspace, geom, workers)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           algorithm="auto", out=None, layout="NCHW"):
    """2-D convolution (cross-correlation, as in PyTorch) of a batch of images.

    ``y[n, k, i, j] = bias[k] + sum_{c, r, s} xp[n, g*Cg + c, i*sh + r*dh, j*sw + s*dw]
    * weight[k, c, r, s]`` where ``xp`` is ``x`` zero-padded, ``g = k // (K // groups)``
    and ``Cg = C // groups``.  The kernel is not flipped; for a true convolution pass
    ``weight[..., ::-1, ::-1]``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input; one image without the batch axis gives a result without it.
    weight : array_like, shape (K, C // groups, R, S)
        Filters.
    bias : array_like, shape (K,), optional
        Added to each output channel (cast to the result dtype).
    stride, dilation : int or (int, int)
        Step between windows and between kernel taps, each >= 1.
    padding : int, (int, int), ((int, int), (int, int)), 'valid' or 'same'
        Zero padding: the same on all sides, per dimension (ph, pw), or explicit
        ((top, bottom), (left, right)).  'valid' is no padding; 'same' follows TF/Keras:
        output size ceil(in / stride), total padding
        max((out - 1) * stride + dilation * (k - 1) + 1 - in, 0), the odd pixel on the
        bottom/right (for stride 1 exactly PyTorch's 'same').  Padding is a real zero
        input: 0 * inf = nan as IEEE arithmetic says.
    groups : int
        Split channels into groups convolved independently (C and K divisible by it);
        ``groups == C`` is a depthwise convolution.
    algorithm : {'auto', 'direct', 'im2col', 'sparse'}
        'direct' (no workspace), 'im2col' (column tiles times BLAS gemm, bounded
        workspace), 'sparse' (the CSR matrix of :func:`convcore.conv_matrix` times the
        batch, for comparisons) or 'auto' (see
        :func:`convcore.functional.choose_algorithm`).  All give the same result to
        rounding.
    out : numpy.ndarray, optional
        C-contiguous array of the result's shape and dtype to write into.
    layout : {'NCHW', 'NHWC'}
        'NHWC': ``x`` is channels-last, (N, H, W, C) or (H, W, C), and so is the result,
        (N, Hout, Wout, K) or (Hout, Wout, K); the weights keep their shape.  A 1x1
        layer (stride 1, no padding, one group) is one GEMM on the channels-last pixels;
        other layers run the NCHW kernels between two transposed copies.

    Returns
    -------
    numpy.ndarray, shape (N, K, Hout, Wout) or (K, Hout, Wout)
        float32 when ``np.result_type(x, weight)`` is float32, float64 when it is
        float64 or any other real type (integers, float16).  ``out`` itself when given.

    Raises
    ------
    TypeError
        Bool, complex, object or string data; a non-int stride/dilation/padding/groups;
        ``out`` of the wrong dtype or not an ndarray.
    ValueError
        Shapes that do not match (channels, groups, bias), parameters out of range, a
        kernel that does not fit in the padded input, a bad ``out`` or ``algorithm``.
    MemoryError
        If the output would not fit in the available memory (checked before allocating;
        the message gives the size needed).

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.array([[[[1.0, -1.0]]]])            # x[i, j] - x[i, j+1]
    >>> convcore.conv2d(x, w)[0, 0]
    array([[-1., -1., -1.],
           [-1., -1., -1.],
           [-1., -1., -1.],
           [-1., -1., -1.]])
    >>> convcore.conv2d(x, np.ones((2, 1, 3, 3)), padding="same").shape
    (1, 2, 4, 4)
    """
    if layout != "NCHW" and _layout.check_layout(layout):
        return _layout.conv2d_nhwc(conv2d, x, weight, bias, stride, padding, dilation, groups,
                                   algorithm, out)
    return _run_conv(2, x, weight, bias, stride, padding, dilation, groups, algorithm, out)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           algorithm="auto", out=None):
    """1-D convolution (cross-correlation, as in PyTorch) of a batch of signals.

    Same rules as :func:`conv2d` on one spatial dimension.

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
    weight : array_like, shape (K, C // groups, S)
    bias : array_like, shape (K,), optional
    stride, dilation : int or (int,)
    padding : int, (int,), (left, right), 'valid' or 'same'
        A 1-tuple pads both ends; a pair pads (left, right) asymmetrically.
    groups : int
    algorithm : {'auto', 'direct', 'im2col', 'sparse'}
    out : numpy.ndarray, optional

    Returns
    -------
    numpy.ndarray, shape (N, K, Lout) or (K, Lout)

    Raises
    ------
    TypeError, ValueError, MemoryError
        As :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.conv1d([[0.0, 1.0, 4.0, 9.0]], [[[1.0, -1.0]]])   # high-pass filter
    array([[-1., -3., -5.]])
    """
    return _run_conv(1, x, weight, bias, stride, padding, dilation, groups, algorithm, out)


def _unfold_geometry(x_shape, kernel_size, stride, padding, dilation):
    """(R, S, sh, sw, dh, dw, pt, pl, Hout, Wout) and the padding pairs of an unfold."""
    R, S = int_tuple("kernel_size", kernel_size, 2)
    strides = int_tuple("stride", stride, 2)
    dilations = int_tuple("dilation", dilation, 2)
    pads = _resolve_padding(padding, x_shape, (R, S), strides, dilations)
    Hout, Wout = _output_sizes(x_shape, (R, S), strides, pads, dilations, ("height", "width"))
    return (R, S, *strides, *dilations, pads[0][0], pads[1][0], Hout, Wout)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Extract sliding windows into columns, as ``torch.nn.functional.unfold``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), ((top, bottom), (left, right)), 'valid' or 'same'

    Returns
    -------
    numpy.ndarray, shape (N, C*R*S, L) or (C*R*S, L)
        Row ``(c * R + r) * S + s``, column ``i * Wout + j`` holds
        ``x_padded[c, i*sh + r*dh, j*sw + s*dw]``; ``L = Hout * Wout``.  float32 input
        stays float32; other real dtypes become float64.

    Raises
    ------
    TypeError, ValueError
        Bad dtypes, shapes or parameters (as :func:`conv2d`).

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.im2col(np.arange(9.0).reshape(1, 3, 3), 2)
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    x = as_real_array("x", x)
    if x.ndim not in (3, 4):
        raise ValueError(f"x must have shape (N, C, H, W) or (C, H, W); got shape {x.shape}")
    batched = x.ndim == 4
    x4 = x if batched else x[None]
    if any(n < 1 for n in x4.shape[1:]):
        raise ValueError(f"x must have at least one channel and one pixel; got shape {x.shape}")
    kg = _unfold_geometry(x4.shape[2:], kernel_size, stride, padding, dilation)
    N, C = x4.shape[:2]
    dtype = compute_dtype(x)
    shape = (N, C * kg[0] * kg[1], kg[8] * kg[9])
    check_budget("im2col", ("the column matrix", array_bytes("the column matrix", shape,
                                                            dtype.itemsize), shape),
                 ("a contiguous copy of x", copy_bytes(x4, dtype)))
    cols = np.empty(shape, dtype=dtype)
    _im2col.im2col(_contiguous("x", x4, dtype), cols, kg, get_num_threads())
    return cols if batched else cols[0]


def col2im(cols, output_size, kernel_size, stride=1, padding=0, dilation=1):
    """Sum columns back into images, as ``torch.nn.functional.fold`` (adjoint of im2col).

    Parameters
    ----------
    cols : array_like, shape (N, C*R*S, L) or (C*R*S, L)
    output_size : int or (int, int)
        The image size (H, W).
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), ((top, bottom), (left, right)), 'valid' or 'same'

    Returns
    -------
    numpy.ndarray, shape (N, C, H, W) or (C, H, W)
        Each column entry added to the pixel it was taken from; entries that came from
        padding are dropped.

    Raises
    ------
    TypeError, ValueError
        Bad dtypes or parameters, or ``cols`` whose shape does not match the windows of
        ``output_size`` (the message gives the expected shape).

    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.col2im(np.ones((4, 4)), (3, 3), 2)   # how many windows cover each pixel
    array([[[1., 2., 1.],
            [2., 4., 2.],
            [1., 2., 1.]]])
    """
    cols = as_real_array("cols", cols)
    if cols.ndim not in (2, 3):
        raise ValueError(f"cols must have shape (N, C*R*S, L) or (C*R*S, L); got {cols.shape}")
    batched = cols.ndim == 3
    c3 = cols if batched else cols[None]
    H, W = int_tuple("output_size", output_size, 2)
    kg = _unfold_geometry((H, W), kernel_size, stride, padding, dilation)
    RS, L = kg[0] * kg[1], kg[8] * kg[9]
    if c3.shape[1] % RS or c3.shape[1] == 0 or c3.shape[2] != L:
        raise ValueError(
            f"cols has shape {cols.shape}; a {kg[0]}x{kg[1]} kernel over {H}x{W} gives "
            f"{L} windows, so cols must be (N, C*{RS}, {L}) with C >= 1"
        )
    N, C = c3.shape[0], c3.shape[1] // RS
    dtype = compute_dtype(cols)
    check_budget("col2im", ("the folded images", array_bytes("the folded images",
                                                            (N, C, H, W), dtype.itemsize),
                            (N, C, H, W)),
                 ("a contiguous copy of cols", copy_bytes(c3, dtype)))
    x = np.empty((N, C, H, W), dtype=dtype)
    _im2col.col2im(_contiguous("cols", c3, dtype), x, kg, get_num_threads())
    return x if batched else x[0]


def relu(x):
    """Rectified linear unit, ``max(x, 0)`` elementwise, as a new array.

    NaN stays NaN (as in PyTorch); the input is not modified.

    Examples
    --------
    >>> import convcore
    >>> convcore.relu([-1.0, 0.5, float("nan")])
    array([0. , 0.5, nan])
    """
    x = as_real_array("x", x)
    dtype = np.dtype(x.dtype.type) if x.dtype.kind == "f" else np.dtype(np.float64)
    return np.asarray(np.maximum(x, 0, dtype=dtype))
