"""The geometry of a convolution or a pooling over 1, 2 or 3 spatial dimensions, in one
place.

Validation of a call's shapes and arguments, padding (including 'same' and 'valid'),
output sizes, the C-contiguous copies the kernels read and the output checks.  Every
public function (convolution, gradients, pooling, the matrix, the cost model, Dask, the
layers) prepares its call here, and the Cython bridges fill their C structs from these
objects (``_geometry.pxi``); nothing here imports them.  The algorithm ``auto`` picks
is chosen from a ConvGeometry in ``convcore._auto``, the channels-last layout handled
in ``convcore._layout``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convcore._checks import (
    as_bool,
    as_int,
    as_real_array,
    compute_dtype,
    did_you_mean,
    int_tuple,
    padding_pairs,
    same_padding,
)
from convcore._shapes import output_length

_INT32_MAX = 2**31 - 1
# Spatial dimension names, outermost first, by number of dimensions.
DIM_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
_X_LETTERS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_W_LETTERS = {1: "(K, C // groups, S)", 2: "(K, C // groups, R, S)",
              3: "(K, C // groups, T, R, S)"}


@dataclass(frozen=True)
class ConvGeometry:
    """A validated convolution: batch N, channels C -> K in ``groups`` groups, and per
    spatial dimension (outermost first) the input size, kernel size, stride, dilation,
    (before, after) padding and output size.  A 1-D convolution is prepared as a 2-D one
    of height 1, so the 2-D kernels serve it."""

    N: int
    C: int
    K: int
    groups: int
    in_sizes: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    out: tuple[int, ...]
    # what the padding reads: 'zeros', or a border mode (PADDING_MODES); 'zeros'
    # whenever there is no padding
    padding_mode: str = "zeros"

    @property
    def nd(self) -> int:
        return len(self.in_sizes)

    # The 2-D names (H, W, R, S, Hout, Wout) of the two innermost dimensions.
    @property
    def H(self) -> int:
        return self.in_sizes[-2]

    @property
    def W(self) -> int:
        return self.in_sizes[-1]

    @property
    def R(self) -> int:
        return self.kernel[-2]

    @property
    def S(self) -> int:
        return self.kernel[-1]

    @property
    def Hout(self) -> int:
        return self.out[-2]

    @property
    def Wout(self) -> int:
        return self.out[-1]

    @property
    def reduction(self) -> int:
        """Products summed per output: (C / groups) * prod(kernel)."""
        return (self.C // self.groups) * math.prod(self.kernel)

    @property
    def macs(self) -> int:
        """Multiply-adds of the whole call."""
        return self.N * self.K * math.prod(self.out) * self.reduction


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def check_padding_mode(padding_mode) -> str:
    """``padding_mode`` as one of :data:`PADDING_MODES` (TypeError/ValueError otherwise)."""
    if not isinstance(padding_mode, str):
        raise TypeError(f"padding_mode must be a string, one of {PADDING_MODES}; got "
                        f"{type(padding_mode).__name__} {padding_mode!r}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}"
                         + did_you_mean(padding_mode, PADDING_MODES))
    return padding_mode


def border_index(i: int, n: int, padding_mode: str) -> int:
    """The index in [0, n) that index ``i`` of a dimension of size ``n`` reads under a
    border mode (-1 for 'zeros' outside); csrc/convcore.h ``cc_pad_index`` in C."""
    if 0 <= i < n:
        return i
    if padding_mode == "reflect":
        return -i if i < 0 else 2 * (n - 1) - i
    if padding_mode == "replicate":
        return 0 if i < 0 else n - 1
    if padding_mode == "circular":
        return i % n
    return -1


def check_border(padding_mode, sizes, pads, names) -> str:
    """The mode the kernels apply: ``padding_mode`` after checking each dimension's
    padding against its rule (reflect: padding < input size; circular: padding <= input
    size, as torch.nn.functional.pad); 'zeros' when nothing is padded."""
    if padding_mode == "zeros" or all(p == (0, 0) for p in pads):
        return "zeros"
    for n, (before, after), name in zip(sizes, pads, names, strict=True):
        if padding_mode == "reflect" and max(before, after) >= n:
            raise ValueError(
                f"padding_mode='reflect' needs padding smaller than the input in every "
                f"dimension: {name} padding ({before}, {after}) but the input {name} is {n}")
        if padding_mode == "circular" and max(before, after) > n:
            raise ValueError(
                f"padding_mode='circular' needs padding at most the input size in every "
                f"dimension (it wraps around once): {name} padding ({before}, {after}) but "
                f"the input {name} is {n}")
    return padding_mode


def resolve_padding(padding, sizes, kernels, strides, dilations):
    """Padding as one (before, after) pair per dimension from any accepted form."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in sizes)
        if padding == "same":
            return tuple(same_padding(n, k, s, d)
                         for n, k, s, d in zip(sizes, kernels, strides, dilations, strict=True))
        raise ValueError(f"padding must be an int, a tuple, 'valid' or 'same'; got {padding!r}"
                         + did_you_mean(padding, ("valid", "same")))
    return padding_pairs(padding, len(sizes))


