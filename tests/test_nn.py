"""convcore.nn: layers, Sequential, summaries and specs."""

import json
import math

import numpy as np
import pytest

import convcore
from convcore import nn
from convcore._cli import main as cli_main

# ----------------------------------------------------------------------------------------
# Parameter counts, output shapes and MACs of the classic networks, computed here by hand


def _conv(c_in, c_out, k, groups=1):
    return c_out * (c_in // groups) * k * k + c_out


def _fc(n_in, n_out):
    return n_in * n_out + n_out


def _layer_rows(summary, kinds=("Conv2d", "Linear")):
    return [r for r in summary.rows if r.type in kinds]


def test_vgg16_summary_matches_the_lecture_table():
    s = nn.summary("vgg16")
    channels = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    expected, c_in = [], 3
    for c in channels:
        expected.append(_conv(c_in, c, 3))
        c_in = c
    expected += [_fc(7 * 7 * 512, 4096), _fc(4096, 4096), _fc(4096, 1000)]
    rows = _layer_rows(s)
    assert [r.params for r in rows] == expected
    assert expected[:2] == [1792, 36928] and expected[-3] == 102_764_544
    assert s.total_params == sum(expected) == 138_357_544
    sizes = [224, 224, 112, 112, 56, 56, 56, 28, 28, 28, 14, 14, 14]
    assert [r.output_shape for r in rows[:13]] == [(c, n, n) for c, n in
                                                   zip(channels, sizes, strict=True)]
    pools = [r.output_shape for r in s.rows if r.type == "MaxPool2d"]
    assert pools == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]
    # the lecture's activation column: input 150k, 3.2M per 224-pixel conv, ..., 25k
    assert s.rows[0].activations == 224 * 224 * 3
    assert rows[0].activations == 224 * 224 * 64 and pools[-1] == (512, 7, 7)
    # torchinfo MACs: out_channels * Hout * Wout * C_in * 3 * 3 per conv, in * out per FC
    macs, c_in = 0, 3
    for c, n in zip(channels, sizes, strict=True):
        macs += c * n * n * c_in * 9
        c_in = c
    macs += 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert s.total_macs == macs == 15_470_264_320
    assert rows[0].macs == 64 * 224 * 224 * 3 * 9 == 86_704_128


def test_lenet5_and_alexnet_summaries():
    lenet = nn.summary("lenet5")
    assert [r.params for r in _layer_rows(lenet)] == [
        _conv(1, 6, 5), _conv(6, 16, 5), _conv(16, 120, 5), _fc(120, 84), _fc(84, 10)]
    assert lenet.total_params == 61_706
    assert [r.output_shape for r in lenet.rows if r.type in ("Conv2d", "AvgPool2d")] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert _layer_rows(lenet)[0].macs == 6 * 28 * 28 * 25
    assert _layer_rows(lenet)[1].macs == 16 * 10 * 10 * 6 * 25

    alex = nn.summary("alexnet")
    expected = [_conv(3, 96, 11), _conv(96, 256, 5, 2), _conv(256, 384, 3),
                _conv(384, 384, 3, 2), _conv(384, 256, 3, 2), _fc(9216, 4096),
                _fc(4096, 4096), _fc(4096, 1000)]
    assert [r.params for r in _layer_rows(alex)] == expected
    assert alex.total_params == sum(expected) == 60_965_224
    shapes = [r.output_shape for r in alex.rows if r.type in ("Conv2d", "MaxPool2d")]
    assert shapes == [(96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13),
                      (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6)]
    assert _layer_rows(alex)[0].macs == 96 * 55 * 55 * 3 * 121
    assert _layer_rows(alex)[1].macs == 256 * 27 * 27 * 48 * 25  # grouped: 96 / 2 inputs


