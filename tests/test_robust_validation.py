"""Bad input to every public function: a TypeError, ValueError or MemoryError raised
before any kernel runs, whose message names the argument and the offending value.

One table covers every public function and every class of bad input (dtypes, ndim,
channels and groups, bias, kernels that do not fit, stride / dilation / kernel size /
padding values, option strings and flags, ``out=``, sizes past 64 bits, outputs too large
for the machine).  Every case runs with the Cython bridges replaced by recorders, so a
case that reached a kernel fails even when it then raised the expected error.
"""

import re
import time

import numpy as np
import pytest

import convcore
from convcore import _conv, _im2col, _matrix, _pool, _winograd, functional

X = np.zeros((2, 4, 8, 8))
W = np.zeros((6, 4, 3, 3))
B = np.zeros(6)
X1 = np.zeros((2, 4, 10))
X3 = np.zeros((2, 4, 5, 6, 7))
W3 = np.zeros((6, 4, 3, 3, 3))
W1 = np.zeros((6, 4, 3))
GO = np.zeros((2, 6, 6, 6))          # conv2d(X, W)
GO1 = np.zeros((2, 6, 8))            # conv1d(X1, W1)
GO3 = np.zeros((2, 6, 3, 4, 5))      # conv3d(X3, W3)
COLS = np.zeros((2, 36, 36))         # im2col(X, 3): 4 * 9 rows, 6 * 6 windows
GP = np.zeros((2, 4, 4, 4))          # max_pool2d(X, 2)
GP1 = np.zeros((2, 4, 5))            # max_pool1d(X1, 2)

BASE = {
    "conv2d": dict(x=X, weight=W, bias=B),
    "conv1d": dict(x=X1, weight=W1, bias=B),
    "conv3d": dict(x=X3, weight=W3, bias=B),
    "conv2d_backward": dict(grad_output=GO, x=X, weight=W),
    "conv1d_backward": dict(grad_output=GO1, x=X1, weight=W1),
    "conv3d_backward": dict(grad_output=GO3, x=X3, weight=W3),
    "im2col": dict(x=X, kernel_size=3),
    "col2im": dict(cols=COLS, output_size=(8, 8), kernel_size=3),
    "max_pool2d": dict(x=X, kernel_size=2),
    "avg_pool2d": dict(x=X, kernel_size=2),
    "max_pool1d": dict(x=X1, kernel_size=2),
    "avg_pool1d": dict(x=X1, kernel_size=2),
    "max_pool2d_backward": dict(grad_output=GP, x=X, kernel_size=2),
    "avg_pool2d_backward": dict(grad_output=GP, x=X, kernel_size=2),
    "max_pool1d_backward": dict(grad_output=GP1, x=X1, kernel_size=2),
    "avg_pool1d_backward": dict(grad_output=GP1, x=X1, kernel_size=2),
    "adaptive_avg_pool2d": dict(x=X, output_size=3),
    "adaptive_max_pool2d": dict(x=X, output_size=3),
    "global_avg_pool2d": dict(x=X),
    "global_max_pool2d": dict(x=X),
    "conv_matrix": dict(input_shape=(4, 8, 8), weight=W),
    "relu": dict(x=X),
    "conv_output_size": dict(size=8, kernel_size=3),
    "set_num_threads": dict(n=2),
    "set_isa": dict(level="generic"),
    "winograd_weights": dict(weight=W),
}
# transposed convolution: weight (C_in, C_out / groups, *kernel)
WT, WT1, WT3, BT = (np.zeros((4, 3, 3, 3)), np.zeros((4, 3, 3)), np.zeros((4, 3, 3, 3, 3)),
                    np.zeros(3))
TRANSPOSE_BASE = {
    "conv_transpose1d": dict(x=X1, weight=WT1, bias=BT),
    "conv_transpose2d": dict(x=X, weight=WT, bias=BT),
    "conv_transpose3d": dict(x=X3, weight=WT3, bias=BT),
    "conv_transpose1d_backward": dict(grad_output=np.zeros((2, 3, 12)), x=X1, weight=WT1),
    "conv_transpose2d_backward": dict(grad_output=np.zeros((2, 3, 10, 10)), x=X, weight=WT),
    "conv_transpose3d_backward": dict(grad_output=np.zeros((2, 3, 7, 8, 9)), x=X3,
                                      weight=WT3),
}
BASE.update(TRANSPOSE_BASE)
# pooling in 1-D and 3-D, adaptive and global pools, unpooling
X3P = np.zeros((2, 4, 6, 6, 6))
GP3 = np.zeros((2, 4, 3, 3, 3))      # max_pool3d(X3P, 2)
BASE.update({
    "max_pool3d": dict(x=X3P, kernel_size=2),
    "avg_pool3d": dict(x=X3P, kernel_size=2),
    "max_pool3d_backward": dict(grad_output=GP3, x=X3P, kernel_size=2),
    "avg_pool3d_backward": dict(grad_output=GP3, x=X3P, kernel_size=2),
    "adaptive_avg_pool1d": dict(x=X1, output_size=3),
    "adaptive_max_pool1d": dict(x=X1, output_size=3),
    "adaptive_avg_pool3d": dict(x=X3P, output_size=2),
    "adaptive_max_pool3d": dict(x=X3P, output_size=2),
    "global_avg_pool3d": dict(x=X3P),
    "global_max_pool3d": dict(x=X3P),
    "max_unpool1d": dict(x=GP1, indices=np.zeros(GP1.shape, np.int64), kernel_size=2),
    "max_unpool2d": dict(x=GP, indices=np.zeros(GP.shape, np.int64), kernel_size=2),
    "max_unpool3d": dict(x=GP3, indices=np.zeros(GP3.shape, np.int64), kernel_size=2),
    "max_unpool_backward": dict(grad_output=X1, indices=np.zeros(GP1.shape, np.int64), nd=1),
})
# Public names that take no argument to get wrong.
NO_ARGUMENTS = {"__version__", "analysis", "config_info", "get_num_threads", "show_config",
                "available_isas", "detected_isa", "get_isa", "release_buffers"}

