/* The float and double halves of driver/conv_im2col.c (REAL and SFX defined there). */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)

/* Column rows [r, r + nr) of one image at output cells [p0, p0 + np): built in cols (rows
 * np apart), or for a 1x1 stride-1 unpadded layer the input's channels in place; *ld
 * says how far apart. */
static const REAL *FN(column_rows)(const cc_conv_geometry *g, const REAL *x_img, ptrdiff_t r,
                                   ptrdiff_t nr, ptrdiff_t p0, ptrdiff_t np, REAL *cols,
                                   ptrdiff_t *ld)
{
    if (cc_conv_pointwise(g)) {
        *ld = cc_conv_in_cells(g);
        return x_img + r * *ld + p0;
    }
    CC_CAT2(cc_im2col, SFX)(g, x_img, r, nr, p0, np, cols);
    *ld = np;
    return cols;
}

/* Rows [0, rows) of one image's column matrix, output cells [p0, p0 + np), packed in
 * panels of tw cells: panels[(j * rows + r) * tw + t] is row r at cell p0 + j * tw + t,
 * zero past np.  Each row is built in `row` (a whole number of panels long, its tail
 * zero) by column_rows, or read in place from the input of a 1x1 stride-1 layer. */
static void FN(pack_columns)(const cc_conv_geometry *g, const REAL *x_img, ptrdiff_t rows,
                             ptrdiff_t p0, ptrdiff_t np, ptrdiff_t tw, REAL *row,
                             REAL *panels)
{
    const ptrdiff_t ntl = (np + tw - 1) / tw;
    memset(row + np, 0, (size_t)(ntl * tw - np) * sizeof(REAL));
    for (ptrdiff_t r = 0; r < rows; r++) {
        ptrdiff_t ld;
        const REAL *src = FN(column_rows)(g, x_img, r, 1, p0, np, row, &ld);
        const ptrdiff_t whole = src == row ? ntl : np / tw; /* in place: no zero tail */
        const ptrdiff_t bytes = tw * (ptrdiff_t)sizeof(REAL);
        for (ptrdiff_t j = 0; j < whole; j++)
            cc_copy_panel_row(panels + (j * rows + r) * tw, src + j * tw, bytes);
        if (whole < ntl) {
            REAL *dst = panels + (whole * rows + r) * tw;
            memcpy(dst, src + whole * tw, (size_t)(np - whole * tw) * sizeof(REAL));
            memset(dst + (np - whole * tw), 0, (size_t)(ntl * tw - np) * sizeof(REAL));
        }
    }
}

/* y[k * ys + t] = (bias ? bias[k] : 0) + sum over r < rows, in order, of
 * weight(k, r) * column(r, t), for k < nk and t < np: the weights packed in blocks of
 * the tile's kb channels (w[(k / kb * rows + r) * kb + k % kb]), the columns in panels
 * of the tile's width tw by pack_columns. */
static void FN(column_products)(const cc_gemm_tile_entry *e, ptrdiff_t tw, const REAL *panels,
                                const REAL *w, const REAL *bias, ptrdiff_t rows, ptrdiff_t nk,
                                ptrdiff_t np, REAL *y, ptrdiff_t ys)
{
    const ptrdiff_t KC = cc_pw_slice(tw, (ptrdiff_t)sizeof(REAL));
    for (ptrdiff_t c0 = 0; c0 < rows; c0 += KC) {
        const ptrdiff_t kc = rows - c0 < KC ? rows - c0 : KC;
        for (ptrdiff_t t0 = 0; t0 < np; t0 += tw) {
            const int cnt = (int)(np - t0 < tw ? np - t0 : tw);
            const REAL *pk = panels + t0 * rows + c0 * tw;
            for (ptrdiff_t k = 0; k < nk; k += e->kb) {
                const int n = (int)(nk - k < e->kb ? nk - k : e->kb);
                e->SFX(pk, tw, w + (k * rows + c0 * e->kb), 0, kc, bias ? bias + k : NULL,
                       y + k * ys + t0, ys, n, cnt, c0 == 0);
            }
        }
    }
}

