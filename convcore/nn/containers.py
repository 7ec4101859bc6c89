"""Containers: layers in a chain (Sequential), in parallel branches (Concat) and around a
skip connection (Residual); the summary of a design."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from convcore._checks import as_int, as_real_array, compute_dtype
from convcore.nn._layer import Layer, numel, shape_tuple
from convcore.nn.summary import Summary, SummaryRow, block_row


def _layers(where: str, layers) -> list[tuple[str, Layer]]:
    """(key, layer) pairs from a tuple of layers (keys "0", "1", ...) or one mapping of
    names to layers (its keys, as ``torch.nn.Sequential(OrderedDict(...))``)."""
    if len(layers) == 1 and isinstance(layers[0], Mapping):
        pairs = list(layers[0].items())
        for key, _ in pairs:
            if not isinstance(key, str) or not key or "." in key:
                raise ValueError(f"{where}: layer names must be non-empty strings without "
                                 f"'.', got {key!r}")
    else:
        pairs = [(str(i), layer) for i, layer in enumerate(layers)]
    for key, layer in pairs:
        if not isinstance(layer, Layer):
            raise TypeError(f"layer {key} must be a convcore.nn layer, got "
                            f"{type(layer).__name__}")
    return pairs


def _nested(pairs) -> str:
    return "".join(f"\n  ({key}): " + repr(layer).replace("\n", "\n  ") for key, layer in pairs)


def _add(y: np.ndarray, s, x) -> np.ndarray:
    """y + s, in y's memory when y is a fresh result of the block (no second array of the
    block's output size); never in the input's or the shortcut's memory.  Safe because a
    layer keeps its input for backward, never its output."""
    s = np.asarray(s)
    dtype = compute_dtype(y, s)
    if (y.dtype == dtype and y.flags.writeable and y.flags.c_contiguous
            and not np.may_share_memory(y, s) and not np.may_share_memory(y, np.asarray(x))):
        return np.add(y, s, out=y)
    return np.add(y, s, dtype=dtype)


class _Container(Layer):
    """Parameters, gradients, modes and weights of the layers it holds, by key."""

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{key}.{n}": g for key, child in self._children()
                for n, g in child.grads.items()}

    @grads.setter
    def grads(self, value) -> None:  # the base class initialises it; layers hold their own
        pass

    def output_shape(self, input_shape) -> tuple[int, ...]:
        shape = shape_tuple("input_shape", input_shape)
        return self._summary_rows("", shape, 0)[1]

    def macs(self, input_shape) -> int:
        shape = shape_tuple("input_shape", input_shape)
        rows = self._summary_rows("", shape, 0)[0]
        return rows[0].macs

    def _summary_rows(self, key, shape, depth):
        inner, out = self._inner_rows(shape, depth + 1)
        return [block_row(self.name or key, type(self).__name__, out[1:], inner, depth),
                *inner], out

    def _inner_rows(self, shape, depth):
        raise NotImplementedError


def _chain_rows(pairs, shape, depth, label):
    """Rows of layers applied one after the other; errors name the layer."""
    rows: list[SummaryRow] = []
    for i, (key, layer) in enumerate(pairs):
        try:
            sub, shape = layer._summary_rows(key, shape, depth)
        except ValueError as exc:
            raise ValueError(f"{label(i)}: {exc}") from None
        rows += sub
    return rows, shape


class Sequential(_Container):
    """Layers applied in order; ``backward`` runs them in reverse.

    Parameters
    ----------
    *layers : Layer, or one mapping of names to layers
        Parameters are named as PyTorch's ``nn.Sequential`` names them: ``"0.weight"``,
        ``"3.bias"``... for layers given in order, ``"conv1.weight"`` for a mapping
        ``{"conv1": Conv2d(...), ...}``.  So the ``state_dict`` of a ``torch.nn`` model of
        the same structure loads as it is (:meth:`load_state_dict` takes tensors or
        arrays).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 6, 5, rng=0), nn.ReLU(), nn.MaxPool2d(2),
    ...                       nn.Flatten(), nn.Linear(6 * 14 * 14, 10, rng=0))
    >>> model(np.zeros((4, 1, 32, 32), np.float32)).shape
    (4, 10)
    >>> model.num_params, sorted(model.state_dict())[:2]
    (11926, ['0.bias', '0.weight'])
    >>> print(model.summary((1, 32, 32)))
    Layer (type)   Output shape  Params     MACs  Activations
    =========================================================
    input          1 x 32 x 32        0        0        1,024
    0 (Conv2d)     6 x 28 x 28      156  117,600        4,704
    1 (ReLU)       6 x 28 x 28        0        0        4,704
    2 (MaxPool2d)  6 x 14 x 14        0        0        1,176
    3 (Flatten)    1176               0        0        1,176
    4 (Linear)     10            11,770   11,760           10
    =========================================================
    Total params: 11,926
    Total MACs: 129,360 (0.13 M)
    Total activations: 12,794 (0.05 MiB per example in float32)
    >>> sorted(nn.Sequential({"fc": nn.Linear(3, 2, rng=0)}).state_dict())
    ['fc.bias', 'fc.weight']
    """

    def __init__(self, *layers) -> None:
        super().__init__()
        self._pairs = _layers("Sequential", layers)
        self.input_shape: tuple[int, ...] | None = None  # set by from_spec

    @property
    def layers(self) -> list[Layer]:
        return [layer for _, layer in self._pairs]

    def _children(self):
        return self._pairs

    def __len__(self) -> int:
        return len(self._pairs)

    def __getitem__(self, i):
        if isinstance(i, str):
            for key, layer in self._pairs:
                if key == i:
                    return layer
            raise KeyError(i)
        return self._pairs[i][1]

    def __setitem__(self, i, layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be a convcore.nn layer, got {type(layer).__name__}")
        index = i if isinstance(i, int) else [k for k, _ in self._pairs].index(i)
        self._pairs[index] = (self._pairs[index][0], layer)

    def __iter__(self):
        return iter(self.layers)

    def _label(self, i: int) -> str:
        key, layer = self._pairs[i]
        name = layer.name or (None if key == str(i) else key)
        return f"layer {i} '{name}'" if name else f"layer {i}"

    # -- running ----------------------------------------------------------------------
    def forward(self, x) -> np.ndarray:
        for i, (_, layer) in enumerate(self._pairs):
            try:
                x = layer.forward(x)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{self._label(i)}: {exc}") from None
        self._input = True  # backward is allowed
        return x

    def backward(self, grad_output) -> np.ndarray:
        """Back through every layer; each layer's parameter gradients go to its
        ``grads`` (and appear here as ``"key.name"``)."""
        for _, layer in reversed(self._pairs):
            grad_output = layer.backward(grad_output)
        return grad_output

    def _inner_rows(self, shape, depth):
        return _chain_rows(self._pairs, shape, depth, self._label)

    def summary(self, input_shape=None) -> Summary:
        """The table of one example's output shape, parameters, MACs and activations per
        layer, computed without running anything; the layers of a block (Sequential,
        Concat, Residual) are indented under the block's row, which holds their sums.

        Parameters
        ----------
        input_shape : tuple of int
            One example's shape without the batch axis, e.g. (3, 224, 224).  Default:
            the ``input`` of the spec the model was built from.

        Raises
        ------
        ValueError
            At the first layer whose input shape does not fit, naming it and the sizes.
        """
        if input_shape is None:
            if self.input_shape is None:
                raise ValueError("summary needs input_shape (one example's shape, e.g. "
                                 "(3, 224, 224))")
            input_shape = self.input_shape
        shape = shape_tuple("input_shape", input_shape)
        rows, _ = self._inner_rows((1, *shape), 0)
        return Summary(shape, (SummaryRow("input", "input", shape, 0, 0, numel(shape)),
                               *rows))

    def __repr__(self) -> str:
        return f"Sequential({_nested(self._pairs)}\n)"


class Concat(_Container):
    """Branches run on the same input, their outputs concatenated along ``dim`` (the
    channels): an inception module.  ``Parallel`` is the same class.

    Parameters
    ----------
    *branches : Layer, or one mapping of names to layers
        Keys as for :class:`Sequential` (``"0.conv.weight"``, or ``"branch1.conv.weight"``
        for a mapping, as torchvision's Inception names its branches).
    dim : int
        The axis of the concatenation, 1 (the channels of an (N, C, H, W) batch) by
        default, as ``torch.cat(outputs, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> block = nn.Concat(nn.Conv2d(3, 4, 1, rng=0), nn.Conv2d(3, 2, 3, padding=1, rng=0),
    ...                   nn.MaxPool2d(3, stride=1, padding=1))
    >>> block(np.zeros((2, 3, 8, 8), np.float32)).shape
    (2, 9, 8, 8)
    """

    def __init__(self, *branches, dim: int = 1) -> None:
        super().__init__()
        self._pairs = _layers("Concat", branches)
        if not self._pairs:
            raise ValueError("Concat needs at least one branch")
        self.dim = as_int("dim", dim)
        self._sizes: list[int] = []

    @property
    def branches(self) -> list[Layer]:
        return [layer for _, layer in self._pairs]

    def _children(self):
        return self._pairs

    def _axis(self, ndim: int) -> int:
        if not -ndim <= self.dim < ndim:
            raise ValueError(f"dim={self.dim} does not fit outputs of {ndim} dimensions")
        return self.dim % ndim

    def _label(self, i: int) -> str:
        return f"branch '{self._pairs[i][0]}'"

    def forward(self, x) -> np.ndarray:
        outs = []
        for i, (_, branch) in enumerate(self._pairs):
            try:
                outs.append(branch.forward(x))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{self._label(i)}: {exc}") from None
        axis = self._axis(outs[0].ndim)
        self._check_joinable([o.shape for o in outs], axis)
        self._sizes = [o.shape[axis] for o in outs]
        self._input, self._output_shape_last = True, None
        return np.concatenate(outs, axis=axis, dtype=compute_dtype(*outs))

    def _check_joinable(self, shapes, axis) -> None:
        first = shapes[0]
        for i, s in enumerate(shapes):
            if len(s) != len(first) or any(
                    a != b for d, (a, b) in enumerate(zip(s, first, strict=True)) if d != axis):
                raise ValueError(f"{self._label(i)} gives shape {tuple(s)}, which does not "
                                 f"join branch '{self._pairs[0][0]}''s {tuple(first)} along "
                                 f"dim {self.dim}")

    def backward(self, grad_output) -> np.ndarray:
        """Split the gradient by branch, back through each, and add the input gradients."""
        if self._input is None:
            raise RuntimeError(f"{self!r}: backward() needs a forward() call first")
        g = as_real_array("grad_output", grad_output)
        axis = self._axis(g.ndim)
        if g.shape[axis] != sum(self._sizes):
            raise ValueError(f"grad_output has {g.shape[axis]} entries along dim {self.dim}; "
                             f"the forward result has {sum(self._sizes)}")
        parts = np.split(g, np.cumsum(self._sizes)[:-1], axis=axis)
        total = None
        for (_, branch), part in zip(self._pairs, parts, strict=True):
            gi = branch.backward(np.ascontiguousarray(part))
            total = gi if total is None else total + gi
        return total

    def _inner_rows(self, shape, depth):
        rows, outs = [], []
        for i, (key, branch) in enumerate(self._pairs):
            sub, out = _chain_rows([(key, branch)], shape, depth,
                                   lambda _, i=i: self._label(i))
            rows += sub
            outs.append(out)
        axis = self._axis(len(outs[0]))
        self._check_joinable(outs, axis)
        out = list(outs[0])
        out[axis] = sum(o[axis] for o in outs)
        out = tuple(out)
        rows.append(SummaryRow("concat", "concat", out[1:], 0, 0, numel(out[1:]), depth))
        return rows, out

    def __repr__(self) -> str:
        return f"Concat({_nested(self._pairs)}\n)"


Parallel = Concat


class Residual(_Container):
    """A block plus its shortcut: ``y = activation(block(x) + shortcut(x))``.

    Parameters
    ----------
    block : Layer
        The residual branch, usually a :class:`Sequential`.
    shortcut : Layer or None
        The projection on the skip connection (a 1x1 convolution and a BatchNorm when
        the block changes the shape), or None for the identity.
    activation : Layer or None
        Applied to the sum (ResNet's ReLU), or None.

    Notes
    -----
    Keys follow torchvision's ResNet blocks: the block's own layers without a prefix
    (``"conv1.weight"``, ``"bn1.running_mean"`` when the block is a Sequential built
    from a mapping), the shortcut's under ``"downsample."``.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import nn
    >>> block = nn.Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, rng=0),
    ...                                   nn.BatchNorm2d(4)), activation=nn.ReLU())
    >>> block(np.ones((1, 4, 6, 6), np.float32)).shape
    (1, 4, 6, 6)
    >>> sorted(block.state_dict())[:3]
    ['0.bias', '0.weight', '1.bias']
    """

    def __init__(self, block: Layer, shortcut: Layer | None = None,
                 activation: Layer | None = None) -> None:
        super().__init__()
        for name, value in (("block", block), ("shortcut", shortcut),
                            ("activation", activation)):
            if not isinstance(value, Layer) and not (value is None and name != "block"):
                raise TypeError(f"{name} must be a convcore.nn layer"
                                f"{'' if name == 'block' else ' or None'}, got "
                                f"{type(value).__name__}")
        self.block, self.shortcut, self.activation = block, shortcut, activation

    def _block_pairs(self):
        if isinstance(self.block, Sequential):
            return list(self.block._children())
        return [("block", self.block)]

    def _children(self):
        pairs = self._block_pairs()
        if self.shortcut is not None:
            pairs.append(("downsample", self.shortcut))
        if self.activation is not None:
            pairs.append(("activation", self.activation))
        return pairs

    def forward(self, x) -> np.ndarray:
        y = self.block.forward(x)
        s = x if self.shortcut is None else self.shortcut.forward(x)
        if np.shape(s) != np.shape(y):
            raise ValueError(f"{self!r}: the block gives shape {np.shape(y)} but the shortcut "
                             f"gives {np.shape(s)}; a projection shortcut must match them")
        y = _add(y, s, x)
        if self.activation is not None:
            y = self.activation.forward(y)
        self._input = True
        return y

    def backward(self, grad_output) -> np.ndarray:
        """The gradient flows into both the block and the shortcut; their input gradients
        add up."""
        if self._input is None:
            raise RuntimeError(f"{self!r}: backward() needs a forward() call first")
        g = grad_output
        if self.activation is not None:
            g = self.activation.backward(g)
        gi = self.block.backward(g)
        gs = as_real_array("grad_output", g) if self.shortcut is None else (
            self.shortcut.backward(g))
        return gi + gs

    def _inner_rows(self, shape, depth):
        pairs = self._block_pairs()
        rows, out = _chain_rows(pairs, shape, depth, lambda i: f"layer '{pairs[i][0]}'")
        skip = shape
        if self.shortcut is not None:
            sub, skip = self.shortcut._summary_rows("downsample", shape, depth)
            rows += sub
        if skip != out:
            raise ValueError(f"the block gives shape {out[1:]} but the shortcut gives "
                             f"{skip[1:]}; a projection shortcut must match them")
        rows.append(SummaryRow("add", "add", out[1:], 0, 0, numel(out[1:]), depth))
        if self.activation is not None:
            sub, out = self.activation._summary_rows("activation", out, depth)
            rows += sub
        return rows, out

    def __repr__(self) -> str:
        parts = [f"block={self.block!r}"]
        if self.shortcut is not None:
            parts.append(f"shortcut={self.shortcut!r}")
        if self.activation is not None:
            parts.append(f"activation={self.activation!r}")
        return "Residual(" + ", ".join(parts) + ")"
