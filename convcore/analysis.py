"""The lecture's cost model: what a convolution, its sparse matrix and its dense matrix
store and compute, and the parameter counts of convolutional, locally connected and
fully connected layers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convcore import _conv
from convcore._checks import as_int, int_tuple
from convcore._geometry import prepare_conv as _prepare

_INDEX_BYTES = 8  # convcore's CSR matrices use int64 indices


@dataclass(frozen=True)
class RepresentationCost:
    """Storage and arithmetic of one representation of a convolution."""

    stored_floats: int
    index_entries: int  # integers stored besides the values (CSR: indices + row pointers)
    muls: int
    adds: int
    itemsize: int = 4

    @property
    def flops(self) -> int:
        return self.muls + self.adds

    @property
    def bytes(self) -> int:
        return self.stored_floats * self.itemsize + self.index_entries * _INDEX_BYTES


def _layer_geometry(c_in, h, w, c_out, r, s, stride, padding, dilation, groups):
    """The validated geometry of a layer described by sizes only (zero-strided stand-ins
    for the arrays: no memory, the same checks and messages as conv2d)."""
    image = np.broadcast_to(np.float32(0), (1, c_in, h, w))
    weight = np.broadcast_to(np.float32(0), (c_out, max(c_in // max(groups, 1), 1), r, s))
    return _prepare(2, image, weight, None, stride, padding, dilation, groups)[0]


def _taps_inside(n: int, n_out: int, k: int, stride: int, dilation: int, pad: int) -> int:
    """Sum over the outputs of the number of their k taps that land inside [0, n): per
    tap t, the outputs o with 0 <= o*stride - pad + t*dilation < n (O(k), not O(n k))."""
    total = 0
    for t in range(k):
        off = t * dilation - pad
        lo = max(0, -(off // stride) if off < 0 else 0)       # first o with o*s + off >= 0
        hi = min(n_out - 1, (n - 1 - off) // stride)           # last o with o*s + off < n
        total += max(0, hi - lo + 1)
    return total


def representation_costs(input_shape, kernel_shape, stride=1, padding=0, dilation=1,
                         in_channels=1, out_channels=1, groups=1, *, bias=False,
                         dtype=np.float32) -> dict[str, RepresentationCost]:
    """Costs of a 2-D convolution stored as its kernel, as a sparse (CSR) matrix and as
    a dense matrix, for one image.

    Counting rules: every (output, input) pair the kernel touches inside the image is
    one multiplication (padding costs nothing); an output that sums ``T`` products takes
    ``T - 1`` additions, plus 1 for the bias when ``bias``.  The dense matrix multiplies
    every entry of its rows: ``rows * cols`` multiplications and ``rows * (cols - 1)``
    additions.  The sparse matrix stores one value and one column index per touched
    pair plus ``rows + 1`` row pointers and does the convolution's arithmetic.

    Parameters
    ----------
    input_shape, kernel_shape : (int, int)
        (H, W) and (R, S).
    stride, padding, dilation, groups
        As :func:`convcore.conv2d`.
    in_channels, out_channels : int
    bias : bool
        Count a bias per output channel.
    dtype : float32 or float64
        For ``bytes``.

    Returns
    -------
    dict
        ``{"convolution": ..., "sparse": ..., "dense": ...}`` of
        :class:`RepresentationCost` (``stored_floats``, ``index_entries``, ``muls``,
        ``adds``, ``flops``, ``bytes``).

    Examples
    --------
    >>> from convcore.analysis import representation_costs
    >>> c = representation_costs((320, 280), (2, 1))       # the lecture's edge detector
    >>> c["convolution"].stored_floats, c["sparse"].stored_floats, c["convolution"].flops
    (2, 178640, 267960)
    >>> c["dense"].stored_floats == 319 * 280 * 320 * 280
    True
    """
    h, w = int_tuple("input_shape", input_shape, 2)
    r, s = int_tuple("kernel_shape", kernel_shape, 2)
    c_in, c_out = as_int("in_channels", in_channels), as_int("out_channels", out_channels)
    g = _layer_geometry(c_in, h, w, c_out, r, s, stride, padding, dilation, groups)
    itemsize = np.dtype(dtype).itemsize
    cg, outputs = g.C // g.groups, g.K * g.Hout * g.Wout
    pairs = (g.K * cg * _taps_inside(g.H, g.Hout, g.R, g.stride[0], g.dilation[0], g.pad[0][0])
             * _taps_inside(g.W, g.Wout, g.S, g.stride[1], g.dilation[1], g.pad[1][0]))
    adds = pairs - outputs + (outputs if bias else 0)
    cols = g.C * g.H * g.W
    params = g.K * cg * g.R * g.S + (g.K if bias else 0)
    return {
        "convolution": RepresentationCost(params, 0, pairs, adds, itemsize),
        "sparse": RepresentationCost(pairs + (g.K if bias else 0), pairs + outputs + 1, pairs,
                                     adds, itemsize),
        "dense": RepresentationCost(outputs * cols + (g.K if bias else 0), 0, outputs * cols,
                                    outputs * (cols - 1) + (outputs if bias else 0), itemsize),
    }


def conv_params(in_channels, out_channels, kernel_size, groups=1, bias=True, *,
                dims=None) -> int:
    """Parameters of a convolution: ``out * (in / groups) * prod(kernel_size)`` weights
    plus ``out`` biases (the lecture: F^2 * C * D weights and D biases).

    The same count holds in 1-D, 2-D and 3-D and for transposed convolution, whose
    weight ``(in, out / groups, *kernel_size)`` holds as many numbers
    (``torch.nn.ConvTranspose2d(in, out, k)`` has as many parameters as
    ``torch.nn.Conv2d(in, out, k)``).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple of int
        A tuple gives the number of spatial dimensions; an int is square (``dims``
        of them).
    groups : int
    bias : bool
    dims : int, optional
        Spatial dimensions of an int ``kernel_size`` (1, 2 or 3; default 2).

    Examples
    --------
    >>> from convcore.analysis import conv_params
    >>> conv_params(3, 1, 3), conv_params(3, 4, 3)      # the lecture's 28 and 112
    (28, 112)
    >>> conv_params(64, 64, 3, dims=3)                  # a 3x3x3 (C3D) layer
    110656
    >>> conv_params(128, 64, (4, 4), bias=False)        # ConvTranspose2d(128, 64, 4)
    131072
    """
    if dims is None:
        dims = len(kernel_size) if isinstance(kernel_size, tuple | list) else 2
    dims = as_int("dims", dims)
    if dims not in (1, 2, 3):
        raise ValueError(f"dims must be 1, 2 or 3, got {dims}")
    ks = int_tuple("kernel_size", kernel_size, dims)
    c_in, c_out, groups = (as_int(n, v) for n, v in (("in_channels", in_channels),
                                                    ("out_channels", out_channels),
                                                    ("groups", groups)))
    if groups < 1 or c_in % groups or c_out % groups:
        raise ValueError(f"in_channels {c_in} and out_channels {c_out} must be divisible by "
                         f"groups={groups}")
    return c_out * (c_in // groups) * math.prod(ks) + (c_out if bias else 0)


def fc_params(in_features, out_features, bias=True) -> int:
    """Parameters of a fully connected layer: ``in * out`` weights plus ``out`` biases.

    Examples
    --------
    >>> from convcore.analysis import fc_params
    >>> fc_params(32 * 32, 32 * 32)                      # the lecture's ~1M
    1049600
    """
    n_in, n_out = as_int("in_features", in_features), as_int("out_features", out_features)
    if n_in < 1 or n_out < 1:
        raise ValueError(f"features must be >= 1, got {n_in} and {n_out}")
    return n_in * n_out + (n_out if bias else 0)


def locally_connected_params(output_size, kernel_size, in_channels=1, out_channels=1,
                             bias=True) -> int:
    """Parameters of a locally connected layer (a convolution without weight sharing):
    every output pixel of every output channel has its own ``in * R * S`` weights and
    bias.

    Examples
    --------
    >>> from convcore.analysis import locally_connected_params
    >>> locally_connected_params(30, 3), locally_connected_params(30, 3, in_channels=3)
    (9000, 25200)
    """
    oh, ow = int_tuple("output_size", output_size, 2)
    r, s = int_tuple("kernel_size", kernel_size, 2)
    c_in, c_out = as_int("in_channels", in_channels), as_int("out_channels", out_channels)
    return oh * ow * c_out * (c_in * r * s + (1 if bias else 0))


def conv_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1,
              groups=1, *, transposed=False, output_padding=0) -> int:
    """Multiply-accumulates of a convolution on one input of shape (C, L), (C, H, W) or
    (C, D, H, W), in the convention of torchinfo and ptflops: ``out_channels *
    prod(out) * (C / groups) * prod(kernel_size)``, every kernel position counted
    (padding included), the bias not.

    With ``transposed=True``, a transposed convolution (``padding`` and
    ``output_padding`` as in :func:`convcore.conv_transpose2d`): every input pixel
    times every tap, ``C * (out_channels / groups) * prod(in) * prod(kernel_size)``
    (ptflops' count; products landing in the cropped padding included).

    Examples
    --------
    >>> from convcore.analysis import conv_macs
    >>> conv_macs((3, 224, 224), 64, 3, padding=1)       # VGG-16's first layer
    86704128
    >>> conv_macs((64, 16, 56, 56), 64, 3, padding=1)    # a C3D layer: 64*50176*64*27
    5549064192
    >>> conv_macs((128, 32, 32), 64, 4, stride=2, padding=1, transposed=True)
    134217728
    """
    shape = tuple(as_int("input_shape", v) for v in input_shape)
    if len(shape) not in (2, 3, 4):
        raise ValueError(f"input_shape must be (C, L), (C, H, W) or (C, D, H, W); got "
                         f"{input_shape!r}")
    nd = len(shape) - 1
    ks = int_tuple("kernel_size", kernel_size, nd)
    c_out = as_int("out_channels", out_channels)
    groups_ = max(as_int("groups", groups), 1)
    image = np.broadcast_to(np.float32(0), (1, *shape))  # stand-ins: no memory
    if transposed:
        from convcore.transpose import prepare_transpose

        weight = np.broadcast_to(np.float32(0), (shape[0], max(c_out // groups_, 1), *ks))
        g = prepare_transpose(nd, image, weight, None, stride, padding, output_padding,
                              groups, dilation)[0]
        if c_out % g.groups:
            raise ValueError(f"out_channels {c_out} is not divisible by groups={g.groups}")
        return shape[0] * (c_out // g.groups) * math.prod(g.in_sizes) * math.prod(ks)
    weight = np.broadcast_to(np.float32(0), (c_out, max(shape[0] // groups_, 1), *ks))
    g = _prepare(nd, image, weight, None, stride, padding, dilation, groups)[0]
    return g.K * math.prod(g.out) * (g.C // g.groups) * math.prod(ks)


# ---------------------------------------------------------------------------------------
# Every algorithm of conv2d/conv1d: what it multiplies, adds and allocates, and which one
# ``algorithm="auto"`` should take.

ALGORITHM_NAMES = ("direct", "im2col", "winograd", "fft", "sparse", "dense")

# Arithmetic of the 1-D transforms as written in csrc/winograd_impl.h: (muls, adds) of
# B^T (input) and A^T (output) applied to one line of alpha values, per output tile m.
_WINOGRAD_LINE_OPS = {4: ((8, 16), (3, 10)), 6: ((14, 24), (10, 20))}


@dataclass(frozen=True)
class AlgorithmCost:
    """Arithmetic and memory of one algorithm on one layer (the whole batch).

    ``extra_bytes`` is what the algorithm allocates besides the input, the weights and
    the output (workspaces, transformed weights, matrices, spectra), for the thread
    count it was computed for.  ``work_items`` is how many pieces the route shares out
    among threads (0: as many as there are threads): the direct kernel's work items
    (its plan at the active SIMD level), the GEMM's, the FFT route's chunks.
    ``applicable`` is False, with the rule in ``reason``, when ``conv2d(...,
    algorithm=name)`` would refuse the layer.
    """

    name: str
    muls: int
    adds: int
    extra_bytes: int
    applicable: bool = True
    reason: str | None = None
    transform_flops: int = 0  # the part of muls + adds spent outside GEMMs / products
    # the pieces of work the route shares out among threads (0: as many as there are
    # threads): the direct kernel's and the GEMM's work items, the FFT route's chunks
    work_items: int = 0
    # values written to a workspace and read back outside the arithmetic (Winograd: the
    # transformed tiles V and products M, and the transformed weights, written once and
    # packed again by every tile block's GEMMs)
    moved_elements: int = 0

    @property
    def flops(self) -> int:
        return self.muls + self.adds


def _fft_costs(g, itemsize: int, nd: int, threads: int = 1) -> tuple[int, int, int, int]:
    """(muls, adds, extra bytes, chunks per group) of convcore.fft on geometry ``g``.
    A real FFT of size P is counted as P log2 P multiplications and 1.5 P log2 P
    additions (half a complex radix-2 FFT); every frequency of every (image, output,
    input channel) triple costs one complex multiply-add (4 muls, 4 adds)."""
    from convcore.fft import CHUNK_ELEMENTS, PASS_ELEMENTS, block_lengths

    spans = tuple(d * (k - 1) + 1 for k, d in zip((g.R, g.S)[-nd:], g.dilation[-nd:],
                                                  strict=True))
    full = tuple((o - 1) * s + 1 for o, s in zip((g.Hout, g.Wout)[-nd:], g.stride[-nd:],
                                                 strict=True))
    lengths = block_lengths(full, spans)
    P = math.prod(lengths)
    F = P // lengths[-1] * (lengths[-1] // 2 + 1)
    blocks = math.prod(-(-f // (L - k + 1)) for f, L, k in zip(full, lengths, spans,
                                                                 strict=True))
    Cg, Kg = g.C // g.groups, g.K // g.groups
    lg = math.log2(P) if P > 1 else 1.0
    kc = min(Kg, max(1, CHUNK_ELEMENTS // (Cg * F)))       # as convcore.fft.correlate
    budget = PASS_ELEMENTS if kc == Kg else CHUNK_ELEMENTS
    chunk = min(blocks, max(1, budget // (g.N * max(Cg, kc) * P)))
    chunks = -(-blocks // chunk)
    at_once = threads if threads > 1 and chunks >= 2 * threads else 1   # chunks in flight
    kernel_passes = 1 if kc == Kg else chunks               # spectra redone per chunk
    transforms = g.groups * (blocks * g.N * (Cg + Kg) + kernel_passes * Kg * Cg)
    muls = int(transforms * P * lg) + 4 * g.groups * blocks * g.N * Kg * Cg * F
    adds = int(transforms * 1.5 * P * lg) + 4 * g.groups * blocks * g.N * Kg * Cg * F
    spectra = 2 * kc * Cg * F * (1 if kc == Kg else at_once)  # per thread when redone
    extra = (at_once * chunk * g.N * (Cg + kc) * (P + 2 * F) + spectra) * itemsize
    return muls, adds, extra, chunks


def _winograd_costs(g, tile: int, itemsize: int,
                    threads: int) -> tuple[int, int, int, int, int]:
    from convcore import _winograd

    m, a = tile, tile + 2
    one_row = g.R == 1
    th = g.Hout if one_row else -(-g.Hout // m)
    tiles = g.N * th * -(-g.Wout // m)
    aa = a if one_row else a * a
    Cg, Kg = g.C // g.groups, g.K // g.groups
    (bm, ba), (am, aa_) = _WINOGRAD_LINE_OPS[tile]
    in_lines, out_lines = (1, 1) if one_row else (2 * a, a + m)
    gemm_muls, gemm_adds = g.groups * aa * tiles * Kg * Cg, g.groups * aa * tiles * Kg * (Cg - 1)
    muls = gemm_muls + g.groups * (tiles * Cg * in_lines * bm + tiles * Kg * out_lines * am)
    adds = gemm_adds + g.groups * (tiles * Cg * in_lines * ba + tiles * Kg * out_lines * aa_)
    w_lines = 1 if one_row else 3 + a      # G applied to the kernel's rows, then columns
    muls += g.K * Cg * w_lines * a * 3
    adds += g.K * Cg * w_lines * a * 2
    items, per_thread = _winograd.winograd_plan(g, tile, itemsize)
    kb = _winograd.u_block()  # U's rows come in blocks of the GEMM tile's height
    extra = (min(threads, items) * per_thread + g.groups * aa * -(-Kg // kb) * kb * Cg) * itemsize
    # U is written once and read for every block, but packed and prefetched its reads
    # stream: counted once, as when it was fitted with about two blocks a layer
    moved = g.groups * aa * (tiles * (Cg + Kg) + 2 * Kg * Cg)
    return muls, adds, extra, muls + adds - gemm_muls - gemm_adds, moved


def _stride2_winograd_costs(g, itemsize: int, threads: int) -> tuple[int, int, int, int]:
    """(muls, adds, extra bytes, transform flops) of the polyphase Winograd route of a
    stride-2 3x3 layer (csrc/kernels/conv_s2w_ukernel.h), as written: per 2 x 2 tile,
    25 multiply-adds per (input, output) channel pair into 9 sums; per tile and output
    channel 10 additions to the 4 outputs; per tile and input channel 26 subtractions
    (the row combinations of 8 columns, 16, and the column combinations, 10); per
    kernel 8 additions (a column's w0 + w2 three times, a row's five times)."""
    from convcore import _winograd

    Cg, Kg = g.C // g.groups, g.K // g.groups
    tiles = g.N * -(-g.Hout // 2) * -(-g.Wout // 2)
    products = g.groups * tiles * Kg * Cg * 25
    transforms = g.groups * tiles * (Kg * 10 + Cg * 26) + g.K * Cg * 8
    _, items, per_thread, wsize = _winograd.s2w_plan(g, itemsize)
    extra = (min(threads, items) * per_thread + wsize) * itemsize
    return products, products + transforms, extra, transforms


def _cost_geometry(input_shape, kernel_shape, stride, padding, dilation, in_channels,
                   out_channels, groups, batch):
    nd = len(tuple(kernel_shape)) if not isinstance(kernel_shape, int) else 2
    if nd not in (1, 2):
        raise ValueError(f"kernel_shape must be (R, S) or (S,); got {kernel_shape!r}")
    sizes = int_tuple("input_shape", input_shape, nd)
    kernel = int_tuple("kernel_shape", kernel_shape, nd)
    n, c_in = as_int("batch", batch), as_int("in_channels", in_channels)
    c_out = as_int("out_channels", out_channels)
    if n < 1:
        raise ValueError(f"batch must be >= 1, got {n}")
    image = np.broadcast_to(np.float32(0), (n, c_in, *sizes))
    weight = np.broadcast_to(np.float32(0), (c_out, max(c_in // max(groups, 1), 1), *kernel))
    return nd, _prepare(nd, image, weight, None, stride, padding, dilation, groups)[0]


def algorithm_costs(input_shape, kernel_shape, in_channels=1, out_channels=1, stride=1,
                    padding=0, dilation=1, groups=1, *, batch=1, bias=False,
                    dtype=np.float32, tile=4, threads=None) -> dict[str, AlgorithmCost]:
    """Multiplications, additions and extra memory of every convolution algorithm.

    Counting rules.  direct: every (output, input) pair inside the image, one
    multiply-add (padding costs nothing).  im2col: the GEMM multiplies the zeros of the
    padding too, ``N K Hout Wout (C/groups) R S``.  winograd: one GEMM multiply-add per
    transformed element, tile, input and output channel (``alpha^2`` per tile instead of
    ``m^2 R S``), plus the transforms as written in C and the weight transform; at stride
    2, its polyphase route: 25 per 2 x 2 tile and channel pair plus its transforms
    (:func:`_stride2_winograd_costs`).  fft: the real transforms of every block of every
    input and output channel and of the kernels (``P log2 P`` muls, ``1.5 P log2 P`` adds
    each) plus 4 muls and 4 adds per frequency and channel pair.  sparse: the direct
    count (it stores exactly the pairs).  dense: every entry of the dense matrix, per
    image.  A bias adds one addition per output when ``bias``.

    Parameters
    ----------
    input_shape : (H, W) or (L,)
    kernel_shape : (R, S) or (S,)
        A 1-tuple describes a conv1d layer.
    in_channels, out_channels, stride, padding, dilation, groups
        As :func:`convcore.conv2d`.
    batch : int
    bias : bool
    dtype : float32 or float64
    tile : {4, 6}
        Winograd's output tile.
    threads : int, optional
        Thread count for the workspaces (default :func:`convcore.get_num_threads`).
        The direct route's ``work_items`` come from its plan at the SIMD level in use.

    Returns
    -------
    dict
        Name -> :class:`AlgorithmCost`, for the names in ``ALGORITHM_NAMES``.

    Examples
    --------
    >>> from convcore.analysis import algorithm_costs
    >>> c = algorithm_costs((56, 56), (3, 3), 256, 256, padding=1)
    >>> round(c["im2col"].muls / c["winograd"].muls, 1)      # F(4x4,3x3): ~4x fewer
    3.9
    >>> c["winograd"].applicable, algorithm_costs((56, 56), (5, 5))["winograd"].reason
    (True, 'winograd needs a 3x3 kernel; got 5x5')
    """
    from convcore._threads import get_num_threads
    from convcore.matrix import _dense_limit
    from convcore.winograd import unsupported_reason

    nd, g = _cost_geometry(input_shape, kernel_shape, stride, padding, dilation, in_channels,
                           out_channels, groups, batch)
    itemsize = np.dtype(dtype).itemsize
    threads = get_num_threads() if threads is None else as_int("threads", threads)
    Cg = g.C // g.groups
    outputs = g.N * g.K * g.Hout * g.Wout
    bias_adds = outputs if bias else 0
    pairs = g.N * g.K * Cg * (
        _taps_inside(g.H, g.Hout, g.R, g.stride[0], g.dilation[0], g.pad[0][0])
        * _taps_inside(g.W, g.Wout, g.S, g.stride[1], g.dilation[1], g.pad[1][0]))
    out: dict[str, AlgorithmCost] = {}
    out["direct"] = AlgorithmCost("direct", pairs, pairs - outputs + bias_adds,
                                  g.K * Cg * g.R * g.S * itemsize,
                                  work_items=_conv.direct_plan(g, dtype)["items"])
    gemm = outputs * Cg * g.R * g.S
    items, per_thread = _conv.gemm_plan(g)
    fits = max(g.Hout * g.Wout, Cg * g.R * g.S, g.K) <= 2**31 - 1
    out["im2col"] = AlgorithmCost("im2col", gemm, gemm - outputs + bias_adds,
                                  (min(threads, items) * per_thread
                                   + _conv.gemm_packed_size(g)) * itemsize, fits,
                                  None if fits else "a GEMM dimension exceeds 2**31 - 1",
                                  work_items=items)
    kernel = (g.S,) if nd == 1 else (g.R, g.S)
    reason = unsupported_reason(nd, kernel, g.stride[-nd:], g.dilation[-nd:])
    if reason is None and nd == 2 and tuple(g.stride) == (2, 2):
        sm, sa, sx, st = _stride2_winograd_costs(g, itemsize, threads)
        out["winograd"] = AlgorithmCost("winograd", sm, sa + bias_adds, sx, transform_flops=st)
    elif reason is None:
        wm, wa, wx, wt, wmoved = _winograd_costs(g, tile, itemsize, threads)
        out["winograd"] = AlgorithmCost("winograd", wm, wa + bias_adds, wx, transform_flops=wt,
                                        moved_elements=wmoved)
    else:
        out["winograd"] = AlgorithmCost("winograd", 0, 0, 0, False, reason)
    fm, fa, fx, chunks = _fft_costs(g, itemsize, nd, threads)
    out["fft"] = AlgorithmCost("fft", fm, fa + bias_adds, fx, work_items=chunks)
    rows = g.K * g.Hout * g.Wout
    csr = pairs // g.N
    limit = _dense_limit(None)
    sparse_bytes = (csr * (itemsize + _INDEX_BYTES) + (rows + 1) * _INDEX_BYTES
                    + 2 * outputs * itemsize)
    ok = sparse_bytes <= limit
    out["sparse"] = AlgorithmCost("sparse", pairs, pairs - outputs + bias_adds, sparse_bytes,
                                  ok, None if ok else f"the CSR matrix needs {sparse_bytes:,} "
                                                      f"bytes, over the memory limit")
    cols = g.C * g.H * g.W
    dense_bytes = rows * cols * itemsize
    ok = dense_bytes <= limit
    out["dense"] = AlgorithmCost("dense", g.N * rows * cols, g.N * rows * (cols - 1) + bias_adds,
                                 dense_bytes + outputs * itemsize, ok,
                                 None if ok else f"the dense matrix needs {dense_bytes:,} "
                                                 f"bytes, over the memory limit")
    return out


# Effective rates (GFLOP/s per thread, counted as the muls + adds above, float32) of
# each algorithm per SIMD level: the calibration of the cost model.  direct and im2col
# were fitted to interleaved timings on VGG 256@56, ResNet 128@28 b8 and VGG 64@224 and
# to calibrate().  Winograd's rate (per GEMM flop, with _MOVE_WEIGHT per moved value) is
# direct's over 1.4: refitted on 2026-12-01 to interleaved timings of direct and Winograd
# on fifteen 3x3 layers at both levels (16 to 512 channels, 7x7 to 224x224, batch 1 to
# 8; Winograd took 0.39-0.65x direct's time on 28x28 and larger, 0.84-1.1x on 14x14 and
# 3.6x on 512@7 at batch 1), where the model's ratio to direct was within 22% (rms of
# the log) and sided with the measurement on 29 of 30.  The generic row is calibrate()
# at the forced generic level (means of two runs, AMD EPYC Zen 4 class, 2026-12-03:
# direct 26.5 and 23.1, im2col 26.2 and 21.7, Winograd 17.1 and 16.9, FFT 12.2 and 8.7);
# until then it was the AVX-512 row scaled by vector width, with Winograd 1.17x direct's
# rate where it measured 0.64-0.73x (docs/algorithms.md).  Only the ratios within a row
# matter for the choice: the SIMD rows' scale is about half of what calibrate() reads on
# the Zen 4 today (direct 72-92 GFLOP/s, FFT 7.5-12), their ratios close to its (FFT
# 0.09-0.15x direct's); FFT's rate is NumPy's at every level, so it is a larger share of
# the portable level's slower direct kernels.  The SIMD rows' FFT rate was refitted on
# 2026-12-05 to one-thread timings of direct and FFT on one-channel images (512^2 to
# 2048^2, 9x9 to 23x23) and a 10^6-sample signal (101 to 401 taps) at both levels and
# dtypes, where the FFT ran at 11.5-15.5 counted GFLOP/s in float32 and direct at 39-63
# (docs/algorithms.md, "When auto picks Winograd or FFT").
CALIBRATION = {
    "avx512": {"direct": 45.0, "im2col": 45.0, "winograd": 32.0, "fft": 5.9},
    "avx2": {"direct": 40.0, "im2col": 40.0, "winograd": 29.0, "fft": 5.9},
    "generic": {"direct": 24.8, "im2col": 24.0, "winograd": 17.0, "fft": 10.4},
}


def calibration_rates(level: str) -> dict[str, float]:
    """The measured rates ``auto``'s model uses at SIMD ``level``.

    Parameters
    ----------
    level : str
        A level of :data:`CALIBRATION` or of the C library's table of ISAs
        (:func:`convcore._isa.isa_levels`).

    Returns
    -------
    dict of str to float
        The :data:`CALIBRATION` row of ``level``; for a level of the table without one
        (an ISA added and not yet calibrated), the row of the nearest level below it
        that has one, down to the portable level's.

    Raises
    ------
    ValueError
        If ``level`` is in neither :data:`CALIBRATION` nor the table.
    """
    from convcore._isa import isa_levels

    if level in CALIBRATION:
        return CALIBRATION[level]
    levels = isa_levels()
    if level not in levels:
        raise ValueError(
            f"unknown SIMD level {level!r}: choose one of {', '.join(levels)}")
    i = levels.index(level)
    while i > 0 and levels[i] not in CALIBRATION:
        i -= 1
    return CALIBRATION.get(levels[i], CALIBRATION["generic"])


# Winograd must beat the direct/im2col prediction by this factor to be chosen: its
# predictions are rough, its float32 error grows with the channels (~2e-5 at 512), and
# direct is exact and bitwise stable.
_FAST_MARGIN = 1.25
# FFT needs only to be predicted faster: its error stays near float rounding (~3e-7 in
# float32), and with the constants below the model's ratio of direct's time to FFT's
# came within 10% of the measured one on one thread and 13% on two (images of 512^2 to
# 2048^2, a 10^6-sample signal, both levels and dtypes), where a margin would leave
# FFT's wins of up to 1.2-1.4x to direct.
_FFT_MARGIN = 1.0
# What a thread adds to the FFT route's speed, and the chunks per thread it needs for
# that: the 2048^2 image with 13x13 to 17x17 kernels (21-25 chunks) ran 1.49-1.73x
# faster on two threads than on one (float32 and float64, both levels, AMD EPYC Zen 4
# class, 2026-12-05), where the direct kernel ran 1.86-2.0x faster; with 2-6 chunks
# (512^2 and 1024^2 images, the 10^6-sample signal) the FFT's two-thread speed varied
# from 0.65x to 1.5x its one-thread speed between runs, so the model counts no gain.
_FFT_THREAD_GAIN = 0.55
_FFT_CHUNKS_PER_THREAD = 8
# The FFT's float64 rate over its float32 rate (counted flops): 0.55-0.68 on the same
# images and the 10^6-sample signal, one thread; the SIMD kernels run at 0.5.
_FFT_RATE_F64 = 0.6
# The layers calibrate() times: (algorithm, input (N, C, H, W), weight shape, padding).
# Winograd is timed on a GEMM-bound and a transform-bound layer (its rate: the mean).
_CALIBRATION_CASES = (
    ("direct", (1, 64, 56, 56), (64, 64, 3, 3), 1),
    ("im2col", (1, 64, 56, 56), (64, 64, 3, 3), 1),
    ("winograd", (1, 256, 28, 28), (256, 256, 3, 3), 1),
    ("winograd", (1, 64, 112, 112), (64, 64, 3, 3), 1),
    ("fft", (1, 1, 512, 512), (1, 1, 31, 31), 15),
)


# One value Winograd moves (AlgorithmCost.moved_elements: transformed tiles and weights
# written and read back) costs as much as this many GEMM flops; the transforms' own
# arithmetic is too small to count beside it.  Fitted with the rates above: the layers
# with few tiles and many channels (512@7 at batch 1: 4 tiles, 9.4 M transformed weights)
# are where the moves outweigh the GEMMs' savings.
_MOVE_WEIGHT = 18


def _winograd_work(c: AlgorithmCost) -> float:
    """Winograd's work in GEMM-flop equivalents: its GEMMs and the values it moves."""
    return c.flops - c.transform_flops + _MOVE_WEIGHT * c.moved_elements


def _narrow(cg: int, kg: int) -> float:
    """Fraction of its rate a GEMM keeps on Cg x Kg channel blocks (narrow layers pack
    and copy more per multiply-add)."""
    return max(min(1.0, cg / 64) * min(1.0, kg / 64), 0.05)


def _direct_share(cg: int, kg: int, row_blocks: bool = False) -> float:
    """Fraction of its rate the direct kernel keeps on Cg x Kg channels per group: a
    one-channel filter (one input and one output channel) row by row leaves its
    accumulators waiting on input loads and runs at about half the rate of layers with
    16 channel pairs or more (one thread, AMD EPYC Zen 4 class, 2026-12-05: 53-63
    GFLOP/s on one-channel images, 85-109 on 1->8, 4->4, 8->8, 2->32 and 3->16 channels
    with 7x7 to 11x11 kernels at both levels, each on the tile the kernel picks).  In
    blocks of output rows (``row_blocks``, :func:`_row_blocks`) it keeps the whole rate:
    the model's ratio of its time to FFT's matched the measured one with a share of
    0.82-0.98 at AVX-512 and 1.00-1.12 at AVX2 (2048^2 images, 11x11 to 25x25, both
    dtypes, one thread, 2026-12-05; docs/algorithms.md)."""
    if row_blocks:
        return 1.0
    return 0.5 + 0.5 * min(1.0, cg * kg / 16)


# Output rows of the one-channel blocks (CC_R_BLOCK in every kernels/<isa>.c).
_ROW_BLOCK = 4


def _row_blocks(g, dtype=np.float32) -> bool:
    """Whether the direct kernel runs the 2-D geometry ``g`` in blocks of ``_ROW_BLOCK``
    output rows at the active level (``FN(one_blocks)`` in
    csrc/kernels/conv_direct_ukernel.h): on its one-channel tile, stride and dilation 1,
    kernels and bands of at least a block's rows, rows of at least two vectors."""
    if len(g.kernel) != 2 or g.stride != (1, 1) or g.dilation != (1, 1):
        return False
    plan = _conv.direct_plan(g, dtype)
    return (plan["tile"] == "one" and g.kernel[0] >= _ROW_BLOCK
            and min(plan["band"], g.out[0]) >= _ROW_BLOCK and g.out[1] >= 2 * plan["lanes"])


def _thread_speedup(c: AlgorithmCost, threads: int) -> float:
    """How much faster ``c``'s route runs on ``threads`` threads than on one.  The C
    kernels share out their work items (``work_items`` pieces, 0 for as many as there
    are threads) evenly; the FFT route gains ``_FFT_THREAD_GAIN`` of a thread per thread
    added where it has ``_FFT_CHUNKS_PER_THREAD`` chunks per thread, else nothing (its
    window copies and scatters hold the GIL); measured on two threads, extrapolated
    beyond."""
    if threads <= 1:
        return 1.0
    if c.name == "fft":
        many = c.work_items >= _FFT_CHUNKS_PER_THREAD * threads
        return 1.0 + _FFT_THREAD_GAIN * (threads - 1) if many else 1.0
    if c.work_items <= 0:
        return float(threads)
    return c.work_items / -(-c.work_items // threads)


def predicted_seconds(costs: dict[str, AlgorithmCost], g_channels: tuple[int, int],
                      level: str | None = None, threads: int = 1,
                      rates: dict | None = None, dtype=np.float32,
                      row_blocks: bool = False) -> dict[str, float]:
    """Predicted run time of each applicable algorithm: its flops over the calibrated
    rate of SIMD ``level`` (default: the level the kernels use now), on ``threads``.

    ``g_channels`` is (C // groups, K // groups): the GEMMs of im2col and the matrices
    run at ``min(1, Cg / 64) * min(1, Kg / 64)`` of their rate on narrow layers; direct
    at ``0.5 + 0.5 min(1, Cg Kg / 16)``, or its whole rate in blocks of output rows
    (:func:`_direct_share`).  Winograd's time is
    its GEMM flops plus ``_MOVE_WEIGHT`` GEMM flops per value it moves
    (``moved_elements``), at its rate.  sparse and dense use the im2col rate.  In
    float64 the SIMD kernels run at half their float32 rate (half the lanes) and the
    FFT at ``_FFT_RATE_F64`` of its.  On several threads each time is divided by the
    route's speedup (:func:`_thread_speedup`: its work items or chunks, shared out).

    Parameters
    ----------
    costs : dict of str to AlgorithmCost
        :func:`algorithm_costs`' answer.
    g_channels : (int, int)
        Input and output channels per group.
    level : str, optional
        A SIMD level of :data:`CALIBRATION` (default: the one in use).
    threads : int
        Threads the routes run on (1: one-thread times).
    rates : dict, optional
        Rates to use instead of the level's :data:`CALIBRATION` row.
    dtype : float32 or float64
        The dtype the costs were computed for.
    row_blocks : bool
        Whether the direct kernel runs the layer in blocks of output rows (one-channel
        filters of 4 kernel rows or more at stride 1: :func:`_row_blocks`).

    Examples
    --------
    >>> from convcore.analysis import algorithm_costs, predicted_seconds
    >>> c = algorithm_costs((56, 56), (3, 3), 256, 256, padding=1)
    >>> t = predicted_seconds(c, (256, 256), "avx2")
    >>> t["winograd"] < t["direct"]
    True
    """
    from convcore import _conv as conv_ext

    rates = rates or calibration_rates(level or conv_ext.simd_level())
    wide = np.dtype(dtype).itemsize == 8
    simd = 0.5 if wide else 1.0
    cg, kg = g_channels
    out = {}
    for name, c in costs.items():
        if not c.applicable:
            continue
        if name == "fft":
            rate = rates["fft"] * (_FFT_RATE_F64 if wide else 1.0)
        elif name == "direct":
            rate = rates["direct"] * simd * _direct_share(cg, kg, row_blocks)
        elif name == "winograd" and c.moved_elements == 0:  # stride 2: products in
            rate = rates["direct"] * simd  # registers, on a tile like the direct kernel's
        elif name == "winograd":
            rate = rates["winograd"] * simd
        else:
            rate = rates["im2col"] * simd * _narrow(cg, kg)
        work = _winograd_work(c) if name == "winograd" else c.flops
        out[name] = work / rate * 1e-9 / _thread_speedup(c, max(threads, 1))
    return out


def calibrate(repeats: int = 5) -> dict[str, float]:
    """Measure this machine's rates (GFLOP/s per thread as counted by
    :func:`algorithm_costs`) at the current SIMD level, on one thread: the numbers
    :data:`CALIBRATION` holds per level.

    Examples
    --------
    >>> from convcore.analysis import calibrate
    >>> sorted(calibrate(repeats=1))                      # doctest: +SKIP
    ['direct', 'fft', 'im2col', 'winograd']
    """
    import time

    import convcore

    rng = np.random.default_rng(0)
    old = convcore.get_num_threads()
    rates, wino = {}, []
    try:
        convcore.set_num_threads(1)
        for name, xs, ws, pad in _CALIBRATION_CASES:
            x = rng.standard_normal(xs).astype(np.float32)
            w = rng.standard_normal(ws).astype(np.float32)
            c = algorithm_costs(xs[2:], ws[2:], xs[1], ws[0], padding=pad, threads=1)[name]
            convcore.conv2d(x, w, padding=pad, algorithm=name)
            times = []
            for _ in range(max(1, repeats)):
                t0 = time.perf_counter()
                convcore.conv2d(x, w, padding=pad, algorithm=name)
                times.append(time.perf_counter() - t0)
            t = float(np.median(times))
            rate = c.flops / t * 1e-9
            if name == "winograd":
                wino.append(_winograd_work(c) / t * 1e-9)
                continue
            if name == "im2col":
                rate /= _narrow(xs[1], ws[0])
            elif name == "direct":
                rate /= _direct_share(xs[1], ws[0])
            rates[name] = round(rate, 2)
        rates["winograd"] = round(float(np.mean(wino)), 2)
    finally:
        convcore.set_num_threads(old)
    return rates


def _machine_threads() -> int:
    """The thread count auto's FFT choice assumes: the kernels' default
    (:func:`convcore._threads.default_threads`), not the one set_num_threads sets, so
    that the thread setting never changes the route, and so the bits, of a call."""
    from convcore._threads import default_threads

    return default_threads()


def _choose_fast_algorithm(g, dtype=np.float32) -> str | None:
    """'winograd' or 'fft' when the calibrated cost model predicts it beats the direct
    and im2col kernels on the validated geometry ``g`` at the SIMD level in use: by
    ``_FAST_MARGIN`` for Winograd (both predicted on one thread: they share out their
    work alike), by ``_FFT_MARGIN`` for FFT (predicted in ``dtype`` on the kernels'
    default thread count, :func:`_machine_threads`: the FFT route gains less from
    threads than the direct kernel); else None (functional.choose_algorithm then picks
    direct or im2col).

    Winograd is considered for 3x3 stride-1 layers only (a conv1d geometry is a conv2d
    one of height 1 with a 1xS kernel, which conv2d's Winograd refuses), with at least
    16 channels in and out per group; FFT for kernels of 49 taps or more on at most 64
    channel pairs.  Answers are cached per geometry, dtype and level.
    """
    Cg, Kg = g.C // g.groups, g.K // g.groups
    wino = ((g.R, g.S) == (3, 3) and g.stride == (1, 1) and g.dilation == (1, 1)
            and Cg >= 16 and Kg >= 16)
    big_kernel = g.R * g.S >= 49 and Cg * Kg <= 64
    if not wino and not big_kernel:
        return None            # neither can win: skip building the costs
    level = _conv.simd_level()
    itemsize = np.dtype(dtype).itemsize
    key = (g, level, itemsize)
    hit = _CHOICES.get(key)
    if hit is not None:
        return hit or None
    choice = None
    threads = _machine_threads() if big_kernel else 1
    costs = algorithm_costs((g.H, g.W), (g.R, g.S), g.C, g.K, g.stride, g.pad, g.dilation,
                            g.groups, batch=g.N, dtype=dtype, threads=threads)
    t = predicted_seconds(costs, (Cg, Kg), level, threads=threads, dtype=dtype,
                          row_blocks=big_kernel and _row_blocks(g, dtype))
    base = min(t["direct"], t.get("im2col", math.inf))
    if wino and "winograd" in t and t["winograd"] * _FAST_MARGIN <= base:
        choice = "winograd"
    elif big_kernel and "fft" in t and t["fft"] * _FFT_MARGIN < base:
        choice = "fft"
    if len(_CHOICES) >= 256:
        _CHOICES.clear()
    _CHOICES[key] = choice or ""
    return choice


_CHOICES: dict = {}
