/* The dtype-dependent half of the direct-convolution driver (included with REAL/SFX). */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)
#define ROW_ARGS CC_CAT2(cc_direct_row, SFX)

/* Weights (K, Cg, *kernel) -> blocks [group][block][c][taps][KB]: the KB weights one
 * reduction step broadcasts side by side; channels past Kg are zero (never stored).
 * Written in stretches of 16 taps (the KB rows read and the stretch written stay in L1),
 * the stretches shared out among the threads: a copy, the same for any thread count. */
void FN(cc_conv_direct_pack)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                             const REAL *w, REAL *wpack, int n_threads)
{
    const ptrdiff_t Kg = g->K / g->groups, KB = p->kb;
    const ptrdiff_t taps = p->pack_size / (g->groups * p->nkb * KB); /* Cg * U * S */
    const ptrdiff_t nstretch = (taps + 15) / 16, total = g->groups * p->nkb * nstretch;
    if (p->pack_size < (1 << 16))
        n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t i = 0; i < total; i++) {
        const ptrdiff_t blk = i / nstretch, grp = blk / p->nkb, b = blk % p->nkb;
        const ptrdiff_t t0 = i % nstretch * 16, t1 = taps - t0 < 16 ? taps : t0 + 16;
        const ptrdiff_t kb = Kg - b * KB < KB ? Kg - b * KB : KB;
        const REAL *src = w + (grp * Kg + b * KB) * taps;
        REAL *dst = wpack + blk * taps * KB;
        for (ptrdiff_t kk = 0; kk < KB; kk++)
            for (ptrdiff_t t = t0; t < t1; t++)
                dst[t * KB + kk] = kk < kb ? src[kk * taps + t] : (REAL)0;
    }
}

/* Tiles along output channels compute PIX pixels at a time and read scalars: their
 * edge tiles would check every value.  So a band's input rows (all channels of the group)
 * are copied once into rows padded with zeros on both sides and wide enough for every
 * tile, plus one row of zeros for the padding rows; the row table is remapped to them and
 * every tile runs as an interior one.  The sums are unchanged (the padding is still
 * multiplied as zeros).  Without memory for the copy the tiles read the input as it is. */
static void FN(pad_band)(ROW_ARGS *a, const ptrdiff_t *rows, ptrdiff_t n, int pix,
                         REAL **padded, ptrdiff_t **padded_rows)
{
    const ptrdiff_t tiles = (a->Wout + pix - 1) / pix;
    const ptrdiff_t need = (tiles * pix - 1) * a->sw + (a->S - 1) * a->dw + 1;
    const ptrdiff_t Wp = need > a->pad_w + a->W ? need : a->pad_w + a->W;
    ptrdiff_t *map = malloc((size_t)(2 * n + 1) * sizeof *map);
    if (!map)
        return;
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
        return;
    }
    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        REAL *dst = buf + c * cstride;
        const REAL *src = a->x + c * a->x_cstride;
        for (ptrdiff_t s = 0; s <= nslots; s++, dst += Wp) {
            memset(dst, 0, (size_t)Wp * sizeof *dst);
            if (s < nslots)
                memcpy(dst + a->pad_w, src + slot_off[s], (size_t)a->W * sizeof *dst);
        }
    }
    for (ptrdiff_t i = 0; i < n; i++)
        map[i] = (map[i] >= 0 ? map[i] : nslots) * Wp;
    a->x_cstride = cstride;
    a->W = Wp;
    a->pad_w = 0;
    *padded = buf;
    *padded_rows = map;
}

