"""Every function that shares a name with torch.nn.functional takes PyTorch's positional
arguments in PyTorch's order: the same positional call gives the same result."""

import numpy as np
import pytest

import convcore

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 11, 12))
X1 = RNG.standard_normal((2, 3, 17))
W1 = RNG.standard_normal((4, 3, 3))
WG = RNG.standard_normal((6, 1, 3, 3))  # 6 filters, 1 channel per group

# (name, convcore call, torch call): positional arguments only, every one a different value
# from its neighbours', so that swapping two of them changes the result.
CASES = [
    ("im2col", lambda: convcore.im2col(X, 3, 2, 1, 3),
     lambda t: F.unfold(t(X), 3, 2, 1, 3)),
    ("im2col-pairs", lambda: convcore.im2col(X, (3, 2), (1, 2), (2, 0), (2, 1)),
     lambda t: F.unfold(t(X), (3, 2), (1, 2), (2, 0), (2, 1))),
    ("col2im", lambda: convcore.col2im(np.arange(2 * 27 * 12.0).reshape(2, 27, 12), (11, 12),
                                       3, 2, 1, 3),
     lambda t: F.fold(t(np.arange(2 * 27 * 12.0).reshape(2, 27, 12)), (11, 12), 3, 2, 1, 3)),
    ("conv2d", lambda: convcore.conv2d(X, X[:2, :, :3, :3], X[0, 0, 0, :2], 2, 1, 2, 1),
     lambda t: F.conv2d(t(X), t(X[:2, :, :3, :3]), t(X[0, 0, 0, :2]), 2, 1, 2, 1)),
    ("conv2d-groups", lambda: convcore.conv2d(X, WG, None, 1, 2, 1, 3),
     lambda t: F.conv2d(t(X), t(WG), None, 1, 2, 1, 3)),
    ("conv1d", lambda: convcore.conv1d(X1, W1, X1[0, 0, :4], 2, 1, 3, 1),
     lambda t: F.conv1d(t(X1), t(W1), t(X1[0, 0, :4]), 2, 1, 3, 1)),
    ("max_pool2d", lambda: convcore.max_pool2d(X, 3, 2, 1, 2, True, True),
     lambda t: F.max_pool2d(t(X), 3, 2, 1, 2, True, True)),
    ("max_pool1d", lambda: convcore.max_pool1d(X1, 3, 2, 1, 2, True, True),
     lambda t: F.max_pool1d(t(X1), 3, 2, 1, 2, True, True)),
    ("avg_pool2d", lambda: convcore.avg_pool2d(X, 3, 2, 1, True, False, 5),
     lambda t: F.avg_pool2d(t(X), 3, 2, 1, True, False, 5)),
    ("avg_pool1d", lambda: convcore.avg_pool1d(X1, 3, 2, 1, True, False),
     lambda t: F.avg_pool1d(t(X1), 3, 2, 1, True, False)),
    ("adaptive_avg_pool2d", lambda: convcore.adaptive_avg_pool2d(X, (4, 5)),
     lambda t: F.adaptive_avg_pool2d(t(X), (4, 5))),
    ("adaptive_max_pool2d", lambda: convcore.adaptive_max_pool2d(X, (4, 5), True),
     lambda t: F.adaptive_max_pool2d(t(X), (4, 5), True)),
    ("relu", lambda: convcore.relu(X), lambda t: F.relu(t(X))),
]


def _tensor(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize("name, ours, theirs", CASES, ids=[c[0] for c in CASES])
def test_positional_arguments_match_torch(name, ours, theirs):
    got = ours()
    want = theirs(_tensor)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        w = w.numpy()
        assert g.shape == w.shape
        if w.dtype.kind == "i":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


def test_im2col_documents_unfold_order():
    """The example of the issue: im2col(x, 3, 2, 1, 1) is unfold(x, 3, 2, 1, 1) and not the
    stride-2 call it used to be."""
    got = convcore.im2col(X, 3, 2, 1, 1)
    assert got.shape == F.unfold(_tensor(X), 3, 2, 1, 1).shape
    assert got.shape != convcore.im2col(X, 3, stride=2, padding=1).shape


def test_layers_take_torch_positional_arguments():
    """convcore.nn layers built with torch.nn's positional arguments compute what torch's
    do; where torch's next positional argument differs (MaxPool2d's return_indices before
    ceil_mode), convcore's is keyword-only."""
    from convcore import nn

    x = X.astype(np.float32)
    pairs = [
        (nn.MaxPool2d(3, 2, 1, 2), torch.nn.MaxPool2d(3, 2, 1, 2)),
        (nn.AvgPool2d(3, 2, 1, True, False, 5), torch.nn.AvgPool2d(3, 2, 1, True, False, 5)),
        (nn.Flatten(2, 3), torch.nn.Flatten(2, 3)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x), theirs(_tensor(x)).numpy(), rtol=1e-6)
    conv = nn.Conv2d(3, 6, 3, 2, 1, 2, 3, False, rng=0)
    tconv = torch.nn.Conv2d(3, 6, 3, 2, 1, 2, 3, False)
    with torch.no_grad():
        tconv.weight.copy_(_tensor(conv.weight))
    np.testing.assert_allclose(conv(x), tconv(_tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(TypeError):
        nn.MaxPool2d(3, 2, 1, 1, True)  # torch: return_indices=True; never ceil_mode here