def test_zfnet_follows_the_papers_maps():
    s = nn.summary("zfnet")
    shapes = [r.output_shape for r in s.rows if r.type in ("Conv2d", "MaxPool2d")]
    assert shapes == [(96, 110, 110), (96, 55, 55), (256, 26, 26), (256, 13, 13),
                      (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6)]
    assert _layer_rows(s)[0].params == _conv(3, 96, 7)
    assert s.rows[-1].output_shape == (1000,)


def test_summary_totals_are_row_sums_and_table_is_aligned():
    s = nn.summary("input 3x32x32, conv3-16 p1, relu, maxpool2, conv3-32 p1 g2, gap, fc10")
    assert s.total_params == sum(r.params for r in s.rows)
    assert s.total_macs == sum(r.macs for r in s.rows)
    assert s.total_activations == sum(r.activations for r in s.rows)
    text = str(s)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["Layer", "(type)"]
    table = lines[2:2 + len(s.rows)]
    assert len(table) == len(s.rows)
    # numbers are right-aligned: every row ends at the same column
    assert len({len(line) for line in table}) == 1
    assert "conv3-32 (Conv2d)" in text and f"{s.total_params:,}" in text
    assert s.rows[2 + 2].params == _conv(16, 32, 3, 2) == 2_336
    assert "Total params: 2,826" in text.replace(f"{s.total_params:,}", "2,826")
    data = s.as_dict()
    assert json.loads(json.dumps(data))["total_params"] == s.total_params


def test_output_shape_names_the_layer_when_a_kernel_does_not_fit():
    conv = nn.Conv2d(16, 120, 5, init=False)
    with pytest.raises(ValueError, match=r"Conv2d\(16, 120.*\(1, 16, 3, 3\).*5.*3"):
        conv.output_shape((1, 16, 3, 3))
    model = nn.Sequential(nn.Conv2d(1, 6, 5, rng=0), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5, rng=0))
    with pytest.raises(ValueError, match=r"layer 2.*Conv2d\(6, 16.*height 5.*height 4"):
        model.output_shape((1, 1, 12, 12))
    with pytest.raises(ValueError, match=r"layer 1 'maxpool3'"):
        nn.from_spec("input 1x8x8, conv7-2, maxpool3")
    with pytest.raises(ValueError, match=r"in_features=10.*\(1, 12\)"):
        nn.Linear(10, 2, init=False).output_shape((1, 12))
    with pytest.raises(ValueError, match=r"3 input channels per group but input has 4"):
        nn.Conv2d(3, 8, 3, init=False).output_shape((2, 4, 8, 8))
    with pytest.raises(ValueError, match=r"MaxPool2d.*size 3"):
        nn.MaxPool2d(3).output_shape((1, 2, 2, 2))


def test_output_shape_matches_forward_for_every_layer():
    rng = np.random.default_rng(0)
    cases = [
        (nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding="same", dilation=2, rng=0), (2, 3, 9, 7)),
        (nn.Conv2d(4, 6, 3, padding=((1, 0), (2, 1)), groups=2, rng=0), (4, 9, 7)),
        (nn.Conv1d(2, 3, 4, stride=3, padding=1, rng=0), (2, 2, 17)),
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 9, 8)),
        (nn.AvgPool2d((2, 3), padding=(1, 1)), (3, 9, 8)),
        (nn.GlobalAvgPool2d(), (2, 3, 5, 4)),
        (nn.Flatten(), (2, 3, 5, 4)),
        (nn.Flatten(0, 1), (2, 3, 5)),
        (nn.Linear(5, 7, rng=0), (2, 3, 5)),
        (nn.ReLU(), (3, 4)),
        (nn.Dropout(0.3, rng=0), (3, 4)),
    ]
    for layer, shape in cases:
        y = layer(rng.standard_normal(shape))
        assert layer.output_shape(shape) == y.shape, layer


# ----------------------------------------------------------------------------------------
# Forward and backward