CONV = ("conv2d", "conv1d", "conv2d_backward", "conv1d_backward")
POOLS_FWD = ("max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d")
POOLS_BWD = tuple(f"{n}_backward" for n in POOLS_FWD)
POOLS = POOLS_FWD + POOLS_BWD
MAX_POOLS = ("max_pool2d", "max_pool1d", "max_pool2d_backward", "max_pool1d_backward")
AVG_POOLS = tuple(n for n in POOLS if n.startswith("avg"))
ADAPTIVE = ("adaptive_avg_pool2d", "adaptive_max_pool2d")
GLOBAL = ("global_avg_pool2d", "global_max_pool2d")
ONE_D = {"conv1d", "conv1d_backward", "max_pool1d", "avg_pool1d", "max_pool1d_backward",
         "avg_pool1d_backward", "conv_output_size"}

ARRAY_ARGS = {name: [k for k, v in args.items() if isinstance(v, np.ndarray)]
              for name, args in BASE.items()}
BAD_DTYPES = [np.bool_, np.complex64, np.complex128, object, "U3", "S3", "M8[s]", "V8"]

CASES = []


def case(func, exc, fragments, **override):
    """A call of ``func`` with BASE arguments changed by ``override`` that must raise
    ``exc`` with a message naming fragments[0] (as a word) and containing the others."""
    label = ",".join(f"{k}={_short(v)}" for k, v in override.items())
    CASES.append(pytest.param(func, override, exc, fragments, id=f"{func}-{label}"))


def _short(v):
    if isinstance(v, np.ndarray):
        return f"{v.dtype}{list(v.shape)}"
    text = repr(v)
    return text if len(text) <= 24 else text[:21] + "..."


# ---- dtypes: bool, complex, object, strings, datetimes, void: TypeError naming the dtype
for _f, _names in ARRAY_ARGS.items():
    for _a in _names:
        for _dt in BAD_DTYPES:
            _arr = np.zeros(BASE[_f][_a].shape, _dt)
            case(_f, TypeError, (_a, str(np.dtype(_dt))), **{_a: _arr})
        case(_f, TypeError, (_a, "inhomogeneous"), **{_a: [[1.0, 2.0], [3.0]]})
case("max_pool2d_backward", TypeError, ("indices", "float64"), indices=np.zeros(GP.shape))
case("max_pool2d_backward", TypeError, ("indices", "bool"), indices=np.zeros(GP.shape, bool))
case("max_pool1d_backward", TypeError, ("indices", "complex128"),
     indices=np.zeros(GP1.shape, complex))

# ---- wrong number of dimensions
_NDIM = {
    ("conv2d", "x"): [(8, 8), (1, 2, 4, 8, 8)], ("conv2d", "weight"): [(6, 4, 3), (6, 4, 3, 3, 1)],
    ("conv2d", "bias"): [(6, 1), ()], ("conv1d", "x"): [(10,), (2, 4, 10, 1)],
    ("conv1d", "weight"): [(6, 4), (6, 4, 3, 1)], ("conv1d", "bias"): [(6, 1)],
    ("conv3d", "x"): [(4, 5, 6), (1, 2, 4, 5, 6, 7)], ("conv3d", "weight"): [(6, 4, 3, 3)],
    ("conv2d_backward", "grad_output"): [(2, 6, 36), (1, 2, 6, 6, 6)],
    ("conv2d_backward", "x"): [(8, 8)], ("conv2d_backward", "weight"): [(6, 4, 9)],
    ("conv1d_backward", "grad_output"): [(2, 48), (2, 6, 8, 1)],
    ("conv1d_backward", "x"): [(10,)], ("conv1d_backward", "weight"): [(6, 12)],
    ("im2col", "x"): [(8,), (1, 2, 4, 8, 8, 1)], ("col2im", "cols"): [(36,), (1, 2, 36, 36)],
    ("conv3d_backward", "grad_output"): [(2, 6, 3, 4, 5, 1)],
    ("conv3d_backward", "x"): [(4, 5, 6)], ("conv3d_backward", "weight"): [(6, 4, 27)],
    ("conv_matrix", "weight"): [(6, 4, 9), (6, 4, 3, 3, 1)],
}
for _f in ("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
           "global_avg_pool2d", "global_max_pool2d"):
    _NDIM[(_f, "x")] = [(8,), (8, 8), (1, 2, 4, 8, 8)]
for _f in ("max_pool1d", "avg_pool1d"):
    _NDIM[(_f, "x")] = [(10,), (2, 4, 10, 1)]
for _f in ("max_pool2d_backward", "avg_pool2d_backward"):
    _NDIM[(_f, "x")] = [(8, 8)]
    _NDIM[(_f, "grad_output")] = [(2, 4, 16), (1, 2, 4, 4, 4)]
for _f in ("max_pool1d_backward", "avg_pool1d_backward"):
    _NDIM[(_f, "x")] = [(10,)]
    _NDIM[(_f, "grad_output")] = [(2, 20), (2, 4, 5, 1)]
for (_f, _a), _shapes in _NDIM.items():
    for _s in _shapes:
        case(_f, ValueError, (_a, str(_s)), **{_a: np.zeros(_s)})
case("conv2d", ValueError, ("x", "()"), x=np.float64(1.0))
case("max_pool2d_backward", ValueError, ("indices", "(2, 4, 16)"),
     indices=np.zeros((2, 4, 16), np.int64))

# ---- channels, groups, bias
for _f in ("conv2d", "conv2d_backward", "conv_matrix"):
    case(_f, ValueError, ("weight", "3 input channels", "4"), weight=np.zeros((6, 3, 3, 3)))
    case(_f, ValueError, ("groups", "groups=3", "4"), groups=3)
    case(_f, ValueError, ("groups", "groups=4", "6"), weight=np.zeros((6, 1, 3, 3)), groups=4)
for _f in ("conv1d", "conv1d_backward"):
    case(_f, ValueError, ("weight", "3 input channels", "4"), weight=np.zeros((6, 3, 3)))
    case(_f, ValueError, ("groups", "groups=3", "4"), groups=3)
    case(_f, ValueError, ("groups", "groups=4", "6"), weight=np.zeros((6, 1, 3)), groups=4)
