"""The BLAS under convcore's GEMMs: single-threaded, over a fixed partition.

convcore never hands its threads to a multithreaded BLAS: a BLAS splits a product by its
own thread count, so the last bits of the result would depend on it.  Instead convcore's
OpenMP threads share out fixed tiles of the result (chosen from the shapes alone) and
each tile is one single-threaded gemm over the whole reduction; the result is then the
same for any thread count and under concurrent calls.

The kernels call NumPy's OpenBLAS or SciPy's (``kernel_blas`` chooses, once).  Every
loaded BLAS is set to one thread while any convcore GEMM runs (the FFT route's channel
products are NumPy's): threadpoolctl finds the libraries once; entering the context then
costs an ``openblas_set_num_threads``-style call per library.  A reference count lets
concurrent Python threads share the limit; the last one out restores the callers'
settings.
"""

from __future__ import annotations

import dataclasses
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


def _controllers_of(package: str) -> tuple:
    """The BLAS controllers whose library lies in ``package``'s folders (its own or the
    wheel's ``<package>.libs``)."""
    module = __import__(package)
    root = os.path.join(os.path.dirname(os.path.dirname(module.__file__)), package)
    return tuple(c for c in _all_blas_controllers() if c.filepath.startswith(root))


# The gemms an OpenBLAS may export: (sgemm, dgemm, 64-bit integers), first match used.
_GEMM_SYMBOLS = (
    ("scipy_sgemm_64_", "scipy_dgemm_64_", True),  # NumPy 2's scipy-openblas64
    ("scipy_sgemm_", "scipy_dgemm_", False),       # SciPy's scipy-openblas32
    ("sgemm_64_", "dgemm_64_", True),
    ("sgemm_", "dgemm_", False),
)
BLAS_CHOICES = ("auto", "numpy", "scipy")


@dataclasses.dataclass(frozen=True)
class KernelBlas:
    """The BLAS the GEMM kernels call: whose it is, its controller (None when not found),
    and the addresses handed to the kernels (0: SciPy's cython_blas)."""

    owner: str
    controller: object
    sgemm: int = 0
    dgemm: int = 0
    ilp64: bool = False
    local_threads: int = 0


def _open(controller, owner: str) -> KernelBlas | None:
    """The gemms and per-thread setter of an OpenBLAS controller, or None."""
    import ctypes

    if controller.internal_api != "openblas":
        return None
    try:
        lib = ctypes.CDLL(controller.filepath)
    except OSError:
        return None

    def address(name: str) -> int:
        try:
            return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0
        except AttributeError:
            return 0

    local = address("openblas_set_num_threads_local")
    for s_name, d_name, ilp64 in _GEMM_SYMBOLS:
        s, d = address(s_name), address(d_name)
        if s and d:
            return KernelBlas(owner, controller, s, d, ilp64, local)
    return None


@functools.cache
def kernel_blas() -> KernelBlas:
    """Choose the BLAS of the products outside the ISA's GEMM tile (Winograd's weight
    gradient, channels-last 1x1 layers, the transposed convolution's per-tap route).

    ``CONVCORE_BLAS=numpy`` takes NumPy's OpenBLAS, ``scipy`` SciPy's (through
    ``cython_blas``).  The default, ``auto``, takes NumPy's when it is an OpenBLAS
    running the same core type as SciPy's (measured faster: NumPy 2.4's OpenBLAS 0.3.31
    ran a 2048^2 sgemm on one thread in 0.6x the time of SciPy 1.17's 0.3.30 on an
    AVX-512 CPU, 0.85x at the Haswell core type), else SciPy's.  The core-type check keeps
    a level forced with CONVCORE_ISA: a NumPy imported before convcore keeps the core
    type it loaded with.
    """
    choice = os.environ.get("CONVCORE_BLAS", "auto").strip().lower() or "auto"
    if choice not in BLAS_CHOICES:
        raise ValueError(f"CONVCORE_BLAS={choice!r}: must be one of {BLAS_CHOICES}")
    scipy_ctl = _controllers_of("scipy")
    scipy_ctl = scipy_ctl[0] if scipy_ctl else None
    scipy_blas = (_open(scipy_ctl, "scipy") if scipy_ctl is not None else None)
    scipy_blas = KernelBlas("scipy", scipy_ctl, local_threads=(
        scipy_blas.local_threads if scipy_blas is not None else 0))
    if choice == "scipy":
        return scipy_blas
    numpy_ctl = _controllers_of("numpy")
    numpy_blas = _open(numpy_ctl[0], "numpy") if numpy_ctl else None
    if choice == "numpy":
        if numpy_blas is None:
            raise ValueError("CONVCORE_BLAS='numpy': NumPy's BLAS is not an OpenBLAS "
                             "exporting sgemm and dgemm; use 'scipy' or 'auto'")
        return numpy_blas
    if (numpy_blas is None or scipy_ctl is None
            or getattr(numpy_blas.controller, "architecture", None)
            != getattr(scipy_ctl, "architecture", None)):
        return scipy_blas
    return numpy_blas


_installed: list[KernelBlas] = []


def _install() -> KernelBlas:
    """Hand the chosen gemms and per-thread setter to every extension with GEMM kernels,
    once (under the lock: no kernel runs while they are written)."""
    from convcore import _conv, _winograd

    with _lock:
        if not _installed:
            blas = kernel_blas()
            for module in (_conv, _winograd):
                module.use_blas(blas.sgemm, blas.dgemm, blas.ilp64, blas.local_threads)
            _installed.append(blas)
        return _installed[0]


