"""Transposed convolution (``conv_transpose1d/2d/3d``) and its gradients.

A transposed convolution scatters every input pixel, times the kernel, into the output:
``y[n, g*Kg + k, o] += x[n, g*Cg + c, i] * weight[g*Cg + c, k, t]`` for every output
position ``o = i * stride + t * dilation - pad_before`` inside the output (per spatial
dimension).  It is the adjoint of :func:`convcore.conv2d` with the same weights, which
is why ``conv2d_backward`` computes its input gradient with it.

It is computed without inserting zeros between the input pixels.  Along a dimension of
stride ``s`` the outputs fall into ``s`` phases, ``o = r + m * s``; the outputs of one
phase are reached by the taps ``t`` with ``(r + pad - t * dilation) % s == 0`` only, and
``y[r + m * s] = sum_t x[m + (r + pad - t * dilation) // s] * weight[t]``: a stride-1
correlation of ``x`` with those taps, flipped, at dilation ``dilation / gcd(s,
dilation)``.  The ``prod(stride)`` phases run on the forward kernels
(:func:`convcore.conv2d`'s direct or im2col route), those with sub-kernels of the same
shape together as one correlation (their sub-kernels side by side as output channels),
and each phase is written to the strided output positions it owns; docs/transpose.md
derives it.  Weights that are not all finite take
a route of one GEMM per kernel tap, so an infinite weight meets only the pixels it
multiplies (the phases would also multiply it by the zeros of their padding).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from convcore import _conv, _scratch
from convcore._checks import (
    array_bytes,
    as_real_array,
    check_budget,
    compute_dtype,
    copy_bytes,
    did_you_mean,
    int_tuple,
    padding_pairs,
)
from convcore._geometry import DIM_NAMES, ConvGeometry, check_arrays, check_out, contiguous
from convcore._matmul import matmul
from convcore._shapes import check_output_padding, transpose_output_length
from convcore._threads import get_num_threads

ALGORITHMS = ("auto", "direct", "im2col", "winograd")
# the backward functions' input gradient is a forward convolution on these
BACKWARD_ALGORITHMS = ("auto", "direct", "im2col")
_X_LETTERS = {1: "(N, C_in, L)", 2: "(N, C_in, H, W)", 3: "(N, C_in, D, H, W)"}
_W_LETTERS = {1: "(C_in, C_out // groups, S)", 2: "(C_in, C_out // groups, R, S)",
              3: "(C_in, C_out // groups, T, R, S)"}


@dataclass(frozen=True)
class TransposeGeometry(ConvGeometry):
    """A validated transposed convolution, in ConvGeometry's fields: batch N, channels
    C (input) -> K (output) in ``groups`` groups; per spatial dimension the input size,
    kernel size, stride, dilation, (before, after) padding (cropped from the full
    result) and output size."""

    @property
    def macs(self) -> int:
        """Multiply-adds of the scatter (every input pixel times every tap, including
        the products that land in the cropped padding)."""
        return (self.N * self.C * (self.K // self.groups) * math.prod(self.in_sizes)
                * math.prod(self.kernel))


def prepare_transpose(nd, x, weight, bias, stride, padding, output_padding, groups,
                      dilation):
    """Validate a conv_transpose{nd}d call.

    Returns (geometry, x, weight, bias, dtype, batched): ``x`` with a batch axis,
    ``bias`` as an array or None, the result dtype and whether ``x`` had a batch axis.
    """
    x, weight, groups, batched = check_arrays(nd, x, weight, groups, _X_LETTERS[nd],
                                              _W_LETTERS[nd])
    N, C = x.shape[:2]
    if weight.shape[0] != C:
        raise ValueError(
            f"weight has {weight.shape[0]} input channels (its first axis) but x has {C} "
            f"channels; a transposed convolution's weight is {_W_LETTERS[nd]}"
        )
    K = weight.shape[1] * groups
    ksizes = tuple(weight.shape[2:])
    if any(k < 1 for k in ksizes):
        raise ValueError(f"kernel sizes must be >= 1, got weight shape {weight.shape}")
    if any(n < 1 for n in x.shape[2:]):
        raise ValueError(f"spatial sizes of x must be >= 1, got shape {x.shape}")
    strides = int_tuple("stride", stride, nd)
    dilations = int_tuple("dilation", dilation, nd)
    if isinstance(padding, str):
        raise ValueError(f"padding of a transposed convolution must be an int or a tuple; "
                         f"got {padding!r} ('same' and 'valid' are forward-convolution "
                         "forms)")
    pads = padding_pairs(padding, nd)
    ops = check_output_padding(output_padding, strides, dilations)
    outs = []
    for name, n, k, s, p, d, op in zip(DIM_NAMES[nd], x.shape[2:], ksizes, strides, pads,
                                       dilations, ops, strict=True):
        out = transpose_output_length(n, k, s, p, d, op)
        if out < 1:
            raise ValueError(
                f"padding {p[0]} + {p[1]} crops the whole {name}: the full transposed "
                f"convolution of {name} {n} (stride {s}, kernel {k}, dilation {d}, "
                f"output_padding {op}) has {out + p[0] + p[1]} pixels; output {name} "
                f"would be {out}"
            )
        outs.append(out)
    dtype = compute_dtype(x, weight)
    if bias is not None:
        bias = as_real_array("bias", bias)
        if bias.shape != (K,):
            raise ValueError(f"bias must have shape ({K},) (one per output channel); "
                             f"got shape {bias.shape}")
    geom = TransposeGeometry(N, C, K, groups, tuple(x.shape[2:]), ksizes, strides,
                             dilations, pads, tuple(outs))
    return geom, x, weight, bias, dtype, batched


# ---------------------------------------------------------------------------------------
# The phases

@dataclass(frozen=True)
class _Phase:
    """One phase along one dimension: outputs ``r, r + s, ...`` (``count`` of them),
    output ``r + m * s`` the correlation of input[base + m + j * dilation] (zero outside
    the input) with the kernel taps ``taps`` (in correlation order: the kernel flipped)."""

    r: int
    count: int
    taps: tuple[int, ...]
    dilation: int
    base: int


def _phases(n: int, n_out: int, k: int, s: int, d: int, pad_before: int) -> list[_Phase]:
    """The phases of one dimension (input size ``n``, output size ``n_out``) that some
    tap reaches from inside the input; the outputs of the others are the bias.  Found
    from the taps (tap t serves phase (t * d - pad_before) mod s), so a stride far
    larger than the kernel costs nothing."""
    by_phase: dict[int, list[int]] = {}
    for t in range(k):
        r = (t * d - pad_before) % s
        if r < n_out:
            by_phase.setdefault(r, []).append(t)
    phases = []
    for r, taps in sorted(by_phase.items()):
        count = (n_out - r + s - 1) // s
        offs = [(r + pad_before - t * d) // s for t in taps]  # input offset, decreasing
        if min(n, count + offs[0]) <= max(0, offs[-1]):  # every tap reads outside x
            continue
        dil = (offs[0] - offs[-1]) // (len(taps) - 1) if len(taps) > 1 else 1
        phases.append(_Phase(r, count, tuple(taps[::-1]), dil, offs[-1]))
    return phases


@dataclass(frozen=True)
class _Window:
    """Phases of one dimension with the same number of taps and dilation, run as one
    correlation: union output m in [0, count) reads input[base + m + j * dilation];
    phase p's outputs are union outputs [p.base - base, p.base - base + p.count)."""

    phases: tuple[_Phase, ...]
    base: int
    count: int
    lo: int           # input[lo:hi] is read ...
    hi: int
    pad: tuple[int, int]  # ... zero padded by these


