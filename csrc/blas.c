/* The BLAS behind the GEMM kernels: its per-thread thread-count setter and the adapters
 * that call an ILP64 gemm (64-bit integer arguments) through the LP64 signature the
 * kernels take.  The Python layer (convcore._blas) chooses the library once and sets
 * both here, in every extension module that links this library.
 *
 * The settings are written once before any kernel runs and only read afterwards. */
#include <stdint.h>

#include "convcore.h"

/* OpenBLAS's openblas_set_num_threads_local, or NULL.  OpenBLAS keeps a thread count per
 * calling thread: a thread that has not set its own may run a gemm multithreaded (other
 * bits) even while the global count is 1, so every thread of a convcore team sets 1 for
 * itself before its gemms.  It is not restored here: with OpenBLAS the setting is also
 * seen by the other threads, and a thread finishing first would hand the BLAS threads
 * back to one still working; the Python layer restores the caller's count when the last
 * GEMM call leaves. */
static cc_blas_threads_fn local_threads;
static cc_sgemm64_fn sgemm64;
static cc_dgemm64_fn dgemm64;

void cc_gemm_set_blas_local_threads(cc_blas_threads_fn fn)
{
    local_threads = fn;
}

void cc_blas_limit_this_thread(void)
{
    if (local_threads)
        local_threads(1);
}

void cc_blas_set_ilp64(cc_sgemm64_fn sgemm, cc_dgemm64_fn dgemm)
{
    sgemm64 = sgemm;
    dgemm64 = dgemm;
}

#define CC_ILP64_ADAPTER(NAME, REAL, FN)                                                  \
    void NAME(char *transa, char *transb, int *m, int *n, int *k, REAL *alpha, REAL *a,   \
              int *lda, REAL *b, int *ldb, REAL *beta, REAL *c, int *ldc)                 \
    {                                                                                     \
        int64_t m_ = *m, n_ = *n, k_ = *k, lda_ = *lda, ldb_ = *ldb, ldc_ = *ldc;         \
        FN(transa, transb, &m_, &n_, &k_, alpha, a, &lda_, b, &ldb_, beta, c, &ldc_);     \
    }

CC_ILP64_ADAPTER(cc_sgemm_ilp64, float, sgemm64)
CC_ILP64_ADAPTER(cc_dgemm_ilp64, double, dgemm64)
