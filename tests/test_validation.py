"""Argument validation: exception types and the key word of each message."""

import numpy as np
import pytest

import convcore

X = np.zeros((2, 4, 8, 8))
W = np.zeros((6, 4, 3, 3))
X1 = np.zeros((2, 4, 10))
W1 = np.zeros((6, 4, 3))


def conv2d(**overrides):
    args = dict(x=X, weight=W)
    args.update(overrides)
    return convcore.conv2d(**args)


def conv1d(**overrides):
    args = dict(x=X1, weight=W1)
    args.update(overrides)
    return convcore.conv1d(**args)


@pytest.mark.parametrize("func", [conv2d, conv1d])
@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [True, False, 1.0, 2.5, np.float64(2.0)])
def test_stride_dilation_type_errors(func, name, bad):
    with pytest.raises(TypeError, match=name):
        func(**{name: bad})


@pytest.mark.parametrize("func", [conv2d, conv1d])
@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [0, -1, -3])
def test_stride_dilation_must_be_positive(func, name, bad):
    with pytest.raises(ValueError, match=name):
        func(**{name: bad})


@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [(1, 0), (0, 1), (2, -1)])
def test_stride_dilation_pairs_must_be_positive(name, bad):
    with pytest.raises(ValueError, match=name):
        conv2d(**{name: bad})


@pytest.mark.parametrize("name", ["stride", "dilation"])
def test_stride_dilation_pair_with_bool_is_type_error(name):
    with pytest.raises(TypeError, match=name):
        conv2d(**{name: (1, True)})


@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("bad", [(1, 1, 1), ()])
def test_stride_dilation_wrong_length(name, bad):
    with pytest.raises((TypeError, ValueError), match=name):
        conv2d(**{name: bad})


@pytest.mark.parametrize("name", ["stride", "dilation"])
def test_conv1d_stride_dilation_wrong_length(name):
    with pytest.raises((TypeError, ValueError), match=name):
        conv1d(**{name: (1, 1)})


@pytest.mark.parametrize("bad", [-1, (0, -1), ((0, 0), (-1, 0)), ((1, -2), (0, 0))])
def test_negative_padding_conv2d(bad):
    with pytest.raises(ValueError, match="padding"):
        conv2d(padding=bad)


@pytest.mark.parametrize("bad", [-1, (-1,), (0, -2)])
def test_negative_padding_conv1d(bad):
    with pytest.raises(ValueError, match="padding"):
        conv1d(padding=bad)


@pytest.mark.parametrize("func", [conv2d, conv1d])
def test_unknown_padding_string(func):
    with pytest.raises((TypeError, ValueError), match="padding"):
        func(padding="full")


@pytest.mark.parametrize("func", [conv2d, conv1d])
@pytest.mark.parametrize("bad", ["gemm", "Winograd", "", "DIRECT"])
def test_unknown_algorithm(func, bad):
    with pytest.raises(ValueError, match="algorithm"):
        func(algorithm=bad)


@pytest.mark.parametrize("func", [conv2d, conv1d])
@pytest.mark.parametrize("groups", [0, -1])
def test_groups_must_be_positive(func, groups):
    with pytest.raises(ValueError, match="groups"):
        func(groups=groups)


def test_out_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="groups"):
        convcore.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="groups"):
        convcore.conv1d(np.zeros((1, 4, 5)), np.zeros((3, 2, 3)), groups=2)


def test_in_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="groups"):
        convcore.conv2d(np.zeros((1, 5, 5, 5)), np.zeros((4, 2, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="groups"):
        convcore.conv1d(np.zeros((1, 5, 5)), np.zeros((4, 2, 3)), groups=2)


@pytest.mark.parametrize(("c", "cw", "groups"), [(4, 3, 1), (4, 4, 2), (6, 2, 2), (3, 1, 1)])
def test_channel_mismatch(c, cw, groups):
    with pytest.raises(ValueError, match="channel"):
        convcore.conv2d(np.zeros((1, c, 5, 5)), np.zeros((4, cw, 3, 3)), groups=groups)
    with pytest.raises(ValueError, match="channel"):
        convcore.conv1d(np.zeros((1, c, 5)), np.zeros((4, cw, 3)), groups=groups)


@pytest.mark.parametrize("shape", [(8, 8), (4, 8, 8, 1, 1), (8,), ()])
def test_conv2d_input_ndim(shape):
    with pytest.raises(ValueError, match="dim|shape"):
        convcore.conv2d(np.zeros(shape), W)


@pytest.mark.parametrize("shape", [(6, 4, 3), (6, 4, 3, 3, 1), (3, 3)])
def test_conv2d_weight_ndim(shape):
    with pytest.raises(ValueError, match="weight"):
        convcore.conv2d(X, np.zeros(shape))


@pytest.mark.parametrize("shape", [(10,), (2, 4, 10, 1)])
def test_conv1d_input_ndim(shape):
    with pytest.raises(ValueError, match="dim|shape"):
        convcore.conv1d(np.zeros(shape), W1)


@pytest.mark.parametrize("shape", [(6, 4), (6, 4, 3, 1)])
def test_conv1d_weight_ndim(shape):
    with pytest.raises(ValueError, match="weight"):
        convcore.conv1d(X1, np.zeros(shape))


@pytest.mark.parametrize("shape", [(5,), (7,), (6, 1), (1, 6), ()])
def test_bias_shape(shape):
    with pytest.raises(ValueError, match="bias"):
        conv2d(bias=np.zeros(shape))
    with pytest.raises(ValueError, match="bias"):
        conv1d(bias=np.zeros(shape))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="5") as info:
        convcore.conv2d(np.zeros((1, 1, 4, 9)), np.zeros((1, 1, 5, 3)))
    assert "4" in str(info.value)
    with pytest.raises(ValueError, match="6|7"):
        convcore.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), padding=1, dilation=3)
    with pytest.raises(ValueError, match="5|6"):
        convcore.conv1d(np.zeros((1, 1, 3)), np.zeros((1, 1, 6)), padding=(1, 1))


