"""The networks of the lectures, built from convcore.nn layers.

LeNet-5, AlexNet, ZF Net and VGG-11/16/19 come from their text specs
(:data:`convcore.nn.BUILTIN_SPECS`); GoogLeNet and ResNet-18/34/50 are built here with
torchvision's structure and parameter names (``conv1.weight``, ``layer1.0.bn1.running_mean``,
``inception3a.branch2.1.conv.weight``, ``fc.bias`` ...), so a state_dict of a torchvision
model, or of any ``torch.nn`` model of the same structure, loads as it is.  Every
function takes ``init=False`` for zero-memory placeholders (a summary, or before
loading weights), ``rng`` and ``dtype``.

Examples
--------
>>> from convcore.nn import models
>>> models.resnet50(init=False).num_params
25557032
>>> round(models.summary("googlenet").total_macs / 1e9, 2)
1.5
"""

from __future__ import annotations

import numpy as np

from convcore.nn import layers as L
from convcore.nn._layer import Layer, generator
from convcore.nn.batchnorm import BatchNorm2d
from convcore.nn.containers import Concat, Residual, Sequential
from convcore.nn.spec import from_spec
from convcore.nn.summary import Summary

IMAGENET_INPUT = (3, 224, 224)


class _Maker:
    """Layers sharing one generator, init flag and dtype."""

    def __init__(self, init, rng, dtype):
        self.init, self.rng, self.dtype = init, generator(rng), dtype

    def conv(self, c_in, c_out, k, stride=1, padding=0, bias=False):
        return L.Conv2d(c_in, c_out, k, stride, padding, bias=bias, init=self.init,
                        rng=self.rng, dtype=self.dtype)

    def bn(self, c, eps=1e-5):
        return BatchNorm2d(c, eps=eps, dtype=self.dtype)

    def fc(self, n_in, n_out):
        return L.Linear(n_in, n_out, init=self.init, rng=self.rng, dtype=self.dtype)


def _named(model: Sequential, input_shape) -> Sequential:
    model.input_shape = tuple(input_shape)
    return model


# -- ResNet (He et al. 2015), torchvision's layout: the stride of a bottleneck on its 3x3 --

def _basic_block(m: _Maker, c_in: int, c: int, stride: int) -> Residual:
    block = Sequential({"conv1": m.conv(c_in, c, 3, stride, 1), "bn1": m.bn(c),
                        "relu": L.ReLU(), "conv2": m.conv(c, c, 3, 1, 1), "bn2": m.bn(c)})
    return Residual(block, _projection(m, c_in, c, stride), L.ReLU())


def _bottleneck(m: _Maker, c_in: int, c: int, stride: int) -> Residual:
    out = 4 * c
    block = Sequential({"conv1": m.conv(c_in, c, 1), "bn1": m.bn(c), "relu1": L.ReLU(),
                        "conv2": m.conv(c, c, 3, stride, 1), "bn2": m.bn(c), "relu2": L.ReLU(),
                        "conv3": m.conv(c, out, 1), "bn3": m.bn(out)})
    return Residual(block, _projection(m, c_in, out, stride), L.ReLU())


def _projection(m: _Maker, c_in: int, c_out: int, stride: int):
    if stride == 1 and c_in == c_out:
        return None
    return Sequential(m.conv(c_in, c_out, 1, stride), m.bn(c_out))


def resnet(blocks, bottleneck: bool = False, widths=(64, 128, 256, 512),
           num_classes: int = 1000, *, input_shape=IMAGENET_INPUT, init: bool = True,
           rng=None, dtype=np.float32) -> Sequential:
    """A ResNet of any depth and width, torchvision's layout: a 7x7 stride-2 stem of
    ``widths[0]`` channels, BatchNorm, ReLU, a 3x3 stride-2 max pool; stages of
    ``blocks[i]`` residual blocks of ``widths[i]`` channels (4x that out of a bottleneck),
    the first block of every stage but the first with stride 2 and a 1x1 projection
    shortcut; global average pooling; one fully connected layer.

    Parameters
    ----------
    blocks : sequence of int
        Blocks per stage: (2, 2, 2, 2) is ResNet-18, (3, 4, 6, 3) with ``bottleneck``
        ResNet-50.
    bottleneck : bool
        Bottleneck blocks (1x1, 3x3 with the stride, 1x1 to 4x the width) instead of
        basic blocks (two 3x3).
    widths : sequence of int
        Channels of each stage, as many as ``blocks``.
    num_classes : int
    input_shape : tuple of int
        The ``input_shape`` recorded for :meth:`Sequential.summary` (3, 224, 224).
    init, rng, dtype
        As for :func:`resnet18`.

    Examples
    --------
    >>> from convcore.nn import models
    >>> small = models.resnet((1, 1), widths=(8, 16), num_classes=10, input_shape=(3, 32, 32),
    ...                       init=False)
    >>> small.output_shape((2, 3, 32, 32)), small.num_params
    ((2, 10), 6226)
    """
    blocks, widths = tuple(blocks), tuple(widths)
    if not blocks or len(blocks) != len(widths):
        raise ValueError(f"blocks and widths must be non-empty and as long as each other, "
                         f"got {blocks} and {widths}")
    m = _Maker(init, rng, dtype)
    make, expansion = (_bottleneck, 4) if bottleneck else (_basic_block, 1)
    stages, c_in = {}, widths[0]
    for i, (n, c) in enumerate(zip(blocks, widths, strict=True)):
        stage = []
        for j in range(n):
            stage.append(make(m, c_in, c, 2 if j == 0 and i > 0 else 1))
            c_in = c * expansion
        stages[f"layer{i + 1}"] = Sequential(*stage)
    return _named(Sequential({
        "conv1": m.conv(input_shape[0], widths[0], 7, 2, 3), "bn1": m.bn(widths[0]),
        "relu": L.ReLU(), "maxpool": L.MaxPool2d(3, 2, 1), **stages,
        "avgpool": L.AdaptiveAvgPool2d(1), "flatten": L.Flatten(),
        "fc": m.fc(c_in, num_classes)}), input_shape)


