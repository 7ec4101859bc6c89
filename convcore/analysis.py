"""The lecture's cost model: what a convolution, its sparse matrix and its dense matrix
store and compute, and the parameter counts of convolutional, locally connected and
fully connected layers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convcore._checks import as_int, int_tuple
from convcore.functional import _prepare

_INDEX_BYTES = 8  # convcore's CSR matrices use int64 indices


@dataclass(frozen=True)
class RepresentationCost:
    """Storage and arithmetic of one representation of a convolution."""

    stored_floats: int
    index_entries: int  # integers stored besides the values (CSR: indices + row pointers)
    muls: int
    adds: int
    itemsize: int = 4

    @property
    def flops(self) -> int:
        return self.muls + self.adds

    @property
    def bytes(self) -> int:
        return self.stored_floats * self.itemsize + self.index_entries * _INDEX_BYTES


def _layer_geometry(c_in, h, w, c_out, r, s, stride, padding, dilation, groups):
    """The validated geometry of a layer described by sizes only (zero-strided stand-ins
    for the arrays: no memory, the same checks and messages as conv2d)."""
    image = np.broadcast_to(np.float32(0), (1, c_in, h, w))
    weight = np.broadcast_to(np.float32(0), (c_out, max(c_in // max(groups, 1), 1), r, s))
    return _prepare(2, image, weight, None, stride, padding, dilation, groups)[0]


def _taps_inside(n: int, n_out: int, k: int, stride: int, dilation: int, pad: int) -> int:
    """Sum over the outputs of the number of their k taps that land inside [0, n)."""
    o = np.arange(n_out)[:, None] * stride - pad + np.arange(k)[None, :] * dilation
    return int(((o >= 0) & (o < n)).sum())


def representation_costs(input_shape, kernel_shape, stride=1, padding=0, dilation=1,
                         in_channels=1, out_channels=1, groups=1, *, bias=False,
                         dtype=np.float32) -> dict[str, RepresentationCost]:
    """Costs of a 2-D convolution stored as its kernel, as a sparse (CSR) matrix and as
    a dense matrix, for one image.

    Counting rules: every (output, input) pair the kernel touches inside the image is
    one multiplication (padding costs nothing); an output that sums ``T`` products takes
    ``T - 1`` additions, plus 1 for the bias when ``bias``.  The dense matrix multiplies
    every entry of its rows: ``rows * cols`` multiplications and ``rows * (cols - 1)``
    additions.  The sparse matrix stores one value and one column index per touched
    pair plus ``rows + 1`` row pointers and does the convolution's arithmetic.

    Parameters
    ----------
    input_shape, kernel_shape : (int, int)
        (H, W) and (R, S).
    stride, padding, dilation, groups
        As :func:`convcore.conv2d`.
    in_channels, out_channels : int
    bias : bool
        Count a bias per output channel.
    dtype : float32 or float64
        For ``bytes``.

    Returns
    -------
    dict
        ``{"convolution": ..., "sparse": ..., "dense": ...}`` of
        :class:`RepresentationCost` (``stored_floats``, ``index_entries``, ``muls``,
        ``adds``, ``flops``, ``bytes``).

    Examples
    --------
    >>> from convcore.analysis import representation_costs
    >>> c = representation_costs((320, 280), (2, 1))       # the lecture's edge detector
    >>> c["convolution"].stored_floats, c["sparse"].stored_floats, c["convolution"].flops
    (2, 178640, 267960)
    >>> c["dense"].stored_floats == 319 * 280 * 320 * 280
    True
    """
    h, w = int_tuple("input_shape", input_shape, 2)
    r, s = int_tuple("kernel_shape", kernel_shape, 2)
    c_in, c_out = as_int("in_channels", in_channels), as_int("out_channels", out_channels)
    g = _layer_geometry(c_in, h, w, c_out, r, s, stride, padding, dilation, groups)
    itemsize = np.dtype(dtype).itemsize
    cg, outputs = g.C // g.groups, g.K * g.Hout * g.Wout
    pairs = (g.K * cg * _taps_inside(g.H, g.Hout, g.R, g.stride[0], g.dilation[0], g.pad[0][0])
             * _taps_inside(g.W, g.Wout, g.S, g.stride[1], g.dilation[1], g.pad[1][0]))
    adds = pairs - outputs + (outputs if bias else 0)
    cols = g.C * g.H * g.W
    params = g.K * cg * g.R * g.S + (g.K if bias else 0)
    return {
        "convolution": RepresentationCost(params, 0, pairs, adds, itemsize),
        "sparse": RepresentationCost(pairs + (g.K if bias else 0), pairs + outputs + 1, pairs,
                                     adds, itemsize),
        "dense": RepresentationCost(outputs * cols + (g.K if bias else 0), 0, outputs * cols,
                                    outputs * (cols - 1) + (outputs if bias else 0), itemsize),
    }


def conv_params(in_channels, out_channels, kernel_size, groups=1, bias=True) -> int:
    """Parameters of a convolution: ``out * (in / groups) * R * S`` weights plus ``out``
    biases (the lecture: F^2 * C * D weights and D biases).

    Examples
    --------
    >>> from convcore.analysis import conv_params
    >>> conv_params(3, 1, 3), conv_params(3, 4, 3)      # the lecture's 28 and 112
    (28, 112)
    """
    r, s = int_tuple("kernel_size", kernel_size, 2)
    c_in, c_out, groups = (as_int(n, v) for n, v in (("in_channels", in_channels),
                                                    ("out_channels", out_channels),
                                                    ("groups", groups)))
    if groups < 1 or c_in % groups or c_out % groups:
        raise ValueError(f"in_channels {c_in} and out_channels {c_out} must be divisible by "
                         f"groups={groups}")
    return c_out * (c_in // groups) * r * s + (c_out if bias else 0)


def fc_params(in_features, out_features, bias=True) -> int:
    """Parameters of a fully connected layer: ``in * out`` weights plus ``out`` biases.

    Examples
    --------
    >>> from convcore.analysis import fc_params
    >>> fc_params(32 * 32, 32 * 32)                      # the lecture's ~1M
    1049600
    """
    n_in, n_out = as_int("in_features", in_features), as_int("out_features", out_features)
    if n_in < 1 or n_out < 1:
        raise ValueError(f"features must be >= 1, got {n_in} and {n_out}")
    return n_in * n_out + (n_out if bias else 0)


def locally_connected_params(output_size, kernel_size, in_channels=1, out_channels=1,
                             bias=True) -> int:
    """Parameters of a locally connected layer (a convolution without weight sharing):
    every output pixel of every output channel has its own ``in * R * S`` weights and
    bias.

    Examples
    --------
    >>> from convcore.analysis import locally_connected_params
    >>> locally_connected_params(30, 3), locally_connected_params(30, 3, in_channels=3)
    (9000, 25200)
    """
    oh, ow = int_tuple("output_size", output_size, 2)
    r, s = int_tuple("kernel_size", kernel_size, 2)
    c_in, c_out = as_int("in_channels", in_channels), as_int("out_channels", out_channels)
    return oh * ow * c_out * (c_in * r * s + (1 if bias else 0))


def conv_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1,
              groups=1) -> int:
    """Multiply-accumulates of a convolution on one (C, H, W) input, in the convention
    of torchinfo and ptflops: ``out_channels * Hout * Wout * (C / groups) * R * S``, every
    kernel position counted (padding included), the bias not.

    Examples
    --------
    >>> from convcore.analysis import conv_macs
    >>> conv_macs((3, 224, 224), 64, 3, padding=1)       # VGG-16's first layer
    86704128
    """
    c, h, w = (as_int("input_shape", v) for v in input_shape)
    r, s = int_tuple("kernel_size", kernel_size, 2)
    g = _layer_geometry(c, h, w, as_int("out_channels", out_channels), r, s, stride, padding,
                        dilation, groups)
    return g.K * g.Hout * g.Wout * (g.C // g.groups) * g.R * g.S
