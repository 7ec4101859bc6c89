"""Transposed convolution layers (``ConvTranspose1d/2d/3d``) on
:func:`convcore.conv_transpose2d` and its relatives."""

from __future__ import annotations

import numpy as np

from convcore._checks import as_bool, int_tuple
from convcore._shapes import check_output_padding
from convcore.nn._layer import Layer, float_dtype, shaped
from convcore.nn.layers import _conv_attributes, _init_weight_and_bias, _kwargs_repr
from convcore.transpose import (
    ALGORITHMS,
    BACKWARD_ALGORITHMS,
    conv_transpose1d,
    conv_transpose1d_backward,
    conv_transpose2d,
    conv_transpose2d_backward,
    conv_transpose3d,
    conv_transpose3d_backward,
    prepare_transpose,
)

_FORWARD = {1: conv_transpose1d, 2: conv_transpose2d, 3: conv_transpose3d}
_BACKWARD = {1: conv_transpose1d_backward, 2: conv_transpose2d_backward,
             3: conv_transpose3d_backward}


class _ConvTransposeNd(Layer):
    _nd = 2
    _param_names = ("weight", "bias")

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, *, algorithm="auto",
                 dtype=np.float32, rng=None, init=True):
        super().__init__()
        _conv_attributes(self, in_channels, out_channels, groups, kernel_size, stride,
                         dilation)
        self.padding = int_tuple("padding", padding, self._nd, minimum=0)
        self.output_padding = check_output_padding(output_padding, self.stride, self.dilation)
        allowed = ALGORITHMS if self._nd == 2 else BACKWARD_ALGORITHMS
        if algorithm not in allowed:
            raise ValueError(f"algorithm must be one of {allowed}, got {algorithm!r}")
        self.algorithm = algorithm
        self.dtype = float_dtype(dtype)
        has_bias = as_bool("bias", bias)
        # PyTorch's layout and fan_in: weight (in, out // groups, *k), fan_in = its
        # prod(shape[1:]) = out // groups * prod(k)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        _init_weight_and_bias(self, shape, has_bias, init, rng, n_bias=self.out_channels)

    def _call_args(self):
        return (self.stride, self.padding, self.output_padding, self.groups, self.dilation)

    def _forward(self, x):
        return _FORWARD[self._nd](x, self.weight, self.bias, *self._call_args(),
                                  algorithm=self.algorithm)

    def _backward(self, grad_output):
        needs = ("input", "weight", "bias") if self.bias is not None else ("input", "weight")
        # the input gradient is a strided forward convolution, which Winograd does not run
        algorithm = "auto" if self.algorithm == "winograd" else self.algorithm
        gi, gw, gb = _BACKWARD[self._nd](self._grad(grad_output), self._input, self.weight,
                                         *self._call_args(), needs=needs, algorithm=algorithm)
        self.grads = {"weight": gw} if gb is None else {"weight": gw, "bias": gb}
        return gi

    def _geometry(self, shape):
        return prepare_transpose(self._nd, shaped(shape), shaped(self.weight.shape), None,
                                 *self._call_args())[0]

    def _output_shape(self, shape):
        g = self._geometry(shape)
        lead = (g.N,) if len(shape) == self._nd + 2 else ()
        return (*lead, g.K, *g.out)

    def _macs(self, shape):
        return self._geometry(shape).macs

    def __repr__(self) -> str:
        nd = self._nd
        extra = [("stride", self.stride, (1,) * nd), ("padding", self.padding, (0,) * nd),
                 ("output_padding", self.output_padding, (0,) * nd),
                 ("groups", self.groups, 1), ("bias", self.bias is not None, True),
                 ("dilation", self.dilation, (1,) * nd), ("algorithm", self.algorithm, "auto")]
        opts = _kwargs_repr((k, v) for k, v, default in extra if v != default)
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}{', ' + opts if opts else ''})")


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer, as ``torch.nn.ConvTranspose2d``, on
    :func:`convcore.conv_transpose2d` (a decoder's upsampling layer).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int)
    padding : int or (int, int)
        Cropped from both sides of each output dimension.
    output_padding : int or (int, int)
        Added after each output dimension; smaller than the stride or the dilation.
    groups : int
    bias : bool
    algorithm : {'auto', 'direct', 'im2col'}, or 'winograd' for ConvTranspose2d
        The forward kernels the phases (and the input gradient) run on; 'winograd' runs
        the forward call as one Winograd layer (:func:`convcore.conv_transpose2d`) and
        leaves the input gradient to 'auto'.
    dtype : float32 or float64
    rng : None, int or numpy.random.Generator
    init : bool
        False leaves the parameters as zero-memory placeholders (see :class:`Conv2d`).

    Attributes
    ----------
    weight : ndarray, shape (in_channels, out_channels // groups, *kernel_size)
        PyTorch's layout and initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
        fan_in = out_channels // groups * R * S.
    bias : ndarray, shape (out_channels,), or None
    grads : dict
        'weight' and 'bias' gradients of the last :meth:`backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> up = nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1, rng=0)
    >>> up.num_params, up.output_shape((8, 128, 32, 32))
    (131136, (8, 64, 64, 64))
    >>> up(np.zeros((1, 128, 5, 5), np.float32)).shape
    (1, 64, 10, 10)
    """

    _nd = 2


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer, as ``torch.nn.ConvTranspose1d``: the parameters
    of :class:`ConvTranspose2d` over one dimension, input (N, C, L) or (C, L).

    Examples
    --------
    >>> from convcore import nn
    >>> nn.ConvTranspose1d(16, 8, 4, stride=2, padding=1, rng=0).output_shape((1, 16, 50))
    (1, 8, 100)
    """

    _nd = 1


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution layer, as ``torch.nn.ConvTranspose3d``: the parameters
    of :class:`ConvTranspose2d` over depth, height and width, input (N, C, D, H, W).

    Examples
    --------
    >>> from convcore import nn
    >>> layer = nn.ConvTranspose3d(32, 16, 2, stride=2, rng=0)
    >>> layer.num_params, layer.output_shape((1, 32, 8, 16, 16))
    (4112, (1, 16, 16, 32, 32))
    """

    _nd = 3
