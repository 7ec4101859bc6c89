"""Products of stacks of matrices on the ISA's GEMM tile (csrc/driver/matmul.c), for the
routes that are one GEMM: the channels-last 1x1 layers, the transposed convolution's
per-tap route and weight gradient, and Linear (convcore.nn).

Every element of the result is summed over the reduction in order by one work item (a
block of rows and columns fixed by the shapes), so the result is the same for any
thread count and under concurrent calls; no BLAS is involved.
"""

from __future__ import annotations

import numpy as np

from convcore import _conv, _scratch


def matmul(a: np.ndarray, b: np.ndarray, c: np.ndarray, *, bias: np.ndarray | None = None,
           accumulate: bool = False, n_threads: int = 1) -> None:
    """``c = bias + a @ b`` (``bias`` (N,) on every row, summed first; none by default)
    or ``c += a @ b`` (``accumulate``, no bias) for stacks of matrices, bit-identical for
    any thread count.

    ``a`` (batch or 1, M, K), ``b`` (batch or 1, K, N) and ``c`` (batch, M, N) share one
    float dtype; ``c`` has contiguous rows and shares no memory with ``a`` or ``b``;
    ``a`` and ``b`` may have any strides.  NaN and inf propagate without warnings.
    Callers have validated everything.
    """
    assert bias is None or not accumulate
    batch, M, N = c.shape
    if batch == 0 or M == 0 or N == 0:
        return
    K = a.shape[2]
    if b.strides[2] != b.itemsize and N > 1 and K > 1:
        # The tile reads b along its rows: b's columns are gathered into panels once per
        # block of rows.  When a and c are the smaller pair (Linear's x @ weight.T), the
        # product turns over instead: c^T = b^T a^T, a^T copied once, c^T added back.
        if bias is None and a.shape[0] * K * M + batch * M * N < b.shape[0] * K * N:
            # c's sums start from c itself when accumulating, in the same order as unturned
            ct = (np.ascontiguousarray(c.transpose(0, 2, 1)) if accumulate
                  else np.empty((batch, N, M), c.dtype))
            at = np.ascontiguousarray(a.transpose(0, 2, 1))
            matmul(b.transpose(0, 2, 1), at, ct, accumulate=accumulate, n_threads=n_threads)
            c[...] = ct.transpose(0, 2, 1)
            return
        if M > _conv.MATMUL_ROWS:  # many blocks of rows: gathered once, not per block
            b = np.ascontiguousarray(b)
    workers = max(1, n_threads)
    with _scratch.scratch(workers * _conv.matmul_workspace() + 16, c.dtype) as buf:
        offset = (-buf.ctypes.data % 64) // c.itemsize  # each thread's block 64-byte aligned
        bias = (np.empty(0, c.dtype) if bias is None
                else np.require(bias, c.dtype, ("C", "A")))  # aligned for C
        _conv.matmul(a, b, bias, c, buf[offset:], accumulate, workers)
