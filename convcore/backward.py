"""Gradients of conv1d / conv2d with respect to the input, the weights and the bias.

Both gradients are convolutions themselves, so they run on the forward kernels (direct
or im2col + GEMM, chosen by ``algorithm`` as in :func:`convcore.conv2d`):

- grad_input is the transposed ("full") convolution of grad_output with the flipped
  kernel.  The direct route (and ``auto`` at stride 1 with at most 4 input channels per
  group) correlates grad_output, with
  stride - 1 zeros inserted between its pixels when the forward call was strided, with
  ``weight[..., ::-1, ::-1]`` (input and output channels swapped within each group),
  padded by ``dilation * (k - 1) - pad``, on the forward kernels.  The im2col route
  (``auto`` otherwise, and any call whose weights are not all finite) is
  col2im of weight^T x grad_output, one tap at a time through BLAS: it multiplies no
  inserted zero, so an infinite weight reaches only the pixels it read;
- grad_weight is the correlation of the input with grad_output.  The im2col route (and
  ``auto``) multiplies grad_output by each image's column matrix through BLAS; the
  direct route runs the direct kernel with batch and channels swapped (each input
  channel an image, each output channel's grad_output a kernel, the forward stride
  becoming the dilation and the dilation the stride);
- grad_bias is the sum of grad_output over the batch and the pixels.

Every BLAS product runs through :func:`convcore._blas.matmul` (fixed tiles of the result,
single-threaded gemms on convcore's threads), so the gradients are bit-identical for any
thread count, and every kernel is interruptible.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from convcore import _im2col
from convcore._blas import matmul
from convcore._checks import as_real_array, check_budget, copy_bytes, did_you_mean
from convcore._geometry import ConvGeometry as _Geometry
from convcore._geometry import border_index
from convcore._geometry import contiguous as _contiguous
from convcore._geometry import prepare_conv as _prepare
from convcore._threads import get_num_threads
from convcore.functional import _run_conv

NEEDS = ("input", "weight", "bias")
ALGORITHMS = ("auto", "direct", "im2col")


def _check_needs(needs) -> frozenset:
    if isinstance(needs, str):
        needs = (needs,)
    try:
        items = list(needs)
    except TypeError:
        raise ValueError(f"needs must be a name or names from {NEEDS}, got {needs!r}") from None
    if not all(isinstance(n, str) and n in NEEDS for n in items):
        raise ValueError(f"needs may contain only {NEEDS}; got {needs!r}")
    return frozenset(items)


def _inside(n: int, n_out: int, stride: int, offset: int) -> tuple[int, int]:
    """Outputs [lo, hi) whose tap at input offset `offset` (= tap * dilation - pad) reads
    a pixel inside [0, n): 0 <= o * stride + offset < n."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if n - offset <= 0 else min(n_out, (n - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


def _grad_input_taps(g: _Geometry, go: np.ndarray, w: np.ndarray) -> np.ndarray:
    """col2im of weight^T x grad_output, one kernel tap at a time: for each (r, s) and
    group a BLAS product (Cg x Kg) . (Kg x pixels) over the outputs whose tap read a
    pixel of the input, added at those pixels.  Only products the forward pass made
    enter the sum (no inserted zeros, no padding), so a non-finite weight reaches
    exactly the pixels it multiplied, and the work and memory follow the input."""
    G, Kg, Cg = g.groups, g.K // g.groups, g.C // g.groups
    (sh, sw), (dh, dw), ((pt, _), (pl, _)) = g.stride, g.dilation, g.pad
    grad = np.zeros((g.N, G, Cg, g.H, g.W), go.dtype)
    go_g = go.reshape(g.N, G, Kg, g.Hout, g.Wout)
    w_g = w.reshape(G, Kg, Cg, g.R, g.S)
    n_threads = get_num_threads()
    for r in range(g.R):
        oh0, oh1 = _inside(g.H, g.Hout, sh, r * dh - pt)
        if oh0 == oh1:
            continue
        ih0 = oh0 * sh + r * dh - pt
        rows = slice(ih0, ih0 + (oh1 - oh0 - 1) * sh + 1, sh)
        for s in range(g.S):
            ow0, ow1 = _inside(g.W, g.Wout, sw, s * dw - pl)
            if ow0 == ow1:
                continue
            iw0 = ow0 * sw + s * dw - pl
            cols = slice(iw0, iw0 + (ow1 - ow0 - 1) * sw + 1, sw)
            h, wd = oh1 - oh0, ow1 - ow0
            tap = np.empty((g.N, Cg, h * wd), go.dtype)
            for grp in range(G):
                # (Cg, Kg) x (N, Kg, h*w) -> (N, Cg, h*w); the slice is copied only at
                # the edges (a view when every output reads the image)
                sub = go_g[:, grp, :, oh0:oh1, ow0:ow1].reshape(g.N, Kg, h * wd)
                matmul(w_g[grp, :, :, r, s].T[None], sub, tap, n_threads=n_threads)
                grad[:, grp, :, rows, cols] += tap.reshape(g.N, Cg, h, wd)
    return grad.reshape(g.N, g.C, g.H, g.W)


