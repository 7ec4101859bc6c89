"""Pooling functions compared with the float64 references in pool_reference."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close, random_array
from pool_reference import (
    _avg_window,
    adaptive_avg_pool2d_ref,
    adaptive_max_pool2d_ref,
    avg_pool1d_backward_ref,
    avg_pool1d_ref,
    avg_pool2d_backward_ref,
    avg_pool2d_ref,
    max_pool1d_backward_ref,
    max_pool1d_ref,
    max_pool2d_backward_ref,
    max_pool2d_ref,
    pool_output_size_ref,
)

import convcore

LAYOUTS = ("C", "C", "F", "strided", "reversed")
KINDS = ("random", "special", "ties")
MAX_REF = {1: max_pool1d_ref, 2: max_pool2d_ref}
AVG_REF = {1: avg_pool1d_ref, 2: avg_pool2d_ref}
MAX_BWD_REF = {1: max_pool1d_backward_ref, 2: max_pool2d_backward_ref}
AVG_BWD_REF = {1: avg_pool1d_backward_ref, 2: avg_pool2d_backward_ref}


def fn(name, dims):
    return getattr(convcore, name.format(dims))


def as_arg(rng, values):
    """``values`` as an int (1-D, or equal entries half of the time) or a tuple."""
    values = tuple(int(v) for v in values)
    if len(values) == 1 or (len(set(values)) == 1 and rng.random() < 0.5):
        return values[0]
    return values


def make_input(rng, shape, dtype, kind="random"):
    """Random input of a random layout; "special" adds NaN/inf, "ties" is integer valued."""
    x = random_array(rng, shape, dtype, layout=str(rng.choice(LAYOUTS)))
    if kind == "special":
        mask = rng.random(shape) < 0.15
        x[mask] = rng.choice([np.nan, np.inf, -np.inf], int(mask.sum()))
    elif kind == "ties":
        x[...] = np.floor(2 * x)
    return x


def draw_shape(rng, dims):
    """(N, C, H, W) / (C, H, W) with H in 1..20 and W in 1..70 (1-D: L in 1..70)."""
    spatial = (int(rng.integers(1, 21)), int(rng.integers(1, 71)))[2 - dims:]
    n, c = int(rng.integers(-1, 4)), int(rng.integers(1, 4))
    return ((c,) if n < 0 else (n, c)) + spatial


def draw_case(rng, dims, dtype, kind, op):
    """Random input, keyword arguments and reference output for ``op`` in {max, avg}."""
    while True:
        kernel = rng.integers(1, 6, dims)
        kwargs = dict(kernel_size=as_arg(rng, kernel),
                      stride=None if rng.random() < 0.2 else as_arg(rng, rng.integers(1, 5, dims)),
                      padding=as_arg(rng, [rng.integers(0, k // 2 + 1) for k in kernel]),
                      ceil_mode=bool(rng.integers(2)))
        if op == "max":
            kwargs["dilation"] = as_arg(rng, rng.integers(1, 4, dims))
        else:
            kwargs["count_include_pad"] = bool(rng.integers(2))
            kwargs["divisor_override"] = (None if rng.random() < 0.6
                                          else int(rng.integers(1, int(np.prod(kernel)) + 3)))
        x = make_input(rng, draw_shape(rng, dims), dtype, kind)
        try:
            expected = (MAX_REF if op == "max" else AVG_REF)[dims](x, **kwargs)
        except ValueError:  # empty output or a window entirely in the padding
            continue
        return x, kwargs, expected


def check_max(y, idx, ref, ref_idx, dtype):
    assert y.dtype == dtype and y.shape == ref.shape
    np.testing.assert_array_equal(y, ref.astype(dtype))
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, ref_idx)


# ---------------------------------------------------------------- forward


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(10))
def test_max_pool_matches_reference(seed, dims, kind, dtype):
    rng = np.random.default_rng(1000 * dims + seed + 100 * KINDS.index(kind))
    x, kwargs, (ref, ref_idx) = draw_case(rng, dims, dtype, kind, "max")
    before = x.copy()
    y, idx = fn("max_pool{}d", dims)(x, **kwargs, return_indices=True)
    check_max(y, idx, ref, ref_idx, dtype)
    np.testing.assert_array_equal(fn("max_pool{}d", dims)(x, **kwargs), y)
    np.testing.assert_array_equal(x, before)


# the windows compiled with constant sizes (kernel, stride, padding)
FIXED_WINDOWS = [(3, 2, 1), (3, 2, 0), (3, 1, 1), (2, 2, 0)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_max_pool_without_indices_matches_reference(seed, dims, kind, dtype, isa):
    """The no-indices path (separable for most windows) at every SIMD level: any window
    with stride 1-3 and dilation 1-2, odd and wide rows (vector loops and their tails),
    non-contiguous inputs, NaN and +-inf."""
    rng = np.random.default_rng(9000 + 1000 * dims + seed + 100 * KINDS.index(kind))
    for _ in range(6):
        if rng.random() < 0.4:
            k, s, p = FIXED_WINDOWS[int(rng.integers(len(FIXED_WINDOWS)))]
            kernel, stride, padding, dilation = [k] * dims, [s] * dims, [p] * dims, [1] * dims
        else:
            kernel = rng.integers(1, 6, dims)
            stride = rng.integers(1, 4, dims)
            padding = [rng.integers(0, k // 2 + 1) for k in kernel]
            dilation = rng.integers(1, 3, dims)
        kwargs = dict(kernel_size=as_arg(rng, kernel), stride=as_arg(rng, stride),
                      padding=as_arg(rng, padding), dilation=as_arg(rng, dilation),
                      ceil_mode=bool(rng.integers(2)))
        spatial = (int(rng.integers(1, 16)), int(rng.integers(1, 90)))[2 - dims:]
        x = make_input(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + spatial,
                       dtype, kind)
        try:
            ref, _ = MAX_REF[dims](x, **kwargs)
        except ValueError:  # empty output or a window entirely in the padding
            continue
        y = fn("max_pool{}d", dims)(x, **kwargs)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y, ref.astype(dtype), err_msg=str(kwargs))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("window", FIXED_WINDOWS + [(5, 2, 2), ((2, 4), (1, 3), (1, 0))])
def test_max_pool_without_indices_propagates_nan_and_inf(window, dtype, isa):
    """One NaN or +-inf at a time, at random cells (edges included): every output whose
    window holds it, and only those, changes as the reference says."""
    rng = np.random.default_rng(77)
    k, s, p = window
    for value in (np.nan, np.inf, -np.inf):
        for _ in range(8):
            x = np.zeros((1, 2, 9, 41), dtype)
            x[0, 1, int(rng.integers(9)), int(rng.integers(41))] = value
            y = convcore.max_pool2d(x, k, s, p)
            ref = max_pool2d_ref(x, k, s, p)[0]
            np.testing.assert_array_equal(y, ref.astype(dtype), err_msg=f"{window} {value}")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", ["random", "special"])
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(10))
def test_avg_pool_matches_reference(seed, dims, kind, dtype):
    rng = np.random.default_rng(5000 + 1000 * dims + seed + 100 * (kind == "special"))
    x, kwargs, ref = draw_case(rng, dims, dtype, kind, "avg")
    before = x.copy()
    y = fn("avg_pool{}d", dims)(x, **kwargs)
    assert y.dtype == dtype
    terms = int(np.prod(np.broadcast_to(kwargs["kernel_size"], dims)))
    assert_close(y, ref, dtype, terms=terms, err_msg=str(kwargs))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2), (3, 1)])
def test_every_width_up_to_70(kernel, stride, dtype, rng):
    """Vector tails of every length and the 2x2/2 and 3x3/2 special cases."""
    for width in range(1, 71):
        x = make_input(rng, (2, 3, int(rng.integers(kernel, 7)), width), dtype,
                       str(rng.choice(KINDS)))
        padding, ceil_mode = int(rng.integers(0, kernel // 2 + 1)), bool(rng.integers(2))
        if width + 2 * padding < kernel:
            continue
        args = (kernel, stride, padding)
        y, idx = convcore.max_pool2d(x, *args, ceil_mode=ceil_mode, return_indices=True)
        check_max(y, idx, *max_pool2d_ref(x, *args, ceil_mode=ceil_mode), dtype)
        cip = bool(rng.integers(2))
        y = convcore.avg_pool2d(x, *args, ceil_mode=ceil_mode, count_include_pad=cip)
        ref = avg_pool2d_ref(x, *args, ceil_mode=ceil_mode, count_include_pad=cip)
        assert_close(y, ref, dtype, terms=kernel**2, err_msg=f"width {width}")


def _avg_in_tap_order(x, k, s, p, ceil_mode, cip, divisor_override):
    """Average pooling summed as PyTorch's loop sums, in x's dtype: from zero, the window's
    cells inside the input in row-major order, then one division."""
    h, w = x.shape[-2:]
    ho, wo = (pool_output_size_ref(n, k, s, p, 1, ceil_mode) for n in (h, w))
    y = np.empty(x.shape[:-2] + (ho, wo), x.dtype)
    for i in range(ho):
        r0, r1, rsize = _avg_window(i, k, s, p, h)
        for j in range(wo):
            c0, c1, csize = _avg_window(j, k, s, p, w)
            total = np.zeros(x.shape[:-2], x.dtype)
            with np.errstate(invalid="ignore", over="ignore"):
                for r in range(r0, r1):
                    for c in range(c0, c1):
                        total = total + x[..., r, c]
            divisor = divisor_override or (rsize * csize if cip else (r1 - r0) * (c1 - c0))
            y[..., i, j] = total / x.dtype.type(divisor)
    return y


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kernel", [2, 3])
def test_avg_stride_2_rows_in_the_padding_same_bits(kernel, dtype, rng):
    """A padded stride-2 average pool, its first and last rows (windows partly above or
    below the input, summed tap by tap) as well as the vector pass's interior: the same
    bits as summing the cells inside in tap order (a NaN's payload aside), under every
    divisor rule, with zeros of either sign, at widths past a vector of every ISA."""
    for width in (33, 34, 47, 66, 70):
        for height in (4, 5, 8):
            x = make_input(rng, (2, 3, height, width), dtype, str(rng.choice(KINDS)))
            x[0, 0] = -0.0  # a plane of negative zeros: 0 + -0 is +0, as in the loop
            ceil_mode, cip = bool(rng.integers(2)), bool(rng.integers(2))
            override = None if rng.random() < 0.7 else int(rng.integers(1, 12))
            y = convcore.avg_pool2d(x, kernel, 2, 1, ceil_mode=ceil_mode,
                                    count_include_pad=cip, divisor_override=override)
            ref = _avg_in_tap_order(np.ascontiguousarray(x), kernel, 2, 1, ceil_mode, cip,
                                    override)
            msg = f"{width}x{height} {ceil_mode} {cip} {override}"
            np.testing.assert_array_equal(y, ref, err_msg=msg)  # NaN where NaN: any NaN
            numbers = ~np.isnan(ref)
            np.testing.assert_array_equal(np.signbit(y)[numbers], np.signbit(ref)[numbers],
                                          err_msg=msg)  # the zeros' signs too


def test_stride_defaults_to_kernel_size(rng):
    x = rng.standard_normal((2, 3, 9, 10))
    for name in ("max_pool2d", "avg_pool2d"):
        f = getattr(convcore, name)
        np.testing.assert_array_equal(f(x, (3, 2)), f(x, (3, 2), stride=(3, 2)))
        np.testing.assert_array_equal(f(x, 3, None), f(x, 3, 3))
    np.testing.assert_array_equal(convcore.max_pool1d(x[0], 3), convcore.max_pool1d(x[0], 3, 3))


def test_unbatched_equals_batched(rng):
    x = rng.standard_normal((3, 7, 11))
    for f, args in ((convcore.max_pool2d, (3, 2, 1)), (convcore.avg_pool2d, (3, 2, 1)),
                    (convcore.max_pool1d, (3, 2, 1)), (convcore.avg_pool1d, (3, 2, 1)),
                    (convcore.adaptive_avg_pool2d, (4,)), (convcore.adaptive_max_pool2d, (4,)),
                    (convcore.global_avg_pool2d, ()), (convcore.global_max_pool2d, ())):
        v = x[0] if f in (convcore.max_pool1d, convcore.avg_pool1d) else x
        np.testing.assert_allclose(f(v, *args), f(v[None], *args)[0], rtol=1e-14)


def test_empty_batch():
    x = np.zeros((0, 3, 8, 9), np.float32)
    assert convcore.max_pool2d(x, 2).shape == (0, 3, 4, 4)
    y, idx = convcore.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    assert y.shape == idx.shape == (0, 3, 5, 5) and y.dtype == np.float32
    assert convcore.avg_pool2d(x, 2).shape == (0, 3, 4, 4)
    assert convcore.avg_pool1d(x[:, :, 0], 2).shape == (0, 3, 4)
    assert convcore.global_avg_pool2d(x).shape == (0, 3, 1, 1)
    assert convcore.adaptive_max_pool2d(x, (2, 5)).shape == (0, 3, 2, 5)


@pytest.mark.parametrize("dilation", [1, 2])
def test_all_neg_inf_windows_take_first_cell_inside(dilation):
    x = np.full((1, 2, 7, 8), -np.inf)
    y, idx = convcore.max_pool2d(x, 3, 2, 1, dilation, ceil_mode=True, return_indices=True)
    check_max(y, idx, *max_pool2d_ref(x, 3, 2, 1, dilation, ceil_mode=True), np.float64)
    y, idx = convcore.max_pool1d(x[0], 3, 2, 1, dilation, return_indices=True)
    check_max(y, idx, *max_pool1d_ref(x[0], 3, 2, 1, dilation), np.float64)


def test_max_padding_never_wins():
    x = -np.arange(1.0, 26.0).reshape(1, 1, 5, 5) ** 2
    y, idx = convcore.max_pool2d(x, 3, 1, 1, return_indices=True)
    assert np.all(y < 0)
    check_max(y, idx, *max_pool2d_ref(x, 3, 1, 1), np.float64)


def test_nan_positions_and_indices():
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan   # two NaNs in the first 2x2 window
    x[0, 0, 2, 2] = np.nan
    x[0, 0, 3, 3] = np.inf
    y, idx = convcore.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y[0, 0], [[np.nan, 0], [0, np.nan]])
    np.testing.assert_array_equal(idx[0, 0], [[4, 2], [8, 10]])   # last NaN; first tie


def test_ties_pick_first_maximum():
    x = np.ones((1, 1, 3, 5))
    y, idx = convcore.max_pool2d(x, (2, 3), 1, (1, 1), return_indices=True)
    check_max(y, idx, *max_pool2d_ref(x, (2, 3), 1, (1, 1)), np.float64)
    assert idx[0, 0, 0, 0] == 0 and idx[0, 0, 1, 1] == 0


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_large_inputs_same_with_one_and_two_threads(dtype, rng):
    """Inputs big enough to be split over threads give the serial results bit for bit."""
    x = make_input(rng, (4, 8, 33, 70), dtype, "special")
    g = rng.standard_normal((4, 8, 17, 35))
    calls = [lambda: convcore.max_pool2d(x, 3, 2, 1, return_indices=True),
             lambda: convcore.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
             lambda: convcore.max_pool2d_backward(g, x, 3, 2, 1),
             lambda: convcore.avg_pool2d_backward(g, x, 3, 2, 1),
             lambda: convcore.adaptive_max_pool2d(x, (5, 7), return_indices=True),
             lambda: convcore.adaptive_avg_pool2d(x, (5, 7)),
             lambda: convcore.global_max_pool2d(x)]
    try:
        convcore.set_num_threads(1)
        serial = [c() for c in calls]
        convcore.set_num_threads(2)
        parallel = [c() for c in calls]
    finally:
        convcore.set_num_threads(None)
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a, b)
    check_max(*parallel[0], *max_pool2d_ref(x, 3, 2, 1), dtype)


# ---------------------------------------------------------------- global and adaptive


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", ["random", "special", "ties"])
@pytest.mark.parametrize("seed", range(4))
def test_global_pools(seed, kind, dtype):
    rng = np.random.default_rng(300 + seed)
    shape = draw_shape(rng, 2)
    x = make_input(rng, shape, dtype, kind)
    before = x.copy()
    ymax, yavg = convcore.global_max_pool2d(x), convcore.global_avg_pool2d(x)
    assert ymax.shape == yavg.shape == shape[:-2] + (1, 1)
    assert ymax.dtype == yavg.dtype == dtype
    np.testing.assert_array_equal(ymax, adaptive_max_pool2d_ref(x, 1)[0].astype(dtype))
    assert_close(yavg, adaptive_avg_pool2d_ref(x, 1), dtype, terms=shape[-1] * shape[-2])
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(8))
def test_adaptive_pools(seed, kind, dtype):
    rng = np.random.default_rng(400 + seed)
    shape = draw_shape(rng, 2)
    x = make_input(rng, shape, dtype, kind)
    sizes = [int(rng.integers(1, 2 * n + 2)) for n in shape[-2:]]
    output_size = [sizes[0], tuple(sizes), (None, sizes[1]), (sizes[0], None)][seed % 4]
    expected = adaptive_max_pool2d_ref(x, output_size)
    y, idx = convcore.adaptive_max_pool2d(x, output_size, return_indices=True)
    check_max(y, idx, *expected, dtype)
    np.testing.assert_array_equal(convcore.adaptive_max_pool2d(x, output_size), y)
    ref = adaptive_avg_pool2d_ref(x, output_size)
    assert_close(convcore.adaptive_avg_pool2d(x, output_size), ref, dtype,
                 terms=shape[-1] * shape[-2])


# ---------------------------------------------------------------- dtypes

CALLS = [("max_pool2d", (2,), 4), ("avg_pool2d", (2,), 4), ("max_pool1d", (2,), 3),
         ("avg_pool1d", (2,), 3), ("global_max_pool2d", (), 4), ("global_avg_pool2d", (), 4),
         ("adaptive_max_pool2d", (3,), 4), ("adaptive_avg_pool2d", (3,), 4)]


@pytest.mark.parametrize("name, args, ndim", CALLS)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.float16])
def test_other_real_dtypes_computed_in_float64(name, args, ndim, dtype, rng):
    x = rng.integers(0, 5, (2, 3, 6, 7)[4 - ndim:]).astype(dtype)
    y = getattr(convcore, name)(x, *args)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, getattr(convcore, name)(x.astype(np.float64), *args))


@pytest.mark.parametrize("name, args, ndim", CALLS)
@pytest.mark.parametrize("bad", [np.complex128, object, "U3", np.bool_])
def test_unsupported_dtypes(name, args, ndim, bad):
    x = np.zeros((2, 3, 6, 7)[4 - ndim:], dtype=bad)
    with pytest.raises(TypeError):
        getattr(convcore, name)(x, *args)


@pytest.mark.parametrize("name", ["max_pool{}d_backward", "avg_pool{}d_backward"])
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("bad", [np.complex128, object])
def test_backward_unsupported_dtypes(name, dims, bad):
    x = np.zeros((2, 3, 6, 6)[2 - dims:])
    g = np.zeros((2, 3, 3, 3)[2 - dims:])
    with pytest.raises(TypeError):
        fn(name, dims)(g.astype(bad), x, 2)
    with pytest.raises(TypeError):
        fn(name, dims)(g, x.astype(bad), 2)


def test_nested_lists_are_accepted():
    y = convcore.max_pool1d([[1.0, 3.0, 2.0, 0.0]], 2)
    np.testing.assert_array_equal(y, [[3.0, 2.0]])
    np.testing.assert_array_equal(convcore.avg_pool1d([[1.0, 3.0, 2.0, 0.0]], 2), [[2.0, 1.0]])


# ---------------------------------------------------------------- backward


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(8))
def test_avg_backward_matches_reference(seed, dims, dtype):
    rng = np.random.default_rng(600 + 10 * dims + seed)
    x, kwargs, ref = draw_case(rng, dims, dtype, "random", "avg")
    g = random_array(rng, ref.shape, dtype, layout=str(rng.choice(LAYOUTS)))
    before_x, before_g = x.copy(), g.copy()
    gx = fn("avg_pool{}d_backward", dims)(g, x, **kwargs)
    assert gx.shape == x.shape and gx.dtype == dtype
    terms = int(np.prod(np.broadcast_to(kwargs["kernel_size"], dims)))
    assert_close(gx, AVG_BWD_REF[dims](g, x, **kwargs), dtype, terms=terms)
    np.testing.assert_array_equal(x, before_x)
    np.testing.assert_array_equal(g, before_g)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(6))
def test_max_backward_matches_reference(seed, dims, kind, dtype):
    rng = np.random.default_rng(700 + 10 * dims + seed + 100 * KINDS.index(kind))
    x, kwargs, (ref, ref_idx) = draw_case(rng, dims, dtype, kind, "max")
    g = random_array(rng, ref.shape, dtype)
    backward = fn("max_pool{}d_backward", dims)
    before_x, before_g = x.copy(), g.copy()
    gx = backward(g, x, **kwargs)
    np.testing.assert_array_equal(x, before_x)
    np.testing.assert_array_equal(g, before_g)
    assert gx.shape == x.shape and gx.dtype == dtype
    expected = MAX_BWD_REF[dims](g, x, **kwargs)
    terms = int(np.prod(ref.shape[-dims:]))
    assert_close(gx, expected, dtype, terms=terms)
    _, idx = fn("max_pool{}d", dims)(x, **kwargs, return_indices=True)
    assert_close(backward(g, x, **kwargs, indices=idx), expected, dtype, terms=terms)
    # given indices are used as they are, not recomputed
    other = rng.integers(0, int(np.prod(x.shape[-dims:])), ref.shape)
    assert_close(backward(g, x, **kwargs, indices=other),
                 MAX_BWD_REF[dims](g, x, **kwargs, indices=other), dtype, terms=terms)


def numerical_gradient(f, x, g, eps):
    """d(sum(g * f(x))) / dx by central differences."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (np.sum(g * f(xp)) - np.sum(g * f(xm))) / (2 * eps)
    return grad


def fd_case(rng, dims, op):
    """Small float64 input and keyword arguments for a finite-difference check."""
    kernel = rng.integers(1, 5, dims)
    kwargs = dict(kernel_size=as_arg(rng, kernel), stride=as_arg(rng, rng.integers(1, 4, dims)),
                  padding=as_arg(rng, [rng.integers(0, k // 2 + 1) for k in kernel]),
                  ceil_mode=bool(rng.integers(2)))
    if op == "max":
        kwargs["dilation"] = as_arg(rng, rng.integers(1, 3, dims))
    else:
        kwargs["count_include_pad"] = bool(rng.integers(2))
        kwargs["divisor_override"] = None if rng.random() < 0.6 else 2
    shape = (2, 2) + tuple(int(2 * k + rng.integers(0, 4)) for k in kernel)
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1   # no ties
    return x, kwargs


@pytest.mark.parametrize("op", ["avg", "max"])
@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("seed", range(5))
def test_backward_matches_finite_differences(seed, dims, op):
    rng = np.random.default_rng(800 + 10 * dims + seed)
    x, kwargs = fd_case(rng, dims, op)
    forward = fn(op + "_pool{}d", dims)
    g = rng.standard_normal(forward(x, **kwargs).shape)
    num = numerical_gradient(lambda v: forward(v, **kwargs), x, g, 1e-3)
    got = fn(op + "_pool{}d_backward", dims)(g, x, **kwargs)
    np.testing.assert_allclose(got, num, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["max_pool{}d_backward", "avg_pool{}d_backward"])
@pytest.mark.parametrize("dims", [1, 2])
def test_backward_dtype_follows_input(name, dims, rng):
    shape = (2, 3, 6, 7)[2 - dims:]
    x32 = rng.standard_normal(shape).astype(np.float32)
    g = rng.standard_normal(fn(name[:-9], dims)(x32, 2).shape)
    backward = fn(name, dims)
    assert backward(g.astype(np.float32), x32, 2).dtype == np.float32
    assert backward(g, x32, 2).dtype == np.float32
    gx = backward(g, np.round(x32 * 100).astype(np.int32), 2)   # ints computed in float64
    assert gx.dtype == np.float64 and gx.shape == shape
    assert backward(g[0], x32[0], 2).shape == shape[1:]   # unbatched


def test_backward_empty_batch():
    x = np.zeros((0, 2, 5, 5))
    g = np.zeros((0, 2, 2, 2))
    assert convcore.max_pool2d_backward(g, x, 2).shape == x.shape
    assert convcore.avg_pool2d_backward(g, x, 2).shape == x.shape


def test_max_backward_accumulates_overlapping_windows():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    gx = convcore.max_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, 1)
    expected = np.zeros((3, 3))
    expected[1, 1] = 4.0
    np.testing.assert_array_equal(gx[0, 0], expected)


# ---------------------------------------------------------------- validation

X2 = np.zeros((2, 3, 8, 8))
X1 = np.zeros((2, 3, 8))


@pytest.mark.parametrize("call", [
    lambda: convcore.max_pool2d(X2, 3, padding=2),
    lambda: convcore.max_pool2d(X2, (3, 1), padding=(1, 1)),
    lambda: convcore.avg_pool2d(X2, 2, padding=2),
    lambda: convcore.avg_pool2d(X2, (1, 4), padding=(1, 0)),
    lambda: convcore.max_pool1d(X1, 2, padding=2),
    lambda: convcore.avg_pool1d(X1, 3, padding=2),
    lambda: convcore.max_pool2d(X2, 3, padding=-1),
])
def test_padding_limits(call):
    with pytest.raises(ValueError, match="pad"):
        call()


@pytest.mark.parametrize("name, kwargs, word", [
    ("max_pool{}d", dict(kernel_size=0), "kernel"),
    ("avg_pool{}d", dict(kernel_size=0), "kernel"),
    ("max_pool{}d", dict(kernel_size=2, stride=0), "stride"),
    ("avg_pool{}d", dict(kernel_size=2, stride=-1), "stride"),
    ("max_pool{}d", dict(kernel_size=2, dilation=0), "dilation"),
    ("avg_pool{}d", dict(kernel_size=2, divisor_override=0), "divisor"),
    ("avg_pool{}d", dict(kernel_size=2, divisor_override=-2), "divisor"),
    ("max_pool{}d", dict(kernel_size=9), "output"),
    ("avg_pool{}d", dict(kernel_size=9), "output"),
    ("max_pool{}d", dict(kernel_size=3, dilation=4), "output"),
])
@pytest.mark.parametrize("dims", [1, 2])
def test_parameter_errors(name, kwargs, word, dims):
    with pytest.raises(ValueError, match=word):
        fn(name, dims)((X1, X2)[dims - 1], **kwargs)


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_grad_output_shape_error_names_expected_shape(op, dims):
    x = (X1, X2)[dims - 1]
    good = fn(op + "_pool{}d", dims)(x, 3, 2, 1).shape   # (2, 3, 4[, 4])
    backward = fn(op + "_pool{}d_backward", dims)
    for bad in (good[:-1] + (good[-1] + 1,), good[1:], (1,) + good[1:]):
        with pytest.raises(ValueError, match=r"\D+".join(map(str, good))):
            backward(np.zeros(bad), x, 3, 2, 1)


@pytest.mark.parametrize("dims", [1, 2])
def test_indices_errors(dims):
    x = (X1, X2)[dims - 1]
    y, idx = fn("max_pool{}d", dims)(x, 2, return_indices=True)
    backward = fn("max_pool{}d_backward", dims)
    g = np.ones(y.shape)
    size = int(np.prod(x.shape[2:]))
    for bad in (idx[..., :-1], idx[0], idx + size, idx - size, np.full_like(idx, -2)):
        with pytest.raises(ValueError, match="ind"):
            backward(g, x, 2, indices=bad)
    bad = idx.copy()
    bad.flat[-1] = size
    with pytest.raises(ValueError, match="ind"):
        backward(g, x, 2, indices=bad)


# ---------------------------------------------------------------- 1-D example


def test_high_pass_filter_then_pooling_detects_high_pitch():
    """A difference filter keeps a high-pitch sine and nearly removes a low-pitch one."""
    t = np.arange(256)
    signals = np.stack([np.sin(2 * np.pi * 0.45 * t), np.sin(2 * np.pi * 0.02 * t)])
    filtered = convcore.conv1d(signals[:, None, :], [[[1.0, -1.0]]])   # (2, 1, 255)
    assert filtered.shape == (2, 1, 255)
    peak = convcore.max_pool1d(filtered, 16)[:, 0]
    energy = convcore.avg_pool1d(np.abs(filtered), 16)[:, 0]
    assert peak.shape == energy.shape == (2, 15)
    high, low = peak
    assert np.all(high > 5 * np.abs(low))
    high, low = energy
    assert np.all(high > 5 * low)
    # pooling the whole signal gives one clearly separated number per signal
    whole = convcore.avg_pool1d(np.abs(filtered), 255)[:, 0, 0]
    assert whole[0] > 10 * whole[1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_window_covering_the_plane_equals_global_pool(dtype):
    """A single window over the whole plane takes the global-pool kernel: same values,
    same indices, same divisor as the windowed definition (the reference)."""
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, (2, 3, 5, 7)).astype(dtype)  # many ties
    x[0, 1, 2, 3] = np.nan
    y, idx = convcore.max_pool2d(x, (5, 7), return_indices=True)
    ry, ridx = max_pool2d_ref(x, (5, 7), (5, 7), (0, 0), (1, 1), False)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    np.testing.assert_array_equal(y, convcore.global_max_pool2d(x))
    avg = convcore.avg_pool2d(x, (5, 7))
    np.testing.assert_allclose(avg, avg_pool2d_ref(x, (5, 7), (5, 7), (0, 0), False, True, None),
                               rtol=1e-6, equal_nan=True)
    np.testing.assert_array_equal(avg, convcore.global_avg_pool2d(x))


def test_window_without_input_cells_round_trips():
    """With dilation a window can miss the input entirely: -inf, index -1, no gradient,
    and its indices can be fed back to the backward pass."""
    x = np.arange(2.0)[None]
    y, idx = convcore.max_pool1d(x, 2, 1, 1, 3, return_indices=True)
    assert np.isneginf(y[0, 0]) and idx[0, 0] == -1
    g = convcore.max_pool1d_backward(np.ones_like(y), x, 2, 1, 1, 3, indices=idx)
    np.testing.assert_array_equal(g, convcore.max_pool1d_backward(np.ones_like(y), x, 2, 1, 1, 3))
    np.testing.assert_array_equal(g, [[0.0, 0.0]])
    # only the column taps miss: the index must not point into the next row
    x2 = np.arange(6.0).reshape(1, 3, 2)
    y2, idx2 = convcore.max_pool2d(x2, (1, 2), 1, (0, 1), (1, 3), return_indices=True)
    assert np.all(np.isneginf(y2)) and np.all(idx2 == -1)


def test_huge_window_costs_only_the_input():
    """Taps outside the input are never visited: a 2**31 - 1 window on one pixel is
    instant (it used to loop over every tap)."""
    y = convcore.max_pool2d(np.ones((1, 64, 1, 1)), 2**31 - 1, padding=2**30 - 1)
    assert y.shape == (1, 64, 1, 1) and np.all(y == 1)
    a = convcore.avg_pool2d(np.ones((1, 64, 1, 1)), 2**31 - 1, padding=2**30 - 1,
                            count_include_pad=False)
    np.testing.assert_array_equal(a, 1.0)


@pytest.mark.parametrize("flag", ["ceil_mode", "return_indices"])
def test_flags_must_be_bools(flag):
    with pytest.raises(TypeError, match=flag):
        convcore.max_pool2d(np.ones((1, 4, 4)), 2, **{flag: "no"})
    with pytest.raises(TypeError, match="count_include_pad"):
        convcore.avg_pool2d(np.ones((1, 4, 4)), 2, count_include_pad=None)
