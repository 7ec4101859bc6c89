/* The dtype's half of driver/conv_s2w.c (included once per REAL, SFX). */
#define S2W_CAT_(a, b) a##_##b
#define S2W_CAT(a, b) S2W_CAT_(a, b)
#define S2W(name) S2W_CAT(name, SFX)

void S2W(cc_s2w_weights)(const cc_conv2d_geometry *g, const REAL *w, REAL *wt, ptrdiff_t kb)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t nkb = (Kg + kb - 1) / kb;
    for (ptrdiff_t grp = 0; grp < g->groups; grp++)
        for (ptrdiff_t k = 0; k < nkb * kb; k++)
            for (ptrdiff_t c = 0; c < Cg; c++) {
                REAL *dst = wt + ((grp * nkb + k / kb) * Cg + c) * 25 * kb + k % kb;
                if (k >= Kg) { /* past the group's channels */
                    for (int q = 0; q < 25; q++)
                        dst[q * kb] = 0;
                    continue;
                }
                const REAL *src = w + ((grp * Kg + k) * Cg + c) * 9;
                double rows[5][3], col[3], out[5];
                for (int j = 0; j < 3; j++) { /* down each column, then along each row */
                    for (int i = 0; i < 3; i++)
                        col[i] = src[i * 3 + j];
                    s2w_taps(col, out);
                    for (int r = 0; r < 5; r++)
                        rows[r][j] = out[r];
                }
                for (int r = 0; r < 5; r++) {
                    s2w_taps(rows[r], out);
                    for (int s = 0; s < 5; s++)
                        dst[(r * 5 + s) * kb] = (REAL)out[s];
                }
            }
}

int S2W(cc_conv_s2w)(const cc_conv2d_geometry *g, const REAL *x, const REAL *wt, ptrdiff_t kb,
                     const REAL *bias, REAL *y, REAL *workspace, ptrdiff_t it_lo,
                     ptrdiff_t it_hi, int n_threads)
{
    const cc_direct_isa *isa = s2w_isa(kb);
    if (!isa)
        return -1;
    const S2W(cc_s2w_fn) run = isa->s2w.SFX;
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t tiles = s2w_tiles(g), ct = s2w_chunk_tiles(g, sizeof(REAL));
    const ptrdiff_t chunks = s2w_chunks(g, sizeof(REAL)), items = cc_s2w_items(g, sizeof(REAL));
    const ptrdiff_t per_thread = cc_s2w_workspace_per_thread(g);
    const ptrdiff_t wsize = cc_s2w_weights_size(g, kb) / g->groups;
    const cc_s2w_geom s = {Cg, Kg, g->H, g->W, g->Hout, g->Wout, g->pad_top, g->pad_left,
                           g->pad_mode, g->H * g->W, g->Hout * g->Wout, (g->Wout + 1) / 2,
                           cc_s2w_streams(g, sizeof(REAL))};
    n_threads = cc_team(&it_lo, &it_hi, items, n_threads);
    if (it_hi <= it_lo)
        return 0;
    cc_shares shares; /* each thread its own share, then the others' (cc_omp.h) */
    cc_shares_init(&shares, n_threads, it_lo, it_hi, 1);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        const int tid = CC_OMP_THREAD_ID();
        REAL *scratch = workspace + (ptrdiff_t)tid * per_thread;
        for (ptrdiff_t it; (it = cc_shares_take(&shares, tid)) >= 0;) {
            const ptrdiff_t chunk = it % chunks, grp = it / chunks % g->groups;
            const ptrdiff_t n = it / chunks / g->groups;
            const ptrdiff_t t_lo = chunk * ct, t_hi = t_lo + ct < tiles ? t_lo + ct : tiles;
            /* the item after it, which this thread takes next while its share lasts */
            const ptrdiff_t nx = it + 1, nx_chunk = nx % chunks;
            cc_s2w_next next = {NULL, nx_chunk * ct, 0};
            if (nx < it_hi) {
                const ptrdiff_t nx_grp = nx / chunks % g->groups, nx_n = nx / chunks / g->groups;
                next.x = x + (nx_n * g->C + nx_grp * Cg) * s.x_cstride;
                next.t_hi = next.t_lo + ct < tiles ? next.t_lo + ct : tiles;
            }
            run(&s, x + (n * g->C + grp * Cg) * s.x_cstride, wt + grp * wsize,
                bias ? bias + grp * Kg : NULL, y + (n * g->K + grp * Kg) * s.y_kstride, t_lo,
                t_hi, scratch, &next);
        }
    }
    cc_shares_free(&shares);
    return 0;
}

#undef S2W
#undef S2W_CAT
#undef S2W_CAT_
