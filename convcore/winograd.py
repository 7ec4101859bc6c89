"""Winograd convolution F(m x m, 3x3) for 3x3 (conv2d) and 3-tap (conv1d) kernels.

The output is cut into m x m tiles (m = 4 by default, 6 on request).  Each tile's
(m+2) x (m+2) input patch is transformed (``B^T d B``, in C, vectorised across tiles),
the transformed tiles are multiplied by the transformed weights ``U = G w G^T`` with one
GEMM over channels per transformed element (the SIMD level's GEMM micro-kernel, the one
of the pointwise direct layers, inside each of convcore's threads over a fixed
partition of the tiles), and the products are transformed back (``A^T M A``).
F(4x4, 3x3) does 36 multiplications per tile and channel pair where the direct method
does 144: 4x fewer.  The workspace is one block
of tiles per thread, not the whole transformed tensor.

The weight transform (``G w G^T``, in C) is done in float64 and rounded once;
:func:`winograd_weights` returns it as an object a layer can keep and pass back to
:func:`conv2d` / :func:`conv1d` of this module, so it is done once per weight update
rather than once per call.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from convcore import _scratch, _winograd
from convcore._checks import as_int, as_real_array, check_alloc, check_memory, compute_dtype
from convcore._threads import get_num_threads

_NO_BIAS = {np.dtype(t): np.empty(0, t) for t in (np.float32, np.float64)}

TILES = (4, 6)
DEFAULT_TILE = 4

def unsupported_reason(nd: int, kernel: tuple, stride: tuple, dilation: tuple) -> str | None:
    """Why Winograd does not apply to a layer, or None when it does.

    Examples
    --------
    >>> from convcore.winograd import unsupported_reason
    >>> unsupported_reason(2, (3, 3), (1, 1), (1, 1)) is None
    True
    >>> unsupported_reason(2, (5, 5), (1, 1), (1, 1))
    'winograd needs a 3x3 kernel; got 5x5'
    >>> unsupported_reason(2, (3, 3), (2, 2), (1, 1)) is None  # polyphase, run_stride2
    True
    """
    kernel = tuple(kernel)
    if (kernel[-2:] != (3, 3)) if nd == 3 else (kernel != (3,) * nd):
        shape = "x".join(str(k) for k in kernel)
        rule = {1: "a 3-tap kernel", 2: "a 3x3 kernel", 3: "a Tx3x3 kernel"}[nd]
        return f"winograd needs {rule}; got {shape}"
    if any(s != 1 for s in stride) and not (nd == 2 and tuple(stride) == (2, 2)):
        return (f"winograd needs stride 1 (or 2 on a 2-D layer); got stride "
                f"{tuple(stride)}")
    if any(d != 1 for d in dilation):
        return f"winograd needs dilation 1; got dilation {tuple(dilation)}"
    return None


def _transform(weight: np.ndarray, tile: int, groups: int, dtype,
               out: np.ndarray | None = None, kb: int = 1) -> np.ndarray:
    """U of weights (K, Cg, 3[, 3]), computed in float64 (in C) and rounded once to
    ``dtype``; into the first elements of the 1-D array ``out`` when given (a scratch
    buffer), else into a new array.  kb = 1: the plain (groups, alpha^2 or alpha,
    K/groups, C/groups); else blocks of kb output channels with their kb values of each
    input channel side by side, K/groups rounded up with zeros (the GEMM tile's packed
    layout, csrc/winograd_impl.h), in an array of :func:`_u_shape`."""
    w = weight if weight.ndim == 4 else weight[:, :, None, :]
    w = np.ascontiguousarray(w, dtype=dtype)
    shape = _u_shape(w.shape, tile, groups, kb)
    u = np.empty(shape, dtype=dtype) if out is None else out[:math.prod(shape)].reshape(shape)
    _winograd.winograd_weights(w, u.reshape(-1), tile, groups, kb, get_num_threads())
    return u


def _u_shape(wshape, tile: int, groups: int, kb: int = 1) -> tuple[int, int, int, int]:
    """The shape of U for weights of shape (K, Cg, R, 3) or (K, Cg, 3) (R = 1), its
    output channels in blocks of kb (K / groups rounded up to kb)."""
    K, Cg = wshape[:2]
    R = wshape[2] if len(wshape) == 4 else 1
    a = tile + 2
    return (groups, a * a if R == 3 else a, -(-(K // groups) // kb) * kb, Cg)


@contextmanager
def _transient_u(weight: np.ndarray, tile: int, groups: int,
                 dtype) -> Iterator[tuple[np.ndarray, int]]:
    """(U, kb): U of ``weight`` for the duration of one call, in a buffer of the pool
    (convcore._scratch), packed for the active SIMD level's GEMM tile (kb rows)."""
    kb = _winograd.u_block()
    shape = _u_shape(weight.shape, tile, groups, kb)
    with _scratch.scratch(math.prod(shape), dtype) as buf:
        yield _transform(weight, tile, groups, dtype, buf, kb), kb


