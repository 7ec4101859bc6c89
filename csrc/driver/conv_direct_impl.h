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

/* Columns [c0, c0 + E) of a band's input rows (all channels of the group) copied into
 * slots of E elements, each distinct row once, plus one row of zeros for the rows in the
 * zero padding; a column outside [0, W) reads the element the border mode maps it to
 * while it is among the first `valid` columns, and zero after them (zero padding reads
 * zero everywhere outside).  `out` becomes `a` over the copy (padding 0) and *map the row
 * table remapped to the slots.  Returns 0 without memory for the copy. */
static int FN(copy_band)(const ROW_ARGS *a, const ptrdiff_t *rows, ptrdiff_t n, ptrdiff_t c0,
                         ptrdiff_t E, ptrdiff_t valid, int mode, ROW_ARGS *out, REAL **buf,
                         ptrdiff_t **map)
{
    ptrdiff_t *m = malloc((size_t)(2 * n + 1) * sizeof *m);
    if (!m)
        return 0;
    ptrdiff_t *slot_off = m + n, nslots = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        ptrdiff_t s = 0;
        while (s < nslots && slot_off[s] != rows[i])
            s++;
        if (s == nslots && rows[i] >= 0)
            slot_off[nslots++] = rows[i];
        m[i] = rows[i] >= 0 ? s : -1;
    }
    const ptrdiff_t cstride = (nslots + 1) * E; /* the last slot is the row of zeros */
    REAL *b = malloc((size_t)(a->Cg * cstride) * sizeof *b);
    if (!b) {
        free(m);
        return 0;
    }
    /* columns [lo, hi) of the copy lie inside the row */
    const ptrdiff_t lo = c0 < 0 ? (-c0 < E ? -c0 : E) : 0;
    ptrdiff_t hi = a->W - c0 < E ? a->W - c0 : E;
    if (hi < lo)
        hi = lo;
    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        REAL *dst = b + c * cstride;
        const REAL *src = a->x + c * a->x_cstride;
        for (ptrdiff_t s = 0; s <= nslots; s++, dst += E) {
            if (s == nslots) {
                memset(dst, 0, (size_t)E * sizeof *dst);
                continue;
            }
            const REAL *row = src + slot_off[s];
            memcpy(dst + lo, row + c0 + lo, (size_t)(hi - lo) * sizeof *dst);
            for (ptrdiff_t j = 0; j < E; j++) {
                if (j == lo)
                    j = hi; /* past the columns copied above */
                if (j == E)
                    break;
                const ptrdiff_t i = j < valid ? cc_pad_index(c0 + j, a->W, mode) : -1;
                dst[j] = i >= 0 ? row[i] : (REAL)0;
            }
        }
    }
    for (ptrdiff_t i = 0; i < n; i++)
        m[i] = (m[i] >= 0 ? m[i] : nslots) * E;
    *out = *a;
    out->x = b;
    out->x_cstride = cstride;
    out->W = E;
    out->pad_w = 0;
    *buf = b;
    *map = m;
    return 1;
}

/* Output columns [j0, j1) of the band's rows, for its blocks of output channels. */
static void FN(run_columns)(const ROW_ARGS *a0, const ptrdiff_t *rows, ptrdiff_t j0,
                            ptrdiff_t j1, CC_CAT2(cc_direct_row_fn, SFX) row,
                            const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                            const REAL *wpack, const REAL *bias, REAL *y, ptrdiff_t n,
                            ptrdiff_t grp, ptrdiff_t kb_lo, ptrdiff_t kb_hi, ptrdiff_t o_lo,
                            ptrdiff_t o_hi, ptrdiff_t Wout)
{
    const ptrdiff_t Kg = g->K / g->groups, KB = p->kb, U = a0->U;
    const ptrdiff_t wblock = a0->Cg * U * a0->S * KB;
    ROW_ARGS a = *a0;
    a.Wout = j1 - j0;
    for (ptrdiff_t blk = kb_lo; blk < kb_hi; blk++) {
        const ptrdiff_t k = grp * Kg + blk * KB;
        const int kb = (int)(Kg - blk * KB < KB ? Kg - blk * KB : KB);
        a.wp = wpack + (grp * p->nkb + blk) * wblock;
        a.bias = bias ? bias + k : NULL;
        REAL *yk = y + (n * g->K + k) * a.y_kstride;
        for (ptrdiff_t o = o_lo; o < o_hi; o++) {
            a.rows = rows + (o - o_lo) * U;
            row(&a, yk + o * Wout + j0, kb);
        }
    }
}

