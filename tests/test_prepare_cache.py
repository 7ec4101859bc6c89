"""The cache of validated calls never lets an invalid call through."""

import numpy as np
import pytest

import convcore
from convcore import _geometry as functional


def test_cached_calls_are_validated_like_new_ones():
    x = np.ones((1, 2, 6, 6), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    b = np.zeros(3, np.float32)
    first = convcore.conv2d(x, w, b, stride=1, padding=1)
    key = functional.prepare_key(2, x, w, b, 1, 1, 1, 1)
    assert key in functional._PREPARED  # the call above was cached
    np.testing.assert_array_equal(convcore.conv2d(x, w, b, stride=1, padding=1), first)
    with pytest.raises(TypeError, match="stride"):  # True == 1 and hashes alike
        convcore.conv2d(x, w, b, stride=True, padding=1)
    with pytest.raises(TypeError, match="padding"):
        convcore.conv2d(x, w, b, stride=1, padding=True)
    with pytest.raises(ValueError, match="bias"):
        convcore.conv2d(x, w, np.zeros(4, np.float32), stride=1, padding=1)
    with pytest.raises(ValueError, match="channels"):
        convcore.conv2d(np.ones((1, 3, 6, 6), np.float32), w, b, padding=1)
    with pytest.raises(TypeError, match="dtype"):
        convcore.conv2d(x.astype(bool), w, b, padding=1)
    # unbatched and 1-D calls take the cached geometry with their own views
    np.testing.assert_array_equal(convcore.conv2d(x[0], w, b, padding=1), first[0])
    np.testing.assert_array_equal(convcore.conv2d(x[0], w, b, padding=1), first[0])
    sig = np.arange(10.0)[None]
    for _ in range(2):
        np.testing.assert_array_equal(convcore.conv1d(sig, np.ones((1, 1, 2))),
                                      (sig[:, :-1] + sig[:, 1:]))
    assert functional.prepare_key(2, x.tolist(), w, b, 1, 1, 1, 1) is None
    # tuples of ints are keys (layers pass them); a bool or a list inside never is
    assert functional.prepare_key(2, x, w, b, (1, 1), ((1, 1), (1, 1)), 1, 1) is not None
    assert functional.prepare_key(2, x, w, b, (1, True), 1, 1, 1) is None
    assert functional.prepare_key(2, x, w, b, [1, 1], 1, 1, 1) is None
    assert functional.prepare_key(2, x, w, b, 1, ((1, 1), [1, 1]), 1, 1) is None
    with pytest.raises(TypeError, match="stride"):
        convcore.conv2d(x, w, b, stride=(1, True), padding=1)


def test_the_cache_stays_bounded():
    w = np.ones((1, 1, 1, 1))
    for n in range(1, functional._PREPARED_MAX + 20):
        convcore.conv2d(np.ones((1, 1, 1, n)), w)
    assert len(functional._PREPARED) <= functional._PREPARED_MAX


def test_padding_mode_is_part_of_the_key():
    """A cached zero-padding call never stands for a border-mode one (nor the reverse),
    and a border mode's padding rule is checked on every new key."""
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    w = np.ones((1, 1, 3, 3))
    zeros = convcore.conv2d(x, w, padding=1)
    for _ in range(2):
        reflect = convcore.conv2d(x, w, padding=1, padding_mode="reflect")
        assert reflect[0, 0, 0, 0] != zeros[0, 0, 0, 0]
    assert functional.prepare_key(2, x, w, None, 1, 1, 1, 1, "reflect") in functional._PREPARED
    convcore.conv2d(x, w, padding=6)
    with pytest.raises(ValueError, match="reflect"):
        convcore.conv2d(x, w, padding=6, padding_mode="reflect")
    with pytest.raises(TypeError, match="padding_mode"):
        convcore.conv2d(x, w, padding=1, padding_mode=None)
