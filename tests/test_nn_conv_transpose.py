"""The ConvTranspose1d/2d/3d layers: forward and backward against the functions and
PyTorch's modules (state_dicts loaded from them), initialisation, summaries and the spec
grammar."""

import numpy as np
import pytest
from transpose_reference import conv_transpose_ref

import convcore
from convcore import nn

LAYERS = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
CASES = [  # (nd, in, out, kernel, stride, padding, output_padding, groups, dilation, input)
    (1, 6, 4, 4, 2, 1, 1, 2, 1, (3, 6, 11)),
    (2, 8, 6, (4, 3), (2, 1), (1, 0), (1, 0), 1, 1, (2, 8, 5, 7)),
    (2, 6, 9, 3, 3, 1, 2, 3, (1, 2), (2, 6, 4, 5)),
    (3, 4, 2, (2, 3, 2), 2, (0, 1, 1), 1, 2, 1, (2, 4, 3, 4, 3)),
]


def _layer(case, **kw):
    nd, c_in, c_out, k, s, p, op, g, d, _ = case
    return LAYERS[nd](c_in, c_out, k, stride=s, padding=p, output_padding=op, groups=g,
                      dilation=d, **kw)


@pytest.mark.parametrize("case", CASES)
def test_forward_backward_match_the_reference_and_the_functions(case):
    layer = _layer(case, rng=3, dtype=np.float64)
    nd, *_, shape = case
    rng = np.random.default_rng(9)
    x = rng.standard_normal(shape)
    y = layer(x)
    opts = dict(stride=layer.stride, padding=layer.padding,
                output_padding=layer.output_padding, groups=layer.groups,
                dilation=layer.dilation)
    np.testing.assert_allclose(y, conv_transpose_ref(x, layer.weight, layer.bias, **opts),
                               rtol=1e-10, atol=1e-12)
    assert y.shape == layer.output_shape(shape)
    go = rng.standard_normal(y.shape)
    gi = layer.backward(go)
    fn = {1: convcore.conv_transpose1d_backward, 2: convcore.conv_transpose2d_backward,
          3: convcore.conv_transpose3d_backward}[nd]
    ri, rw, rb = fn(go, x, layer.weight, **opts)
    np.testing.assert_array_equal(gi, ri)
    np.testing.assert_array_equal(layer.grads["weight"], rw)
    np.testing.assert_array_equal(layer.grads["bias"], rb)


@pytest.mark.parametrize("case", CASES)
def test_pytorch_state_dict_loads_and_gives_pytorch_results(case):
    torch = pytest.importorskip("torch")
    nd, c_in, c_out, k, s, p, op, g, d, shape = case
    tlayer = getattr(torch.nn, f"ConvTranspose{nd}d")(c_in, c_out, k, s, p, op, g, True, d)
    layer = _layer(case, init=False)
    layer.load_state_dict(tlayer.state_dict())
    assert list(layer.state_dict()) == list(tlayer.state_dict()) == ["weight", "bias"]
    assert layer.num_params == sum(t.numel() for t in tlayer.parameters())
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ty = tlayer(tx)
    y = layer(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    go = np.ones(y.shape, np.float32)
    ty.backward(torch.tensor(go))
    np.testing.assert_allclose(layer.backward(go), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.grads["weight"], tlayer.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-4)


def test_initialisation_follows_pytorch_fan_in():
    layer = nn.ConvTranspose2d(64, 32, 4, groups=2, rng=0)
    assert layer.weight.shape == (64, 16, 4, 4) and layer.bias.shape == (32,)
    bound = 1 / np.sqrt(16 * 4 * 4)  # PyTorch's fan_in of a (in, out/groups, k, k) weight
    assert np.abs(layer.weight).max() <= bound and np.abs(layer.weight).max() > 0.9 * bound
    assert np.abs(layer.bias).max() <= bound
    assert layer.weight.dtype == np.float32
    assert nn.ConvTranspose2d(3, 4, 2, bias=False).bias is None


def test_train_eval_summary_and_repr():
    model = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1, rng=0), nn.ReLU(),
                          nn.ConvTranspose2d(8, 3, 3, padding=1, rng=1))
    x = np.ones((2, 16, 5, 5), np.float32)
    y_train = model(x)
    model.eval()
    np.testing.assert_array_equal(model(x), y_train)  # no train/eval difference
    model.train()
    rows = model.summary((16, 5, 5)).rows
    convt = [r for r in rows if r.type == "ConvTranspose2d"]
    assert [r.output_shape for r in convt] == [(8, 10, 10), (3, 10, 10)]
    assert convt[0].params == 16 * 8 * 16 + 8
    assert convt[0].macs == 16 * 8 * 16 * 25      # every input pixel times every tap
    assert convt[1].macs == 8 * 3 * 9 * 100
    assert convt[0].activations == 8 * 10 * 10
    assert repr(model[0]) == ("ConvTranspose2d(16, 8, kernel_size=(4, 4), stride=(2, 2), "
                              "padding=(1, 1))")


