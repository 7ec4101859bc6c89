"""The summary of a network: one row per layer, indented by block, with totals."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SummaryRow:
    """One row of a summary: the output of one layer for one example (no batch axis).

    ``depth`` is the nesting level (0 for the layers of the outermost network).  A
    ``block`` row (a Sequential, Concat or Residual inside the network) carries the
    totals of the rows nested under it, so the rows of one depth add up to the totals
    of the block above them.  The ``add`` row of a residual block and the ``concat`` row
    of a branch block hold the activations of the sum or the concatenation.
    """

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activations: int
    depth: int = 0
    block: bool = False


def _si(n: int) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e8 else f"{n / 1e6:.2f} M"


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(d) for d in shape)


def block_row(name: str, kind: str, output_shape, inner: list[SummaryRow],
              depth: int) -> SummaryRow:
    """The row of a block: the sums of the rows one level below it."""
    top = [r for r in inner if r.depth == depth + 1]
    return SummaryRow(name, kind, tuple(output_shape), sum(r.params for r in top),
                      sum(r.macs for r in top), sum(r.activations for r in top), depth, True)


@dataclass(frozen=True)
class Summary:
    """Layer-by-layer output shapes, parameters, multiply-accumulates and activations.

    The first row is the input.  ``total_*`` are the sums of the outermost rows (depth
    0; a block row holds the sums of its own rows), so nothing is counted twice; the
    input's values count among the activations, as in the lecture's VGG-16 table.
    ``str()`` renders an aligned table with thousands separators, nested rows indented.
    """

    input_shape: tuple[int, ...]
    rows: tuple[SummaryRow, ...] = field(default=())

    def _top(self):
        return [r for r in self.rows if r.depth == 0]

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self._top())

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self._top())

    @property
    def total_activations(self) -> int:
        return sum(r.activations for r in self._top())

    def as_dict(self) -> dict:
        """Plain data (for JSON)."""
        return {"input_shape": list(self.input_shape),
                "rows": [dict(name=r.name, type=r.type, output_shape=list(r.output_shape),
                              params=r.params, macs=r.macs, activations=r.activations,
                              depth=r.depth, block=r.block)
                         for r in self.rows],
                "total_params": self.total_params, "total_macs": self.total_macs,
                "total_activations": self.total_activations}

    def __str__(self) -> str:
        head = ("Layer (type)", "Output shape", "Params", "MACs", "Activations")
        body = [("  " * r.depth + (r.name if r.name == r.type else f"{r.name} ({r.type})"),
                 _shape_text(r.output_shape), f"{r.params:,}", f"{r.macs:,}",
                 f"{r.activations:,}") for r in self.rows]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(5)]

        def line(cells):
            first = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            rest = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
            return "  ".join(first + rest).rstrip()

        rule_len = sum(widths) + 2 * (len(widths) - 1)
        mib = self.total_activations * 4 / 2**20
        note = (["(indented rows belong to the block above them, whose row shows their "
                 "sums)"] if any(r.block for r in self.rows) else [])
        return "\n".join([
            line(head), "=" * rule_len, *(line(c) for c in body), "=" * rule_len,
            f"Total params: {self.total_params:,}",
            f"Total MACs: {self.total_macs:,} ({_si(self.total_macs)})",
            f"Total activations: {self.total_activations:,} "
            f"({mib:.2f} MiB per example in float32)", *note,
        ])
