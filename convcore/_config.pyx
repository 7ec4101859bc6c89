# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C library's OpenMP build facts."""
from convcore._cconvcore cimport cc_openmp_enabled, cc_openmp_max_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(cc_openmp_enabled())


def openmp_max_threads():
    """omp_get_max_threads() (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return cc_openmp_max_threads()
