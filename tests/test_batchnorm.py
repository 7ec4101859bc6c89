"""BatchNorm1d/2d/3d: statistics, running averages, backward, state_dict, folding."""

import numpy as np
import pytest
from nn_reference import numeric_gradient

from convcore import nn


def _axes(x):
    return (0, *range(2, x.ndim))


def _channel(v, ndim):
    return np.asarray(v).reshape((1, -1) + (1,) * (ndim - 2))


def _reference(x, weight, bias, mean, var, eps):
    """(x - mean) / sqrt(var + eps) * weight + bias, per channel, in float64."""
    x = x.astype(np.float64)
    d = x.ndim
    return ((x - _channel(mean, d)) / np.sqrt(_channel(var, d) + eps) * _channel(weight, d)
            + _channel(bias, d))


def _random_bn(cls, c, rng, **kwargs):
    bn = cls(c, dtype=np.float64, **kwargs)
    if bn.affine:
        bn.weight = rng.uniform(0.5, 1.5, c)
        bn.bias = rng.uniform(-1, 1, c)
    return bn


@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                        (nn.BatchNorm2d, (3, 3, 4, 5)),
                                        (nn.BatchNorm3d, (2, 3, 2, 3, 4))])
def test_training_uses_batch_statistics_and_updates_running_ones(cls, shape):
    rng = np.random.default_rng(0)
    bn = _random_bn(cls, 3, rng, momentum=0.3)
    x = rng.standard_normal(shape) * 2 + 1
    before = x.copy()
    y = bn(x)
    np.testing.assert_array_equal(x, before)  # the input is not modified
    mean, var = x.mean(axis=_axes(x)), x.var(axis=_axes(x))
    np.testing.assert_allclose(y, _reference(x, bn.weight, bn.bias, mean, var, bn.eps),
                               rtol=1e-12, atol=1e-12)
    n = x.size // 3
    np.testing.assert_allclose(bn.running_mean, 0.7 * 0 + 0.3 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.7 * 1 + 0.3 * var * n / (n - 1), rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    y_eval = bn(x)
    np.testing.assert_allclose(y_eval, _reference(x, bn.weight, bn.bias, bn.running_mean,
                                                  bn.running_var, bn.eps), rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1  # eval does not update


def test_cumulative_average_when_momentum_is_none():
    rng = np.random.default_rng(1)
    bn = nn.BatchNorm2d(2, momentum=None, dtype=np.float64)
    batches = [rng.standard_normal((4, 2, 3, 3)) + k for k in range(3)]
    for x in batches:
        bn(x)
    means = [x.mean(axis=(0, 2, 3)) for x in batches]
    np.testing.assert_allclose(bn.running_mean, np.mean(means, axis=0), rtol=1e-12)
    assert int(bn.num_batches_tracked) == 3


def test_without_affine_or_running_statistics():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    bn = nn.BatchNorm1d(4, affine=False, track_running_stats=False, dtype=np.float64).eval()
    assert bn.num_params == 0 and bn.state_dict() == {}
    y = bn(x)  # batch statistics even in eval mode
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (5, 3)), (nn.BatchNorm2d, (3, 3, 2, 3)),
                                        (nn.BatchNorm3d, (2, 3, 2, 2, 2))])
def test_backward_matches_finite_differences(cls, shape, training):
    rng = np.random.default_rng(3)
    bn = _random_bn(cls, 3, rng)
    bn.running_mean, bn.running_var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    bn.train(training)
    bn.momentum = 0.0  # repeated forward calls leave the running statistics alone
    x = rng.standard_normal(shape)
    r = rng.standard_normal(shape)

    def loss():
        return float(np.sum(bn(x) * r))

    bn(x)
    gx = bn.backward(r)
    np.testing.assert_allclose(gx, numeric_gradient(loss, x), rtol=1e-6, atol=1e-8)
    grads = dict(bn.grads)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(grads[name], numeric_gradient(loss, getattr(bn, name)),
                                   rtol=1e-6, atol=1e-8)