for _f in CONV + ("conv_matrix",):
    for _v in (0, -2):
        case(_f, ValueError, ("groups", str(_v)), groups=_v)
    for _v in (1.0, "1", None, True):
        case(_f, TypeError, ("groups", repr(_v)), groups=_v)
for _f in ("conv2d", "conv1d"):
    for _s in [(5,), (7,), (0,)]:
        case(_f, ValueError, ("bias", str(_s)), bias=np.zeros(_s))
case("conv2d", ValueError, ("x", "0 channels"), x=np.zeros((2, 0, 8, 8)),
     weight=np.zeros((6, 0, 3, 3)))

# ---- kernels that do not fit in the padded input
case("conv2d", ValueError, ("kernel", "9", "8"), weight=np.zeros((6, 4, 9, 3)))
case("conv2d", ValueError, ("dilation", "5", "11"), dilation=5)
case("conv2d", ValueError, ("kernel", "1 + 0"), weight=np.zeros((6, 4, 3, 10)),
     padding=((0, 0), (1, 0)))
case("conv1d", ValueError, ("kernel", "11", "10"), weight=np.zeros((6, 4, 11)))
case("conv2d_backward", ValueError, ("kernel", "9"), weight=np.zeros((6, 4, 9, 9)))
case("conv1d_backward", ValueError, ("kernel", "12"), weight=np.zeros((6, 4, 12)))
case("conv_matrix", ValueError, ("kernel", "9"), weight=np.zeros((6, 4, 3, 9)))
case("winograd_weights", ValueError, ("kernel", "5x5"), weight=np.zeros((6, 4, 5, 5)))
case("winograd_weights", ValueError, ("kernel", "3x5"), weight=np.zeros((6, 4, 3, 5)))
case("winograd_weights", ValueError, ("weight", "(6, 4)"), weight=np.zeros((6, 4)))
case("winograd_weights", ValueError, ("tile", "5"), tile=5)
case("winograd_weights", ValueError, ("groups", "4"), groups=4)
case("winograd_weights", ValueError, ("groups", "0"), groups=0)
case("winograd_weights", TypeError, ("tile", "4.0"), tile=4.0)
case("im2col", ValueError, ("kernel", "9", "8"), kernel_size=9)
case("im2col", ValueError, ("kernel", "3", "8"), kernel_size=3, dilation=(1, 4))
case("col2im", ValueError, ("kernel", "9", "8"), kernel_size=9)
case("conv_output_size", ValueError, ("kernel", "9", "8"), kernel_size=9)
case("conv_output_size", ValueError, ("kernel", "3", "2"), size=(8, 2))
for _f in POOLS:
    _k = 11 if _f in ONE_D else 9
    case(_f, ValueError, ("kernel_size", str(_k)), kernel_size=_k)
for _f in MAX_POOLS:
    case(_f, ValueError, ("kernel_size", "dilation 6"), kernel_size=3, dilation=6)

# ---- stride, dilation, kernel_size: zero, negative, too large, not an int, wrong length
_OPTIONS = {
    "stride": CONV + ("im2col", "col2im", "conv_matrix", "conv_output_size") + POOLS,
    "dilation": CONV + ("im2col", "col2im", "conv_matrix", "conv_output_size") + MAX_POOLS,
    "kernel_size": ("im2col", "col2im", "conv_output_size") + POOLS,
}
for _name, _funcs in _OPTIONS.items():
    for _f in _funcs:
        for _v in (0, -1, 2**31, -(2**40)):
            case(_f, ValueError, (_name, str(_v)), **{_name: _v})
        _bad_types = [1.5, "2", True, np.float64(2.0), [1.0, 1.0][: 1 if _f in ONE_D else 2]]
        if not (_name == "stride" and _f in POOLS):  # stride=None means kernel_size there
            _bad_types.append(None)
        for _v in _bad_types:
            _shown = repr(_v[0]) if isinstance(_v, list) else repr(_v)
            case(_f, TypeError, (_name, _shown), **{_name: _v})
        _wrong = (1, 1) if _f in ONE_D else (1, 1, 1)
        if (_f, _name) == ("im2col", "kernel_size"):  # its length is the number of dimensions
            _wrong = (1, 1, 1, 1)
        case(_f, ValueError, (_name, str(_wrong)), **{_name: _wrong})
        case(_f, ValueError, (_name, "()"), **{_name: ()})
        _zero = (0,) if _f in ONE_D else (1, 0)
        case(_f, ValueError, (_name, str(_zero)), **{_name: _zero})

# ---- padding: negative, not an int, unknown string, wrong length, too large
_CONV_LIKE = CONV + ("im2col", "col2im", "conv_matrix")
for _f in _CONV_LIKE + POOLS + ("conv_output_size",):
    case(_f, ValueError, ("padding", "-1"), padding=-1)
    case(_f, ValueError, ("padding", str(2**31)), padding=2**31)
    case(_f, TypeError, ("padding", "1.5"), padding=1.5)
    case(_f, TypeError, ("padding", "None"), padding=None)
    case(_f, (ValueError, TypeError), ("padding", "(1, 2, 3)"), padding=(1, 2, 3))
    _exc = ValueError if _f in _CONV_LIKE else TypeError
    case(_f, _exc, ("padding", "'full'"), padding="full")
    case(_f, _exc, ("padding", "'SAME'"), padding="SAME")
for _f in ("conv2d", "conv2d_backward", "im2col", "col2im", "conv_matrix"):
    case(_f, ValueError, ("padding", "-1"), padding=((0, 0), (0, -1)))
    case(_f, ValueError, ("padding", "(1, 2, 3)"), padding=((1, 2, 3), (0, 0)))
    case(_f, TypeError, ("padding", "1.0"), padding=((1.0, 1), (0, 0)))
case("conv1d", ValueError, ("padding", "-2"), padding=(0, -2))
for _f in POOLS:
    case(_f, ValueError, ("padding", "2", "kernel"), padding=2)
    case(_f, ValueError, ("padding", "3", "kernel"), kernel_size=4, padding=(3,) if (
        _f in ONE_D) else (1, 3))

