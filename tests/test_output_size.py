"""conv_output_size against hand-worked examples and the reference formula."""

import itertools

import numpy as np
import pytest
from conftest import random_array
from reference import output_size_ref

import convcore


def test_lecture_examples():
    assert convcore.conv_output_size(1, 5, padding=2) == 1
    assert convcore.conv_output_size((1, 1), 5, padding=2) == (1, 1)
    assert convcore.conv_output_size((300, 400), 5, padding=2) == (300, 400)
    assert convcore.conv_output_size((300, 400), 2, stride=2) == (150, 200)
    assert convcore.conv_output_size(227, 11, stride=4) == 55


def test_return_types():
    got = convcore.conv_output_size(10, 3)
    assert isinstance(got, int) and got == 8
    got = convcore.conv_output_size((10, 12, 7), 3)
    assert isinstance(got, tuple) and got == (8, 10, 5)
    assert all(isinstance(v, int) for v in got)
    assert convcore.conv_output_size((9,), 2, stride=(2,)) == (4,)


def test_floor_formula_exhaustive():
    for n, k, s, p, d in itertools.product(range(1, 9), range(1, 5), range(1, 4),
                                           range(0, 3), range(1, 3)):
        expected = output_size_ref(n, k, s, 2 * p, d)
        if expected < 1:
            continue
        got = convcore.conv_output_size(n, k, stride=s, padding=p, dilation=d)
        assert got == expected, (n, k, s, p, d)


def test_ceil_mode_exhaustive():
    for n, k, s, p, d in itertools.product(range(1, 9), range(1, 5), range(1, 4),
                                           range(0, 3), range(1, 3)):
        expected = output_size_ref(n, k, s, 2 * p, d, ceil_mode=True, p_before=p)
        if expected < 1 or output_size_ref(n, k, s, 2 * p, d) < 1:
            continue
        got = convcore.conv_output_size(n, k, stride=s, padding=p, dilation=d,
                                        ceil_mode=True)
        assert got == expected, (n, k, s, p, d)


def test_ceil_mode_examples():
    assert convcore.conv_output_size(5, 2, stride=2) == 2
    assert convcore.conv_output_size(5, 2, stride=2, ceil_mode=True) == 3
    assert convcore.conv_output_size(6, 2, stride=2, ceil_mode=True) == 3
    # the extra window would start inside the right padding, so it is dropped
    assert convcore.conv_output_size(5, 2, stride=2, padding=1) == 3
    assert convcore.conv_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert convcore.conv_output_size(6, 3, stride=2, padding=1, ceil_mode=True) == 4
    assert convcore.conv_output_size(6, 3, stride=3, padding=1, ceil_mode=True) == 3


def test_ceil_mode_window_may_overhang_the_input():
    # Pooling with ceil_mode keeps a window that starts inside the input even if it
    # runs past the end (PyTorch max_pool1d gives 1 for each of these).
    assert convcore.conv_output_size(1, 2, stride=2, ceil_mode=True) == 1
    assert convcore.conv_output_size(1, 3, stride=3, ceil_mode=True) == 1
    assert convcore.conv_output_size(2, 2, stride=2, dilation=2, ceil_mode=True) == 1
    assert convcore.conv_output_size(1, 4, stride=2, padding=1, ceil_mode=True) == 1


def test_tuple_arguments_per_dimension():
    got = convcore.conv_output_size((20, 31), (3, 5), stride=(2, 3), padding=(1, 0),
                                    dilation=(1, 2))
    assert got == (output_size_ref(20, 3, 2, 2, 1), output_size_ref(31, 5, 3, 0, 2))


def test_asymmetric_padding_pairs():
    got = convcore.conv_output_size((10, 10), 3, stride=2, padding=((1, 0), (2, 3)))
    assert got == (output_size_ref(10, 3, 2, 1, 1), output_size_ref(10, 3, 2, 5, 1))
    got = convcore.conv_output_size((10, 10), 3, stride=2, padding=((0, 1), (1, 0)),
                                    ceil_mode=True)
    assert got == (output_size_ref(10, 3, 2, 1, 1, True, 0),
                   output_size_ref(10, 3, 2, 1, 1, True, 1))