def test_spec_grammar_builds_transposed_layers():
    model = nn.from_spec("input 128x4x4, convt4-64 s2 p1, relu, convt3x1-8 p1 o0 d2 nobias, "
                         "convt1-3", rng=0)
    first, second = model[0], model[2]
    assert isinstance(first, nn.ConvTranspose2d) and first.in_channels == 128
    assert (first.kernel_size, first.stride, first.padding) == ((4, 4), (2, 2), (1, 1))
    assert second.kernel_size == (3, 1) and second.bias is None and second.dilation == (2, 2)
    assert model.output_shape((1, 128, 4, 4)) == (1, 3, 10, 6)
    vol = nn.from_spec("input 8x4x5x6, convt3d3-4 s2 p1 o1", rng=0)
    assert isinstance(vol[0], nn.ConvTranspose3d)
    assert vol.output_shape((1, 8, 4, 5, 6)) == (1, 4, 8, 10, 12)
    sig = nn.from_spec("input 8x40, convt1d4-4 s2 p1 g2", rng=0)
    assert isinstance(sig[0], nn.ConvTranspose1d) and sig[0].groups == 2
    js = nn.from_spec('[{"type": "input", "shape": [2, 3, 3]}, {"type": "convtranspose2d", '
                      '"out_channels": 4, "kernel_size": 2, "stride": 2}]', rng=0)
    assert js.output_shape((1, 2, 3, 3)) == (1, 4, 6, 6)
    assert "convtF-K" in nn.SPEC_GRAMMAR


@pytest.mark.parametrize("spec, message", [
    ("input 4x5x5, convt3-4 psame", "padding is a number"),
    ("input 4x5x5, convt3x3x3-4", "a 2-D kernel has 1 or 2 sizes"),
    ("input 4x5x5, convt3-4 s2 o2", "output_padding must be smaller"),
    ("input 4x5x5, convt3-4 q1", "unknown option 'q1'"),
])
def test_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        nn.from_spec(spec)


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(groups=3), ValueError, "divisible by groups=3"),
    (dict(output_padding=2, stride=2), ValueError, "output_padding must be smaller"),
    (dict(padding=-1), ValueError, "padding must be >= 0"),
    (dict(algorithm="fft"), ValueError, "algorithm must be one of"),
    (dict(kernel_size=(2, 2, 2)), ValueError, "kernel_size must be an int or a sequence of 2"),
])
def test_layer_argument_errors(kwargs, exc, message):
    args = dict(in_channels=4, out_channels=4, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(exc, match=message):
        nn.ConvTranspose2d(**args)


def test_winograd_layer_forward_and_backward(rng):
    layer = nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1, algorithm="winograd",
                               dtype=np.float64, rng=rng)
    ref = nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1, dtype=np.float64, rng=rng)
    ref.load_state_dict(layer.state_dict())
    x = rng.standard_normal((2, 16, 6, 5))
    np.testing.assert_allclose(layer.forward(x), ref.forward(x), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal((2, 16, 12, 10))
    np.testing.assert_allclose(layer.backward(g), ref.backward(g), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        nn.ConvTranspose1d(4, 4, 4, algorithm="winograd")