# ---- algorithm, needs, format and other options
for _f in CONV:
    for _v in ("gemm", "", "DIRECT", None, ["direct"]):
        case(_f, ValueError, ("algorithm", repr(_v)), algorithm=_v)
for _f in ("conv2d_backward", "conv1d_backward"):
    case(_f, ValueError, ("algorithm", "'sparse'"), algorithm="sparse")
    for _v in (("input", "gradient"), "x", 5, None, ("input", None)):
        case(_f, ValueError, ("needs", repr(_v)), needs=_v)
for _f in POOLS + ("conv_output_size",):
    for _v in (1, "yes", None, np.int64(0)):
        case(_f, TypeError, ("ceil_mode", repr(_v)), ceil_mode=_v)
for _f in ("max_pool2d", "max_pool1d", "adaptive_max_pool2d"):
    for _v in (1, "yes", None):
        case(_f, TypeError, ("return_indices", repr(_v)), return_indices=_v)
for _f in AVG_POOLS:
    for _v in (1, "no", None):
        case(_f, TypeError, ("count_include_pad", repr(_v)), count_include_pad=_v)
    for _v in (0, -1, 2**31):
        case(_f, ValueError, ("divisor_override", str(_v)), divisor_override=_v)
    # flags are checked even where the kernel would not read them
    case(_f, TypeError, ("count_include_pad", "'no'"), kernel_size=10 if _f in ONE_D else 8,
         count_include_pad="no")
    for _v in (1.5, "2", True):
        case(_f, TypeError, ("divisor_override", repr(_v)), divisor_override=_v)
for _f in ADAPTIVE:
    for _v in (0, -1, 2**31, (0, None), (None, -3)):
        case(_f, ValueError, ("output_size", repr(_v)), output_size=_v)
    for _v in ((1, 2, 3), ()):
        case(_f, ValueError, ("output_size", repr(_v)), output_size=_v)
    for _v in (1.5, "a", None, (2, 2.0)):
        _shown = "2.0" if isinstance(_v, tuple) else repr(_v)
        case(_f, TypeError, ("output_size", _shown), output_size=_v)
case("avg_pool2d_backward", TypeError, ("count_include_pad", "0"), x=X[:0],
     grad_output=GP[:0], count_include_pad=0)
case("conv_matrix", ValueError, ("input_shape", "(4, 8)"), input_shape=(4, 8))
case("conv_matrix", ValueError, ("input_shape", "5"), input_shape=5)
case("conv_matrix", TypeError, ("input_shape", "8.0"), input_shape=(4, 8, 8.0))
case("conv_matrix", ValueError, ("input_shape", "-8"), input_shape=(4, -8, 8))
case("conv_matrix", ValueError, ("input_shape", str(2**40)), input_shape=(4, 2**40, 2**40))
for _v in ("coo", None, "CSR"):
    case("conv_matrix", ValueError, ("format", repr(_v)), format=_v)
case("conv_matrix", ValueError, ("max_bytes", "-1"), format="dense", max_bytes=-1)
case("conv_matrix", TypeError, ("max_bytes", "1.5"), format="dense", max_bytes=1.5)
case("conv_matrix", MemoryError, ("limit", "0.0 GB"), format="dense", max_bytes=100)

# ---- grad_output, indices and cols that do not match the forward call
case("conv2d_backward", ValueError, ("grad_output", "(2, 6, 5, 6)", "(2, 6, 6, 6)"),
     grad_output=np.zeros((2, 6, 5, 6)))
case("conv2d_backward", ValueError, ("grad_output", "(2, 5, 6, 6)"),
     grad_output=np.zeros((2, 5, 6, 6)))
case("conv1d_backward", ValueError, ("grad_output", "(2, 6, 9)", "(2, 6, 8)"),
     grad_output=np.zeros((2, 6, 9)))
case("conv2d_backward", ValueError, ("grad_output", "(6, 6, 6)"), grad_output=np.zeros((6, 6, 6)))
for _f in POOLS_BWD:
    _s = (2, 4, 6) if _f in ONE_D else (2, 4, 4, 5)
    case(_f, ValueError, ("grad_output", str(_s)), grad_output=np.zeros(_s))
for _v in (64, -2):
    case("max_pool2d_backward", ValueError, ("indices", str(_v)),
         indices=np.full(GP.shape, _v, np.int64))
case("max_pool1d_backward", ValueError, ("indices", str(2**63)),
     indices=np.full(GP1.shape, 2**63, np.uint64))
case("col2im", ValueError, ("cols", "(2, 35, 36)", "36"), cols=np.zeros((2, 35, 36)))
case("col2im", ValueError, ("cols", "(2, 36, 35)"), cols=np.zeros((2, 36, 35)))
case("col2im", ValueError, ("cols", "(2, 0, 36)"), cols=np.zeros((2, 0, 36)))
for _v in (0, -1, (8, 0)):
    case("col2im", ValueError, ("output_size", repr(_v)), output_size=_v)
case("col2im", ValueError, ("output_size", "(8, 8, 8)"), output_size=(8, 8, 8))
case("col2im", TypeError, ("output_size", "8.0"), output_size=(8.0, 8))

# ---- empty inputs that leave nothing to compute on (channels / pixels of size 0)
case("conv2d", ValueError, ("x", "(2, 4, 0, 8)"), x=np.zeros((2, 4, 0, 8)))
case("conv2d", ValueError, ("weight", "(6, 4, 0, 3)"), weight=np.zeros((6, 4, 0, 3)))
case("im2col", ValueError, ("x", "(2, 0, 8, 8)"), x=np.zeros((2, 0, 8, 8)))
case("max_pool2d", ValueError, ("x", "(2, 4, 8, 0)"), x=np.zeros((2, 4, 8, 0)))
case("adaptive_avg_pool2d", ValueError, ("x", "(2, 4, 0, 8)"), x=np.zeros((2, 4, 0, 8)))
case("conv_matrix", ValueError, ("input_shape", "(0, 8, 8)"), input_shape=(0, 8, 8))

