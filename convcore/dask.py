"""Convolution and pooling over Dask arrays: one convcore call per output block.

Pooling is planned over any number of spatial axes (max_pool2d/3d, avg_pool2d/3d): each
axis independently, as described here for H and W.

The functions here take a :class:`dask.array.Array` and return a lazy one.  Each block
of the result is computed by :func:`convcore.conv2d` or :func:`convcore.conv3d` (or the
pooling functions) on exactly the input it needs, so images and volumes larger than
memory are filtered block by block and a batch is spread over threads or a
:mod:`dask.distributed` cluster.

How the blocks are made, along each spatial axis (D, H, W) independently:

- Output chunks follow the input chunks: output ``o`` goes with the input chunk that
  holds its window's centre tap, input index ``o * stride - pad_before +
  (dilation * (kernel - 1)) // 2`` (clamped to the image).  A 'same' convolution at
  stride 1 keeps the input chunks; at stride ``s`` a chunk of ``c`` rows gives about
  ``c / s`` output rows (exactly, for chunks that are multiples of ``s``, with a 2x2/2
  pool or a 3x3/2 window padded by 1).  A chunk that would get no output is dropped.
- The halo is exactly the receptive field: an output block ``[o0, o1)`` reads input
  rows ``o0 * stride - pad_before`` to ``(o1 - 1) * stride - pad_before + dilation *
  (kernel - 1)``, taken from whichever input chunks hold them (a halo may span several
  small chunks).  Only the parts of neighbouring chunks a block needs are copied out.
- The image border: a convolution block gets the part of that range outside the image
  as its own asymmetric zero padding, so every output is computed from the same taps as
  on the whole array.  A pooling block at the border is padded explicitly (-inf for
  max, 0 for average) and average pooling's divisors are those of the whole array.

The results equal the in-memory functions on the computed array: pooling exactly (max
is exact, and a window's sum runs in the same row-major order and is divided by the same
divisor), the direct convolution exactly (each output accumulates its products in one
fixed order wherever it sits in its row), im2col exactly too (each output is its bias
plus its column rows' products in their order, whatever tile it falls in), and
``algorithm="auto"`` to rounding (it may choose differently for a block than for the
whole array).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from convcore import _geometry, functional, pooling
from convcore._checks import as_bool, did_you_mean

try:
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph
except ImportError as exc:  # the extra is optional
    raise ImportError(
        'convcore.dask needs Dask: pip install "dask[array]" distributed '
        '(or, in a convcore checkout, pip install -e ".[dask]")'
    ) from exc

__all__ = ["ChannelRechunkWarning", "avg_pool2d", "conv2d", "conv3d", "max_pool2d"]
__all__ += ["avg_pool3d", "max_pool3d"]

# int, (ph, pw), ((top, bottom), (left, right)), 'same' or 'valid'
Padding = int | str | tuple[int, int] | tuple[tuple[int, int], tuple[int, int]]
# int, (pd, ph, pw), three (before, after) pairs, 'same' or 'valid'
Padding3 = int | str | tuple[int, int, int] | tuple[tuple[int, int], ...]


class ChannelRechunkWarning(da.PerformanceWarning):
    """The input's channels were split across chunks and had to be rechunked."""


@dataclass(frozen=True)
class _Span:
    """One output block along one axis.

    Outputs ``[o0, o1)`` read input ``[lo, hi)``, which may reach into the padding;
    ``pieces`` are (chunk index, start, stop) in chunk coordinates and cover the part of
    ``[lo, hi)`` inside the input, ``[max(lo, 0), min(hi, size))``.
    """

    o0: int
    o1: int
    lo: int
    hi: int
    pieces: tuple[tuple[int, int, int], ...]