def fold_padding(grad_padded: np.ndarray, pads, padding_mode: str) -> np.ndarray:
    """Fold a gradient with respect to the padded input back onto the input.

    The adjoint of padding by a border mode: each padded position's gradient is added to
    the input element the mode read it from ('reflect', 'replicate', 'circular'), or
    dropped ('zeros').  Any number of spatial dimensions: ``pads`` holds one
    (before, after) pair per trailing axis of ``grad_padded``, outermost first.

    Parameters
    ----------
    grad_padded : numpy.ndarray, shape (..., n_1 + before_1 + after_1, ...)
        Gradient with respect to the padded input.
    pads : sequence of (int, int)
        The padding of each spatial dimension (the trailing ``len(pads)`` axes).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}

    Returns
    -------
    numpy.ndarray
        The gradient with respect to the input (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore.backward import fold_padding
    >>> fold_padding(np.arange(1.0, 6.0), [(1, 1)], "reflect")   # pad [x1] x0 x1 x2 [x1]
    array([2., 9., 4.])
    >>> fold_padding(np.arange(1.0, 6.0), [(1, 1)], "circular")  # pad [x2] x0 x1 x2 [x0]
    array([7., 3., 5.])
    """
    grad = np.asarray(grad_padded)
    first = grad.ndim - len(pads)
    for axis, (before, after) in enumerate(pads, start=first):
        n = grad.shape[axis] - before - after
        moved = np.moveaxis(grad, axis, -1)
        out = moved[..., before:before + n].copy()
        if padding_mode != "zeros":
            for j in (*range(before), *range(before + n, before + n + after)):
                out[..., border_index(j - before, n, padding_mode)] += moved[..., j]
        grad = np.moveaxis(out, -1, axis)
    return np.ascontiguousarray(grad)


def _grad_input(g: _Geometry, go: np.ndarray, w: np.ndarray, algorithm: str) -> np.ndarray:
    """grad_input (N, C, H, W): the transposed convolution of grad_output; under a border
    mode, the gradient with respect to the padded input folded back by the mode."""
    if g.padding_mode != "zeros":
        sizes = tuple(n + a + b for n, (a, b) in zip(g.in_sizes, g.pad, strict=True))
        padded = dataclasses.replace(g, in_sizes=sizes, pad=((0, 0),) * g.nd,
                                     padding_mode="zeros")
        return fold_padding(_grad_input(padded, go, w, algorithm), g.pad, g.padding_mode)
    # auto (measured with benchmarks/bench_conv_backward.py): the tap GEMMs have
    # C/groups rows, so with few input channels per group (images, RGB stems at stride
    # 1, depthwise at any stride) the transposed convolution on the direct kernel wins;
    # otherwise the taps do
    few = g.C // g.groups <= 4
    direct_wins = few and (g.stride == (1, 1) or g.groups > 1)  # incl. depthwise
    if algorithm == "im2col" or (algorithm == "auto" and not direct_wins) or (
            not np.isfinite(w).all()):
        return _grad_input_taps(g, go, w)
    return _grad_input_direct(g, go, w, algorithm)