def _read_span(n: int, base: int, last: int) -> tuple[int, int, tuple[int, int]]:
    """Input positions base .. last of a dimension of size n as (lo, hi, pad): the slice
    [lo, hi) of the input and the zero padding before and after it."""
    return max(0, base), min(n, last + 1), (max(0, -base), max(0, last - (n - 1)))


def _windows(n: int, phases: list[_Phase]) -> list[_Window]:
    """The phases of one dimension grouped into windows."""
    classes: dict = {}
    for p in phases:
        classes.setdefault((len(p.taps), p.dilation), []).append(p)
    out = []
    for (taps, dil), ps in classes.items():
        base = min(p.base for p in ps)
        count = max(p.base - base + p.count for p in ps)
        last = base + count - 1 + (taps - 1) * dil  # the last input position read
        out.append(_Window(tuple(ps), base, count, *_read_span(n, base, last)))
    return out


def _forward_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """(C, Kg, *k) -> (K, Cg, *k): the weight of the forward correlation each phase runs
    (input and output channels swapped within each group; a view when groups == 1)."""
    C, Kg, ks = w.shape[0], w.shape[1], w.shape[2:]
    Cg = C // groups
    wt = w.reshape(groups, Cg, Kg, *ks).swapaxes(1, 2)
    return wt.reshape(groups * Kg, Cg, *ks)


def _phase_plan(g: TransposeGeometry):
    """Per dimension, its phases (the output is their product)."""
    return [_phases(n, n_out, k, s, d, p[0]) for n, n_out, k, s, d, p in
            zip(g.in_sizes, g.out, g.kernel, g.stride, g.dilation, g.pad, strict=True)]


