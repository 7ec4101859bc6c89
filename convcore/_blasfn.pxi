# The gemm this extension's kernels call (included by _conv.pyx and _winograd.pyx, each of
# which links its own copy of the C library): SciPy's cython_blas until convcore._blas
# chooses a library with use_blas.
from scipy.linalg.cython_blas cimport dgemm, sgemm

from convcore._cconvcore cimport (
    cc_blas_set_ilp64,
    cc_blas_threads_fn,
    cc_dgemm64_fn,
    cc_dgemm_fn,
    cc_dgemm_ilp64,
    cc_gemm_set_blas_local_threads,
    cc_sgemm64_fn,
    cc_sgemm_fn,
    cc_sgemm_ilp64,
)

cdef cc_sgemm_fn kernel_sgemm = <cc_sgemm_fn>sgemm
cdef cc_dgemm_fn kernel_dgemm = <cc_dgemm_fn>dgemm


def use_blas(size_t sgemm_address, size_t dgemm_address, bint ilp64, size_t local_threads):
    """Make the kernels call the gemms at these addresses (0: SciPy's cython_blas), with
    64-bit integer arguments when ``ilp64``, and the per-thread thread-count setter at
    ``local_threads`` (0 for none): every thread of a GEMM team sets itself to one BLAS
    thread with it.  Called by convcore._blas before any GEMM runs."""
    global kernel_sgemm, kernel_dgemm
    cc_gemm_set_blas_local_threads(<cc_blas_threads_fn>local_threads)
    if sgemm_address == 0 or dgemm_address == 0:
        kernel_sgemm, kernel_dgemm = <cc_sgemm_fn>sgemm, <cc_dgemm_fn>dgemm
    elif ilp64:
        cc_blas_set_ilp64(<cc_sgemm64_fn>sgemm_address, <cc_dgemm64_fn>dgemm_address)
        kernel_sgemm, kernel_dgemm = cc_sgemm_ilp64, cc_dgemm_ilp64
    else:
        kernel_sgemm = <cc_sgemm_fn>sgemm_address
        kernel_dgemm = <cc_dgemm_fn>dgemm_address