def _grad_input_direct(g: _Geometry, go: np.ndarray, w: np.ndarray, algorithm: str):
    """Transposed convolution of grad_output (N, K, Hout, Wout) -> (N, C, H, W) on the
    forward kernels (zeros inserted between the outputs of a strided call)."""
    (sh, sw), (dh, dw) = g.stride, g.dilation
    if sh > 1 or sw > 1:  # put the outputs back where the forward windows started
        shape = (g.N, g.K, (g.Hout - 1) * sh + 1, (g.Wout - 1) * sw + 1)
        up = np.zeros(shape, go.dtype)
        up[:, :, ::sh, ::sw] = go
    else:
        up = go
    pads = []
    for axis, (n, k, d, (before, _)) in enumerate(
            zip((g.H, g.W), (g.R, g.S), (dh, dw), g.pad, strict=True)):
        length = up.shape[2 + axis]
        lo = d * (k - 1) - before
        hi = n + d * (k - 1) - length - lo  # so that the output has n pixels
        if lo < 0:  # the forward padding dropped these windows' first pixels: crop
            up = up[:, :, -lo:] if axis == 0 else up[:, :, :, -lo:]
            lo = 0
        if hi < 0:
            up = up[:, :, :hi] if axis == 0 else up[:, :, :, :hi]
            hi = 0
        pads.append((lo, hi))
    if up.shape[2] <= 0 or up.shape[3] <= 0:  # every window read padding only
        return np.zeros((g.N, g.C, g.H, g.W), go.dtype)
    G, Kg, Cg = g.groups, g.K // g.groups, g.C // g.groups
    # w2[grp*Cg + c, k] = w[grp*Kg + k, c] flipped: the transposed kernel of each group
    w2 = w.reshape(G, Kg, Cg, g.R, g.S)[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    w2 = w2.reshape(g.C, Kg, g.R, g.S)
    return _run_conv(2, up, w2, None, 1, tuple(pads), g.dilation, G, algorithm, None)


def _grad_weight_gemm(g: _Geometry, go: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad_weight of each group = sum over images of grad_output (Kg x L) times the
    transposed column matrix of the image (L x Cg*R*S): one im2col and one BLAS GEMM per
    image, so the workspace is one image's column matrix, whatever the batch."""
    G, Kg, Cg, L = g.groups, g.K // g.groups, g.C // g.groups, g.Hout * g.Wout
    rows = Cg * g.R * g.S
    cols = np.empty((1, g.C * g.R * g.S, L), dtype=x.dtype)
    gw = np.zeros((G, Kg, rows), dtype=x.dtype)
    n_threads = get_num_threads()
    for n in range(g.N):  # images in order: each weight's sum is in a fixed order
        _im2col.im2col(x[n:n + 1], cols, g, n_threads)
        go_n, cols_n = go[n].reshape(G, Kg, L), cols.reshape(G, rows, L)
        matmul(go_n, cols_n.transpose(0, 2, 1), gw, accumulate=True, n_threads=n_threads)
    return gw.reshape(g.K, Cg, g.R, g.S)


def _grad_weight(g: _Geometry, go: np.ndarray, x: np.ndarray, algorithm: str) -> np.ndarray:
    """Correlation of x (N, C, H, W) with grad_output (N, K, Hout, Wout) -> (K, Cg, R, S)."""
    # auto: per-group GEMMs of depthwise-like calls are too small; the direct kernel
    # with batch and channels swapped does them all at once (measured)
    grouped_small = g.groups > 1 and g.C // g.groups <= 4
    if algorithm == "im2col" or (algorithm == "auto" and not grouped_small):
        return _grad_weight_gemm(g, go, x)
    G, Cg = g.groups, g.C // g.groups
    # images: xt[c, grp*N + n] = x[n, grp*Cg + c]; kernels: gt[grp*Kg + k, n] = go[n, ...]
    xt = x.reshape(g.N, G, Cg, g.H, g.W).transpose(2, 1, 0, 3, 4).reshape(Cg, G * g.N, g.H, g.W)
    gt = go.transpose(1, 0, 2, 3)
    pads = []
    for n, k, d, s, out, (before, _) in zip((g.H, g.W), (g.R, g.S), g.dilation, g.stride,
                                            (g.Hout, g.Wout), g.pad, strict=True):
        # just enough padding after for k outputs (the forward's may be larger)
        pads.append((before, max(0, (out - 1) * s + d * (k - 1) + 1 - n - before)))
    full = _run_conv(2, xt, gt, None, g.dilation, tuple(pads), g.stride, G, algorithm, None,
                     padding_mode=g.padding_mode)
    return np.ascontiguousarray(full[:, :, :g.R, :g.S].transpose(1, 0, 2, 3))


def _conv_backward(nd, grad_output, x, weight, stride, padding, dilation, groups, needs,
                   algorithm, padding_mode="zeros"):
    name = f"conv{nd}d_backward"
    g, x4, w4, _, dtype, batched = _prepare(nd, x, weight, None, stride, padding, dilation,
                                            groups, padding_mode)
    needs = _check_needs(needs)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}"
                         + did_you_mean(algorithm, ALGORITHMS))
    go = as_real_array("grad_output", grad_output)
    spatial = (g.Wout,) if nd == 1 else (g.Hout, g.Wout)
    expected = (g.N, g.K, *spatial) if batched else (g.K, *spatial)
    if go.shape != expected:
        raise ValueError(f"{name}: grad_output has shape {go.shape}; the forward call "
                         f"gives {expected}")
    check_budget(name, *_budget(g, go, x4, w4, dtype, needs, algorithm))
    go4 = _contiguous("grad_output", go, dtype).reshape(g.N, g.K, g.Hout, g.Wout)
    # NaN and inf propagate silently, as in the kernels (the NumPy sums here would warn)
    with np.errstate(invalid="ignore", over="ignore"):
        return _gradients(g, go4, x, x4, weight, w4, dtype, needs, algorithm)


