# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C library's OpenMP build facts and thread controls."""
from convcore._cconvcore cimport (
    cc_openmp_enabled, cc_openmp_max_threads, cc_openmp_release, cc_threads_probe,
)


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(cc_openmp_enabled())


def openmp_max_threads():
    """omp_get_max_threads() (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return cc_openmp_max_threads()


def threads_probe(int n):
    """How many of n - 1 extra threads the system lets this process start at once."""
    cdef int started
    with nogil:
        started = cc_threads_probe(n)
    return started


def openmp_release():
    """Shut down the calling thread's OpenMP thread pool; True when done."""
    return bool(cc_openmp_release())
