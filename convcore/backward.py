"""Gradients of conv1d / conv2d / conv3d with respect to the input, the weights and the
bias, over any number of spatial dimensions.

Both gradients are convolutions themselves, so they run on the forward kernels (direct
or im2col + GEMM, chosen by ``algorithm`` as in :func:`convcore.conv2d`):

- grad_input is the transposed convolution of grad_output with the same weights,
  cropped by the forward padding to the input's size: the phase kernel of
  :mod:`convcore.transpose` (each of the stride**d phases a stride-1 correlation with a
  flipped sub-kernel on the forward kernels, no inserted zeros; ``algorithm`` picks
  those kernels; ``auto`` may run the phases as one Winograd layer, as
  :func:`convcore.conv_transpose2d` does).  Weights that are not all finite take its
  route of one GEMM per tap, which multiplies no padding, so an infinite weight reaches
  only the pixels it read;
- grad_weight is the correlation of the input with grad_output.  On 3x3 stride-1 layers
  where the forward's ``auto`` picks Winograd (and with ``algorithm='winograd'``) it is
  summed by F(4x4, 3x3), the adjoint of the forward (``convcore.winograd.grad_weight``).
  The im2col route (and ``auto`` elsewhere) multiplies grad_output's tiles by the column
  rows of the input on the ISA's GEMM tile, each block of column rows built by a thread
  just before its products (so it is still in cache), summed in a fixed number of parts
  added in order at the end; the direct route runs the direct kernel with batch and
  channels swapped (each input channel an image, each output channel's grad_output a
  kernel, the forward stride becoming the dilation and the dilation the stride);
- grad_bias is the sum of grad_output over the batch and the pixels.

Every product (on the ISA's GEMM tile; no BLAS) runs on convcore's threads over work
fixed by the shapes alone, so the
gradients are bit-identical for any thread count, and every kernel is interruptible.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from convcore import _conv, _isa
from convcore._blas import aligned_empty
from convcore._checks import as_real_array, check_budget, copy_bytes, did_you_mean
from convcore._geometry import ConvGeometry as _Geometry
from convcore._geometry import border_index, gemm_fits
from convcore._geometry import contiguous as _contiguous
from convcore._geometry import prepare_conv as _prepare
from convcore._threads import get_num_threads
from convcore.functional import _run_conv
from convcore.transpose import TransposeGeometry, run_transpose, workspace_bytes

NEEDS = ("input", "weight", "bias")
ALGORITHMS = ("auto", "direct", "im2col", "winograd")


def check_needs(needs) -> frozenset:
    """``needs`` as a set of names from NEEDS (ValueError naming the value otherwise)."""
    if isinstance(needs, str):
        needs = (needs,)
    try:
        items = list(needs)
    except TypeError:
        raise ValueError(f"needs must be a name or names from {NEEDS}, got {needs!r}") from None
    if not all(isinstance(n, str) and n in NEEDS for n in items):
        raise ValueError(f"needs may contain only {NEEDS}; got {needs!r}")
    return frozenset(items)


def _transposed(g: _Geometry) -> TransposeGeometry:
    """The transposed convolution from grad_output (K channels, the forward output's
    sizes) back to the input's sizes, with the forward call's weights and options."""
    return TransposeGeometry(g.N, g.K, g.C, g.groups, g.out, g.kernel, g.stride, g.dilation,
                             g.pad, g.in_sizes)


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
    """grad_input (N, C, *in): the transposed convolution of grad_output with the same
    weight (a forward weight (K, C/groups, *k) is a transposed one with K inputs),
    cropped by the forward padding to the input's size, on the phase kernel of
    :mod:`convcore.transpose` (no inserted zeros; one GEMM per tap when the weights
    are not all finite); under a border mode, the gradient with respect to the padded
    input folded back by the mode."""
    if g.padding_mode != "zeros":
        sizes = tuple(n + a + b for n, (a, b) in zip(g.in_sizes, g.pad, strict=True))
        padded = dataclasses.replace(g, in_sizes=sizes, pad=((0, 0),) * g.nd,
                                     padding_mode="zeros")
        return fold_padding(_grad_input(padded, go, w, algorithm), g.pad, g.padding_mode)
    gt = _transposed(g)
    grad = np.empty((g.N, g.C, *g.in_sizes), go.dtype)
    run_transpose(gt, go.reshape(g.N, g.K, *g.out), w, None, grad, algorithm)
    return grad


# The weight gradient's parts (each a Kg x Cg*taps partial sum over a fixed range of
# (image, column tile) units, added in order at the end): enough for the threads of any
# machine convcore targets, and no more than _PARTS_BYTES of partial sums.
_MAX_PARTS = 16
_DTYPE_OF_SIZE = {4: np.float32, 8: np.float64}
_PARTS_BYTES = 32 * 2**20


def _grad_weight_parts(g: _Geometry, itemsize: int) -> int:
    """How many parts the weight gradient of ``g`` is summed in, from the shapes alone
    (so the sum is the same for any thread count)."""
    P = _conv.grad_weight_plan(g, _DTYPE_OF_SIZE[itemsize])[0]
    units = g.N * -(-math.prod(g.out) // P)
    one = g.K * (g.C // g.groups) * math.prod(g.kernel) * itemsize  # every group's part
    return max(1, min(_MAX_PARTS, units, _PARTS_BYTES // max(1, one)))


def _grad_weight_gemm(g: _Geometry, go: np.ndarray, x: np.ndarray) -> np.ndarray:
    """grad_weight of each group = sum over images and column tiles of grad_output's tile
    (Kg x P) times the tile's column matrix transposed (P x Cg*taps): in C, on the ISA's
    GEMM tile, each thread builds the column rows in its workspace and multiplies them
    while they are in cache (cc_grad_weight_tile_range), summing a fixed range of tiles
    into a part (or its transpose, whichever layout the tile pads less); the parts are
    then added in order."""
    G, Kg, Cg = g.groups, g.K // g.groups, g.C // g.groups
    rows = Cg * math.prod(g.kernel)
    with _isa.pinned():  # the parts' layout and sizes follow the level's tile
        nparts = _grad_weight_parts(g, x.dtype.itemsize)
        _, per_thread, by_channels = _conv.grad_weight_plan(g, x.dtype)
        part = (Kg, rows) if by_channels else (rows, Kg)
        partials = np.empty((G * nparts, *part), x.dtype)
        workers = max(1, min(get_num_threads(), G * nparts))
        workspace = aligned_empty(max(workers * per_thread, 1), x.dtype)
        x4 = x.reshape(g.N, g.C, -1, g.in_sizes[-1])
        go4 = go.reshape(g.N, g.K, -1, g.out[-1])
        _conv.grad_weight_gemm(x4, go4, partials, workspace, g, workers)
    parts = partials.reshape(G, nparts, *part)
    gw = parts[:, 0].copy()
    for q in range(1, nparts):  # in order: the sum does not depend on the threads
        gw += parts[:, q]
    if not by_channels:
        gw = gw.transpose(0, 2, 1)
    return np.ascontiguousarray(gw).reshape(g.K, Cg, *g.kernel)


def _winograd_pays(g: _Geometry, dtype) -> bool:
    """Whether ``auto`` sums the weight gradient by Winograd: where it applies, the
    forward call's ``auto`` picks Winograd (the two do the same GEMMs, one transform of
    the output side each: docs/gradients.md), and its sum has two parts or more to share
    out (a 512 x 512 layer's parts are too large for two within their budget, and one
    part runs on one thread)."""
    from convcore import winograd
    from convcore._auto import choose_algorithm

    return (winograd.grad_weight_applies(g) and choose_algorithm(g, dtype) == "winograd"
            and g.groups * winograd.grad_weight_parts(g, np.dtype(dtype).itemsize) >= 2)


def _grad_weight(g: _Geometry, go: np.ndarray, x: np.ndarray, algorithm: str) -> np.ndarray:
    """Correlation of x (N, C, *in) with grad_output (N, K, *out) -> (K, Cg, *kernel)."""
    if algorithm == "winograd" or (algorithm == "auto" and _winograd_pays(g, x.dtype)):
        from convcore import winograd

        return winograd.grad_weight(g, go, x, get_num_threads())
    # auto: per-group GEMMs of depthwise-like calls are too small; the direct kernel
    # with batch and channels swapped does them all at once (measured)
    grouped_small = g.groups > 1 and g.C // g.groups <= 4
    if algorithm == "im2col" or (algorithm == "auto" and not grouped_small and gemm_fits(g)):
        return _grad_weight_gemm(g, go, x)
    G, Cg, nd = g.groups, g.C // g.groups, g.nd
    spatial = tuple(range(3, 3 + nd))
    # images: xt[c, grp*N + n] = x[n, grp*Cg + c]; kernels: gt[grp*Kg + k, n] = go[n, ...]
    xt = x.reshape(g.N, G, Cg, *g.in_sizes).transpose(2, 1, 0, *spatial)
    xt = xt.reshape(Cg, G * g.N, *g.in_sizes)
    gt = go.transpose(1, 0, *range(2, 2 + nd))
    pads = []
    for n, k, d, s, out, (before, _) in zip(g.in_sizes, g.kernel, g.dilation, g.stride,
                                            g.out, g.pad, strict=True):
        # just enough padding after for k outputs (the forward's may be larger)
        pads.append((before, max(0, (out - 1) * s + d * (k - 1) + 1 - n - before)))
    full = _run_conv(nd, xt, gt, None, g.dilation, tuple(pads), g.stride, G, algorithm, None,
                     padding_mode=g.padding_mode)
    full = full[(slice(None), slice(None), *(slice(k) for k in g.kernel))]
    return np.ascontiguousarray(full.transpose(1, 0, *range(2, 2 + nd)))


def _conv_backward(nd, grad_output, x, weight, stride, padding, dilation, groups, needs,
                   algorithm, padding_mode="zeros"):
    name = f"conv{nd}d_backward"
    g, x4, w4, _, dtype, batched = _prepare(nd, x, weight, None, stride, padding, dilation,
                                            groups, padding_mode)
    needs = check_needs(needs)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}"
                         + did_you_mean(algorithm, ALGORITHMS))
    if algorithm == "im2col" and "weight" in needs and not gemm_fits(g):
        raise ValueError("im2col: a GEMM dimension of the weight gradient exceeds 2**31 - 1; "
                         "use algorithm='direct'")
    if algorithm == "winograd":
        from convcore import winograd

        if not winograd.grad_weight_applies(g):
            raise ValueError(
                f"{name}: algorithm='winograd' runs 2-D 3x3 layers at stride 1 and dilation "
                f"1 with x and grad_output of fewer than 2**31 elements; got a {g.nd}-D "
                f"layer, kernel {g.kernel}, stride {g.stride}, dilation {g.dilation}, x "
                f"{g.N * g.C * math.prod(g.in_sizes)} and grad_output "
                f"{g.N * g.K * math.prod(g.out)} elements (use algorithm='auto', 'direct' "
                "or 'im2col')")
    go = as_real_array("grad_output", grad_output)
    spatial = g.out[-nd:]
    expected = (g.N, g.K, *spatial) if batched else (g.K, *spatial)
    if go.shape != expected:
        raise ValueError(f"{name}: grad_output has shape {go.shape}; the forward call "
                         f"gives {expected}")
    check_budget(name, *_budget(g, go, x4, w4, dtype, needs, algorithm))
    go4 = _contiguous("grad_output", go, dtype).reshape(g.N, g.K, *g.out)
    # NaN and inf propagate silently, as in the kernels (the NumPy sums here would warn)
    with np.errstate(invalid="ignore", over="ignore"):
        return _gradients(g, go4, x, x4, weight, w4, dtype, needs, algorithm)


def _budget(g: _Geometry, go, x4, w4, dtype, needs, algorithm) -> list:
    """(what, bytes) of everything a backward call allocates, for one check up front
    (an upper bound over the routes ``algorithm`` may take; the forward kernels it runs
    check their own workspace again)."""
    item = dtype.itemsize
    x_bytes = g.N * g.C * math.prod(g.in_sizes) * item
    go_bytes = g.N * g.K * math.prod(g.out) * item
    parts = [("a contiguous copy of grad_output", copy_bytes(go, dtype))]
    if "input" in needs:
        parts.append(("a contiguous copy of weight", copy_bytes(w4, dtype)))
        # the gradient and the transposed convolution's workspace
        parts.append(("the input gradient and its temporaries",
                      x_bytes + workspace_bytes(_transposed(g), item)))
    if "weight" in needs:
        parts.append(("a contiguous copy of x", copy_bytes(x4, dtype)))
        w_bytes = g.K * (g.C // g.groups) * math.prod(g.kernel) * item
        # the parts of the sum and a thread's panels and tiles
        per_thread = _conv.grad_weight_plan(g, dtype)[1]
        gemm = (_grad_weight_parts(g, item) * w_bytes
                + get_num_threads() * (per_thread + 16) * item)
        direct = x_bytes + go_bytes + w_bytes * 2  # transposed copies, a full result
        wino = 0
        if algorithm in ("auto", "winograd"):
            from convcore import winograd

            if winograd.grad_weight_applies(g):
                wino = winograd.grad_weight_bytes(g, item, get_num_threads())
        route = {"im2col": gemm, "winograd": wino}.get(algorithm, max(gemm, direct, wino))
        parts.append(("the weight gradient and its workspace", w_bytes + route))
    return parts


def _gradients(g, go4, x, x4, weight, w4, dtype, needs, algorithm):
    """The gradients of a validated call named in ``needs`` (the others are None)."""
    grad_input = grad_weight = grad_bias = None
    if "bias" in needs:
        grad_bias = go4.sum(axis=(0, *range(2, go4.ndim)), dtype=dtype)
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
    algorithm : {'auto', 'direct', 'im2col', 'winograd'}
        The kernels the gradient convolutions run on; all agree to rounding.
        'winograd' (3x3 layers at stride 1 and dilation 1) computes the input gradient
        with conv2d's Winograd and the weight gradient by F(4x4, 3x3) (docs/gradients.md);
        'auto' takes both where the forward call's 'auto' picks Winograd, and for a
        strided layer whose input gradient (a transposed convolution) fits one Winograd
        layer, that route where :func:`convcore.conv_transpose2d`'s 'auto' takes it.
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


def conv3d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1, *,
                    needs=NEEDS, algorithm="auto", padding_mode="zeros"):
    """Gradients of :func:`convcore.conv3d` with respect to x, weight and bias.

    Same rules, routes and return as :func:`conv2d_backward` on volumes: grad_output
    (N, K, Dout, Hout, Wout) or (K, Dout, Hout, Wout), x (N, C, D, H, W) or
    (C, D, H, W), weight (K, C // groups, T, R, S).

    Returns
    -------
    grad_input, grad_weight, grad_bias : numpy.ndarray or None
        Shapes of ``x``, ``weight`` and (K,); None where not in ``needs``.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> gi, gw, gb = convcore.conv3d_backward(np.ones((1, 1, 1, 1, 1)), x,
    ...                                       np.ones((1, 1, 2, 2, 2)))
    >>> gi[0, 0, 0], gw[0, 0, 1], gb
    (array([[1., 1.],
           [1., 1.]]), array([[4., 5.],
           [6., 7.]]), array([1.]))
    """
    return _conv_backward(3, grad_output, x, weight, stride, padding, dilation, groups, needs,
                          algorithm, padding_mode)