@pytest.mark.parametrize("seed", range(10))
def test_agrees_with_conv2d_shape(seed):
    rng = np.random.default_rng(6000 + seed)
    h, w = (int(v) for v in rng.integers(3, 20, 2))
    kernel = tuple(int(v) for v in rng.integers(1, 4, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding = ((int(rng.integers(3)), int(rng.integers(3))),
               (int(rng.integers(3)), int(rng.integers(3))))
    expected = convcore.conv_output_size((h, w), kernel, stride=stride, padding=padding,
                                         dilation=dilation)
    got = convcore.conv2d(random_array(rng, (1, 1, h, w)), random_array(rng, (1, 1, *kernel)),
                          stride=stride, padding=padding, dilation=dilation)
    assert got.shape[2:] == expected


@pytest.mark.parametrize("args", [
    dict(size=2, kernel_size=5),
    dict(size=(10, 2), kernel_size=(3, 5)),
    dict(size=4, kernel_size=3, dilation=2),
    dict(size=1, kernel_size=2, stride=2),
])
def test_empty_output_raises(args):
    with pytest.raises(ValueError, match="5|3|2"):
        convcore.conv_output_size(**args)


def test_error_message_names_the_numbers():
    with pytest.raises(ValueError) as info:
        convcore.conv_output_size(6, 9)
    assert "6" in str(info.value) and "9" in str(info.value)


def test_transposed_output_size_matches_the_functions_and_inverts_the_forward_rule():
    from transpose_reference import transpose_output_size_ref

    rng = np.random.default_rng(14)
    for _ in range(300):
        n, k, s, d = (int(v) for v in rng.integers(1, 6, 4))
        p = int(rng.integers(0, 4))
        op = int(rng.integers(0, max(s, d)))
        expected = transpose_output_size_ref(n, k, s, p, p, d, op)
        if expected < 1:
            with pytest.raises(ValueError, match="crops the whole"):
                convcore.conv_output_size(n, k, s, p, d, transposed=True, output_padding=op)
            continue
        got = convcore.conv_output_size(n, k, s, p, d, transposed=True, output_padding=op)
        assert got == expected
        y = convcore.conv_transpose1d(np.ones((1, 1, n)), np.ones((1, 1, k)), stride=s,
                                      padding=p, output_padding=op, dilation=d)
        assert y.shape[-1] == got
        if op < s and got + 2 * p >= d * (k - 1) + 1:  # the forward rule maps it back
            assert convcore.conv_output_size(got, k, s, p, d) == n


def test_transposed_and_3d_output_sizes_by_hand():
    assert convcore.conv_output_size((4, 32, 32), 4, 2, 1, transposed=True) == (8, 64, 64)
    assert convcore.conv_output_size((7, 7), 3, 2, 1, transposed=True, output_padding=1) == (14, 14)
    size = convcore.conv_output_size((16, 112, 112), (3, 7, 7), (1, 2, 2), (1, 3, 3))
    assert size == (16, 56, 56)
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        convcore.conv_output_size(7, 3, 2, transposed=True, output_padding=2)
    with pytest.raises(ValueError, match="pass transposed=True"):
        convcore.conv_output_size(7, 3, 2, output_padding=1)
    with pytest.raises(ValueError, match="ceil_mode"):
        convcore.conv_output_size(7, 3, 2, ceil_mode=True, transposed=True)


def test_transposed_output_size_against_torch():
    torch = pytest.importorskip("torch")
    layer = torch.nn.ConvTranspose3d(1, 1, (3, 4, 2), stride=(2, 3, 1), padding=(1, 0, 1),
                                     output_padding=(1, 2, 0), dilation=(1, 1, 2))
    y = layer(torch.zeros((1, 1, 5, 6, 7)))
    assert convcore.conv_output_size((5, 6, 7), (3, 4, 2), (2, 3, 1), (1, 0, 1), (1, 1, 2),
                            transposed=True, output_padding=(1, 2, 0)) == tuple(y.shape[2:])
