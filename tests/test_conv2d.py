"""conv2d compared with the float64 reference over many configurations."""

import numpy as np
import pytest
from conftest import ALGORITHMS, FLOAT_DTYPES, assert_close, random_array
from reference import conv2d_ref, pad_pairs, same_pad_ref

import convcore

KERNELS = [(1, 1), (3, 3), (5, 5), (2, 1), (1, 2), (1, 5), (2, 2), (3, 1), (1, 3), (4, 3)]


def resolve_padding(padding, hw, kernel, stride, dilation):
    """Explicit ((top, bottom), (left, right)) for any accepted padding form."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        return tuple(same_pad_ref(n, k, s, d)
                     for n, k, s, d in zip(hw, kernel, stride, dilation, strict=True))
    return pad_pairs(padding)


def as_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def random_case(rng):
    """Draw a random conv2d configuration as a dict of shapes and arguments."""
    if rng.random() < 0.25:  # depthwise, sometimes with a channel multiplier
        cg, groups = 1, int(rng.integers(1, 6))
        k = groups * int(rng.integers(1, 3))
    else:
        cg, groups = int(rng.choice([1, 2, 3, 8])), int(rng.choice([1, 1, 2, 3]))
        k = groups * int(rng.choice([1, 2, 3, 9]))
    r, s = KERNELS[rng.integers(len(KERNELS))]
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.choice([1, 1, 2, 3], 2))
    kind = rng.choice(["int", "pair", "nested", "valid", "same"])
    if kind == "int":
        padding = int(rng.integers(0, 3))
    elif kind == "pair":
        padding = tuple(int(v) for v in rng.integers(0, 3, 2))
    elif kind == "nested":
        padding = tuple(tuple(int(v) for v in rng.integers(0, 4, 2)) for _ in range(2))
    else:
        padding = str(kind)
    pads = ((0, 0), (0, 0)) if isinstance(padding, str) else pad_pairs(padding)
    h = max(1, dilation[0] * (r - 1) + 1 - sum(pads[0])) + int(rng.integers(0, 8))
    wmax = 70 if rng.random() < 0.3 else 24
    w = int(rng.integers(max(1, dilation[1] * (s - 1) + 1 - sum(pads[1])), wmax + 1))
    if stride[0] == stride[1] and rng.random() < 0.5:
        stride = stride[0]
    if dilation[0] == dilation[1] and rng.random() < 0.5:
        dilation = dilation[0]
    return dict(batch=[None, 0, 1, 1, 2, 3][rng.integers(6)], c=cg * groups, h=h, w=w,
                k=k, kernel=(r, s), stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=bool(rng.random() < 0.7))


def run_case(case, rng, algorithm, dtype):
    """Run conv2d on ``case`` and compare with the reference."""
    c, h, w, k, groups = case["c"], case["h"], case["w"], case["k"], case["groups"]
    r, s = case["kernel"]
    batch = case["batch"]
    x = random_array(rng, (batch or 1, c, h, w), dtype)
    weight = random_array(rng, (k, c // groups, r, s), dtype)
    bias = random_array(rng, (k,), dtype) if case["bias"] else None
    pads = resolve_padding(case["padding"], (h, w), (r, s), as_pair(case["stride"]),
                           as_pair(case["dilation"]))
    ref = conv2d_ref(x, weight, bias, as_pair(case["stride"]), pads,
                     as_pair(case["dilation"]), groups)
    if batch is None:
        x, ref = x[0], ref[0]
    elif batch == 0:
        x, ref = x[:0], ref[:0]
    got = convcore.conv2d(x, weight, bias, stride=case["stride"], padding=case["padding"],
                          dilation=case["dilation"], groups=groups, algorithm=algorithm)
    assert isinstance(got, np.ndarray)
    assert got.dtype == dtype
    assert_close(got, ref, dtype, terms=(c // groups) * r * s, err_msg=repr(case))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", range(40))
def test_random_configs_match_reference(seed, algorithm, dtype):
    rng = np.random.default_rng(seed)
    run_case(random_case(rng), rng, algorithm, dtype)


# (batch, C, H, W, K, kernel, stride, padding, dilation, groups)
EXPLICIT_CASES = {
    "1x1": (2, 3, 5, 7, 4, (1, 1), 1, 0, 1, 1),
    "3x3_pad1": (2, 3, 8, 9, 5, (3, 3), 1, 1, 1, 1),
    "5x5_on_1x1_pad2": (1, 2, 1, 1, 3, (5, 5), 1, 2, 1, 1),
    "2x1": (1, 2, 6, 5, 3, (2, 1), 1, 0, 1, 1),
    "1x7_wide": (1, 2, 3, 70, 3, (1, 7), 1, (0, 3), 1, 1),
    "stride3_kernel2": (2, 2, 11, 13, 3, (2, 2), 3, 0, 1, 1),
    "stride_bigger_than_kernel_1x1": (1, 3, 7, 10, 2, (1, 1), (2, 3), 0, 1, 1),
    "asymmetric_pad": (1, 2, 6, 7, 3, (3, 3), 1, ((0, 2), (3, 1)), 1, 1),
    "same_stride2_dil2": (2, 3, 9, 10, 4, (3, 3), 2, "same", 2, 1),
    "same_stride3_even": (1, 2, 10, 11, 3, (4, 2), 3, "same", 1, 1),
    "same_5x5": (1, 2, 7, 9, 3, (5, 5), 1, "same", 1, 1),
    "valid": (2, 2, 6, 8, 3, (3, 2), 1, "valid", 1, 1),
    "dilation3": (1, 2, 10, 12, 3, (3, 3), 1, 1, 3, 1),
    "mixed_stride_dilation": (1, 2, 9, 15, 2, (2, 3), (3, 1), (1, 2), (1, 2), 1),
    "depthwise": (2, 6, 7, 9, 6, (3, 3), 1, 1, 1, 6),
    "depthwise_multiplier": (1, 4, 6, 8, 8, (3, 3), 2, 1, 1, 4),
    "groups2_k6": (1, 4, 6, 7, 6, (3, 3), 1, 1, 1, 2),
    "groups3_k9": (1, 6, 5, 11, 9, (2, 2), 1, 0, 1, 3),
    "k13_tail": (1, 1, 4, 67, 13, (3, 3), 1, 1, 1, 1),
    "k17": (1, 3, 5, 19, 17, (1, 1), 1, 0, 1, 1),
    "k1_c1": (1, 1, 9, 33, 1, (3, 3), 1, 0, 1, 1),
    "kernel_equals_input": (2, 3, 4, 5, 2, (4, 5), 1, 0, 1, 1),
    "1x1_input_1x1_kernel": (3, 2, 1, 1, 3, (1, 1), 1, 0, 1, 1),
    "big_padding": (1, 1, 2, 3, 2, (2, 2), 1, 4, 1, 1),
}


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name", list(EXPLICIT_CASES))
def test_explicit_configs_match_reference(name, algorithm, dtype, rng):
    n, c, h, w, k, kernel, stride, padding, dilation, groups = EXPLICIT_CASES[name]
    case = dict(batch=n, c=c, h=h, w=w, k=k, kernel=kernel, stride=stride,
                padding=padding, dilation=dilation, groups=groups, bias=True)
    run_case(case, rng, algorithm, dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 70])
def test_widths_hit_vector_tails(width, algorithm, rng):
    for dtype in FLOAT_DTYPES:
        case = dict(batch=2, c=3, h=3, w=width, k=5, kernel=(3, 3), stride=1,
                    padding=1, dilation=1, groups=1, bias=True)
        run_case(case, rng, algorithm, dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
def test_same_padding_output_shape(stride, dilation, algorithm, rng):
    for h, w, r, s in [(1, 1, 3, 3), (5, 8, 2, 4), (7, 6, 3, 1), (9, 10, 5, 2)]:
        x = random_array(rng, (1, 2, h, w))
        weight = random_array(rng, (3, 2, r, s))
        got = convcore.conv2d(x, weight, stride=stride, padding="same",
                              dilation=dilation, algorithm=algorithm)
        assert got.shape == (1, 3, -(-h // stride), -(-w // stride))
        pads = (same_pad_ref(h, r, stride, dilation), same_pad_ref(w, s, stride, dilation))
        ref = conv2d_ref(x, weight, None, (stride, stride), pads, (dilation, dilation))
        assert_close(got, ref, np.float64)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_empty_batch(algorithm, dtype, rng):
    x = np.zeros((0, 3, 6, 7), dtype)
    weight = random_array(rng, (4, 3, 3, 2), dtype)
    got = convcore.conv2d(x, weight, np.ones(4, dtype), stride=2, padding=1,
                          algorithm=algorithm)
    assert got.shape == (0, 4, 3, 4)
    assert got.dtype == dtype
    # a pointwise layer (1x1, stride 1, a big tile of output channels): its plan divides
    # the stretches among the images
    one = convcore.conv2d(np.zeros((0, 16, 8, 8), dtype), random_array(rng, (16, 16, 1, 1), dtype),
                          algorithm=algorithm)
    assert one.shape == (0, 16, 8, 8)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unbatched_input(algorithm, rng):
    x = random_array(rng, (3, 6, 5))
    weight = random_array(rng, (2, 3, 3, 3))
    bias = random_array(rng, (2,))
    got = convcore.conv2d(x, weight, bias, padding=1, algorithm=algorithm)
    assert got.shape == (2, 6, 5)
    assert_close(got, conv2d_ref(x[None], weight, bias, 1, 1)[0], np.float64)


def test_list_inputs():
    x = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]
    weight = [[[[1.0, 0.0], [0.0, -1.0]]]]
    got = convcore.conv2d(x, weight, [0.5])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, [[[-3.5, -3.5], [-3.5, -3.5]]])


def test_known_values():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    weight = np.ones((1, 1, 3, 3))
    got = convcore.conv2d(x, weight, padding=1)
    expected = np.array([[10, 18, 24, 18], [27, 45, 54, 39],
                         [51, 81, 90, 63], [42, 66, 72, 50]], dtype=np.float64)
    np.testing.assert_array_equal(got[0, 0], expected)
    got = convcore.conv2d(x, weight, stride=2, padding=((0, 1), (0, 1)))
    np.testing.assert_array_equal(got[0, 0], [[45, 39], [66, 50]])


DTYPE_CASES = [
    (np.float32, np.float32, np.float32),
    (np.float64, np.float64, np.float64),
    (np.float32, np.float64, np.float64),
    (np.float64, np.float32, np.float64),
    (np.float32, np.float16, np.float32),
    (np.float16, np.float32, np.float32),
    (np.float16, np.float16, np.float64),
    (np.int64, np.int64, np.float64),
    (np.int32, np.int8, np.float64),
    (np.int8, np.float32, np.float32),
    (np.uint8, np.float32, np.float32),
    (np.int32, np.float32, np.float64),
    (np.float32, np.int64, np.float64),
    (np.float16, np.int8, np.float64),
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(("xdt", "wdt", "expected"), DTYPE_CASES)
def test_dtype_promotion(xdt, wdt, expected, algorithm, rng):
    def make(shape, dt):
        if np.issubdtype(dt, np.integer):
            low = 0 if np.issubdtype(dt, np.unsignedinteger) else -5
            return rng.integers(low, 6, shape).astype(dt)
        return rng.uniform(-2, 2, shape).astype(dt)

    x, weight = make((2, 3, 5, 6), xdt), make((4, 3, 2, 3), wdt)
    got = convcore.conv2d(x, weight, stride=(1, 2), padding=1, algorithm=algorithm)
    assert got.dtype == expected
    assert_close(got, conv2d_ref(x, weight, None, (1, 2), 1), expected, terms=18)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bias_is_cast_to_result_dtype(algorithm, rng):
    x = random_array(rng, (1, 2, 5, 5), np.float32)
    weight = random_array(rng, (3, 2, 3, 3), np.float32)
    bias = np.array([1e-3, -2.0, 3.5], dtype=np.float64)
    got = convcore.conv2d(x, weight, bias, algorithm=algorithm)
    assert got.dtype == np.float32
    assert_close(got, conv2d_ref(x, weight, bias), np.float32, terms=18)
    got_int = convcore.conv2d(x, weight, np.array([1, -2, 3]), algorithm=algorithm)
    assert got_int.dtype == np.float32
    assert_close(got_int, conv2d_ref(x, weight, [1, -2, 3]), np.float32, terms=18)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_zero_bias_equals_no_bias(algorithm, rng):
    x = random_array(rng, (2, 3, 6, 6))
    weight = random_array(rng, (4, 3, 3, 3))
    a = convcore.conv2d(x, weight, None, padding=1, algorithm=algorithm)
    b = convcore.conv2d(x, weight, np.zeros(4), padding=1, algorithm=algorithm)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("x_layout", ["C", "F", "strided", "reversed"])
@pytest.mark.parametrize("w_layout", ["C", "F", "strided", "reversed"])
def test_memory_layouts(x_layout, w_layout, dtype, algorithm, rng):
    x = random_array(rng, (2, 4, 7, 9), dtype, x_layout)
    weight = random_array(rng, (6, 2, 3, 2), dtype, w_layout)
    bias = random_array(rng, (6,), dtype, "strided" if w_layout == "strided" else "C")
    got = convcore.conv2d(x, weight, bias, stride=(2, 1), padding=((1, 0), (2, 1)),
                          groups=2, algorithm=algorithm)
    ref = conv2d_ref(x, weight, bias, (2, 1), ((1, 0), (2, 1)), 1, 2)
    assert_close(got, ref, dtype, terms=12)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_broadcast_readonly_and_byteswapped_inputs(algorithm, rng):
    row = random_array(rng, (1, 3, 1, 11))
    x = np.broadcast_to(row, (2, 3, 5, 11))  # zero strides, read-only
    weight = random_array(rng, (4, 3, 2, 3))
    weight.flags.writeable = False
    got = convcore.conv2d(x, weight, padding=1, algorithm=algorithm)
    assert_close(got, conv2d_ref(x, weight, None, 1, 1), np.float64, terms=18)
    swapped = x.astype(">f8")
    got = convcore.conv2d(swapped, weight.astype(">f4"), padding=1, algorithm=algorithm)
    assert got.dtype == np.float64
    assert_close(got, conv2d_ref(x, weight.astype(np.float32), None, 1, 1), np.float64)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_inputs_are_not_modified(algorithm, dtype, rng):
    x = random_array(rng, (2, 3, 8, 8), dtype, "strided")
    x[0, 0, 0, 0] = np.nan
    weight = random_array(rng, (4, 3, 3, 3), dtype, "F")
    bias = random_array(rng, (4,), dtype)
    copies = [a.copy() for a in (x, weight, bias)]
    convcore.conv2d(x, weight, bias, stride=2, padding="same", algorithm=algorithm)
    for before, after in zip(copies, (x, weight, bias), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_and_inf_in_input_propagate(algorithm, dtype, rng):
    x = random_array(rng, (2, 3, 11, 13), dtype)
    x[0, 0, 2, 3] = np.nan
    x[0, 1, 7, 10] = np.inf
    x[1, 2, 5, 5] = -np.inf
    x[1, 0, 0, 12] = np.nan
    x[1, 1, 9, 1] = np.inf
    x[1, 1, 9, 2] = -np.inf  # inf + (-inf) where both are in one window
    weight = random_array(rng, (4, 3, 3, 3), dtype)
    got = convcore.conv2d(x, weight, stride=2, padding=((1, 0), (0, 2)),
                          algorithm=algorithm)
    ref = conv2d_ref(x, weight, None, 2, ((1, 0), (0, 2)))
    assert np.isnan(ref).any() and np.isinf(ref).any() and np.isfinite(ref).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert_close(got, ref, dtype, terms=27)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_outside_every_window_is_ignored(algorithm, dtype, rng):
    x = random_array(rng, (1, 1, 7, 7), dtype)
    x[0, 0, 1, :] = np.nan  # rows 1, 3, 5 are skipped by a 1x1 kernel at stride 2
    x[0, 0, :, 5] = np.nan
    got = convcore.conv2d(x, np.ones((1, 1, 1, 1), dtype), stride=2, algorithm=algorithm)
    assert np.isfinite(got).all()
    np.testing.assert_array_equal(got[0, 0], x[0, 0, ::2, ::2])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_inf_weight_times_zero_padding_is_nan(algorithm, dtype, rng):
    x = random_array(rng, (1, 2, 5, 6), dtype)
    x[0, 1, 2, 2] = 0.0
    weight = random_array(rng, (3, 2, 3, 3), dtype)
    weight[0, 0, 0, 0] = np.inf
    weight[1, 1, 1, 1] = -np.inf
    got = convcore.conv2d(x, weight, padding=1, algorithm=algorithm)
    ref = conv2d_ref(x, weight, None, 1, 1)
    assert np.isnan(ref[0, 0, 0, :]).all()  # top row sees padding through the inf tap
    assert np.isnan(ref[0, 1, 2, 2]) and np.isinf(ref[0, 1, 0, 0])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert_close(got, ref, dtype, terms=18)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("batched", [True, False])
def test_out_parameter(algorithm, dtype, batched, rng):
    x = random_array(rng, (2, 4, 6, 9) if batched else (4, 6, 9), dtype)
    weight = random_array(rng, (6, 2, 3, 3), dtype)
    bias = random_array(rng, (6,), dtype)
    shape = (2, 6, 3, 5) if batched else (6, 3, 5)
    out = np.full(shape, np.nan, dtype)
    got = convcore.conv2d(x, weight, bias, stride=2, padding=1, groups=2,
                          algorithm=algorithm, out=out)
    assert got is out
    ref = conv2d_ref(x if batched else x[None], weight, bias, 2, 1, 1, 2)
    assert_close(out, ref if batched else ref[0], dtype, terms=18)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_algorithms_agree(dtype, rng):
    for _ in range(5):
        case = random_case(rng)
        x = random_array(rng, (case["batch"] or 1, case["c"], case["h"], case["w"]), dtype)
        weight = random_array(rng, (case["k"], case["c"] // case["groups"], *case["kernel"]),
                              dtype)
        kwargs = {key: case[key] for key in ("stride", "padding", "dilation", "groups")}
        results = [convcore.conv2d(x, weight, algorithm=a, **kwargs) for a in ALGORITHMS]
        terms = weight[0].size
        for other in results[1:]:
            assert_close(other, results[0], dtype, terms=terms, err_msg=repr(case))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu(dtype):
    x = np.array([[-1.5, 0.0, 2.0], [np.nan, -np.inf, np.inf]], dtype=dtype)
    before = x.copy()
    got = convcore.relu(x)
    assert got is not x and got.dtype == dtype
    np.testing.assert_array_equal(got, [[0.0, 0.0, 2.0], [np.nan, 0.0, np.inf]])
    np.testing.assert_array_equal(x, before)


def test_relu_of_conv_output(rng):
    x = random_array(rng, (2, 3, 5, 5), layout="reversed")
    got = convcore.relu(x)
    np.testing.assert_array_equal(got, np.maximum(x, 0))
