"""Hypothesis property tests over the parameter spaces the other property tests leave out:
conv2d_backward / conv1d_backward (every padding form, groups, strides, dilations, batch
sizes including 0 and none, every algorithm, float32 and float64), conv_matrix (CSR and
dense), adaptive and global pooling (outputs larger than the input included) and 1-D
pooling with dilation and ceil_mode, all against the NumPy references."""

import numpy as np
from conftest import assert_close, random_array
from conv_backward_reference import (
    conv1d_backward_ref,
    conv2d_backward_ref,
    resolve_padding1d_ref,
    resolve_padding_ref,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from pool_reference import (
    adaptive_avg_pool2d_ref,
    adaptive_max_pool2d_ref,
    avg_pool1d_backward_ref,
    avg_pool1d_ref,
    max_pool1d_backward_ref,
    max_pool1d_ref,
)
from reference import conv2d_ref

import convcore

seeds = st.integers(0, 2**32 - 1)
dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def conv2d_geometry(draw):
    groups = draw(st.integers(1, 3))
    cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    form = draw(st.sampled_from(["int", "pair", "nested", "same", "valid"]))
    if form == "int":
        padding = draw(st.integers(0, 3))
    elif form == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    elif form == "nested":
        padding = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    else:
        padding = form
    explicit = resolve_padding_ref(padding, (99, 99), kernel, stride, dilation) if (
        not isinstance(padding, str)) else ((0, 0), (0, 0))
    hw = tuple(max(1, d * (k - 1) + 1 - sum(p)) + draw(st.integers(0, 7))
               for k, d, p in zip(kernel, dilation, explicit, strict=True))
    return dict(n=draw(st.sampled_from([None, 0, 1, 2])), c=groups * cg, k=groups * kg,
                hw=hw, kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                groups=groups)


@given(conv2d_geometry(), dtypes, st.sampled_from(["direct", "im2col", "auto"]), seeds)
def test_conv2d_backward_property(g, dtype, algorithm, seed):
    rng = np.random.default_rng(seed)
    batch = (g["n"],) if g["n"] is not None else ()
    x = random_array(rng, (*batch, g["c"], *g["hw"]), dtype)
    w = random_array(rng, (g["k"], g["c"] // g["groups"], *g["kernel"]), dtype)
    kw = dict(stride=g["stride"], padding=g["padding"], dilation=g["dilation"],
              groups=g["groups"])
    y = convcore.conv2d(x, w, **kw)
    go = random_array(rng, y.shape, dtype)
    gx, gw, gb = convcore.conv2d_backward(go, x, w, **kw, algorithm=algorithm)
    pads = resolve_padding_ref(g["padding"], g["hw"], g["kernel"], g["stride"], g["dilation"])
    xb, gob = (x, go) if batch else (x[None], go[None])
    rx, rw, rb = conv2d_backward_ref(gob, xb, w, g["stride"], pads, g["dilation"], g["groups"])
    for got, ref in ((gx, rx if batch else rx[0]), (gw, rw), (gb, rb)):
        assert got.dtype == dtype and got.shape == ref.shape
        assert_close(got, ref, dtype, terms=max(1, go.size))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 5),
       st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["int", "one", "pair", "same", "valid"]), st.integers(0, 3),
       st.integers(0, 3), st.sampled_from([None, 0, 1, 3]), dtypes,
       st.sampled_from(["direct", "im2col", "auto"]), seeds)
