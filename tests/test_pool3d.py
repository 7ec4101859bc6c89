"""3-D pooling, adaptive 1-D/3-D pools, global 3-D pools and max unpooling compared with
the float64 references in pool_nd_reference (and with each other)."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close
from pool_nd_reference import (
    adaptive_avg_pool_nd_ref,
    adaptive_max_pool_nd_ref,
    avg_pool_nd_backward_ref,
    avg_pool_nd_ref,
    max_pool_nd_backward_ref,
    max_pool_nd_ref,
    max_unpool_nd_ref,
    unpool_default_size,
)
from test_pool import KINDS, as_arg, make_input

import convcore


def draw_shape(rng, nd, big=False):
    hi = (9, 10, 13) if big else (6, 7, 9)
    spatial = tuple(int(rng.integers(1, h)) for h in hi[3 - nd:])
    n, c = int(rng.integers(-1, 3)), int(rng.integers(1, 3))
    return ((c,) if n < 0 else (n, c)) + spatial


FAST = [((2, 2, 2), (2, 2, 2), 0), ((3, 3, 3), (2, 2, 2), 1), ((3, 3, 3), (2, 2, 2), 0)]


def draw_case(rng, dtype, kind, op, fast=False):
    """Random 3-D input, keyword arguments and reference output for ``op``."""
    while True:
        if fast:  # the compiled-in 2x2x2/2 and 3x3x3/2 windows, large enough for interiors
            k, s, p = FAST[int(rng.integers(len(FAST)))]
            kwargs = dict(kernel_size=as_arg(rng, k), stride=as_arg(rng, s), padding=p,
                          ceil_mode=bool(rng.integers(2)))
        else:
            kernel = rng.integers(1, 4, 3)
            kwargs = dict(kernel_size=as_arg(rng, kernel),
                          stride=None if rng.random() < 0.2 else as_arg(rng,
                                                                         rng.integers(1, 4, 3)),
                          padding=as_arg(rng, [rng.integers(0, k // 2 + 1) for k in kernel]),
                          ceil_mode=bool(rng.integers(2)))
        if op == "max":
            kwargs["dilation"] = 1 if fast else as_arg(rng, rng.integers(1, 3, 3))
        else:
            kwargs["count_include_pad"] = bool(rng.integers(2))
            kwargs["divisor_override"] = (None if rng.random() < 0.6
                                          else int(rng.integers(1, 30)))
        x = make_input(rng, draw_shape(rng, 3, big=fast), dtype, kind)
        try:
            if op == "max":
                expected = max_pool_nd_ref(x, 3, **kwargs)
            else:
                expected = avg_pool_nd_ref(x, 3, **kwargs)
        except ValueError:  # empty output or a window entirely in the padding
            continue
        return x, kwargs, expected


# ---------------------------------------------------------------- forward


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(8))
def test_max_pool3d_matches_reference(seed, kind, dtype, isa):
    rng = np.random.default_rng(300 + seed + 100 * KINDS.index(kind))
    x, kwargs, (ref, ref_idx) = draw_case(rng, dtype, kind, "max", fast=seed % 2 == 1)
    before = x.copy()
    y, idx = convcore.max_pool3d(x, **kwargs, return_indices=True)
    assert y.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(y, ref.astype(dtype), err_msg=str(kwargs))
    np.testing.assert_array_equal(idx, ref_idx, err_msg=str(kwargs))
    np.testing.assert_array_equal(convcore.max_pool3d(x, **kwargs), y)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(6))
def test_max_pool3d_without_indices_matches_reference(seed, kind, dtype, isa):
    """The no-indices path (separable: depth, then height, then width maxima) at every
    SIMD level: kernels 1-5, strides 1-3, dilation 1-2, odd sizes and rows wide enough
    for vector loops, non-contiguous inputs, NaN and +-inf."""
    rng = np.random.default_rng(1300 + seed + 100 * KINDS.index(kind))
    for _ in range(4):
        if rng.random() < 0.4:
            k, s, p = FAST[int(rng.integers(len(FAST)))]
            kernel, stride, padding, dilation = k, s, (p,) * 3, (1,) * 3
        else:
            kernel = rng.integers(1, 6, 3)
            stride = rng.integers(1, 4, 3)
            padding = [rng.integers(0, k // 2 + 1) for k in kernel]
            dilation = rng.integers(1, 3, 3)
        kwargs = dict(kernel_size=as_arg(rng, kernel), stride=as_arg(rng, stride),
                      padding=as_arg(rng, padding), dilation=as_arg(rng, dilation),
                      ceil_mode=bool(rng.integers(2)))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 9)),
                 int(rng.integers(1, 10)), int(rng.integers(1, 45)))
        x = make_input(rng, shape, dtype, kind)
        try:
            ref, _ = max_pool_nd_ref(x, 3, **kwargs)
        except ValueError:  # empty output or a window entirely in the padding
            continue
        y = convcore.max_pool3d(x, **kwargs)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, ref.astype(dtype), err_msg=str(kwargs))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", ["random", "special"])
@pytest.mark.parametrize("seed", range(8))
def test_avg_pool3d_matches_reference(seed, kind, dtype, isa):
    rng = np.random.default_rng(700 + seed + 100 * (kind == "special"))
    x, kwargs, ref = draw_case(rng, dtype, kind, "avg", fast=seed % 2 == 1)
    before = x.copy()
    y = convcore.avg_pool3d(x, **kwargs)
    assert y.dtype == dtype
    assert_close(y, ref, dtype, terms=27, err_msg=str(kwargs))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("op", ["max", "avg"])
def test_fast_windows_propagate_nan_and_inf(op, isa):
    """The 2x2x2/2 and 3x3x3/2 interiors: one NaN or inf anywhere in a window."""
    for k, s, p in FAST:
        for value in (np.nan, np.inf, -np.inf):
            x = np.zeros((1, 2, 7, 8, 21), np.float32)
            x[0, 1, 3, 4, 9] = value
            ref = (max_pool_nd_ref(x, 3, k, s, p)[0] if op == "max"
                   else avg_pool_nd_ref(x, 3, k, s, p))
            y = (convcore.max_pool3d(x, k, s, p) if op == "max"
                 else convcore.avg_pool3d(x, k, s, p))
            np.testing.assert_array_equal(y, ref.astype(np.float32), err_msg=f"{k} {value}")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_one_pass_max_pools_keep_the_first_of_tied_zeros(dtype, isa):
    """2x2/2 and 2x2x2/2 without indices read each window in one pass, in tap order:
    where +0.0 and -0.0 tie, the first tap's zero is the result, as PyTorch's rule and
    the indices path say, at every SIMD level (rows of 70 cells: whole vectors and an
    overlapping last one)."""
    for first in (0.0, -0.0):
        x = np.full((1, 2, 2, 4, 70), -first, dtype)
        x[..., 0::2, 0::2] = first  # every window's first cell (depth 0 and 1)
        y2 = convcore.max_pool2d(x[:, :, 0], 2, 2)
        y3 = convcore.max_pool3d(x, 2, 2)
        for y in (y2, y3):
            assert np.all(y == 0) and np.all(np.signbit(y) == np.signbit(first)), first


def test_3d_pool_of_depth_one_is_the_2d_pool(rng):
    x = rng.standard_normal((2, 3, 1, 9, 11))
    y3, i3 = convcore.max_pool3d(x, (1, 3, 2), (1, 2, 2), (0, 1, 1), return_indices=True)
    y2, i2 = convcore.max_pool2d(x[:, :, 0], (3, 2), 2, 1, return_indices=True)
    np.testing.assert_array_equal(y3[:, :, 0], y2)
    np.testing.assert_array_equal(i3[:, :, 0], i2)
    np.testing.assert_array_equal(convcore.avg_pool3d(x, (1, 2, 2))[:, :, 0],
                                  convcore.avg_pool2d(x[:, :, 0], 2))


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_results_do_not_depend_on_the_thread_count(op, dtype, rng):
    x = rng.standard_normal((3, 5, 9, 30, 33)).astype(dtype)
    f = convcore.max_pool3d if op == "max" else convcore.avg_pool3d
    before = convcore.get_num_threads()
    try:
        convcore.set_num_threads(1)
        one = f(x, 3, 2, 1)
        convcore.set_num_threads(2)
        two = f(x, 3, 2, 1)
    finally:
        convcore.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_unbatched_equals_batched(rng):
    x = rng.standard_normal((2, 5, 6, 7))
    np.testing.assert_array_equal(convcore.max_pool3d(x, 2, 1, 1),
                                  convcore.max_pool3d(x[None], 2, 1, 1)[0])
    np.testing.assert_array_equal(convcore.avg_pool3d(x, 3, 2, 1),
                                  convcore.avg_pool3d(x[None], 3, 2, 1)[0])


def test_empty_batch():
    x = np.zeros((0, 3, 4, 4, 4), np.float32)
    assert convcore.max_pool3d(x, 2).shape == (0, 3, 2, 2, 2)
    assert convcore.avg_pool3d(x, 2).shape == (0, 3, 2, 2, 2)
    assert convcore.max_pool3d_backward(np.zeros((0, 3, 2, 2, 2)), x, 2).shape == x.shape


# ---------------------------------------------------------------- backward


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(6))
def test_max_pool3d_backward_matches_reference(seed, dtype):
    rng = np.random.default_rng(900 + seed)
    x, kwargs, (ref, ref_idx) = draw_case(rng, dtype, "ties" if seed % 3 == 0 else "random",
                                          "max", fast=seed % 2 == 1)
    g = make_input(rng, ref.shape, dtype)
    expected = max_pool_nd_backward_ref(g, x, 3, **kwargs)
    terms = int(np.prod(np.broadcast_to(kwargs["kernel_size"], 3)))
    got = convcore.max_pool3d_backward(g, x, **kwargs)
    assert got.dtype == dtype
    assert_close(got, expected, dtype, terms=terms, err_msg=str(kwargs))
    _, idx = convcore.max_pool3d(x, **kwargs, return_indices=True)
    np.testing.assert_array_equal(convcore.max_pool3d_backward(g, x, **kwargs, indices=idx),
                                  got)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(6))
def test_avg_pool3d_backward_matches_reference(seed, dtype):
    rng = np.random.default_rng(1100 + seed)
    x, kwargs, ref = draw_case(rng, dtype, "random", "avg", fast=seed % 2 == 1)
    g = make_input(rng, ref.shape, dtype)
    before = g.copy()
    expected = avg_pool_nd_backward_ref(g, x, 3, **kwargs)
    got = convcore.avg_pool3d_backward(g, x, **kwargs)
    assert got.dtype == dtype
    assert_close(got, expected, dtype, terms=27, err_msg=str(kwargs))
    np.testing.assert_array_equal(g, before)


# ---------------------------------------------------------------- adaptive and global


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd", [1, 3])
@pytest.mark.parametrize("kind", ["random", "special", "ties"])
@pytest.mark.parametrize("seed", range(5))
def test_adaptive_pools_match_reference(seed, kind, nd, dtype):
    rng = np.random.default_rng(1300 + 10 * nd + seed + 100 * KINDS.index(kind))
    x = make_input(rng, draw_shape(rng, nd, big=True), dtype, kind)
    sizes = x.shape[-nd:]
    out = tuple(None if rng.random() < 0.2 else int(rng.integers(1, 2 * n + 2))
                for n in sizes)
    arg = out if nd > 1 or rng.random() < 0.5 else out[0]
    if arg is None:
        arg = (None,)
    avg = getattr(convcore, f"adaptive_avg_pool{nd}d")(x, arg)
    assert avg.dtype == dtype
    assert_close(avg, adaptive_avg_pool_nd_ref(x, nd, arg), dtype, terms=50)
    y, idx = getattr(convcore, f"adaptive_max_pool{nd}d")(x, arg, return_indices=True)
    ref, ref_idx = adaptive_max_pool_nd_ref(x, nd, arg)
    np.testing.assert_array_equal(y, ref.astype(dtype))
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(getattr(convcore, f"adaptive_max_pool{nd}d")(x, arg), y)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_global_3d_pools(dtype, rng):
    x = make_input(rng, (2, 3, 4, 5, 6), dtype, "special")
    assert_close(convcore.global_avg_pool3d(x), adaptive_avg_pool_nd_ref(x, 3, 1), dtype,
                 terms=120)
    np.testing.assert_array_equal(convcore.global_max_pool3d(x),
                                  adaptive_max_pool_nd_ref(x, 3, 1)[0].astype(dtype))
    assert convcore.global_max_pool3d(x[0]).shape == (3, 1, 1, 1)


def test_window_covering_the_volume_equals_global_pool(rng):
    x = rng.standard_normal((2, 3, 4, 5, 6)).astype(np.float32)
    np.testing.assert_array_equal(convcore.max_pool3d(x, (4, 5, 6)),
                                  convcore.global_max_pool3d(x))
    np.testing.assert_array_equal(convcore.avg_pool3d(x, (4, 5, 6)),
                                  convcore.global_avg_pool3d(x))


# ---------------------------------------------------------------- unpooling


def draw_unpool_case(rng, nd, dtype, kind):
    """A max pool's result and indices, and an unpool output size valid for them (the
    default, or up to stride - 1 larger as PyTorch allows)."""
    while True:
        k = tuple(int(v) for v in rng.integers(1, 4, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        x = make_input(rng, draw_shape(rng, nd, big=True), dtype, kind)
        try:
            y, idx = max_pool_nd_ref(x, nd, k, s, p)
        except ValueError:  # empty output or a window entirely in the padding
            continue
        default = unpool_default_size(y.shape[-nd:], k, s, p)
        out = tuple(d + int(rng.integers(0, ss)) if rng.random() < 0.5 else d
                    for d, ss in zip(default, s, strict=True))
        if min(out) >= 1 and idx.max(initial=-1) < np.prod(out):
            return y.astype(dtype), idx, (k, s, p), default, out


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(6))
def test_max_unpool_matches_reference(seed, nd, dtype):
    rng = np.random.default_rng(1500 + 10 * nd + seed)
    y, idx, (k, s, p), default, out = draw_unpool_case(
        rng, nd, dtype, "special" if seed % 3 == 0 else "random")
    vals = make_input(rng, y.shape, dtype)
    before = vals.copy()
    f = getattr(convcore, f"max_unpool{nd}d")
    got = f(vals, idx, k, s, p, output_size=None if out == default else out)
    assert got.dtype == dtype and got.shape == (*y.shape[:-nd], *out)
    np.testing.assert_array_equal(got, max_unpool_nd_ref(vals, idx, nd, out).astype(dtype))
    np.testing.assert_array_equal(vals, before)
    # a whole (N, C, *spatial) shape is accepted as output_size too
    whole = got.shape if got.ndim == nd + 2 else (1, *got.shape)
    np.testing.assert_array_equal(f(vals, idx, k, s, p, output_size=whole), got)


def test_unpool_then_pool_round_trips(rng):
    x = rng.standard_normal((2, 3, 6, 8, 10))
    y, idx = convcore.max_pool3d(x, 2, return_indices=True)
    up = convcore.max_unpool3d(y, idx, 2)
    assert up.shape == x.shape and np.count_nonzero(up) == y.size
    np.testing.assert_array_equal(up.reshape(6, -1)[np.arange(6)[:, None],
                                                    idx.reshape(6, -1)], y.reshape(6, -1))


def test_unpool_repeated_index_keeps_the_last_value():
    y = convcore.max_unpool1d(np.array([[1.0, 2.0, 3.0]]), np.array([[1, 1, 0]]), 1,
                              output_size=(3,))
    np.testing.assert_array_equal(y, [[3.0, 2.0, 0.0]])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_backward_gathers(nd, rng):
    shape = (2, 3) + (4,) * nd
    x = rng.standard_normal(shape)
    y, idx = getattr(convcore, f"max_pool{nd}d")(x, 2, return_indices=True)
    g = rng.standard_normal(shape)
    got = convcore.max_unpool_backward(g, idx, nd)
    flat = g.reshape(6, -1)
    expected = np.stack([flat[i][idx.reshape(6, -1)[i]] for i in range(6)]).reshape(y.shape)
    np.testing.assert_array_equal(got, expected)

# Bad input to these functions: the one table of tests/test_robust_validation.py.