def output_sizes(sizes, kernels, strides, pads, dilations, names):
    """Output size per dimension; ValueError naming the dimension when one is empty."""
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


def _plain(v) -> bool:
    """An int, a str, or a tuple of such values (nested: asymmetric padding pairs)."""
    t = type(v)
    return t is int or t is str or (t is tuple and all(_plain(e) for e in v))


def prepare_key(nd, x, weight, bias, stride, padding, dilation, groups,
                padding_mode="zeros"):
    """The cache key of a call, or None when an argument is not of a cacheable type
    (exact ndarrays; ints, strings and tuples of them only, so that True never stands
    for 1 and a list, which could change, is never a key)."""
    if not (type(x) is np.ndarray and type(weight) is np.ndarray):
        return None
    if bias is not None and type(bias) is not np.ndarray:
        return None
    if type(groups) is not int or type(padding_mode) is not str:
        return None
    for v in (stride, dilation, padding):
        if type(v) is not int and not _plain(v):  # ints first: the common call
            return None
    return (nd, x.shape, x.dtype, weight.shape, weight.dtype,
            None if bias is None else (bias.shape, bias.dtype),
            stride, padding, dilation, groups, padding_mode)


def _lift_1d(nd, x, weight):
    """A 1-D call's arrays as 2-D ones of height 1 (views)."""
    if nd == 1:
        return x[:, :, None, :], weight[:, :, None, :]
    return x, weight


def prepare_conv(nd, x, weight, bias, stride, padding, dilation, groups,
                padding_mode="zeros"):
    """Validate a conv{nd}d call (``padding_mode``: what the padding reads).

    Returns (geometry, x, weight, bias, dtype, batched): ``x`` with a batch axis (and,
    for 1-D, a height axis of 1), ``weight`` likewise, ``bias`` as an array or None, the
    result dtype, and whether ``x`` had a batch axis.
    """
    key = prepare_key(nd, x, weight, bias, stride, padding, dilation, groups, padding_mode)
    hit = _PREPARED.get(key) if key is not None else None
    if hit is not None:
        geom, dtype, batched = hit
        if not batched:
            x = x[None]
        x, weight = _lift_1d(nd, x, weight)
        return geom, x, weight, bias, dtype, batched
    out = _validate(nd, x, weight, bias, stride, padding, dilation, groups, padding_mode)
    if key is not None:
        if len(_PREPARED) >= _PREPARED_MAX:
            _PREPARED.clear()
        _PREPARED[key] = (out[0], out[4], out[5])
    return out


def check_arrays(nd, x, weight, groups, x_letters, w_letters):
    """x and weight as real arrays of nd + 2 dimensions (x given a batch axis when it
    has none), groups as an int >= 1: (x, weight, groups, batched)."""
    x = as_real_array("x", x)
    weight = as_real_array("weight", weight)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"x must have shape {x_letters} or one sample without the batch axis; got "
            f"{x.ndim} dimensions, shape {x.shape}"
        )
    if weight.ndim != nd + 2:
        raise ValueError(f"weight must have shape {w_letters}; got shape {weight.shape}")
    batched = x.ndim == nd + 2
    if not batched:
        x = x[None]
    groups = as_int("groups", groups)
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    if x.shape[1] == 0:
        raise ValueError(f"x has 0 channels (shape {x.shape}); it must have at least one")
    if x.shape[1] % groups:
        raise ValueError(f"input channels {x.shape[1]} are not divisible by groups={groups}")
    return x, weight, groups, batched


def _validate(nd, x, weight, bias, stride, padding, dilation, groups, padding_mode):
    padding_mode = check_padding_mode(padding_mode)
    x, weight, groups, batched = check_arrays(nd, x, weight, groups, _X_LETTERS[nd],
                                              _W_LETTERS[nd])
    N, C = x.shape[:2]
    K, Cg = weight.shape[:2]
    ksizes = weight.shape[2:]
    if K % groups:
        raise ValueError(f"weight has {K} output channels, not divisible by groups={groups}")
    if Cg * groups != C:
        raise ValueError(
            f"weight has {Cg} input channels per group but input has {C} channels "
            f"(groups={groups}: expected {C // groups} per group)"
            + (f"; x of shape {x.shape} would match as channels-last (N, H, W, C): pass "
               "layout='NHWC'" if nd == 2 and x.shape[-1] == Cg * groups else "")
        )
    if any(k < 1 for k in ksizes):
        raise ValueError(f"kernel sizes must be >= 1, got weight shape {weight.shape}")
    if any(n < 1 for n in x.shape[2:]):
        raise ValueError(f"spatial sizes of x must be >= 1, got shape {x.shape}")
    strides = int_tuple("stride", stride, nd)
    dilations = int_tuple("dilation", dilation, nd)
    sizes = x.shape[2:]
    pads = resolve_padding(padding, sizes, ksizes, strides, dilations)
    outs = output_sizes(sizes, ksizes, strides, pads, dilations, DIM_NAMES[nd])
    mode = check_border(padding_mode, sizes, pads, DIM_NAMES[nd])
    dtype = compute_dtype(x, weight)
    if bias is not None:
        bias = as_real_array("bias", bias)
        if bias.shape != (K,):
            raise ValueError(f"bias must have shape ({K},) (one per output channel); "
                             f"got shape {bias.shape}")
    x, weight = _lift_1d(nd, x, weight)
    if nd == 1:
        strides, dilations, pads, outs = (1, *strides), (1, *dilations), ((0, 0), *pads), [1, *outs]
    geom = ConvGeometry(N, C, K, groups, tuple(x.shape[2:]), tuple(weight.shape[2:]),
                        tuple(strides), tuple(dilations), tuple(pads), tuple(outs), mode)
    return geom, x, weight, bias, dtype, batched