def test_matches_pytorch_forward_backward_and_running_statistics():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 6, 5, 5)).astype(np.float32) * 3 + 2
    g = rng.standard_normal(x.shape).astype(np.float32)
    ours = nn.BatchNorm2d(6, eps=1e-3, momentum=0.2)
    ours.weight = rng.uniform(0.5, 1.5, 6).astype(np.float32)
    ours.bias = rng.uniform(-1, 1, 6).astype(np.float32)
    theirs = torch.nn.BatchNorm2d(6, eps=1e-3, momentum=0.2)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in
                            ours.state_dict().items()})
    xt = torch.from_numpy(x).requires_grad_()
    for _ in range(2):
        y = ours(x)
        yt = theirs(xt)
    yt.backward(torch.from_numpy(g))
    gx = ours.backward(g)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.grads["weight"], theirs.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)
    state = theirs.state_dict()
    assert list(ours.state_dict()) == list(state)
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v, state[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_fold_batchnorm_equals_conv_then_batchnorm():
    rng = np.random.default_rng(5)
    for bias in (True, False):
        conv = nn.Conv2d(3, 5, 3, padding=1, stride=2, bias=bias, rng=0, dtype=np.float64)
        bn = _random_bn(nn.BatchNorm2d, 5, rng).eval()
        bn.running_mean, bn.running_var = rng.standard_normal(5), rng.uniform(0.2, 3, 5)
        before = {k: v.copy() for k, v in conv.state_dict().items()}
        folded = nn.fold_batchnorm(conv, bn)
        x = rng.standard_normal((2, 3, 9, 9))
        np.testing.assert_allclose(folded(x), bn(conv(x)), rtol=1e-12, atol=1e-12)
        assert folded.bias is not None and folded is not conv
        for k, v in conv.state_dict().items():
            np.testing.assert_array_equal(v, before[k])  # the original is unchanged
    conv1d = nn.Conv1d(2, 4, 3, rng=0, dtype=np.float64)
    bn1d = _random_bn(nn.BatchNorm1d, 4, rng).eval()
    x = rng.standard_normal((2, 2, 10))
    np.testing.assert_allclose(nn.fold_batchnorm(conv1d, bn1d)(x), bn1d(conv1d(x)), rtol=1e-12)


def test_fold_batchnorm_errors():
    conv = nn.Conv2d(3, 4, 3, rng=0)
    with pytest.raises(ValueError, match="4 output channels"):
        nn.fold_batchnorm(conv, nn.BatchNorm2d(5))
    with pytest.raises(ValueError, match="track_running_stats=False"):
        nn.fold_batchnorm(conv, nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(TypeError, match="bn must be a BatchNorm"):
        nn.fold_batchnorm(conv, nn.ReLU())
    with pytest.raises(TypeError, match="conv must be"):
        nn.fold_batchnorm(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="not initialised"):
        nn.fold_batchnorm(nn.Conv2d(3, 4, 3, init=False), nn.BatchNorm2d(4))


def test_errors_name_the_rule():
    with pytest.raises(ValueError, match="num_features must be >= 1"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match="eps must be > 0"):
        nn.BatchNorm2d(3, eps=0)
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(TypeError, match="affine must be True or False"):
        nn.BatchNorm2d(3, affine=1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        nn.BatchNorm2d(3)(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="has 2 channels; num_features is 3"):
        nn.BatchNorm1d(3)(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(np.zeros((1, 3)))
    nn.BatchNorm1d(3).eval()(np.zeros((1, 3)))  # fine with running statistics


def test_buffers_are_state_but_not_parameters():
    bn = nn.BatchNorm2d(8)
    assert bn.num_params == 16
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert sorted(bn.buffers) == ["num_batches_tracked", "running_mean", "running_var"]
    state = bn.state_dict()
    state["running_mean"] = np.arange(8.0)
    state["num_batches_tracked"] = np.array(7)
    bn.load_state_dict(state)
    np.testing.assert_array_equal(bn.running_mean, np.arange(8.0))
    assert bn.running_mean.dtype == np.float32 and int(bn.num_batches_tracked) == 7