void CC_CAT2(cc_conv_im2col_pack, SFX)(const cc_conv_geometry *g, const REAL *w,
                                       REAL *wpack, int n_threads)
{
    const ptrdiff_t kb = cc_direct_gemm_tile()->kb, Kg = g->K / g->groups;
    const ptrdiff_t rows = g->C / g->groups * cc_conv_taps(g), nkb = (Kg + kb - 1) / kb;
    const ptrdiff_t blocks = g->groups * nkb;
    if ((double)blocks * kb * rows < 65536.0 || blocks < 2 || n_threads < 1)
        n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t b = 0; b < blocks; b++) {
        const ptrdiff_t grp = b / nkb, k0 = b % nkb * kb;
        REAL *dst = wpack + b * rows * kb;
        for (ptrdiff_t kk = 0; kk < kb; kk++) {
            const REAL *src = w + (grp * Kg + k0 + kk) * rows;
            const int real = k0 + kk < Kg;
            for (ptrdiff_t r = 0; r < rows; r++)
                dst[r * kb + kk] = real ? src[r] : (REAL)0;
        }
    }
}

void CC_CAT2(cc_conv_im2col_range, SFX)(const cc_conv_geometry *g, const REAL *x,
                                        const REAL *wpack, const REAL *bias, REAL *y,
                                        REAL *workspace, ptrdiff_t it0, ptrdiff_t it1,
                                        int n_threads)
{
    ptrdiff_t tw;
    const cc_gemm_tile_entry *e =
        cc_direct_gemm_tile_and_width((ptrdiff_t)sizeof(REAL), &tw);
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t rows = Cg * cc_conv_taps(g), HWo = cc_conv_out_cells(g);
    const ptrdiff_t plane = cc_conv_in_cells(g);
    const ptrdiff_t P = cc_gemm_tile_columns(g), per_thread = cc_gemm_workspace_per_thread(g);
    const ptrdiff_t ntiles = (HWo + P - 1) / P, kb = cc_gemm_channel_block(g);
    const ptrdiff_t nkb = (Kg + kb - 1) / kb, padded = (P + tw - 1) / tw * tw;
    n_threads = cc_gemm_team(it1 - it0, (double)(it1 - it0) * kb * rows * P, n_threads);
    if (n_threads < 1)
        return;
    /* the shares are whole tiles' runs of channel blocks: a tile's columns packed once */
    cc_shares shares;
    cc_shares_init(&shares, n_threads, it0, it1, nkb);

#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        const int tid = CC_OMP_THREAD_ID();
        REAL *panels = workspace + (ptrdiff_t)tid * per_thread;
        REAL *row = panels + rows * padded;
        ptrdiff_t cached = -1;
        for (ptrdiff_t it; (it = cc_shares_take(&shares, tid)) >= 0;) {
            const ptrdiff_t tile = it / nkb, b = it % nkb;
            const ptrdiff_t t = tile % ntiles, ng = tile / ntiles;
            const ptrdiff_t n = ng / g->groups, grp = ng % g->groups;
            const ptrdiff_t p0 = t * P, np = HWo - p0 < P ? HWo - p0 : P;
            const ptrdiff_t k0 = b * kb, nk = Kg - k0 < kb ? Kg - k0 : kb;
            REAL *c_out = y + (n * g->K + grp * Kg + k0) * HWo + p0;
            if (cached != tile)
                FN(pack_columns)(g, x + (n * g->C + grp * Cg) * plane, rows, p0, np, tw, row,
                                 panels);
            cached = tile;
            FN(column_products)(e, tw, panels,
                                wpack + (grp * ((Kg + e->kb - 1) / e->kb) * e->kb + k0) * rows,
                                bias ? bias + grp * Kg + k0 : NULL, rows, nk, np, c_out, HWo);
        }
    }
    cc_shares_free(&shares);
}

/* Rows [0, nk) of m (rows ld apart) at columns [0, np), transposed into panels of tw
 * rows: panels[(j * np + p) * tw + t] = m[(j * tw + t) * ld + p], zero for rows past nk.
 * Written panel by panel, pixel by pixel (whole lines), read row by row a few lines at a
 * time. */