def _run_phases(g: TransposeGeometry, x: np.ndarray, w: np.ndarray, bias, y: np.ndarray,
                algorithm: str) -> None:
    """y (N, K, *out) = the transposed convolution of x (N, C, *in), phase by phase.

    The phases whose sub-kernels have the same shape and dilation in every dimension run
    as one correlation over the union of their input windows, their sub-kernels side by
    side as output channels (within each group): one larger call instead of several
    (for a 4x4 kernel at stride 2, one call with 4 * K outputs on a window one pixel
    larger than each phase's)."""
    from convcore.functional import _run_conv  # functional imports nothing from here

    wf = _forward_weight(w, g.groups)
    nd, G, Kg = g.nd, g.groups, g.K // g.groups
    plan = _phase_plan(g)
    yv = y.reshape(g.N, G, Kg, *g.out)
    covered = all(len(ps) == min(s, n) for ps, s, n in zip(plan, g.stride, g.out, strict=True))
    if not covered:  # outputs no tap reaches (a kernel smaller than the stride): the bias
        yv[...] = 0 if bias is None else bias.reshape(G, Kg, *(1,) * nd)
    single = covered and math.prod(len(ps) for ps in plan) == 1
    for wins in itertools.product(*(_windows(n, ps) for n, ps in zip(g.in_sizes, plan,
                                                                     strict=True))):
        combos = list(itertools.product(*(win.phases for win in wins)))
        xs = x[(slice(None), slice(None), *(slice(win.lo, win.hi) for win in wins))]
        ws = _phase_weights(wf, combos, G)
        bs = None if bias is None else np.repeat(bias.reshape(G, 1, Kg), len(combos),
                                                  axis=1).reshape(-1)
        pads = tuple(win.pad for win in wins)
        dils = tuple(win.phases[0].dilation for win in wins)
        if single:  # stride 1 (or one phase): the correlation writes y itself
            _run_conv(nd, xs, ws, bs, 1, pads, dils, G, algorithm, y)
            return
        # the merged result lives for this window only: a pooled buffer (a fresh array of
        # its size, 9 MB on a DCGAN layer, came back from the kernel zeroed each call)
        shape = (g.N, G * len(combos) * Kg, *(win.count for win in wins))
        with _scratch.scratch(math.prod(shape), y.dtype) as buf:
            part = _run_conv(nd, xs, ws, bs, 1, pads, dils, G, algorithm, buf.reshape(shape))
            part = part.reshape(g.N, G, len(combos), Kg, *shape[2:])
            for i, c in enumerate(combos):
                src = (slice(None), slice(None), i, slice(None),
                       *(slice(p.base - win.base, p.base - win.base + p.count)
                         for p, win in zip(c, wins, strict=True)))
                dst = (slice(None),) * 3 + tuple(slice(p.r, None, s)
                                                 for p, s in zip(c, g.stride, strict=True))
                _copy_into(yv[dst], part[src])


# ---------------------------------------------------------------------------------------
# The phases as one 3x3 Winograd layer

@dataclass(frozen=True)
class _Union:
    """Along one dimension of stride ``s``, all ``s`` phases with ``count`` outputs each
    (the output size a multiple of the stride), reading one window of three input
    positions: union output m reads input[base + m + j], j < 3; phase r's taps are
    ``taps[r]``, pairs (kernel tap, j)."""

    count: int
    base: int
    taps: tuple[tuple[tuple[int, int], ...], ...]


_UNION_RULE = (
    "{name}: algorithm='winograd' runs 2-D transposed convolutions with a stride above 1, "
    "dilation 1 and output sizes that are multiples of the stride, whose phases each "
    "read at most 3 neighbouring input pixels per dimension (e.g. kernel 4, stride 2, "
    "padding 1; kernel 3, stride 2); got kernel {g.kernel}, stride {g.stride}, dilation "
    "{g.dilation}, output size {g.out} (use algorithm='auto', 'direct' or 'im2col')")


