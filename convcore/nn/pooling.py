"""Pooling layers in 1-D and 3-D, adaptive max pooling and max unpooling.

The 3-D and adaptive layers are the 2-D ones of :mod:`convcore.nn.layers` with another
number of spatial dimensions and their functions (:func:`convcore.max_pool3d`,
:func:`convcore.adaptive_max_pool1d` ...).
"""

from __future__ import annotations

import numpy as np

from convcore._checks import int_tuple
from convcore.nn._layer import Layer
from convcore.nn.layers import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, _kwargs_repr
from convcore.pooling import (
    _pool_input,
    _unpool_output_size,
    adaptive_avg_pool1d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool3d,
    avg_pool3d_backward,
    max_pool3d,
    max_pool3d_backward,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    max_unpool_backward,
    scatter_indices_backward,
)


class MaxPool3d(MaxPool2d):
    """3-D max pooling, as ``torch.nn.MaxPool3d``, on :func:`convcore.max_pool3d`.

    Parameters and modes as :class:`MaxPool2d` with three sizes (depth, height, width).

    Examples
    --------
    >>> from convcore import nn
    >>> nn.MaxPool3d(2).output_shape((1, 64, 16, 56, 56))
    (1, 64, 8, 28, 28)
    """

    _nd = 3
    _pool, _pool_backward = staticmethod(max_pool3d), staticmethod(max_pool3d_backward)


class AvgPool3d(AvgPool2d):
    """3-D average pooling, as ``torch.nn.AvgPool3d``, on :func:`convcore.avg_pool3d`.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.AvgPool3d((1, 2, 2)).output_shape((3, 8, 32, 32))
    (3, 8, 16, 16)
    """

    _nd = 3
    _pool, _pool_backward = staticmethod(avg_pool3d), staticmethod(avg_pool3d_backward)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling to a fixed length, as ``torch.nn.AdaptiveAvgPool1d``.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.AdaptiveAvgPool1d(5).output_shape((2, 8, 100))
    (2, 8, 5)
    """

    _nd = 1
    _pool = staticmethod(adaptive_avg_pool1d)


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """Average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool3d``.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.AdaptiveAvgPool3d((1, None, 7)).output_shape((2, 8, 4, 14, 14))
    (2, 8, 1, 14, 7)
    """

    _nd = 3
    _pool = staticmethod(adaptive_avg_pool3d)


class AdaptiveMaxPool2d(AdaptiveAvgPool2d):
    """Max pooling to a fixed output size, as ``torch.nn.AdaptiveMaxPool2d``; the backward
    pass sends each output's gradient to its window's argmax.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> nn.AdaptiveMaxPool2d(1)(np.arange(8.0).reshape(2, 2, 2)).ravel()
    array([3., 7.])
    """

    _pool = staticmethod(adaptive_max_pool2d)

    def _forward(self, x):
        y, self._indices = self._pool(x, self.output_size, return_indices=True)
        return y

    def _backward(self, grad_output):
        return scatter_indices_backward(self._nd, self._grad(grad_output), self._input,
                                        self._indices)


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max pooling to a fixed length, as ``torch.nn.AdaptiveMaxPool1d``.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.AdaptiveMaxPool1d(2)([[1.0, 5.0, 3.0, 4.0, 2.0]])
    array([[5., 4.]])
    """

    _nd = 1
    _pool = staticmethod(adaptive_max_pool1d)


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    """Max pooling to a fixed output size, as ``torch.nn.AdaptiveMaxPool3d``.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.AdaptiveMaxPool3d(1).output_shape((2, 512, 2, 7, 7))
    (2, 512, 1, 1, 1)
    """

    _nd = 3
    _pool = staticmethod(adaptive_max_pool3d)


class MaxUnpool2d(Layer):
    """Partial inverse of :class:`MaxPool2d`, as ``torch.nn.MaxUnpool2d``, on
    :func:`convcore.max_unpool2d`: ``layer(x, indices, output_size=None)``.

    The forward pass takes the pool's indices besides ``x`` (so it runs as a step of its
    own, not inside a Sequential); :meth:`output_shape` gives the default output size,
    which is what a summary shows.  The backward pass reads the gradient back at the
    indices.

    Parameters
    ----------
    kernel_size, stride, padding : int or tuple
        Those of the max pool; ``stride`` defaults to ``kernel_size``.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> pool, unpool = nn.MaxPool2d(2), nn.MaxUnpool2d(2)
    >>> x = np.array([[[1.0, 4.0], [3.0, 2.0]]])
    >>> unpool(pool(x), pool._indices)
    array([[[0., 4.],
            [0., 0.]]])
    >>> unpool.output_shape((1, 64, 28, 28))
    (1, 64, 56, 56)
    """

    _nd = 2
    _unpool = staticmethod(max_unpool2d)

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        nd = self._nd
        self.kernel_size = int_tuple("kernel_size", kernel_size, nd)
        self.stride = self.kernel_size if stride is None else int_tuple("stride", stride, nd)
        self.padding = int_tuple("padding", padding, nd, minimum=0)
        self._indices = None
        self._size = None

    def __call__(self, x, indices=None, output_size=None) -> np.ndarray:
        return self.forward(x, indices, output_size)

    def forward(self, x, indices=None, output_size=None) -> np.ndarray:
        """Unpool ``x`` at ``indices`` (from the max pool's ``return_indices``)."""
        if indices is None:
            raise TypeError(f"{self!r}: forward needs the pool's indices: "
                            "layer(x, indices, output_size=None)")
        self._indices, self._size = indices, output_size
        return super().forward(x)

    def _forward(self, x):
        return self._unpool(x, self._indices, self.kernel_size, self.stride, self.padding,
                            self._size)

    def _output_shape(self, shape):
        nd = self._nd
        _pool_input(nd, type(self).__name__, np.broadcast_to(np.zeros(()), shape))
        return (*shape[:-nd], *_unpool_output_size(nd, type(self).__name__, shape[-nd:],
                                                   self.kernel_size, self.stride,
                                                   self.padding, None))

    def _backward(self, grad_output):
        return max_unpool_backward(self._grad(grad_output), self._indices, self._nd)

    def __repr__(self) -> str:
        opts = [("stride", self.stride, self.kernel_size),
                ("padding", self.padding, (0,) * self._nd)]
        extra = _kwargs_repr((k, v) for k, v, d in opts if v != d)
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}"
                f"{', ' + extra if extra else ''})")


class MaxUnpool1d(MaxUnpool2d):
    """Partial inverse of a 1-D max pool, as ``torch.nn.MaxUnpool1d``.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.MaxUnpool1d(2).output_shape((4, 16, 50))
    (4, 16, 100)
    """

    _nd = 1
    _unpool = staticmethod(max_unpool1d)


class MaxUnpool3d(MaxUnpool2d):
    """Partial inverse of :class:`MaxPool3d`, as ``torch.nn.MaxUnpool3d``.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.MaxUnpool3d(2).output_shape((1, 64, 8, 28, 28))
    (1, 64, 16, 56, 56)
    """

    _nd = 3
    _unpool = staticmethod(max_unpool3d)