static void FN(transpose_panels)(const REAL *m, ptrdiff_t ld, ptrdiff_t nk, ptrdiff_t np,
                                 ptrdiff_t tw, REAL *panels)
{
    enum { STEP = 16 };
    for (ptrdiff_t j0 = 0; j0 < nk; j0 += tw) {
        REAL *panel = panels + j0 * np;
        const ptrdiff_t cnt = nk - j0 < tw ? nk - j0 : tw;
        for (ptrdiff_t p0 = 0; p0 < np; p0 += STEP) {
            const ptrdiff_t pe = np - p0 < STEP ? np : p0 + STEP;
            for (ptrdiff_t t = 0; t < cnt; t++) {
                const REAL *src = m + (j0 + t) * ld;
                for (ptrdiff_t p = p0; p < pe; p++)
                    panel[p * tw + t] = src[p];
            }
            for (ptrdiff_t t = cnt; t < tw; t++)
                for (ptrdiff_t p = p0; p < pe; p++)
                    panel[p * tw + t] = 0;
        }
    }
}

/* One unit's products, the tile's rows over the column rows: part (rows x Kg) += the
 * unit's column rows (rows x np) times grad_output's tile (Kg x np) transposed, first = 1
 * starting the sum.  grad_output's channels go in panels of tw (`panels`, all in L2); a
 * block of kb column rows at a time is built (`cols`; a 1x1 layer's are the input's) and
 * runs, its rows read in place (transposing them into the tile's packed operand cost
 * the 1x1 layer 1.2x OpenBLAS's time), on every panel, the pixels in slices of kc. */
static void FN(grad_unit_by_rows)(const cc_conv_geometry *g, const cc_gemm_tile_entry *e,
                                  ptrdiff_t tw, const REAL *x_img, const REAL *go_tile,
                                  ptrdiff_t p0, ptrdiff_t np, REAL *panels, REAL *cols,
                                  REAL *part, int first)
{
    const ptrdiff_t KC = cc_pw_slice(tw, (ptrdiff_t)sizeof(REAL));
    const ptrdiff_t Kg = g->K / g->groups, rows = g->C / g->groups * cc_conv_taps(g);
    FN(transpose_panels)(go_tile, cc_conv_out_cells(g), Kg, np, tw, panels);
    for (ptrdiff_t r = 0; r < rows; r += e->kb) {
        const int nr = (int)(rows - r < e->kb ? rows - r : e->kb);
        ptrdiff_t lda;
        const REAL *a = FN(column_rows)(g, x_img, r, nr, p0, np, cols, &lda);
        for (ptrdiff_t c0 = 0; c0 < np; c0 += KC) {
            const ptrdiff_t kc = np - c0 < KC ? np - c0 : KC;
            for (ptrdiff_t t0 = 0; t0 < Kg; t0 += tw) {
                const int cnt = (int)(Kg - t0 < tw ? Kg - t0 : tw);
                e->SFX(panels + (t0 * np + c0 * tw), tw, a + c0, lda, kc, NULL,
                       part + r * Kg + t0, Kg, nr, cnt, first && c0 == 0);
            }
        }
    }
}

/* The same, the tile's rows over the output channels (few of them): part (Kg x rows) +=
 * grad_output's tile times the column rows transposed.  The column rows (built in `cols`)
 * go in panels of tw (`panels`), grad_output's rows are read in place. */
static void FN(grad_unit_by_channels)(const cc_conv_geometry *g, const cc_gemm_tile_entry *e,
                                      ptrdiff_t tw, const REAL *x_img, const REAL *go_tile,
                                      ptrdiff_t p0, ptrdiff_t np, REAL *panels, REAL *cols,
                                      REAL *part, int first)
{
    const ptrdiff_t KC = cc_pw_slice(tw, (ptrdiff_t)sizeof(REAL));
    const ptrdiff_t Kg = g->K / g->groups, rows = g->C / g->groups * cc_conv_taps(g);
    const ptrdiff_t HWo = cc_conv_out_cells(g);
    ptrdiff_t lda;
    const REAL *a = FN(column_rows)(g, x_img, 0, rows, p0, np, cols, &lda);
    FN(transpose_panels)(a, lda, rows, np, tw, panels);
    for (ptrdiff_t c0 = 0; c0 < np; c0 += KC) {
        const ptrdiff_t kc = np - c0 < KC ? np - c0 : KC;
        for (ptrdiff_t t0 = 0; t0 < rows; t0 += tw) {
            const int cnt = (int)(rows - t0 < tw ? rows - t0 : tw);
            for (ptrdiff_t k = 0; k < Kg; k += e->kb) {
                const int nk = (int)(Kg - k < e->kb ? Kg - k : e->kb);
                e->SFX(panels + (t0 * np + c0 * tw), tw, go_tile + k * HWo + c0, HWo, kc,
                       NULL, part + k * rows + t0, rows, nk, cnt, first && c0 == 0);
            }
        }
    }
}