def _plan_axis(size: int, chunks: tuple[int, ...], kernel: int, stride: int, dilation: int,
               pad_before: int, n_out: int) -> list[_Span]:
    """Output blocks along one axis of ``size`` cells split into ``chunks``."""
    reach = dilation * (kernel - 1)
    centre = reach // 2 - pad_before  # input index of output 0's centre tap
    starts = [0]
    for c in chunks:
        starts.append(starts[-1] + c)
    bounds = [0]
    for b in starts[1:-1]:
        # first output whose centre tap is at or after input index b
        bounds.append(min(max(-(-(b - centre) // stride), 0), n_out))
    bounds.append(n_out)
    spans = []
    for o0, o1 in zip(bounds[:-1], bounds[1:], strict=True):
        if o1 <= o0:
            continue
        lo = o0 * stride - pad_before
        hi = (o1 - 1) * stride - pad_before + reach + 1
        a, b = max(lo, 0), min(hi, size)
        pieces = []
        j = max(bisect.bisect_right(starts, a) - 1, 0)
        while a < b and j < len(chunks) and starts[j] < b:
            s0, s1 = max(a, starts[j]), min(b, starts[j + 1])
            if s0 < s1:
                pieces.append((j, s0 - starts[j], s1 - starts[j]))
            j += 1
        spans.append(_Span(o0, o1, lo, hi, tuple(pieces)))
    return spans


def _take(chunk: np.ndarray, bounds: tuple[tuple[int, int], ...], copy: bool) -> np.ndarray:
    """Part of an input chunk (``bounds``: (start, stop) along each of its last axes); a
    copy when small, so the chunk itself can be freed."""
    part = chunk[(..., *(slice(a, b) for a, b in bounds))]
    return part.copy() if copy else part


def _assemble(pieces: list) -> np.ndarray:
    """One array from a grid of pieces nested one list per spatial axis (outermost the
    first axis, e.g. rows along H holding columns along W; the scheduler may hand the
    lists over as tuples)."""
    def depth(p):
        return 1 + depth(p[0]) if isinstance(p, list | tuple) else 0

    nd = depth(pieces)

    def join(p, axis):
        if not isinstance(p, list | tuple):
            return p
        parts = [join(q, axis + 1) for q in p]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis - nd)

    return join(pieces, 0)


def _input_grid(x, layer: dict, halo_name: str, in_lead: tuple, spans) -> list:
    """Keys of the input pieces of one block (``spans``: one _Span per spatial axis),
    nested one list per axis, adding a slicing task for each partial chunk to
    ``layer``."""
    nd = len(spans)

    def grid(axis, chunk_ids, bounds):
        if axis == nd:
            key = (x.name, *in_lead, *chunk_ids)
            sizes = tuple(x.chunks[a - nd][j] for a, j in enumerate(chunk_ids))
            if bounds != tuple((0, n) for n in sizes):
                part = (halo_name, *in_lead, *chunk_ids, *(v for b in bounds for v in b))
                copy = 2 * math.prod(b - a for a, b in bounds) <= math.prod(sizes)
                layer[part] = (_take, key, bounds, copy)
                key = part
            return key
        return [grid(axis + 1, (*chunk_ids, j), (*bounds, (a, b)))
                for j, a, b in spans[axis].pieces]

    return grid(0, (), ())


def _check_dask_input(name: str, x):
    if not isinstance(x, da.Array):
        raise TypeError(
            f"{name}: x must be a dask.array.Array, got {type(x).__name__}; for an array "
            f"in memory call convcore.{name}"
        )
    if any(math.isnan(c) for axis in x.chunks for c in axis):
        raise ValueError(
            f"{name}: x has unknown chunk sizes {x.chunks}; call x.compute_chunk_sizes() "
            "first"
        )


def _stand_in(x) -> np.ndarray:
    """A zero-stride array of x's shape and dtype, for validating without computing."""
    return np.broadcast_to(np.zeros((), dtype=x.dtype), x.shape)


def _meta(ndim: int, dtype) -> np.ndarray:
    return np.empty((0,) * ndim, dtype=dtype)


# ---------------------------------------------------------------------------- conv2d


@dataclass(frozen=True)
class _ConvBlock:
    """What one output block of a convolution needs besides its input pieces."""

    nd: int
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    algorithm: str
    pads: tuple[tuple[int, int], ...]
    zeros_shape: tuple[int, ...] | None  # the block reads no input: convolve zeros
    dtype: np.dtype


def _conv_block(pieces, weight, bias, spec: _ConvBlock) -> np.ndarray:
    if spec.zeros_shape is not None:
        x = np.zeros(spec.zeros_shape, dtype=spec.dtype)
    else:
        x = _assemble(pieces)
    conv = functional.conv3d if spec.nd == 3 else functional.conv2d
    return conv(x, weight, bias, spec.stride, spec.pads, spec.dilation, spec.groups,
                algorithm=spec.algorithm)


def _block_pads(spans: tuple[_Span, ...], sizes: tuple[int, ...]):
    """The block's own padding: the part of its receptive field outside the input."""
    return tuple((max(s.lo, 0) - s.lo, s.hi - min(s.hi, n))
                 for s, n in zip(spans, sizes, strict=True))


def _conv(nd: int, x, weight, bias, stride, padding, dilation, groups, algorithm):
    """The graph of a conv{nd}d over a Dask array (validated by the in-memory checks)."""
    name = f"conv{nd}d"
    _check_dask_input(name, x)
    g, _, weight, bias, dtype, batched = _geometry.prepare_conv(nd, _stand_in(x), weight, bias,
                                                             stride, padding, dilation,
                                                             groups)
    allowed = functional.ALGORITHMS if nd < 3 else ("auto", "direct", "im2col", "winograd")
    if algorithm not in allowed:
        raise ValueError(f"algorithm must be one of {allowed}, got {algorithm!r}"
                         + did_you_mean(algorithm, allowed))
    channel_axis = x.ndim - nd - 1
    if len(x.chunks[channel_axis]) > 1:
        warnings.warn(
            f"{name}: x has its {g.C} channels in {len(x.chunks[channel_axis])} chunks "
            f"{x.chunks[channel_axis]}; rechunking to one chunk along C (every output "
            "reads all channels of its group)",
            ChannelRechunkWarning,
            stacklevel=3,
        )
        x = x.rechunk({channel_axis: -1})
    plans = [_plan_axis(g.in_sizes[d], x.chunks[x.ndim - nd + d], g.kernel[d], g.stride[d],
                        g.dilation[d], g.pad[d][0], g.out[d]) for d in range(nd)]
    token = tokenize(x, weight, bias, g, algorithm)
    out_name, halo_name = f"convcore-{name}-{token}", f"convcore-{name}-halo-{token}"
    weight_key, bias_key = f"convcore-{name}-weight-{token}", None
    layer: dict = {weight_key: weight}
    if bias is not None:
        bias_key = f"convcore-{name}-bias-{token}"
        layer[bias_key] = bias
    n_chunks = x.chunks[0] if batched else (None,)
    for n, n_len in enumerate(n_chunks):
        in_lead, out_lead = ((n, 0), (n, 0)) if batched else ((0,), (0,))
        for blocks in itertools.product(*(enumerate(p) for p in plans)):
            spans = tuple(span for _, span in blocks)
            spec_pads = _block_pads(spans, g.in_sizes)
            zeros_shape = None
            grid: list = []
            if all(s.pieces for s in spans):
                grid = _input_grid(x, layer, halo_name, in_lead, tuple(spans))
            else:  # every window of the block lies in the padding
                lead = (n_len, g.C) if batched else (g.C,)
                zeros_shape = (*lead, *(1,) * nd)
                spec_pads = tuple((s.hi - s.lo - 1, 0) for s in spans)
            spec = _ConvBlock(nd, g.stride, g.dilation, g.groups, algorithm, spec_pads,
                              zeros_shape, x.dtype)
            layer[(out_name, *out_lead, *(b for b, _ in blocks))] = (
                _conv_block, grid, weight_key, bias_key, spec)
    spatial = tuple(tuple(s.o1 - s.o0 for s in p) for p in plans)
    chunks = ((x.chunks[0], (g.K,)) if batched else ((g.K,),)) + spatial
    graph = HighLevelGraph.from_collections(out_name, layer, dependencies=[x])
    return da.Array(graph, out_name, chunks, meta=_meta(x.ndim, dtype))


def conv2d(x: da.Array, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: int | tuple[int, int] = 1, padding: Padding = 0,
           dilation: int | tuple[int, int] = 1, groups: int = 1, *,
           algorithm: str = "auto") -> da.Array:
    """2-D convolution of a Dask array, block by block, as :func:`convcore.conv2d`.

    Each output block is one :func:`convcore.conv2d` call on the input rows and columns
    its windows read (its receptive field, taken from as many input chunks as it
    spans), with the part of that field outside the image passed as the block's own
    zero padding.  Output chunks follow the input chunks: an output goes with the input
    chunk that holds its window's centre tap, so 'same' at stride 1 keeps the chunks
    and stride ``s`` divides them by about ``s``.

    Parameters
    ----------
    x : dask.array.Array, shape (N, C, H, W) or (C, H, W)
        Chunked along any of N, H and W.  Channels must be in one chunk; if they are
        not, x is rechunked along C with a :class:`ChannelRechunkWarning`.
    weight : array_like, shape (K, C // groups, R, S)
        Filters, in memory (shipped once to every worker).
    bias : array_like, shape (K,), optional
    stride, padding, dilation, groups, algorithm
        As :func:`convcore.conv2d`: every padding form ('same', 'valid', int, per
        dimension, ((top, bottom), (left, right))), any stride and dilation, whether or
        not it divides the chunk sizes.

    Returns
    -------
    dask.array.Array, shape (N, K, Hout, Wout) or (K, Hout, Wout)
        Lazy; chunks: N as x, K in one chunk, H and W by the rule above.  Computed, it
        equals :func:`convcore.conv2d` on the computed x: exactly with
        ``algorithm="direct"`` or ``"im2col"``, to rounding otherwise; dtype as there.

    Raises
    ------
    TypeError
        x not a Dask array; bad dtypes or parameter types (as :func:`convcore.conv2d`).
    ValueError
        x with unknown chunk sizes; shapes or parameters :func:`convcore.conv2d` rejects
        (checked here, before anything is computed).

    Notes
    -----
    Each block's kernel uses :func:`convcore.get_num_threads` threads.  Under Dask's
    threaded scheduler, which already runs blocks in parallel, ``convcore.set_num_threads(1)``
    avoids oversubscribing the cores; ``dask.distributed`` workers start with
    ``OMP_NUM_THREADS=1``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import convcore, convcore.dask
    >>> x = da.arange(64.0, chunks=16).reshape(1, 1, 8, 8).rechunk((1, 1, 4, 4))
    >>> w = np.ones((2, 1, 3, 3))
    >>> y = convcore.dask.conv2d(x, w, padding="same")
    >>> y.shape, y.chunks
    ((1, 2, 8, 8), ((1,), (2,), (4, 4), (4, 4)))
    >>> np.allclose(y.compute(), convcore.conv2d(x.compute(), w, padding="same"))
    True
    >>> convcore.dask.conv2d(x, w, stride=3).chunks      # 2 x 2 outputs: one per chunk
    ((1,), (2,), (1, 1), (1, 1))
    """
    return _conv(2, x, weight, bias, stride, padding, dilation, groups, algorithm)


def conv3d(x: da.Array, weight: ArrayLike, bias: ArrayLike | None = None,
           stride: int | tuple[int, int, int] = 1, padding: Padding3 = 0,
           dilation: int | tuple[int, int, int] = 1, groups: int = 1, *,
           algorithm: str = "auto") -> da.Array:
    """3-D convolution of a Dask array, block by block, as :func:`convcore.conv3d`.

    For volumes larger than memory: each output block is one :func:`convcore.conv3d`
    call on exactly the input its windows read (along depth, height and width, taken
    from as many input chunks as it spans), with the part of that field outside the
    volume passed as the block's own zero padding.  Output chunks follow the input
    chunks along each spatial axis, by the rule of :func:`conv2d`.

    Parameters
    ----------
    x : dask.array.Array, shape (N, C, D, H, W) or (C, D, H, W)
        Chunked along any of N, D, H and W.  Channels must be in one chunk; if they are
        not, x is rechunked along C with a :class:`ChannelRechunkWarning`.
    weight : array_like, shape (K, C // groups, T, R, S)
        Filters, in memory (shipped once to every worker).
    bias : array_like, shape (K,), optional
    stride, padding, dilation, groups, algorithm
        As :func:`convcore.conv3d` ('auto', 'direct', 'im2col' or 'winograd').

    Returns
    -------
    dask.array.Array, shape (N, K, Dout, Hout, Wout) or (K, Dout, Hout, Wout)
        Lazy; chunks: N as x, K in one chunk, D, H and W by the rule above.  Computed, it
        equals :func:`convcore.conv3d` on the computed x: exactly with
        ``algorithm="direct"``, to rounding otherwise.

    Raises
    ------
    TypeError
        x not a Dask array; bad dtypes or parameter types (as :func:`convcore.conv3d`).
    ValueError
        x with unknown chunk sizes; shapes or parameters :func:`convcore.conv3d` rejects
        (checked here, before anything is computed).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import convcore, convcore.dask
    >>> x = da.random.default_rng(0).random((1, 2, 8, 8, 8), chunks=(1, 2, 4, 4, 4))
    >>> w = np.ones((3, 2, 3, 3, 3))
    >>> y = convcore.dask.conv3d(x, w, padding=1)
    >>> y.chunks
    ((1,), (3,), (4, 4), (4, 4), (4, 4))
    >>> np.allclose(y.compute(), convcore.conv3d(x.compute(), w, padding=1))
    True
    """
    return _conv(3, x, weight, bias, stride, padding, dilation, groups, algorithm)


# ---------------------------------------------------------------------------- pooling


@dataclass(frozen=True)
class _PoolBlock:
    """What one output block of a pooling needs besides its input pieces (tuples hold one
    entry per spatial axis)."""

    kind: str  # "max" or "avg"
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad: tuple[int, ...]  # the whole array's padding (for divisors and indices)
    size: tuple[int, ...]  # the whole array's spatial sizes
    spans: tuple[tuple[int, int, int, int], ...]  # (o0, o1, lo, hi) per axis
    lead: tuple[int, ...]  # the block's (N, C) or (C,) sizes
    dtype: np.dtype
    count_include_pad: bool = True
    divisor_override: int | None = None
    return_indices: bool = False


_POOLS = {("max", 2): pooling.max_pool2d, ("avg", 2): pooling.avg_pool2d,
          ("max", 3): pooling.max_pool3d, ("avg", 3): pooling.avg_pool3d}


def _padded_block(pieces, spec: _PoolBlock, fill) -> np.ndarray:
    """The block's receptive field with the cells outside the input set to ``fill``."""
    out = np.full((*spec.lead, *(hi - lo for _, _, lo, hi in spec.spans)), fill,
                  dtype=spec.dtype)
    if pieces:
        inside = _assemble(pieces)
        at = tuple(slice(max(lo, 0) - lo, max(lo, 0) - lo + n)
                   for (_, _, lo, _), n in zip(spec.spans, inside.shape[-len(spec.spans):],
                                               strict=True))
        out[(..., *at)] = inside
    return out


def _first_inside(o0, o1, kernel, stride, dilation, pad, size) -> np.ndarray:
    """Per output, the input index of its window's first tap inside [0, size), or -1."""
    start = np.arange(o0, o1, dtype=np.int64) * stride - pad
    first_tap = np.maximum(-(start // dilation), 0)  # ceil(-start / dilation), >= 0
    at = start + first_tap * dilation
    return np.where((first_tap < kernel) & (at < size), at, -1)


def _outer(vectors: list[np.ndarray]) -> list[np.ndarray]:
    """Per-axis vectors shaped to broadcast against each other (axis a along axis a)."""
    nd = len(vectors)
    return [v.reshape((1,) * a + (-1,) + (1,) * (nd - 1 - a)) for a, v in enumerate(vectors)]


def _global_indices(idx: np.ndarray, spec: _PoolBlock) -> np.ndarray:
    """Argmax positions in the block's field as flat positions in the whole plane.

    A window whose maximum is -inf keeps its initial index, which in a padded block may
    be a padding cell; the whole array's kernel starts from the window's first cell
    inside the input instead (or -1 when there is none), so that is put back.
    """
    field = tuple(hi - lo for _, _, lo, hi in spec.spans)
    coords = np.unravel_index(np.maximum(idx, 0), field)
    coords = [c + lo for c, (_, _, lo, _) in zip(coords, spec.spans, strict=True)]
    inside = idx >= 0
    for c, n in zip(coords, spec.size, strict=True):
        inside &= (c >= 0) & (c < n)
    flat = np.ravel_multi_index(tuple(np.where(inside, c, 0) for c in coords), spec.size)
    if inside.all():
        return flat
    first = _outer([_first_inside(o0, o1, k, s, d, p, n) for (o0, o1, _, _), k, s, d, p, n
                    in zip(spec.spans, spec.kernel, spec.stride, spec.dilation, spec.pad,
                           spec.size, strict=True)])
    ok = functools.reduce(np.logical_and, [f >= 0 for f in first])
    initial = np.where(ok, np.ravel_multi_index(tuple(np.maximum(f, 0) for f in first),
                                                spec.size), -1)
    return np.where(inside, flat, initial)


def _avg_divisors(o0, o1, kernel, stride, pad, size, count_include_pad) -> np.ndarray:
    """Cells of each window along one axis that the whole array's average counts."""
    start = np.arange(o0, o1, dtype=np.int64) * stride - pad
    end = np.minimum(start + kernel, size + pad)  # the ceil-mode overhang never counts
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def _pool_block(pieces, spec: _PoolBlock):
    nd = len(spec.size)
    inside = all(lo >= 0 and hi <= n for (_, _, lo, hi), n in zip(spec.spans, spec.size,
                                                                  strict=True))
    pool = _POOLS[spec.kind, nd]
    if spec.kind == "max":
        x = _assemble(pieces) if inside else _padded_block(pieces, spec, -np.inf)
        res = pool(x, spec.kernel, spec.stride, 0, spec.dilation, False, spec.return_indices)
        if spec.return_indices:
            return res[0], _global_indices(res[1], spec)
        return res
    if inside:  # whole windows: both divisor rules give the window's size
        return pool(_assemble(pieces), spec.kernel, spec.stride, 0, False,
                    spec.count_include_pad, spec.divisor_override)
    x = _padded_block(pieces, spec, 0)
    if spec.divisor_override is not None:
        return pool(x, spec.kernel, spec.stride, 0, False, True, spec.divisor_override)
    # The window sums (row-major, as the whole array's; the added zeros change none),
    # divided by the whole array's divisors, as its kernel does.
    sums = pool(x, spec.kernel, spec.stride, 0, False, True, 1)
    divisors = _outer([_avg_divisors(o0, o1, k, s, p, n, spec.count_include_pad)
                       for (o0, o1, _, _), k, s, p, n in zip(spec.spans, spec.kernel,
                                                            spec.stride, spec.pad, spec.size,
                                                            strict=True)])
    sums /= math.prod(divisors).astype(sums.dtype)
    return sums


def _pool(nd, name, x, call_args, spec_args):
    """The graph of a pooling over ``nd`` spatial axes: x validated by the in-memory
    function's own checks."""
    _check_dask_input(name, x)
    call = pooling._PoolCall(nd, name, _stand_in(x), *call_args)
    axes = slice(3 - nd, 3)
    geom = call.geom
    kernel, stride, dilation = geom.kernel[axes], geom.stride[axes], geom.dilation[axes]
    pad, size, outs = geom.padding[axes], geom.in_dhw[axes], geom.out_dhw[axes]
    spans = [_plan_axis(n, c, k, s, d, p, o) for n, c, k, s, d, p, o
             in zip(size, x.chunks[-nd:], kernel, stride, dilation, pad, outs, strict=True)]
    token = tokenize(x, name, geom, spec_args)
    out_name, halo_name = f"convcore-{name}-{token}", f"convcore-{name}-halo-{token}"
    layer: dict = {}
    lead_chunks = x.chunks[:-nd]
    for lead in np.ndindex(*(len(c) for c in lead_chunks)):
        lead_len = tuple(c[i] for c, i in zip(lead_chunks, lead, strict=True))
        for block in np.ndindex(*(len(sp) for sp in spans)):
            block_spans = tuple(sp[b] for sp, b in zip(spans, block, strict=True))
            spec = _PoolBlock(kernel=kernel, stride=stride, dilation=dilation, pad=pad,
                              size=size, spans=tuple((b.o0, b.o1, b.lo, b.hi)
                                                     for b in block_spans),
                              lead=lead_len, dtype=call.dtype, **spec_args)
            grid = _input_grid(x, layer, halo_name, lead, block_spans)
            layer[(out_name, *lead, *block)] = (_pool_block, grid, spec)
    chunks = (*lead_chunks, *(tuple(b.o1 - b.o0 for b in sp) for sp in spans))
    graph = HighLevelGraph.from_collections(out_name, layer, dependencies=[x])
    if not spec_args.get("return_indices"):
        return da.Array(graph, out_name, chunks, meta=_meta(x.ndim, call.dtype))
    pairs = da.Array(graph, out_name, chunks, meta=_meta(x.ndim, call.dtype))
    y = pairs.map_blocks(operator.getitem, 0, meta=_meta(x.ndim, call.dtype))
    idx = pairs.map_blocks(operator.getitem, 1, meta=_meta(x.ndim, pooling._INDEX_DTYPE))
    return y, idx


def _max_pool(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    return _pool(nd, f"max_pool{nd}d", x, (kernel_size, stride, padding, dilation, ceil_mode),
                 {"kind": "max", "return_indices": as_bool("return_indices", return_indices)})


def _avg_pool(nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    name = f"avg_pool{nd}d"
    _check_dask_input(name, x)
    divisor = pooling._divisor(divisor_override)
    return _pool(nd, name, x, (kernel_size, stride, padding, 1, ceil_mode),
                 {"kind": "avg",
                  "count_include_pad": as_bool("count_include_pad", count_include_pad),
                  "divisor_override": divisor or None})


def max_pool2d(x: da.Array, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
               ceil_mode: bool = False,
               return_indices: bool = False) -> da.Array | tuple[da.Array, da.Array]:
    """2-D max pooling of a Dask array, block by block, as :func:`convcore.max_pool2d`.

    Pooling works plane by plane, so x may be chunked along every axis (C included).
    Output chunks follow the input chunks (an output goes with the chunk holding its
    window's centre tap): a 2x2/2 or 3x3/2 (padding 1) pool over even chunks gives
    chunks of half the size with no halo at all.  A block at the image border is padded
    with -inf explicitly.

    Parameters
    ----------
    x : dask.array.Array, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding, dilation, ceil_mode, return_indices
        As :func:`convcore.max_pool2d` (padding symmetric, at most ``kernel_size // 2``).

    Returns
    -------
    dask.array.Array or (dask.array.Array, dask.array.Array)
        Lazy maxima and, with ``return_indices``, int64 argmax positions flat per whole
        (n, c) plane, ``ih * W + iw``.  Computed, both equal
        :func:`convcore.max_pool2d` on the computed x exactly.

    Raises
    ------
    TypeError
        x not a Dask array; bad dtypes or parameter types.
    ValueError
        x with unknown chunk sizes, or anything :func:`convcore.max_pool2d` rejects.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import convcore, convcore.dask
    >>> x = da.arange(72.0, chunks=12).reshape(2, 6, 6).rechunk((1, 3, 3))
    >>> y, idx = convcore.dask.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    >>> y.chunks
    ((1, 1), (2, 1), (2, 1))
    >>> y.compute()[0]
    array([[ 7.,  9., 11.],
           [19., 21., 23.],
           [31., 33., 35.]])
    >>> np.array_equal(idx.compute(),
    ...                convcore.max_pool2d(x.compute(), 3, 2, 1, return_indices=True)[1])
    True
    """
    return _max_pool(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool2d(x: da.Array, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True,
               divisor_override: int | None = None) -> da.Array:
    """2-D average pooling of a Dask array, block by block, as :func:`convcore.avg_pool2d`.

    Chunking and output chunks as :func:`max_pool2d`.  A block at the image border is
    padded with zeros explicitly and divides by the whole array's divisors (the cells of
    each window inside the padded input, or inside the input with
    ``count_include_pad=False``), so the result is the in-memory one exactly.

    Parameters
    ----------
    x : dask.array.Array, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As :func:`convcore.avg_pool2d`.

    Returns
    -------
    dask.array.Array
        Lazy; float32 for float32 x, else float64.

    Raises
    ------
    TypeError
        x not a Dask array; bad dtypes or parameter types.
    ValueError
        x with unknown chunk sizes, or anything :func:`convcore.avg_pool2d` rejects.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import convcore, convcore.dask
    >>> x = da.ones((1, 4, 4), chunks=(1, 2, 2))
    >>> convcore.dask.avg_pool2d(x, 2, stride=1, padding=1).compute()[0]
    array([[0.25, 0.5 , 0.5 , 0.5 , 0.25],
           [0.5 , 1.  , 1.  , 1.  , 0.5 ],
           [0.5 , 1.  , 1.  , 1.  , 0.5 ],
           [0.5 , 1.  , 1.  , 1.  , 0.5 ],
           [0.25, 0.5 , 0.5 , 0.5 , 0.25]])
    """
    return _avg_pool(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def max_pool3d(x: da.Array, kernel_size: int | tuple[int, int, int],
               stride: int | tuple[int, int, int] | None = None,
               padding: int | tuple[int, int, int] = 0,
               dilation: int | tuple[int, int, int] = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> da.Array | tuple[da.Array, da.Array]:
    """3-D max pooling of a Dask array, block by block, as :func:`convcore.max_pool3d`.

    Volumes larger than memory: each output block is one :func:`convcore.max_pool3d` call
    on exactly its receptive field (depth, height and width planned independently, as
    :func:`max_pool2d` plans height and width), so x may be chunked along every axis.

    Parameters
    ----------
    x : dask.array.Array, shape (N, C, D, H, W) or (C, D, H, W)
    kernel_size, stride, padding, dilation, ceil_mode, return_indices
        As :func:`convcore.max_pool3d`.

    Returns
    -------
    dask.array.Array or (dask.array.Array, dask.array.Array)
        Lazy maxima and, with ``return_indices``, int64 argmax positions flat per whole
        (n, c) volume, ``(id * H + ih) * W + iw``.  Computed, both equal
        :func:`convcore.max_pool3d` on the computed x exactly.

    Raises
    ------
    TypeError, ValueError
        As :func:`max_pool2d` here, for what :func:`convcore.max_pool3d` rejects.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> import convcore, convcore.dask
    >>> x = da.arange(2 * 8 * 8 * 8.0, chunks=256).reshape(2, 8, 8, 8).rechunk(4)
    >>> y = convcore.dask.max_pool3d(x, 2)
    >>> y.chunks
    ((2,), (2, 2), (2, 2), (2, 2))
    >>> np.array_equal(y.compute(), convcore.max_pool3d(x.compute(), 2))
    True
    """
    return _max_pool(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool3d(x: da.Array, kernel_size: int | tuple[int, int, int],
               stride: int | tuple[int, int, int] | None = None,
               padding: int | tuple[int, int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True,
               divisor_override: int | None = None) -> da.Array:
    """3-D average pooling of a Dask array, block by block, as :func:`convcore.avg_pool3d`.

    Blocks as :func:`max_pool3d`; a block at the volume's border is padded with zeros
    explicitly and divides by the whole array's divisors, so the result is the
    in-memory one exactly.

    Parameters
    ----------
    x : dask.array.Array, shape (N, C, D, H, W) or (C, D, H, W)
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As :func:`convcore.avg_pool3d`.

    Returns
    -------
    dask.array.Array
        Lazy; computed, it equals :func:`convcore.avg_pool3d` on the computed x.

    Raises
    ------
    TypeError, ValueError
        As :func:`avg_pool2d` here, for what :func:`convcore.avg_pool3d` rejects.

    Examples
    --------
    >>> import dask.array as da
    >>> import convcore, convcore.dask
    >>> x = da.ones((1, 2, 2, 2), chunks=1)
    >>> convcore.dask.avg_pool3d(x, 2, stride=1, padding=1).compute()[0, 0]
    array([[0.125, 0.25 , 0.125],
           [0.25 , 0.5  , 0.25 ],
           [0.125, 0.25 , 0.125]])
    """
    return _avg_pool(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)
