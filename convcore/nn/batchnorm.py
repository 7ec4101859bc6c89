"""Batch normalisation (training statistics, running statistics for eval) and its folding
into the convolution before it."""

from __future__ import annotations

import copy

import numpy as np

from convcore._checks import as_bool, as_real_array, compute_dtype
from convcore.nn._layer import Layer, float_dtype
from convcore.nn.layers import Identity, _ConvNd, _positive


class _BatchNorm(Layer):
    _param_names = ("weight", "bias")
    _buffer_names = ("running_mean", "running_var", "num_batches_tracked")
    _ndims: tuple[int, ...] = (4,)
    _shape_text = "(N, C, H, W)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, dtype=np.float32):
        super().__init__()
        self.num_features = _positive("num_features", num_features)
        if isinstance(eps, bool) or not isinstance(eps, int | float | np.floating):
            raise TypeError(f"eps must be a float, got {eps!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if momentum is not None:
            if isinstance(momentum, bool) or not isinstance(momentum,
                                                            int | float | np.floating):
                raise TypeError(f"momentum must be a float or None, got {momentum!r}")
            if not 0.0 <= momentum <= 1.0:
                raise ValueError(f"momentum must be in [0, 1] (or None for a cumulative "
                                 f"average), got {momentum}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = as_bool("affine", affine)
        self.track_running_stats = as_bool("track_running_stats", track_running_stats)
        self.dtype = float_dtype(dtype)
        c = self.num_features
        # PyTorch's initial values: weight 1, bias 0, running mean 0, running variance 1
        self.weight = np.ones(c, self.dtype) if self.affine else None
        self.bias = np.zeros(c, self.dtype) if self.affine else None
        if self.track_running_stats:
            self.running_mean = np.zeros(c, self.dtype)
            self.running_var = np.ones(c, self.dtype)
            self.num_batches_tracked = np.zeros((), np.int64)
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self._saved = None

    def _check_shape(self, shape):
        if len(shape) not in self._ndims:
            raise ValueError(f"input must have shape {self._shape_text}, got {shape}")
        if shape[1] != self.num_features:
            raise ValueError(f"input has {shape[1]} channels; num_features is "
                             f"{self.num_features}")

    def _output_shape(self, shape):
        self._check_shape(shape)
        return shape

    def _uses_batch_statistics(self) -> bool:
        return self.training or not self.track_running_stats

    def _forward(self, x):
        x = as_real_array("x", x)
        self._check_shape(x.shape)
        dtype = compute_dtype(x, *self.params.values())
        x = x.astype(dtype, copy=False)
        axes = (0, *range(2, x.ndim))
        bshape = (1, -1) + (1,) * (x.ndim - 2)
        if self._uses_batch_statistics():
            n = x.size // self.num_features
            if n < 2 and self.training:
                raise ValueError(f"expected more than 1 value per channel when training, got "
                                 f"input shape {x.shape}")
            mean = x.mean(axis=axes, dtype=np.float64)
            centred = x - mean.astype(dtype).reshape(bshape)
            var = np.mean(np.square(centred, dtype=np.float64), axis=axes)
            if self.training and self.track_running_stats:
                self._update_running(mean, var, n)
        else:
            mean = self.running_mean.astype(np.float64)
            var = self.running_var.astype(np.float64)
            centred = x - mean.astype(dtype).reshape(bshape)
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(dtype)
        xhat = centred
        xhat *= invstd.reshape(bshape)
        if self.affine:
            y = xhat * self.weight.astype(dtype).reshape(bshape)
            y += self.bias.astype(dtype).reshape(bshape)
        else:
            y = xhat.copy()
        self._saved = (xhat, invstd, self._uses_batch_statistics())
        return y

    def _update_running(self, mean, var, n) -> None:
        """PyTorch's update: the unbiased batch variance, weight ``momentum`` (or
        1 / batches seen when momentum is None)."""
        self.num_batches_tracked = self.num_batches_tracked + 1
        m = (1.0 / float(self.num_batches_tracked) if self.momentum is None
             else self.momentum)
        unbiased = var * (n / (n - 1))
        dt = self.running_mean.dtype
        self.running_mean = ((1 - m) * self.running_mean + m * mean).astype(dt)
        self.running_var = ((1 - m) * self.running_var + m * unbiased).astype(dt)

    def _backward(self, grad_output):
        g = self._grad(grad_output)
        xhat, invstd, batch_stats = self._saved
        dtype = xhat.dtype
        g = g.astype(dtype, copy=False)
        axes = (0, *range(2, g.ndim))
        bshape = (1, -1) + (1,) * (g.ndim - 2)
        sum_g = g.sum(axis=axes, dtype=np.float64)
        c = self.num_features
        sum_g_xhat = np.einsum("ncl,ncl->c", g.reshape(g.shape[0], c, -1),
                               xhat.reshape(xhat.shape[0], c, -1), dtype=np.float64)
        if self.affine:
            self.grads = {"weight": sum_g_xhat.astype(self.weight.dtype),
                          "bias": sum_g.astype(self.bias.dtype)}
            scale = (self.weight.astype(dtype) * invstd).reshape(bshape)
        else:
            self.grads = {}
            scale = invstd.reshape(bshape)
        if not batch_stats:  # the running statistics are constants
            return g * scale
        n = g.size // self.num_features
        # d/dx of (x - mean) / std with the batch's mean and std:
        # (g - mean(g) - xhat * mean(g * xhat)) / std
        mg = (sum_g / n).astype(dtype).reshape(bshape)
        mgx = (sum_g_xhat / n).astype(dtype).reshape(bshape)
        gx = g - mg
        gx -= xhat * mgx
        gx *= scale
        return gx

    def __repr__(self) -> str:
        extra = [("eps", self.eps, 1e-5), ("momentum", self.momentum, 0.1),
                 ("affine", self.affine, True),
                 ("track_running_stats", self.track_running_stats, True)]
        opts = "".join(f", {k}={v!r}" for k, v, d in extra if v != d)
        return f"{type(self).__name__}({self.num_features}{opts})"


_DOC = """Batch normalisation over {what}, as ``torch.nn.{name}``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel.  In training mode
    the mean and the (biased) variance are the batch's, and the running statistics are
    updated as PyTorch does: ``running = (1 - momentum) * running + momentum * batch``
    with the unbiased batch variance (momentum None: a cumulative average).  In eval
    mode the running statistics are used.  ``backward`` differentiates whichever was
    used.  The state_dict holds ``weight``, ``bias``, ``running_mean``, ``running_var``
    and ``num_batches_tracked``, as PyTorch's; only weight and bias are parameters.

    Parameters
    ----------
    num_features : int
        The channels C.
    eps : float
    momentum : float or None
    affine : bool
        Learnable ``weight`` (initialised to 1) and ``bias`` (0).
    track_running_stats : bool
        False: the batch's statistics in eval mode too, and no buffers.
    dtype : float32 or float64

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> bn = nn.{name}(3)
    >>> x = np.random.default_rng(0).standard_normal({example}).astype(np.float32)
    >>> y = bn(x)
    >>> bool(np.allclose(y.mean(axis={axes}), 0, atol=1e-5)), bn.running_var.shape
    (True, (3,))
    """


class BatchNorm1d(_BatchNorm):
    _ndims = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"
    __doc__ = _DOC.format(what="(N, C) or (N, C, L) input", name="BatchNorm1d",
                          example="(8, 3, 5)", axes="(0, 2)")


class BatchNorm2d(_BatchNorm):
    _ndims = (4,)
    _shape_text = "(N, C, H, W)"
    __doc__ = _DOC.format(what="(N, C, H, W) input", name="BatchNorm2d",
                          example="(4, 3, 5, 5)", axes="(0, 2, 3)")


class BatchNorm3d(_BatchNorm):
    _ndims = (5,)
    _shape_text = "(N, C, D, H, W)"
    __doc__ = _DOC.format(what="(N, C, D, H, W) input", name="BatchNorm3d",
                          example="(2, 3, 2, 4, 4)", axes="(0, 2, 3, 4)")


def fold_batchnorm(conv: _ConvNd, bn: _BatchNorm) -> _ConvNd:
    """The convolution that computes ``bn(conv(x))`` in eval mode: a new layer (the
    arguments are not changed) whose weight is scaled per output channel by
    ``bn.weight / sqrt(running_var + eps)`` and whose bias absorbs the shift.

    Parameters
    ----------
    conv : Conv2d or Conv1d
    bn : BatchNorm1d, BatchNorm2d or BatchNorm3d
        With running statistics (``track_running_stats=True``) and ``num_features``
        equal to the convolution's ``out_channels``.

    Returns
    -------
    Conv2d or Conv1d
        Same class, geometry and dtype as ``conv``, with a bias, in eval mode.  Its
        weight and bias are read-only arrays (an inference layer): the direct kernel
        keeps their packed form between calls instead of repacking them every call.
        To change them, assign new arrays or load a state_dict.

    Raises
    ------
    TypeError
        Arguments of other types.
    ValueError
        Channels that differ, or a BatchNorm without running statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> conv, bn = nn.Conv2d(3, 4, 3, bias=False, rng=0), nn.BatchNorm2d(4).eval()
    >>> bn.running_mean[:] = 0.5
    >>> x = np.random.default_rng(1).standard_normal((1, 3, 6, 6)).astype(np.float32)
    >>> folded = nn.fold_batchnorm(conv, bn)
    >>> bool(np.allclose(folded(x), bn(conv(x)), atol=1e-5))
    True
    """
    if not isinstance(conv, _ConvNd):
        raise TypeError(f"conv must be a Conv1d or Conv2d layer, got {type(conv).__name__}")
    if not isinstance(bn, _BatchNorm):
        raise TypeError(f"bn must be a BatchNorm layer, got {type(bn).__name__}")
    if bn.num_features != conv.out_channels:
        raise ValueError(f"{bn!r} has {bn.num_features} channels; {conv!r} has "
                         f"{conv.out_channels} output channels")
    if not bn.track_running_stats:
        raise ValueError(f"{bn!r} has no running statistics (track_running_stats=False): "
                         "only the eval-mode form with running statistics folds")
    for layer in (conv, bn):
        if layer._uninitialised:
            raise ValueError(f"{layer!r}: {sorted(layer._uninitialised)} not initialised; "
                             "load weights before folding")
    scale = 1.0 / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    shift = -bn.running_mean.astype(np.float64) * scale
    if bn.affine:
        scale = scale * bn.weight
        shift = shift * bn.weight + bn.bias
    folded = copy.copy(conv)
    folded.__dict__.update(grads={}, _input=None, _uninitialised=set(), training=False)
    wshape = (-1,) + (1,) * (conv.weight.ndim - 1)
    folded.weight = (conv.weight * scale.reshape(wshape)).astype(conv.dtype)
    bias = shift if conv.bias is None else conv.bias * scale + shift
    folded.bias = bias.astype(conv.dtype)
    folded.weight.flags.writeable = False
    folded.bias.flags.writeable = False
    return folded


def fold_batchnorms(model: Layer) -> Layer:
    """A copy of ``model`` for inference: in eval mode, every BatchNorm that directly
    follows a convolution in a Sequential (or in a Residual's block) folded into it
    (:func:`fold_batchnorm`) and replaced by an :class:`Identity`, so keys and indices
    stay.  The model itself is not changed.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False, rng=0), nn.BatchNorm2d(4),
    ...                       nn.ReLU()).eval()
    >>> fast = nn.fold_batchnorms(model)
    >>> [type(layer).__name__ for layer in fast]
    ['Conv2d', 'Identity', 'ReLU']
    >>> x = np.ones((1, 3, 5, 5), np.float32)
    >>> bool(np.allclose(fast(x), model(x)))
    True
    """
    if not isinstance(model, Layer):
        raise TypeError(f"model must be a convcore.nn layer, got {type(model).__name__}")
    out = copy.deepcopy(model)
    out.eval()
    _fold_in_place(out)
    return out


def _fold_in_place(layer: Layer) -> None:
    from convcore.nn.containers import Residual, Sequential

    if isinstance(layer, Sequential):
        pairs = layer._pairs
        for i in range(len(pairs) - 1):
            (kc, conv), (kb, bn) = pairs[i], pairs[i + 1]
            if (isinstance(conv, _ConvNd) and isinstance(bn, _BatchNorm)
                    and bn.track_running_stats and bn.num_features == conv.out_channels):
                folded = fold_batchnorm(conv, bn)
                folded.name = conv.name
                identity = Identity()
                identity.name, identity.training = bn.name, False
                pairs[i], pairs[i + 1] = (kc, folded), (kb, identity)
    if isinstance(layer, Residual):
        _fold_in_place(layer.block)
    for _, child in layer._children():
        _fold_in_place(child)
