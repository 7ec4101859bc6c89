"""conv2d_backward and conv1d_backward against the float64 loop reference,
central finite differences of the forward pass, and a small training problem."""

import itertools

import numpy as np
import pytest
from conftest import (
    ALGORITHMS,
    FLOAT_DTYPES,
    assert_close,
    random_array,
    rel_err,
    results_per_thread_count,
)
from conv_backward_reference import (
    conv1d_backward_ref,
    conv2d_backward_ref,
    resolve_padding1d_ref,
    resolve_padding_ref,
)
from reference import conv2d_ref, pair

import convcore

KERNELS = [(1, 1), (2, 2), (3, 3), (5, 5), (2, 1), (1, 3), (3, 2), (4, 1), (1, 5)]
NEEDS = ("input", "weight", "bias")


def random_padding(rng):
    """One of conv2d's padding forms."""
    kind = rng.choice(["int", "pair", "nested", "nested", "valid", "same", "same"])
    if kind == "int":
        return int(rng.integers(0, 3))
    if kind == "pair":
        return tuple(int(v) for v in rng.integers(0, 3, 2))
    if kind == "nested":
        return tuple(tuple(int(v) for v in rng.integers(0, 4, 2)) for _ in range(2))
    return str(kind)


def random_case2d(rng, small=False):
    """Random conv2d shapes and arguments (widths 1..40, K often not a multiple of 8)."""
    if rng.random() < 0.25:  # depthwise, sometimes with a channel multiplier
        cg, groups = 1, int(rng.integers(1, 6))
        k = groups * int(rng.integers(1, 3))
    else:
        cg, groups = int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 1, 2, 3]))
        k = groups * int(rng.choice([1, 3, 4, 9]))
    r, s = KERNELS[rng.integers(len(KERNELS))]
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.choice([1, 1, 2, 3], 2))
    padding = random_padding(rng)
    explicit = ((0, 0), (0, 0)) if isinstance(padding, str) else resolve_padding_ref(
        padding, None, None, None, None)
    hmin = max(1, dilation[0] * (r - 1) + 1 - sum(explicit[0]))
    wmin = max(1, dilation[1] * (s - 1) + 1 - sum(explicit[1]))
    h = hmin + int(rng.integers(0, 4 if small else 7))
    if rng.random() < 0.2:  # as narrow as the kernel allows
        w = wmin + int(rng.integers(0, 3))
    else:
        w = int(rng.integers(wmin, max(wmin, 8 if small else 40) + 1))
    return dict(batch=[None, 1, 1, 2, 3][rng.integers(5)], c=cg * groups, h=h, w=w, k=k,
                kernel=(r, s), stride=stride[0] if stride[0] == stride[1] else stride,
                padding=padding,
                dilation=dilation[0] if dilation[0] == dilation[1] else dilation,
                groups=groups)