def test_conv1d_backward_property(groups, cg, kg, kernel, stride, dilation, form, a, b, n,
                                  dtype, algorithm, seed):
    padding = {"int": a, "one": (a,), "pair": (a, b)}.get(form, form)
    explicit = (0, 0) if isinstance(padding, str) else resolve_padding1d_ref(padding, 0, 0, 0,
                                                                             0)
    length = max(1, dilation * (kernel - 1) + 1 - sum(explicit)) + (seed % 9)
    rng = np.random.default_rng(seed)
    batch = (n,) if n is not None else ()
    x = random_array(rng, (*batch, groups * cg, length), dtype)
    w = random_array(rng, (groups * kg, cg, kernel), dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    go = random_array(rng, convcore.conv1d(x, w, **kw).shape, dtype)
    got = convcore.conv1d_backward(go, x, w, **kw, algorithm=algorithm)
    pads = resolve_padding1d_ref(padding, length, kernel, stride, dilation)
    xb, gob = (x, go) if batch else (x[None], go[None])
    ref = conv1d_backward_ref(gob, xb, w, stride, pads, dilation, groups)
    ref = (ref[0] if batch else ref[0][0], ref[1], ref[2])
    for gt, r in zip(got, ref, strict=True):
        assert gt.dtype == dtype and gt.shape == r.shape
        assert_close(gt, r, dtype, terms=max(1, go.size))


@given(conv2d_geometry(), dtypes, st.sampled_from(["csr", "dense"]), seeds)
def test_conv_matrix_property(g, dtype, fmt, seed):
    rng = np.random.default_rng(seed)
    image = random_array(rng, (g["c"], *g["hw"]), dtype)
    w = random_array(rng, (g["k"], g["c"] // g["groups"], *g["kernel"]), dtype)
    m = convcore.conv_matrix(image.shape, w, g["stride"], g["padding"], g["dilation"],
                             g["groups"], format=fmt)
    pads = resolve_padding_ref(g["padding"], g["hw"], g["kernel"], g["stride"], g["dilation"])
    ref = conv2d_ref(image[None], w, None, g["stride"], pads, g["dilation"], g["groups"])[0]
    assert m.shape == (ref.size, image.size) and m.dtype == dtype
    assert_close(m @ image.ravel(), ref.ravel(), dtype, terms=w[0].size)
    if fmt == "csr":
        assert m.has_canonical_format
        # every stored entry is a weight the window multiplies: no entry for padding
        assert m.nnz <= ref.size * w[0].size
    y = convcore.conv2d(image, w, stride=g["stride"], padding=g["padding"],
                        dilation=g["dilation"], groups=g["groups"], algorithm="sparse")
    assert_close(y, ref, dtype, terms=w[0].size)


values = st.one_of(st.integers(-2, 2).map(float), st.floats(-1e3, 1e3, width=32),
                   st.sampled_from([np.nan, np.inf, -np.inf]))


@given(st.integers(1, 9), st.integers(1, 12), st.integers(1, 14), st.integers(1, 15),
       st.sampled_from([None, 1, 2]), dtypes, st.data())
def test_adaptive_and_global_pools_property(h, w, out_h, out_w, n, dtype, data):
    from hypothesis.extra import numpy as hnp

    lead = (n, 2) if n else (2,)
    x = data.draw(hnp.arrays(dtype, (*lead, h, w), elements=values))
    size = data.draw(st.sampled_from([(out_h, out_w), (out_h, None), out_h]))
    y = convcore.adaptive_avg_pool2d(x, size)
    assert_close(y, adaptive_avg_pool2d_ref(x, size), dtype, terms=h * w)
    ym, idx = convcore.adaptive_max_pool2d(x, size, return_indices=True)
    ref, ref_idx = adaptive_max_pool2d_ref(x, size)
    np.testing.assert_array_equal(ym, ref.astype(dtype))
    np.testing.assert_array_equal(idx, ref_idx)
    assert_close(convcore.global_avg_pool2d(x), adaptive_avg_pool2d_ref(x, 1), dtype,
                 terms=h * w)
    np.testing.assert_array_equal(convcore.global_max_pool2d(x),
                                  adaptive_max_pool2d_ref(x, 1)[0].astype(dtype))


@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3), st.booleans(),
       st.booleans(), st.sampled_from([None, 2, 5]), st.sampled_from([None, 0, 2]), dtypes,
       st.data())
def test_pool1d_property(kernel, stride, dilation, ceil_mode, count_include_pad, divisor,
                         n, dtype, data):
    from hypothesis.extra import numpy as hnp

    padding = data.draw(st.integers(0, kernel // 2))
    length = max(1, dilation * (kernel - 1) + 1 - 2 * padding) + data.draw(st.integers(0, 20))
    lead = (n, 3) if n is not None else (3,)
    x = data.draw(hnp.arrays(dtype, (*lead, length), elements=values))
    try:
        ref, ref_idx = max_pool1d_ref(x, kernel, stride, padding, dilation, ceil_mode)
    except ValueError:  # a window in the padding only: convcore's -inf / -1 rule
        assume(False)
    y, idx = convcore.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode, True)
    np.testing.assert_array_equal(y, ref.astype(dtype))
    np.testing.assert_array_equal(idx, ref_idx)
    g = np.random.default_rng(length).standard_normal(y.shape)
    assert_close(convcore.max_pool1d_backward(g, x, kernel, stride, padding, dilation,
                                              ceil_mode, indices=idx),
                 max_pool1d_backward_ref(g, x, kernel, stride, padding, dilation, ceil_mode),
                 dtype, terms=y.shape[-1])
    avg_kw = dict(ceil_mode=ceil_mode, count_include_pad=count_include_pad,
                  divisor_override=divisor)
    ya = convcore.avg_pool1d(x, kernel, stride, padding, **avg_kw)
    assert_close(ya, avg_pool1d_ref(x, kernel, stride, padding, **avg_kw), dtype, terms=kernel)
    ga = np.random.default_rng(kernel).standard_normal(ya.shape)
    assert_close(convcore.avg_pool1d_backward(ga, x, kernel, stride, padding, **avg_kw),
                 avg_pool1d_backward_ref(ga, x, kernel, stride, padding, **avg_kw), dtype,
                 terms=kernel)
