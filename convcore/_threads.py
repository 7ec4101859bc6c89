"""The one place that decides how many threads a kernel uses.

Also what keeps threads safe across ``fork()`` and under system limits:

- before a fork, the forking thread's OpenMP thread pool is shut down (libgomp would
  otherwise wait forever in the child for pool threads that were not copied), so kernels
  in a forked child work with any thread count; where the OpenMP runtime cannot do that,
  the forking thread of the child runs the kernels on one thread;
- a thread count is probed before it is used: the OpenMP runtime kills the process when
  it cannot start a thread (RLIMIT_NPROC, a cgroup's pids limit, address-space limits),
  so :func:`set_num_threads` refuses a count the system would not allow, and the default
  count is clamped to what it allows.
"""

from __future__ import annotations

import operator
import os
import threading

from convcore import _config

_requested: int | None = None
# Far above any core count: a typo cannot ask for billions of threads.
MAX_THREADS = 1024
# The largest thread count the system was seen to allow (probed), and the default count
# once probed.
_allowed = 1
_default: int | None = None
_probe_lock = threading.Lock()
# In a forked child whose OpenMP pool could not be released: the thread that forked.
_single_thread_ident: int | None = None


def _probe(n: int) -> int:
    """The largest count <= n the system lets this process start (n when all of it)."""
    global _allowed
    if n <= _allowed:
        return n
    with _probe_lock:
        started = _config.threads_probe(n)
        allowed = started + 1
        if allowed >= n:
            _allowed = max(_allowed, n)
        return min(allowed, n)


def set_num_threads(n: int | None) -> None:
    """Set the number of threads convcore's kernels use.

    Results do not depend on it: every kernel splits its work in the same way for any
    thread count, so they are bit-identical from 1 thread to many.

    Parameters
    ----------
    n : int or None
        A thread count in [1, 1024], or None to go back to the default:
        ``OMP_NUM_THREADS`` when set, else all cores (clamped to what the system allows).
        Without OpenMP every C kernel runs on one thread whatever is set here (the FFT
        route's Python threads and its transforms still follow it).

    Raises
    ------
    TypeError
        If ``n`` is not an integer (or None).
    ValueError
        If ``n`` < 1 or ``n`` > 1024.
    RuntimeError
        If the system does not let this process start ``n`` threads (a limit such as
        RLIMIT_NPROC, RLIMIT_AS or a cgroup's pids limit; probed by starting them once):
        the OpenMP runtime would abort the whole process at the next kernel call.  The
        thread count is left unchanged.

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
    if _config.openmp_enabled():
        allowed = _probe(n)
        if allowed < n:
            raise RuntimeError(
                f"cannot use {n} threads: the system let this process start only "
                f"{allowed} at once (a limit on threads, processes or address space: "
                f"RLIMIT_NPROC, RLIMIT_AS, a cgroup's pids limit); the thread count is "
                f"unchanged"
            )
    _requested = n


def get_num_threads() -> int:
    """Number of threads the next kernel call will use.

    Returns the value given to :func:`set_num_threads`, else ``OMP_NUM_THREADS``, else
    the number of cores (at most what the system lets this process start); always 1
    when convcore was built without OpenMP.

    Examples
    --------
    >>> import convcore
    >>> convcore.get_num_threads() >= 1
    True
    """
    if not _config.openmp_enabled():
        return 1
    if _single_thread_ident is not None and threading.get_ident() == _single_thread_ident:
        return 1
    if _requested is not None:
        return _requested
    return _default_threads()


def default_threads() -> int:
    """The thread count the kernels use while :func:`set_num_threads` is not called:
    ``OMP_NUM_THREADS`` when set, else the number of cores (at most what the system
    lets this process start); 1 when convcore was built without OpenMP."""
    return _default_threads() if _config.openmp_enabled() else 1


def _default_threads() -> int:
    global _default
    if _default is None:
        _default = _probe(min(max(1, _config.openmp_max_threads()), MAX_THREADS))
    return _default


def _before_fork() -> None:
    global _released
    _released = _config.openmp_release()


def _after_fork_in_child() -> None:
    global _probe_lock, _single_thread_ident
    _probe_lock = threading.Lock()  # it may have been held by a thread that is gone
    if not _released:
        _single_thread_ident = threading.get_ident()


_released = True
if hasattr(os, "register_at_fork") and _config.openmp_enabled():
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