/* The band as one virtual row, on 2-D and 3-D layers.
 * Its input rows (all channels of the group) are copied, zero-padded, into slots of Wp
 * elements: for each outer-outer tap, the rows split by phase (row index mod the row
 * stride sh), each phase in order.  Output row o of the band then reads, at outer tap u,
 * the slot rows[u] + o * Wp, and with Wp = Wv * sw its column j reads
 * (o * Wv + j) * sw + rows[u] + s * dw: the band is one row of nb * Wv pixels, of which
 * each row's last Wv - Wout are computed but never stored.  Wp is as small as the
 * padding allows (a row's right padding reads the zeros that start the next slot), so
 * short rows (7, 14, 28 pixels) fill whole tiles instead of ending in a partial one, and
 * every tile is an interior one.  The sums are those of the per-row path.  Tiles along
 * output columns store the virtual row of ychannels channels into *ytmp, which the driver
 * copies out row by row; tiles along output channels store it themselves (store_virtual).
 * Returns 0 (nothing changed) without memory for the copies. */
static int FN(flat_band)(ROW_ARGS *a, const cc_conv_geometry *g, ptrdiff_t o_lo,
                         ptrdiff_t o_hi, int unit, ptrdiff_t ychannels, REAL **padded,
                         ptrdiff_t **vrows, REAL **ytmp)
{
    const int nd = g->nd;
    const ptrdiff_t H = g->in[nd - 2], R = g->kernel[nd - 2], Hout = g->out[nd - 2];
    const ptrdiff_t sh = g->stride[nd - 2], dh = g->dilation[nd - 2];
    const ptrdiff_t U = a->U, Uu = U / R, nb = o_hi - o_lo;
    const ptrdiff_t sw = a->sw, pad_l = a->pad_w, W = a->W;
    const ptrdiff_t last_col = (a->Wout - 1) * sw + (a->S - 1) * a->dw;
    ptrdiff_t Wp = pad_l + W > last_col - pad_l + 1 ? pad_l + W : last_col - pad_l + 1;
    Wp = Wp > a->Wout * sw ? (Wp + sw - 1) / sw * sw : a->Wout * sw; /* Wv >= Wout */
    const ptrdiff_t Wv = Wp / sw, npx = (nb * Wv + unit - 1) / unit * unit;
    const ptrdiff_t ng = nb - 1 + (R - 1) * dh / sh + 1; /* slots per phase */
    const ptrdiff_t h_lo = (o_lo % Hout) * sh - g->pad[nd - 2];
    ptrdiff_t *tab = malloc((size_t)(U + Uu) * sizeof *tab);
    if (!tab)
        return 0;
    ptrdiff_t *planes = tab + U;
    band_planes(g, o_lo, planes);
    for (ptrdiff_t u = 0; u < U; u++) {
        const ptrdiff_t i = (u % R) * dh; /* the tap's row, relative to o * sh */
        tab[u] = (((u / R) * sh + i % sh) * ng + i / sh) * Wp;
    }
    const ptrdiff_t len = npx * sw + (a->S - 1) * a->dw + 1;
    ptrdiff_t cstride = Uu * sh * ng * Wp > tab[U - 1] + len ? Uu * sh * ng * Wp
                                                             : tab[U - 1] + len;
    cstride = (cstride + 15) / 16 * 16;
    REAL *buf = malloc((size_t)(a->Cg * cstride) * sizeof *buf);
    REAL *yv = ychannels ? malloc((size_t)(ychannels * npx) * sizeof *yv) : NULL;
    if (!buf || (ychannels && !yv)) {
        free(tab);
        free(buf);
        free(yv);
        return 0;
    }
    const ptrdiff_t slots = Uu * sh * ng;
    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        REAL *dst = buf + c * cstride;
        for (ptrdiff_t i = 0; i < slots; i++, dst += Wp) {
            const ptrdiff_t ut = i / (sh * ng), ph = i / ng % sh, h = h_lo + i % ng * sh + ph;
            if (planes[ut] < 0 || h < 0 || h >= H) {
                memset(dst, 0, (size_t)Wp * sizeof *dst);
                continue;
            }
            memset(dst, 0, (size_t)pad_l * sizeof *dst);
            memcpy(dst + pad_l, a->x + c * a->x_cstride + planes[ut] + h * W,
                   (size_t)W * sizeof *dst);
            memset(dst + pad_l + W, 0, (size_t)(Wp - pad_l - W) * sizeof *dst);
        }
        memset(dst, 0, (size_t)(cstride - slots * Wp) * sizeof *dst);
    }
    a->x_cstride = cstride;
    a->W = len;
    a->pad_w = 0;
    a->Wy = a->Wout;
    a->Wout = npx;
    a->Wv = Wv;
    a->ny = nb;
    *padded = buf;
    *vrows = tab;
    *ytmp = yv;
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
        const ptrdiff_t nb = plane_bands(g, p->band), plane = band / nb, pr = plane_rows(g);
        const ptrdiff_t o_lo = plane * pr + band % nb * p->band;
        const ptrdiff_t o_hi = o_lo + p->band < (plane + 1) * pr ? o_lo + p->band
                                                                 : (plane + 1) * pr;
        ROW_ARGS a;
        a.x = x + (n * g->C + grp * Cg) * x_cstride;
        a.U = U; a.Cg = Cg; a.W = W; a.S = S;
        a.sw = g->stride[nd - 1]; a.dw = g->dilation[nd - 1]; a.pad_w = g->pad[nd - 1];
        a.Wout = Wout; a.x_cstride = x_cstride; a.y_kstride = y_kstride;
        a.Wv = 0; a.Wy = Wout; a.ny = 1;
        ptrdiff_t *band_rows_ws = rows_ws + (ptrdiff_t)CC_OMP_THREAD_ID() * p->rows_size;
        const ptrdiff_t *rows_tab = band_rows_ws;
        REAL *padded = NULL;
        ptrdiff_t *padded_rows = NULL;
        int flat = 0;
        REAL *ytmp = NULL; /* column tiles store the virtual row here, then copy it out */
        if (p->flat)
            flat = FN(flat_band)(&a, g, o_lo, o_hi, p->pix ? p->pix : p->nv * p->lanes,
                                 p->pix ? 0 : KB, &padded, &padded_rows, &ytmp);
        if (!flat)
            band_rows(g, o_lo, o_hi, band_rows_ws);
        if (!flat && p->pix)
            FN(pad_band)(&a, rows_tab, (o_hi - o_lo) * U, p->pix, &padded, &padded_rows);
        if (padded) {
            a.x = padded;
            rows_tab = padded_rows;
        }
        for (ptrdiff_t blk = kb_lo; blk < kb_hi; blk++) {
            const ptrdiff_t k = grp * Kg + blk * KB;
            const int kb = (int)(Kg - blk * KB < KB ? Kg - blk * KB : KB);
            a.wp = wpack + (grp * p->nkb + blk) * wblock;
            a.bias = bias ? bias + k : NULL;
            REAL *yk = y + (n * g->K + k) * y_kstride;
            if (flat && p->pix) {
                a.rows = rows_tab;
                row(&a, yk + o_lo * Wout, kb);
                continue;
            }
            if (flat) {
                a.rows = rows_tab;
                a.y_kstride = a.Wout;
                row(&a, ytmp, kb);
                for (int kk = 0; kk < kb; kk++)
                    for (ptrdiff_t o = 0; o < a.ny; o++)
                        memcpy(yk + kk * y_kstride + (o_lo + o) * Wout,
                               ytmp + kk * a.Wout + o * a.Wv, (size_t)Wout * sizeof *ytmp);
                continue;
            }
            for (ptrdiff_t o = o_lo; o < o_hi; o++) {
                a.rows = rows_tab + (o - o_lo) * U;
                row(&a, yk + o * Wout, kb);
            }
        }
        free(padded);
        free(padded_rows);
        free(ytmp);
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
    FN(cc_conv_direct_pack)(&g, &p, w, wpack, n_threads);
    FN(cc_conv_direct_run)(&g, &p, x, wpack, rows, bias, y, 0, p.items, n_threads);
    free(rows);
}

#undef FN
#undef ROW_ARGS
#undef CC_CAT2
#undef CC_CAT2_
