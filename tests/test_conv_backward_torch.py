"""conv2d_backward and conv1d_backward cross-checked with PyTorch autograd
(skipped without torch)."""

import numpy as np
import pytest
from conftest import ALGORITHMS, FLOAT_DTYPES, assert_close, random_array

import convcore

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
F = torch.nn.functional


def torch_grads(conv, grad_output, x, w, stride, pads, dilation, groups, same=False):
    """(x.grad, w.grad, b.grad) of torch's conv with explicit ``pads`` applied by F.pad
    (flattened as F.pad wants them: last axis first), or padding='same'."""
    xt, wt = (torch.tensor(np.ascontiguousarray(a), requires_grad=True) for a in (x, w))
    bt = torch.zeros(w.shape[0], dtype=wt.dtype, requires_grad=True)
    if same:
        y = conv(xt, wt, bt, stride, "same", dilation, groups)
    else:
        y = conv(F.pad(xt, pads), wt, bt, stride, 0, dilation, groups)
    y.backward(torch.from_numpy(np.ascontiguousarray(grad_output)))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def random_conv2d(rng):
    """Random shapes and arguments with asymmetric explicit padding."""
    groups = int(rng.choice([1, 1, 2, 3]))
    cg, kg = int(rng.integers(1, 5)), int(rng.integers(1, 7))
    kernel = tuple(int(v) for v in rng.integers(1, 6, 2))
    stride = tuple(int(v) for v in rng.integers(1, 4, 2))
    dilation = tuple(int(v) for v in rng.integers(1, 4, 2))
    padding = tuple(tuple(int(v) for v in rng.integers(0, 4, 2)) for _ in range(2))
    hw = tuple(max(1, d * (k - 1) + 1 - sum(p)) + int(rng.integers(0, 14))
               for k, d, p in zip(kernel, dilation, padding, strict=True))
    return (int(rng.integers(1, 4)), cg * groups, *hw), (kg * groups, cg, *kernel), \
        stride, padding, dilation, groups


def compare(got, expected, dtype, terms):
    for g, e, t in zip(got, expected, terms, strict=True):
        assert g.dtype == e.dtype == dtype
        # float32 torch also rounds, so allow a wider margin
        assert_close(g, e, dtype, terms=4 * t)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(25))
def test_conv2d_backward_matches_torch(seed, dtype):
    rng = np.random.default_rng(8000 + seed)
    xs, ws, stride, padding, dilation, groups = random_conv2d(rng)
    x, w = random_array(rng, xs, dtype), random_array(rng, ws, dtype)
    out = convcore.conv2d(x, w, None, stride, padding, dilation, groups)
    go = random_array(rng, out.shape, dtype)
    (pt, pb), (pl, pr) = padding
    expected = torch_grads(F.conv2d, go, x, w, stride, (pl, pr, pt, pb), dilation, groups)
    terms = (int(np.prod(ws)) // xs[1], go[:, 0].size, go[:, 0].size)
    for algorithm in ALGORITHMS:
        got = convcore.conv2d_backward(go, x, w, stride, padding, dilation, groups,
                                       algorithm=algorithm)
        compare(got, expected, dtype, terms)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(10))
def test_conv2d_backward_same_matches_torch(seed, dtype):
    """'same' at stride 1 (the only stride torch accepts it with), odd and even kernels."""
    rng = np.random.default_rng(8100 + seed)
    xs, ws, _, _, dilation, groups = random_conv2d(rng)
    x, w = random_array(rng, xs, dtype), random_array(rng, ws, dtype)
    go = random_array(rng, (xs[0], ws[0], *xs[2:]), dtype)
    expected = torch_grads(F.conv2d, go, x, w, 1, None, dilation, groups, same=True)
    terms = (int(np.prod(ws)) // xs[1], go[:, 0].size, go[:, 0].size)
    for algorithm in ALGORITHMS:
        got = convcore.conv2d_backward(go, x, w, 1, "same", dilation, groups,
                                       algorithm=algorithm)
        compare(got, expected, dtype, terms)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("seed", range(10))
def test_conv1d_backward_matches_torch(seed, dtype):
    rng = np.random.default_rng(8200 + seed)
    xs, ws, stride, padding, dilation, groups = random_conv2d(rng)
    xs, ws = (xs[0], xs[1], xs[3]), (ws[0], ws[1], ws[3])
    x, w = random_array(rng, xs, dtype), random_array(rng, ws, dtype)
    same = seed % 3 == 0
    pad = "same" if same else padding[1]
    out = convcore.conv1d(x, w, None, 1 if same else stride[1], pad, dilation[1], groups)
    go = random_array(rng, out.shape, dtype)
    expected = torch_grads(F.conv1d, go, x, w, 1 if same else stride[1], padding[1],
                           dilation[1], groups, same=same)
    terms = (ws[0] // groups * ws[2], go[:, 0].size, go[:, 0].size)
    for algorithm in ALGORITHMS:
        got = convcore.conv1d_backward(go, x, w, 1 if same else stride[1], pad, dilation[1],
                                       groups, algorithm=algorithm)
        compare(got, expected, dtype, terms)