def resnet18(num_classes: int = 1000, *, init: bool = True, rng=None,
             dtype=np.float32) -> Sequential:
    """ResNet-18: basic blocks (two 3x3 convolutions) in stages of 2, 2, 2, 2.

    Examples
    --------
    >>> from convcore.nn import models
    >>> model = models.resnet18(init=False)
    >>> model.num_params, round(model.summary().total_macs / 1e9, 2)
    (11689512, 1.81)
    """
    return resnet((2, 2, 2, 2), False, num_classes=num_classes, init=init, rng=rng,
                  dtype=dtype)


def resnet34(num_classes: int = 1000, *, init: bool = True, rng=None,
             dtype=np.float32) -> Sequential:
    """ResNet-34: basic blocks in stages of 3, 4, 6, 3.

    Examples
    --------
    >>> from convcore.nn import models
    >>> models.resnet34(init=False).num_params
    21797672
    """
    return resnet((3, 4, 6, 3), False, num_classes=num_classes, init=init, rng=rng,
                  dtype=dtype)


def resnet50(num_classes: int = 1000, *, init: bool = True, rng=None,
             dtype=np.float32) -> Sequential:
    """ResNet-50: bottleneck blocks (1x1, 3x3, 1x1 with 4x expansion) in stages of 3, 4,
    6, 3.

    Examples
    --------
    >>> from convcore.nn import models
    >>> model = models.resnet50(init=False)
    >>> model.num_params, round(model.summary().total_macs / 1e9, 2)
    (25557032, 4.09)
    """
    return resnet((3, 4, 6, 3), True, num_classes=num_classes, init=init, rng=rng,
                  dtype=dtype)


def resnet101(num_classes: int = 1000, *, init: bool = True, rng=None,
              dtype=np.float32) -> Sequential:
    """ResNet-101: bottleneck blocks in stages of 3, 4, 23, 3.

    Examples
    --------
    >>> from convcore.nn import models
    >>> models.resnet101(init=False).num_params
    44549160
    """
    return resnet((3, 4, 23, 3), True, num_classes=num_classes, init=init, rng=rng,
                  dtype=dtype)


def resnet152(num_classes: int = 1000, *, init: bool = True, rng=None,
              dtype=np.float32) -> Sequential:
    """ResNet-152, the lecture's 152 layers: bottleneck blocks in stages of 3, 8, 36, 3.

    Examples
    --------
    >>> from convcore.nn import models
    >>> models.resnet152(init=False).num_params
    60192808
    """
    return resnet((3, 8, 36, 3), True, num_classes=num_classes, init=init, rng=rng,
                  dtype=dtype)


# -- GoogLeNet (Szegedy et al. 2014), torchvision's layout without the aux classifiers ----

def _conv_bn_relu(m: _Maker, c_in: int, c_out: int, k: int, stride=1, padding=0):
    """torchvision's BasicConv2d: a convolution without bias, BatchNorm (eps 0.001), ReLU."""
    return Sequential({"conv": m.conv(c_in, c_out, k, stride, padding),
                       "bn": m.bn(c_out, eps=1e-3), "relu": L.ReLU()})


def _inception(m: _Maker, c_in: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
               ch5x5: int, pool_proj: int) -> Concat:
    return Concat({
        "branch1": _conv_bn_relu(m, c_in, ch1x1, 1),
        "branch2": Sequential(_conv_bn_relu(m, c_in, ch3x3red, 1),
                              _conv_bn_relu(m, ch3x3red, ch3x3, 3, padding=1)),
        "branch3": Sequential(_conv_bn_relu(m, c_in, ch5x5red, 1),
                              _conv_bn_relu(m, ch5x5red, ch5x5, 3, padding=1)),
        "branch4": Sequential(L.MaxPool2d(3, 1, 1, ceil_mode=True),
                              _conv_bn_relu(m, c_in, pool_proj, 1)),
    })


