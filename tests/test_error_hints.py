"""Near-miss strings get "did you mean", and a channel mismatch that a channels-last
array explains says so."""

import numpy as np
import pytest

import convcore
from convcore._checks import did_you_mean

X = np.zeros((1, 3, 8, 8), np.float32)
W = np.zeros((4, 3, 3, 3), np.float32)


@pytest.mark.parametrize("call, hint", [
    (lambda: convcore.conv2d(X, W, padding="SAME"), "did you mean 'same'?"),
    (lambda: convcore.conv2d(X, W, padding="vaild"), "did you mean 'valid'?"),
    (lambda: convcore.conv2d(X, W, algorithm="IM2COL"), "did you mean 'im2col'?"),
    (lambda: convcore.conv2d(X, W, algorithm="drect"), "did you mean 'direct'?"),
    (lambda: convcore.conv2d_backward(np.zeros((1, 4, 6, 6), np.float32), X, W,
                                      algorithm="Direct"), "did you mean 'direct'?"),
    (lambda: convcore.conv2d(X, W, layout="nhwc"), "did you mean 'NHWC'?"),
    (lambda: convcore.max_pool2d(X, 2, layout="NCWH"), "did you mean 'NCHW'?"),
    (lambda: convcore.conv_matrix((3, 8, 8), W, format="Dense"), "did you mean 'dense'?"),
])
def test_near_misses_get_a_hint(call, hint):
    with pytest.raises(ValueError, match=hint):
        call()


def test_far_misses_get_no_hint():
    with pytest.raises(ValueError) as exc:
        convcore.conv2d(X, W, padding="zeros")
    assert "did you mean" not in str(exc.value)


def test_did_you_mean():
    assert did_you_mean("same", ("valid", "same")) == ""  # no hint for the right value
    assert did_you_mean(" Same ", ("valid", "same")) == "; did you mean 'same'?"
    assert did_you_mean(None, ("valid", "same")) == ""


def test_channels_last_array_is_named_in_a_channel_mismatch():
    nhwc = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(ValueError, match=r"weight has 3 input channels per group but input "
                       r"has 8 channels .*would match as channels-last .* layout='NHWC'"):
        convcore.conv2d(nhwc, W)
    assert convcore.conv2d(nhwc, W, layout="NHWC").shape == (2, 6, 6, 4)


def test_channel_mismatch_without_the_channels_last_explanation():
    with pytest.raises(ValueError) as exc:
        convcore.conv2d(np.zeros((2, 5, 8, 8), np.float32), W)
    assert "channels-last" not in str(exc.value)
