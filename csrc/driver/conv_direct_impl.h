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

/* Tiles along output channels compute PIX pixels at a time and read scalars: their
 * edge tiles would check every value.  So a band's input rows (all channels of the group)
 * are copied once into rows padded on both sides and wide enough for every tile, plus one
 * row of zeros for the zero-padding rows; the row table is remapped to them and every
 * tile runs as an interior one.  The sums are unchanged (zero padding is still multiplied
 * as zeros).  Border modes other than zeros take the same copy for every tile, with the
 * padding columns the padded row really has (the first `need` of the window) read from
 * the row by the mode; the kernels then never see padding.  Returns 0 without memory for
 * the copy (the zero-padding tiles then read the input as it is). */
static int FN(pad_band)(ROW_ARGS *a, const ptrdiff_t *rows, ptrdiff_t n, int pix, int mode,
                        REAL **padded, ptrdiff_t **padded_rows)
{
    const ptrdiff_t tiles = (a->Wout + pix - 1) / pix;
    const ptrdiff_t need = (tiles * pix - 1) * a->sw + (a->S - 1) * a->dw + 1;
    const ptrdiff_t window = (a->Wout - 1) * a->sw + (a->S - 1) * a->dw + 1;
    const ptrdiff_t Wp = need > a->pad_w + a->W ? need : a->pad_w + a->W;
    ptrdiff_t *map = malloc((size_t)(2 * n + 1) * sizeof *map);
    if (!map)
        return 0;
    ptrdiff_t *slot_off = map + n, nslots = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        ptrdiff_t s = 0;
        while (s < nslots && slot_off[s] != rows[i])
            s++;
        if (s == nslots && rows[i] >= 0)
            slot_off[nslots++] = rows[i];
        map[i] = rows[i] >= 0 ? s : -1;
    }
    const ptrdiff_t cstride = (nslots + 1) * Wp; /* the last slot is the row of zeros */
    REAL *buf = malloc((size_t)(a->Cg * cstride) * sizeof *buf);
    if (!buf) {
        free(map);
        return 0;
    }
    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        REAL *dst = buf + c * cstride;
        const REAL *src = a->x + c * a->x_cstride;
        for (ptrdiff_t s = 0; s <= nslots; s++, dst += Wp) {
            memset(dst, 0, (size_t)Wp * sizeof *dst);
            if (s == nslots)
                continue;
            const REAL *row = src + slot_off[s];
            memcpy(dst + a->pad_w, row, (size_t)a->W * sizeof *dst);
            if (mode == CC_PAD_ZEROS)
                continue;
            for (ptrdiff_t j = 0; j < window; j++) {
                const ptrdiff_t i = j - a->pad_w;
                if (i < 0 || i >= a->W)
                    dst[j] = row[cc_pad_index(i, a->W, mode)];
            }
        }
    }
    for (ptrdiff_t i = 0; i < n; i++)
        map[i] = (map[i] >= 0 ? map[i] : nslots) * Wp;
    a->x_cstride = cstride;
    a->W = Wp;
    a->pad_w = 0;
    *padded = buf;
    *padded_rows = map;
    return 1;
}

void FN(cc_conv_direct_run)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                            const REAL *x, const REAL *wpack, ptrdiff_t *rows_ws,
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
    /* a border mode that reaches the innermost dimension: every band takes a padded copy */
    const ptrdiff_t window = (Wout - 1) * g->stride[nd - 1] + (S - 1) * g->dilation[nd - 1] + 1;
    const int bordered = g->pad_mode != CC_PAD_ZEROS && (g->pad[nd - 1] > 0 ||
                                                         window > W + g->pad[nd - 1]);
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
        ptrdiff_t *band_rows_ws = rows_ws + (ptrdiff_t)CC_OMP_THREAD_ID() * p->rows_size;
        band_rows(g, o_lo, o_hi, band_rows_ws);
        const ptrdiff_t *band_rows = band_rows_ws;
        REAL *padded = NULL;
        ptrdiff_t *padded_rows = NULL;
        if (p->pix || bordered) {
            const int pix = p->pix ? p->pix : 1;
            if (FN(pad_band)(&a, band_rows, (o_hi - o_lo) * U, pix, g->pad_mode, &padded,
                             &padded_rows)) {
                a.x = padded;
                band_rows = padded_rows;
            } else if (bordered) { /* no memory for the band: NaN, never a wrong border */
                for (ptrdiff_t blk = kb_lo; blk < kb_hi; blk++)
                    for (ptrdiff_t kk = 0; kk < KB && blk * KB + kk < Kg; kk++)
                        for (ptrdiff_t o = o_lo; o < o_hi; o++)
                            for (ptrdiff_t j = 0; j < Wout; j++)
                                y[(n * g->K + grp * Kg + blk * KB + kk) * y_kstride +
                                  o * Wout + j] = (REAL)NAN;
                continue;
            }
        }
        for (ptrdiff_t blk = kb_lo; blk < kb_hi; blk++) {
            const ptrdiff_t k = grp * Kg + blk * KB;
            const int kb = (int)(Kg - blk * KB < KB ? Kg - blk * KB : KB);
            a.wp = wpack + (grp * p->nkb + blk) * wblock;
            a.bias = bias ? bias + k : NULL;
            REAL *yk = y + (n * g->K + k) * y_kstride;
            for (ptrdiff_t o = o_lo; o < o_hi; o++) {
                a.rows = band_rows + (o - o_lo) * U;
                row(&a, yk + o * Wout, kb);
            }
        }
        free(padded);
        free(padded_rows);
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
    const int nt = n_threads > 1 ? n_threads : 1;
    ptrdiff_t *rows = malloc((size_t)(nt * p.rows_size) * sizeof *rows);
    if (!rows)
        return;
    FN(cc_conv_direct_pack)(&g, &p, w, wpack);
    FN(cc_conv_direct_run)(&g, &p, x, wpack, rows, bias, y, 0, p.items, n_threads);
    free(rows);
}

#undef FN
#undef ROW_ARGS
#undef CC_CAT2
#undef CC_CAT2_
