# cython: language_level=3, cdivision=True
# boundscheck, wraparound and initializedcheck come from setup.py (CONVCORE_CYTHON_CHECKS).
"""Bridge to the C peak probes (csrc/peak_probe.c): GIL released, no checks.

convcore.bench validates the arguments and allocates the bandwidth buffer.
"""
from convcore._cconvcore cimport (
    cc_simd_active, cc_simd_count, cc_simd_detect, cc_simd_force, cc_simd_level,
    cc_simd_name,
)


cdef extern from "peak_probe.h" nogil:
    double cc_peak_fma_gflops_f32(int n_threads, double min_seconds)
    double cc_peak_fma_gflops_f64(int n_threads, double min_seconds)
    double cc_peak_triad_gbps(double *buffer, Py_ssize_t n, int n_threads, int repeats)
    double cc_peak_round_trip_ns(long trips)


def fma_gflops(bint double_precision, int n_threads, double min_seconds):
    """GFLOP/s of the FMA loop of this module's SIMD level (float64 if double_precision)."""
    cdef double rate
    with nogil:
        if double_precision:
            rate = cc_peak_fma_gflops_f64(n_threads, min_seconds)
        else:
            rate = cc_peak_fma_gflops_f32(n_threads, min_seconds)
    return rate


def triad_gbps(double[::1] buffer, int n_threads, int repeats):
    """GB/s of the STREAM triad over the three thirds of ``buffer`` (overwritten)."""
    cdef double rate
    with nogil:
        rate = cc_peak_triad_gbps(&buffer[0], buffer.shape[0], n_threads, repeats)
    return rate


def round_trip_ns(long trips):
    """Nanoseconds per round trip of a cache line between the cores of OpenMP threads 0
    and 1 (the fastest of 5 runs of ``trips``), or -1 without OpenMP or a team of two."""
    cdef double ns
    with nogil:
        ns = cc_peak_round_trip_ns(trips)
    return ns


include "_simd.pxi"