def _small_model(dtype=np.float64):
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, dtype=dtype, rng=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, stride=2, padding=((1, 0), (0, 1)), groups=2,
                                   dtype=dtype, rng=2),
        nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(6 * 2 * 1, 5, dtype=dtype, rng=3),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_equals_composed_functional_calls(dtype):
    model = _small_model(dtype)
    x = np.random.default_rng(0).standard_normal((3, 2, 13, 11)).astype(dtype)
    x0 = x.copy()
    y = model(x)
    c1, c2, fc = model[0], model[3], model[6]
    h = convcore.conv2d(x, c1.weight, c1.bias, padding=1)
    h = convcore.max_pool2d(convcore.relu(h), 2)
    h = convcore.conv2d(h, c2.weight, c2.bias, stride=2, padding=((1, 0), (0, 1)), groups=2)
    h = convcore.avg_pool2d(h, 2, ceil_mode=True).reshape(3, -1)
    expected = h @ fc.weight.T + fc.bias
    assert y.dtype == dtype and y.shape == (3, 5)
    np.testing.assert_allclose(y, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(x, x0)  # the input is not modified


def _loss_and_grad(model, x, target):
    y = model(x)
    return 0.5 * float(np.sum((y - target) ** 2)), y - target


def test_backward_matches_finite_differences():
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, rng=1, dtype=np.float64), nn.ReLU(),
        nn.AvgPool2d(2, ceil_mode=True), nn.Conv2d(3, 4, 2, stride=2, padding=(1, 0), rng=2,
                                                   dtype=np.float64),
        nn.MaxPool2d((2, 1), 1), nn.Flatten(), nn.Linear(4 * 1 * 1 * 1, 3, rng=3, dtype=np.float64),
    )
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 2, 6, 5))
    model.output_shape(x.shape)
    target = rng.standard_normal(model.output_shape(x.shape))
    _, g = _loss_and_grad(model, x, target)
    gx = model.backward(g)
    grads = model.grads
    assert set(grads) == set(model.params)
    eps = 1e-6

    def numeric(array, idx):
        old = array[idx]
        array[idx] = old + eps
        up = _loss_and_grad(model, x, target)[0]
        array[idx] = old - eps
        down = _loss_and_grad(model, x, target)[0]
        array[idx] = old
        return (up - down) / (2 * eps)

    for idx in [(0, 0, 0, 0), (1, 1, 3, 2), (0, 1, 5, 4), (1, 0, 2, 1)]:
        assert numeric(x, idx) == pytest.approx(gx[idx], rel=1e-5, abs=1e-8)
    for name, p in model.params.items():
        for flat in rng.choice(p.size, size=min(p.size, 4), replace=False):
            idx = np.unravel_index(flat, p.shape)
            assert numeric(p, idx) == pytest.approx(grads[name][idx], rel=1e-5, abs=1e-8), name


def test_conv1d_gap_dropout_backward_match_finite_differences():
    model = nn.Sequential(nn.Conv1d(2, 3, 3, stride=2, padding=1, rng=0, dtype=np.float64),
                          nn.ReLU(), nn.Dropout(0.25, rng=7), nn.Flatten(),
                          nn.Linear(3 * 5, 2, rng=1, dtype=np.float64))
    gap = nn.Sequential(nn.Conv2d(1, 2, 2, rng=0, dtype=np.float64), nn.GlobalAvgPool2d(),
                        nn.Flatten(), nn.Linear(2, 1, bias=False, rng=0, dtype=np.float64))
    rng = np.random.default_rng(3)
    for net, x in ((model, rng.standard_normal((2, 2, 10))),
                   (gap, rng.standard_normal((3, 1, 4, 5)))):
        net.eval()  # a fixed function (the dropout mask would change between calls)
        target = rng.standard_normal(net.output_shape(x.shape))
        _, g = _loss_and_grad(net, x, target)
        gx = net.backward(g)
        flat = x.reshape(-1)
        for i in range(0, flat.size, 7):
            old = flat[i]
            flat[i] = old + 1e-6
            up = _loss_and_grad(net, x, target)[0]
            flat[i] = old - 1e-6
            down = _loss_and_grad(net, x, target)[0]
            flat[i] = old
            assert (up - down) / 2e-6 == pytest.approx(gx.reshape(-1)[i], rel=1e-5, abs=1e-8)