def _budget(g: _Geometry, go, x4, w4, dtype, needs, algorithm) -> list:
    """(what, bytes) of everything a backward call allocates, for one check up front
    (an upper bound over the routes ``algorithm`` may take; the forward kernels it runs
    check their own workspace again)."""
    item = dtype.itemsize
    x_bytes = g.N * g.C * g.H * g.W * item
    go_bytes = g.N * g.K * g.Hout * g.Wout * item
    parts = [("a contiguous copy of grad_output", copy_bytes(go, dtype))]
    if "input" in needs:
        parts.append(("a contiguous copy of weight", copy_bytes(w4, dtype)))
        # the taps: the gradient and a tap's product; the transposed convolution: the
        # upsampled grad_output and its result
        up = g.N * g.K * ((g.Hout - 1) * g.stride[0] + 1) * ((g.Wout - 1) * g.stride[1] + 1)
        parts.append(("the input gradient and its temporaries",
                      max(2 * x_bytes + go_bytes, up * item + x_bytes)))
    if "weight" in needs:
        parts.append(("a contiguous copy of x", copy_bytes(x4, dtype)))
        w_bytes = g.K * (g.C // g.groups) * g.R * g.S * item
        cols = g.C * g.R * g.S * g.Hout * g.Wout * item
        direct = x_bytes + go_bytes + w_bytes * 2  # transposed copies, a full result
        parts.append(("the weight gradient and its workspace",
                      w_bytes + (cols if algorithm == "im2col" else max(cols, direct))))
    return parts


def _gradients(g, go4, x, x4, weight, w4, dtype, needs, algorithm):
    """The gradients of a validated call named in ``needs`` (the others are None)."""
    grad_input = grad_weight = grad_bias = None
    if "bias" in needs:
        grad_bias = go4.sum(axis=(0, 2, 3), dtype=dtype)
    if g.N == 0 or g.K == 0:  # no images or no output channels: nothing flows back
        if "input" in needs:
            grad_input = np.zeros(np.shape(x), dtype)
        if "weight" in needs:
            grad_weight = np.zeros(np.shape(weight), dtype)
        return grad_input, grad_weight, grad_bias
    if "input" in needs:
        gi = _grad_input(g, go4, _contiguous("weight", w4, dtype), algorithm)
        grad_input = gi.reshape(np.shape(x))
    if "weight" in needs:
        gw = _grad_weight(g, go4, _contiguous("x", x4, dtype), algorithm)
        grad_weight = gw.reshape(np.shape(weight))
    return grad_input, grad_weight, grad_bias


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    needs=NEEDS, algorithm="auto", padding_mode="zeros"):
    """Gradients of :func:`convcore.conv2d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape (N, K, Hout, Wout) or (K, Hout, Wout)
        Gradient of the loss with respect to the forward result.
    x, weight, stride, padding, dilation, groups
        As given to the forward :func:`convcore.conv2d` call (every padding form,
        'same' included).
    needs : iterable of {'input', 'weight', 'bias'}
        The gradients to compute; the others are returned as None.
    algorithm : {'auto', 'direct', 'im2col'}
        The kernels the gradient convolutions run on; all agree to rounding.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        As given to the forward call.  Under a border mode the input gradient is the
        gradient with respect to the padded input folded back onto the input
        (:func:`fold_padding`): a border pixel also collects the gradient of the padding
        cells that copied it.

    Returns
    -------
    grad_input : numpy.ndarray or None
        Shape of ``x``.  Pixels no window reads (strides or dilations that skip them)
        get zero.
    grad_weight : numpy.ndarray or None
        Shape of ``weight``.
    grad_bias : numpy.ndarray or None
        Shape (K,): grad_output summed over the batch and the pixels.

    Raises
    ------
    TypeError, ValueError, MemoryError
        As :func:`convcore.conv2d`; also a ``grad_output`` whose shape is not the
        forward result's (the message names the expected shape), unknown ``needs``.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> w = np.ones((1, 1, 2, 2))
    >>> gi, gw, gb = convcore.conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gi[0, 0]                       # how many windows read each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    return _conv_backward(2, grad_output, x, weight, stride, padding, dilation, groups, needs,
                          algorithm, padding_mode)


def conv1d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    needs=NEEDS, algorithm="auto", padding_mode="zeros"):
    """Gradients of :func:`convcore.conv1d` with respect to x, weight and bias.

    Same rules as :func:`conv2d_backward` on (N, C, L) or (C, L) and weights (K, C/groups, S).

    Examples
    --------
    >>> import convcore
    >>> gi, gw, gb = convcore.conv1d_backward([[1.0, 1.0]], [[1.0, 2.0, 3.0]], [[[1.0, -1.0]]])
    >>> gi, gw, gb
    (array([[ 1.,  0., -1.]]), array([[[3., 5.]]]), array([2.]))
    """
    return _conv_backward(1, grad_output, x, weight, stride, padding, dilation, groups, needs,
                          algorithm, padding_mode)