@dataclass(frozen=True, eq=False)
class WinogradWeights:
    """Transformed weights of a 3x3 (or 3-tap) layer, made by :func:`winograd_weights`.

    Attributes
    ----------
    weight_shape : tuple
        (K, C // groups, 3, 3) or (K, C // groups, 3).
    groups, tile : int
    dtype : numpy.dtype
        float32 when the weights were float32, else float64.
    u : numpy.ndarray
        (groups, alpha^2, K // groups, C // groups) in ``dtype``; alpha = tile + 2
        (alpha instead of alpha^2 for a 3-tap kernel).
    """

    weight_shape: tuple
    groups: int
    tile: int
    dtype: np.dtype
    u: np.ndarray = field(repr=False)
    _weight: np.ndarray = field(repr=False)

    def for_dtype(self, dtype) -> np.ndarray:
        """U in ``dtype``: ``u`` itself, or transformed again from the weights (float32
        weights in a float64 computation are transformed in float64, not widened)."""
        if np.dtype(dtype) == self.dtype:
            return self.u
        return _transform(self._weight, self.tile, self.groups, dtype)


def winograd_weights(weight, groups=1, tile=DEFAULT_TILE) -> WinogradWeights:
    """Transform 3x3 (or 3-tap) weights once for repeated Winograd convolutions.

    Parameters
    ----------
    weight : array_like, shape (K, C // groups, 3, 3) or (K, C // groups, 3)
    groups : int
        As in :func:`convcore.conv2d` (K must be divisible by it).
    tile : {4, 6}
        Output tile side m of F(m x m, 3x3).  4 (the default) keeps float32 within
        1e-4 of max|y| up to C = 512; 6 does 1.27x fewer multiplications but loses about
        one more decimal digit (see docs/algorithms.md).

    Returns
    -------
    WinogradWeights
        Pass it to :func:`convcore.winograd.conv2d` or :func:`convcore.winograd.conv1d`.

    Raises
    ------
    TypeError
        Non-real weights or a non-int ``groups``/``tile``.
    ValueError
        A kernel that is not 3x3 (or 3 taps), K not divisible by ``groups``, a tile
        other than 4 or 6.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> ww = convcore.winograd_weights(np.ones((8, 4, 3, 3), np.float32))
    >>> ww.u.shape, ww.u.dtype
    ((1, 36, 8, 4), dtype('float32'))
    """
    w = as_real_array("weight", weight)
    groups, tile = as_int("groups", groups), as_int("tile", tile)
    if tile not in TILES:
        raise ValueError(f"tile must be 4 or 6 (F(4x4,3x3) or F(6x6,3x3)); got {tile}")
    if w.ndim not in (3, 4):
        raise ValueError(f"weight must have shape (K, C // groups, 3, 3) or "
                         f"(K, C // groups, 3); got shape {w.shape}")
    reason = unsupported_reason(w.ndim - 2, w.shape[2:], (1,) * (w.ndim - 2),
                                (1,) * (w.ndim - 2))
    if reason:
        raise ValueError(reason)
    if groups < 1 or w.shape[0] % groups:
        raise ValueError(f"weight has {w.shape[0]} output channels, not divisible by "
                         f"groups={groups}")
    if w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(f"weight must have at least one filter and channel; got shape "
                         f"{w.shape}")
    dtype = compute_dtype(w)
    return WinogradWeights(tuple(w.shape), groups, tile, dtype,
                           _transform(w, tile, groups, dtype), np.array(w, copy=True))