def test_dropout_backward_uses_the_forward_mask():
    drop = nn.Dropout(0.4, rng=0)
    x = np.ones((50, 40))
    y = drop(x)
    g = drop.backward(np.full(x.shape, 2.0))
    np.testing.assert_array_equal(g, 2.0 * y)  # zero where dropped, 2 / 0.6 where kept


def test_dropout_statistics_and_eval_identity():
    p = 0.3
    drop = nn.Dropout(p, rng=123)
    x = np.ones(200_000, np.float32)
    y = drop(x)
    dropped = np.mean(y == 0)
    sigma = math.sqrt(p * (1 - p) / x.size)
    assert abs(dropped - p) < 5 * sigma
    assert set(np.unique(y)) == {np.float32(0), np.float32(1 / (1 - p))}
    assert y.dtype == np.float32
    assert abs(float(y.mean()) - 1.0) < 5 * sigma / (1 - p)
    # seeded: the same masks again
    np.testing.assert_array_equal(nn.Dropout(p, rng=123)(x), y)
    assert not np.array_equal(drop(x), y)  # a new mask per call
    drop.eval()
    z = np.arange(6.0)
    np.testing.assert_array_equal(drop(z), z)
    np.testing.assert_array_equal(drop.backward(np.ones(6)), np.ones(6))
    assert np.all(nn.Dropout(1.0)(np.ones(5)) == 0)
    np.testing.assert_array_equal(nn.Dropout(0.0)(z), z)
    with pytest.raises(ValueError, match="p must be in"):
        nn.Dropout(1.5)
    with pytest.raises(TypeError, match="p must be a float"):
        nn.Dropout("0.5")


def test_train_and_eval_modes_propagate():
    model = _small_model()
    assert model.eval() is model and not any(layer.training for layer in model)
    model.train()
    assert all(layer.training for layer in model)
    with pytest.raises(TypeError, match="mode"):
        model.train("yes")


def test_maxpool_backward_in_eval_mode_equals_training_mode():
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    g = np.random.default_rng(1).standard_normal((2, 3, 4, 3))
    pool = nn.MaxPool2d(3, 2, 1)
    pool(x)
    trained = pool.backward(g)
    pool.eval()
    pool(x)
    np.testing.assert_array_equal(pool.backward(g), trained)


def test_parameter_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    spec = "input 3x12x12, conv3-4 p1 s2, relu, maxpool2, conv1d3-2"
    with pytest.raises(ValueError):  # a Conv1d after a 2-D map is refused by its shape
        nn.from_spec(spec)
    model = nn.from_spec("input 3x12x12, conv3-4 p1, relu, maxpool2 s2 p1, conv3-6 s2 g2, "
                         "relu, avgpool2 ceil, fc5", rng=0, dtype=np.float64)
    tmodel = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2, 1),
        torch.nn.Conv2d(4, 6, 3, stride=2, groups=2), torch.nn.ReLU(),
        torch.nn.AvgPool2d(2, ceil_mode=True), torch.nn.Flatten(), torch.nn.Linear(6 * 2 * 2, 5),
    ).double()
    # convcore's spec inserted the Flatten as layer 7: the same indices as torch's
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 3, 12, 12))
    xt = torch.tensor(x, requires_grad=True)
    yt = tmodel(xt)
    y = model(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-13)
    g = np.random.default_rng(2).standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(model.backward(g), xt.grad.numpy(), rtol=1e-11, atol=1e-13)
    for name, p in tmodel.named_parameters():
        np.testing.assert_allclose(model.grads[name], p.grad.numpy(), rtol=1e-11, atol=1e-13)


