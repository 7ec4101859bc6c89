"""A fuzz target for the argument-validation layer of every public function.

Each example draws a valid call (random geometry, dtype, layout and argument forms), then
usually replaces one or two arguments by junk: wrong shapes and dtypes (bool, complex,
object, strings, datetimes), lists, scalars, None, zero, negative and huge numbers, floats,
NaN, strings, bytes, tuples of the wrong length, NumPy scalars and 0-d arrays.  The only
acceptable outcomes are a ValueError, TypeError or MemoryError with a message, or a result
equal to the NumPy reference; a call that was not corrupted must succeed.  Arguments
convcore accepts are interpreted here independently of convcore (``_index``,
``_ints``, ``_padding``), so an accepted junk value that convcore reads differently from
the reference fails.  Warnings raised by convcore are errors.
"""

import operator
import warnings

import numpy as np
import pytest
from conftest import assert_close
from conv_backward_reference import conv1d_backward_ref, conv2d_backward_ref
from hypothesis import assume, given
from hypothesis import strategies as st
from pool_reference import (
    adaptive_avg_pool2d_ref,
    adaptive_max_pool2d_ref,
    avg_pool2d_backward_ref,
    avg_pool2d_ref,
    max_pool2d_backward_ref,
    max_pool2d_ref,
    pool_output_size_ref,
)
from reference import col2im_ref, conv1d_ref, conv2d_ref, im2col_ref, output_size_ref, same_pad_ref

import convcore

ALLOWED = (ValueError, TypeError, MemoryError)
SEQUENCES = (list, tuple, range)

INT_JUNK = [0, -1, -3, 2**31, 2**63, -(2**63), 10**9, 1.5, 2.0, float("nan"), float("inf"),
            "2", "", None, True, False, (), (1, 2, 3), (1, 0), [1.5, 1.0], b"\x02",
            bytearray(b"\x02\x02"), 1 + 0j, object(), {}, np.float32(2), np.array([1, 1]),
            np.array(1.5), np.int64(2), np.uint16(1), np.array(2), np.bool_(True), range(2)]
STR_JUNK = ["gemm", "", None, 1, "Direct", ["direct"], b"direct", "same ", "full"]
FLAG_JUNK = [0, 1, "yes", None, np.int64(1), np.bool_(True), np.bool_(False), 1.0]
ARRAY_JUNK_DTYPES = [np.bool_, np.complex64, np.complex128, object, "U2", "S2", "M8[s]",
                     "m8[s]", "V8", np.float16, np.int8, np.uint16, np.int64]


# ---------------------------------------------------------------- independent readings


def _index(v):
    """An int as convcore must read it: ints, NumPy ints, 0-d int arrays; not bools."""
    if isinstance(v, bool | np.bool_):
        raise TypeError(v)
    return operator.index(v)


def _ints(v, n):
    if isinstance(v, SEQUENCES):
        if len(v) != n:
            raise ValueError(v)
        return tuple(_index(e) for e in v)
    return (_index(v),) * n


def _positive(v, n, minimum=1):
    out = _ints(v, n)
    if any(e < minimum or e > 2**31 - 1 for e in out):
        raise ValueError(v)
    return out


def _flag(v):
    if not isinstance(v, bool | np.bool_):
        raise TypeError(v)
    return bool(v)


def _padding(p, sizes, kernel, stride, dilation):
    """Any convolution padding form as ((before, after), ...) per dimension."""
    nd = len(sizes)
    if isinstance(p, str):
        if p == "valid":
            return ((0, 0),) * nd
        if p == "same":
            return tuple(same_pad_ref(*a) for a in zip(sizes, kernel, stride, dilation,
                                                      strict=True))
        raise ValueError(p)

    def pair(e):
        if isinstance(e, SEQUENCES):
            if len(e) != 2:
                raise ValueError(e)
            return (_index(e[0]), _index(e[1]))
        return (_index(e),) * 2

    if isinstance(p, SEQUENCES):
        items = list(p)
        if nd == 1 and len(items) == 2 and not any(isinstance(e, SEQUENCES) for e in items):
            pairs = ((_index(items[0]), _index(items[1])),)
        elif len(items) == nd:
            pairs = tuple(pair(e) for e in items)
        else:
            raise ValueError(p)
    else:
        pairs = (pair(p),) * nd
    if any(not 0 <= v <= 2**31 - 1 for pr in pairs for v in pr):
        raise ValueError(p)
    return pairs


