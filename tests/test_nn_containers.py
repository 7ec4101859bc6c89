"""Concat, Residual, Identity, AdaptiveAvgPool2d; the summary of a graph; the spec grammar
of branches and residual blocks."""

import json

import numpy as np
import pytest
from nn_reference import numeric_gradient

from convcore import nn
from convcore._cli import main as cli_main


def _check_gradients(model, x, rng, rtol=1e-5):
    """Input and parameter gradients of sum(model(x) * r) against finite differences."""
    r = rng.standard_normal(model(x).shape)

    def loss():
        return float(np.sum(model(x) * r))

    model(x)
    gx = model.backward(r)
    grads = dict(model.grads)
    np.testing.assert_allclose(gx, numeric_gradient(loss, x), rtol=rtol, atol=1e-7)
    for name, p in model.params.items():
        np.testing.assert_allclose(grads[name], numeric_gradient(loss, p), rtol=rtol, atol=1e-7,
                                   err_msg=name)


# ----------------------------------------------------------------------------------------
# Identity and AdaptiveAvgPool2d


def _adaptive_reference(x, oh, ow):
    """Each output cell the mean of its window [floor(i*H/oh), ceil((i+1)*H/oh))."""
    h, w = x.shape[-2:]
    y = np.empty((*x.shape[:-2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            c0, c1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            y[..., i, j] = x[..., r0:r1, c0:c1].mean(axis=(-2, -1))
    return y


@pytest.mark.parametrize("size, out", [(1, (1, 1)), ((2, 3), (2, 3)), ((3, None), (3, 7)),
                                       (7, (7, 7)), (4, (4, 4))])
def test_adaptive_avg_pool_matches_reference_and_gradients(size, out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 7))
    pool = nn.AdaptiveAvgPool2d(size)
    assert pool.output_shape(x.shape) == (2, 3, *out)
    np.testing.assert_allclose(pool(x), _adaptive_reference(x, *out), rtol=1e-12)
    _check_gradients(pool, x, rng)


def test_adaptive_avg_pool_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((1, 4, 10, 13)).astype(np.float32)
    for size in (1, (3, 5), (6, 4)):
        expected = torch.nn.AdaptiveAvgPool2d(size)(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(nn.AdaptiveAvgPool2d(size)(x), expected, rtol=1e-6,
                                   atol=1e-6)
    with pytest.raises(ValueError, match="output_size must be >= 1"):
        nn.AdaptiveAvgPool2d(0)


def test_identity():
    x = np.arange(6.0).reshape(2, 3)
    ident = nn.Identity()
    assert ident(x) is x and ident.num_params == 0
    np.testing.assert_array_equal(ident.backward(np.ones((2, 3))), np.ones((2, 3)))


# ----------------------------------------------------------------------------------------
# Concat and Residual


def _inception_like(rng_seed=0, dtype=np.float64):
    rng = np.random.default_rng(rng_seed)

    def conv(c_in, c_out, k, p=0):
        return nn.Conv2d(c_in, c_out, k, padding=p, rng=rng, dtype=dtype)

    return nn.Concat({"branch1": conv(3, 2, 1),
                      "branch2": nn.Sequential(conv(3, 2, 1), nn.ReLU(), conv(2, 3, 3, 1)),
                      "branch3": nn.Sequential(nn.MaxPool2d(3, 1, 1), conv(3, 1, 1))})


def test_concat_forward_equals_branches_joined_and_backward():
    rng = np.random.default_rng(2)
    block = _inception_like()
    x = rng.standard_normal((2, 3, 6, 6))
    y = block(x)
    parts = [b(x) for b in block.branches]
    np.testing.assert_array_equal(y, np.concatenate(parts, axis=1))
    assert y.shape == block.output_shape(x.shape) == (2, 6, 6, 6)
    assert sorted(block.state_dict()) == [
        "branch1.bias", "branch1.weight", "branch2.0.bias", "branch2.0.weight",
        "branch2.2.bias", "branch2.2.weight", "branch3.1.bias", "branch3.1.weight"]
    _check_gradients(block, x, rng)


def test_residual_identity_and_projection_forward_backward():
    rng = np.random.default_rng(3)
    body = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, rng=0, dtype=np.float64),
                         nn.BatchNorm2d(3, dtype=np.float64), nn.ReLU(),
                         nn.Conv2d(3, 3, 3, padding=1, rng=1, dtype=np.float64))
    block = nn.Residual(body, activation=nn.ReLU())
    x = rng.standard_normal((2, 3, 5, 5))
    x_before = x.copy()
    y = block(x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_allclose(y, np.maximum(body(x) + x, 0), rtol=1e-12)
    block.train()
    body[1].momentum = 0.0
    _check_gradients(block, x, rng)

    down = nn.Residual(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1, rng=2,
                                               dtype=np.float64)),
                       nn.Sequential(nn.Conv2d(3, 4, 1, stride=2, rng=3, dtype=np.float64)))
    np.testing.assert_allclose(down(x), down.block(x) + down.shortcut(x), rtol=1e-12)
    assert sorted(down.state_dict()) == ["0.bias", "0.weight", "downsample.0.bias",
                                         "downsample.0.weight"]
    _check_gradients(down, x, rng)
    with pytest.raises(ValueError, match="shortcut"):
        nn.Residual(nn.Conv2d(3, 4, 1, rng=0))(x)
    with pytest.raises(TypeError, match="shortcut must be a convcore.nn layer or None"):
        nn.Residual(nn.ReLU(), shortcut="x")