class single_threaded_blas:
    """Context manager: every loaded BLAS runs on one thread inside it.

    Every convcore GEMM runs inside it; concurrent callers share it, and the last one
    out restores the thread count the BLAS had before the first one came in.  With
    OpenBLAS, every thread of a GEMM team also sets its own (per-thread) count to 1.
    """

    def __enter__(self):
        global _active
        _install()
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


# Tiles of a product's result: at least this many items when the shapes allow tiles of at
# least _MIN_TILE rows/columns, and no tile above _MAX_TILE_MACS multiply-adds, so that a
# chunk of tiles stays short (Ctrl-C) and two or more threads have work.
_MIN_ITEMS = 16
_MIN_TILE = 64
_MAX_TILE_MACS = 64 * 1024 * 1024


def _tile(length: int, pieces: int) -> int:
    """A tile size splitting ``length`` into about ``pieces`` tiles of >= _MIN_TILE,
    a multiple of 16."""
    size = max(_MIN_TILE, -(-length // max(1, pieces)))
    size += -size % 16
    return max(1, min(length, size))


def _gemm_tiles(m: int, n: int, k: int, batch: int) -> tuple[int, int]:
    """Fixed tiles (tile_m, tile_n) of an m x n result (BLAS terms) from the shapes."""
    tile_m, tile_n = m, n
    want = max(1, -(-_MIN_ITEMS // max(1, batch)))
    macs = m * n * max(k, 1)
    want = max(want, -(-macs // _MAX_TILE_MACS))
    if want > 1:
        # split the longer side first, then the other one for what is still missing
        if m >= n:
            tile_m = _tile(m, want)
            rest = -(-want // -(-m // tile_m))
            tile_n = _tile(n, rest) if rest > 1 else n
        else:
            tile_n = _tile(n, want)
            rest = -(-want // -(-n // tile_n))
            tile_m = _tile(m, rest) if rest > 1 else m
    return tile_m, tile_n


def _blas_operand(a: np.ndarray, rows: int, cols: int):
    """(a, trans, ld) for a 3-D stack of row-major (rows x cols) matrices seen by
    column-major BLAS as op(X) with X = a's transpose: 'N' when the columns are
    contiguous, 'T' when the rows are, a C-contiguous copy otherwise."""
    item = a.itemsize
    s0, s1 = a.strides[1], a.strides[2]
    if cols == 1 or s1 == item:
        ld = s0 // item if rows > 1 else cols
        if ld >= max(1, cols) and (rows == 1 or s0 % item == 0):
            return a, "N", ld
    if rows == 1 or s0 == item:
        ld = s1 // item if cols > 1 else rows
        if ld >= max(1, rows) and (cols == 1 or s1 % item == 0):
            return a, "T", ld
    a = np.ascontiguousarray(a)
    return a, "N", max(1, cols)


def matmul(a: np.ndarray, b: np.ndarray, c: np.ndarray, *, accumulate: bool = False,
           n_threads: int = 1) -> None:
    """``c = a @ b`` (or ``c += a @ b``) for stacks of matrices, bit-identical for any
    thread count.

    ``a`` (batch or 1, M, K), ``b`` (batch or 1, K, N) and ``c`` (batch, M, N) share one
    float dtype; ``c`` has contiguous rows and shares no memory with ``a`` or ``b``.
    The result is split into fixed tiles (from the shapes), each one single-threaded
    gemm over all of K on convcore's threads, interruptible between chunks of tiles.
    NaN and inf propagate without warnings.  Callers have validated everything.
    """
    from convcore import _conv  # the bridge holding the tiled gemm

    batch, M, N = c.shape
    K = a.shape[2]
    if batch == 0 or M == 0 or N == 0:
        return
    if K == 0:
        if not accumulate:
            c[...] = 0
        return
    item = c.itemsize
    # row-major C = A B is column-major C^T = B^T A^T: BLAS's first operand is b
    bo, tb, ldb = _blas_operand(b, K, N)
    ao, ta, lda = _blas_operand(a, M, K)
    ldc = c.strides[1] // item if M > 1 else N
    sb = bo.strides[0] // item if bo.shape[0] > 1 else 0
    sa = ao.strides[0] // item if ao.shape[0] > 1 else 0
    sc = c.strides[0] // item if batch > 1 else 0
    tile_m, tile_n = _gemm_tiles(N, M, K, batch)
    blas = (tb, ta, N, M, K, ldb, lda, ldc, sb, sa, sc, tile_m, tile_n, 1.0,
            1.0 if accumulate else 0.0)
    with single_threaded_blas():
        _conv.gemm_tiles(bo, ao, c, blas, n_threads)


def blas_description() -> str:
    """Name, version, threading layer and core type of the BLAS the GEMM kernels call,
    and whose it is (NumPy's or SciPy's); "unknown" when it was not found."""
    blas = kernel_blas()
    c = blas.controller
    if c is None:
        return f"unknown ({blas.owner}'s)"
    return (f"{c.internal_api} {c.version} ({getattr(c, 'threading_layer', '?')}, "
            f"{getattr(c, 'architecture', '?')}), {os.path.basename(c.filepath)} "
            f"({'NumPy' if blas.owner == 'numpy' else 'SciPy'}'s)")
