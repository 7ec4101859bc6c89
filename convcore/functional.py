"""Public convolution functions: validate, normalise, pick the algorithm, allocate, call.

Convolution here is cross-correlation, as in PyTorch and every deep-learning library:
``out[k, i, j] = bias[k] + sum_{c, r, s} x[c, i*sh + r*dh - pt, j*sw + s*dw - pl] * w[k, c, r, s]``
with no kernel flip.  A true (flipped) convolution is ``conv2d(x, w[..., ::-1, ::-1])``.
"""

from __future__ import annotations

import math

import numpy as np

from convcore import _conv, _im2col, _isa, _layout, _packed
from convcore._auto import choose_algorithm
from convcore._blas import aligned_empty
from convcore._checks import (
    array_bytes,
    as_real_array,
    check_budget,
    compute_dtype,
    copy_bytes,
    did_you_mean,
    int_tuple,
)
from convcore._geometry import (
    DIM_NAMES,
    ConvGeometry,
    check_out,
    contiguous,
    gemm_fits,
    output_sizes,
    pointwise,
    prepare_conv,
    prepare_key,
    resolve_padding,
)
from convcore._threads import get_num_threads

ALGORITHMS = ("auto", "direct", "im2col", "sparse", "winograd", "fft")
# The routes whose gathers read a border mode (the direct driver's rows and bands, the
# im2col gather, the Winograd tile gather); 'auto' chooses among them when padding_mode
# is not 'zeros'.
BORDER_ALGORITHMS = ("auto", "direct", "im2col", "winograd")
_NO_BIAS = {np.dtype(t): np.empty(0, t) for t in (np.float32, np.float64)}
# Results from this size on start on a cache line: NumPy's large arrays start 16 bytes
# into a page, and tiles whose rows straddle lines store each row in two (docs/
# algorithms.md, "Pointwise stretches on cache lines").
_ALIGNED_OUTPUT_BYTES = 1 << 16


def _new_output(shape, dtype) -> np.ndarray:
    """An uninitialised result array, 64-byte aligned when it is large."""
    n = math.prod(shape)
    if n * dtype.itemsize < _ALIGNED_OUTPUT_BYTES:
        return np.empty(shape, dtype=dtype)
    return aligned_empty(n, dtype).reshape(shape)

# Small direct calls already made, by their prepare_key, algorithm argument, thread count
# and SIMD level: the validated call as a _conv.DirectCall (geometry, plan and output
# shape in C), or False where the call is not one (another algorithm, a dtype
# conversion, ...).  A repeated call (a layer applied to one image after another, a
# filter over many small tiles) then skips validation, the algorithm choice and the
# memory budget, all of which depend only on the key; the arrays' layout is checked on
# each call.
_REPEATED: dict = {}
_REPEATED_MAX = 256