# ---- channels-last input (layout='NHWC')
XN = np.zeros((2, 8, 8, 4))
for _f in ("conv2d", "max_pool2d", "avg_pool2d"):
    for _v in ("nhwc", "NCWH", "", None, 1, ["NHWC"]):
        case(_f, ValueError, ("layout", repr(_v)), layout=_v)
    case(_f, TypeError, ("x", "bool"), x=np.zeros(XN.shape, bool), layout="NHWC")
    case(_f, ValueError, ("x", "(8, 8)"), x=np.zeros((8, 8)), layout="NHWC")
case("conv2d", ValueError, ("weight", "3 input channels", "4"), x=XN,
     weight=np.zeros((6, 3, 1, 1)), layout="NHWC")
case("conv2d", ValueError, ("out", "shape"), x=XN, weight=np.zeros((6, 4, 1, 1)),
     out=np.zeros((2, 6, 8, 8)), layout="NHWC")
case("conv2d", ValueError, ("out", "x"), x=XN, weight=np.zeros((4, 4, 1, 1)), bias=None,
     out=XN, layout="NHWC")
case("max_pool2d", ValueError, ("padding", "2"), x=XN, padding=2, layout="NHWC")
case("avg_pool2d", TypeError, ("count_include_pad", "'no'"), x=XN[:0],
     count_include_pad="no", layout="NHWC")

# ---- padding_mode: unknown names, padding too large for the mode, zero-only algorithms
_BORDER = {"conv2d": (8, 9), "conv2d_backward": (8, 9), "conv1d": (10, 11),
           "conv1d_backward": (10, 11), "conv3d": (5, 6)}  # reflect / circular limits
for _f, (_refl, _circ) in _BORDER.items():
    case(_f, ValueError, ("padding_mode", "'mirror'", "reflect"), padding_mode="mirror")
    case(_f, ValueError, ("padding_mode", "'Zeros'"), padding_mode="Zeros")
    case(_f, TypeError, ("padding_mode", "None"), padding_mode=None)
    case(_f, ValueError, ("padding_mode", "reflect", f"({_refl}, {_refl})", "smaller"),
         padding=_refl, padding_mode="reflect")
    case(_f, ValueError, ("padding_mode", "circular", f"({_circ}, {_circ})", "at most"),
         padding=_circ, padding_mode="circular")
for _v in ("fft", "sparse"):
    case("conv2d", ValueError, ("algorithm", repr(_v), "'replicate'"), padding=1,
         padding_mode="replicate", algorithm=_v)

# ---- conv3d geometry, set_isa levels
case("conv3d", ValueError, ("groups", "4"), weight=np.zeros((6, 2, 3, 3, 3)))
case("conv3d", ValueError, ("depth", "5"), weight=np.zeros((6, 4, 7, 3, 3)))
case("conv3d", ValueError, ("stride", "3"), stride=(1, 1))
case("conv3d", ValueError, ("algorithm", "3-D"), algorithm="fft")
case("conv3d", ValueError, ("winograd", "Tx3x3", "3x5x5"), weight=np.zeros((6, 4, 3, 5, 5)),
     algorithm="winograd")
case("conv3d_backward", ValueError, ("grad_output", "(2, 6, 3, 4, 4)"),
     grad_output=np.zeros((2, 6, 3, 4, 4)))
case("conv3d_backward", ValueError, ("algorithm", "'fft'"), algorithm="fft")
case("conv3d_backward", ValueError, ("groups", "4"), weight=np.zeros((6, 2, 3, 3, 3)))
case("im2col", ValueError, ("x", "(1, 2, 4, 8, 8)"), x=np.zeros((1, 2, 4, 8, 8)),
     kernel_size=(3, 3))
case("im2col", ValueError, ("kernel_size", "(3, 3, 3, 3)"), kernel_size=(3, 3, 3, 3))
case("im2col", ValueError, ("kernel", "depth", "5"), x=X3, kernel_size=(6, 3, 3))
case("col2im", ValueError, ("cols", "(2, 36, 36)", "27"), output_size=(8, 8, 8))
case("col2im", ValueError, ("output_size", "(8, 8, 8, 8)"), output_size=(8, 8, 8, 8))
case("set_isa", ValueError, ("ISA", "sse9"), level="sse9")
case("set_isa", TypeError, ("ISA", "3"), level=3)

# ---- set_num_threads, conv_output_size sizes
for _v in (0, -1, 1025, 2**70):
    case("set_num_threads", ValueError, ("threads", str(_v)), n=_v)
for _v in (1.5, "2", True, [2]):
    case("set_num_threads", TypeError, ("threads", repr(_v)), n=_v)
for _v in (0, -1, (8, 0)):
    case("conv_output_size", ValueError, ("size", repr(_v)), size=_v)
for _v in (8.0, None, "8"):
    case("conv_output_size", TypeError, ("size", repr(_v)), size=_v)
case("conv_output_size", ValueError, ("size",), size=())

# ---- sizes past 64 bits: NumPy could not even describe the (empty) result
_P = 2**31 - 1
case("conv2d", ValueError, ("convolution output", "shape (0, 6", "2**63"), x=X[:0], padding=_P)
case("conv1d", ValueError, ("convolution output", "2**63"), x=X1[:0],
     weight=np.broadcast_to(np.zeros(()), (2**40, 4, 3)), bias=None, padding=_P)
case("im2col", ValueError, ("column matrix", "2**63"), x=X[:0], padding=_P)
case("adaptive_avg_pool2d", ValueError, ("result", "2147483647", "2**63"), x=X[:0], output_size=_P)
case("adaptive_max_pool2d", ValueError, ("result", "2**63"), x=X[:0], output_size=_P,
     return_indices=True)
# ... or a non-empty one past 2**63 - 1 bytes, refused with the size it would need
case("conv2d", MemoryError, ("convolution output", "GB", "2**63"), padding=_P)
case("conv_matrix", MemoryError, ("row pointers", "GB", "2**63"), padding=_P)
case("conv_matrix", MemoryError, ("dense conv matrix", "PB", "limit"), padding=_P,
     format="dense")
case("im2col", MemoryError, ("column matrix", "GB", "2**63"), padding=_P)


