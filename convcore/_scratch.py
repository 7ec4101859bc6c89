"""Scratch buffers kept from call to call.

Winograd's transformed weights and its per-thread workspace live for one call and are
large: 9 to 38 MiB on 256- and 512-channel 3x3 layers.  Allocated afresh on every call,
the pages of the largest come back from the kernel zeroed each time (NumPy maps them in
2 MiB pages): on a 512@28 layer (Intel Xeon, 2 threads) that was 550 page faults and
10 ms of system time in a 22 ms call.  Reused, 512@28 and 512@14 layers at batch 1 took
0.75-0.85x their time (alternating processes, 2026-12-02); on 256@56 and 128@28, where
no page fault was counted, the times did not change beyond the noise.

The merged phase result of a strided transposed convolution is another such buffer
(9 MB on a DCGAN decoder layer 128->64 4x4/2 on 32x32, batch 8, whose call then took
0.85-0.94x its time, alternating processes at AVX-512).

So those buffers come from this pool: a call takes a buffer of at least the bytes it
needs (and at most twice as many) and gives it back when it is done, also on an error.
Concurrent calls take different buffers.  At most ``KEEP_BYTES`` are kept between calls
(the most recently returned first); :func:`clear` (public as
``convcore.release_buffers``) lets them go.  A forked child starts with an empty pool.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

KEEP_BYTES = 256 << 20

_LOCK = threading.Lock()
_FREE: list[np.ndarray] = []  # byte buffers not in use, the most recently returned last


def _take(nbytes: int) -> np.ndarray:
    with _LOCK:
        fits = [i for i, b in enumerate(_FREE) if nbytes <= b.nbytes <= 2 * nbytes]
        if fits:
            return _FREE.pop(min(fits, key=lambda i: _FREE[i].nbytes))
    return np.empty(max(nbytes, 1), dtype=np.uint8)


def _give(buf: np.ndarray) -> None:
    if buf.nbytes > KEEP_BYTES:  # kept, it would push every other buffer out
        return
    with _LOCK:
        _FREE.append(buf)
        total = sum(b.nbytes for b in _FREE)
        while _FREE and total > KEEP_BYTES:
            total -= _FREE.pop(0).nbytes


@contextmanager
def scratch(n: int, dtype) -> Iterator[np.ndarray]:
    """A 1-D array of ``n`` elements of ``dtype`` (uninitialised) for the duration of
    the ``with`` block, from the pool."""
    dtype = np.dtype(dtype)
    buf = _take(n * dtype.itemsize)
    try:
        yield buf[: n * dtype.itemsize].view(dtype)
    finally:
        _give(buf)


def kept_bytes() -> int:
    """Bytes the pool holds between calls."""
    with _LOCK:
        return sum(b.nbytes for b in _FREE)


def clear() -> int:
    """Let every kept buffer go; the bytes they held."""
    with _LOCK:
        held = sum(b.nbytes for b in _FREE)
        _FREE.clear()
    return held


def _after_fork_in_child() -> None:
    global _LOCK
    _LOCK = threading.Lock()
    _FREE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
