"""The built-in networks: published totals, PyTorch agreement (ResNet-18, an inception
block, a training step of a small ResNet), the CLI, the report and the bench case."""

import json
from collections import OrderedDict

import numpy as np
import pytest

from convcore import nn
from convcore._cli import main as cli_main
from convcore.nn import models

# torchvision's published parameter counts (aux classifiers off for GoogLeNet) and the
# published VGG-16 figure; MACs as torchvision lists them (GFLOPS column, in G)
PUBLISHED = {"resnet18": (11_689_512, 1.81), "resnet34": (21_797_672, 3.66),
             "resnet50": (25_557_032, 4.09), "resnet101": (44_549_160, 7.80),
             "resnet152": (60_192_808, 11.51), "googlenet": (6_624_904, 1.50),
             "vgg11": (132_863_336, 7.61), "vgg16": (138_357_544, 15.47),
             "vgg19": (143_667_240, 19.63)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_totals_match_the_published_figures(name):
    params, gmacs = PUBLISHED[name]
    s = models.summary(name)
    assert s.total_params == params
    assert round(s.total_macs / 1e9, 2) == gmacs
    assert models.build(name, init=False).num_params == params


def test_every_builtin_name_summarises():
    for name in models.MODELS:
        s = nn.summary(name)
        assert s.total_params == models.build(name, init=False).num_params > 0
    assert nn.summary("lenet5").total_params == 61_706
    with pytest.raises(ValueError, match="unknown network 'resnet9'.*resnet18"):
        models.build("resnet9")


def test_resnet_state_dict_keys_are_torchvisions():
    keys = list(models.resnet18(init=False).state_dict())
    assert keys[:5] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                        "bn1.running_var"]
    assert "layer2.0.downsample.0.weight" in keys and "layer2.0.downsample.1.running_var" in keys
    assert "layer1.0.downsample.0.weight" not in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    g = models.googlenet(init=False).state_dict()
    assert "inception4e.branch3.1.conv.weight" in g and "inception3a.branch4.1.bn.bias" in g
    assert g["inception3a.branch3.1.conv.weight"].shape == (32, 16, 3, 3)


def test_resnet50_summary_rows():
    s = models.summary("resnet50")
    names = [r.name for r in s.rows if r.depth == 0]
    assert names == ["input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                     "layer4", "avgpool", "flatten", "fc"]
    layer4 = next(r for r in s.rows if r.name == "layer4")
    assert layer4.block and layer4.output_shape == (2048, 7, 7)
    avg = next(r for r in s.rows if r.name == "avgpool")
    assert avg.output_shape == (2048, 1, 1)


# ----------------------------------------------------------------------------------------
# Against PyTorch


def _random_state(model, rng):
    """Random weights and running statistics, so BatchNorm does something."""
    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            state[k] = v
        elif k.endswith(("running_var", "bn1.weight", "bn2.weight", "bn.weight")) or (
                k.endswith("weight") and v.ndim == 1):
            state[k] = rng.uniform(0.5, 1.5, v.shape).astype(v.dtype)
        elif v.ndim == 1:
            state[k] = rng.uniform(-0.2, 0.2, v.shape).astype(v.dtype)
        else:
            bound = np.sqrt(3.0 / np.prod(v.shape[1:]))  # keeps activations O(1)
            state[k] = rng.uniform(-bound, bound, v.shape).astype(v.dtype)
    return state


def _same_weights(ours, theirs, torch, rng):
    """Random weights and statistics into the torch model, then its state_dict (tensors,
    its keys) into ours; both in eval mode."""
    state = _random_state(ours, rng)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()


def _torch_basic_conv(torch, c_in, c_out, k, stride=1, padding=0):
    """torchvision's BasicConv2d from torch.nn modules: conv, BatchNorm (eps 0.001), ReLU."""
    tnn = torch.nn
    return tnn.Sequential(OrderedDict(
        conv=tnn.Conv2d(c_in, c_out, k, stride, padding, bias=False),
        bn=tnn.BatchNorm2d(c_out, eps=1e-3), relu=tnn.ReLU()))


def test_resnet18_inference_matches_pytorch():
    torch = pytest.importorskip("torch")
    from convcore.bench import torch_resnet

    rng = np.random.default_rng(0)
    theirs = torch_resnet(torch, (2, 2, 2, 2))
    ours = models.resnet18(init=False)
    _same_weights(ours, theirs, torch, rng)  # tensors in, torchvision's keys
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    assert np.abs(expected).max() > 0.1
    y = ours(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    folded = nn.fold_batchnorms(ours)
    np.testing.assert_allclose(folded(x), expected, rtol=1e-4, atol=1e-4)


def _torch_inception(torch, c_in, ch1, red3, ch3, red5, ch5, proj):
    tnn = torch.nn

    def basic(i, o, k, p=0):
        return _torch_basic_conv(torch, i, o, k, padding=p)

    class Inception(tnn.Module):
        def __init__(self):
            super().__init__()
            self.branch1 = basic(c_in, ch1, 1)
            self.branch2 = tnn.Sequential(basic(c_in, red3, 1), basic(red3, ch3, 3, 1))
            self.branch3 = tnn.Sequential(basic(c_in, red5, 1), basic(red5, ch5, 3, 1))
            self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                          basic(c_in, proj, 1))

        def forward(self, x):
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                              self.branch4(x)], 1)

    return Inception()


