"""Sequential: layers run one after the other, and the summary of a design."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convcore.nn._layer import Layer, numel, shape_tuple


@dataclass(frozen=True)
class SummaryRow:
    """One row of a summary: the output of one layer for one example (no batch axis)."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activations: int


def _si(n: int) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e8 else f"{n / 1e6:.2f} M"


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(d) for d in shape)


@dataclass(frozen=True)
class Summary:
    """Layer-by-layer output shapes, parameters, multiply-accumulates and activations.

    The first row is the input.  ``total_*`` are the sums of the rows (the input's
    values count among the activations, as in the lecture's VGG-16 table).  ``str()``
    renders an aligned table with thousands separators.
    """

    input_shape: tuple[int, ...]
    rows: tuple[SummaryRow, ...] = field(default=())

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def total_activations(self) -> int:
        return sum(r.activations for r in self.rows)

    def as_dict(self) -> dict:
        """Plain data (for JSON)."""
        return {"input_shape": list(self.input_shape),
                "rows": [dict(name=r.name, type=r.type, output_shape=list(r.output_shape),
                              params=r.params, macs=r.macs, activations=r.activations)
                         for r in self.rows],
                "total_params": self.total_params, "total_macs": self.total_macs,
                "total_activations": self.total_activations}

    def __str__(self) -> str:
        head = ("Layer (type)", "Output shape", "Params", "MACs", "Activations")
        body = [(r.name if r.name == r.type else f"{r.name} ({r.type})",
                 _shape_text(r.output_shape), f"{r.params:,}", f"{r.macs:,}",
                 f"{r.activations:,}") for r in self.rows]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(5)]

        def line(cells):
            first = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            rest = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
            return "  ".join(first + rest).rstrip()

        rule_len = sum(widths) + 2 * (len(widths) - 1)
        mib = self.total_activations * 4 / 2**20
        return "\n".join([
            line(head), "=" * rule_len, *(line(c) for c in body), "=" * rule_len,
            f"Total params: {self.total_params:,}",
            f"Total MACs: {self.total_macs:,} ({_si(self.total_macs)})",
            f"Total activations: {self.total_activations:,} "
            f"({mib:.2f} MiB per example in float32)",
        ])


class Sequential(Layer):
    """Layers applied in order; ``backward`` runs them in reverse.

    Parameters are named as PyTorch's ``nn.Sequential`` names them (``"0.weight"``,
    ``"3.bias"``...), so the ``state_dict`` of a ``torch.nn.Sequential`` with the same
    layers loads as it is (:meth:`load_state_dict` takes tensors or arrays).

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
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} must be a convcore.nn layer, got "
                                f"{type(layer).__name__}")
        self.layers = list(layers)
        self.input_shape: tuple[int, ...] | None = None  # set by from_spec

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def _label(self, i: int) -> str:
        name = self.layers[i].name
        return f"layer {i} '{name}'" if name else f"layer {i}"

    # -- parameters: "index.name", recursively ----------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"{i}.{n}": p for i, layer in enumerate(self.layers)
                for n, p in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{n}": g for i, layer in enumerate(self.layers)
                for n, g in layer.grads.items()}

    @grads.setter
    def grads(self, value) -> None:  # the base class initialises it; layers hold their own
        pass

    def state_dict(self) -> dict[str, np.ndarray]:
        return {f"{i}.{n}": p for i, layer in enumerate(self.layers)
                for n, p in layer.state_dict().items()}

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Load ``"index.name"`` parameters (a ``torch.nn.Sequential`` state_dict, or
        :meth:`state_dict`'s); every layer is checked before any is changed."""
        keys = set(state.keys())
        own = set(self.params)
        if strict and keys != own:
            raise ValueError(f"state_dict does not match the parameters: missing "
                             f"{sorted(own - keys)}, unexpected {sorted(keys - own)}")
        parts = []
        for i, layer in enumerate(self.layers):
            prefix = f"{i}."
            sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            parts.append((layer, sub))
        backups = [(layer, layer.state_dict(), set(layer._uninitialised))
                   for layer, _ in parts]
        try:
            for layer, sub in parts:
                layer.load_state_dict(sub, strict=False)
        except (TypeError, ValueError):
            for layer, saved, uninit in backups:  # all or nothing
                if saved:
                    layer.load_state_dict(saved, strict=False)
                layer._uninitialised = uninit
            raise

    def train(self, mode: bool = True) -> Sequential:
        super().train(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    # -- running ----------------------------------------------------------------------
    def forward(self, x) -> np.ndarray:
        for i, layer in enumerate(self.layers):
            try:
                x = layer.forward(x)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"{self._label(i)}: {exc}") from None
        self._input = True  # backward is allowed
        return x

    def backward(self, grad_output) -> np.ndarray:
        """Back through every layer; each layer's parameter gradients go to its
        ``grads`` (and appear here as ``"index.name"``)."""
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def output_shape(self, input_shape) -> tuple[int, ...]:
        shape = shape_tuple("input_shape", input_shape)
        for i, layer in enumerate(self.layers):
            try:
                shape = layer.output_shape(shape)
            except ValueError as exc:
                raise ValueError(f"{self._label(i)}: {exc}") from None
        return shape

    def macs(self, input_shape) -> int:
        shape = shape_tuple("input_shape", input_shape)
        total = 0
        for layer in self.layers:
            total += layer.macs(shape)
            shape = layer.output_shape(shape)
        return total

    def summary(self, input_shape=None) -> Summary:
        """The table of one example's output shape, parameters, MACs and activations per
        layer, computed without running anything.

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
        rows = [SummaryRow("input", "input", shape, 0, 0, numel(shape))]
        batched = (1, *shape)
        for i, layer in enumerate(self.layers):
            try:
                out = layer.output_shape(batched)
                macs = layer.macs(batched)
            except ValueError as exc:
                raise ValueError(f"{self._label(i)}: {exc}") from None
            kind = type(layer).__name__
            rows.append(SummaryRow(layer.name or str(i), kind, out[1:], layer.num_params,
                                   macs, numel(out[1:])))
            batched = out
        return Summary(shape, tuple(rows))

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"
