"""The one place that decides how many threads a kernel uses."""

from __future__ import annotations

import operator

from convcore import _config

_requested: int | None = None
# Far above any core count: a typo cannot ask for billions of threads.
MAX_THREADS = 1024


def set_num_threads(n: int | None) -> None:
    """Set the number of threads convcore's kernels use.

    Parameters
    ----------
    n : int or None
        A thread count in [1, 1024], or None to go back to the default:
        ``OMP_NUM_THREADS`` when set, else all cores.  Without OpenMP every kernel runs
        on one thread whatever is set here.

    Raises
    ------
    TypeError
        If ``n`` is not an integer (or None).
    ValueError
        If ``n`` < 1 or ``n`` > 1024.

    Examples
    --------
    >>> import convcore
    >>> convcore.set_num_threads(1)
    >>> convcore.get_num_threads()
    1
    >>> convcore.set_num_threads(None)
    """
    global _requested
    if n is None:
        _requested = None
        return
    if isinstance(n, bool):
        raise TypeError(f"number of threads must be an int, got {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"number of threads must be an int, got {n!r}") from None
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"number of threads must be <= {MAX_THREADS}, got {n}")
    _requested = n


def get_num_threads() -> int:
    """Number of threads the next kernel call will use.

    Returns the value given to :func:`set_num_threads`, else ``OMP_NUM_THREADS``, else
    the number of cores; always 1 when convcore was built without OpenMP.

    Examples
    --------
    >>> import convcore
    >>> convcore.get_num_threads() >= 1
    True
    """
    if not _config.openmp_enabled():
        return 1
    if _requested is not None:
        return _requested
    return min(max(1, _config.openmp_max_threads()), MAX_THREADS)
