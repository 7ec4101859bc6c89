"""Cross-checks against PyTorch's CPU implementation (skipped without torch)."""

import numpy as np
import pytest
from conftest import ALGORITHMS, FLOAT_DTYPES, assert_close, random_array

import convcore

torch = pytest.importorskip("torch")
F = torch.nn.functional


def torch_conv2d(x, w, b, stride, padding, dilation, groups):
    """torch conv2d with ((top, bottom), (left, right)) padding applied up front."""
    (pt, pb), (pl, pr) = padding
    xt = F.pad(torch.from_numpy(np.ascontiguousarray(x)), (pl, pr, pt, pb))
    bt = None if b is None else torch.from_numpy(b)
    return F.conv2d(xt, torch.from_numpy(w), bt, stride, 0, dilation, groups).numpy()


def random_conv2d(rng):
    """Random conv2d shapes and arguments with asymmetric explicit padding."""
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, kg = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    kernel = tuple(int(v) for v in rng.integers(1, 6, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 4, 2))
    padding = tuple(tuple(int(v) for v in rng.integers(0, 3, 2)) for _ in range(2))
    hw = tuple(max(1, d * (k - 1) + 1 - sum(p)) + int(rng.integers(0, 12))
               for k, d, p in zip(kernel, dilation, padding, strict=True))
    n = int(rng.integers(1, 4))
    return (n, cg * groups, *hw), (kg * groups, cg, *kernel), stride, padding, dilation, groups


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", range(20))
def test_conv2d_matches_torch(seed, algorithm, dtype):
    rng = np.random.default_rng(7000 + seed)
    xs, ws, stride, padding, dilation, groups = random_conv2d(rng)
    x, w, b = (random_array(rng, s, dtype) for s in (xs, ws, ws[:1]))
    got = convcore.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                          groups=groups, algorithm=algorithm)
    expected = torch_conv2d(x, w, b, stride, padding, dilation, groups)
    assert got.dtype == expected.dtype
    terms = int(np.prod(ws[1:]))
    # float32 torch also rounds, so allow twice the usual margin
    assert_close(got, expected, dtype, terms=4 * terms)