def _run_conv(nd, x, weight, bias, stride, padding, dilation, groups, algorithm, out,
              layout="NCHW", padding_mode="zeros"):
    key = None
    if out is None and layout == "NCHW" and (algorithm == "auto" or algorithm == "direct"):
        key = prepare_key(nd, x, weight, bias, stride, padding, dilation, groups,
                          padding_mode)
        if key is not None:
            key = (key, algorithm, get_num_threads(), _conv.simd_code())
            call = _REPEATED.get(key)
            if call is not None:
                y = call(x, weight, bias) if call else None
                if y is not None:
                    return y
                key = None  # planned already: these arrays do not fit it
    # Channels-last input is prepared as its NCHW view (a transpose, no copy): the same
    # rules and messages; the result is written channels-last at the end.
    nhwc = layout != "NCHW" and _layout.check_layout(layout)
    xin = _layout.nchw_view("x", x) if nhwc else x
    g, x4, w4, bias, dtype, batched = prepare_conv(nd, xin, weight, bias, stride, padding,
                                                dilation, groups, padding_mode)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}"
                         + did_you_mean(algorithm, ALGORITHMS))
    if g.padding_mode != "zeros" and algorithm not in BORDER_ALGORITHMS:
        raise ValueError(f"algorithm={algorithm!r} pads with zeros only; "
                         f"padding_mode={g.padding_mode!r} runs on one of "
                         f"{BORDER_ALGORITHMS}")
    if g.nd == 3 and algorithm not in ("auto", "direct", "im2col", "winograd"):
        raise ValueError(f"algorithm={algorithm!r} is not available for 3-D convolution; "
                         "use 'direct', 'im2col', 'winograd' or 'auto'")
    if algorithm == "im2col" and not gemm_fits(g):
        raise ValueError("im2col: a GEMM dimension exceeds 2**31 - 1; use algorithm='direct'")
    spatial = g.out[-nd:]
    shape = (g.N, g.K, *spatial) if batched else (g.K, *spatial)
    final = (*shape[:-3], *spatial, g.K) if nhwc else shape  # what the caller gets
    if out is not None:
        check_out(out, final, dtype, (("x", x4), ("weight", w4), ("bias", bias)))
    n_threads = get_num_threads()
    pointwise_nhwc = nhwc and pointwise(g) and algorithm in ("auto", "im2col")
    out_bytes = array_bytes("the convolution output", shape, dtype.itemsize)
    if algorithm == "auto" and not pointwise_nhwc:  # after every check: it asks for a plan
        algorithm = choose_algorithm(g, dtype)
    elif algorithm == "winograd":  # its rule, before its workspace is planned
        from convcore import winograd

        winograd.check_geometry(g, nd)
    into_out = out is not None and not nhwc  # the kernels write the caller's array
    parts = [("the output", 0 if into_out else out_bytes, shape),
             ("the channels-last result", out_bytes if nhwc and out is None else 0),
             ("a contiguous copy of x", copy_bytes(x4, dtype)),
             ("a contiguous copy of weight", copy_bytes(w4, dtype))]
    if pointwise_nhwc:
        parts[0] = ("the output", 0, shape)
    else:
        parts.append(("the " + algorithm + " workspace",
                      _workspace_bytes(g, algorithm, dtype, n_threads)))
    small = (out_bytes < _SMALL_CALL_BYTES and x4.nbytes < _SMALL_CALL_BYTES
             and w4.nbytes < _SMALL_CALL_BYTES)
    if small and algorithm != "sparse":
        pass  # a small call: everything it may allocate is far below the budget's threshold
    elif math.prod(shape):
        check_budget(f"conv{nd}d", *parts)
    if pointwise_nhwc:
        return _layout.pointwise_nhwc(g, x, w4, bias, dtype, out, final)
    y = out if into_out else _new_output(shape, dtype)
    if not y.size:  # no image or no output channel: nothing to compute or copy
        return _layout.into_nhwc(out, y) if nhwc else y
    # The kernels see 4-D arrays: the outer spatial dimensions of a 3-D call flattened.
    y4 = y.reshape(g.N, g.K, -1, g.Wout)
    xc = contiguous("x", x4, dtype).reshape(g.N, g.C, -1, g.W)
    wc = contiguous("weight", w4, dtype).reshape(g.K, g.C // g.groups, -1, g.S)
    bc = _NO_BIAS[dtype] if bias is None else contiguous("bias", bias, dtype)
    if key is not None:
        _remember(key, g, algorithm == "direct" and small, shape, dtype, x, weight, bias)
    if algorithm == "direct":
        packed = _packed.direct_weights(weight, wc, g, n_threads)
        _conv.conv_direct(xc, wc, bc, y4, g, n_threads, packed)
    elif algorithm == "sparse":
        _run_sparse(g, xc, wc, bc, y4)
    elif algorithm == "winograd":
        from convcore import winograd

        winograd.run_conv(nd, g, xc, wc, bc, y4, n_threads)
    elif algorithm == "fft":
        from convcore import fft

        fft.run_conv(nd, g, xc, wc, bc, y4, n_threads)
    elif y.size:
        _run_gemm(g, xc, wc, bc, y4, n_threads)
    return _layout.into_nhwc(out, y) if nhwc else y


def _remember(key, g: ConvGeometry, planned: bool, shape, dtype, x, weight, bias) -> None:
    """Keep a call for _run_conv's repeated-call path: its plan when it is `planned` (a
    small direct call, which skips the memory budget and so owes nothing to the memory
    free at the time) and its arrays are already of the result dtype, else False."""
    same = x.dtype == dtype and weight.dtype == dtype and (bias is None or bias.dtype == dtype)
    n_threads, level = key[2], key[3]
    if _conv.simd_code() != level:  # set_isa from another thread since the key was made
        return
    if len(_REPEATED) >= _REPEATED_MAX:
        _REPEATED.clear()
    _REPEATED[key] = _conv.DirectCall(g, dtype, shape, n_threads) if planned and same else False


# Below this, a call's output and input are so small that nothing it allocates can reach
# the memory budget's threshold (workspaces are bounded tiles, copies the inputs' size).
_SMALL_CALL_BYTES = 1 << 24


def _workspace_bytes(g: ConvGeometry, algorithm: str, dtype: np.dtype, n_threads: int) -> int:
    """Bytes an algorithm allocates besides the output and the input copies."""
    if algorithm == "im2col":
        items, per_thread = _conv.gemm_plan(g)  # column tiles and the packed weights
        return (min(n_threads, items) * per_thread + 16
                + _conv.gemm_packed_size(g)) * dtype.itemsize
    if algorithm == "direct":
        # the repacked weights (about the weights' size) and, per thread, the rows of a
        # band of output rows copied with their padding (tiles along output channels)
        # (pointwise layers: two packed panels, one for the whole tiles of a stretch and
        # one for its last, shorter tile: tiles of at most 32 pixels, a slice of input
        # channels of at most 16 KiB per panel)
        taps = math.prod(g.kernel)
        band_rows = 4 * math.prod(g.kernel[:-1])
        row = g.Wout * g.stride[-1] + g.dilation[-1] * g.S + 32
        panels = (2 * min((g.C // g.groups) * 32, 16384 // dtype.itemsize)
                  if math.prod(g.kernel) == 1 else 0)
        return (g.K * (g.C // g.groups) * taps
                + n_threads * max((g.C // g.groups) * band_rows * row, panels)) * dtype.itemsize
    if algorithm == "winograd":  # the transformed weights, a block per thread, and in
        # 3-D the input copied with its depth padding
        from convcore import winograd
        from convcore.analysis import _winograd_costs

        if winograd.stride2(g):
            return winograd.stride2_workspace(g, dtype.itemsize, n_threads)
        g2 = winograd.planes_geometry(g) if g.nd == 3 else g
        extra = _winograd_costs(g2, winograd.DEFAULT_TILE, dtype.itemsize, n_threads)[2]
        depth_padded = g.nd == 3 and sum(g.pad[0]) > 0
        padded = g.N * g.C * (g.in_sizes[0] + sum(g.pad[0])) * g.H * g.W if depth_padded else 0
        return extra + padded * dtype.itemsize
    if algorithm == "sparse":  # the CSR matrix (an upper bound) and the product
        from convcore.matrix import csr_bytes_bound

        return csr_bytes_bound(g, dtype) + 2 * g.N * g.K * g.Hout * g.Wout * dtype.itemsize
    return 0


def _run_sparse(g: ConvGeometry, xc, wc, bc, y4) -> None:
    """y = M x for the whole batch at once: the CSR matrix of the convolution times the
    (C*H*W, N) matrix of images (for comparisons: it stores every weight copy)."""
    from convcore.matrix import conv_matrix  # the matrix module builds on this one

    m = conv_matrix((g.C, g.H, g.W), wc, g.stride, g.pad, g.dilation, g.groups)
    prod = m @ xc.reshape(g.N, g.C * g.H * g.W).T  # (K*Hout*Wout, N)
    y4[...] = prod.T.reshape(y4.shape)
    if bc.size:
        with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN, silently
            y4 += bc.reshape(1, -1, 1, 1)


def _run_gemm(g: ConvGeometry, xc, wc, bc, y4, n_threads: int) -> None:
    """im2col + GEMM on the ISA's GEMM tile, with the weights packed for the tile and a
    workspace of one column tile per working thread.

    The work items (image, group, pixel tile, block of output channels) are fixed by the
    geometry; convcore's threads share them out and each sums its outputs in one fixed
    order, so the result is the same for any thread count.
    """
    with _isa.pinned():  # the weights are packed for the level's tile, then used with it
        items, per_thread = _conv.gemm_plan(g)
        workers = max(1, min(n_threads, items))
        workspace = aligned_empty(max(workers * per_thread, 1), xc.dtype)
        wpack = aligned_empty(max(_conv.gemm_packed_size(g), 1), xc.dtype)
        _conv.conv2d_gemm(xc, wc, bc, y4, workspace, wpack, g, workers)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           algorithm="auto", padding_mode="zeros", out=None, layout="NCHW"):
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
    algorithm : {'auto', 'direct', 'im2col', 'winograd', 'fft', 'sparse'}
        'direct' (no workspace), 'im2col' (column tiles times the packed weights on the
        ISA's GEMM tile, bounded workspace), 'winograd' (3x3 kernels at stride 1,
        F(4x4, 3x3); at stride 2 polyphase Winograd, 25 multiplications per 2 x 2 tile
        and channel pair instead of 36: :func:`convcore.winograd.run_stride2`), 'fft',
        'sparse' (the CSR matrix of :func:`convcore.conv_matrix` times the batch, for
        comparisons) or 'auto' (see :func:`convcore.functional.choose_algorithm`).  All
        give the same result to rounding (Winograd and FFT: an input inf may give NaN
        in the outputs near it, docs/algorithms.md).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        What the padding reads, as ``torch.nn.Conv2d(padding_mode=...)``: zeros; the
        input mirrored without repeating the edge (each side's padding must be smaller
        than the input in that dimension); the edge value repeated; the input wrapped
        around (padding at most the input size).  Every padding form ('same' and
        asymmetric included) may use it.  No padded copy of the input is made: the
        kernels map indices by the mode.  'direct', 'im2col' and 'winograd' (and 'auto',
        which picks among them) read a border mode; 'fft' and 'sparse' pad with zeros
        only.  See docs/padding_modes.md.
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
        kernel that does not fit in the padded input, a bad ``out`` or ``algorithm``,
        an unknown ``padding_mode``, padding too large for the mode, or a mode with an
        algorithm that pads with zeros only.
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
    >>> convcore.conv2d(x, np.ones((1, 1, 1, 3)), padding=(0, 1),
    ...                 padding_mode="circular")[0, 0, 0]     # x[0, -1] is x[0, 3]
    array([4., 3., 6., 5.])
    """
    return _run_conv(2, x, weight, bias, stride, padding, dilation, groups, algorithm, out,
                     layout, padding_mode)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           algorithm="auto", padding_mode="zeros", out=None):
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
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        As :func:`conv2d`.
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
    >>> convcore.conv1d([[0.0, 1.0, 4.0, 9.0]], [[[1.0, 1.0, 1.0]]], padding=1,
    ...                 padding_mode="reflect")                # x[-1] = x[1], x[4] = x[2]
    array([[ 2.,  5., 14., 17.]])
    """
    return _run_conv(1, x, weight, bias, stride, padding, dilation, groups, algorithm, out,
                     padding_mode=padding_mode)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           algorithm="auto", padding_mode="zeros", out=None):
    """3-D convolution (cross-correlation, as in PyTorch) of a batch of volumes.

    Same rules as :func:`conv2d` on three spatial dimensions (depth, height, width), on
    the same N-d kernels: the direct kernel walks the outer dimensions as rows of the
    innermost one, the im2col route multiplies tiles of the N-d column matrix
    (:func:`im2col`) by the weights on the ISA's GEMM tile, and Winograd runs a T x 3 x 3 layer
    (stride 1, dilation 1) as one 2-D Winograd layer over its (image, output plane) pairs
    with (channel, depth tap) pairs as input channels.

    Parameters
    ----------
    x : array_like, shape (N, C, D, H, W) or (C, D, H, W)
    weight : array_like, shape (K, C // groups, T, R, S)
    bias : array_like, shape (K,), optional
    stride, dilation : int or (int, int, int)
    padding : int, (int, int, int), three (before, after) pairs, 'valid' or 'same'
    groups : int
    algorithm : {'auto', 'direct', 'im2col', 'winograd'}
        'direct', 'im2col' (column tiles on the ISA's GEMM tile), 'winograd' (T x 3 x 3 kernels,
        stride 1, dilation 1; F(4x4, 3x3) on every plane, the accuracy of
        :func:`conv2d`'s Winograd) or 'auto': the one the cost model of
        :func:`convcore.functional.choose_algorithm` predicts faster (Winograd where it
        applies and is predicted faster; see docs/algorithms.md).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        As :func:`conv2d`; depth and height rows are mapped by the mode, width by a
        padded copy of a band of rows.
    out : numpy.ndarray, optional

    Returns
    -------
    numpy.ndarray, shape (N, K, Dout, Hout, Wout) or (K, Dout, Hout, Wout)

    Raises
    ------
    TypeError, ValueError, MemoryError
        As :func:`conv2d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.ones((1, 1, 3, 4, 5))
    >>> convcore.conv3d(x, np.ones((2, 1, 2, 2, 2)), padding=(0, 1, 0)).shape
    (1, 2, 2, 5, 4)
    >>> float(convcore.conv3d(x, np.ones((1, 1, 3, 3, 3)))[0, 0, 0, 0, 0])
    27.0
    >>> convcore.conv3d(x, np.ones((1, 1, 3, 3, 3)), padding=1,
    ...                 padding_mode="replicate").shape
    (1, 1, 3, 4, 5)
    """
    return _run_conv(3, x, weight, bias, stride, padding, dilation, groups, algorithm, out,
                     padding_mode=padding_mode)


# Spatial dimensions an int kernel_size means, by the number of dimensions of x: (C, L),
# (C, H, W) and (N, C, H, W) as unfold does, (N, C, D, H, W).
_UNFOLD_DIMS = {2: 1, 3: 2, 4: 2, 5: 3}
_UNFOLD_SHAPES = {1: "(N, C, L) or (C, L)", 2: "(N, C, H, W) or (C, H, W)",
                  3: "(N, C, D, H, W) or (C, D, H, W)"}


def _is_sizes(value) -> bool:
    """A sequence of sizes (not a single int or a string)."""
    return isinstance(value, tuple | list | np.ndarray) and np.ndim(value) == 1


def _unfold_dims(x_ndim: int, *sizes) -> int:
    """Spatial dimensions of an im2col/col2im call: the length of the first of ``sizes``
    given as a tuple, else what x's number of dimensions means (2-D as unfold)."""
    for value in sizes:
        if _is_sizes(value):
            nd = len(value)
            if nd not in DIM_NAMES:
                raise ValueError(f"kernel_size and output_size must have 1, 2 or 3 entries "
                                 f"(spatial dimensions); got {tuple(value)}")
            return nd
    return _UNFOLD_DIMS.get(x_ndim, 2)


def _unfold_geometry(N, C, x_shape, kernel_size, stride, padding, dilation) -> ConvGeometry:
    """The geometry of an unfold of N images of C channels (as a convolution: K = C)."""
    nd = len(x_shape)
    kernel = int_tuple("kernel_size", kernel_size, nd)
    strides = int_tuple("stride", stride, nd)
    dilations = int_tuple("dilation", dilation, nd)
    pads = resolve_padding(padding, x_shape, kernel, strides, dilations)
    outs = output_sizes(x_shape, kernel, strides, pads, dilations, DIM_NAMES[nd])
    return ConvGeometry(N, C, C, 1, tuple(x_shape), kernel, strides, dilations, pads,
                        tuple(outs))


def im2col(x, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding windows into columns, as ``torch.nn.functional.unfold``, over 1, 2
    or 3 spatial dimensions.

    The arguments come in ``unfold``'s order: ``im2col(x, 3, 2, 1, 1)`` is
    ``unfold(x, 3, 2, 1, 1)`` (kernel size 3, dilation 2, padding 1, stride 1).
    ``unfold`` takes 2-D images only; here a volume or a signal is unfolded the same way.

    Parameters
    ----------
    x : array_like, shape (N, C, *spatial) or (C, *spatial)
        Signals (L), images (H, W) or volumes (D, H, W).  The number of spatial
        dimensions is ``len(kernel_size)`` when that is a tuple; for an int kernel size
        it follows ``x.ndim``: 2 -> (C, L), 3 -> (C, H, W), 4 -> (N, C, H, W) (as
        ``unfold``), 5 -> (N, C, D, H, W).
    kernel_size, dilation : int or tuple of ints (one per spatial dimension)
    padding : int, tuple, tuple of (before, after) pairs, 'valid' or 'same'
        As :func:`conv1d`, :func:`conv2d` and :func:`conv3d`.
    stride : int or tuple of ints

    Returns
    -------
    numpy.ndarray, shape (N, C * prod(kernel_size), L) or (C * prod(kernel_size), L)
        Row ``(c, *k)`` (the kernel index ``k`` row-major, as ``c * R * S + r * S + s``
        in 2-D), column the output position in row-major order (``i * Wout + j`` in
        2-D), holding ``x_padded[c, *(o * stride + k * dilation)]``; ``L`` is the
        product of the output sizes.  float32 input stays float32; other real dtypes
        become float64.

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
    >>> convcore.im2col(np.arange(4.0).reshape(1, 1, 4), (2,), stride=2)   # 1-D
    array([[[0., 2.],
            [1., 3.]]])
    >>> convcore.im2col(np.ones((2, 3, 4, 5, 6)), (2, 2, 2)).shape          # 3-D
    (2, 24, 60)
    """
    x = as_real_array("x", x)
    nd = _unfold_dims(x.ndim, kernel_size)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"x must have shape {_UNFOLD_SHAPES[nd]} for a {nd}-D kernel size; "
                         f"got shape {x.shape}")
    batched = x.ndim == nd + 2
    xb = x if batched else x[None]
    if any(n < 1 for n in xb.shape[1:]):
        raise ValueError(f"x must have at least one channel and one pixel; got shape {x.shape}")
    N, C = xb.shape[:2]
    kg = _unfold_geometry(N, C, xb.shape[2:], kernel_size, stride, padding, dilation)
    dtype = compute_dtype(x)
    shape = (N, C * math.prod(kg.kernel), math.prod(kg.out))
    check_budget("im2col", ("the column matrix", array_bytes("the column matrix", shape,
                                                            dtype.itemsize), shape),
                 ("a contiguous copy of x", copy_bytes(xb, dtype)))
    cols = np.empty(shape, dtype=dtype)
    xc = contiguous("x", xb, dtype).reshape(N, C, math.prod(kg.in_sizes))
    _im2col.im2col(xc, cols, kg, get_num_threads())
    return cols if batched else cols[0]


def col2im(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns back into images, as ``torch.nn.functional.fold`` (adjoint of
    :func:`im2col`), over 1, 2 or 3 spatial dimensions.

    The arguments come in ``fold``'s order: ``col2im(cols, (6, 6), 3, 2, 1, 1)`` is
    ``fold(cols, (6, 6), 3, 2, 1, 1)`` (dilation 2, padding 1, stride 1).

    Parameters
    ----------
    cols : array_like, shape (N, C * prod(kernel_size), L) or (C * prod(kernel_size), L)
    output_size : int or tuple of ints
        The spatial size: (L,), (H, W) or (D, H, W).  The number of spatial dimensions is
        the length of ``output_size``, else of ``kernel_size``, when one is a tuple; 2
        when both are ints (as ``fold``).
    kernel_size, dilation : int or tuple of ints (one per spatial dimension)
    padding : int, tuple, tuple of (before, after) pairs, 'valid' or 'same'
    stride : int or tuple of ints

    Returns
    -------
    numpy.ndarray, shape (N, C, *output_size) or (C, *output_size)
        Each column entry added to the cell it was taken from; entries that came from
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
    >>> convcore.col2im(np.ones((2, 3)), (4,), 2)     # 1-D
    array([[1., 2., 2., 1.]])
    >>> convcore.col2im(np.ones((8, 1)), (2, 2, 2), 2)[0, 0]   # 3-D
    array([[1., 1.],
           [1., 1.]])
    """
    cols = as_real_array("cols", cols)
    if cols.ndim not in (2, 3):
        raise ValueError(f"cols must have shape (N, C*prod(kernel_size), L) or "
                         f"(C*prod(kernel_size), L); got {cols.shape}")
    batched = cols.ndim == 3
    c3 = cols if batched else cols[None]
    nd = _unfold_dims(0, output_size, kernel_size)
    size = int_tuple("output_size", output_size, nd)
    kg = _unfold_geometry(c3.shape[0], 1, size, kernel_size, stride, padding, dilation)
    taps, L = math.prod(kg.kernel), math.prod(kg.out)
    if c3.shape[1] % taps or c3.shape[1] == 0 or c3.shape[2] != L:
        kernel = "x".join(map(str, kg.kernel))
        raise ValueError(
            f"cols has shape {cols.shape}; a {kernel} kernel over output_size {size} gives "
            f"{L} windows, so cols must be (N, C*{taps}, {L}) with C >= 1"
        )
    N, C = c3.shape[0], c3.shape[1] // taps
    dtype = compute_dtype(cols)
    shape = (N, C, *size)
    check_budget("col2im", ("the folded images", array_bytes("the folded images", shape,
                                                            dtype.itemsize), shape),
                 ("a contiguous copy of cols", copy_bytes(c3, dtype)))
    x = np.empty(shape, dtype=dtype)
    _im2col.col2im(contiguous("cols", c3, dtype), x.reshape(N, C, math.prod(size)), kg,
                   get_num_threads())
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
