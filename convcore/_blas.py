"""Keep the BLAS single-threaded while convcore's own threads call it."""

from __future__ import annotations

import contextlib
import functools

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def single_threaded_blas():
    """Context manager limiting every loaded BLAS to one thread (scikit-learn's rule:
    never call a multithreaded BLAS from inside an OpenMP region)."""
    controller = _controller()
    if not controller.select(user_api="blas").lib_controllers:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def blas_description() -> str:
    """Name, version and threading layer of the BLAS im2col calls (SciPy's)."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS)

    infos = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('threading_layer')}, "
        f"{i.get('filepath', '').rsplit('/', 1)[-1]})"
        for i in ThreadpoolController().info()
        if i.get("user_api") == "blas"
    ]
    return "; ".join(infos) if infos else "unknown"