# ---- transposed convolution: channels, groups, stride, dilation, padding,
# output_padding, options, grad_output, out (the dtypes come from the loop above)
for _f, _args in TRANSPOSE_BASE.items():
    _nd = _args["weight"].ndim - 2
    _k = (3,) * _nd
    case(_f, ValueError, ("weight", "3 input channels", "4"), weight=np.zeros((3, 3, *_k)))
    case(_f, ValueError, ("weight", "shape"), weight=np.zeros((4, 3, *_k, 1)))
    case(_f, ValueError, ("x", "dimensions"), x=np.zeros((4,) * (_nd + 3)))
    case(_f, ValueError, ("groups", "groups=3", "4"), groups=3)
    case(_f, ValueError, ("groups", "0"), groups=0)
    case(_f, TypeError, ("groups", "True"), groups=True)
    case(_f, ValueError, ("kernel", "sizes", "0"), weight=np.zeros((4, 3, *(0,) * _nd)))
    for _name in ("stride", "dilation"):
        case(_f, ValueError, (_name, "0"), **{_name: 0})
        case(_f, ValueError, (_name, str(2**31)), **{_name: 2**31})
        case(_f, TypeError, (_name, "1.5"), **{_name: 1.5})
        case(_f, ValueError, (_name, str((1,) * (_nd + 1))), **{_name: (1,) * (_nd + 1)})
    case(_f, ValueError, ("padding", "-1"), padding=-1)
    case(_f, TypeError, ("padding", "1.5"), padding=1.5)
    case(_f, ValueError, ("padding", "'same'"), padding="same")
    case(_f, ValueError, ("padding", "crops"), padding=20)
    case(_f, ValueError, ("output_padding", "stride", "dilation"), output_padding=1)
    case(_f, ValueError, ("output_padding", "2"), output_padding=2, stride=2)
    case(_f, ValueError, ("output_padding", "-1"), output_padding=-1, stride=2)
    case(_f, TypeError, ("output_padding", "1.0"), output_padding=1.0, stride=2)
    for _v in ("gemm", "DIRECT", "winograd", None):
        case(_f, ValueError, ("algorithm", repr(_v)), algorithm=_v)
    if _f.endswith("_backward"):
        _go = _args["grad_output"]
        _bad = (*_go.shape[:-1], _go.shape[-1] + 1)
        case(_f, ValueError, ("grad_output", str(_bad), str(_go.shape)),
             grad_output=np.zeros(_bad))
        for _v in (("input", "gradient"), "x", 5, None):
            case(_f, ValueError, ("needs", repr(_v)), needs=_v)
    else:
        case(_f, ValueError, ("bias", "(4,)"), bias=np.zeros(4))
        _shape = (2, 3, *(n + 2 for n in _args["x"].shape[2:]))
        case(_f, ValueError, ("out", "shape"), out=np.zeros((2, 3, *_args["x"].shape[2:])))
        case(_f, TypeError, ("out", "float32"), out=np.zeros(_shape, np.float32))
        case(_f, ValueError, ("out", "C-contiguous"), out=np.zeros(_shape, order="F"))
case("conv_output_size", ValueError, ("output_padding", "transposed"), output_padding=1)
case("conv_output_size", ValueError, ("output_padding", "2"), stride=2, output_padding=2,
     transposed=True)
case("conv_output_size", ValueError, ("ceil_mode", "transposed"), ceil_mode=True,
     transposed=True)
case("conv_output_size", TypeError, ("transposed", "1"), transposed=1)
case("conv_output_size", ValueError, ("padding", "crops"), padding=20, transposed=True)
# ---- 3-D pools, adaptive 1-D/3-D, global 3-D, unpooling
case("max_pool3d", ValueError, ("x", "(6, 6, 6)"), x=np.zeros((6, 6, 6)))
case("avg_pool3d", ValueError, ("x", "(2, 4, 6, 0, 6)"), x=np.zeros((2, 4, 6, 0, 6)))
case("max_pool3d", ValueError, ("kernel_size", "(2, 2)"), kernel_size=(2, 2))
case("max_pool3d", ValueError, ("kernel_size", "0"), kernel_size=0)
case("max_pool3d", ValueError, ("stride", "0"), stride=(1, 0, 1))
case("max_pool3d", ValueError, ("padding", "2", "kernel"), padding=2)
case("max_pool3d", ValueError, ("dilation", "0"), dilation=0)
case("max_pool3d", ValueError, ("kernel_size", "7"), kernel_size=7)
case("max_pool3d", TypeError, ("kernel_size", "2.5"), kernel_size=2.5)
case("max_pool3d", TypeError, ("ceil_mode", "1"), ceil_mode=1)
case("max_pool3d", TypeError, ("return_indices", "'yes'"), return_indices="yes")
case("avg_pool3d", ValueError, ("divisor_override", "0"), divisor_override=0)
case("avg_pool3d", TypeError, ("count_include_pad", "'no'"), count_include_pad="no")
case("max_pool3d_backward", ValueError, ("grad_output", "(2, 4, 3, 3)", "(2, 4, 3, 3, 3)"),
     grad_output=np.zeros((2, 4, 3, 3)))
case("max_pool3d_backward", ValueError, ("indices", "216"),
     indices=np.full(GP3.shape, 216, np.int64))
case("max_pool3d_backward", TypeError, ("indices", "float64"), indices=np.zeros(GP3.shape))
case("avg_pool3d_backward", ValueError, ("grad_output", "(2, 4, 3, 2, 3)"),
     grad_output=np.zeros((2, 4, 3, 2, 3)))
for _f in ("adaptive_avg_pool3d", "adaptive_max_pool3d"):
    case(_f, ValueError, ("output_size", "(2, 2)"), output_size=(2, 2))
    case(_f, ValueError, ("output_size", "0"), output_size=0)
    case(_f, ValueError, ("x", "(6, 6)"), x=np.zeros((6, 6)))
for _f in ("adaptive_avg_pool1d", "adaptive_max_pool1d"):
    case(_f, TypeError, ("output_size", "1.5"), output_size=1.5)
    case(_f, ValueError, ("output_size", "(2, 2)"), output_size=(2, 2))
    case(_f, ValueError, ("x", "(1, 2, 4, 10)"), x=np.zeros((1, 2, 4, 10)))
