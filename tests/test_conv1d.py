"""conv1d compared with the float64 reference."""

import numpy as np
import pytest
from conftest import ALGORITHMS, FLOAT_DTYPES, assert_close, random_array
from reference import conv1d_ref, same_pad_ref

import convcore


def resolve_padding(padding, length, kernel, stride, dilation):
    """Explicit (left, right) padding for any accepted conv1d padding form."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return same_pad_ref(length, kernel, stride, dilation)
    if isinstance(padding, int):
        return padding, padding
    if len(padding) == 1:
        return padding[0], padding[0]
    return tuple(padding)


def first(v):
    return v if isinstance(v, int) else v[0]


def random_case(rng):
    """Draw a random conv1d configuration."""
    if rng.random() < 0.25:
        cg, groups = 1, int(rng.integers(1, 6))
    else:
        cg, groups = int(rng.integers(1, 4)), int(rng.choice([1, 1, 2, 3]))
    k = groups * int(rng.integers(1, 4))
    kernel = int(rng.choice([1, 2, 3, 4, 5, 7]))
    stride, dilation = int(rng.integers(1, 4)), int(rng.choice([1, 1, 2, 3]))
    kind = rng.choice(["int", "single", "pair", "valid", "same"])
    padding = {
        "int": int(rng.integers(0, 4)),
        "single": (int(rng.integers(0, 4)),),
        "pair": tuple(int(v) for v in rng.integers(0, 4, 2)),
        "valid": "valid",
        "same": "same",
    }[str(kind)]
    total = 0 if isinstance(padding, str) else sum(resolve_padding(padding, 0, 0, 1, 1))
    length = int(rng.integers(max(1, dilation * (kernel - 1) + 1 - total), 71))
    if rng.random() < 0.3:
        stride = (stride,)
    if rng.random() < 0.3:
        dilation = (dilation,)
    return dict(batch=[None, 0, 1, 2, 3][rng.integers(5)], c=cg * groups, length=length,
                k=k, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                groups=groups, bias=bool(rng.random() < 0.7))


def run_case(case, rng, algorithm, dtype):
    c, length, k, kernel, groups = (case[key] for key in ("c", "length", "k", "kernel", "groups"))
    batch = case["batch"]
    stride, dilation = first(case["stride"]), first(case["dilation"])
    x = random_array(rng, (batch or 1, c, length), dtype)
    weight = random_array(rng, (k, c // groups, kernel), dtype)
    bias = random_array(rng, (k,), dtype) if case["bias"] else None
    pads = resolve_padding(case["padding"], length, kernel, stride, dilation)
    ref = conv1d_ref(x, weight, bias, stride, pads, dilation, groups)
    if batch is None:
        x, ref = x[0], ref[0]
    elif batch == 0:
        x, ref = x[:0], ref[:0]
    got = convcore.conv1d(x, weight, bias, stride=case["stride"], padding=case["padding"],
                          dilation=case["dilation"], groups=groups, algorithm=algorithm)
    assert got.dtype == dtype
    assert_close(got, ref, dtype, terms=(c // groups) * kernel, err_msg=repr(case))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", range(25))
def test_random_configs_match_reference(seed, algorithm, dtype):
    rng = np.random.default_rng(1000 + seed)
    run_case(random_case(rng), rng, algorithm, dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("padding", [0, 2, (1,), (0, 3), (2, 0), "valid", "same"])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_padding_forms(padding, stride, algorithm, rng):
    case = dict(batch=2, c=3, length=17, k=5, kernel=4, stride=stride, padding=padding,
                dilation=1, groups=1, bias=True)
    run_case(case, rng, algorithm, np.float64)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_same_output_length(stride, dilation, algorithm, rng):
    for length in (1, 2, 5, 8, 13):
        x = random_array(rng, (1, 2, length))
        got = convcore.conv1d(x, random_array(rng, (3, 2, 4)), stride=stride,
                              padding="same", dilation=dilation, algorithm=algorithm)
        assert got.shape == (1, 3, -(-length // stride))


def test_known_values():
    x = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]])
    weight = np.array([[[1.0, -1.0]]])
    np.testing.assert_array_equal(convcore.conv1d(x, weight), [[[-1.0, -1.0, -1.0, -1.0]]])
    np.testing.assert_array_equal(convcore.conv1d(x, weight, padding=(1, 0), stride=2),
                                  [[[-1.0, -1.0, -1.0]]])
    np.testing.assert_array_equal(convcore.conv1d(x[0], weight, [10.0], dilation=3),
                                  [[7.0, 7.0]])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("layout", ["F", "strided", "reversed"])
def test_memory_layouts_and_inputs_unchanged(layout, dtype, algorithm, rng):
    x = random_array(rng, (2, 4, 23), dtype, layout)
    weight = random_array(rng, (6, 2, 3), dtype, layout)
    bias = random_array(rng, (6,), dtype, layout)
    copies = [a.copy() for a in (x, weight, bias)]
    got = convcore.conv1d(x, weight, bias, stride=2, padding=(2, 1), groups=2,
                          algorithm=algorithm)
    assert_close(got, conv1d_ref(x, weight, bias, 2, (2, 1), 1, 2), dtype, terms=6)
    for before, after in zip(copies, (x, weight, bias), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nan_and_inf_propagate(algorithm, dtype, rng):
    x = random_array(rng, (2, 2, 30), dtype)
    x[0, 0, 4] = np.nan
    x[0, 1, 20] = np.inf
    x[1, 0, 11] = -np.inf
    x[1, 1, 12] = np.inf
    weight = random_array(rng, (3, 2, 3), dtype)
    weight[2, 1, 0] = np.inf  # meets the zero padding on the left
    got = convcore.conv1d(x, weight, padding=2, dilation=2, algorithm=algorithm)
    ref = conv1d_ref(x, weight, None, 1, (2, 2), 2)
    assert np.isnan(ref).any() and np.isinf(ref).any() and np.isfinite(ref).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert_close(got, ref, dtype, terms=6)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("batched", [True, False])
def test_out_parameter(algorithm, dtype, batched, rng):
    x = random_array(rng, (3, 2, 19) if batched else (2, 19), dtype)
    weight = random_array(rng, (5, 2, 4), dtype)
    shape = (3, 5, 9) if batched else (5, 9)
    out = np.full(shape, np.nan, dtype)
    got = convcore.conv1d(x, weight, stride=2, padding=(0, 1), algorithm=algorithm, out=out)
    assert got is out
    ref = conv1d_ref(x if batched else x[None], weight, None, 2, (0, 1))
    assert_close(out, ref if batched else ref[0], dtype, terms=8)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_batch(algorithm, rng):
    got = convcore.conv1d(np.zeros((0, 2, 9), np.float32), random_array(rng, (4, 2, 3), np.float32),
                          padding="same", algorithm=algorithm)
    assert got.shape == (0, 4, 9) and got.dtype == np.float32
    one = convcore.conv1d(np.zeros((0, 16, 9), np.float32),
                          random_array(rng, (16, 16, 1), np.float32), algorithm=algorithm)
    assert one.shape == (0, 16, 9)


@pytest.mark.parametrize(("xdt", "wdt", "expected"), [
    (np.float32, np.float16, np.float32),
    (np.int64, np.int64, np.float64),
    (np.float32, np.int64, np.float64),
    (np.float64, np.float32, np.float64),
])
def test_dtype_promotion(xdt, wdt, expected, rng):
    x = rng.integers(-3, 4, (2, 3, 10)).astype(xdt)
    weight = rng.integers(-3, 4, (2, 3, 3)).astype(wdt)
    got = convcore.conv1d(x, weight, padding=1)
    assert got.dtype == expected
    np.testing.assert_array_equal(got, conv1d_ref(x, weight, None, 1, 1))


def test_matches_conv2d_with_unit_height(rng):
    x = random_array(rng, (2, 4, 31))
    weight = random_array(rng, (6, 2, 5))
    got = convcore.conv1d(x, weight, stride=3, padding=(1, 2), dilation=2, groups=2)
    via2d = convcore.conv2d(x[:, :, None], weight[:, :, None], stride=(1, 3),
                            padding=((0, 0), (1, 2)), dilation=(1, 2), groups=2)
    assert_close(got, via2d[:, :, 0], np.float64)
