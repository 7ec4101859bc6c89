/* im2col + GEMM convolution and the tiled GEMM, one template instantiated for float and
 * double by conv2d_gemm.c (which defines REAL, SFX and GEMM_FN).
 *
 * Work items of the convolution are (image, group, tile of output cells, block of
 * output channels), the channel block innermost; 1, 2 or 3 spatial dimensions (the
 * output cells in row-major order).  A thread builds the column tile
 * (Cg*taps rows x P cells) in its own workspace, keeps it for the next item when that is
 * the same tile, and multiplies:
 *   y[k0:k0+kb, p0:p0+P] = W_g[k0:k0+kb] (kb x CgRS) . cols (CgRS x P)
 * In BLAS's column-major terms that is C (P x kb, ld Hout*Wout) = A (P x CgRS, ld P)
 * . B (CgRS x kb, ld CgRS), with A the row-major tile and B the row-major weights.
 * A 1x1 stride-1 unpadded convolution needs no copy: A is the input itself.
 *
 * Each thread takes its next items of [it0, it1) when it finishes its previous ones
 * (OpenMP's dynamic schedule), so a core slowed by another process does not hold the
 * call back; which thread takes an item depends on timing, the items and what each
 * computes do not. */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)

#ifndef CC_GEMM_IMPL_HELPERS
#define CC_GEMM_IMPL_HELPERS
/* A 1x1 stride-1 unpadded convolution: the input itself is the column matrix. */
static int cc_gemm_identity(const cc_conv_geometry *g)
{
    int identity = 1;
    for (int d = 0; d < g->nd; d++)
        identity &= g->kernel[d] == 1 && g->stride[d] == 1 && g->pad[d] == 0 &&
                    g->out[d] == g->in[d];
    return identity;
}

/* Threads for `items` work items of `macs` multiply-adds in all: no more than items
 * (the workspace holds one tile per working thread), one for a small call. */
static int cc_gemm_team(ptrdiff_t items, double macs, int n_threads)
{
    if (items < n_threads)
        n_threads = (int)items;
    return 2.0 * macs < 2e5 && n_threads > 1 ? 1 : n_threads;
}
#endif

void CC_CAT2(cc_conv2d_gemm_range, SFX)(const cc_conv_geometry *g, const REAL *x,
                                        const REAL *w, const REAL *bias, REAL *y,
                                        REAL *workspace, GEMM_FN gemm, ptrdiff_t it0,
                                        ptrdiff_t it1, int n_threads)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t CgRS = Cg * cc_conv_taps(g), HWo = cc_conv_out_cells(g);
    const ptrdiff_t plane = cc_conv_in_cells(g);
    const ptrdiff_t P = cc_gemm_tile_columns(g), per_thread = cc_gemm_workspace_per_thread(g);
    const ptrdiff_t ntiles = (HWo + P - 1) / P, kb = cc_gemm_channel_block(g);
    const ptrdiff_t nkb = (Kg + kb - 1) / kb;
    const int identity = cc_gemm_identity(g);
    n_threads = cc_gemm_team(it1 - it0, (double)(it1 - it0) * kb * CgRS * P, n_threads);
    if (n_threads < 1)
        return;
#ifdef _OPENMP
    const ptrdiff_t grab = cc_omp_grab(it1 - it0, nkb, n_threads);
#endif

#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        REAL *ws = workspace + (ptrdiff_t)CC_OMP_THREAD_ID() * per_thread;
        ptrdiff_t cached = -1;
        cc_blas_limit_this_thread();
        /* a tile's channel blocks in one grab (cc_omp_grab): its column tile built once */
#ifdef _OPENMP
#pragma omp for schedule(dynamic, grab)
#endif
        for (ptrdiff_t it = it0; it < it1; it++) {
            const ptrdiff_t tile = it / nkb, b = it % nkb;
            const ptrdiff_t t = tile % ntiles, ng = tile / ntiles;
            const ptrdiff_t n = ng / g->groups, grp = ng % g->groups;
            const ptrdiff_t p0 = t * P, np = HWo - p0 < P ? HWo - p0 : P;
            const ptrdiff_t k0 = b * kb, nk = Kg - k0 < kb ? Kg - k0 : kb;
            const REAL *x_img = x + (n * g->C + grp * Cg) * plane;
            REAL *c_out = y + (n * g->K + grp * Kg + k0) * HWo + p0;
            REAL *a_mat;
            int lda;
            if (identity) {
                a_mat = (REAL *)(x_img + p0);
                lda = (int)HWo;
            } else {
                if (cached != tile)
                    CC_CAT2(cc_im2col, SFX)(g, x_img, 0, CgRS, p0, np, ws);
                cached = tile;
                a_mat = ws;
                lda = (int)np;
            }
            REAL beta = 0, alpha = 1;
            if (bias) {
                for (ptrdiff_t k = 0; k < nk; k++) {
                    REAL bk = bias[grp * Kg + k0 + k], *row = c_out + k * HWo;
                    for (ptrdiff_t j = 0; j < np; j++)
                        row[j] = bk;
                }
                beta = 1;
            }
            char no = 'N';
            int m = (int)np, nn = (int)nk, kk = (int)CgRS, ldb = (int)CgRS, ldc = (int)HWo;
            gemm(&no, &no, &m, &nn, &kk, &alpha, a_mat, &lda,
                 (REAL *)(w + (grp * Kg + k0) * CgRS), &ldb, &beta, c_out, &ldc);
        }
    }
}