def random_wide_conv2d(rng):
    """Shapes that reach the many-channel register tiles: up to 20 output channels per
    group, widths up to 80 (full vectors, edge tiles and tails), 1x1/3x3/5x5 kernels."""
    groups = int(rng.choice([1, 1, 1, 2, 4]))
    cg, kg = int(rng.integers(1, 9)), int(rng.integers(1, 21))
    r = s = int(rng.choice([1, 3, 3, 5]))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 4)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = tuple(tuple(int(v) for v in rng.integers(0, r // 2 + 2, 2)) for _ in range(2))
    h = max(1, dilation[0] * (r - 1) + 1 - sum(padding[0])) + int(rng.integers(0, 10))
    w = max(1, dilation[1] * (s - 1) + 1 - sum(padding[1])) + int(rng.integers(0, 80))
    n = int(rng.integers(1, 3))
    return (n, cg * groups, h, w), (kg * groups, cg, r, s), stride, padding, dilation, groups


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(100))
def test_conv2d_many_channels_matches_torch(seed, dtype):
    """Both algorithms on 100 random many-channel, wide configurations per dtype."""
    rng = np.random.default_rng(9000 + seed)
    xs, ws, stride, padding, dilation, groups = random_wide_conv2d(rng)
    x, w, b = (random_array(rng, s, dtype) for s in (xs, ws, ws[:1]))
    expected = torch_conv2d(x, w, b, stride, padding, dilation, groups)
    terms = int(np.prod(ws[1:]))
    for algorithm in ("direct", "im2col"):
        got = convcore.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                              groups=groups, algorithm=algorithm)
        assert_close(got, expected, dtype, terms=4 * terms)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", range(15))
def test_conv1d_matches_torch(seed, algorithm, dtype):
    rng = np.random.default_rng(8000 + seed)
    groups = int(rng.choice([1, 2, 3]))
    c, k = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kernel, stride, dilation = (int(v) for v in rng.integers(1, 4, 3))
    left, right = (int(v) for v in rng.integers(0, 4, 2))
    length = max(1, dilation * (kernel - 1) + 1 - left - right) + int(rng.integers(0, 40))
    x = random_array(rng, (2, c, length), dtype)
    w = random_array(rng, (k, c // groups, kernel), dtype)
    b = random_array(rng, (k,), dtype)
    got = convcore.conv1d(x, w, b, stride=stride, padding=(left, right), dilation=dilation,
                          groups=groups, algorithm=algorithm)
    xt = F.pad(torch.from_numpy(x), (left, right))
    expected = F.conv1d(xt, torch.from_numpy(w), torch.from_numpy(b), stride, 0, dilation,
                        groups).numpy()
    assert_close(got, expected, dtype, terms=4 * w[0].size)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kernel", [(1, 1), (2, 2), (3, 3), (4, 1), (2, 5)])
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_same_padding_matches_torch(kernel, dilation, algorithm, rng):
    x = random_array(rng, (2, 3, 7, 10))
    w = random_array(rng, (4, 3, *kernel))
    got = convcore.conv2d(x, w, padding="same", dilation=dilation, algorithm=algorithm)
    expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding="same",
                        dilation=dilation).numpy()
    assert_close(got, expected, np.float64)
    got1 = convcore.conv1d(x[:, :, 0], w[:, :, 0], padding="same", dilation=dilation,
                           algorithm=algorithm)
    expected1 = F.conv1d(torch.from_numpy(x[:, :, 0].copy()),
                         torch.from_numpy(w[:, :, 0].copy()), padding="same",
                         dilation=dilation).numpy()
    assert_close(got1, expected1, np.float64)


@pytest.mark.parametrize("seed", range(15))
def test_unfold_fold_match_torch(seed):
    rng = np.random.default_rng(9000 + seed)
    kernel = tuple(int(v) for v in rng.integers(1, 4, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding = tuple(int(v) for v in rng.integers(0, 3, 2))
    hw = tuple(max(1, d * (k - 1) + 1 - 2 * p) + int(rng.integers(0, 8))
               for k, d, p in zip(kernel, dilation, padding, strict=True))
    x = random_array(rng, (2, 3, *hw))
    got = convcore.im2col(x, kernel, stride=stride, padding=padding, dilation=dilation)
    expected = F.unfold(torch.from_numpy(x), kernel, dilation, padding, stride).numpy()
    np.testing.assert_array_equal(got, expected)
    cols = random_array(rng, expected.shape)
    got = convcore.col2im(cols, hw, kernel, stride=stride, padding=padding, dilation=dilation)
    expected = F.fold(torch.from_numpy(cols), hw, kernel, dilation, padding, stride).numpy()
    assert_close(got, expected, np.float64)


def test_output_size_matches_torch_pooling():
    for ceil_mode in (False, True):
        for n in range(1, 13):
            for k in range(1, 5):
                for s in range(1, 4):
                    for d in (1, 2):
                        for p in range(0, k // 2 + 1):
                            if n + 2 * p < d * (k - 1) + 1:
                                continue  # window overhangs: see test_output_size.py
                            try:
                                pooled = F.max_pool1d(torch.zeros(1, 1, n), k, s, p, d,
                                                      ceil_mode=ceil_mode)
                            except RuntimeError:
                                continue
                            got = convcore.conv_output_size(n, k, stride=s, padding=p,
                                                            dilation=d, ceil_mode=ceil_mode)
                            assert got == pooled.shape[-1], (n, k, s, p, d, ceil_mode)


def test_nan_and_inf_match_torch(rng):
    x = random_array(rng, (1, 2, 9, 9))
    x[0, 0, 4, 4] = np.nan
    x[0, 1, 1, 7] = np.inf
    w = random_array(rng, (3, 2, 3, 3))
    w[2, 0, 0, 0] = -np.inf
    for algorithm in ALGORITHMS:
        got = convcore.conv2d(x, w, padding=1, algorithm=algorithm)
        expected = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
        assert_close(got, expected, np.float64)
