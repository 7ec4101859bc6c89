"""Layers over convcore's kernels, with PyTorch's names, shapes and initialisation.

Layers: ``Conv2d``, ``Conv1d``, ``Conv3d``, ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``,
``GlobalAvgPool2d``, ``BatchNorm1d/2d/3d``, ``ReLU``, ``Identity``, ``Flatten``,
``Linear``, ``Dropout``; containers: ``Sequential``, ``Concat`` (= ``Parallel``,
branches joined along the channels: an inception module) and ``Residual`` (a block plus
its shortcut).  NumPy arrays in and out, a ``backward`` pass filling ``layer.grads``,
``train()`` / ``eval()``, weights saved to and loaded from ``.npz`` or a PyTorch
``state_dict`` (PyTorch's key names); ``fold_batchnorm`` / ``fold_batchnorms`` for
inference.  ``Sequential.summary`` prints each layer's output shape, parameters and
multiply-accumulates, indented by block; ``from_spec`` builds a network from a compact
text such as ``"input 3x224x224, conv3-64 p1, ..."`` (:data:`SPEC_GRAMMAR`), and
:mod:`convcore.nn.models` holds the networks of the lectures (LeNet-5 to ResNet-50).

Transposed convolution layers (decoders): ``ConvTranspose1d``, ``ConvTranspose2d``,
``ConvTranspose3d``.
Pooling in 1-D and 3-D: ``MaxPool3d``, ``AvgPool3d``, ``AdaptiveAvgPool1d/3d``,
``AdaptiveMaxPool1d/2d/3d`` and the partners of ``return_indices``,
``MaxUnpool1d/2d/3d`` (:mod:`convcore.nn.pooling`).

Examples
--------
>>> from convcore import nn
>>> print(nn.summary("lenet5").total_params)
61706
"""

from convcore.nn import models
from convcore.nn._layer import Layer
from convcore.nn.batchnorm import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    fold_batchnorm,
    fold_batchnorms,
)
from convcore.nn.containers import Concat, Parallel, Residual, Sequential
from convcore.nn.conv_transpose import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from convcore.nn.layers import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    Conv1d,
    Conv2d,
    Conv3d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Identity,
    Linear,
    MaxPool2d,
    ReLU,
)
from convcore.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool3d,
    MaxPool3d,
    MaxUnpool1d,
    MaxUnpool2d,
    MaxUnpool3d,
)
from convcore.nn.spec import BUILTIN_SPECS, SPEC_GRAMMAR, from_spec, summary
from convcore.nn.summary import Summary, SummaryRow

__all__ = [
    "BUILTIN_SPECS",
    "SPEC_GRAMMAR",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Concat",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Conv3d",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "Identity",
    "Layer",
    "Linear",
    "MaxPool2d",
    "Parallel",
    "ReLU",
    "Residual",
    "Sequential",
    "Summary",
    "SummaryRow",
    "fold_batchnorm",
    "fold_batchnorms",
    "from_spec",
    "models",
    "summary",
]
__all__ += [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool3d",
    "MaxPool3d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "MaxUnpool3d",
]
