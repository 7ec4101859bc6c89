/* The convolution's linear operator as a CSR matrix, one template for float and double
 * instantiated by conv_matrix.c (REAL, SFX).
 *
 * Row (k, oh, ow) of the (K*Hout*Wout) x (C*H*W) matrix holds weight[k, c, r, s] at
 * column (g*Cg + c)*H*W + ih*W + iw for every tap whose input pixel (ih, iw) lies inside
 * the image (padding stores nothing).  Columns come out sorted (c, then ih, then iw all
 * grow with c, r, s), so the matrix is in canonical CSR form. */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)

void FN(cc_conv_matrix_fill_range)(const cc_conv2d_geometry *g, const REAL *w,
                                   const int64_t *indptr, int64_t *indices, REAL *data,
                                   ptrdiff_t row0, ptrdiff_t row1, int n_threads)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups, HW = g->H * g->W;
    if (row1 - row0 < 4096)
        n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t row = row0; row < row1; row++) {
        ptrdiff_t ow = row % g->Wout, oh = (row / g->Wout) % g->Hout, k = row / (g->Wout * g->Hout);
        ptrdiff_t grp = k / Kg, pos = indptr[row];
        const REAL *wk = w + k * Cg * g->R * g->S;
        for (ptrdiff_t c = 0; c < Cg; c++)
            for (ptrdiff_t r = 0; r < g->R; r++) {
                ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dil_h;
                if (ih < 0 || ih >= g->H)
                    continue;
                for (ptrdiff_t s = 0; s < g->S; s++) {
                    ptrdiff_t iw = ow * g->stride_w - g->pad_left + s * g->dil_w;
                    if (iw < 0 || iw >= g->W)
                        continue;
                    indices[pos] = (int64_t)((grp * Cg + c) * HW + ih * g->W + iw);
                    data[pos] = wk[(c * g->R + r) * g->S + s];
                    pos++;
                }
            }
    }
}

void FN(cc_conv_matrix_fill)(const cc_conv2d_geometry *g, const REAL *w, const int64_t *indptr,
                             int64_t *indices, REAL *data, int n_threads)
{
    FN(cc_conv_matrix_fill_range)(g, w, indptr, indices, data, 0, g->K * g->Hout * g->Wout,
                                  n_threads);
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
