"""Property-based tests of max and average pooling against the references."""

import numpy as np
from conftest import assert_close
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pool_reference import (
    avg_pool2d_backward_ref,
    avg_pool2d_ref,
    max_pool2d_backward_ref,
    max_pool2d_ref,
)

import convcore

values = st.one_of(st.integers(-2, 2).map(float),   # many ties
                   st.floats(-1e3, 1e3, width=32),
                   st.sampled_from([np.nan, np.inf, -np.inf]))


@st.composite
def pool_cases(draw, dilation):
    """(x, kwargs) with kernel 1..5, stride 1..4, padding <= k // 2 and a fitting input."""
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))) if dilation else (1, 1)
    low = [max(1, d * (k - 1) + 1 - 2 * p) for k, p, d in zip(kernel, padding, dil, strict=True)]
    shape = (draw(st.integers(0, 2)), draw(st.integers(1, 2)),
             draw(st.integers(low[0], low[0] + 10)), draw(st.integers(low[1], low[1] + 30)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = draw(hnp.arrays(dtype, shape, elements=values))
    layout = draw(st.sampled_from(["C", "F", "reversed"]))
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "reversed":
        x = x[..., ::-1].copy()[..., ::-1]
    kwargs = dict(kernel_size=kernel, stride=draw(st.sampled_from([None, stride])),
                  padding=padding, ceil_mode=draw(st.booleans()))
    if dilation:
        kwargs["dilation"] = dil
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
        kwargs["divisor_override"] = draw(st.one_of(st.none(), st.integers(1, 30)))
    return x, kwargs


@given(pool_cases(dilation=True), st.integers(0, 2**32 - 1))
def test_max_pool2d_property(case, seed):
    x, kwargs = case
    try:
        ref, ref_idx = max_pool2d_ref(x, **kwargs)
    except ValueError:   # some window lies entirely in the padding
        assume(False)
    before = x.copy()
    y, idx = convcore.max_pool2d(x, **kwargs, return_indices=True)
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(y, ref.astype(x.dtype))
    np.testing.assert_array_equal(idx, ref_idx)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    expected = max_pool2d_backward_ref(g, x, **kwargs)
    for indices in (None, idx):
        gx = convcore.max_pool2d_backward(g, x, **kwargs, indices=indices)
        assert_close(gx, expected, x.dtype, terms=y.shape[-1] * y.shape[-2])
    np.testing.assert_array_equal(x, before)


@given(pool_cases(dilation=False), st.integers(0, 2**32 - 1))
def test_avg_pool2d_property(case, seed):
    x, kwargs = case
    ref = avg_pool2d_ref(x, **kwargs)
    before = x.copy()
    y = convcore.avg_pool2d(x, **kwargs)
    assert y.dtype == x.dtype
    terms = kwargs["kernel_size"][0] * kwargs["kernel_size"][1]
    assert_close(y, ref, x.dtype, terms=terms)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    assert_close(convcore.avg_pool2d_backward(g, x, **kwargs),
                 avg_pool2d_backward_ref(g, x, **kwargs), x.dtype, terms=terms)
    np.testing.assert_array_equal(x, before)