def make_arrays(case, rng, dtype, layout="C"):
    """(grad_output, x, weight, explicit padding) for ``case``, always batched."""
    n = case["batch"] or 1
    x = random_array(rng, (n, case["c"], case["h"], case["w"]), dtype, layout)
    weight = random_array(rng, (case["k"], case["c"] // case["groups"], *case["kernel"]), dtype)
    stride, dilation = pair(case["stride"]), pair(case["dilation"])
    pads = resolve_padding_ref(case["padding"], (case["h"], case["w"]), case["kernel"],
                               stride, dilation)
    out_shape = [(n + sum(p) - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(
        (case["h"], case["w"]), case["kernel"], stride, pads, dilation, strict=True)]
    grad_output = random_array(rng, (n, case["k"], *out_shape), dtype)
    return grad_output, x, weight, pads


def kwargs2d(case):
    return dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
                groups=case["groups"])


def check_grads(got, expected, dtype, terms, case):
    """Shapes, dtypes and values of (grad_input, grad_weight, grad_bias)."""
    for name, g, e, t in zip(NEEDS, got, expected, terms, strict=True):
        assert isinstance(g, np.ndarray), name
        assert g.dtype == dtype, (name, g.dtype)
        assert_close(g, e, dtype, terms=t, err_msg=f"grad_{name} {case!r}")


# ---------------------------------------------------------------- reference self-check


@pytest.mark.parametrize("seed", range(10))
def test_reference_is_the_adjoint_of_the_forward_reference(seed):
    """<go, conv(x, w)> = <grad_input, x> = <grad_weight, w>, since conv is bilinear."""
    rng = np.random.default_rng(seed)
    case = random_case2d(rng, small=True)
    go, x, w, pads = make_arrays(case, rng, np.float64)
    gx, gw, gb = conv2d_backward_ref(go, x, w, pair(case["stride"]), pads,
                                     pair(case["dilation"]), case["groups"])
    y = conv2d_ref(x, w, None, pair(case["stride"]), pads, pair(case["dilation"]),
                   case["groups"])
    inner = np.vdot(go, y)
    np.testing.assert_allclose(np.vdot(gx, x), inner, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.vdot(gw, w), inner, rtol=1e-12, atol=1e-12)
    b = rng.uniform(-1, 1, case["k"])
    shift = conv2d_ref(x, w, b, pair(case["stride"]), pads, pair(case["dilation"]),
                       case["groups"]) - y
    np.testing.assert_allclose(np.vdot(gb, b), np.vdot(go, shift), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- conv2d vs reference


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(100))
def test_conv2d_backward_matches_reference(seed, dtype):
    rng = np.random.default_rng(1000 + seed)
    case = random_case2d(rng)
    layout = ["C", "C", "F", "strided", "reversed"][seed % 5]
    go, x, w, pads = make_arrays(case, rng, dtype, layout)
    expected = conv2d_backward_ref(go, x, w, pair(case["stride"]), pads,
                                   pair(case["dilation"]), case["groups"])
    if case["batch"] is None:
        go, x = go[0], x[0]
        expected = (expected[0][0], *expected[1:])
    n_out = go[0].size if x.ndim == 3 else go[:, 0].size
    terms = ((case["k"] // case["groups"]) * int(np.prod(case["kernel"])), n_out, n_out)
    for algorithm in ALGORITHMS:
        got = convcore.conv2d_backward(go, x, w, **kwargs2d(case), algorithm=algorithm)
        assert isinstance(got, tuple) and len(got) == 3
        check_grads(got, expected, dtype, terms, f"{algorithm} {case!r}")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(6))
def test_conv2d_backward_many_channels(seed, dtype):
    """Up to 24 channels per group and widths up to 80: the kernels' wide register tiles."""
    rng = np.random.default_rng(1500 + seed)
    groups = int(rng.choice([1, 2]))
    cg, kg = int(rng.integers(4, 25)), int(rng.integers(4, 25))
    r = int(rng.choice([1, 3, 5]))
    case = dict(batch=int(rng.integers(1, 3)), c=cg * groups, h=r + int(rng.integers(0, 4)),
                w=int(rng.integers(r + 20, 81)), k=kg * groups, kernel=(r, r),
                stride=(1, int(rng.integers(1, 3))), padding=r // 2, dilation=1, groups=groups)
    go, x, w, pads = make_arrays(case, rng, dtype)
    expected = conv2d_backward_ref(go, x, w, case["stride"], pads, 1, groups)
    terms = (kg * r * r, go[:, 0].size, go[:, 0].size)
    for algorithm in ALGORITHMS:
        got = convcore.conv2d_backward(go, x, w, **kwargs2d(case), algorithm=algorithm)
        check_grads(got, expected, dtype, terms, f"{algorithm} {case!r}")


@pytest.mark.parametrize("stride, dilation, kernel, width, covered", [
    (3, 1, 2, 9, [0, 1, 3, 4, 6, 7]),            # stride > kernel
    (4, 2, 2, 12, [0, 2, 4, 6, 8, 10]),          # dilated taps skip the odd pixels
    (2, 1, 1, 7, [0, 2, 4, 6]),                  # 1x1 kernel, stride 2
    (1, 1, 3, 8, [0, 1, 2, 3, 4, 5, 6, 7]),      # everything read
    (5, 1, 3, 11, [0, 1, 2, 5, 6, 7]),           # trailing pixels never reached
])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unread_pixels_get_zero_gradient(stride, dilation, kernel, width, covered, algorithm,
                                         rng):
    x = random_array(rng, (2, 3, width, width))
    w = random_array(rng, (4, 3, kernel, kernel))
    n_out = (width - dilation * (kernel - 1) - 1) // stride + 1
    go = random_array(rng, (2, 4, n_out, n_out))
    gx, gw, _ = convcore.conv2d_backward(go, x, w, stride, 0, dilation, algorithm=algorithm)
    read = np.zeros(width, dtype=bool)
    read[covered] = True
    mask = read[:, None] & read[None, :]
    assert (gx[..., ~mask] == 0).all()
    assert (gx[..., mask] != 0).all()
    assert_close(gx, conv2d_backward_ref(go, x, w, stride, 0, dilation)[0], np.float64)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("shape, stride", [((6, 6), 1), ((7, 6), 2), ((8, 5), 3), ((1, 9), 2)])
def test_same_padding_crops_like_explicit_padding(shape, stride, algorithm, rng):
    x = random_array(rng, (2, 3, *shape))
    w = random_array(rng, (5, 3, 3, 4))
    pads = tuple(resolve_padding_ref("same", shape, (3, 4), (stride, stride), (1, 1)))
    go = random_array(rng, (2, 5, *(-(-n // stride) for n in shape)))
    same = convcore.conv2d_backward(go, x, w, stride, "same", algorithm=algorithm)
    explicit = convcore.conv2d_backward(go, x, w, stride, pads, algorithm=algorithm)
    expected = conv2d_backward_ref(go, x, w, stride, pads)
    for a, b, e in zip(same, explicit, expected, strict=True):
        assert_close(a, e, np.float64)
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("xs, ws, kw", [
    ((1, 2, 2, 2), (3, 2, 1, 1), dict(stride=5, padding=3)),           # windows see only padding
    ((1, 1, 3, 4), (2, 1, 1, 1), dict(stride=2, padding=((4, 0), (0, 5)))),
    ((2, 1, 1, 1), (1, 1, 3, 3), dict(padding="same", dilation=3)),   # one pixel, 'same'
    ((1, 3, 1, 9), (2, 3, 1, 1), dict(stride=(1, 20))),               # stride beyond the input
    ((1, 2, 5, 5), (4, 2, 2, 2), dict(stride=3, padding=((0, 3), (3, 0)))),
    ((1, 4, 6, 7), (4, 1, 3, 3), dict(stride=2, padding="same", groups=4)),
    ((3, 6, 4, 40), (6, 2, 4, 5), dict(stride=(1, 3), padding=((2, 1), (0, 4)),
                                       dilation=(1, 2), groups=3)),
])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_edge_geometries(xs, ws, kw, algorithm, rng):
    x, w = random_array(rng, xs), random_array(rng, ws)
    go = random_array(rng, convcore.conv2d(x, w, **kw).shape)
    pads = resolve_padding_ref(kw.get("padding", 0), xs[2:], ws[2:], pair(kw.get("stride", 1)),
                               pair(kw.get("dilation", 1)))
    expected = conv2d_backward_ref(go, x, w, kw.get("stride", 1), pads, kw.get("dilation", 1),
                                   kw.get("groups", 1))
    got = convcore.conv2d_backward(go, x, w, **kw, algorithm=algorithm)
    check_grads(got, expected, np.float64, (1, 1, 1), repr(kw))


@pytest.mark.parametrize("kw", [{}, dict(stride=3), dict(stride=5), dict(dilation=3),
                                dict(stride=2, padding=((0, 0), (3, 0)))])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_non_finite_weight_reaches_only_the_pixels_it_reads(kw, algorithm):
    """A pixel's gradient sums only the taps that read it (as in PyTorch): an inf tap
    must not turn pixels it never touches into 0 * inf = nan."""
    x = np.ones((1, 1, 1, 11))
    w = np.array([[[[np.inf, 1.0, -2.0]]]])
    go = np.ones(convcore.conv2d(x, w, **kw).shape)
    pads = resolve_padding_ref(kw.get("padding", 0), (1, 11), (1, 3), pair(kw.get("stride", 1)),
                               pair(kw.get("dilation", 1)))
    expected = conv2d_backward_ref(go, x, w, kw.get("stride", 1), pads, kw.get("dilation", 1))
    got = convcore.conv2d_backward(go, x, w, **kw, algorithm=algorithm)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e, err_msg=repr(kw))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_batch_gives_zero_gradients(algorithm):
    x, w = np.ones((0, 4, 6, 6)), np.ones((2, 4, 3, 3))
    gx, gw, gb = convcore.conv2d_backward(np.ones((0, 2, 4, 4)), x, w, algorithm=algorithm)
    assert gx.shape == x.shape
    np.testing.assert_array_equal(gw, np.zeros_like(w))
    np.testing.assert_array_equal(gb, np.zeros(2))


def test_thread_count_does_not_change_the_result(rng):
    x = random_array(rng, (3, 8, 20, 24), np.float32)
    w = random_array(rng, (12, 4, 3, 3), np.float32)
    go = random_array(rng, (3, 12, 10, 12), np.float32)
    kw = dict(stride=2, padding=1, groups=2)
    try:
        for algorithm in ALGORITHMS:
            convcore.set_num_threads(1)
            serial = convcore.conv2d_backward(go, x, w, **kw, algorithm=algorithm)
            convcore.set_num_threads(4)
            parallel = convcore.conv2d_backward(go, x, w, **kw, algorithm=algorithm)
            for a, b, t in zip(serial, parallel, (54, 360, 360), strict=True):
                assert_close(a, b, np.float32, terms=t)
    finally:
        convcore.set_num_threads(None)


# ---------------------------------------------------------------- finite differences


def numeric_grad(loss, arr, index, eps=1e-3):
    """Central difference of ``loss()`` along one entry of ``arr`` (changed in place)."""
    old = arr[index]
    arr[index] = old + eps
    up = loss()
    arr[index] = old - eps
    down = loss()
    arr[index] = old
    return (up - down) / (2 * eps)


@pytest.mark.parametrize("seed", range(12))
def test_conv2d_backward_matches_finite_differences(seed):
    rng = np.random.default_rng(2000 + seed)
    case = random_case2d(rng, small=True)
    go, x, w, _ = make_arrays(case, rng, np.float64)
    b = random_array(rng, (case["k"],))
    kw = kwargs2d(case)

    def loss():
        return float(np.vdot(go, convcore.conv2d(x, w, b, **kw)))

    grads = convcore.conv2d_backward(go, x, w, **kw, algorithm=ALGORITHMS[seed % 3])
    for arr, grad in zip((x, w, b), grads, strict=True):
        for _ in range(4):
            index = tuple(int(rng.integers(n)) for n in arr.shape)
            # the loss is linear in each argument, so the difference is exact to rounding
            np.testing.assert_allclose(grad[index], numeric_grad(loss, arr, index),
                                       rtol=1e-7, atol=1e-9, err_msg=repr((case, index)))


# ---------------------------------------------------------------- API behaviour


@pytest.mark.parametrize("needs", [c for n in (1, 2, 3) for c in itertools.combinations(NEEDS, n)]
                         + [("bias", "input"), ("weight", "input", "bias")])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_needs_selects_the_gradients(needs, algorithm, rng):
    x = random_array(rng, (2, 4, 9, 11))
    w = random_array(rng, (6, 2, 3, 3))
    go = random_array(rng, (2, 6, 5, 6))
    kw = dict(stride=2, padding=((1, 2), (0, 2)), groups=2)
    full = convcore.conv2d_backward(go, x, w, **kw, algorithm=algorithm)
    got = convcore.conv2d_backward(go, x, w, **kw, needs=needs, algorithm=algorithm)
    for name, g, f in zip(NEEDS, got, full, strict=True):
        if name in needs:
            np.testing.assert_allclose(g, f, rtol=1e-12, atol=1e-12)
        else:
            assert g is None, name
    got1 = convcore.conv1d_backward(go[:, :, 0], x[:, :, 0], w[:, :, 0], stride=2,
                                    padding=(0, 2), groups=2, needs=needs, algorithm=algorithm)
    assert [g is None for g in got1] == [name not in needs for name in NEEDS]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "strided", "reversed"])
def test_inputs_are_not_modified(dtype, layout, rng):
    go = random_array(rng, (2, 6, 4, 5), dtype, layout)
    x = random_array(rng, (2, 3, 8, 9), dtype, layout)
    w = random_array(rng, (6, 3, 3, 3), dtype, layout)
    copies = [a.copy() for a in (go, x, w)]
    for a in (go, x, w):
        a.flags.writeable = False  # read-only inputs are accepted, like conv2d's
    for algorithm in ALGORITHMS:
        convcore.conv2d_backward(go, x, w, 2, 1, algorithm=algorithm)
        convcore.conv1d_backward(go[:, :, 0], x[:, :, 0], w[:, :, 0], 2, 1,
                                 algorithm=algorithm)
    for a, c in zip((go, x, w), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_result_dtype_follows_conv2d():
    rng = np.random.default_rng(5)
    x = random_array(rng, (1, 2, 6, 6))
    w = random_array(rng, (3, 2, 3, 3))
    go = random_array(rng, (1, 3, 4, 4))
    f32 = np.float32
    cases = [((go, x, w), np.float64), ((go.astype(f32), x.astype(f32), w.astype(f32)), f32),
             ((go, x.astype(f32), w.astype(f32)), f32),     # grad_output does not promote
             ((go.astype(f32), x.astype(f32), w), np.float64),
             ((go, (x * 10).astype(np.int32), w.astype(f32)), np.float64),
             ((go, x.astype(np.float16), w.astype(f32)), f32)]
    for args, dtype in cases:
        expected = conv2d_backward_ref(*args)
        got = convcore.conv2d_backward(*args)
        assert [g.dtype for g in got] == [dtype] * 3, [a.dtype for a in args]
        check_grads(got, expected, dtype, (27, 16, 16), "dtype")
        assert convcore.conv2d(*args[1:]).dtype == dtype


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_equals_batch_of_one(algorithm, rng):
    x = random_array(rng, (3, 7, 10))
    w = random_array(rng, (5, 3, 2, 3))
    go = random_array(rng, (5, 4, 4))
    kw = dict(stride=(2, 3), padding=((1, 1), (2, 0)), algorithm=algorithm)
    gx, gw, gb = convcore.conv2d_backward(go, x, w, **kw)
    bx, bw, bb = convcore.conv2d_backward(go[None], x[None], w, **kw)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (5,)
    np.testing.assert_allclose(gx, bx[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, bw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gb, bb, rtol=1e-12, atol=1e-12)


def test_validation_errors():
    x = np.zeros((2, 4, 9, 10))
    w = np.zeros((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, groups=2)
    go = np.zeros((2, 6, 5, 5))
    convcore.conv2d_backward(go, x, w, **kw)  # the valid call
    with pytest.raises(ValueError, match="shape") as info:
        convcore.conv2d_backward(np.zeros((2, 6, 5, 4)), x, w, **kw)
    assert "(2, 6, 5, 5)" in str(info.value)  # names the expected shape
    for bad in [np.zeros((2, 5, 5, 5)), np.zeros((3, 6, 5, 5)), np.zeros((6, 5, 5)),
                np.zeros((1, 2, 6, 5, 5)), np.zeros((2, 6, 25))]:
        with pytest.raises(ValueError, match="shape"):
            convcore.conv2d_backward(bad, x, w, **kw)
    with pytest.raises(ValueError, match="shape"):  # unbatched x, batched grad_output
        convcore.conv2d_backward(go, x[0], w, **kw)
    with pytest.raises(ValueError, match="needs"):
        convcore.conv2d_backward(go, x, w, **kw, needs=("input", "gradient"))
    with pytest.raises(ValueError, match="needs"):
        convcore.conv1d_backward(go[:, :, 0], x[:, :, 0], w[:, :, 0], **kw, needs=("x",))
    with pytest.raises(ValueError, match="algorithm"):
        convcore.conv2d_backward(go, x, w, **kw, algorithm="fft")
    with pytest.raises(ValueError, match="algorithm"):
        convcore.conv1d_backward(go[:, :, 0], x[:, :, 0], w[:, :, 0], **kw, algorithm="gemm")
    with pytest.raises(ValueError, match="channels"):  # the forward call's own checks
        convcore.conv2d_backward(go, x, np.zeros((6, 3, 3, 3)), **kw)
    with pytest.raises(ValueError, match="groups"):
        convcore.conv2d_backward(go, x, w, stride=2, padding=1, groups=4)
    with pytest.raises(ValueError, match="length|shape"):
        convcore.conv1d_backward(np.zeros((2, 6, 4)), x[:, :, 0], w[:, :, 0], **kw)


# ---------------------------------------------------------------- conv1d


def random_case1d(rng):
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, kg = int(rng.integers(1, 4)), int(rng.choice([1, 3, 5]))
    kernel, stride, dilation = (int(v) for v in rng.integers(1, 4, 3))
    kernel += int(rng.integers(0, 3))
    kind = rng.choice(["int", "one", "pair", "pair", "valid", "same"])
    padding = {"int": int(rng.integers(0, 3)), "one": (int(rng.integers(0, 3)),),
               "pair": tuple(int(v) for v in rng.integers(0, 4, 2))}.get(kind, str(kind))
    explicit = (0, 0) if isinstance(padding, str) else resolve_padding1d_ref(
        padding, 0, 0, 0, 0)
    lmin = max(1, dilation * (kernel - 1) + 1 - sum(explicit))
    length = int(rng.integers(lmin, max(lmin, 40) + 1))
    return dict(batch=[None, 1, 2, 3][rng.integers(4)], c=cg * groups, length=length,
                k=kg * groups, kernel=kernel, stride=stride, padding=padding,
                dilation=dilation, groups=groups)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(30))
def test_conv1d_backward_matches_reference(seed, dtype):
    rng = np.random.default_rng(3000 + seed)
    case = random_case1d(rng)
    n, k, groups = case["batch"] or 1, case["k"], case["groups"]
    x = random_array(rng, (n, case["c"], case["length"]), dtype, ["C", "strided"][seed % 2])
    w = random_array(rng, (k, case["c"] // groups, case["kernel"]), dtype)
    pads = resolve_padding1d_ref(case["padding"], case["length"], case["kernel"],
                                 case["stride"], case["dilation"])
    lout = (case["length"] + sum(pads) - case["dilation"] * (case["kernel"] - 1) - 1) \
        // case["stride"] + 1
    go = random_array(rng, (n, k, lout), dtype)
    expected = conv1d_backward_ref(go, x, w, case["stride"], pads, case["dilation"], groups)
    if case["batch"] is None:
        go, x = go[0], x[0]
        expected = (expected[0][0], *expected[1:])
    terms = ((k // groups) * case["kernel"], n * lout, n * lout)
    for algorithm in ALGORITHMS:
        got = convcore.conv1d_backward(go, x, w, case["stride"], case["padding"],
                                       case["dilation"], groups, algorithm=algorithm)
        check_grads(got, expected, dtype, terms, f"{algorithm} {case!r}")


@pytest.mark.parametrize("seed", range(4))
def test_conv1d_backward_matches_finite_differences(seed):
    rng = np.random.default_rng(4000 + seed)
    case = random_case1d(rng)
    n, k, groups = case["batch"] or 1, case["k"], case["groups"]
    x = random_array(rng, (n, case["c"], case["length"]))
    w = random_array(rng, (k, case["c"] // groups, case["kernel"]))
    b = random_array(rng, (k,))
    args = (case["stride"], case["padding"], case["dilation"], groups)
    go = random_array(rng, convcore.conv1d(x, w, None, *args).shape)

    def loss():
        return float(np.vdot(go, convcore.conv1d(x, w, b, *args)))

    grads = convcore.conv1d_backward(go, x, w, *args)
    for arr, grad in zip((x, w, b), grads, strict=True):
        for _ in range(3):
            index = tuple(int(rng.integers(m)) for m in arr.shape)
            np.testing.assert_allclose(grad[index], numeric_grad(loss, arr, index),
                                       rtol=1e-7, atol=1e-9, err_msg=repr((case, index)))


def test_conv1d_backward_is_conv2d_backward_of_height_one(rng):
    x = random_array(rng, (2, 6, 31))
    w = random_array(rng, (9, 2, 4))
    go = random_array(rng, (2, 9, 15))
    kw = dict(stride=2, dilation=2, groups=3)
    one = convcore.conv1d_backward(go, x, w, padding=(3, 1), **kw)
    two = convcore.conv2d_backward(go[:, :, None], x[:, :, None], w[:, :, None],
                                   padding=((0, 0), (3, 1)), **kw)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- end to end


def test_gradient_descent_recovers_a_kernel():
    """Fit a 3x3 kernel and bias to the outputs they produce, from zero."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, (4, 1, 12, 12)).astype(np.float32)
    w_true = rng.uniform(-1, 1, (1, 1, 3, 3)).astype(np.float32)
    b_true = np.array([0.3], dtype=np.float32)
    target = convcore.conv2d(x, w_true, b_true, padding=1)
    w, b = np.zeros_like(w_true), np.zeros_like(b_true)

    def loss_and_residual():
        residual = convcore.conv2d(x, w, b, padding=1) - target
        return 0.5 * float(np.mean(residual.astype(np.float64) ** 2)), residual

    first, _ = loss_and_residual()
    for _ in range(300):
        _, residual = loss_and_residual()
        _, gw, gb = convcore.conv2d_backward(residual / residual.size, x, w, padding=1,
                                             needs=("weight", "bias"))
        w -= gw
        b -= gb
    last, _ = loss_and_residual()
    assert last < first / 100
    np.testing.assert_allclose(w, w_true, atol=1e-3)
    np.testing.assert_allclose(b, b_true, atol=1e-3)


def test_input_gradient_memory_follows_the_input_not_the_padding():
    """A stride and padding of 300 on a 4x4 image: the gradient is computed over the
    few outputs that read the image, without a padded canvas, and is contiguous."""
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((3, 3, 3, 3))
    y = convcore.conv2d(x, w, stride=300, padding=300)
    grad_y = rng.standard_normal(y.shape)
    expected = None
    for algorithm in ("im2col", "direct", "auto"):
        gi, gw, _ = convcore.conv2d_backward(grad_y, x, w, stride=300, padding=300,
                                             algorithm=algorithm)
        assert gi.flags.c_contiguous and gi.shape == x.shape
        if expected is None:
            expected = (gi, gw)
        np.testing.assert_allclose(gi, expected[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gw, expected[1], rtol=1e-12, atol=1e-12)
    ref_gi, ref_gw, _ = conv2d_backward_ref(grad_y, x, w, (300, 300),
                                            ((300, 300), (300, 300)), (1, 1), 1)
    np.testing.assert_allclose(expected[0], ref_gi, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(expected[1], ref_gw, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("needs", [None, 5, [["input"]], ("input", "x")])
def test_bad_needs_names_the_argument(needs):
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match="needs"):
        convcore.conv2d_backward(np.ones((1, 1, 2, 2)), x, w, needs=needs)


# ------------------------------------------------ the weight gradient's parts (im2col)

# (x shape, weight shape, kwargs): 20 images of one column tile each (16 parts of one or
# two tiles), a 1x1 layer read in place over three column tiles per image, a strided
# grouped layer, and several tiles per image at stride 1
PARTS_CASES = [
    ((20, 3, 7, 9), (5, 3, 3, 3), dict(padding=1)),
    ((2, 600, 30, 30), (7, 600, 1, 1), dict()),
    ((3, 8, 21, 17), (6, 4, 3, 2), dict(stride=2, padding=1, groups=2, dilation=(1, 2))),
    ((2, 40, 40, 40), (9, 40, 3, 3), dict(padding=1)),
]


@pytest.mark.parametrize("xs, ws, kw", PARTS_CASES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_weight_gradient_parts_match_reference_for_any_thread_count(rng, xs, ws, kw, dtype):
    from convcore import backward

    x = random_array(rng, xs, dtype)
    w = random_array(rng, ws, dtype)
    go = random_array(rng, convcore.conv2d(x, w, **kw).shape, dtype)
    g = backward._prepare(2, x, w, None, kw.get("stride", 1), kw.get("padding", 0),
                          kw.get("dilation", 1), kw.get("groups", 1), "zeros")[0]
    assert backward._grad_weight_parts(g, x.itemsize) > 1
    ref = conv2d_backward_ref(go.astype(np.float64), x.astype(np.float64),
                              w.astype(np.float64), **kw)[1]
    got = []
    try:
        for threads in (1, 2, 3):
            convcore.set_num_threads(threads)
            got.append(convcore.conv2d_backward(go, x, w, **kw, needs="weight",
                                                algorithm="im2col")[1])
    finally:
        convcore.set_num_threads(None)
    n = go.shape[0] * int(np.prod(go.shape[2:]))
    assert_close(got[0], ref, dtype, terms=n)
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(got[0], got[2])


def test_weight_gradient_parts_cap_and_empty_parts(rng, monkeypatch):
    """The partial sums stay within their cap (one part when a part alone is over it),
    and a part with no tiles (more parts than tiles, asked of the C library directly)
    sums to zero."""
    from convcore import _conv, backward
    from convcore._blas import aligned_empty

    x = random_array(rng, (4, 6, 8, 8), np.float64)
    w = random_array(rng, (5, 6, 3, 3), np.float64)
    go = random_array(rng, (4, 5, 8, 8), np.float64)
    ref = conv2d_backward_ref(go, x, w, padding=1)[1]
    g = backward._prepare(2, x, w, None, 1, 1, 1, 1, "zeros")[0]
    assert backward._grad_weight_parts(g, 8) == 4  # one part per image
    monkeypatch.setattr(backward, "_PARTS_BYTES", 2 * w.nbytes)
    assert backward._grad_weight_parts(g, 8) == 2
    monkeypatch.setattr(backward, "_PARTS_BYTES", 1)
    assert backward._grad_weight_parts(g, 8) == 1
    got = convcore.conv2d_backward(go, x, w, padding=1, needs="weight", algorithm="im2col")[1]
    assert_close(got, ref, np.float64, terms=4 * 64)
    _, per_thread, by_channels = _conv.grad_weight_plan(g, np.float64)
    # 6 parts of 4 tiles: 2 empty
    partials = np.full((6, 5, 54) if by_channels else (6, 54, 5), np.nan)
    _conv.grad_weight_gemm(x, go, partials, aligned_empty(2 * per_thread, np.float64), g, 2)
    assert np.count_nonzero(~partials.any(axis=(1, 2))) == 2
    total = partials.sum(axis=0)
    total = total if by_channels else total.T
    assert_close(total.reshape(w.shape), ref, np.float64, terms=4 * 64)


def test_im2col_weight_gradient_refuses_gemm_sizes_over_int32():
    """A reduction over 2**31 - 1 (the route's int32 envelope, gemm_fits) is refused before
    any work on the im2col route; auto takes the direct kernel's route for it (checked on
    the rule, as the arrays would not fit in memory)."""
    from convcore import backward

    x = np.broadcast_to(np.float32(1), (1, 2**16, 1, 1))
    w = np.broadcast_to(np.float32(1), (1, 2**16, 1, 2**15 + 1))  # reduction 2**31 + 2**16
    g = backward._prepare(2, x, w, None, 1, ((0, 0), (2**15, 2**15)), 1, 1, "zeros")[0]
    assert not backward.gemm_fits(g)
    go = np.ones(g.out, np.float32)[None, None]
    with pytest.raises(ValueError, match=r"im2col: a GEMM dimension of the weight gradient"):
        convcore.conv2d_backward(go, x, w, padding=((0, 0), (2**15, 2**15)), needs="weight",
                                 algorithm="im2col")


# ------------------------------------------------- algorithm="winograd": F(4x4, 3x3)

@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_winograd_gradients_match_reference(seed, dtype):
    """3x3 stride-1 layers: groups, every padding form, odd sizes, non-contiguous
    arrays; the weight gradient sums tiles of many blocks (40x40 planes)."""
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2, 3]))
    C, K = groups * int(rng.integers(1, 9)), groups * int(rng.integers(1, 9))
    N = int(rng.integers(1, 3))
    H, W = (40, 40) if seed == 0 else (int(rng.integers(3, 30)), int(rng.integers(3, 45)))
    padding = random_padding(rng)
    layout = ("C", "F", "strided", "reversed")[seed % 4]
    x = random_array(rng, (N, C, H, W), dtype, layout)
    w = random_array(rng, (K, C // groups, 3, 3), dtype, "F")
    go = random_array(rng, convcore.conv2d(x, w, padding=padding, groups=groups).shape, dtype)
    x0 = x.copy()
    pads = resolve_padding_ref(padding, (H, W), (3, 3), (1, 1), (1, 1))
    expected = conv2d_backward_ref(go, x, w, (1, 1), pads, (1, 1), groups)
    got = convcore.conv2d_backward(go, x, w, padding=padding, groups=groups,
                                   algorithm="winograd")
    tol = 5e-5 if dtype == np.float32 else 1e-12
    for name, g, e in zip(NEEDS, got, expected, strict=True):
        assert g.dtype == dtype and g.shape == e.shape, name
        assert rel_err(g, e) < tol, (name, seed)
    np.testing.assert_array_equal(x, x0)


def test_winograd_weight_gradient_at_each_isa_level(isa, rng):
    x = rng.standard_normal((2, 20, 17, 23)).astype(np.float32)
    w = rng.standard_normal((18, 20, 3, 3)).astype(np.float32)
    go = rng.standard_normal((2, 18, 17, 23)).astype(np.float32)
    _, gw, _ = convcore.conv2d_backward(go, x, w, padding=1, algorithm="winograd")
    _, ref, _ = conv2d_backward_ref(go, x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert rel_err(gw, ref) < 5e-5, isa


def test_winograd_weight_gradient_under_border_modes(rng):
    x = rng.standard_normal((1, 16, 12, 13))
    w = rng.standard_normal((16, 16, 3, 3))
    for mode in ("reflect", "replicate", "circular"):
        go = rng.standard_normal(convcore.conv2d(x, w, padding=1, padding_mode=mode).shape)
        got = convcore.conv2d_backward(go, x, w, padding=1, padding_mode=mode,
                                       algorithm="winograd")
        ref = convcore.conv2d_backward(go, x, w, padding=1, padding_mode=mode,
                                       algorithm="direct")
        for g, r in zip(got, ref, strict=True):
            assert rel_err(g, r) < 1e-12, mode


def test_winograd_gradients_same_bits_for_any_thread_count(rng):
    x = rng.standard_normal((3, 32, 30, 30)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    go = rng.standard_normal((3, 32, 30, 30)).astype(np.float32)
    results = results_per_thread_count(
        lambda: convcore.conv2d_backward(go, x, w, padding=1, algorithm="winograd"))
    for r in results[1:]:
        for a, b in zip(r, results[0], strict=True):
            np.testing.assert_array_equal(a, b)


def test_auto_takes_the_winograd_weight_gradient_where_the_forward_does(rng):
    from convcore import winograd
    from convcore._auto import choose_algorithm
    from convcore._geometry import prepare_conv
    from convcore.backward import _winograd_pays

    x = rng.standard_normal((2, 64, 28, 28)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    go = rng.standard_normal((2, 64, 28, 28)).astype(np.float32)
    g = prepare_conv(2, x, w, None, 1, 1, 1, 1)[0]
    assert winograd.grad_weight_parts(g, 4) >= 2  # so the forward's choice decides
    assert _winograd_pays(g, np.float32) == (choose_algorithm(g, np.float32) == "winograd")
    route = "winograd" if _winograd_pays(g, np.float32) else "im2col"
    auto = convcore.conv2d_backward(go, x, w, padding=1, needs=("weight",))[1]
    chosen = convcore.conv2d_backward(go, x, w, padding=1, needs=("weight",),
                                      algorithm=route)[1]
    np.testing.assert_array_equal(auto, chosen)


def test_winograd_weight_gradient_with_non_finite_input(rng):
    """A non-finite input pixel makes the weight gradient of its input channel
    non-finite wherever the exact sum is (and, through the transforms, possibly at the
    channel's other taps); the other channels stay exact."""
    x = rng.standard_normal((1, 4, 12, 12))
    w = rng.standard_normal((3, 4, 3, 3))
    go = rng.standard_normal((1, 3, 12, 12))
    x[0, 2, 5, 7] = np.inf
    _, gw, _ = convcore.conv2d_backward(go, x, w, padding=1, algorithm="winograd")
    _, ref, _ = conv2d_backward_ref(go, x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    assert not np.isfinite(gw[~np.isfinite(ref)]).any()
    others = [0, 1, 3]
    np.testing.assert_allclose(gw[:, others], ref[:, others], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call", [
    dict(w=(2, 2, 3, 3), stride=2, padding=1),
    dict(w=(2, 2, 5, 5), padding=2),
    dict(w=(2, 2, 3, 3), dilation=2, padding=2),
    dict(w=(2, 2, 1, 3), padding=(0, 1)),
])
def test_winograd_backward_refuses_other_geometries(call):
    call = dict(call)
    x, w = np.ones((1, 2, 8, 8)), np.ones(call.pop("w"))
    go = np.ones(convcore.conv2d(x, w, **call).shape)
    with pytest.raises(ValueError, match="algorithm='winograd' runs 2-D 3x3 layers"):
        convcore.conv2d_backward(go, x, w, **call, algorithm="winograd")
    with pytest.raises(ValueError, match="algorithm='winograd' runs 2-D 3x3 layers"):
        convcore.conv1d_backward(np.ones((1, 2, 8)), np.ones((1, 2, 10)), np.ones((2, 2, 3)),
                                 algorithm="winograd")


def test_auto_input_gradient_of_a_strided_layer_may_run_the_phases_as_winograd(rng):
    """A 4x4 stride-2 layer's input gradient is a transposed convolution whose phases fit
    one Winograd layer: whichever route auto takes, Winograd's float32 accuracy."""
    x = rng.standard_normal((2, 32, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((32, 32, 4, 4)) / np.sqrt(32 * 16)).astype(np.float32)
    go = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
    gi = convcore.conv2d_backward(go, x, w, stride=2, padding=1, needs=("input",))[0]
    ref = conv2d_backward_ref(go, x, w, (2, 2), ((1, 1), (1, 1)), (1, 1), 1)[0]
    assert rel_err(gi, ref) < 5e-5


def test_auto_leaves_a_one_part_winograd_weight_gradient_to_im2col():
    """512 x 512 channels: one part within the budget, which one thread would sum."""
    from convcore._geometry import prepare_conv
    from convcore.backward import _winograd_pays

    g = prepare_conv(2, np.zeros((1, 512, 28, 28), np.float32),
                     np.zeros((512, 512, 3, 3), np.float32), None, 1, 1, 1, 1)[0]
    assert not _winograd_pays(g, np.float32)