void CC_CAT2(cc_grad_weight_tile_range, SFX)(const cc_conv_geometry *g, const REAL *x,
                                             const REAL *go, REAL *partials,
                                             REAL *workspace, ptrdiff_t nparts, ptrdiff_t k0,
                                             ptrdiff_t k1, ptrdiff_t it0, ptrdiff_t it1,
                                             int n_threads)
{
    ptrdiff_t tw;
    const cc_gemm_tile_entry *e =
        cc_direct_gemm_tile_and_width((ptrdiff_t)sizeof(REAL), &tw);
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t rows = Cg * cc_conv_taps(g), HWo = cc_conv_out_cells(g);
    const ptrdiff_t plane = cc_conv_in_cells(g);
    const ptrdiff_t P = cc_grad_weight_columns(g, (int)sizeof(REAL));
    const ptrdiff_t per_thread = cc_grad_weight_workspace_per_thread(g, (int)sizeof(REAL));
    const ptrdiff_t ntiles = (HWo + P - 1) / P, units = g->N * ntiles;
    const int by_channels = cc_grad_weight_by_channels(g, (int)sizeof(REAL));
    /* panels of tw over grad_output's channels or the column rows, then the column rows
     * built (all of them, or a block of at most M) */
    const ptrdiff_t M = CC_GEMM_PANEL_MAX, Pp = (P + M - 1) / M * M;
    const ptrdiff_t panel_rows = ((by_channels ? rows : Kg) + M - 1) / M * M;
    const double window = (double)(k1 - k0) < (double)units / nparts ? (double)(k1 - k0)
                                                                      : (double)units / nparts;
    n_threads = cc_gemm_team(it1 - it0, window * (it1 - it0) * Kg * rows * P, n_threads);
    if (n_threads < 1)
        return;

    cc_shares shares;
    cc_shares_init(&shares, n_threads, it0, it1, 1);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        const int tid = CC_OMP_THREAD_ID();
        REAL *panels = workspace + (ptrdiff_t)tid * per_thread;
        REAL *cols = panels + panel_rows * Pp;
        for (ptrdiff_t it; (it = cc_shares_take(&shares, tid)) >= 0;) {
            const ptrdiff_t grp = it / nparts, q = it % nparts;
            const ptrdiff_t u0 = units * q / nparts, u1 = units * (q + 1) / nparts;
            const ptrdiff_t v1 = u0 + k1 < u1 ? u0 + k1 : u1;
            REAL *c_part = partials + it * rows * Kg;
            for (ptrdiff_t u = u0 + k0; u < v1; u++) {
                const ptrdiff_t n = u / ntiles, p0 = (u % ntiles) * P;
                const ptrdiff_t np = HWo - p0 < P ? HWo - p0 : P;
                const REAL *x_img = x + (n * g->C + grp * Cg) * plane;
                const REAL *go_tile = go + (n * g->K + grp * Kg) * HWo + p0;
                if (by_channels)
                    FN(grad_unit_by_channels)(g, e, tw, x_img, go_tile, p0, np, panels, cols,
                                              c_part, u == u0);
                else
                    FN(grad_unit_by_rows)(g, e, tw, x_img, go_tile, p0, np, panels, cols,
                                          c_part, u == u0);
            }
            if (u0 == u1 && k0 == 0) /* more parts than units: this part sums nothing */
                for (ptrdiff_t i = 0; i < rows * Kg; i++)
                    c_part[i] = 0;
        }
    }
    cc_shares_free(&shares);
}

void CC_CAT2(cc_conv_im2col, SFX)(const cc_conv_geometry *g, const REAL *x, const REAL *w,
                                  const REAL *bias, REAL *y, REAL *workspace, REAL *wpack,
                                  int n_threads)
{
    CC_CAT2(cc_conv_im2col_pack, SFX)(g, w, wpack, n_threads);
    CC_CAT2(cc_conv_im2col_range, SFX)(g, x, wpack, bias, y, workspace, 0,
                                       cc_gemm_work_items(g), n_threads);
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