void FN(cc_conv_direct_run)(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                            const REAL *x, const REAL *wpack, ptrdiff_t *rows_ws,
                            const REAL *bias, REAL *y, ptrdiff_t item_lo, ptrdiff_t item_hi,
                            int n_threads)
{
    const cc_direct_isa *isa = (const cc_direct_isa *)p->isa;
    const CC_CAT2(cc_direct_row_fn, SFX) row = isa->tiles[p->tile].SFX;
    const int nd = g->nd;
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t W = g->in[nd - 1], Wout = g->out[nd - 1], S = g->kernel[nd - 1];
    const ptrdiff_t sw = g->stride[nd - 1], dw = g->dilation[nd - 1], pad_w = g->pad[nd - 1];
    ptrdiff_t x_cstride = 1, y_kstride = 1, nrows = 1, U = 1;
    for (int d = 0; d < nd; d++) {
        x_cstride *= g->in[d];
        y_kstride *= g->out[d];
    }
    for (int d = 0; d < nd - 1; d++) {
        nrows *= g->out[d];
        U *= g->kernel[d];
    }
    /* the columns the windows of a row span, and whether a border mode reaches them */
    const ptrdiff_t window = (Wout - 1) * sw + (S - 1) * dw + 1;
    const int bordered = g->pad_mode != CC_PAD_ZEROS && (pad_w > 0 || window > W + pad_w);
    /* Tiles along output channels read a band copied with its padding, as wide as their
     * whole tiles (their edge tiles would check every value); tiles along columns under a
     * border mode split each row (border_split) */
    ptrdiff_t full_w = 0, left = 0, right = Wout;
    if (p->pix) {
        const ptrdiff_t need = ((Wout + p->pix - 1) / p->pix * p->pix - 1) * sw +
                               (S - 1) * dw + 1;
        full_w = need > pad_w + W ? need : pad_w + W;
    } else if (bordered) {
        border_split(W, Wout, sw, (S - 1) * dw, pad_w, (ptrdiff_t)p->nv * p->lanes, &left,
                     &right);
    }
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
        a.sw = sw; a.dw = dw; a.pad_w = pad_w;
        a.Wout = Wout; a.x_cstride = x_cstride; a.y_kstride = y_kstride;
        ptrdiff_t *rows = rows_ws + (ptrdiff_t)CC_OMP_THREAD_ID() * p->rows_size;
        band_rows(g, o_lo, o_hi, rows);
        const ptrdiff_t nr = (o_hi - o_lo) * U;
#define RUN_COLUMNS(args, table, j0, j1)                                                  \
    FN(run_columns)(args, table, j0, j1, row, g, p, wpack, bias, y, n, grp, kb_lo, kb_hi,  \
                    o_lo, o_hi, Wout)
        /* [segment j0, j1): copy the columns it reads, or run on the input as it is */
        const ptrdiff_t seg[3][3] = {{0, left, 1}, {left, right, 0}, {right, Wout, 1}};
        for (int sgi = 0; sgi < 3; sgi++) {
            const ptrdiff_t j0 = p->pix ? 0 : seg[sgi][0], j1 = p->pix ? Wout : seg[sgi][1];
            if (j0 >= j1 || (p->pix && sgi > 0))
                continue;
            const ptrdiff_t c0 = j0 * sw - pad_w;
            if (p->pix || seg[sgi][2]) {
                const ptrdiff_t E = p->pix ? full_w : (j1 - 1 - j0) * sw + (S - 1) * dw + 1;
                const ptrdiff_t valid = p->pix ? window : E;
                ROW_ARGS b;
                REAL *buf = NULL;
                ptrdiff_t *map = NULL;
                if (FN(copy_band)(&a, rows, nr, c0, E, valid, g->pad_mode, &b, &buf, &map)) {
                    RUN_COLUMNS(&b, map, j0, j1);
                    free(buf);
                    free(map);
                } else if (!bordered) { /* no memory for the copy: the input as it is */
                    RUN_COLUMNS(&a, rows, j0, j1);
                } else { /* no memory for the copy: NaN, never a wrong border */
                    for (ptrdiff_t k = kb_lo * p->kb; k < kb_hi * p->kb && k < Kg; k++)
                        for (ptrdiff_t o = o_lo; o < o_hi; o++)
                            for (ptrdiff_t j = j0; j < j1; j++)
                                y[(n * g->K + grp * Kg + k) * y_kstride + o * Wout + j] =
                                    (REAL)NAN;
                }
            } else if (left == 0 && right == Wout) { /* the row as it is, padding and all */
                RUN_COLUMNS(&a, rows, j0, j1);
            } else { /* the middle of the row: starts at column c0 >= 0, no padding */
                ROW_ARGS b = a;
                b.x = a.x + c0;
                b.W = W - c0;
                b.pad_w = 0;
                RUN_COLUMNS(&b, rows, j0, j1);
            }
        }
#undef RUN_COLUMNS
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
