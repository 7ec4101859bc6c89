/* im2col + GEMM convolution, one template instantiated for float and double by
 * conv2d_gemm.c (which defines REAL, SFX and GEMM_FN).
 *
 * Work items are (image, group, tile of output pixels).  A thread builds the column
 * tile (Cg*R*S rows x P pixels) in its own workspace and multiplies:
 *   y[k, p0:p0+P] = W_g (Kg x CgRS) . cols (CgRS x P)
 * In BLAS's column-major terms that is C (P x Kg, ld Hout*Wout) = A (P x CgRS, ld P)
 * . B (CgRS x Kg, ld CgRS), with A the row-major tile and B the row-major weights.
 * A 1x1 stride-1 unpadded convolution needs no copy: A is the input itself. */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)

void CC_CAT2(cc_conv2d_gemm, SFX)(const cc_conv2d_geometry *g, const REAL *x, const REAL *w,
                                  const REAL *bias, REAL *y, REAL *workspace, GEMM_FN gemm,
                                  int n_threads)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t CgRS = Cg * g->R * g->S, HWo = g->Hout * g->Wout;
    const ptrdiff_t P = cc_gemm_tile_columns(g), per_thread = cc_gemm_workspace_per_thread(g);
    const ptrdiff_t ntiles = (HWo + P - 1) / P, items = cc_gemm_work_items(g);
    const int identity = g->R == 1 && g->S == 1 && g->stride_h == 1 && g->stride_w == 1 &&
                         g->pad_top == 0 && g->pad_left == 0 && g->Hout == g->H &&
                         g->Wout == g->W;
    if (2.0 * (double)(g->N * g->K * HWo) * (double)CgRS < 2e5 || items < 2)
        n_threads = 1;
    if (n_threads > items)
        n_threads = (int)items;  /* the workspace holds one tile per thread that can work */

#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t it = 0; it < items; it++) {
        REAL *ws = workspace + (ptrdiff_t)CC_OMP_THREAD_ID() * per_thread;
        ptrdiff_t t = it % ntiles, ng = it / ntiles, n = ng / g->groups, grp = ng % g->groups;
        ptrdiff_t p0 = t * P, np = HWo - p0 < P ? HWo - p0 : P;
        const REAL *x_img = x + (n * g->C + grp * Cg) * g->H * g->W;
        REAL *c_out = y + (n * g->K + grp * Kg) * HWo + p0;
        REAL *a_mat;
        int lda;
        if (identity) {
            a_mat = (REAL *)(x_img + p0);
            lda = (int)HWo;
        } else {
            CC_CAT2(cc_im2col, SFX)(g, x_img, 0, CgRS, p0, np, ws);
            a_mat = ws;
            lda = (int)np;
        }
        REAL beta = 0, alpha = 1;
        if (bias) {
            for (ptrdiff_t k = 0; k < Kg; k++) {
                REAL b = bias[grp * Kg + k], *row = c_out + k * HWo;
                for (ptrdiff_t j = 0; j < np; j++)
                    row[j] = b;
            }
            beta = 1;
        }
        char no = 'N';
        int m = (int)np, nn = (int)Kg, kk = (int)CgRS, ldb = (int)CgRS, ldc = (int)HWo;
        gemm(&no, &no, &m, &nn, &kk, &alpha, a_mat, &lda, (REAL *)(w + grp * Kg * CgRS), &ldb,
             &beta, c_out, &ldc);
    }
}

#undef CC_CAT2
#undef CC_CAT2_