def test_a_trained_torch_model_runs_on_convcore():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(6 * 6 * 6, 10)).eval()
    model = nn.from_spec("input 1x16x16, conv5-6, relu, maxpool2, flatten, fc10", init=False)
    with pytest.raises(ValueError, match="not initialised"):
        model(np.zeros((1, 1, 16, 16), np.float32))
    model.load_state_dict(tmodel.state_dict())  # tensors, float32
    assert model[0].weight.dtype == np.float32 and model[0].weight.flags.writeable
    x = np.random.default_rng(0).standard_normal((5, 1, 16, 16)).astype(np.float32)
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.eval()(x), expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------------------
# A tiny training run: horizontal against vertical bars


def _bars(rng, n):
    x = rng.normal(0, 0.3, (n, 1, 8, 8))
    labels = rng.integers(0, 2, n)
    where = rng.integers(1, 7, n)
    for i in range(n):
        if labels[i]:
            x[i, 0, :, where[i]] += 1.0  # vertical
        else:
            x[i, 0, where[i], :] += 1.0  # horizontal
    return x.astype(np.float32), labels


def _train_on_bars(steps=300, lr=0.1):
    """SGD on softmax cross-entropy; returns the test accuracy before and after, and the
    final weights."""
    rng = np.random.default_rng(0)
    model = nn.from_spec("input 1x8x8, conv3-4 p1, relu, maxpool2, conv3-8 p1, relu, gap, "
                         "dropout0.1, fc2", rng=1)
    x_test, y_test = _bars(rng, 200)

    def accuracy():
        model.eval()
        pred = np.argmax(model(x_test), axis=1)
        model.train()
        return float(np.mean(pred == y_test))

    before = accuracy()
    for _ in range(steps):
        x, labels = _bars(rng, 16)
        logits = model(x).astype(np.float64)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(labels)), labels] -= 1  # d(cross-entropy)/d(logits)
        model.backward((p / len(labels)).astype(np.float32))
        for name, param in model.params.items():
            param -= lr * model.grads[name]
    return before, accuracy(), model.state_dict()


def test_tiny_training_run_separates_bars():
    before, after, weights = _train_on_bars()
    assert before < 0.8
    assert after >= 0.95, (before, after)
    # seeded data, weights and dropout masks: the same run gives the same weights
    again = _train_on_bars()
    assert again[:2] == (before, after)
    for name, w in weights.items():
        np.testing.assert_array_equal(again[2][name], w)


# ----------------------------------------------------------------------------------------
# Initialisation, weights on disk, state_dict


def test_kaiming_uniform_initialisation_like_pytorch():
    conv = nn.Conv2d(64, 128, 3, rng=0)
    bound = 1 / math.sqrt(64 * 9)
    assert conv.weight.shape == (128, 64, 3, 3) and conv.weight.dtype == np.float32
    assert np.abs(conv.weight).max() <= bound and np.abs(conv.bias).max() <= bound
    # uniform on [-b, b]: standard deviation b / sqrt(3)
    assert conv.weight.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(conv.weight.mean()) < 0.02 * bound
    grouped = nn.Conv2d(8, 4, 3, groups=4, rng=0, dtype=np.float64)
    assert np.abs(grouped.weight).max() <= 1 / math.sqrt(2 * 9)
    assert grouped.weight.dtype == np.float64
    fc = nn.Linear(400, 10, rng=np.random.default_rng(3))
    assert np.abs(fc.weight).max() <= 1 / 20 and fc.weight.std() == pytest.approx(
        1 / 20 / math.sqrt(3), rel=0.05)
    np.testing.assert_array_equal(nn.Conv2d(64, 128, 3, rng=0).weight, conv.weight)
    assert not np.array_equal(nn.Conv2d(64, 128, 3, rng=1).weight, conv.weight)
    assert nn.Conv2d(3, 4, 3, bias=False, rng=0).bias is None
    assert nn.Conv2d(3, 4, 3, bias=False, rng=0).num_params == 4 * 3 * 9


