"""im2col / col2im (1, 2 and 3 spatial dimensions) compared with the references and with
each other."""

import numpy as np
import pytest
from conftest import FLOAT_DTYPES, assert_close, random_array
from reference import (
    col2im_nd_ref,
    col2im_ref,
    conv1d_ref,
    conv2d_ref,
    conv3d_ref,
    im2col_nd_ref,
    im2col_ref,
    pad_pairs,
    same_pad_ref,
)

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


# ---- 1-D, 2-D and 3-D


def random_nd_case(rng, nd):
    """Random (x shape, kernel, stride, padding argument, (before, after) pads, dilation)
    over nd spatial dimensions with a non-empty output."""
    kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
    stride = tuple(int(v) for v in rng.integers(1, 4, nd))
    dilation = tuple(int(v) for v in rng.choice([1, 1, 2], nd))
    kind = int(rng.integers(4))
    if kind == 0:
        padding = int(rng.integers(0, 3))
        pads = ((padding, padding),) * nd
    elif kind == 1:
        pads = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (nd, 2)))
        padding = pads
    elif kind == 2:
        padding = tuple(int(v) for v in rng.integers(0, 3, nd))
        pads = tuple((p, p) for p in padding)
    else:
        padding = None  # 'same', resolved below
    sizes = tuple(max(1, d * (k - 1) + 1) + int(rng.integers(0, 5))
                  for k, d in zip(kernel, dilation, strict=True))
    if padding is None:
        padding = "same"
        pads = tuple(same_pad_ref(n, k, s, d)
                     for n, k, s, d in zip(sizes, kernel, stride, dilation, strict=True))
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *sizes)
    return shape, kernel, stride, padding, pads, dilation


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_nd_im2col_matches_reference(nd, seed, dtype):
    rng = np.random.default_rng(9000 + 100 * nd + seed)
    shape, kernel, stride, padding, pads, dilation = random_nd_case(rng, nd)
    x = random_array(rng, shape, dtype, ["C", "F", "strided", "reversed"][seed % 4])
    x0 = x.copy()
    got = convcore.im2col(x, kernel, dilation, padding, stride)
    ref = im2col_nd_ref(x, kernel, stride, dilation, pads)
    assert got.dtype == dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)  # a pure copy: exact
    np.testing.assert_array_equal(convcore.im2col(x[0], kernel, dilation, padding, stride),
                                  ref[0])
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_nd_col2im_matches_reference(nd, seed, dtype):
    rng = np.random.default_rng(9500 + 100 * nd + seed)
    shape, kernel, stride, padding, pads, dilation = random_nd_case(rng, nd)
    rows, length = im2col_nd_ref(np.zeros(shape), kernel, stride, dilation, pads).shape[1:]
    cols = random_array(rng, (shape[0], rows, length), dtype, "strided" if seed % 2 else "C")
    got = convcore.col2im(cols, shape[2:], kernel, dilation, padding, stride)
    ref = col2im_nd_ref(cols, shape[2:], kernel, stride, dilation, pads)
    assert got.dtype == dtype and got.shape == shape
    assert_close(got, ref, dtype, terms=int(np.prod(kernel)))
    unbatched = convcore.col2im(cols[0], shape[2:], kernel, dilation, padding, stride)
    np.testing.assert_array_equal(unbatched, got[0])


@pytest.mark.parametrize("nd", [1, 3])
def test_nd_adjoint_identity(nd, rng):
    shape, kernel, stride, padding, pads, dilation = random_nd_case(rng, nd)
    x = rng.standard_normal(shape)
    cols = convcore.im2col(x, kernel, dilation, padding, stride)
    c = rng.standard_normal(cols.shape)
    back = convcore.col2im(c, shape[2:], kernel, dilation, padding, stride)
    assert np.isclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nd", [1, 3])
def test_nd_columns_times_weights_is_the_convolution(nd, rng):
    shape, kernel, stride, padding, pads, dilation = random_nd_case(rng, nd)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((4, shape[1], *kernel))
    cols = convcore.im2col(x, kernel, dilation, padding, stride)
    got = np.einsum("kr,nrl->nkl", w.reshape(4, -1), cols)
    if nd == 1:
        ref = conv1d_ref(x, w, None, stride[0], pads[0], dilation[0])
    else:
        ref = conv3d_ref(x, w, None, stride, pads, dilation)
    np.testing.assert_allclose(got, ref.reshape(got.shape), rtol=1e-12, atol=1e-12)


def test_nd_nan_and_inf_are_copied(rng):
    x = np.zeros((1, 1, 3, 3, 3))
    x[0, 0, 1, 1, 1], x[0, 0, 0, 0, 0] = np.nan, -np.inf
    cols = convcore.im2col(x, (2, 2, 2))
    assert np.isnan(cols).sum() == 8       # the centre is in all 8 windows
    assert np.isneginf(cols).sum() == 1    # the corner in one
    back = convcore.col2im(cols, (3, 3, 3), (2, 2, 2))
    assert np.isnan(back[0, 0, 1, 1, 1]) and np.isneginf(back[0, 0, 0, 0, 0])


def test_nd_matches_torch_unfold_and_conv(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 9, 10))
    got = convcore.im2col(x, (2, 3), (2, 1), ((1, 1), (2, 2)), (1, 2))
    ref = torch.nn.functional.unfold(torch.from_numpy(x), (2, 3), (2, 1), (1, 2), (1, 2))
    np.testing.assert_array_equal(got, ref.numpy())
    # 3-D and 1-D: unfold stops at 2-D, so against its convolutions
    for shape, conv in (((2, 3, 5, 6, 7), torch.nn.functional.conv3d),
                        ((2, 3, 11), torch.nn.functional.conv1d)):
        nd = len(shape) - 2
        x = rng.standard_normal(shape)
        w = rng.standard_normal((5, 3, *(2,) * nd))
        cols = convcore.im2col(x, (2,) * nd, 1, 1, 2)
        got = np.einsum("kr,nrl->nkl", w.reshape(5, -1), cols)
        ref = conv(torch.from_numpy(x), torch.from_numpy(w), None, 2, 1).numpy()
        np.testing.assert_allclose(got, ref.reshape(got.shape), rtol=1e-12, atol=1e-12)


def test_nd_number_of_dimensions_rules():
    # the kernel size's length decides; for an int, x's number of dimensions
    assert convcore.im2col(np.zeros((3, 8)), 2).shape == (6, 7)                # (C, L)
    assert convcore.im2col(np.zeros((2, 3, 8)), (2,)).shape == (2, 6, 7)       # (N, C, L)
    assert convcore.im2col(np.zeros((2, 3, 8)), 2).shape == (8, 14)            # (C, H, W)
    assert convcore.im2col(np.zeros((3, 4, 5, 6)), (2, 2, 2)).shape == (24, 60)  # (C, D, H, W)
    assert convcore.im2col(np.zeros((1, 3, 4, 5, 6)), 2).shape == (1, 24, 60)
    assert convcore.col2im(np.zeros((8, 60)), (4, 5, 6), 2).shape == (1, 4, 5, 6)
    assert convcore.col2im(np.zeros((2, 7)), 8, (2,)).shape == (1, 8)