def _real(a):
    arr = np.asarray(a)
    if arr.dtype.kind not in "iuf":
        raise TypeError(arr.dtype)
    return arr


def _result_dtype(*arrays):
    rt = np.result_type(*arrays)
    return rt if rt in (np.float32, np.float64) else np.dtype(np.float64)


class TooBigForTheReference(Exception):
    """An accepted call whose padding the slow references cannot materialise (a 'same'
    padding of a dilation of 10**9, say): convcore answered; the values are not checked."""


def attempt(call, corrupted, check):
    """call() must raise an allowed error (only if corrupted) or pass check(result);
    a warning raised by the call is an error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = call()
    except ALLOWED as exc:
        assert corrupted, f"a valid call raised {exc!r}"
        assert str(exc), f"{type(exc).__name__} without a message"
        return
    try:
        check(result)
    except TooBigForTheReference:
        return
    except (ValueError, TypeError, IndexError) as exc:  # the reference's reading failed
        raise AssertionError(
            f"convcore accepted arguments the reference rejects: {exc!r}") from exc


# ---------------------------------------------------------------- drawing arguments


def _layout(draw, a):
    kind = draw(st.sampled_from(["C", "C", "F", "reversed", "list"]))
    if kind == "F":
        return np.asfortranarray(a)
    if kind == "reversed":
        flip = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[flip])[flip]
    if kind == "list" and 0 < a.size <= 200:  # an empty list loses the shape
        return a.tolist()
    return a


def _array(draw, shape, dtype):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if np.dtype(dtype).kind == "f":
        a = rng.uniform(-2, 2, shape).astype(dtype)
    else:
        a = rng.integers(0 if np.dtype(dtype).kind == "u" else -3, 4, shape).astype(dtype)
    return _layout(draw, a)


@st.composite
def junk_array(draw, like):
    like = np.asarray(like)
    kind = draw(st.sampled_from(["dtype", "dtype", "ndim", "scalar", "none", "ragged", "zero",
                                 "list-of-str"]))
    if kind == "dtype":
        return np.zeros(like.shape, draw(st.sampled_from(ARRAY_JUNK_DTYPES)))
    if kind == "ndim":
        ndim = draw(st.integers(0, 5).filter(lambda d: d != like.ndim))
        return np.zeros(tuple(draw(st.integers(0, 3)) for _ in range(ndim)))
    if kind == "scalar":
        return draw(st.sampled_from([1.0, 0, np.float64(2.0)]))
    if kind == "none":
        return None
    if kind == "ragged":
        return [[1.0, 2.0], [3.0]]
    if kind == "list-of-str":
        return [["a", "b"]]
    shape = list(like.shape)
    if shape:
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    return np.zeros(tuple(shape))


def corrupt(draw, args, kinds):
    """Replace 0-2 arguments (half of the examples keep all valid); returns corrupted."""
    if draw(st.booleans()):
        return False
    keys = draw(st.lists(st.sampled_from(sorted(kinds)), min_size=1, max_size=2, unique=True))
    for k in keys:
        kind = kinds[k]
        if kind == "array":
            args[k] = draw(junk_array(args[k]))
        elif kind == "int":
            args[k] = draw(st.sampled_from(INT_JUNK))
        elif kind == "str":
            args[k] = draw(st.sampled_from(STR_JUNK))
        elif kind == "flag":
            args[k] = draw(st.sampled_from(FLAG_JUNK))
    return True


def _padding_form(draw, pads, nd):
    """``pads`` ((before, after) per dimension) in one of the equivalent accepted forms."""
    forms = [tuple(pads), [list(p) for p in pads]]
    if all(b == a for b, a in pads):
        forms += [tuple(b for b, _ in pads), tuple(np.int64(b) for b, _ in pads)]
        if len({b for b, _ in pads}) == 1:
            forms += [pads[0][0], np.int64(pads[0][0])]
    if nd == 1:
        forms.append(tuple(pads[0]))
    if all(p == (0, 0) for p in pads):
        forms.append("valid")
    return draw(st.sampled_from(forms))


@st.composite
def conv_args(draw, nd):
    groups = draw(st.integers(1, 3))
    cg, kg = draw(st.integers(1, 2)), draw(st.integers(0, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
    sizes = tuple(max(1, d * (k - 1) + 1 - sum(p)) + draw(st.integers(0, 5))
                  for k, d, p in zip(kernel, dilation, pads, strict=True))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float64, np.float16, np.int16]))
    n = draw(st.sampled_from([None, 0, 1, 2]))
    xshape = ((n,) if n is not None else ()) + (groups * cg, *sizes)
    x = _array(draw, xshape, dtype)
    w = _array(draw, (groups * kg, cg, *kernel), draw(st.sampled_from([dtype, np.float32])))
    bias = draw(st.sampled_from([None, "yes"]))
    if bias:
        bias = _array(draw, (groups * kg,), np.float64)
    padding = draw(st.sampled_from(["explicit", "explicit", "same"]))
    padding = _padding_form(draw, pads, nd) if padding == "explicit" else "same"
    return dict(x=x, weight=w, bias=bias,
                stride=draw(st.sampled_from([stride, stride[0] if len(set(stride)) == 1 else
                                             stride, list(stride)])),
                padding=padding,
                dilation=dilation if len(set(dilation)) > 1 else dilation[0],
                groups=draw(st.sampled_from([groups, np.int64(groups)])),
                algorithm=draw(st.sampled_from(["auto", "direct", "im2col", "sparse"])))


def _conv_reference(nd, args, backward_go=None):
    """(x4, w4, stride, pads, dilation, groups) of a conv call, read independently."""
    x, w = _real(args["x"]), _real(args["weight"])
    if w.ndim != nd + 2 or x.ndim not in (nd + 1, nd + 2):
        raise ValueError("ndim")
    stride = _positive(args["stride"], nd)
    dilation = _positive(args["dilation"], nd)
    groups = _index(args["groups"])
    kernel = w.shape[2:]
    sizes = x.shape[-nd:]
    pads = _padding(args["padding"], sizes, kernel, stride, dilation)
    if max(b + a for b, a in pads) > 4096:
        raise TooBigForTheReference(pads)
    return x, w, stride, pads, dilation, groups


CONV_KINDS = dict(x="array", weight="array", bias="array", stride="int", padding="int",
                  dilation="int", groups="int", algorithm="str")


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_fuzz_conv(nd, data):
    args = data.draw(conv_args(nd))
    corrupted = corrupt(data.draw, args, CONV_KINDS)
    fn = convcore.conv1d if nd == 1 else convcore.conv2d

    def check(y):
        x, w, stride, pads, dilation, groups = _conv_reference(nd, args)
        assert args["algorithm"] in ("auto", "direct", "im2col", "sparse")
        b = None if args["bias"] is None else _real(args["bias"])
        batched = x.ndim == nd + 2
        xb = x if batched else x[None]
        if nd == 2:
            ref = conv2d_ref(xb, w, b, stride, pads, dilation, groups)
        else:
            ref = conv1d_ref(xb, w, b, stride[0], pads[0], dilation[0], groups)
        ref = ref if batched else ref[0]
        assert y.dtype == _result_dtype(x, w)
        assert_close(y, ref, y.dtype, terms=max(1, int(np.prod(w.shape[1:]))))

    attempt(lambda: fn(**args), corrupted, check)


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_fuzz_conv_backward(nd, data):
    args = data.draw(conv_args(nd))
    args.pop("bias")
    if args["algorithm"] == "sparse":
        args["algorithm"] = "auto"
    # the forward result's shape, from the valid arguments
    y = (convcore.conv1d if nd == 1 else convcore.conv2d)(**args)
    go = _array(data.draw, y.shape, data.draw(st.sampled_from([np.float64, np.float32])))
    args = dict(grad_output=go, **args)
    args["needs"] = data.draw(st.sampled_from([("input", "weight", "bias"), ["weight"],
                                               "input", ("bias", "input")]))
    kinds = {k: v for k, v in CONV_KINDS.items() if k != "bias"}
    corrupted = corrupt(data.draw, args, dict(kinds, grad_output="array", needs="str"))
    fn = convcore.conv1d_backward if nd == 1 else convcore.conv2d_backward

    def check(grads):
        x, w, stride, pads, dilation, groups = _conv_reference(nd, args)
        assert args["algorithm"] in ("auto", "direct", "im2col")
        needs = (args["needs"],) if isinstance(args["needs"], str) else tuple(args["needs"])
        assert set(needs) <= {"input", "weight", "bias"}
        g = _real(args["grad_output"])
        batched = x.ndim == nd + 2
        xb, gb = (x, g) if batched else (x[None], g[None])
        if nd == 2:
            ref = conv2d_backward_ref(gb, xb, w, stride, pads, dilation, groups)
        else:
            ref = conv1d_backward_ref(gb, xb, w, stride[0], pads[0], dilation[0], groups)
        ref = (ref[0] if batched else ref[0][0], ref[1], ref[2])
        dtype = _result_dtype(x, w)
        for name, got, r in zip(("input", "weight", "bias"), grads, ref, strict=True):
            if name not in needs:
                assert got is None
                continue
            assert got.dtype == dtype and got.shape == r.shape
            assert_close(got, r, dtype, terms=max(1, g.size))

    attempt(lambda: fn(**args), corrupted, check)


@given(data=st.data())
def test_fuzz_unfold_fold(data):
    args = data.draw(conv_args(2))
    x = _real(args["x"])
    kernel = _real(args["weight"]).shape[2:]
    common = dict(kernel_size=data.draw(st.sampled_from([kernel, list(kernel)])),
                  stride=args["stride"], padding=args["padding"], dilation=args["dilation"])
    kinds = dict(kernel_size="int", stride="int", padding="int", dilation="int")
    unfold = dict(x=args["x"], **common)
    corrupted = corrupt(data.draw, unfold, dict(kinds, x="array"))

    def reading(a, sizes):
        k = _positive(a["kernel_size"], 2)
        s, d = _positive(a["stride"], 2), _positive(a["dilation"], 2)
        p = _padding(a["padding"], sizes, k, s, d)
        if max(b + e for b, e in p) > 4096:
            raise TooBigForTheReference(p)
        return k, s, d, p

    def check_unfold(cols):
        xa = _real(unfold["x"])
        k, s, d, p = reading(unfold, xa.shape[-2:])
        xb = xa if xa.ndim == 4 else xa[None]
        ref = im2col_ref(xb, k, s, d, p)
        np.testing.assert_array_equal(cols, ref if xa.ndim == 4 else ref[0])
        assert cols.dtype == (np.float32 if xa.dtype == np.float32 else np.float64)

    attempt(lambda: convcore.im2col(**unfold), corrupted, check_unfold)
    if x.ndim != 4 or x.shape[1] == 0:
        return
    cols = convcore.im2col(x, **common)
    fold = dict(cols=_array(data.draw, cols.shape, np.float64), output_size=x.shape[2:],
                **common)
    corrupted = corrupt(data.draw, fold, dict(kinds, cols="array", output_size="int"))

    def check_fold(back):
        c = _real(fold["cols"])
        size = _positive(fold["output_size"], 2)
        k, s, d, p = reading(fold, size)
        cb = c if c.ndim == 3 else c[None]
        ref = col2im_ref(cb, size, k, s, d, p)
        assert_close(back, ref if c.ndim == 3 else ref[0], np.float64, terms=k[0] * k[1])

    attempt(lambda: convcore.col2im(**fold), corrupted, check_fold)


# ---------------------------------------------------------------- pooling


@st.composite
def pool_args(draw, nd, op):
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if op == "max" else (1,) * nd
    sizes = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 5))
                  for k, p, d in zip(kernel, padding, dilation, strict=True))
    lead = draw(st.sampled_from([(2, 3), (1, 2), (0, 2), (3,)]))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int32, np.float16]))
    one = lambda t: t[0] if len(set(t)) == 1 and draw(st.booleans()) else t  # noqa: E731
    args = dict(x=_array(draw, (*lead, *sizes), dtype), kernel_size=one(kernel),
                stride=draw(st.sampled_from([None, one(stride)])), padding=one(padding),
                ceil_mode=draw(st.booleans()))
    if op == "max":
        args["dilation"] = one(dilation)
    else:
        args["count_include_pad"] = draw(st.booleans())
        args["divisor_override"] = draw(st.sampled_from([None, 1, 3, np.int64(7)]))
    return args


def _pool_reading(nd, a, op):
    """(x, kernel, stride, padding, dilation, ceil_mode) read independently; 1-D as 2-D."""
    x = _real(a["x"])
    if x.ndim not in (nd + 1, nd + 2) or 0 in x.shape[-nd:]:
        raise ValueError("x")
    k = _positive(a["kernel_size"], nd)
    s = k if a["stride"] is None else _positive(a["stride"], nd)
    p = _positive(a["padding"], nd, minimum=0)
    d = _positive(a.get("dilation", 1), nd)
    if any(pi > ki // 2 for pi, ki in zip(p, k, strict=True)):
        raise ValueError("padding")
    if max(k) > 4096:  # the references walk every tap of every window
        raise TooBigForTheReference(k)
    ceil = _flag(a["ceil_mode"])
    for n, ki, si, pi, di in zip(x.shape[-nd:], k, s, p, d, strict=True):
        pool_output_size_ref(n, ki, si, pi, di, ceil)
    if nd == 1:
        return x[..., None, :], (1, *k), (1, *s), (0, *p), (1, *d), ceil
    return x, k, s, p, d, ceil


POOL_KINDS = dict(x="array", kernel_size="int", stride="int", padding="int", dilation="int",
                  ceil_mode="flag", count_include_pad="flag", divisor_override="int")


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("op", ["max", "avg"])
@given(data=st.data())
def test_fuzz_pool_forward_backward(nd, op, data):
    args = data.draw(pool_args(nd, op))
    kinds = {k: v for k, v in POOL_KINDS.items() if k in args}
    fwd = dict(args)
    corrupted = corrupt(data.draw, fwd, kinds)
    fn = getattr(convcore, f"{op}_pool{nd}d")

    def reference(a):
        x, k, s, p, d, ceil = _pool_reading(nd, a, op)
        if op == "max":
            try:
                y, idx = max_pool2d_ref(x, k, s, p, d, ceil)
            except ValueError:  # a window with no cell in the input: convcore's -inf, -1
                assume(False)
            return x, (k, s, p, d, ceil), y, idx
        cip = _flag(a["count_include_pad"])
        div = None if a["divisor_override"] is None else _positive(a["divisor_override"], 1)[0]
        return x, (k, s, p, ceil, cip, div), avg_pool2d_ref(x, k, s, p, ceil, cip, div), None

    def squeeze(a):
        return a[..., 0, :] if nd == 1 else a

    def check(y):
        x, _, ref, idx = reference(fwd)
        assert y.dtype == (np.float32 if x.dtype == np.float32 else np.float64)
        assert_close(y, squeeze(ref), y.dtype, terms=16)

    attempt(lambda: fn(**fwd), corrupted, check)

    y = fn(**args)
    go = _array(data.draw, y.shape, np.float64)
    bwd = dict(args, grad_output=go)
    corrupted = corrupt(data.draw, bwd, dict(kinds, grad_output="array"))
    bfn = getattr(convcore, f"{op}_pool{nd}d_backward")

    def check_backward(gx):
        x, geom, _, _ = reference(bwd)
        g = _real(bwd["grad_output"])
        g2 = g[..., None, :] if nd == 1 else g
        if op == "max":
            ref = max_pool2d_backward_ref(g2, x, *geom)
        else:
            k, s, p, ceil, cip, div = geom
            ref = avg_pool2d_backward_ref(g2, x, k, s, p, ceil, cip, div)
        assert_close(gx, squeeze(ref), gx.dtype, terms=16)

    attempt(lambda: bfn(**bwd), corrupted, check_backward)


@pytest.mark.parametrize("op", ["avg", "max"])
@given(data=st.data())
def test_fuzz_adaptive_and_global(op, data):
    shape = (*data.draw(st.sampled_from([(2, 3), (0, 1), (2,)])),
             data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9)))
    x = _array(data.draw, shape, data.draw(st.sampled_from([np.float32, np.float64, np.int8])))
    size = data.draw(st.sampled_from([1, 3, (2, None), (None, 4), [5, 2], np.int64(2)]))
    args = dict(x=x, output_size=size)
    if op == "max":
        args["return_indices"] = data.draw(st.booleans())
    corrupted = corrupt(data.draw, args, dict(x="array", output_size="int",
                                              return_indices="flag"))
    fn = getattr(convcore, f"adaptive_{op}_pool2d")

    def check(result):
        xa = _real(args["x"])
        if xa.ndim not in (3, 4) or 0 in xa.shape[-2:]:
            raise ValueError("x")
        o = args["output_size"]
        if isinstance(o, list | tuple):
            if len(o) != 2:
                raise ValueError(o)
            o = tuple(n if v is None else _positive(v, 1)[0] for v, n in zip(o, xa.shape[-2:],
                                                                            strict=True))
        else:
            o = _positive(o, 2)
        y = result[0] if isinstance(result, tuple) else result
        assert y.shape == (*xa.shape[:-2], *o)
        if not xa.size:  # no plane: the reference would still loop over every output cell
            return
        if op == "avg":
            assert_close(result, adaptive_avg_pool2d_ref(xa, o), result.dtype, terms=81)
            return
        ref, ridx = adaptive_max_pool2d_ref(xa, o)
        if _flag(args["return_indices"]):
            result, idx = result
            np.testing.assert_array_equal(idx, ridx)
        np.testing.assert_array_equal(result, ref.astype(result.dtype))

    attempt(lambda: fn(**args), corrupted, check)
    gargs = dict(x=x)
    corrupted = corrupt(data.draw, gargs, dict(x="array"))
    gfn = getattr(convcore, f"global_{op}_pool2d")

    def check_global(result):
        xa = _real(gargs["x"])
        if xa.ndim not in (3, 4) or 0 in xa.shape[-2:]:
            raise ValueError("x")
        ref = (adaptive_avg_pool2d_ref(xa, 1) if op == "avg" else
               adaptive_max_pool2d_ref(xa, 1)[0])
        assert_close(result, ref, result.dtype, terms=81)

    attempt(lambda: gfn(**gargs), corrupted, check_global)


# ---------------------------------------------------------------- the rest


@given(data=st.data())
def test_fuzz_conv_matrix(data):
    args = data.draw(conv_args(2))
    x = _real(args["x"])
    assume(x.ndim == 3 or x.shape[0] > 0)
    image = x if x.ndim == 3 else x[0]
    margs = dict(input_shape=data.draw(st.sampled_from([image.shape, list(image.shape)])),
                 weight=args["weight"], stride=args["stride"], padding=args["padding"],
                 dilation=args["dilation"], groups=args["groups"],
                 format=data.draw(st.sampled_from(["csr", "dense"])))
    corrupted = corrupt(data.draw, margs, dict(input_shape="int", weight="array", stride="int",
                                               padding="int", dilation="int", groups="int",
                                               format="str"))

    def check(m):
        shape = margs["input_shape"]
        if not isinstance(shape, SEQUENCES) or len(shape) != 3:
            raise ValueError(shape)
        shape = _positive(shape, 3)
        read = _conv_reference(2, dict(margs, x=np.zeros(shape)))
        _, w, stride, pads, dilation, groups = read
        assert margs["format"] in ("csr", "dense")
        img = np.random.default_rng(0).uniform(-1, 1, shape)
        ref = conv2d_ref(img[None], w, None, stride, pads, dilation, groups)[0]
        dense = m if margs["format"] == "dense" else m.toarray()
        assert dense.shape == (ref.size, img.size)
        assert_close(dense @ img.ravel(), ref.ravel(), dense.dtype,
                     terms=max(1, int(np.prod(w.shape[1:]))))

    attempt(lambda: convcore.conv_matrix(**margs), corrupted, check)


@given(data=st.data())
def test_fuzz_relu_output_size_threads(data):
    x = _array(data.draw, data.draw(st.sampled_from([(3,), (2, 4), (0,), ()])), np.float32)
    args = dict(x=x)
    corrupted = corrupt(data.draw, args, dict(x="array"))
    attempt(lambda: convcore.relu(**args), corrupted,
            lambda r: np.testing.assert_array_equal(r, np.maximum(_real(args["x"]), 0)))

    k, p, d = data.draw(st.integers(1, 5)), data.draw(st.integers(0, 2)), data.draw(
        st.integers(1, 2))
    n = max(1, d * (k - 1) + 1 - 2 * p) + data.draw(st.integers(0, 30))
    oargs = dict(size=data.draw(st.sampled_from([n, (n,), (n, n + 1)])), kernel_size=k,
                 stride=data.draw(st.integers(1, 3)), padding=p, dilation=d,
                 ceil_mode=data.draw(st.booleans()))
    corrupted = corrupt(data.draw, oargs, dict(size="int", kernel_size="int", stride="int",
                                               padding="int", dilation="int", ceil_mode="flag"))

    def check_size(got):
        size = oargs["size"]
        scalar = not isinstance(size, list | tuple)
        sizes = (_index(size),) if scalar else tuple(_index(v) for v in size)
        assert sizes and min(sizes) >= 1
        nd = len(sizes)
        k, s, d = (_positive(oargs[a], nd) for a in ("kernel_size", "stride", "dilation"))
        p = _padding(oargs["padding"], sizes, k, s, d)
        ceil = _flag(oargs["ceil_mode"])
        want = tuple(output_size_ref(*a, ceil, pi[0]) for a, pi in zip(
            zip(sizes, k, s, (sum(pi) for pi in p), d, strict=True), p, strict=True))
        assert min(want) >= 1
        assert got == (want[0] if scalar else want)

    attempt(lambda: convcore.conv_output_size(**oargs), corrupted, check_size)

    targs = dict(n=data.draw(st.sampled_from([1, 2, 3, None, np.int64(2)])))
    corrupted = corrupt(data.draw, targs, dict(n="int"))
    try:
        def check_threads(_):
            n = targs["n"]
            if n is not None:
                n = _index(n)
                assert 1 <= n <= 1024
                assert convcore.get_num_threads() in (n, 1)  # 1 without OpenMP
        attempt(lambda: convcore.set_num_threads(**targs), corrupted, check_threads)
    finally:
        convcore.set_num_threads(None)
