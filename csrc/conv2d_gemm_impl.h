/* The tiled GEMM on a BLAS gemm, one template instantiated for float and double by
 * conv2d_gemm.c (which defines REAL, SFX and GEMM_FN).  (The im2col route and its weight
 * gradient run on the ISA's GEMM tile: driver/conv_im2col.c.)
 *
 * Each thread takes its next items of [it0, it1) when it finishes its previous ones
 * (OpenMP's dynamic schedule), so a core slowed by another process does not hold the
 * call back; which thread takes an item depends on timing, the items and what each
 * computes do not. */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)

/* Items [it0, it1) of a tiled product (see cc_gemm_tiles in convcore.h): item
 * (batch b, row tile i, column tile j), j innermost. */
void CC_CAT2(cc_gemm_tiles_range, SFX)(const cc_gemm_tiles *p, const REAL *a, const REAL *b,
                                       REAL *c, GEMM_FN gemm, ptrdiff_t it0, ptrdiff_t it1,
                                       int n_threads)
{
    const ptrdiff_t mt = (p->m + p->tile_m - 1) / p->tile_m;
    const ptrdiff_t nt_ = (p->n + p->tile_n - 1) / p->tile_n;
    n_threads = cc_gemm_team(it1 - it0, (double)(it1 - it0) * p->tile_m * p->tile_n * p->k,
                             n_threads);
    if (n_threads < 1)
        return;
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        cc_blas_limit_this_thread();
#ifdef _OPENMP
#pragma omp for schedule(dynamic)
#endif
        for (ptrdiff_t it = it0; it < it1; it++) {
            const ptrdiff_t j = it % nt_, i = (it / nt_) % mt, bt = it / (nt_ * mt);
            const ptrdiff_t i0 = i * p->tile_m, j0 = j * p->tile_n;
            int m = (int)(p->m - i0 < p->tile_m ? p->m - i0 : p->tile_m);
            int n = (int)(p->n - j0 < p->tile_n ? p->n - j0 : p->tile_n);
            int k = (int)p->k, lda = (int)p->lda, ldb = (int)p->ldb, ldc = (int)p->ldc;
            char ta = p->transa, tb = p->transb;
            REAL alpha = (REAL)p->alpha, beta = (REAL)p->beta;
            const REAL *ab = a + bt * p->stride_a + (ta == 'N' ? i0 : i0 * p->lda);
            const REAL *bb = b + bt * p->stride_b + (tb == 'N' ? j0 * p->ldb : j0);
            REAL *cb = c + bt * p->stride_c + i0 + j0 * p->ldc;
            if (k == 0) {  /* BLAS returns C untouched (beta ignored) when k = 0 */
                for (int jj = 0; jj < n; jj++)
                    for (int ii = 0; ii < m; ii++)
                        cb[ii + jj * p->ldc] = p->beta == 0 ? 0 : (REAL)p->beta * cb[ii + jj * p->ldc];
                continue;
            }
            gemm(&ta, &tb, &m, &n, &k, &alpha, (REAL *)ab, &lda, (REAL *)bb, &ldb, &beta, cb,
                 &ldc);
        }
    }
}

#undef CC_CAT2
#undef CC_CAT2_