case("adaptive_max_pool1d", TypeError, ("return_indices", "1"), return_indices=1)
case("global_avg_pool3d", ValueError, ("x", "(2, 4, 6)"), x=np.zeros((2, 4, 6)))
case("global_max_pool3d", ValueError, ("x", "(6,)"), x=np.zeros(6))
case("max_unpool3d", ValueError, ("indices", "(2, 4, 3, 3, 1)"),
     indices=np.zeros((2, 4, 3, 3, 1), np.int64))
for _v in (216, -1):
    case("max_unpool3d", ValueError, ("indices", str(_v), "[0, 216)"),
         indices=np.full(GP3.shape, _v, np.int64))
case("max_unpool2d", TypeError, ("indices", "float64"), indices=np.zeros(GP.shape))
case("max_unpool2d", ValueError, ("output_size", "(10, 8)", "strictly between 6 and 10"),
     output_size=(10, 8))
case("max_unpool2d", ValueError, ("output_size", "(8,)", "2 or 4"), output_size=(8,))
case("max_unpool1d", TypeError, ("output_size", "10"), output_size=10)
case("max_unpool1d", ValueError, ("output", ">= 1"), kernel_size=1, padding=3)
case("max_unpool1d", ValueError, ("kernel_size", "0"), kernel_size=0)
case("max_unpool1d", ValueError, ("padding", "-1"), padding=-1)
case("max_unpool_backward", ValueError, ("indices", "10", "[0, 10)"),
     indices=np.full(GP1.shape, 10, np.int64))
case("max_unpool_backward", ValueError, ("nd", "4"), nd=4)
case("max_unpool_backward", ValueError, ("indices", "(3, 4, 5)"),
     indices=np.zeros((3, 4, 5), np.int64))


PLANNING_QUERIES = {"direct_plan", "gemm_plan", "gemm_blocks", "gemm_packed_size",
                    "grad_weight_plan", "simd_level", "simd_detected", "simd_code",
                    "simd_levels", "DirectCall"}


@pytest.fixture
def kernel_calls(monkeypatch):
    """Replace every function of the Cython bridges with a recorder of its calls (but the
    planning queries, which read no data: the algorithm choice asks them once the
    arguments are valid, and a repeated direct call's plan is made then).  Plans of
    repeated calls kept by earlier tests are set aside, so that a test's first call with
    each key goes through the recorders (the cases here make one call each)."""
    calls = []
    monkeypatch.setattr(functional, "_REPEATED", {})
    for module in (_conv, _im2col, _pool, _matrix, _winograd):
        for attr in dir(module):
            if attr.startswith("_") or not callable(getattr(module, attr)):
                continue
            if attr in PLANNING_QUERIES:
                continue

            def recorder(*args, _name=f"{module.__name__}.{attr}", **kwargs):
                calls.append(_name)
                raise AssertionError(f"{_name} was called")

            monkeypatch.setattr(module, attr, recorder)
    yield calls
    convcore.set_num_threads(None)


def call(func, override):
    args = dict(BASE[func])
    args.update(override)
    return getattr(convcore, func)(**args)


def assert_names(message, fragments):
    """fragments[0] appears as a word (the argument), the rest as substrings (values)."""
    name, *values = fragments
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message), (
        f"{name!r} not named in {message!r}")
    for v in values:
        assert v in message, f"{v!r} not in {message!r}"


def test_every_public_function_is_in_the_table():
    public = {n for n in convcore.__all__ if callable(getattr(convcore, n))} - NO_ARGUMENTS
    assert public == set(BASE)
    covered = {p.values[0] for p in CASES}
    assert covered == set(BASE)


@pytest.mark.parametrize("func", sorted(BASE))
def test_base_calls_are_valid(func):
    """The table's starting points succeed, so each case fails because of its change."""
    before = convcore.get_isa()
    try:
        result = call(func, {})
    finally:
        convcore.set_num_threads(None)
        convcore.set_isa(before)
    assert result is not None or func in ("set_num_threads", "set_isa")


def test_recorder_sees_kernel_calls(kernel_calls):
    """The fixture is not vacuous: a valid call reaches the bridge and is recorded."""
    with pytest.raises(AssertionError, match="was called"):
        convcore.conv2d(X, W, algorithm="direct")
    with pytest.raises(AssertionError, match="was called"):
        convcore.max_pool2d(X, 2)
    assert kernel_calls == ["convcore._conv.conv_direct", "convcore._pool.max_pool"]


@pytest.mark.parametrize("func, override, exc, fragments", CASES)
def test_bad_input_raises_before_any_kernel(func, override, exc, fragments, kernel_calls):
    before = {k: v.copy() for k, v in override.items()
              if isinstance(v, np.ndarray) and v.flags.writeable}  # not broadcast views
    with pytest.raises(exc) as info:
        call(func, override)
    assert not kernel_calls, f"kernels ran before the error: {kernel_calls}"
    assert type(info.value) in (exc if isinstance(exc, tuple) else (exc,)), (
        f"{type(info.value).__name__} (a subclass) instead of {exc}")
    assert_names(str(info.value), fragments)
    for k, v in before.items():
        np.testing.assert_array_equal(override[k], v)
    assert not X.any() and not W.any() and not GO.any()


# ---- huge paddings and outputs: refused at once with the size they would need

HUGE = [
    ("conv2d", lambda: convcore.conv2d(X, W, padding=10**9), "(2, 6, 2000000006, 2000000006)"),
    ("conv1d", lambda: convcore.conv1d(X1, np.broadcast_to(W1[:1], (10**4, 4, 3)),
                                       padding=10**9), "(2, 10000, 2000000008)"),
    ("im2col", lambda: convcore.im2col(X, 3, padding=10**9), "(2, 36, 4000000024000000036)"),
    ("conv_matrix", lambda: convcore.conv_matrix((4, 8, 8), W, padding=10**9), "row pointers"),
    ("conv_matrix_dense", lambda: convcore.conv_matrix((4, 8, 8), W, padding=10**9,
                                                       format="dense"), "dense conv matrix"),
    ("conv_matrix_image", lambda: convcore.conv_matrix((1, 10**6, 10**6), W[:, :1]),
     f"({6 * (10**6 - 2) ** 2 + 1},)"),
    ("adaptive_avg_pool2d", lambda: convcore.adaptive_avg_pool2d(X, 10**9),
     "(2, 4, 1000000000, 1000000000)"),
    ("adaptive_max_pool2d", lambda: convcore.adaptive_max_pool2d(X, (10**9, 10**4)),
     "(2, 4, 1000000000, 10000)"),
    ("conv2d_broadcast", lambda: convcore.conv2d(
        np.broadcast_to(np.float32(0), (10**6, 4, 100, 100)), W.astype(np.float32)),
     "(1000000, 6, 98, 98)"),
]