def test_save_and_load_npz(tmp_path):
    model = _small_model(np.float32)
    path = tmp_path / "weights.npz"
    model.save(path)
    other = _small_model(np.float32)
    for p in other.params.values():
        p[...] = 0
    other.load(path)
    for name, p in model.params.items():
        np.testing.assert_array_equal(other.params[name], p)
    x = np.random.default_rng(0).standard_normal((2, 2, 13, 11)).astype(np.float32)
    np.testing.assert_array_equal(other(x), model(x))
    with np.load(path) as data:
        assert sorted(data.files) == sorted(model.params)
    single = nn.Linear(3, 2, rng=0)
    single.save(tmp_path / "fc.npz")
    fresh = nn.Linear(3, 2, rng=9)
    fresh.load(tmp_path / "fc.npz")
    np.testing.assert_array_equal(fresh.weight, single.weight)


def test_load_state_dict_checks_before_changing_anything():
    model = _small_model()
    before = model.state_dict()
    bad = dict(before)
    bad["6.weight"] = np.zeros((5, 11))
    with pytest.raises(ValueError, match=r"weight has shape \(5, 11\).*\(5, 12\)"):
        model.load_state_dict(bad)
    for name, p in model.params.items():
        np.testing.assert_array_equal(p, before[name])
    missing = {k: v for k, v in before.items() if k != "0.bias"}
    with pytest.raises(ValueError, match=r"missing \['0.bias'\]"):
        model.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected \['9.weight'\]"):
        model.load_state_dict({**before, "9.weight": np.zeros(2)})
    model.load_state_dict(missing, strict=False)
    with pytest.raises(TypeError, match="real numbers"):
        model.load_state_dict({**before, "0.bias": np.array(["a"] * 4)})
    state = model.state_dict()
    state["0.bias"][:] = 7  # a copy: the model keeps its own
    assert not np.any(model[0].bias == 7)


# ----------------------------------------------------------------------------------------
# Errors


def test_constructor_and_call_errors():
    with pytest.raises(ValueError, match="divisible by groups=3"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="in_channels must be >= 1"):
        nn.Conv2d(0, 6, 3)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        nn.Conv2d(1, 6, 2.5)
    with pytest.raises(ValueError, match="padding must be"):
        nn.Conv2d(1, 6, 3, padding="full")
    with pytest.raises(ValueError, match="algorithm"):
        nn.Conv2d(1, 6, 3, algorithm="gemm")
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(3, 2, dtype=np.int32)
    with pytest.raises(TypeError, match="rng"):
        nn.Linear(3, 2, rng="seed")
    with pytest.raises(ValueError, match="kernel_size // 2"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(TypeError, match="layer 1 must be a convcore.nn layer"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    conv = nn.Conv2d(3, 4, 3, rng=0)
    with pytest.raises(RuntimeError, match="forward"):
        conv.backward(np.zeros((1, 4, 2, 2)))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*x must have shape"):
        conv(np.zeros((3, 3)))
    conv(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"grad_output has shape \(1, 4, 2, 2\).*\(1, 4, 3, 3\)"):
        conv.backward(np.zeros((1, 4, 2, 2)))
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2, rng=0))
    with pytest.raises(ValueError, match=r"layer 1.*Linear\(12, 2\).*in_features=12"):
        model(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="input_shape"):
        model.summary()


