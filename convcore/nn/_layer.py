"""The base class of every layer: parameters, gradients, modes, shapes and weight files."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np

from convcore._checks import as_bool, as_int, as_real_array
from convcore.nn.summary import SummaryRow

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def generator(rng) -> np.random.Generator:
    """A NumPy Generator from None (fresh entropy), an int seed or a Generator."""
    if rng is None or isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {rng!r}")


def float_dtype(dtype) -> np.dtype:
    """float32 or float64, the dtypes the kernels compute in."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in _FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def shape_tuple(name: str, shape) -> tuple[int, ...]:
    """A shape as a tuple of ints >= 0."""
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        items = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of ints, got {shape!r}") from None
    dims = tuple(as_int(name, v) for v in items)
    if any(d < 0 for d in dims):
        raise ValueError(f"{name} must not have negative sizes, got {shape!r}")
    return dims


def shaped(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
    """A read-only array of ``shape`` that takes no memory (every stride 0): lets the
    functional validation compute output shapes without data."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def as_numpy(value) -> np.ndarray:
    """A NumPy array from an array-like or a tensor (anything with ``.detach()`` and
    ``.numpy()``, such as a CPU ``torch.Tensor`` from a ``state_dict``)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


class Layer:
    """A layer: ``y = layer(x)``, ``grad_x = layer.backward(grad_y)``.

    Subclasses list their parameter names in ``_param_names`` and hold each parameter
    as an attribute of that name (a NumPy array, or None for an absent bias); they
    implement ``_forward``, ``_backward`` and ``output_shape``.  ``forward`` keeps a
    reference to its input for ``backward`` (the input is never modified).
    """

    _param_names: tuple[str, ...] = ()
    _buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True
        self.name: str | None = None
        self.grads: dict[str, np.ndarray] = {}
        self._input: np.ndarray | None = None
        self._output_shape_last: tuple[int, ...] = ()
        self._uninitialised: set[str] = set()

    # -- parameters -----------------------------------------------------------------
    def _children(self) -> list[tuple[str, Layer]]:
        """The sub-layers of a container as (key, layer); a leaf has none."""
        return []

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The parameters by name (the arrays themselves, not copies); a container's are
        ``"key.name"``, recursively, as ``torch.nn.Module.named_parameters`` names them."""
        return self._gather(self._param_names, "params")

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        """The state that is not trained (BatchNorm's running statistics), by name."""
        return self._gather(self._buffer_names, "buffers")

    def _gather(self, names: tuple[str, ...], prop: str) -> dict[str, np.ndarray]:
        out = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        for key, child in self._children():
            out.update((f"{key}.{n}", v) for n, v in getattr(child, prop).items())
        return out

    @property
    def num_params(self) -> int:
        """Number of parameter values (weights and biases; buffers not counted)."""
        return sum(p.size for p in self.params.values())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters and buffers by name, as ``torch.nn.Module.state_dict``
        names them."""
        return {k: np.array(getattr(layer, attr)) for k, (layer, attr) in self._slots().items()}

    def _slots(self, prefix: str = "") -> dict[str, tuple[Layer, str]]:
        """Every parameter and buffer as full key -> (owning layer, attribute)."""
        out = {f"{prefix}{n}": (self, n) for n in (*self._param_names, *self._buffer_names)
               if getattr(self, n) is not None}
        for key, child in self._children():
            out.update(child._slots(f"{prefix}{key}."))
        return out

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy parameters and buffers in from a mapping of names to arrays (or CPU tensors,
        such as a ``torch.nn.Module.state_dict()`` of the same structure).

        Each array must have the parameter's shape; it is cast to the parameter's
        dtype.  With ``strict`` (default) the names must match exactly.  All or nothing:
        every value is read, checked and converted before any is replaced, so an error
        of any kind leaves the layer as it was.

        Raises
        ------
        ValueError
            A missing or unexpected name (strict), or a shape that differs.
        TypeError
            ``strict`` not a bool, ``state`` not a mapping, or a value that is not an
            array of real numbers (the message names its key).
        """
        strict = as_bool("strict", strict)
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of names to arrays, got "
                            f"{type(state).__name__}")
        slots = self._slots()
        keys = set(state.keys())
        if strict:
            missing = sorted(set(slots) - keys)
            unexpected = sorted(str(k) for k in keys - set(slots))
            if missing or unexpected:
                raise ValueError(f"{self!r}: state_dict does not match the parameters: "
                                 f"missing {missing}, unexpected {unexpected}")
        new = []
        for key, (layer, attr) in slots.items():
            if key in keys:
                current = getattr(layer, attr)
                new.append((layer, attr, _converted(key, state[key], current, layer)))
        for layer, attr, arr in new:  # all read and checked before any is replaced
            setattr(layer, attr, arr)
            layer._uninitialised.discard(attr)

    def save(self, path) -> None:
        """Write the parameters to a ``.npz`` file (``numpy.savez``)."""
        np.savez(os.fspath(path), **self.state_dict())

    def load(self, path) -> None:
        """Read parameters written by :meth:`save` (or any ``.npz`` with the same names)."""
        with np.load(os.fspath(path), allow_pickle=False) as data:
            self.load_state_dict({k: data[k] for k in data.files})

    # -- modes ----------------------------------------------------------------------
    def train(self, mode: bool = True) -> Layer:
        """Training mode (the default): Dropout drops, MaxPool2d records its argmax."""
        self.training = as_bool("mode", mode)
        for _, child in self._children():
            child.train(self.training)
        return self

    def eval(self) -> Layer:
        """Evaluation mode: Dropout is the identity."""
        return self.train(False)

    # -- running --------------------------------------------------------------------
    def __call__(self, x) -> np.ndarray:
        return self.forward(x)

    def forward(self, x) -> np.ndarray:
        """Run the layer on ``x``; errors name the layer."""
        if self._uninitialised:
            raise ValueError(f"{self!r}: {sorted(self._uninitialised)} not initialised "
                             "(built with init=False); load weights with load_state_dict")
        try:
            y = self._forward(x)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self!r}: {exc}") from None
        self._input, self._output_shape_last = x, np.shape(y)
        return y

    def backward(self, grad_output) -> np.ndarray:
        """The gradient with respect to the last forward input; parameter gradients go to
        ``self.grads`` (replacing those of the previous call)."""
        if self._input is None:
            raise RuntimeError(f"{self!r}: backward() needs a forward() call first")
        try:
            return self._backward(grad_output)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self!r}: {exc}") from None

    def output_shape(self, input_shape) -> tuple[int, ...]:
        """The shape ``forward`` returns for an input of ``input_shape``, computed without
        running anything.

        Raises
        ------
        ValueError
            If the shape does not fit the layer; the message names the layer and the sizes.
        """
        shape = shape_tuple("input_shape", input_shape)
        try:
            return self._output_shape(shape)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{self!r} on input shape {shape}: {exc}") from None

    def macs(self, input_shape) -> int:
        """Multiply-accumulates of one forward call on ``input_shape`` (torchinfo's count:
        every kernel position, padding included; biases not counted)."""
        shape = shape_tuple("input_shape", input_shape)
        self.output_shape(shape)
        return self._macs(shape)

    def _macs(self, shape: tuple[int, ...]) -> int:
        return 0

    def _summary_rows(self, key: str, shape: tuple[int, ...],
                      depth: int) -> tuple[list[SummaryRow], tuple[int, ...]]:
        """The summary rows of this layer on a batched input ``shape`` and its output
        shape; a container adds its own block row and those of its layers."""
        out = self.output_shape(shape)
        return [SummaryRow(self.name or key, type(self).__name__, out[1:], self.num_params,
                           self.macs(shape), numel(out[1:]), depth)], out

    def _output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def _forward(self, x) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, grad_output) -> np.ndarray:
        raise NotImplementedError

    def _grad(self, grad_output) -> np.ndarray:
        """grad_output as a real array of the last forward result's shape."""
        g = as_real_array("grad_output", grad_output)
        if g.shape != self._output_shape_last:
            raise ValueError(f"grad_output has shape {g.shape}; the forward result has shape "
                             f"{self._output_shape_last}")
        return g

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def _converted(key: str, value, current: np.ndarray, layer: Layer) -> np.ndarray:
    """``value`` as a new C-contiguous array of ``current``'s dtype and shape; errors name
    the key (a tensor NumPy cannot hold, such as bfloat16 or a meta tensor, included)."""
    try:
        arr = as_numpy(value)
    except Exception as exc:  # whatever the tensor library raises, named by its key
        raise TypeError(f"{key}: cannot be read as a NumPy array of real numbers "
                        f"({type(exc).__name__}: {exc})") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{key} has dtype {arr.dtype}; expected real numbers")
    if arr.shape != current.shape:
        raise ValueError(f"{key} has shape {arr.shape}; {layer!r}'s {key.rsplit('.', 1)[-1]} "
                         f"has shape {current.shape}")
    return np.array(arr, dtype=current.dtype, order="C")  # a copy, never a view