@pytest.mark.parametrize("name, fn, shape", HUGE, ids=[h[0] for h in HUGE])
def test_huge_padding_or_output_raises_promptly_with_the_size(name, fn, shape, kernel_calls):
    start = time.perf_counter()
    with pytest.raises(MemoryError) as info:
        fn()
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed:.2f} s to refuse"
    message = str(info.value)
    assert re.search(r"needs [\d.,]+ [GTP]B", message), message
    assert shape in message, message
    assert not kernel_calls


def test_huge_padding_backward_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(2, 6, 2000000006, 2000000006\)"):
        convcore.conv2d_backward(GO, X, W, padding=10**9)


def test_huge_window_pooling_is_bounded_by_the_input():
    """A window of 2e9 taps with 1e9 padding is answered at once (taps outside the input
    are never visited), with the right values."""
    x = np.arange(2 * 4 * 64, dtype=np.float64).reshape(2, 4, 8, 8)
    start = time.perf_counter()
    y = convcore.max_pool2d(x, 2 * 10**9, padding=10**9)
    a = convcore.avg_pool2d(x, 2 * 10**9, padding=10**9, count_include_pad=False)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(y[..., 0, 0], x.max(axis=(2, 3)))
    np.testing.assert_allclose(a[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-15)


def test_sizes_just_below_the_limits_are_accepted():
    """The limits are not off by one: parameters of 2**31 - 1 work where they fit."""
    x = np.ones((1, 1, 1, 3))
    y = convcore.conv2d(x, np.ones((1, 1, 1, 1)), stride=2**31 - 1, dilation=2**31 - 1)
    assert y.shape == (1, 1, 1, 1) and y[0, 0, 0, 0] == 1
    assert convcore.conv_output_size(2**40, 3, stride=2**31 - 1) == (2**40 - 3) // (2**31 - 1) + 1
    convcore.set_num_threads(1024)
    convcore.set_num_threads(None)


# ---- out=: wrong shape, dtype, layout, type, read-only, or overlapping an input

def _out_cases():
    y2, y1 = (2, 6, 6, 6), (2, 6, 8)
    cases = []
    for fn, shape in (("conv2d", y2), ("conv1d", y1)):
        cases += [
            (fn, np.zeros(shape[:-1] + (shape[-1] + 1,)), ValueError, ("out", "shape")),
            (fn, np.zeros(shape[1:]), ValueError, ("out", str(shape[1:]))),
            (fn, np.zeros((int(np.prod(shape)),)), ValueError, ("out", "shape")),
            (fn, np.zeros(shape, np.float32), TypeError, ("out", "float32")),
            (fn, np.zeros(shape, np.int64), TypeError, ("out", "int64")),
            (fn, np.zeros(shape, np.complex128), TypeError, ("out", "complex128")),
            (fn, np.asfortranarray(np.zeros(shape)), ValueError, ("out", "C-contiguous")),
            (fn, np.zeros(shape[:-1] + (2 * shape[-1],))[..., ::2], ValueError,
             ("out", "C-contiguous")),
            (fn, np.zeros(shape)[..., ::-1], ValueError, ("out", "C-contiguous")),
            (fn, np.broadcast_to(np.zeros(shape[-1]), shape), ValueError, ("out",)),
            (fn, np.zeros(shape).tolist(), TypeError, ("out", "list")),
            (fn, np.zeros(shape).view(np.recarray), TypeError, ("out", "recarray")),
        ]
        readonly = np.zeros(shape)
        readonly.flags.writeable = False
        cases.append((fn, readonly, ValueError, ("out", "read-only")))
    return cases


@pytest.mark.parametrize("fn, out, exc, fragments", _out_cases(),
                         ids=lambda v: _short(v) if not callable(v) else None)
def test_bad_out(fn, out, exc, fragments, kernel_calls):
    keep = out.copy() if isinstance(out, np.ndarray) else None
    with pytest.raises(exc) as info:
        getattr(convcore, fn)(**BASE[fn], out=out)
    assert type(info.value) is exc
    assert_names(str(info.value), fragments)
    assert not kernel_calls
    if keep is not None:
        np.testing.assert_array_equal(out, keep)  # untouched


@pytest.mark.parametrize("which", ["x", "weight", "bias"])
@pytest.mark.parametrize("fn", ["conv2d", "conv1d"])
def test_out_overlapping_an_input(fn, which, kernel_calls):
    """out sharing memory with x, weight or bias (even partly) is refused and names it."""
    args = {k: v.copy() for k, v in BASE[fn].items()}
    shape = (2, 6, 6, 6) if fn == "conv2d" else (2, 6, 8)
    n_out = int(np.prod(shape))
    src = args[which]
    buf = np.zeros(n_out + src.size)
    buf[n_out // 2:n_out // 2 + src.size] = src.ravel()
    args[which] = buf[n_out // 2:n_out // 2 + src.size].reshape(src.shape)  # inside out
    out = buf[:n_out].reshape(shape)
    snapshot = buf.copy()
    with pytest.raises(ValueError) as info:
        getattr(convcore, fn)(**args, out=out)
    assert_names(str(info.value), ("out", which))
    np.testing.assert_array_equal(buf, snapshot)
    assert not kernel_calls


def test_valid_out_is_used_and_returned():
    for fn, shape in (("conv2d", (2, 6, 6, 6)), ("conv1d", (2, 6, 8))):
        out = np.full(shape, np.nan)
        assert getattr(convcore, fn)(**BASE[fn], out=out) is out
        np.testing.assert_array_equal(out, 0.0)