def test_train_and_eval_reach_every_nested_layer():
    model = nn.Sequential(nn.Residual(nn.Sequential(nn.BatchNorm2d(2)),
                                      nn.Sequential(nn.Dropout())),
                          _inception_like())
    model.eval()
    layers = [model[0].block[0], model[0].shortcut[0], model[1].branches[1][1]]
    assert not any(layer.training for layer in layers)
    model.train()
    assert all(layer.training for layer in layers)


def test_fold_batchnorms_in_residual_blocks_keeps_outputs():
    rng = np.random.default_rng(4)

    def bn(c):
        layer = nn.BatchNorm2d(c, dtype=np.float64)
        layer.running_mean = rng.standard_normal(c)
        layer.running_var = rng.uniform(0.5, 2, c)
        layer.weight, layer.bias = rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
        return layer

    def conv(c_in, c_out, k, s=1):
        return nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False, rng=rng, dtype=np.float64)

    model = nn.Sequential(
        conv(3, 4, 3), bn(4), nn.ReLU(),
        nn.Residual(nn.Sequential({"conv1": conv(4, 6, 3, 2), "bn1": bn(6), "relu": nn.ReLU(),
                                   "conv2": conv(6, 6, 3), "bn2": bn(6)}),
                    nn.Sequential(conv(4, 6, 1, 2), bn(6)), nn.ReLU())).eval()
    x = rng.standard_normal((2, 3, 8, 8))
    fast = nn.fold_batchnorms(model)
    np.testing.assert_allclose(fast(x), model(x), rtol=1e-10, atol=1e-12)
    names = [type(layer).__name__ for layer in fast[3].block]
    assert names == ["Conv2d", "Identity", "ReLU", "Conv2d", "Identity"]
    assert [type(layer).__name__ for layer in fast[3].shortcut] == ["Conv2d", "Identity"]
    assert isinstance(model[1], nn.BatchNorm2d)  # the original is unchanged


# ----------------------------------------------------------------------------------------
# Summary of a graph


RESNET_BLOCKS = ("input 8x16x16, conv3-16 p1 nobias, bn, relu, "
                 "residual(conv3-16 p1 nobias, bn, relu, conv3-16 p1 nobias, bn), relu, "
                 "residual(conv3-32 s2 p1 nobias, bn, relu, conv3-32 p1 nobias, bn | "
                 "conv1-32 s2 nobias, bn), relu, gap, fc10")


def test_summary_indents_blocks_and_totals_count_every_layer_once():
    s = nn.summary(RESNET_BLOCKS)
    model = nn.from_spec(RESNET_BLOCKS, init=False)
    assert s.total_params == model.num_params
    assert s.total_macs == model.macs((1, 8, 16, 16))
    leaves = [r for r in s.rows if not r.block]
    assert s.total_params == sum(r.params for r in leaves)
    assert s.total_macs == sum(r.macs for r in leaves)
    assert s.total_activations == sum(r.activations for r in leaves)
    blocks = [r for r in s.rows if r.block]
    assert [b.type for b in blocks] == ["Residual", "Residual", "Sequential"]
    second = s.rows.index(blocks[1])
    inner = []
    for r in s.rows[second + 1:]:
        if r.depth <= blocks[1].depth:
            break
        if r.depth == blocks[1].depth + 1:
            inner.append(r)
    assert blocks[1].params == sum(r.params for r in inner)
    assert [r.type for r in inner][-1] == "add" and inner[-1].output_shape == (32, 8, 8)
    # conv 3x3 16->32 at 8x8, conv 3x3 32->32, the 1x1 projection
    assert blocks[1].macs == 64 * (32 * 16 * 9 + 32 * 32 * 9 + 32 * 16)
    text = str(s)
    assert "\n  conv3-32 (Conv2d)" in text and "\n    conv1-32 (Conv2d)" in text
    assert f"Total params: {s.total_params:,}" in text
    data = s.as_dict()
    assert data["total_params"] == s.total_params
    assert [r["depth"] for r in data["rows"]] == [r.depth for r in s.rows]
    assert json.loads(json.dumps(data))["rows"][1]["name"] == "conv3-16"