def test_inception_block_inference_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    sizes = (192, 64, 96, 128, 16, 32, 32)  # GoogLeNet's inception3a
    theirs = _torch_inception(torch, *sizes)
    ours = models.inception(*sizes, init=False)
    _same_weights(ours, theirs, torch, rng)
    x = rng.standard_normal((2, 192, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(nn.fold_batchnorms(ours)(x), expected, rtol=1e-4, atol=1e-4)


def test_googlenet_inference_matches_pytorch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    rng = np.random.default_rng(4)

    body = OrderedDict(conv1=_torch_basic_conv(torch, 3, 64, 7, 2, 3),
                       maxpool1=tnn.MaxPool2d(3, 2, ceil_mode=True),
                       conv2=_torch_basic_conv(torch, 64, 64, 1),
                       conv3=_torch_basic_conv(torch, 64, 192, 3, padding=1),
                       maxpool2=tnn.MaxPool2d(3, 2, ceil_mode=True))
    for name, sizes in models._INCEPTIONS.items():
        body[name] = (tnn.MaxPool2d(3 if name == "maxpool3" else 2, 2, ceil_mode=True)
                      if sizes is None else _torch_inception(torch, *sizes))
    body.update(avgpool=tnn.AdaptiveAvgPool2d(1), flatten=tnn.Flatten(),
                dropout=tnn.Dropout(0.2), fc=tnn.Linear(1024, 1000))
    theirs = tnn.Sequential(body)
    ours = models.googlenet(init=False)
    _same_weights(ours, theirs, torch, rng)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(nn.fold_batchnorms(ours)(x), expected, rtol=1e-4,
                               atol=1e-4 * scale)


def test_googlenet_runs_end_to_end_on_a_small_image():
    model = models.googlenet(num_classes=7, rng=0).eval()
    x = np.random.default_rng(2).standard_normal((1, 3, 64, 64)).astype(np.float32)
    assert model(x).shape == (1, 7)


def test_training_step_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch")
    from convcore.bench import torch_resnet

    rng = np.random.default_rng(3)
    spec = dict(blocks=(1, 2), widths=(4, 8), num_classes=5)
    theirs = torch_resnet(torch, **spec).double()
    ours = models.resnet(**spec, input_shape=(3, 32, 32), init=False, dtype=np.float64)
    state = _random_state(ours, rng)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    ours.load_state_dict(state)
    ours.train()
    theirs.train()
    x = rng.standard_normal((4, 3, 32, 32))
    labels = np.array([0, 3, 1, 4])
    xt = torch.from_numpy(x).requires_grad_()
    logits_t = theirs(xt)
    loss_t = torch.nn.functional.cross_entropy(logits_t, torch.from_numpy(labels))
    loss_t.backward()

    logits = ours(x)
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    grad_logits = (p - np.eye(5)[labels]) / len(labels)  # d mean cross-entropy / d logits
    gx = ours.backward(grad_logits)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    grads = ours.grads
    named = dict(theirs.named_parameters())
    assert sorted(grads) == sorted(named)
    for k, param in named.items():
        np.testing.assert_allclose(grads[k], param.grad.numpy(), rtol=1e-8, atol=1e-12,
                                   err_msg=k)
    # the step: SGD on both, then the same weights and running statistics
    lr = 0.1
    with torch.no_grad():
        for param in theirs.parameters():
            param -= lr * param.grad
    for k, param in ours.params.items():
        param -= lr * grads[k]
    after = theirs.state_dict()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v, after[k].numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


# ----------------------------------------------------------------------------------------
# CLI, report, bench


def test_cli_summary_of_builtin_networks(capsys):
    assert cli_main(["summary", "resnet50"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 25,557,032" in out and "\n  0 (Residual)" in out
    assert "\n    conv1 (Conv2d)" in out and "\n    downsample (Sequential)" in out
    assert cli_main(["summary", "googlenet", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_params"] == 6_624_904
    assert {"depth", "block"} <= set(data["rows"][0])


def test_report_googlenet_resnet_section():
    from convcore.report import _format_googlenet_resnet, googlenet_resnet

    r = googlenet_resnet()
    h = r["head"]
    assert h["volume"] == [7, 7, 1024] and h["gap_output"] == [1, 1, 1024]
    assert h["gap_params"] == 0
    assert r["googlenet_without_classifier"] == 6_624_904 - 1_025_000
    assert h["fc_head_params"] == 7 * 7 * 1024 * 1000 + 1000
    assert h["gap_head_params"] == 1024 * 1000 + 1000
    assert h["params_saved"] == 7 * 7 * 1024 * 1000 - 1024 * 1000
    assert r["networks"]["googlenet"]["params"] == 6_624_904
    assert r["networks"]["resnet50"]["params"] == 25_557_032
    assert r["networks"]["alexnet"]["params"] == nn.summary("alexnet").total_params
    text = "\n".join(_format_googlenet_resnet(r))
    assert "49,152,000" in text and "6,624,904" in text and "11,689,512" in text


def test_bench_network_case_agrees_with_pytorch():
    pytest.importorskip("torch")
    from convcore.bench import NETWORK_CASES, _network_calls

    case = NETWORK_CASES[0]
    assert case.flops == 2 * models.summary("resnet18").total_macs
    for dtype, tol in (("float32", 1e-4), ("float64", 1e-12)):
        calls = _network_calls(case, dtype)
        ours, theirs = calls["convcore"](), calls["torch"]()
        assert ours.shape == theirs.shape == (1, 1000) and ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * np.abs(theirs).max())


def test_bench_network_target_verdicts():
    from convcore.bench import _network_targets

    def report(ratio, others=0.0):
        row = {"median_s": 0.05, "ratios": {"torch": ratio}}
        return {"cases": [{"kind": "network", "target": "network", "dtype": "float32",
                           "name": "resnet18_224_b1", "results": {"convcore": row},
                           "others_cores": others},
                          {"kind": "network", "target": "network", "dtype": "float64",
                           "name": "resnet18_224_b1", "results": {"convcore": row}}]}

    (passed,) = _network_targets(report(1.1))
    assert passed["status"] == "PASS" and passed["limit"] == 1.2 and passed["group"] == "network"
    (failed,) = _network_targets(report(1.3, others=1.5))
    assert failed["status"] == "FAIL" and failed.get("contended")
    (skipped,) = _network_targets({"cases": [dict(report(1.0)["cases"][0],
                                                  results={"convcore": {"ratios": {}}})]})
    assert skipped["status"] == "SKIP"