def run(g, u: np.ndarray, tile: int, xc, bc, y4, n_threads: int, kb: int = 1) -> None:
    """y4 = winograd(xc) + bc for a validated geometry ``g`` (convcore._geometry.ConvGeometry) and
    transformed weights ``u`` of y4's dtype in blocks of ``kb`` output channels
    (:func:`_transform`)."""
    dtype = y4.dtype
    items, per_thread = _winograd.winograd_plan(g, tile, dtype.itemsize)
    workers = max(1, min(n_threads, items))
    check_memory(workers * per_thread * dtype.itemsize, "the winograd workspace")
    with _scratch.scratch(max(workers * per_thread, 1), dtype) as workspace:
        _winograd.conv2d_winograd(xc, u.reshape(-1), kb, bc, y4, workspace, g, tile, workers)


# The weight gradient's parts (grad_weight): at most this many per group, and no more
# than _GRAD_PARTS_BYTES of them.
_GRAD_PARTS = 4  # CC_WG_GRAD_PARTS of csrc/winograd.h: blocks enough for 4 parts
_GRAD_PARTS_BYTES = 64 * 2**20


def grad_weight_applies(g) -> bool:
    """Whether :func:`grad_weight` runs the validated geometry ``g``: a 2-D 3x3 layer at
    stride 1 and dilation 1 whose input and output gradient have int32 offsets."""
    return (g.nd == 2 and tuple(g.stride) == (1, 1)
            and unsupported_reason(2, g.kernel, g.stride, g.dilation) is None
            and g.N * g.C * g.H * g.W < 2**31 and g.N * g.K * g.Hout * g.Wout < 2**31)


