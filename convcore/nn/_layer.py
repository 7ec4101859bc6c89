"""The base class of every layer: parameters, gradients, modes, shapes and weight files."""

from __future__ import annotations

import math
import os

import numpy as np

from convcore._checks import as_bool, as_int, as_real_array

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

    def __init__(self) -> None:
        self.training = True
        self.name: str | None = None
        self.grads: dict[str, np.ndarray] = {}
        self._input: np.ndarray | None = None
        self._output_shape_last: tuple[int, ...] = ()
        self._uninitialised: set[str] = set()

    # -- parameters -----------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """The parameters by name (the arrays themselves, not copies)."""
        out = {}
        for n in self._param_names:
            value = getattr(self, n)
            if value is not None:
                out[n] = value
        return out

    @property
    def num_params(self) -> int:
        """Number of parameter values (weights and biases)."""
        return sum(p.size for p in self.params.values())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters by name, as ``torch.nn.Module.state_dict`` names them."""
        return {n: np.array(p) for n, p in self.params.items()}

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy parameters in from a mapping of names to arrays (or CPU tensors).

        Each array must have the parameter's shape; it is cast to the parameter's
        dtype.  With ``strict`` (default) the names must match exactly.

        Raises
        ------
        ValueError
            A missing or unexpected name (strict), or a shape that differs.
        TypeError
            An array that is not of real numbers.
        """
        strict = as_bool("strict", strict)
        own = self.params
        keys = set(state.keys())
        if strict:
            missing = sorted(set(own) - keys)
            unexpected = sorted(keys - set(own))
            if missing or unexpected:
                raise ValueError(f"{self!r}: state_dict does not match the parameters: "
                                 f"missing {missing}, unexpected {unexpected}")
        new = {}
        for n, p in own.items():
            if n not in keys:
                continue
            arr = as_numpy(state[n])
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"{self!r}: {n} has dtype {arr.dtype}; expected real numbers")
            if arr.shape != p.shape:
                raise ValueError(f"{self!r}: {n} has shape {arr.shape}; the layer's {n} "
                                 f"has shape {p.shape}")
            new[n] = np.array(arr, dtype=p.dtype, order="C")  # a copy, never a view
        for n, arr in new.items():  # all checked before any is replaced
            setattr(self, n, arr)
            self._uninitialised.discard(n)

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