void CC_CAT2(cc_conv2d_gemm, SFX)(const cc_conv_geometry *g, const REAL *x, const REAL *w,
                                  const REAL *bias, REAL *y, REAL *workspace, GEMM_FN gemm,
                                  int n_threads)
{
    CC_CAT2(cc_conv2d_gemm_range, SFX)(g, x, w, bias, y, workspace, gemm, 0,
                                       cc_gemm_work_items(g), n_threads);
}

/* Items [it0, it1) of a weight gradient in parts (see cc_grad_weight_gemm_range in
 * convcore.h): item it = (group grp, part q) sums, in order, the (image, column tile)
 * units [U q / nparts, U (q + 1) / nparts) of its group, U = N * tiles, into
 *   partials[grp][q] (Kg x CgRS) = sum over units of go_tile (Kg x P) . cols_tile^T
 * this call taking the part's units [k0, k1) (counted from the part's first; k0 = 0
 * starts the sum, later windows add to it), so a caller can stop between windows.
 * In BLAS's column-major terms: C (CgRS x Kg, ld CgRS) += A^T (CgRS x P) . B (P x Kg),
 * with A the row-major column tile (P x CgRS, ld P; the input itself, ld Hout*Wout, for
 * a 1x1 stride-1 unpadded layer) and B grad_output's tile (ld Hout*Wout).  A thread
 * builds the column tile in its workspace, so it is still in cache for the product. */
void CC_CAT2(cc_grad_weight_gemm_range, SFX)(const cc_conv_geometry *g, const REAL *x,
                                             const REAL *go, REAL *partials,
                                             REAL *workspace, GEMM_FN gemm,
                                             ptrdiff_t nparts, ptrdiff_t k0, ptrdiff_t k1,
                                             ptrdiff_t it0, ptrdiff_t it1, int n_threads)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t CgRS = Cg * cc_conv_taps(g), HWo = cc_conv_out_cells(g);
    const ptrdiff_t plane = cc_conv_in_cells(g);
    const ptrdiff_t P = cc_gemm_tile_columns(g), per_thread = cc_gemm_workspace_per_thread(g);
    const ptrdiff_t ntiles = (HWo + P - 1) / P, units = g->N * ntiles;
    const int identity = cc_gemm_identity(g);
    const double window = (double)(k1 - k0) < (double)units / nparts ? (double)(k1 - k0)
                                                                      : (double)units / nparts;
    n_threads = cc_gemm_team(it1 - it0, window * (it1 - it0) * Kg * CgRS * P, n_threads);
    if (n_threads < 1)
        return;

#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        REAL *ws = workspace + (ptrdiff_t)CC_OMP_THREAD_ID() * per_thread;
        cc_blas_limit_this_thread();
#ifdef _OPENMP
#pragma omp for schedule(dynamic)
#endif
        for (ptrdiff_t it = it0; it < it1; it++) {
            const ptrdiff_t grp = it / nparts, q = it % nparts;
            const ptrdiff_t u0 = units * q / nparts, u1 = units * (q + 1) / nparts;
            const ptrdiff_t v1 = u0 + k1 < u1 ? u0 + k1 : u1;
            REAL *c_part = partials + it * Kg * CgRS;
            REAL alpha = 1;
            for (ptrdiff_t u = u0 + k0; u < v1; u++) {
                REAL beta = u == u0 ? 0 : 1;
                const ptrdiff_t n = u / ntiles, p0 = (u % ntiles) * P;
                const ptrdiff_t np = HWo - p0 < P ? HWo - p0 : P;
                const REAL *x_img = x + (n * g->C + grp * Cg) * plane;
                const REAL *go_tile = go + (n * g->K + grp * Kg) * HWo + p0;
                const REAL *a_mat = ws;
                int lda = (int)np;
                if (identity) {
                    a_mat = x_img + p0;
                    lda = (int)HWo;
                } else {
                    CC_CAT2(cc_im2col, SFX)(g, x_img, 0, CgRS, p0, np, ws);
                }
                char ta = 'T', tb = 'N';
                int m = (int)CgRS, nn = (int)Kg, kk = (int)np, ldb = (int)HWo;
                int ldc = (int)CgRS;
                gemm(&ta, &tb, &m, &nn, &kk, &alpha, (REAL *)a_mat, &lda, (REAL *)go_tile,
                     &ldb, &beta, c_part, &ldc);
            }
            if (u0 == u1 && k0 == 0) /* more parts than units: this part sums nothing */
                for (ptrdiff_t i = 0; i < Kg * CgRS; i++)
                    c_part[i] = 0;
        }
    }
}

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
