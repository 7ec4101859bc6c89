"""The layers: convolutions, pooling, activations, fully connected, dropout, identity.

Each runs on convcore's kernels (:func:`convcore.conv2d`, :func:`convcore.max_pool2d`,
their backward functions ...) and holds its parameters as NumPy arrays with PyTorch's
shapes, initialised as PyTorch initialises them.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from convcore import _packed
from convcore import backward as _backward_functions
from convcore._auto import choose_algorithm
from convcore._checks import (
    as_bool,
    as_int,
    as_real_array,
    check_memory,
    compute_dtype,
    int_tuple,
    padding_pairs,
)
from convcore._geometry import check_padding_mode, check_pool_padding
from convcore._geometry import prepare_conv as _prepare
from convcore._matmul import matmul
from convcore._threads import get_num_threads
from convcore.functional import ALGORITHMS, conv1d, conv2d, conv3d, relu
from convcore.nn._layer import Layer, float_dtype, generator, numel, shaped
from convcore.pooling import (
    _PoolCall,
    adaptive_avg_pool2d,
    avg_pool2d,
    avg_pool2d_backward,
    global_avg_pool2d,
    max_pool2d,
    max_pool2d_backward,
)


def _init_weight_and_bias(layer: Layer, shape: tuple, has_bias: bool, init, rng,
                          n_bias: int | None = None) -> None:
    """PyTorch's default initialisation: ``kaiming_uniform_(a=sqrt(5))`` for the weight,
    which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = prod(shape[1:]), and the
    same bound for the bias (``n_bias`` of them, default ``shape[0]``); weight first,
    then bias, from one generator.  With ``init=False``, zero-memory placeholders that
    ``forward`` refuses."""
    dtype, out = layer.dtype, shape[0] if n_bias is None else n_bias
    if as_bool("init", init):
        rng = generator(rng)
        # the draws are float64 before the cast: both arrays exist at once
        count = numel(shape) + (out if has_bias else 0)
        check_memory(count * (8 + dtype.itemsize),
                     f"{type(layer).__name__} with weight {shape}: {count:,} parameters "
                     f"({dtype}, drawn in float64 first)")
        bound = 1.0 / math.sqrt(numel(shape[1:]))
        layer.weight = rng.uniform(-bound, bound, shape).astype(dtype)
        layer.bias = rng.uniform(-bound, bound, out).astype(dtype) if has_bias else None
    else:
        layer.weight = shaped(shape, dtype)
        layer.bias = shaped((out,), dtype) if has_bias else None
        layer._uninitialised = {"weight", "bias"} if has_bias else {"weight"}


def _positive(name: str, value) -> int:
    v = as_int(name, value)
    if v < 1:
        raise ValueError(f"{name} must be >= 1, got {v}")
    return v


def _kwargs_repr(pairs) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in pairs)


def _conv_attributes(layer: Layer, in_channels, out_channels, groups, kernel_size, stride,
                     dilation) -> None:
    """The checked channel counts, groups and per-dimension sizes of a convolution
    layer (forward or transposed) of ``layer._nd`` spatial dimensions."""
    nd = layer._nd
    layer.in_channels = _positive("in_channels", in_channels)
    layer.out_channels = _positive("out_channels", out_channels)
    layer.groups = _positive("groups", groups)
    if layer.in_channels % layer.groups or layer.out_channels % layer.groups:
        raise ValueError(f"in_channels {layer.in_channels} and out_channels "
                         f"{layer.out_channels} must be divisible by groups={layer.groups}")
    layer.kernel_size = int_tuple("kernel_size", kernel_size, nd)
    layer.stride = int_tuple("stride", stride, nd)
    layer.dilation = int_tuple("dilation", dilation, nd)


class _ConvNd(Layer):
    _nd = 2
    _param_names = ("weight", "bias")

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", *, algorithm="auto",
                 dtype=np.float32, rng=None, init=True):
        super().__init__()
        nd = self._nd
        self.padding_mode = check_padding_mode(padding_mode)
        _conv_attributes(self, in_channels, out_channels, groups, kernel_size, stride,
                         dilation)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding must be an int, a tuple, 'valid' or 'same'; "
                                 f"got {padding!r}")
        else:
            padding_pairs(padding, nd)  # validated here, passed on as given
        self.padding = padding
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
        self.algorithm = algorithm
        self.dtype = float_dtype(dtype)
        has_bias = as_bool("bias", bias)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        _init_weight_and_bias(self, shape, has_bias, init, rng)

    def _call_args(self):
        return (self.stride, self.padding, self.dilation, self.groups)

    def _forward(self, x):
        fn = {1: conv1d, 2: conv2d, 3: conv3d}[self._nd]
        return fn(x, self.weight, self.bias, *self._call_args(),
                  algorithm=self._algorithm_for(x), padding_mode=self.padding_mode)

    def _algorithm_for(self, x) -> str:
        """``algorithm``, with 'auto' resolved counting the direct kernel's packed weights
        as kept when they are (read-only weights, as fold_batchnorm makes): such a layer
        packs once, so the direct route costs it less than it costs a one-off call."""
        if (self.algorithm != "auto" or not _packed.eligible(self.weight)
                or getattr(x, "dtype", None) != self.weight.dtype):
            return self.algorithm
        try:
            g = self._geometry(np.shape(x))
        except (TypeError, ValueError):
            return self.algorithm  # the convolution itself reports what is wrong
        return choose_algorithm(g, self.weight.dtype, weights_kept=True)

    def _backward(self, grad_output):
        fn = getattr(_backward_functions, f"conv{self._nd}d_backward")
        needs = ("input", "weight", "bias") if self.bias is not None else ("input", "weight")
        # the sparse matrix is a forward-only route; its gradients come from 'auto'
        algorithm = "auto" if self.algorithm == "sparse" else self.algorithm
        gi, gw, gb = fn(self._grad(grad_output), self._input, self.weight,
                        *self._call_args(), needs=needs, algorithm=algorithm,
                        padding_mode=self.padding_mode)
        self.grads = {"weight": gw} if gb is None else {"weight": gw, "bias": gb}
        return gi

    def _geometry(self, shape):
        return _prepare(self._nd, shaped(shape), shaped(self.weight.shape), None,
                        *self._call_args(), self.padding_mode)[0]

    def _output_shape(self, shape):
        g = self._geometry(shape)
        spatial = g.out[-self._nd:]
        lead = (g.N,) if len(shape) == self._nd + 2 else ()
        return (*lead, g.K, *spatial)

    def _macs(self, shape):
        return self._geometry(shape).macs

    def __repr__(self) -> str:
        nd = self._nd
        extra = [("stride", self.stride, (1,) * nd), ("padding", self.padding, 0),
                 ("dilation", self.dilation, (1,) * nd), ("groups", self.groups, 1),
                 ("bias", self.bias is not None, True),
                 ("padding_mode", self.padding_mode, "zeros"),
                 ("algorithm", self.algorithm, "auto")]
        opts = _kwargs_repr((k, v) for k, v, default in extra if v != default)
        # torch writes the mode unquoted: padding_mode=reflect
        opts = opts.replace(f"padding_mode={self.padding_mode!r}",
                            f"padding_mode={self.padding_mode}")
        k = self.kernel_size if nd >= 2 else self.kernel_size[0]
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={k}{', ' + opts if opts else ''})")


class Conv2d(_ConvNd):
    """2-D convolution layer, as ``torch.nn.Conv2d``, on :func:`convcore.conv2d`.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int)
    padding : int, tuple, 'same' or 'valid'
        Every form :func:`convcore.conv2d` accepts, asymmetric pairs included.
    groups : int
    bias : bool
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        What the padding reads, as in PyTorch (see :func:`convcore.conv2d`); not part
        of the state_dict.
    algorithm : {'auto', 'direct', 'im2col', 'sparse'}
        The forward kernels; the backward pass runs on 'auto' for 'sparse'.
    dtype : float32 or float64
        The parameters' dtype (float32, as in PyTorch, by default).
    rng : None, int or numpy.random.Generator
        Source of the initial weights.
    init : bool
        False leaves the parameters as zero-memory placeholders of the right shape, for a
        summary or before :meth:`load_state_dict`; ``forward`` refuses to run until then.

    Attributes
    ----------
    weight : ndarray, shape (out_channels, in_channels // groups, *kernel_size)
        Initialised as PyTorch does (``kaiming_uniform_(a=sqrt(5))``):
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels // groups * R * S.
    bias : ndarray, shape (out_channels,), or None
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    grads : dict
        'weight' and 'bias' gradients of the last :meth:`backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> conv = nn.Conv2d(3, 64, 3, padding=1, rng=0)
    >>> conv.num_params, conv.output_shape((8, 3, 224, 224))
    (1792, (8, 64, 224, 224))
    >>> conv(np.zeros((2, 3, 8, 8), np.float32)).shape
    (2, 64, 8, 8)
    """

    _nd = 2


class Conv1d(_ConvNd):
    """1-D convolution layer, as ``torch.nn.Conv1d``, on :func:`convcore.conv1d`.

    Same parameters as :class:`Conv2d` with one spatial dimension: input (N, C, L) or
    (C, L), weight (out_channels, in_channels // groups, kernel_size).

    Examples
    --------
    >>> from convcore import nn
    >>> nn.Conv1d(1, 4, 2, stride=2, rng=0).output_shape((1, 1, 100))
    (1, 4, 50)
    """

    _nd = 1


class Conv3d(_ConvNd):
    """3-D convolution layer, as ``torch.nn.Conv3d``, on :func:`convcore.conv3d`.

    Same parameters as :class:`Conv2d` with three spatial dimensions: input
    (N, C, D, H, W) or (C, D, H, W), weight (out_channels, in_channels // groups, T, R, S).
    Its backward pass runs on ``convcore.conv3d_backward`` where the library has it.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> conv = nn.Conv3d(3, 8, 3, padding=1, padding_mode="replicate", rng=0)
    >>> conv
    Conv3d(3, 8, kernel_size=(3, 3, 3), padding=1, padding_mode=replicate)
    >>> conv.num_params, conv.output_shape((2, 3, 16, 56, 56))
    (656, (2, 8, 16, 56, 56))
    >>> conv(np.zeros((1, 3, 4, 5, 6), np.float32)).shape
    (1, 8, 4, 5, 6)
    """

    _nd = 3


class _Pool2d(Layer):
    _nd = 2  # spatial dimensions (the 3-D pools subclass these with their functions)

    def _call(self, shape) -> _PoolCall:
        return _PoolCall(self._nd, type(self).__name__, shaped(shape), self.kernel_size,
                         self.stride, self.padding, getattr(self, "dilation", 1),
                         self.ceil_mode)

    def _output_shape(self, shape):
        return self._call(shape).out_shape()

    def _check_common(self, kernel_size, stride, padding, ceil_mode):
        nd = self._nd
        self.kernel_size = int_tuple("kernel_size", kernel_size, nd)
        self.stride = self.kernel_size if stride is None else int_tuple("stride", stride, nd)
        self.padding = int_tuple("padding", padding, nd, minimum=0)
        check_pool_padding(self.kernel_size, self.padding)
        self.ceil_mode = as_bool("ceil_mode", ceil_mode)


class MaxPool2d(_Pool2d):
    """2-D max pooling, as ``torch.nn.MaxPool2d``, on :func:`convcore.max_pool2d`.

    In training mode the forward pass records each window's argmax for the backward
    pass; in eval mode it does not, and a backward call finds the argmax again.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.MaxPool2d(2).output_shape((1, 64, 300, 400))
    (1, 64, 150, 200)
    """

    _pool, _pool_backward = staticmethod(max_pool2d), staticmethod(max_pool2d_backward)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, *, ceil_mode=False):
        super().__init__()
        self._check_common(kernel_size, stride, padding, ceil_mode)
        self.dilation = int_tuple("dilation", dilation, self._nd)
        self._indices = None

    def _args(self):
        return (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def _forward(self, x):
        if self.training:
            y, self._indices = self._pool(x, *self._args(), return_indices=True)
            return y
        self._indices = None
        return self._pool(x, *self._args())

    def _backward(self, grad_output):
        return self._pool_backward(self._grad(grad_output), self._input, *self._args(),
                                   indices=self._indices)

    def __repr__(self) -> str:
        nd = self._nd
        opts = [("stride", self.stride, self.kernel_size), ("padding", self.padding, (0,) * nd),
                ("dilation", self.dilation, (1,) * nd), ("ceil_mode", self.ceil_mode, False)]
        extra = _kwargs_repr((k, v) for k, v, d in opts if v != d)
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}"
                f"{', ' + extra if extra else ''})")


class AvgPool2d(_Pool2d):
    """2-D average pooling, as ``torch.nn.AvgPool2d``, on :func:`convcore.avg_pool2d`.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.AvgPool2d(2).output_shape((6, 28, 28))
    (6, 14, 14)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self._check_common(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = as_bool("count_include_pad", count_include_pad)
        self.divisor_override = (None if divisor_override is None
                                 else _positive("divisor_override", divisor_override))

    def _args(self):
        return (self.kernel_size, self.stride, self.padding, self.ceil_mode,
                self.count_include_pad, self.divisor_override)

    _pool, _pool_backward = staticmethod(avg_pool2d), staticmethod(avg_pool2d_backward)

    def _forward(self, x):
        return self._pool(x, *self._args())

    def _backward(self, grad_output):
        return self._pool_backward(self._grad(grad_output), self._input, *self._args())

    def __repr__(self) -> str:
        opts = [("stride", self.stride, self.kernel_size),
                ("padding", self.padding, (0,) * self._nd),
                ("ceil_mode", self.ceil_mode, False),
                ("count_include_pad", self.count_include_pad, True),
                ("divisor_override", self.divisor_override, None)]
        extra = _kwargs_repr((k, v) for k, v, d in opts if v != d)
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}"
                f"{', ' + extra if extra else ''})")


class GlobalAvgPool2d(Layer):
    """Mean of each plane: (N, C, H, W) -> (N, C, 1, 1), as
    ``torch.nn.AdaptiveAvgPool2d(1)`` (GoogLeNet's last pool).

    Examples
    --------
    >>> from convcore import nn
    >>> nn.GlobalAvgPool2d().output_shape((1, 1024, 7, 7))
    (1, 1024, 1, 1)
    """

    def _output_shape(self, shape):
        if len(shape) not in (3, 4) or 0 in shape[-2:]:
            raise ValueError(f"input must have shape (N, C, H, W) or (C, H, W) with H, W >= 1; "
                             f"got {shape}")
        return (*shape[:-2], 1, 1)

    def _forward(self, x):
        return global_avg_pool2d(x)

    def _backward(self, grad_output):
        g = self._grad(grad_output)
        x = self._input
        shape = np.shape(x)
        dtype = compute_dtype(np.asarray(x))
        # every pixel of a plane gets its plane's gradient / (H * W)
        return np.broadcast_to(g / (shape[-1] * shape[-2]), shape).astype(dtype)


class ReLU(Layer):
    """max(x, 0) elementwise (:func:`convcore.relu`); the gradient passes where x > 0.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.ReLU()([-1.0, 2.0])
    array([0., 2.])
    """

    def _forward(self, x):
        return relu(x)

    def _backward(self, grad_output):
        g = self._grad(grad_output)
        x = np.asarray(self._input)
        dtype = compute_dtype(x, g)
        return np.where(x > 0, g, 0).astype(dtype, copy=False)


class Flatten(Layer):
    """Flatten dimensions ``start_dim`` to ``end_dim`` (by default all but the batch), as
    ``torch.nn.Flatten``.

    Examples
    --------
    >>> from convcore import nn
    >>> nn.Flatten().output_shape((8, 512, 7, 7))
    (8, 25088)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = as_int("start_dim", start_dim)
        self.end_dim = as_int("end_dim", end_dim)

    def _output_shape(self, shape):
        n = len(shape)
        start = self.start_dim + n if self.start_dim < 0 else self.start_dim
        end = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if not (0 <= start < n and 0 <= end < n) or start > end:
            raise ValueError(f"dimensions {self.start_dim}..{self.end_dim} do not fit an input "
                             f"of {n} dimensions")
        return (*shape[:start], numel(shape[start:end + 1]), *shape[end + 1:])

    def _forward(self, x):
        x = as_real_array("x", x)
        return x.reshape(self._output_shape(x.shape))

    def _backward(self, grad_output):
        return self._grad(grad_output).reshape(np.shape(self._input))

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"


def _product(a: np.ndarray, b: np.ndarray, dtype) -> np.ndarray:
    """``a @ b`` of 2-D arrays by convcore's tiled product on the ISA's GEMM tile, over
    fixed blocks on convcore's threads, so the bits do not depend on the thread count.
    ``x @ weight.T`` runs as ``(weight @ x.T).T`` (x transposed once) when x is the
    smaller operand (convcore._matmul.matmul)."""
    a = np.asarray(a, dtype=dtype)
    b = np.asarray(b, dtype=dtype)
    c = np.empty((1, a.shape[0], b.shape[1]), dtype)
    matmul(a[None], b[None], c, n_threads=get_num_threads())
    return c[0]


class Linear(Layer):
    """Fully connected layer ``y = x @ weight.T + bias`` on the last dimension, as
    ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    dtype, rng, init
        As for :class:`Conv2d`.

    Attributes
    ----------
    weight : ndarray, shape (out_features, in_features)
        U(-1/sqrt(in_features), 1/sqrt(in_features)), as PyTorch.
    bias : ndarray, shape (out_features,), or None
        The same bound.

    Examples
    --------
    >>> from convcore import nn
    >>> fc = nn.Linear(25088, 4096, init=False)
    >>> fc.num_params, fc.output_shape((1, 25088))
    (102764544, (1, 4096))
    """

    _param_names = ("weight", "bias")

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32, rng=None,
                 init=True):
        super().__init__()
        self.in_features = _positive("in_features", in_features)
        self.out_features = _positive("out_features", out_features)
        self.dtype = float_dtype(dtype)
        has_bias = as_bool("bias", bias)
        _init_weight_and_bias(self, (self.out_features, self.in_features), has_bias, init, rng)

    def _output_shape(self, shape):
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"the input's last dimension must be in_features="
                             f"{self.in_features}; got shape {shape}")
        return (*shape[:-1], self.out_features)

    def _macs(self, shape):
        return numel(shape[:-1]) * self.in_features * self.out_features

    def _forward(self, x):
        x = as_real_array("x", x)
        self._output_shape(x.shape)
        dtype = compute_dtype(x, self.weight)
        x2 = x.reshape(-1, self.in_features)
        y = _product(x2, self.weight.T, dtype).reshape(*x.shape[:-1], self.out_features)
        if self.bias is not None:
            y += self.bias
        return y

    def _backward(self, grad_output):
        x = as_real_array("x", self._input)
        dtype = compute_dtype(x, self.weight)
        g = self._grad(grad_output).astype(dtype, copy=False)
        g2 = g.reshape(-1, self.out_features)
        x2 = x.reshape(-1, self.in_features).astype(dtype, copy=False)
        self.grads = {"weight": _product(g2.T, x2, dtype)}
        gx = _product(g2, self.weight, dtype)
        if self.bias is not None:
            self.grads["bias"] = g2.sum(axis=0)
        return gx.reshape(x.shape)

    def __repr__(self) -> str:
        b = "" if self.bias is not None else ", bias=False"
        return f"Linear({self.in_features}, {self.out_features}{b})"


class Dropout(Layer):
    """Inverted dropout: in training mode each value is zeroed with probability ``p`` and
    the survivors scaled by 1 / (1 - p), so the expected output is the input; in eval
    mode the identity, as ``torch.nn.Dropout``.

    Parameters
    ----------
    p : float in [0, 1]
    rng : None, int or numpy.random.Generator
        Source of the masks (seed it for reproducible runs).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> drop = nn.Dropout(0.5, rng=0)
    >>> y = drop(np.ones(10_000))
    >>> sorted(set(y.tolist())), round(float(y.mean()), 1)
    ([0.0, 2.0], 1.0)
    >>> drop.eval()(np.ones(3))
    array([1., 1., 1.])
    """

    def __init__(self, p=0.5, *, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float | np.floating | np.integer):
            raise TypeError(f"p must be a float, got {p!r}")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"dropout probability p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = generator(rng)
        self._scale = None

    def _forward(self, x):
        x = as_real_array("x", x)
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        dtype = compute_dtype(x)
        if self.p == 1.0:
            self._scale = np.zeros(x.shape, dtype)
        else:  # each kept value scaled by 1 / (1 - p), the dropped ones zero
            keep = self.rng.random(x.shape) >= self.p
            self._scale = keep * dtype.type(1.0 / (1.0 - self.p))
        return x * self._scale

    def _backward(self, grad_output):
        g = self._grad(grad_output)
        return g if self._scale is None else g * self._scale

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class Identity(Layer):
    """Returns its input (the same array): a placeholder, e.g. where a BatchNorm was
    folded into the convolution before it, as ``torch.nn.Identity``.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> x = np.ones(3)
    >>> nn.Identity()(x) is x
    True
    """

    def _forward(self, x):
        return x

    def _backward(self, grad_output):
        return self._grad(grad_output)


def _adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows: [floor(i * size / out), ceil((i + 1) * size / out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class AdaptiveAvgPool2d(Layer):
    """Average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool2d``: output
    cell i of n covers input rows floor(i * H / n) to ceil((i + 1) * H / n) (windows
    overlap when n does not divide H).

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        None keeps that input size.

    Notes
    -----
    The forward pass runs on :func:`convcore.adaptive_avg_pool2d`; the backward pass
    spreads each output cell's gradient over its window in NumPy (output sizes are
    small: a few windows).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> nn.AdaptiveAvgPool2d(1).output_shape((1, 1024, 7, 7))
    (1, 1024, 1, 1)
    >>> nn.AdaptiveAvgPool2d((2, 3))(np.arange(20.0).reshape(1, 1, 4, 5))
    array([[[[ 3. ,  4.5,  6. ],
             [13. , 14.5, 16. ]]]])
    """

    _nd = 2  # spatial dimensions (the 1-D and 3-D adaptive pools subclass this)
    _pool = staticmethod(adaptive_avg_pool2d)

    def __init__(self, output_size):
        super().__init__()
        nd = self._nd
        if isinstance(output_size, tuple | list):
            if len(output_size) != nd:
                raise ValueError(f"output_size must be an int or a tuple of {nd}, got "
                                 f"{output_size!r}")
            sizes = tuple(None if v is None else _positive("output_size", v)
                          for v in output_size)
        else:
            sizes = (_positive("output_size", output_size),) * nd
        self.output_size = sizes

    def _target(self, shape):
        nd = self._nd
        if len(shape) not in (nd + 1, nd + 2) or 0 in shape[-nd:]:
            raise ValueError(f"input must have {nd + 1} or {nd + 2} dimensions with spatial "
                             f"sizes >= 1; got {shape}")
        return tuple(s if o is None else o for s, o in zip(shape[-nd:], self.output_size,
                                                           strict=True))

    def _output_shape(self, shape):
        return (*shape[:-self._nd], *self._target(shape))

    def _forward(self, x):
        return self._pool(x, self.output_size)

    def _backward(self, grad_output):
        g = self._grad(grad_output)
        x = np.asarray(self._input)
        nd = self._nd
        gx = np.zeros(x.shape, compute_dtype(x, g))
        bins = [_adaptive_bins(n, o) for n, o in zip(x.shape[-nd:], g.shape[-nd:], strict=True)]
        for cell in itertools.product(*(range(len(b)) for b in bins)):
            window = tuple(slice(*bins[a][i]) for a, i in enumerate(cell))
            count = math.prod(bins[a][i][1] - bins[a][i][0] for a, i in enumerate(cell))
            gx[(..., *window)] += (g[(..., *cell)] / count)[(...,) + (None,) * nd]
        return gx

    def __repr__(self) -> str:
        return f"{type(self).__name__}(output_size={self.output_size})"