def test_kernel_fits_thanks_to_padding():
    got = convcore.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 5, 5)), padding=2)
    np.testing.assert_array_equal(got, np.ones((1, 1, 1, 1)))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128, object, "U3", "S3"])
@pytest.mark.parametrize("which", ["x", "weight"])
def test_unsupported_dtypes(dtype, which):
    bad = (X if which == "x" else W).astype(dtype)
    with pytest.raises(TypeError):
        conv2d(**{which: bad})


@pytest.mark.parametrize("dtype", [np.complex128, object])
def test_unsupported_dtypes_conv1d(dtype):
    with pytest.raises(TypeError):
        conv1d(x=X1.astype(dtype))


@pytest.mark.parametrize("func", [conv2d, conv1d])
def test_out_wrong_shape(func):
    expected = func()
    for shape in [expected.shape[:-1] + (expected.shape[-1] + 1,), expected.shape[1:],
                  (expected.size,)]:
        with pytest.raises(ValueError, match="out"):
            func(out=np.zeros(shape))


@pytest.mark.parametrize("func", [conv2d, conv1d])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128])
def test_out_wrong_dtype(func, dtype):
    expected = func()
    with pytest.raises((TypeError, ValueError), match="out"):
        func(out=np.zeros(expected.shape, dtype))


@pytest.mark.parametrize("func", [conv2d, conv1d])
def test_out_not_contiguous(func):
    expected = func()
    shape = expected.shape[:-1] + (2 * expected.shape[-1],)
    with pytest.raises(ValueError, match="out"):
        func(out=np.zeros(shape)[..., ::2])
    with pytest.raises(ValueError, match="out"):
        func(out=np.asfortranarray(np.zeros(expected.shape)))


def test_out_float32_result():
    x, w = X.astype(np.float32), W.astype(np.float32)
    out = np.zeros((2, 6, 6, 6), np.float32)
    assert convcore.conv2d(x, w, out=out) is out
    with pytest.raises((TypeError, ValueError)):
        convcore.conv2d(x, w, out=np.zeros((2, 6, 6, 6)))


def test_failed_call_leaves_out_untouched():
    out = np.full((2, 6, 6, 6), 7.0)
    with pytest.raises(ValueError):
        convcore.conv2d(X, W, algorithm="nope", out=out)
    assert (out == 7.0).all()


def test_im2col_errors():
    with pytest.raises(ValueError):
        convcore.im2col(np.zeros((1, 1, 3, 3)), 4)
    with pytest.raises(ValueError, match="x must have shape"):
        convcore.im2col(np.zeros((3,)), 2)       # (C, L) at least
    with pytest.raises(ValueError, match="x must have shape"):
        convcore.im2col(np.zeros((1, 1, 3, 3)), (2,))   # a 1-D kernel: (N, C, L) or (C, L)
    with pytest.raises(ValueError, match="stride"):
        convcore.im2col(np.zeros((1, 1, 3, 3)), 2, stride=0)
    with pytest.raises(ValueError, match="padding"):
        convcore.im2col(np.zeros((1, 1, 3, 3)), 2, padding=-1)


@pytest.mark.parametrize("shape", [(1, 18, 15), (1, 10, 16), (9, 17), (1, 9, 36)])
def test_col2im_inconsistent_shape(shape):
    # a 3x3 kernel over 6x6 gives L = 16 and C*R*S a multiple of 9
    with pytest.raises(ValueError):
        convcore.col2im(np.zeros(shape), (6, 6), 3)


def test_col2im_consistent_shape_accepted():
    got = convcore.col2im(np.ones((2, 18, 16)), (6, 6), 3)
    assert got.shape == (2, 2, 6, 6)


@pytest.mark.parametrize("bad", [dict(stride=0), dict(dilation=-1), dict(padding=-1),
                                 dict(kernel_size=0)])
def test_conv_output_size_bad_arguments(bad):
    args = dict(size=10, kernel_size=3)
    args.update(bad)
    with pytest.raises(ValueError):
        convcore.conv_output_size(**args)


def test_conv_output_size_length_mismatch():
    with pytest.raises((TypeError, ValueError)):
        convcore.conv_output_size((10, 10), (3, 3, 3))
