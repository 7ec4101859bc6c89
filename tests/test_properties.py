"""Property-based tests over random parameter spaces."""

import numpy as np
from conftest import assert_close, random_array
from hypothesis import given
from hypothesis import strategies as st
from reference import col2im_ref, conv1d_ref, conv2d_ref, im2col_ref, output_size_ref

import convcore

small = st.integers(1, 3)


@st.composite
def window_params(draw):
    """Kernel, stride, dilation and ((t, b), (l, r)) padding plus a fitting (H, W)."""
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(small), draw(small))
    dilation = (draw(small), draw(small))
    pads = tuple((draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(2))
    lows = [max(1, d * (k - 1) + 1 - sum(p)) for k, d, p in zip(kernel, dilation, pads,
                                                                   strict=True)]
    hw = tuple(draw(st.integers(low, low + 8)) for low in lows)
    return kernel, stride, dilation, pads, hw


def padding_arg(draw, pads):
    """Express ``pads`` in one of the equivalent accepted forms."""
    (t, b), (left, right) = pads
    forms = [pads]
    if t == b and left == right:
        forms.append((t, left))
        if t == left:
            forms.append(t)
    return draw(st.sampled_from(forms))


@st.composite
def conv2d_cases(draw):
    kernel, stride, dilation, pads, hw = draw(window_params())
    groups = draw(small)
    c, k = groups * draw(small), groups * draw(small)
    return dict(
        n=draw(st.integers(0, 2)), c=c, k=k, hw=hw, kernel=kernel, stride=stride,
        dilation=dilation, pads=pads, padding=padding_arg(draw, pads), groups=groups,
        bias=draw(st.booleans()), dtype=draw(st.sampled_from([np.float32, np.float64])),
        algorithm=draw(st.sampled_from(["direct", "im2col", "auto"])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@given(conv2d_cases())
def test_conv2d_matches_reference(case):
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    x = random_array(rng, (case["n"], case["c"], *case["hw"]), dtype)
    w = random_array(rng, (case["k"], case["c"] // case["groups"], *case["kernel"]), dtype)
    b = random_array(rng, (case["k"],), dtype) if case["bias"] else None
    got = convcore.conv2d(x, w, b, stride=case["stride"], padding=case["padding"],
                          dilation=case["dilation"], groups=case["groups"],
                          algorithm=case["algorithm"])
    ref = conv2d_ref(x, w, b, case["stride"], case["pads"], case["dilation"], case["groups"])
    assert got.dtype == dtype
    assert_close(got, ref, dtype, terms=w[0].size)
    size = convcore.conv_output_size(case["hw"], case["kernel"], stride=case["stride"],
                                     padding=case["pads"], dilation=case["dilation"])
    assert got.shape == (case["n"], case["k"], *size)


@given(conv2d_cases())
def test_conv2d_is_linear_in_input(case):
    rng = np.random.default_rng(case["seed"])
    x1, x2 = (random_array(rng, (1, case["c"], *case["hw"])) for _ in range(2))
    w = random_array(rng, (case["k"], case["c"] // case["groups"], *case["kernel"]))
    kwargs = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"],
                  groups=case["groups"], algorithm=case["algorithm"])
    combined = convcore.conv2d(2.0 * x1 - 3.0 * x2, w, **kwargs)
    separate = 2.0 * convcore.conv2d(x1, w, **kwargs) - 3.0 * convcore.conv2d(x2, w, **kwargs)
    assert_close(combined, separate, np.float64)


@given(st.integers(1, 3), small, st.integers(1, 6), small, small,
       st.integers(0, 3), st.integers(0, 3), st.integers(0, 30), st.integers(0, 2**32 - 1))
def test_conv1d_matches_reference(groups, cg, kernel, stride, dilation, left, right,
                                  extra, seed):
    rng = np.random.default_rng(seed)
    length = max(1, dilation * (kernel - 1) + 1 - left - right) + extra
    x = random_array(rng, (2, groups * cg, length))
    w = random_array(rng, (groups * 2, cg, kernel))
    got = convcore.conv1d(x, w, stride=stride, padding=(left, right), dilation=dilation,
                          groups=groups)
    assert_close(got, conv1d_ref(x, w, None, stride, (left, right), dilation, groups),
                 np.float64)


@given(window_params(), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_im2col_and_col2im_match_reference(params, c, seed):
    kernel, stride, dilation, pads, hw = params
    rng = np.random.default_rng(seed)
    x = random_array(rng, (2, c, *hw))
    cols = convcore.im2col(x, kernel, stride=stride, padding=pads, dilation=dilation)
    np.testing.assert_array_equal(cols, im2col_ref(x, kernel, stride, dilation, pads))
    c2 = random_array(rng, cols.shape)
    back = convcore.col2im(c2, hw, kernel, stride=stride, padding=pads, dilation=dilation)
    assert_close(back, col2im_ref(c2, hw, kernel, stride, dilation, pads), np.float64)
    # adjoint identity: <im2col(x), c> == <x, col2im(c)>
    lhs, rhs = np.vdot(cols, c2), np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 4), st.integers(0, 3),
       st.integers(0, 3), st.integers(1, 3), st.booleans())
def test_output_size_matches_reference(n, k, s, p_before, p_after, d, ceil_mode):
    expected = output_size_ref(n, k, s, p_before + p_after, d, ceil_mode, p_before)
    args = dict(stride=(s,), padding=((p_before, p_after),), dilation=(d,),
                ceil_mode=ceil_mode)
    if expected < 1:
        try:
            convcore.conv_output_size((n,), (k,), **args)
        except ValueError:
            return
        raise AssertionError("expected ValueError for an empty output")
    assert convcore.conv_output_size((n,), (k,), **args) == (expected,)


@given(window_params())
def test_padding_forms_are_equivalent(params):
    kernel, stride, dilation, pads, hw = params
    ph, pw = max(pads[0]), max(pads[1])
    x = np.arange(2 * np.prod(hw), dtype=np.float64).reshape(1, 2, *hw)
    w = np.ones((1, 2, *kernel))
    kwargs = dict(stride=stride, dilation=dilation)
    nested = convcore.conv2d(x, w, padding=((ph, ph), (pw, pw)), **kwargs)
    np.testing.assert_array_equal(convcore.conv2d(x, w, padding=(ph, pw), **kwargs), nested)
    if ph == pw:
        np.testing.assert_array_equal(convcore.conv2d(x, w, padding=ph, **kwargs), nested)
