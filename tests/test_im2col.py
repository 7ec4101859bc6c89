"""im2col / col2im compared with the references and with each other."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close, random_array
from reference import col2im_ref, conv2d_ref, im2col_ref, pad_pairs

import convcore


def random_case(rng):
    """Random (x shape, kernel, stride, padding, dilation) with a non-empty output."""
    kernel = tuple(int(v) for v in rng.integers(1, 4, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.choice([1, 1, 2], 2))
    kind = rng.integers(3)
    if kind == 0:
        padding = int(rng.integers(0, 3))
    elif kind == 1:
        padding = tuple(int(v) for v in rng.integers(0, 3, 2))
    else:
        padding = tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2))
    pads = pad_pairs(padding)
    hw = [max(1, d * (k - 1) + 1 - sum(p)) + int(rng.integers(0, 6))
          for k, d, p in zip(kernel, dilation, pads, strict=True)]
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *hw)
    if stride[0] == stride[1] and rng.random() < 0.5:
        stride = stride[0]
    return shape, kernel, stride, padding, dilation


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(30))
def test_im2col_matches_reference(seed, dtype):
    rng = np.random.default_rng(2000 + seed)
    shape, kernel, stride, padding, dilation = random_case(rng)
    x = random_array(rng, shape, dtype)
    got = convcore.im2col(x, kernel, stride=stride, padding=padding, dilation=dilation)
    ref = im2col_ref(x, kernel, stride, dilation, padding)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)  # a pure copy: must be exact
    unbatched = convcore.im2col(x[0], kernel, stride=stride, padding=padding,
                                dilation=dilation)
    np.testing.assert_array_equal(unbatched, ref[0])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(30))
def test_col2im_matches_reference(seed, dtype):
    rng = np.random.default_rng(3000 + seed)
    shape, kernel, stride, padding, dilation = random_case(rng)
    n, c, h, w = shape
    rows, length = im2col_ref(np.zeros(shape), kernel, stride, dilation, padding).shape[1:]
    cols = random_array(rng, (n, rows, length), dtype)
    got = convcore.col2im(cols, (h, w), kernel, stride=stride, padding=padding,
                          dilation=dilation)
    ref = col2im_ref(cols, (h, w), kernel, stride, dilation, padding)
    assert got.shape == (n, c, h, w)
    terms = rows // c  # at most R*S entries land on one pixel
    assert_close(got, ref, dtype, terms=terms)
    unbatched = convcore.col2im(cols[0], (h, w), kernel, stride=stride, padding=padding,
                                dilation=dilation)
    assert_close(unbatched, ref[0], dtype, terms=terms)


@pytest.mark.parametrize("seed", range(15))
def test_adjoint_identity(seed):
    rng = np.random.default_rng(4000 + seed)
    shape, kernel, stride, padding, dilation = random_case(rng)
    x = random_array(rng, shape)
    cols_x = convcore.im2col(x, kernel, stride=stride, padding=padding, dilation=dilation)
    c = random_array(rng, cols_x.shape)
    back = convcore.col2im(c, shape[2:], kernel, stride=stride, padding=padding,
                           dilation=dilation)
    lhs, rhs = np.vdot(cols_x, c), np.vdot(x, back)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_known_layout():
    x = np.arange(2 * 3 * 3, dtype=np.float64).reshape(1, 2, 3, 3)
    got = convcore.im2col(x, 2)
    # rows are (c, r, s); columns run over the 2x2 output positions row-major
    expected = np.array([
        [0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8],
        [9, 10, 12, 13], [10, 11, 13, 14], [12, 13, 15, 16], [13, 14, 16, 17],
    ], dtype=np.float64)
    np.testing.assert_array_equal(got[0], expected)
    np.testing.assert_array_equal(
        convcore.col2im(got, (3, 3), 2)[0, 0],
        [[0, 2, 2], [6, 16, 10], [6, 14, 8]])


def test_asymmetric_padding_layout():
    x = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    got = convcore.im2col(x, (1, 2), padding=((1, 0), (0, 1)))
    np.testing.assert_array_equal(got, [[0, 0, 1, 2, 3, 4], [0, 0, 2, 0, 4, 0]])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_roundtrip_without_overlap(dtype, rng):
    x = random_array(rng, (2, 3, 6, 8), dtype)
    cols = convcore.im2col(x, (2, 4), stride=(2, 4))
    np.testing.assert_array_equal(convcore.col2im(cols, (6, 8), (2, 4), stride=(2, 4)), x)


def test_roundtrip_counts_overlaps(rng):
    x = random_array(rng, (1, 2, 7, 6))
    kwargs = dict(kernel_size=3, stride=1, padding=1, dilation=1)
    counts = convcore.col2im(convcore.im2col(np.ones_like(x), **kwargs), (7, 6), **kwargs)
    assert counts[0, 0, 0, 0] == 4 and counts[0, 0, 3, 3] == 9
    back = convcore.col2im(convcore.im2col(x, **kwargs), (7, 6), **kwargs)
    assert_close(back, x * counts, np.float64)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(10))
def test_matmul_of_columns_is_convolution(seed, dtype):
    rng = np.random.default_rng(5000 + seed)
    shape, kernel, stride, padding, dilation = random_case(rng)
    x = random_array(rng, shape, dtype)
    weight = random_array(rng, (5, shape[1], *kernel), dtype)
    cols = convcore.im2col(x, kernel, stride=stride, padding=padding, dilation=dilation)
    conv = convcore.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
    via_cols = np.einsum("kq,nql->nkl", weight.reshape(5, -1).astype(np.float64), cols)
    assert_close(conv.reshape(via_cols.shape), via_cols, dtype, terms=weight[0].size)


@pytest.mark.parametrize("layout", ["F", "strided", "reversed"])
def test_noncontiguous_inputs_unchanged(layout, rng):
    x = random_array(rng, (2, 3, 7, 5), layout=layout)
    before = x.copy()
    got = convcore.im2col(x, (3, 2), stride=(2, 1), padding=((1, 0), (0, 1)))
    np.testing.assert_array_equal(got, im2col_ref(before, (3, 2), (2, 1), 1, ((1, 0), (0, 1))))
    np.testing.assert_array_equal(x, before)
    cols = random_array(rng, got.shape, layout=layout)
    cols_before = cols.copy()
    back = convcore.col2im(cols, (7, 5), (3, 2), stride=(2, 1), padding=((1, 0), (0, 1)))
    assert_close(back, col2im_ref(cols_before, (7, 5), (3, 2), (2, 1), 1, ((1, 0), (0, 1))),
                 np.float64)
    np.testing.assert_array_equal(cols, cols_before)


def test_nan_is_copied_to_every_patch_containing_it():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = np.nan
    got = convcore.im2col(x, 2)
    ref = im2col_ref(x, 2)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.isnan(got).sum() == 4


def test_conv2d_padding_same_matches_im2col_with_pads(rng):
    x = random_array(rng, (1, 2, 5, 6))
    weight = random_array(rng, (3, 2, 4, 4))
    got = convcore.conv2d(x, weight, padding="same")
    ref = conv2d_ref(x, weight, None, 1, ((1, 2), (1, 2)))
    assert_close(got, ref, np.float64)
