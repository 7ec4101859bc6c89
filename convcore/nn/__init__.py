"""Layers over convcore's kernels, with PyTorch's names, shapes and initialisation.

``Conv2d``, ``Conv1d``, ``MaxPool2d``, ``AvgPool2d``, ``GlobalAvgPool2d``, ``ReLU``,
``Flatten``, ``Linear``, ``Dropout`` and ``Sequential``: NumPy arrays in and out, a
``backward`` pass filling ``layer.grads``, ``train()`` / ``eval()``, weights saved to
and loaded from ``.npz`` or a PyTorch ``state_dict``; ``Sequential.summary`` prints
each layer's output shape, parameters and multiply-accumulates, and ``from_spec``
builds a network from a compact text such as ``"input 3x224x224, conv3-64 p1, ..."``.

Examples
--------
>>> from convcore import nn
>>> print(nn.summary("lenet5").total_params)
61706
"""

from convcore.nn._layer import Layer
from convcore.nn.layers import (
    AvgPool2d,
    Conv1d,
    Conv2d,
    Dropout,
    Flatten,
    GlobalAvgPool2d,
    Linear,
    MaxPool2d,
    ReLU,
)
from convcore.nn.sequential import Sequential, Summary, SummaryRow
from convcore.nn.spec import BUILTIN_SPECS, from_spec, summary

__all__ = [
    "BUILTIN_SPECS",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2d",
    "Layer",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sequential",
    "Summary",
    "SummaryRow",
    "from_spec",
    "summary",
]