def inception(in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
              ch5x5: int, pool_proj: int, *, init: bool = True, rng=None,
              dtype=np.float32) -> Concat:
    """One inception module, as torchvision's: branch1 a 1x1 convolution; branch2 1x1
    then 3x3; branch3 1x1 then 3x3 (torchvision's "5x5" branch has a 3x3 kernel);
    branch4 a 3x3 max pool (stride 1) then 1x1; each convolution followed by BatchNorm
    (eps 0.001) and ReLU; the four outputs concatenated along the channels.

    Examples
    --------
    >>> from convcore.nn import models
    >>> block = models.inception(192, 64, 96, 128, 16, 32, 32, init=False)
    >>> block.output_shape((1, 192, 28, 28)), block.num_params
    ((1, 256, 28, 28), 155872)
    """
    return _inception(_Maker(init, rng, dtype), in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red,
                      ch5x5, pool_proj)


_INCEPTIONS = {  # in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "maxpool3": None,
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "maxpool4": None,
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def googlenet(num_classes: int = 1000, *, init: bool = True, rng=None,
              dtype=np.float32) -> Sequential:
    """GoogLeNet (Inception v1) with BatchNorm, as torchvision builds it, without the
    auxiliary classifiers: nine inception modules, global average pooling of 7x7x1024 to
    1x1x1024, dropout 0.2 and one fully connected layer.

    Examples
    --------
    >>> from convcore.nn import models
    >>> models.googlenet(init=False).num_params
    6624904
    """
    m = _Maker(init, rng, dtype)
    body: dict[str, Layer] = {
        "conv1": _conv_bn_relu(m, 3, 64, 7, 2, 3),
        "maxpool1": L.MaxPool2d(3, 2, ceil_mode=True),
        "conv2": _conv_bn_relu(m, 64, 64, 1),
        "conv3": _conv_bn_relu(m, 64, 192, 3, padding=1),
        "maxpool2": L.MaxPool2d(3, 2, ceil_mode=True),
    }
    for name, sizes in _INCEPTIONS.items():
        if sizes is None:
            k = 3 if name == "maxpool3" else 2
            body[name] = L.MaxPool2d(k, 2, ceil_mode=True)
        else:
            body[name] = _inception(m, *sizes)
    body.update(avgpool=L.AdaptiveAvgPool2d(1), flatten=L.Flatten(),
                dropout=L.Dropout(0.2, rng=m.rng), fc=m.fc(1024, num_classes))
    return _named(Sequential(body), IMAGENET_INPUT)


# -- the spec-built ones ---------------------------------------------------------------

def _from_spec(name: str):
    def build(*, init: bool = True, rng=None, dtype=np.float32) -> Sequential:
        return from_spec(name, init=init, rng=rng, dtype=dtype)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"""{name}, built from its text spec :data:`convcore.nn.BUILTIN_SPECS`
    ``[{name!r}]``.

    Examples
    --------
    >>> from convcore.nn import models
    >>> models.{name}(init=False).num_params == models.summary({name!r}).total_params
    True
    """
    return build


lenet5 = _from_spec("lenet5")
alexnet = _from_spec("alexnet")
zfnet = _from_spec("zfnet")
vgg11 = _from_spec("vgg11")
vgg16 = _from_spec("vgg16")
vgg19 = _from_spec("vgg19")

MODELS = {"lenet5": lenet5, "alexnet": alexnet, "zfnet": zfnet, "vgg11": vgg11,
          "vgg16": vgg16, "vgg19": vgg19, "googlenet": googlenet, "resnet18": resnet18,
          "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101,
          "resnet152": resnet152}


def build(name: str, *, init: bool = True, rng=None, dtype=np.float32) -> Sequential:
    """The built-in network ``name`` (a key of :data:`MODELS`, any case).

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.

    Examples
    --------
    >>> from convcore.nn import models
    >>> models.build("ResNet18", init=False).num_params
    11689512
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = name.lower().replace("-", "").replace("_", "")
    if key not in MODELS:
        raise ValueError(f"unknown network {name!r}; built in: {', '.join(MODELS)}")
    return MODELS[key](init=init, rng=rng, dtype=dtype)


def summary(name: str) -> Summary:
    """The summary of a built-in network on its usual input, without allocating weights.

    Examples
    --------
    >>> from convcore.nn import models
    >>> models.summary("resnet18").total_params
    11689512
    """
    return build(name, init=False).summary()


__all__ = ["MODELS", "alexnet", "build", "googlenet", "inception", "lenet5", "resnet18",
           "resnet", "resnet34", "resnet50", "resnet101", "resnet152", "summary", "vgg11", "vgg16",
           "vgg19", "zfnet"]