def test_spec_parsing_and_errors():
    model = nn.from_spec("input 3x17x17, conv3x5-8 s2 p1 d1 nobias, maxpool3 s2 p1 ceil, "
                         "avgpool2x1, conv1-4 psame g2, gap, dropout0.2, fc3 nobias", init=False)
    conv, pool = model[0], model[1]
    assert conv.kernel_size == (3, 5) and conv.stride == (2, 2) and conv.bias is None
    assert pool.ceil_mode and pool.stride == (2, 2) and pool.padding == (1, 1)
    assert model[2].kernel_size == (2, 1) and model[3].padding == "same"
    assert model[3].groups == 2 and model[5].p == 0.2
    assert isinstance(model[6], nn.Flatten) and model[7].bias is None
    assert model.input_shape == (3, 17, 17)
    as_json = json.dumps([{"type": "input", "shape": [3, 17, 17]},
                          {"type": "Conv2d", "out_channels": 8, "kernel_size": [3, 5],
                           "stride": 2, "padding": 1, "bias": False, "name": "stem"},
                          "maxpool3 s2 p1 ceil", "avgpool2x1",
                          {"type": "conv2d", "out_channels": 4, "kernel_size": 1,
                           "padding": "same", "groups": 2},
                          "gap", {"type": "dropout", "p": 0.2}, "flatten",
                          {"type": "linear", "out_features": 3, "bias": False}])
    from_json = nn.summary(as_json)
    assert from_json.rows[1].name == "stem"
    assert [r.output_shape for r in from_json.rows] == [
        r.output_shape for r in model.summary().rows]
    assert from_json.total_params == model.num_params == 8 * 3 * 15 + 4 * 4 + 4 + 12
    one_d = nn.summary("input 2x100, conv1d5-4 s2, relu, flatten, fc3")
    assert one_d.rows[1].output_shape == (4, 48)
    assert one_d.total_params == 4 * 2 * 5 + 4 + 192 * 3 + 3
    for spec, message in [
        ("conv3-64", "starts with its input"),
        ("input 3x32, input 3x32", "only the first item"),
        ("input 3*32*32, relu", "input CxHxW"),
        ("input 3x8x8, conv3-8 q1", "unknown option 'q1'"),
        ("input 3x8x8, maxpool2 nobias", "unknown option 'nobias'"),
        ("input 3x8x8, conv3-8 ssame", "only padding may be 'same'"),
        ("input 3x8x8, lstm4", "unknown layer 'lstm4'"),
        ("input 3x8x8, conv3-8,, relu", "empty item"),
        ("input 3x8x8, conv3-8 g2", "divisible by groups=2"),
        ("[1, 2", "not valid JSON"),
        ('[{"type": "input", "shape": [1, 4, 4]}, {"type": "rnn"}]', "unknown type 'rnn'"),
        ('[{"type": "input", "shape": [1, 4, 4]}, 3]', "must be a string or an object"),
    ]:
        with pytest.raises(ValueError, match=message):
            nn.from_spec(spec, init=False)
    with pytest.raises(TypeError, match="spec item 1"):
        nn.from_spec('[{"type": "input", "shape": [1, 4, 4]}, {"type": "relu", "bogus": 1}]')


def test_cli_summary(capsys, tmp_path):
    assert cli_main(["summary", "vgg16"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 138,357,544" in out and "102,764,544" in out and "1,792" in out
    assert cli_main(["summary", "input 1x32x32, conv5-6, maxpool2, fc10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_params"] == 156 + 6 * 14 * 14 * 10 + 10
    assert [r["name"] for r in data["rows"]] == ["input", "conv5-6", "maxpool2", "flatten",
                                                "fc10"]
    spec_file = tmp_path / "net.txt"
    spec_file.write_text("input 1x28x28, conv5-6, maxpool2, conv5-16, maxpool2, conv5-120\n")
    assert cli_main(["summary", str(spec_file)]) == 2
    err = capsys.readouterr().err
    assert "layer 4 'conv5-120'" in err and "height 5" in err and "height 4" in err
    for name in nn.BUILTIN_SPECS:
        assert cli_main(["summary", name]) == 0
    assert "Total params: 61,706" in capsys.readouterr().out