def test_summary_of_concat_adds_the_branches():
    block = _inception_like()
    model = nn.Sequential({"inception": block})
    s = model.summary((3, 6, 6))
    assert s.rows[1].block and s.rows[1].output_shape == (6, 6, 6)
    assert s.total_params == block.num_params
    assert s.rows[-1].type == "concat" and s.rows[-1].activations == 6 * 36
    assert s.total_macs == 36 * (3 * 2 + 3 * 2 + 2 * 3 * 9 + 3 * 1)


# ----------------------------------------------------------------------------------------
# Spec grammar


def test_spec_residual_and_concat_blocks():
    model = nn.from_spec(RESNET_BLOCKS, rng=0)
    res = model[3]
    assert isinstance(res, nn.Residual) and res.shortcut is None
    assert isinstance(model[5].shortcut, nn.Sequential)
    assert isinstance(model[1], nn.BatchNorm2d) and model[1].num_features == 16
    x = np.random.default_rng(5).standard_normal((2, 8, 16, 16)).astype(np.float32)
    assert model(x).shape == (2, 10)
    incep = nn.from_spec("input 3x8x8, concat(conv1-4 | conv1-2, relu, conv3-5 p1 | "
                         "maxpool3 s1 p1, conv1-1), bn, flatten, bn, fc2", init=False)
    assert isinstance(incep[0], nn.Concat) and len(incep[0].branches) == 3
    assert isinstance(incep[0].branches[0], nn.Conv2d)
    assert incep.output_shape((1, 3, 8, 8)) == (1, 2)
    assert isinstance(incep[3], nn.BatchNorm1d) and incep[3].num_features == 640
    nested = nn.summary("input 4x8x8, residual(concat(conv1-2 | conv1-2), relu)")
    assert [r.depth for r in nested.rows] == [0, 0, 1, 2, 2, 2, 1, 1]


def test_spec_blocks_as_json():
    as_json = [{"type": "input", "shape": [4, 8, 8]},
               {"type": "residual", "block": ["conv3-4 p1", {"type": "bn"}, "relu"],
                "shortcut": [{"type": "identity"}]},
               {"type": "concat", "branches": [["conv1-2"], ["conv3-3 p1", "relu"]]},
               {"type": "adaptiveavgpool2d", "output_size": [2, 2]}, "fc3"]
    s = nn.summary(json.dumps(as_json))
    text = nn.summary("input 4x8x8, residual(conv3-4 p1, bn, relu | identity), "
                      "concat(conv1-2 | conv3-3 p1, relu), adaptiveavgpool2, fc3")
    assert [(r.type, r.output_shape, r.params) for r in s.rows] == [
        (r.type, r.output_shape, r.params) for r in text.rows]


@pytest.mark.parametrize("spec, message", [
    ("input 4x8x8, residual(conv3-8 p1)", "shortcut gives"),
    ("input 4x8x8, residual(conv3-4 p1 | conv1-4 | conv1-4)", "at most one shortcut"),
    ("input 4x8x8, concat(conv1-2 | conv3-2)", "does not join"),
    ("input 4x8x8, concat(conv1-2 | conv1-2", "without its"),
    ("input 4x8x8, conv1-2), relu", "without its"),
    ("input 4x8x8, residual(conv1-4,, relu)", "empty item"),
    ("input 4x8x8, residual(conv9-4)", "residual block"),
    ('[{"type": "input", "shape": []}, "conv3-4"]', "at least one size"),
    ('["input 1x8x8", ""]', "empty item"),
    ("input 1x8x8, " + "residual(" * 5000 + "relu" + ")" * 5000, "nested too deeply"),
    ("[" * 100_000, "nested too deeply"),
    ('[{"type": "input", "shape": [1, 4, 4]}, {"type": "concat", "branches": 3}]', "branches"),
])
def test_spec_block_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        nn.from_spec(spec, init=False)


def test_cli_summary_help_documents_the_grammar(capsys):
    with pytest.raises(SystemExit):
        cli_main(["summary", "--help"])
    out = capsys.readouterr().out
    assert "residual(ITEMS | ITEMS2)" in out and "concat(B1 | B2 | ...)" in out
    assert "resnet50" in out and "bn " in out