def _union_plan(g: TransposeGeometry) -> list[_Union] | None:
    """Per dimension, its phases as one window of three taps, when a 2-D strided
    transposed convolution allows it (docs/transpose.md); None otherwise."""
    if g.nd != 2 or g.stride == (1, 1) or g.dilation != (1, 1):
        return None
    out = []
    for phases, s, n_out in zip(_phase_plan(g), g.stride, g.out, strict=True):
        if n_out % s or [p.r for p in phases] != list(range(s)):
            return None
        base = min(p.base for p in phases)
        taps = tuple(tuple((t, p.base - base + j * p.dilation) for j, t in enumerate(p.taps))
                     for p in phases)
        if max(j for pt in taps for _, j in pt) > 2:
            return None
        out.append(_Union(n_out // s, base, taps))
    return out


def _union_geometry(g: TransposeGeometry, plan: list[_Union]) -> tuple[ConvGeometry, tuple]:
    """The 3x3 stride-1 correlation computing every phase as an output channel (within
    each group, phase-major), and the input window it reads: (start, stop) per
    dimension."""
    pads, window = [], []
    for u, n in zip(plan, g.in_sizes, strict=True):
        lo, hi, pad = _read_span(n, u.base, u.base + u.count + 1)  # 3 taps per output
        window.append((lo, hi))
        pads.append(pad)
    sizes = tuple(b - a for a, b in window)
    phases = math.prod(g.stride)
    g2 = ConvGeometry(g.N, g.C, g.K * phases, g.groups, sizes, (3, 3), (1, 1), (1, 1),
                      tuple(pads), tuple(u.count for u in plan), "zeros")
    return g2, tuple(window)


def _union_weights(wf: np.ndarray, plan: list[_Union], groups: int) -> np.ndarray:
    """(groups * phases * Kg, Cg, 3, 3): each phase's taps of the forward weight wf (K, Cg,
    kh, kw) at their place in the 3x3 window, zeros elsewhere."""
    K, Cg = wf.shape[:2]
    Kg = K // groups
    sh, sw = (len(u.taps) for u in plan)
    wg = wf.reshape(groups, Kg, Cg, *wf.shape[2:])
    out = np.zeros((groups, sh, sw, Kg, Cg, 3, 3), wf.dtype)
    for rh, taps_h in enumerate(plan[0].taps):
        for rw, taps_w in enumerate(plan[1].taps):
            for th, jh in taps_h:
                for tw, jw in taps_w:
                    out[:, rh, rw, :, :, jh, jw] = wg[:, :, :, th, tw]
    return out.reshape(groups * sh * sw * Kg, Cg, 3, 3)


def _union_offsets(g: TransposeGeometry) -> np.ndarray:
    """Where each output channel of the union correlation starts in y (N, K, Ho, Wo) of
    image 0: channel ((grp * sh + rh) * sw + rw) * Kg + j is output channel grp * Kg + j
    at row rh, column rw (its later rows and columns follow at the strides)."""
    Kg, (sh, sw), (Ho, Wo) = g.K // g.groups, g.stride, g.out
    grp, rh, rw, j = np.meshgrid(*(np.arange(n, dtype=np.intp) for n in (g.groups, sh, sw, Kg)),
                                 indexing="ij")
    return ((grp * Kg + j) * Ho * Wo + rh * Wo + rw).reshape(-1)


def _run_union(g: TransposeGeometry, x: np.ndarray, w: np.ndarray, bias,
               y: np.ndarray) -> None:
    """y = the transposed convolution of x by one 3x3 Winograd layer whose output
    channels are the phases (each phase's taps in a 3x3 window, zeros elsewhere), its
    outputs written straight into the strided positions each phase owns."""
    from convcore import winograd

    plan = _union_plan(g)
    g2, window = _union_geometry(g, plan)
    xs = x[(slice(None), slice(None), *(slice(a, b) for a, b in window))]
    xs = np.ascontiguousarray(xs)  # a view of x itself unless a phase skips its edge rows
    w2 = _union_weights(_forward_weight(w, g.groups), plan, g.groups)
    phases = math.prod(g.stride)
    Kg = g.K // g.groups
    bc = (np.empty(0, y.dtype) if bias is None else
          np.repeat(bias.reshape(g.groups, 1, Kg), phases, axis=1).reshape(-1))
    (Hc, Wc), (Ho, Wo) = g2.in_sizes, g.out
    layout = (1, 1, g.C * Hc * Wc, 0, Hc * Wc, 0, g.K * Ho * Wo, 0, 0, xs.size, y.size,
              g.stride[0] * Wo, g.stride[1])
    winograd.run_laid_out(g2, w2, xs.reshape(-1), bc, y.reshape(-1), layout,
                          get_num_threads(), koff=_union_offsets(g))


def _predicted(g: ConvGeometry, names) -> float:
    """The cost model's fastest time of ``names`` on the correlation ``g``
    (convcore.analysis.predicted_seconds, one thread)."""
    from convcore.analysis import algorithm_costs, predicted_seconds

    costs = algorithm_costs(g.in_sizes, g.kernel, g.C, g.K, g.stride, g.pad, g.dilation,
                            g.groups, batch=g.N, threads=1)
    t = predicted_seconds(costs, (g.C // g.groups, g.K // g.groups))
    return min((t[n] for n in names if n in t), default=math.inf)


def _union_pays(g: TransposeGeometry) -> bool:
    """Whether ``auto`` runs the phases as one 3x3 Winograd layer: where it applies, with
    16 channels or more in and out per group (conv2d's rule for Winograd), and the cost
    model predicts it faster than the phase correlations (direct or im2col) with their
    copy into the output.  No margin, unlike conv2d's choice of Winograd: the model
    leaves out the 2x2 correlations' slower rate, and the layers measured ran 0.6-0.85x
    the phase route's time where it predicts 0.9-1.0 (docs/transpose.md)."""
    from convcore import _conv
    from convcore.analysis import _MOVE_WEIGHT, calibration_rates

    plan = _union_plan(g)
    if plan is None or g.C // g.groups < 16 or g.K // g.groups < 16:
        return False
    key = (g, _conv.simd_level())
    hit = _UNION_PAYS.get(key)
    if hit is not None:
        return hit
    union = _predicted(_union_geometry(g, plan)[0], ("winograd",))
    # the phase route also writes its merged result and copies it to the strided
    # positions: two moves per output, priced as Winograd's moved values are
    rate = calibration_rates(key[1])["winograd"]
    phases = 2 * g.N * g.K * math.prod(g.out) * _MOVE_WEIGHT / rate * 1e-9
    for wins in itertools.product(*(_windows(n, ps) for n, ps in zip(g.in_sizes,
                                                                     _phase_plan(g),
                                                                     strict=True))):
        count = math.prod(len(win.phases) for win in wins)
        gm = ConvGeometry(g.N, g.C, g.K * count, g.groups,
                          tuple(win.hi - win.lo for win in wins),
                          tuple(len(win.phases[0].taps) for win in wins), (1,) * g.nd,
                          tuple(win.phases[0].dilation for win in wins),
                          tuple(win.pad for win in wins),
                          tuple(win.count for win in wins), "zeros")
        phases += _predicted(gm, ("direct", "im2col"))
    pays = union < phases
    if len(_UNION_PAYS) >= 256:
        _UNION_PAYS.clear()
    _UNION_PAYS[key] = pays
    return pays


# _union_pays's answers by geometry and SIMD level
_UNION_PAYS: dict = {}


def _phase_tap_slice(taps: tuple[int, ...]) -> slice:
    """The taps of a phase (evenly spaced, in correlation order) as a slice."""
    step = taps[1] - taps[0] if len(taps) > 1 else 1
    stop = taps[-1] + step
    return slice(taps[0], None if stop < 0 else stop, step)


def _phase_weights(wf: np.ndarray, combos: list[tuple[_Phase, ...]], groups: int) -> np.ndarray:
    """(groups * len(combos) * Kg, Cg, *taps) C-contiguous: each combination of phases'
    sub-kernel of the forward weight wf (K, Cg, *k), the combinations side by side as
    output channels within each group.  The sub-kernels are basic-slice views of wf, so
    each is copied once, straight into place (docs/performance.md)."""
    K, Cg = wf.shape[:2]
    Kg = K // groups
    views = [wf[(slice(None), slice(None)) + tuple(_phase_tap_slice(p.taps) for p in c)]
             for c in combos]
    taps = views[0].shape[2:]
    out = np.empty((groups, len(combos), Kg, Cg, *taps), wf.dtype)
    for i, v in enumerate(views):
        out[:, i] = v.reshape(groups, Kg, Cg, *taps)
    return out.reshape(groups * len(combos) * Kg, Cg, *taps)


def _copy_into(dst: np.ndarray, src: np.ndarray) -> None:
    """``dst[...] = src``: by the C library's strided copy on convcore's threads where it
    applies (distinct, aligned float32/float64 arrays of one shape and dtype, dst
    writeable), else by NumPy's assignment."""
    if (dst.dtype == src.dtype and dst.dtype in (np.float32, np.float64)
            and dst.shape == src.shape and dst.ndim <= _conv.COPY_MAX_DIMS
            and dst.flags.writeable and dst.flags.aligned and src.flags.aligned
            and not np.may_share_memory(dst, src)):
        _conv.copy_into(dst, src, get_num_threads())
    else:
        dst[...] = src


def _tap_slices(g: TransposeGeometry, tap) -> tuple[list, list] | None:
    """For one kernel tap: per dimension the input pixels it scatters from an output
    inside the result, and those outputs (strided slices); None when there are none."""
    src, dst = [], []
    for t, n, n_out, s, d, p in zip(tap, g.in_sizes, g.out, g.stride, g.dilation, g.pad,
                                    strict=True):
        off = t * d - p[0]  # o = i * s + off
        lo = -(off // s) if off < 0 else 0
        hi = min(n, (n_out - 1 - off) // s + 1) if n_out - 1 - off >= 0 else 0
        if hi <= lo:
            return None
        src.append(slice(lo, hi))
        dst.append(slice(lo * s + off, (hi - 1) * s + off + 1, s))
    return src, dst


def _taps(g: TransposeGeometry):
    """(tap, input slices, output slices, sizes) for each tap that reaches the output."""
    for tap in itertools.product(*(range(k) for k in g.kernel)):
        sl = _tap_slices(g, tap)
        if sl is not None:
            yield tap, sl[0], sl[1], tuple(s.stop - s.start for s in sl[0])


def _run_taps(g: TransposeGeometry, x: np.ndarray, w: np.ndarray, bias,
              y: np.ndarray) -> None:
    """y = the transposed convolution of x as one GEMM per kernel tap and group, each
    added at the outputs its tap reaches: only products of real pixels (no padding)."""
    G, Cg, Kg, nd = g.groups, g.C // g.groups, g.K // g.groups, g.nd
    acc = np.zeros((g.N, G, Kg, *g.out), y.dtype)
    xg = x.reshape(g.N, G, Cg, *g.in_sizes)
    wg = w.reshape(G, Cg, Kg, *g.kernel)
    n_threads = get_num_threads()
    for tap, src, dst, shape in _taps(g):
        prod = np.empty((g.N, Kg, math.prod(shape)), y.dtype)
        for grp in range(G):
            sub = np.ascontiguousarray(xg[(slice(None), grp, slice(None), *src)])
            matmul(wg[(grp, slice(None), slice(None), *tap)].T[None],
                   sub.reshape(g.N, Cg, -1), prod, n_threads=n_threads)
            acc[(slice(None), grp, slice(None), *dst)] += prod.reshape(g.N, Kg, *shape)
    y[...] = acc.reshape(y.shape)
    if bias is not None:
        y += bias.reshape(-1, *(1,) * nd)


def _grad_weight(g: TransposeGeometry, x: np.ndarray, go: np.ndarray) -> np.ndarray:
    """d loss / d weight (C, Kg, *kernel): per tap and group, the input pixels the tap
    scattered (Cg x N*P) times the gradients of the outputs they reached (N*P x Kg)."""
    G, Cg, Kg = g.groups, g.C // g.groups, g.K // g.groups
    gw = np.zeros((G, Cg, Kg, *g.kernel), x.dtype)
    xg = x.reshape(g.N, G, Cg, *g.in_sizes)
    gog = go.reshape(g.N, G, Kg, *g.out)
    n_threads = get_num_threads()
    prod = np.empty((1, Cg, Kg), x.dtype)
    for tap, src, dst, _ in _taps(g):
        for grp in range(G):
            xs = xg[(slice(None), grp, slice(None), *src)].swapaxes(0, 1).reshape(Cg, -1)
            gs = gog[(slice(None), grp, slice(None), *dst)].swapaxes(0, 1).reshape(Kg, -1)
            matmul(xs[None], gs.T[None], prod, n_threads=n_threads)
            gw[(grp, slice(None), slice(None), *tap)] = prod[0]
    return gw.reshape(g.C, Kg, *g.kernel)


def _grad_input(g: TransposeGeometry, go: np.ndarray, w: np.ndarray,
                algorithm: str) -> np.ndarray:
    """d loss / d x (N, C, *in): the forward convolution of grad_output with the same
    weight (C output channels, K // groups inputs per group)."""
    from convcore.functional import _run_conv

    pads = tuple((p[0], p[1]) for p in g.pad)
    full = _run_conv(g.nd, go, w, None, g.stride, pads, g.dilation, g.groups, algorithm,
                     None)
    if full.shape[2:] != g.in_sizes:  # output_padding >= stride: windows past the input
        full = np.ascontiguousarray(full[(slice(None), slice(None),
                                          *(slice(0, n) for n in g.in_sizes))])
    return full


def run_transpose(g: TransposeGeometry, x: np.ndarray, w: np.ndarray, bias, y: np.ndarray,
                  algorithm: str = "auto") -> None:
    """Write the transposed convolution of the validated call into ``y`` (N, K, *out);
    ``x`` (N, C, *in) and ``w`` (C, K // groups, *kernel) C-contiguous of y's dtype."""
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf propagate silently
        if not np.isfinite(w).all():
            _run_taps(g, x, w, bias, y)
        elif ((algorithm == "winograd" and _union_plan(g) is not None)
              or (algorithm == "auto" and _union_pays(g))):
            _run_union(g, x, w, bias, y)
        else:
            _run_phases(g, x, w, bias, y, algorithm)


def workspace_bytes(g: TransposeGeometry, itemsize: int) -> int:
    """Bytes a transposed convolution allocates besides its output: the largest merged
    phase result (or the per-tap route's accumulator and product), the phase
    sub-kernels and the cropped input; or, where the phases fit one Winograd layer, its
    weights, their transform and its blocks, if more."""
    plan = _phase_plan(g)
    part = 0
    if math.prod(len(ps) for ps in plan) > 1:
        for wins in itertools.product(*(_windows(n, ps) for n, ps in zip(g.in_sizes, plan,
                                                                         strict=True))):
            phases = math.prod(len(win.phases) for win in wins)
            part = max(part, g.N * g.K * phases * math.prod(win.count for win in wins))
    out = g.N * g.K * math.prod(g.out)
    taps = out + g.N * (g.K // g.groups) * math.prod(g.in_sizes)  # the per-tap route
    total = (max(part, taps) + g.K * (g.C // g.groups) * math.prod(g.kernel)
             + g.N * g.C * math.prod(g.in_sizes)) * itemsize
    union = _union_plan(g)
    if union is not None:  # the Winograd layer: its 3x3 weights, their transform, blocks
        from convcore.analysis import _winograd_costs
        from convcore.winograd import DEFAULT_TILE

        g2 = _union_geometry(g, union)[0]
        extra = _winograd_costs(g2, DEFAULT_TILE, itemsize, get_num_threads())[2]
        total = max(total, g2.K * (g2.C // g2.groups) * 9 * itemsize + extra
                    + g.N * g.C * math.prod(g.in_sizes) * itemsize)
    return total


def _conv_transpose(nd, x, weight, bias, stride, padding, output_padding, groups, dilation,
                    algorithm, out):
    g, x5, w5, bias, dtype, batched = prepare_transpose(
        nd, x, weight, bias, stride, padding, output_padding, groups, dilation)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}"
                         + did_you_mean(algorithm, ALGORITHMS))
    if algorithm == "winograd" and _union_plan(g) is None:
        raise ValueError(_UNION_RULE.format(name=f"conv_transpose{nd}d", g=g))
    shape = (g.N, g.K, *g.out) if batched else (g.K, *g.out)
    if out is not None:
        check_out(out, shape, dtype, (("x", x5), ("weight", w5), ("bias", bias)))
    name = f"conv_transpose{nd}d"
    check_budget(name,
                 ("the output", 0 if out is not None else
                  array_bytes("the output", shape, dtype.itemsize), shape),
                 ("a contiguous copy of x", copy_bytes(x5, dtype)),
                 ("a contiguous copy of weight", copy_bytes(w5, dtype)),
                 ("the phase workspace", workspace_bytes(g, dtype.itemsize)))
    y = out if out is not None else np.empty(shape, dtype=dtype)
    if not y.size:
        return y
    xc = contiguous("x", x5, dtype)
    wc = contiguous("weight", w5, dtype)
    bc = None if bias is None else contiguous("bias", bias, dtype)
    run_transpose(g, xc, wc, bc, y.reshape(g.N, g.K, *g.out), algorithm)
    return y


_PARAMS_DOC = """
    Parameters
    ----------
    x : array_like, shape {x} or without the batch axis
        Input.
    weight : array_like, shape {w}
        Filters, in PyTorch's layout for transposed convolution (input channels first).
    bias : array_like, shape (C_out,), optional
        Added to each output channel.
    stride, dilation : int or tuple of {n} ints
        Step between the positions the input pixels are scattered to, and between
        kernel taps; each >= 1.
    padding : int, tuple of {n} ints, or {n} (before, after) pairs
        Cropped from each side of the full result (``dilation * (k - 1) - padding``
        zero padding of the equivalent direct convolution).
    output_padding : int or tuple of {n} ints
        Added to one side (after) of each output dimension; smaller than the stride or
        the dilation of that dimension, as in PyTorch.
    groups : int
        C_in and C_out split into groups transposed independently.
    algorithm : {{'auto', 'direct', 'im2col', 'winograd'}}
        The forward kernels the phases run on (see :func:`convcore.conv2d`).
        'winograd' (2-D only) runs every phase as the output channels of one 3x3
        Winograd layer, written straight into the output: for a stride above 1 (in
        either dimension) whose phases each read at most 3 neighbouring input pixels per
        dimension (kernel 4, stride 2, padding 1: the DCGAN and U-Net decoders), output
        sizes multiples of the stride; its float32 error is Winograd's
        (docs/transpose.md). 'auto' takes it where the cost model predicts it faster,
        with 16 or more channels per group.
    out : numpy.ndarray, optional
        C-contiguous array of the result's shape and dtype to write into.

    Returns
    -------
    numpy.ndarray
        Shape (N, C_out, *out) (or without N), per dimension
        ``out = (in - 1) * stride - pad_before - pad_after + dilation * (k - 1)
        + output_padding + 1``; float32 when x and weight are float32, else float64.

    Raises
    ------
    TypeError
        Non-real dtypes, non-int parameters, an ``out`` of the wrong dtype.
    ValueError
        Shapes that do not match, parameters out of range, an output_padding not
        smaller than the stride or the dilation, padding that crops every pixel.
    MemoryError
        When the output and the workspace would not fit in the available memory.
"""


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", out=None):
    """1-D transposed convolution (``torch.nn.functional.conv_transpose1d``).

    Every input sample is scattered into the output, times the kernel, at
    ``i * stride + t * dilation - padding``: the adjoint (gradient) of
    :func:`convcore.conv1d` with the same weight.
    {params}
    Examples
    --------
    >>> import numpy as np, convcore
    >>> convcore.conv_transpose1d([[1.0, 2.0, 3.0]], [[[1.0, 10.0]]], stride=2)
    array([[ 1., 10.,  2., 20.,  3., 30.]])
    """
    return _conv_transpose(1, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, algorithm, out)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", out=None):
    """2-D transposed convolution (``torch.nn.functional.conv_transpose2d``).

    ``y[n, g*Kg + k, i*sh + r*dh - pt, j*sw + s*dw - pl] += x[n, g*Cg + c, i, j] *
    weight[g*Cg + c, k, r, s]``: the adjoint (gradient) of :func:`convcore.conv2d` with
    the same weight, computed phase by phase without inserting zeros.
    {params}
    Examples
    --------
    >>> import numpy as np, convcore
    >>> x = np.ones((1, 1, 2, 2))
    >>> convcore.conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    >>> convcore.conv_transpose2d(np.ones((8, 128, 32, 32), np.float32),
    ...     np.ones((128, 64, 4, 4), np.float32), stride=2, padding=1).shape
    (8, 64, 64, 64)
    """
    return _conv_transpose(2, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, algorithm, out)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, algorithm="auto", out=None):
    """3-D transposed convolution (``torch.nn.functional.conv_transpose3d``).

    The rules of :func:`conv_transpose2d` over depth, height and width.
    {params}
    Examples
    --------
    >>> import numpy as np, convcore
    >>> y = convcore.conv_transpose3d(np.ones((1, 2, 3, 3, 3)), np.ones((2, 4, 3, 3, 3)),
    ...                               stride=2, padding=1, output_padding=1)
    >>> y.shape
    (1, 4, 6, 6, 6)
    """
    return _conv_transpose(3, x, weight, bias, stride, padding, output_padding, groups,
                           dilation, algorithm, out)


def _conv_transpose_backward(nd, grad_output, x, weight, stride, padding, output_padding,
                             groups, dilation, needs, algorithm):
    from convcore.backward import check_needs

    name = f"conv_transpose{nd}d_backward"
    g, x5, w5, _, dtype, batched = prepare_transpose(
        nd, x, weight, None, stride, padding, output_padding, groups, dilation)
    needs = check_needs(needs)
    if algorithm not in BACKWARD_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {BACKWARD_ALGORITHMS}, got {algorithm!r}"
                         + did_you_mean(algorithm, BACKWARD_ALGORITHMS))
    go = as_real_array("grad_output", grad_output)
    expected = (g.N, g.K, *g.out) if batched else (g.K, *g.out)
    if go.shape != expected:
        raise ValueError(f"{name}: grad_output has shape {go.shape}; the forward call "
                         f"gives {expected}")
    item = dtype.itemsize
    x_bytes = g.N * g.C * math.prod(g.in_sizes) * item
    check_budget(name, ("a contiguous copy of grad_output", copy_bytes(go, dtype)),
                 ("a contiguous copy of x", copy_bytes(x5, dtype)),
                 ("a contiguous copy of weight", copy_bytes(w5, dtype)),
                 ("the gradients and their temporaries",
                  3 * x_bytes + 2 * go.size * item + 2 * w5.size * item))
    go5 = contiguous("grad_output", go, dtype).reshape(g.N, g.K, *g.out)
    grad_input = grad_weight = grad_bias = None
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf propagate silently
        if "bias" in needs:
            grad_bias = go5.sum(axis=(0, *range(2, nd + 2)), dtype=dtype)
        if "input" in needs:
            if g.N == 0 or g.K == 0:
                grad_input = np.zeros(x5.shape if batched else x5.shape[1:], dtype)
            else:
                gi = _grad_input(g, go5, contiguous("weight", w5, dtype), algorithm)
                grad_input = gi if batched else gi[0]
        if "weight" in needs:
            gw = (np.zeros(w5.shape, dtype) if g.N == 0 or g.K == 0 else
                  _grad_weight(g, contiguous("x", x5, dtype), go5))
            grad_weight = gw
    return grad_input, grad_weight, grad_bias


_BACKWARD_DOC = """
    Parameters
    ----------
    grad_output : array_like
        Gradient of the loss with respect to the forward result (its shape).
    x, weight, stride, padding, output_padding, groups, dilation
        As given to the forward call.
    needs : iterable of {{'input', 'weight', 'bias'}}
        The gradients to compute; the others are returned as None.
    algorithm : {{'auto', 'direct', 'im2col'}}
        The kernels the input gradient (a forward convolution) runs on.

    Returns
    -------
    grad_input : numpy.ndarray or None
        Shape of ``x``: the forward convolution of grad_output with ``weight``.
    grad_weight : numpy.ndarray or None
        Shape of ``weight``: one GEMM per kernel tap and group.
    grad_bias : numpy.ndarray or None
        Shape (C_out,): grad_output summed over the batch and the pixels.

    Raises
    ------
    TypeError, ValueError, MemoryError
        As the forward function; also a ``grad_output`` whose shape is not the forward
        result's, unknown ``needs``.
"""


def conv_transpose1d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, needs=("input", "weight", "bias"),
                              algorithm="auto"):
    """Gradients of :func:`conv_transpose1d` with respect to x, weight and bias.
    {doc}
    Examples
    --------
    >>> import convcore
    >>> gi, gw, gb = convcore.conv_transpose1d_backward(
    ...     [[1.0, 1.0, 1.0, 1.0]], [[1.0, 2.0]], [[[1.0, -1.0]]], stride=2)
    >>> gi, gw, gb
    (array([[0., 0.]]), array([[[3., 3.]]]), array([4.]))
    """
    return _conv_transpose_backward(1, grad_output, x, weight, stride, padding,
                                    output_padding, groups, dilation, needs, algorithm)


def conv_transpose2d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, needs=("input", "weight", "bias"),
                              algorithm="auto"):
    """Gradients of :func:`conv_transpose2d` with respect to x, weight and bias.
    {doc}
    Examples
    --------
    >>> import numpy as np, convcore
    >>> x, w = np.ones((1, 1, 2, 2)), np.ones((1, 3, 2, 2))
    >>> gi, gw, gb = convcore.conv_transpose2d_backward(np.ones((1, 3, 3, 3)), x, w)
    >>> gi[0, 0], gw.shape, gb
    (array([[12., 12.],
           [12., 12.]]), (1, 3, 2, 2), array([9., 9., 9.]))
    """
    return _conv_transpose_backward(2, grad_output, x, weight, stride, padding,
                                    output_padding, groups, dilation, needs, algorithm)


def conv_transpose3d_backward(grad_output, x, weight, stride=1, padding=0, output_padding=0,
                              groups=1, dilation=1, *, needs=("input", "weight", "bias"),
                              algorithm="auto"):
    """Gradients of :func:`conv_transpose3d` with respect to x, weight and bias.
    {doc}
    Examples
    --------
    >>> import numpy as np, convcore
    >>> x, w = np.ones((1, 2, 2, 2, 2)), np.ones((2, 1, 2, 2, 2))
    >>> gi, gw, gb = convcore.conv_transpose3d_backward(np.ones((1, 1, 4, 4, 4)), x, w,
    ...                                                 stride=2, needs="weight")
    >>> gi is None, gw[0, 0, 0, 0], gb is None
    (True, array([8., 8.]), True)
    """
    return _conv_transpose_backward(3, grad_output, x, weight, stride, padding,
                                    output_padding, groups, dilation, needs, algorithm)


for _fn in (conv_transpose1d_backward, conv_transpose2d_backward, conv_transpose3d_backward):
    _fn.__doc__ = _fn.__doc__.format(doc=_BACKWARD_DOC)


for _nd, _fn in ((1, conv_transpose1d), (2, conv_transpose2d), (3, conv_transpose3d)):
    _fn.__doc__ = _fn.__doc__.format(params=_PARAMS_DOC.format(
        x=_X_LETTERS[_nd], w=_W_LETTERS[_nd], n=_nd))
