/* The dtype-dependent half of the direct-convolution driver (included with REAL/SFX). */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)
#define ROW_ARGS CC_CAT2(cc_direct_row, SFX)

/* Weights (K, Cg, *kernel) -> blocks [group][block][c][taps][KB]: the KB weights one
 * reduction step broadcasts side by side; channels past Kg are zero (never stored). */
void FN(cc_conv_direct_pack)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                             const REAL *w, REAL *wpack)
{
    const ptrdiff_t Kg = g->K / g->groups, KB = p->kb;
    const ptrdiff_t taps = p->pack_size / (g->groups * p->nkb * KB); /* Cg * U * S */
    for (ptrdiff_t grp = 0; grp < g->groups; grp++)
        for (ptrdiff_t b = 0; b < p->nkb; b++) {
            REAL *dst = wpack + (grp * p->nkb + b) * taps * KB;
            for (ptrdiff_t kk = 0; kk < KB; kk++) {
                const ptrdiff_t k = b * KB + kk;
                const REAL *src = w + (grp * Kg + k) * taps;
                for (ptrdiff_t t = 0; t < taps; t++)
                    dst[t * KB + kk] = k < Kg ? src[t] : (REAL)0;
            }
        }
}

void FN(cc_conv_direct_run)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                            const REAL *x, const REAL *wpack, const ptrdiff_t *rows,
                            const REAL *bias, REAL *y, ptrdiff_t item_lo, ptrdiff_t item_hi,
                            int n_threads)
{
    const cc_direct_isa *isa = (const cc_direct_isa *)p->isa;
    const CC_CAT2(cc_direct_row_fn, SFX) row = isa->tiles[p->tile].SFX;
    const int nd = g->nd;
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups, KB = p->kb;
    const ptrdiff_t W = g->in[nd - 1], Wout = g->out[nd - 1], S = g->kernel[nd - 1];
    ptrdiff_t x_cstride = 1, y_kstride = 1, nrows = 1, U = 1;
    for (int d = 0; d < nd; d++) {
        x_cstride *= g->in[d];
        y_kstride *= g->out[d];
    }
    for (int d = 0; d < nd - 1; d++) {
        nrows *= g->out[d];
        U *= g->kernel[d];
    }
    const ptrdiff_t wblock = Cg * U * S * KB;
    if (item_hi > p->items)
        item_hi = p->items;
    if ((double)(item_hi - item_lo) * p->flops_per_item < 2e5 || item_hi - item_lo < 2)
        n_threads = 1;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t it = item_lo; it < item_hi; it++) {
        const ptrdiff_t kc = it % p->kchunks, rest = it / p->kchunks;
        const ptrdiff_t band = rest % p->nbands, ng = rest / p->nbands;
        const ptrdiff_t n = ng / g->groups, grp = ng % g->groups;
        const ptrdiff_t kb_lo = p->nkb * kc / p->kchunks;
        const ptrdiff_t kb_hi = p->nkb * (kc + 1) / p->kchunks;
        const ptrdiff_t o_lo = band * CC_BAND_ROWS;
        const ptrdiff_t o_hi = o_lo + CC_BAND_ROWS < nrows ? o_lo + CC_BAND_ROWS : nrows;
        ROW_ARGS a;
        a.x = x + (n * g->C + grp * Cg) * x_cstride;
        a.U = U; a.Cg = Cg; a.W = W; a.S = S;
        a.sw = g->stride[nd - 1]; a.dw = g->dilation[nd - 1]; a.pad_w = g->pad[nd - 1];
        a.Wout = Wout; a.x_cstride = x_cstride; a.y_kstride = y_kstride;
        for (ptrdiff_t blk = kb_lo; blk < kb_hi; blk++) {
            const ptrdiff_t k = grp * Kg + blk * KB;
            const int kb = (int)(Kg - blk * KB < KB ? Kg - blk * KB : KB);
            a.wp = wpack + (grp * p->nkb + blk) * wblock;
            a.bias = bias ? bias + k : NULL;
            REAL *yk = y + (n * g->K + k) * y_kstride;
            for (ptrdiff_t o = o_lo; o < o_hi; o++) {
                a.rows = rows + o * U;
                row(&a, yk + o * Wout, kb);
            }
        }
    }
}

/* The 2-D convolution in one call (the C API of earlier versions, for embedders). */
ptrdiff_t FN(cc_conv2d_direct_pack_size)(const cc_conv2d_geometry *g2)
{
    cc_conv_geometry g = cc_conv_geometry_from_2d(g2);
    cc_conv_direct_plan p;
    cc_conv_direct_plan_make(&g, (int)sizeof(REAL), &p);
    return p.pack_size;
}

void FN(cc_conv2d_direct)(const cc_conv2d_geometry *g2, const REAL *x, const REAL *w,
                          const REAL *bias, REAL *y, REAL *wpack, int n_threads)
{
    cc_conv_geometry g = cc_conv_geometry_from_2d(g2);
    cc_conv_direct_plan p;
    cc_conv_direct_plan_make(&g, (int)sizeof(REAL), &p);
    ptrdiff_t *rows = malloc((size_t)(p.rows_size > 0 ? p.rows_size : 1) * sizeof *rows);
    if (!rows)
        return;
    cc_conv_direct_rows(&g, rows);
    FN(cc_conv_direct_pack)(&g, &p, w, wpack);
    FN(cc_conv_direct_run)(&g, &p, x, wpack, rows, bias, y, 0, p.items, n_threads);
    free(rows);
}

#undef FN
#undef ROW_ARGS
#undef CC_CAT2
#undef CC_CAT2_