def gemm_fits(g: ConvGeometry) -> bool:
    """Every GEMM dimension of the im2col route within int32: the envelope the route is
    built and tested for (its BLAS took 32-bit sizes until 2026-12-03); beyond it
    ``auto`` takes another route and ``algorithm="im2col"`` is refused."""
    return max(math.prod(g.out), g.reduction, g.K) <= _INT32_MAX


def pointwise(g: ConvGeometry) -> bool:
    """A 1x1 layer at stride 1 without padding or groups: its column matrix is the input
    itself (the im2col route copies the input's rows into panels without gathering)."""
    return (all(k == 1 for k in g.kernel) and g.groups == 1 and all(s == 1 for s in g.stride)
            and all(p == (0, 0) for p in g.pad))


def contiguous(name: str, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` as an aligned C-contiguous array of ``dtype`` (what the kernels assume: an
    unaligned float* is undefined behaviour in C): itself when it already is, else a copy
    (counted in the call's memory budget by the caller: a broadcast view can be huge)."""
    flags = a.flags
    if a.dtype == dtype and flags.c_contiguous and flags.aligned:
        return a
    return np.array(a, dtype=dtype, order="C")  # a copy, aligned (ascontiguousarray of
    # an unaligned C-contiguous array would return it as it is)


def check_out(out, shape, dtype, inputs):
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


@dataclass(frozen=True)
class PoolGeometry:
    """A validated pooling window over ``nd`` spatial dimensions, every size lifted to
    three (depth, height, width): a 1-D or 2-D pool is a 3-D one of depth (and height)
    1, so one set of kernels runs them all.  ``padding`` is the same before and after."""

    nd: int
    in_dhw: tuple[int, int, int]
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int]
    dilation: tuple[int, int, int]
    out_dhw: tuple[int, int, int]


def lift_dhw(values, nd: int, fill: int) -> tuple:
    """An nd-tuple as a 3-tuple (depth, height, width): the missing leading sizes ``fill``."""
    return (fill,) * (3 - nd) + tuple(values)


def check_pool_padding(kernel, padding, name: str | None = None) -> None:
    """A pooling's padding is at most half its window, per dimension (PyTorch's rule);
    ``name`` prefixes the message."""
    for k, p in zip(kernel, padding, strict=True):
        if p > k // 2:
            raise ValueError(f"{name + ': ' if name else ''}padding {p} is more than half the "
                             f"kernel size {k} (padding must be <= kernel_size // 2)")


def prepare_pool(nd, name, sizes, kernel_size, stride, padding, dilation,
                 ceil_mode) -> PoolGeometry:
    """The geometry of a pooling (``name``, for messages) of spatial ``sizes``, its
    arguments as ``torch.nn.functional`` takes them (``stride=None``: the kernel size)."""
    ceil_mode = as_bool("ceil_mode", ceil_mode)
    ks = int_tuple("kernel_size", kernel_size, nd)
    ss = ks if stride is None else int_tuple("stride", stride, nd)
    ds = int_tuple("dilation", dilation, nd)
    ps = int_tuple("padding", padding, nd, minimum=0)
    check_pool_padding(ks, ps, name)
    outs = []
    for n, k, s, p, d in zip(sizes, ks, ss, ps, ds, strict=True):
        out = output_length(n, k, s, (p, p), d, ceil_mode)
        if out < 1:
            raise ValueError(
                f"{name}: kernel_size {k} (dilation {d}) does not fit in an input "
                f"of size {n} padded by {p}: output size would be {out}"
            )
        outs.append(out)
    return PoolGeometry(nd, lift_dhw(sizes, nd, 1), lift_dhw(ks, nd, 1), lift_dhw(ss, nd, 1),
                        lift_dhw(ps, nd, 0), lift_dhw(ds, nd, 1), lift_dhw(outs, nd, 1))
