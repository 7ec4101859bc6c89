"""The BLAS NumPy calls, held to one thread where convcore runs NumPy products on its
own threads.

convcore's kernels call no BLAS: every GEMM of the C library runs on the ISA's GEMM tile
(csrc/driver/). The FFT route's channel products are NumPy's matmul, run by convcore's
threads on fixed pieces of the work; a multithreaded BLAS under them would split each
product by its own thread count. So every loaded BLAS is set to one thread while they
run: threadpoolctl finds the libraries once; entering the context then costs an
``openblas_set_num_threads``-style call per library.  A reference count lets concurrent
Python threads share the limit; the last one out restores the callers' settings.
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np
from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_active = 0
_saved: list[int] = []


@functools.cache
def _all_blas_controllers() -> tuple:
    import scipy.linalg.cython_blas  # noqa: F401  (make sure SciPy's BLAS is loaded)

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


def _numpy_controller():
    """The controller of the BLAS in NumPy's folders (its own or the wheel's
    ``numpy.libs``), or None."""
    root = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy")
    found = [c for c in _all_blas_controllers() if c.filepath.startswith(root)]
    return found[0] if found else None


class single_threaded_blas:
    """Context manager: every loaded BLAS runs on one thread inside it.

    The FFT route's channel products (NumPy's matmul on convcore's threads) run inside
    it; concurrent callers share it, and the last one out restores the thread count the
    BLAS had before the first one came in.
    """

    def __enter__(self):
        global _active
        with _lock:
            if _active == 0:
                controllers = _all_blas_controllers()
                _saved[:] = [c.num_threads for c in controllers]
                for c, old in zip(controllers, _saved, strict=True):
                    if old != 1:
                        c.set_num_threads(1)
            _active += 1
        return self

    def __exit__(self, *exc):
        global _active
        with _lock:
            _active -= 1
            if _active == 0:
                _restore()
        return False


def _restore() -> None:
    for c, n in zip(_all_blas_controllers(), _saved, strict=True):
        if c.num_threads != n:
            c.set_num_threads(n)


def _after_fork_in_child() -> None:
    """The child has only the thread that forked: a limit held by threads that are gone
    is released, and the lock (maybe held by one of them) is new."""
    global _lock, _active
    _lock = threading.Lock()
    if _active:
        _active = 0
        _restore()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def aligned_empty(n: int, dtype) -> np.ndarray:
    """An uninitialised 1-D array of ``n`` items starting on a 64-byte boundary (so each
    thread's workspace tile is aligned the same way whatever the thread)."""
    dtype = np.dtype(dtype)
    raw = np.empty(n * dtype.itemsize + 64, np.uint8)
    offset = -raw.ctypes.data % 64
    return raw[offset:offset + n * dtype.itemsize].view(dtype)


def blas_description() -> str:
    """Name, version, threading layer and core type of NumPy's BLAS (the FFT route's
    channel products), "unknown" when it was not found."""
    c = _numpy_controller()
    if c is None:
        return "unknown (NumPy's; convcore's kernels call none)"
    return (f"{c.internal_api} {c.version} ({getattr(c, 'threading_layer', '?')}, "
            f"{getattr(c, 'architecture', '?')}), {os.path.basename(c.filepath)} "
            f"(NumPy's, for the FFT route's channel products; convcore's kernels call none)")