def grad_weight_parts(g, itemsize: int) -> int:
    """Parts per group the weight gradient of ``g`` is summed in, from the shapes alone
    (the sum is then the same for any thread count): one per whole block of tiles, at
    most _GRAD_PARTS, within _GRAD_PARTS_BYTES."""
    blocks, _ = _winograd.grad_weight_plan(g, itemsize)
    one = 36 * g.K * (g.C // g.groups) * itemsize  # a part of every group
    return max(1, min(blocks, _GRAD_PARTS, _GRAD_PARTS_BYTES // one))


def grad_weight_bytes(g, itemsize: int, n_threads: int) -> int:
    """Bytes grad_weight allocates besides its result: the parts, and per thread a
    block and the double sums of one output channel."""
    _, per_thread = _winograd.grad_weight_plan(g, itemsize)
    nparts = grad_weight_parts(g, itemsize)
    workers = max(1, min(n_threads, g.groups * nparts))
    return ((nparts * 36 * g.K * (g.C // g.groups) + workers * per_thread) * itemsize
            + workers * 36 * (g.C // g.groups) * 8)


def grad_weight(g, go: np.ndarray, x: np.ndarray, n_threads: int) -> np.ndarray:
    """The weight gradient (K, C/groups, 3, 3) of the 3x3 stride-1 layer ``g`` (see
    grad_weight_applies) from its input ``x`` (N, C, H, W) and output gradient ``go``
    (N, K, Hout, Wout), C-contiguous of one dtype, by F(4x4, 3x3): the adjoint of the
    forward.  Per block of tiles, the output gradient's 4x4 tiles are transformed by
    A go A^T and the input's patches by B^T d B (the forward's input stage), one GEMM per
    transformed element sums their products over the tiles, and G^T S G of the sums S
    gives the 3x3 kernel (docs/algorithms.md)."""
    dtype = x.dtype
    Kg, Cg = g.K // g.groups, g.C // g.groups
    nparts = grad_weight_parts(g, dtype.itemsize)
    _, per_thread = _winograd.grad_weight_plan(g, dtype.itemsize)
    workers = max(1, min(n_threads, g.groups * nparts))
    check_memory(grad_weight_bytes(g, dtype.itemsize, n_threads), "the winograd workspace")
    acc = np.empty(workers * 36 * Cg, np.float64)  # a thread's sums of one channel's parts
    dw = np.empty((g.K, Cg, 3, 3), dtype)
    # the parts from the pool too: 38 MB on VGG's 256@56 layer, above glibc's largest
    # threshold for reusing freed memory, were mapped afresh and faulted in on every call
    # (530-580 page faults per call; docs/gradients.md)
    shape = (g.groups * nparts, 36, Kg, Cg)
    with _scratch.scratch(max(workers * per_thread, 1), dtype) as workspace, \
            _scratch.scratch(math.prod(shape), dtype) as flat:
        _winograd.grad_weight(x.reshape(g.N, g.C, g.H, g.W),
                              go.reshape(g.N, g.K, g.Hout, g.Wout), flat.reshape(shape), dw,
                              workspace, acc, g, nparts, workers)
    return dw


def check_geometry(g, nd: int) -> None:
    """ValueError naming the rule when Winograd does not apply to ``g``."""
    kernel = (g.S,) if nd == 1 else (g.R, g.S) if nd == 2 else g.kernel
    stride = g.stride[-nd:]
    dilation = g.dilation[-nd:]
    reason = unsupported_reason(nd, kernel, stride, dilation)
    if reason:
        raise ValueError(f"{reason} (use algorithm='direct', 'im2col' or 'fft')")


def run_conv(nd: int, g, xc, wc, bc, y4, n_threads: int, tile: int = DEFAULT_TILE) -> None:
    """``algorithm='winograd'`` of conv1d/conv2d/conv3d: check, transform the weights,
    run."""
    check_geometry(g, nd)
    if stride2(g):
        run_stride2(g, xc, wc, bc, y4, n_threads)
        return
    if nd == 3:
        _run_planes(g, xc, wc, bc, y4, n_threads, tile)
        return
    with _transient_u(wc, tile, g.groups, y4.dtype) as (u, kb):
        run(g, u, tile, xc, bc, y4, n_threads, kb)


def stride2(g) -> bool:
    """Whether the validated Winograd layer ``g`` is a 2-D one at stride 2 (polyphase,
    :func:`run_stride2`)."""
    return g.nd == 2 and tuple(g.stride) == (2, 2)


def stride2_workspace(g, itemsize: int, n_threads: int) -> int:
    """Bytes :func:`run_stride2` allocates: the transformed weights and, per thread, a
    chunk's transformed input."""
    _, items, per_thread, wsize = _winograd.s2w_plan(g, itemsize)
    return (max(1, min(n_threads, items)) * per_thread + wsize) * itemsize


def run_stride2(g, xc, wc, bc, y4, n_threads: int) -> None:
    """y4 = conv(xc, wc) + bc for a validated 2-D 3x3 layer ``g`` at stride 2 (any
    padding, padding mode and groups; dilation 1), xc (N, C, H, W), wc (K, C/groups, 3,
    3) and y4 (N, K, Hout, Wout) C-contiguous of one dtype.

    Polyphase Winograd (csrc/kernels/conv_s2w_ukernel.h): each 2 x 2 tile of outputs
    reads a 5 x 5 input patch; split by row and column phase, its even rows and columns
    meet the kernel's corner taps as a 2 x 2 stride-1 convolution, done by F(2x2, 2x2),
    and the odd ones the middle taps.  25 multiplications per tile and channel pair
    where the direct method does 36 (the lecture's count for the layer: 36/25 = 1.44x
    fewer), every product into one of 3 x 3 sums per output channel, summed into the 4
    outputs by 10 additions.  The weights are transformed per call (in float64, rounded
    once), a register tile of the SIMD level's output channels at a time."""
    kb, items, per_thread, wsize = _winograd.s2w_plan(g, y4.dtype.itemsize)
    workers = max(1, min(n_threads, items))
    dtype = y4.dtype
    check_memory(stride2_workspace(g, dtype.itemsize, n_threads), "the winograd workspace")
    with _scratch.scratch(workers * per_thread + wsize, dtype) as buf:
        wt, work = buf[:wsize], buf[wsize:]
        _winograd.s2w_weights(wc, wt, g, kb)
        _winograd.conv_s2w(xc, wt, kb, bc, y4, work, g, workers)


# np.pad's names for the border modes (the depth padding of a 3-D layer)
_NP_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge",
             "circular": "wrap"}


def planes_geometry(g):
    """The 2-D layer a 3-D one with a T x 3 x 3 kernel (stride 1, dilation 1) runs as: its
    images are the pairs (image, output plane), its channels the pairs (channel, depth
    tap), the weights (K, C/groups, T, 3, 3) read as (K, C/groups * T, 3, 3)."""
    from convcore._geometry import ConvGeometry

    T, Dout = g.kernel[0], g.out[0]
    return ConvGeometry(g.N * Dout, g.C * T, g.K, g.groups, g.in_sizes[1:], g.kernel[1:],
                        g.stride[1:], g.dilation[1:], g.pad[1:], g.out[1:], g.padding_mode)


def _run_planes(g, xc, wc, bc, y4, n_threads: int, tile: int) -> None:
    """conv3d with a T x 3 x 3 kernel: output plane d of image n is the 2-D Winograd
    convolution of the T input planes d .. d + T - 1 (of the input padded in depth, by the
    border mode) with the T 3x3 slices of the weights, all planes in one call of the C
    driver, which reads images and channels at those strides (cc_wg_layout): each input
    plane is transformed once per output plane that reads it, no column copy."""
    N, C, K = g.N, g.C, g.K
    D, H, W = g.in_sizes
    T, (front, back) = g.kernel[0], g.pad[0]
    Dout, Ho, Wo = g.out
    x5 = xc.reshape(N, C, D, H, W)
    if front or back:
        check_alloc("the input padded in depth", (N, C, D + front + back, H, W),
                    x5.itemsize)
        x5 = np.pad(x5, ((0, 0), (0, 0), (front, back), (0, 0), (0, 0)),
                    mode=_NP_MODES[g.padding_mode])
    Dp = x5.shape[2]
    plane, out_plane = H * W, Ho * Wo
    layout = (Dout, T, C * Dp * plane, plane, Dp * plane, plane, K * Dout * out_plane,
              out_plane, Dout * out_plane, N * C * Dp * plane, N * K * Dout * out_plane, Wo, 1)
    run_laid_out(planes_geometry(g), wc.reshape(K, C // g.groups * T, 3, 3), x5.reshape(-1),
                 bc, y4.reshape(-1), layout, n_threads, tile)


def run_laid_out(g2, w2, x, bc, y, layout: tuple, n_threads: int, tile: int = DEFAULT_TILE,
                 koff=None) -> None:
    """The 2-D Winograd layer ``g2`` of weights ``w2`` (K, Cg, 3, 3) on the flat arrays
    ``x`` and ``y`` read and written where ``layout`` (cc_wg_layout's 13 integers, in
    order) and ``koff`` (an intp offset per output channel, or None) say: the planes of a
    3-D layer, or the phases of a strided transposed convolution written straight into
    the positions they own (convcore.transpose)."""
    dtype = y.dtype
    items, per_thread = _winograd.winograd_plan(g2, tile, dtype.itemsize)
    workers = max(1, min(n_threads, items))
    check_memory(workers * per_thread * dtype.itemsize, "the winograd workspace")
    with _transient_u(w2, tile, g2.groups, dtype) as (u, kb), \
            _scratch.scratch(max(workers * per_thread, 1), dtype) as workspace:
        _winograd.conv_winograd_strided(x, u.reshape(-1), kb, bc, y, workspace, g2, layout,
                                        tile, workers, koff)


def _conv(nd, x, weights, bias, padding, out):
    from convcore import _geometry

    if not isinstance(weights, WinogradWeights):
        raise TypeError(f"weights must be a WinogradWeights from convcore.winograd_weights, "
                        f"got {type(weights).__name__}")
    if len(weights.weight_shape) != nd + 2:
        raise ValueError(f"these weights are for conv{len(weights.weight_shape) - 2}d, "
                         f"not conv{nd}d")
    stand_in = np.broadcast_to(np.zeros((), weights.dtype), weights.weight_shape)
    x = as_real_array("x", x)
    g, x4, _, bias, dtype, batched = _geometry.prepare_conv(nd, x, stand_in, bias, 1, padding, 1,
                                                         weights.groups)
    spatial = (g.Wout,) if nd == 1 else (g.Hout, g.Wout)
    shape = (g.N, g.K, *spatial) if batched else (g.K, *spatial)
    if out is not None:
        _geometry.check_out(out, shape, dtype, (("x", x4), ("bias", bias)))
        y = out
    else:
        check_alloc("the convolution output", shape, dtype.itemsize)
        y = np.empty(shape, dtype=dtype)
    if not y.size:
        return y
    xc = _geometry.contiguous("x", x4, dtype)
    bc = _NO_BIAS[dtype] if bias is None else _geometry.contiguous("bias", bias,
                                                                                 dtype)
    run(g, weights.for_dtype(dtype), weights.tile, xc, bc,
        y.reshape(g.N, g.K, g.Hout, g.Wout), get_num_threads())
    return y


def conv2d(x, weights: WinogradWeights, bias=None, padding=0, *, out=None):
    """3x3 stride-1 convolution with weights transformed once by :func:`winograd_weights`.

    The same result as ``convcore.conv2d(x, w, bias, 1, padding, 1, groups,
    algorithm="winograd")`` without transforming the weights again.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    weights : WinogradWeights
    bias : array_like, shape (K,), optional
    padding : as :func:`convcore.conv2d`
    out : numpy.ndarray, optional

    Returns
    -------
    numpy.ndarray, shape (N, K, Hout, Wout) or (K, Hout, Wout)

    Raises
    ------
    TypeError, ValueError, MemoryError
        As :func:`convcore.conv2d`; TypeError when ``weights`` is not a WinogradWeights.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> from convcore import winograd
    >>> x = np.ones((1, 2, 5, 5), np.float32)
    >>> ww = convcore.winograd_weights(np.ones((3, 2, 3, 3), np.float32))
    >>> winograd.conv2d(x, ww, padding=1)[0, 0, :2]
    array([[ 8., 12., 12., 12.,  8.],
           [12., 18., 18., 18., 12.]], dtype=float32)
    """
    return _conv(2, x, weights, bias, padding, out)


def conv1d(x, weights: WinogradWeights, bias=None, padding=0, *, out=None):
    """3-tap stride-1 convolution with weights from :func:`winograd_weights`.

    Parameters
    ----------
    x : array_like, shape (N, C, L) or (C, L)
    weights : WinogradWeights
        Made from weights of shape (K, C // groups, 3).
    bias : array_like, shape (K,), optional
    padding : as :func:`convcore.conv1d`
    out : numpy.ndarray, optional

    Returns
    -------
    numpy.ndarray, shape (N, K, Lout) or (K, Lout)

    Raises
    ------
    TypeError, ValueError, MemoryError
        As :func:`convcore.conv1d`.

    Examples
    --------
    >>> import numpy as np, convcore
    >>> from convcore import winograd
    >>> ww = convcore.winograd_weights(np.array([[[1.0, 2.0, 1.0]]]))
    >>> winograd.conv1d(np.arange(6.0)[None], ww)
    array([[ 4.,  8., 12., 16.]])
    """
    return _conv(1, x, weights, bias, padding, out)
