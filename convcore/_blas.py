"""Control the BLAS's threads while convcore's kernels call it.

scikit-learn's rule: never call a multithreaded BLAS from inside an OpenMP region.
threadpoolctl finds the BLAS libraries once; entering the context then costs two
``openblas_set_num_threads``-style calls, not a scan of every loaded library.  A
reference count lets concurrent Python threads share one limit and restores the
caller's setting when the last of them leaves.
"""

from __future__ import annotations

import functools
import os
import threading

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_active = 0
_saved: list[int] = []


@functools.cache
def _blas_controllers() -> tuple:
    import scipy.linalg.cython_blas  # noqa: F401  (make sure SciPy's BLAS is loaded)

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


class blas_threads:
    """Context manager: every loaded BLAS runs on ``n`` threads inside it.

    convcore uses ``blas_threads(1)`` around its own parallel regions and
    ``blas_threads(n)`` when one GEMM is all the work.  Concurrent callers share the
    first one's setting; the last one out restores the caller's.
    """

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        global _active
        with _lock:
            if _active == 0:
                controllers = _blas_controllers()
                _saved[:] = [c.num_threads for c in controllers]
                for c, old in zip(controllers, _saved, strict=True):
                    if old != self.n:
                        c.set_num_threads(self.n)
            _active += 1
        return self

    def __exit__(self, *exc):
        global _active
        with _lock:
            _active -= 1
            if _active == 0:
                for c, n in zip(_blas_controllers(), _saved, strict=True):
                    if c.num_threads != n:
                        c.set_num_threads(n)
        return False


def blas_description() -> str:
    """Name, version and threading layer of the BLAS im2col calls (SciPy's, whose
    ``cython_blas`` provides the gemm); all loaded BLAS libraries if it is not found."""
    import scipy

    scipy_root = os.path.dirname(os.path.dirname(scipy.__file__))
    controllers = _blas_controllers()
    ours = [c for c in controllers if c.filepath.startswith(os.path.join(scipy_root, "scipy"))]
    infos = [
        f"{c.internal_api} {c.version} ({getattr(c, 'threading_layer', '?')}), "
        f"{os.path.basename(c.filepath)}"
        for c in (ours or controllers)
    ]
    return "; ".join(infos) if infos else "unknown"
