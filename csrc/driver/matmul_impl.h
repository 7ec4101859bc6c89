/* The float and double halves of driver/matmul.c (REAL and SFX defined there). */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)

/* B's rows [c0, c0 + kc) at columns [j0, j0 + nb), in panels of tw columns:
 * panels[(jp * kc + r) * tw + t] = B(c0 + r, j0 + jp * tw + t), zero past nb. */
static void FN(matmul_pack_b)(const cc_matmul *p, const REAL *b, ptrdiff_t c0,
                              ptrdiff_t kc, ptrdiff_t j0, ptrdiff_t nb, ptrdiff_t tw,
                              REAL *panels)
{
    const ptrdiff_t np = (nb + tw - 1) / tw;
    for (ptrdiff_t jp = 0; jp < np; jp++) {
        const ptrdiff_t t_end = nb - jp * tw < tw ? nb - jp * tw : tw;
        const REAL *src = b + c0 * p->b_rs + (j0 + jp * tw) * p->b_cs;
        REAL *dst = panels + jp * kc * tw;
        if (p->b_cs == 1 && t_end == tw) {
            const ptrdiff_t bytes = tw * (ptrdiff_t)sizeof(REAL);
            for (ptrdiff_t r = 0; r < kc; r++)
                cc_copy_panel_row(dst + r * tw, src + r * p->b_rs, bytes);
        } else if (p->b_cs == 1) {
            for (ptrdiff_t r = 0; r < kc; r++) {
                memcpy(dst + r * tw, src + r * p->b_rs, (size_t)t_end * sizeof(REAL));
                memset(dst + r * tw + t_end, 0, (size_t)(tw - t_end) * sizeof(REAL));
            }
        } else {
            /* columns of B contiguous (or neither): down each column, then the zeros
             * (a row of the panel at a time, from tw columns, took 1.3x the time of
             * Winograd's weight gradient on 256 channels, four columns at a time 1.2x) */
            for (ptrdiff_t t = 0; t < t_end; t++)
                for (ptrdiff_t r = 0; r < kc; r++)
                    dst[r * tw + t] = src[t * p->b_cs + r * p->b_rs];
            for (ptrdiff_t t = t_end; t < tw; t++)
                for (ptrdiff_t r = 0; r < kc; r++)
                    dst[r * tw + t] = 0;
        }
    }
}

/* A's rows [i0, i0 + mb) at columns [c0, c0 + kc), in blocks of kb rows:
 * blocks[(ib * kc + r) * kb + kk] = A(i0 + ib * kb + kk, c0 + r), zero past mb. */
static void FN(matmul_pack_a)(const cc_matmul *p, const REAL *a, ptrdiff_t i0, ptrdiff_t mb,
                              ptrdiff_t c0, ptrdiff_t kc, ptrdiff_t kb, REAL *blocks)
{
    for (ptrdiff_t ib = 0; ib * kb < mb; ib++) {
        REAL *dst = blocks + ib * kc * kb;
        const ptrdiff_t rows = mb - ib * kb < kb ? mb - ib * kb : kb;
        const REAL *src = a + (i0 + ib * kb) * p->a_rs + c0 * p->a_cs;
        if (p->a_cs == 1) /* along A's rows, kb of them side by side, writing in order */
            for (ptrdiff_t r = 0; r < kc; r++) {
                for (ptrdiff_t kk = 0; kk < rows; kk++)
                    dst[r * kb + kk] = src[kk * p->a_rs + r];
                for (ptrdiff_t kk = rows; kk < kb; kk++)
                    dst[r * kb + kk] = 0;
            }
        else
            for (ptrdiff_t kk = 0; kk < kb; kk++)
                for (ptrdiff_t r = 0; r < kc; r++)
                    dst[r * kb + kk] = kk < rows ? src[kk * p->a_rs + r * p->a_cs] : (REAL)0;
    }
}

/* The next tile's part of C (rows [i, i + kb) below i_end, cnt columns from j) on its way
 * into the cache while this one runs: with a short reduction (Winograd's weight
 * gradient: a block of 32 tiles) each tile spends as long loading and storing its sums
 * from a C larger than L2 as multiplying. */
static inline void FN(matmul_prefetch_c)(const cc_matmul *p, const REAL *c, ptrdiff_t i,
                                         ptrdiff_t i_end, ptrdiff_t j, ptrdiff_t kb,
                                         ptrdiff_t cnt)
{
    const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(REAL);
    for (ptrdiff_t r = i; r < i + kb && r < i_end; r++)
        for (ptrdiff_t t = 0; t < cnt; t += line)
            __builtin_prefetch(c + r * p->c_rs + j + t, 1);
}

/* One block of C: rows [i0, i0 + mb), columns [j0, j0 + nb) of batch entry bt. */
static void FN(matmul_block)(const cc_matmul *p, const cc_gemm_tile_entry *e, ptrdiff_t tw,
                             const REAL *a, const REAL *b, const REAL *bias, REAL *c,
                             ptrdiff_t i0, ptrdiff_t mb, ptrdiff_t j0, ptrdiff_t nb,
                             REAL *work)
{
    const ptrdiff_t kb = e->kb, np = (nb + tw - 1) / tw;
    ptrdiff_t KC = cc_pw_slice(tw, (ptrdiff_t)sizeof(REAL));
    if (KC > CC_MATMUL_SLICE_MAX)
        KC = CC_MATMUL_SLICE_MAX;
    REAL *panels = work, *blocks = work + CC_MATMUL_SLICE_MAX * CC_MATMUL_COLS;
    /* A's rows read where they are when contiguous and at most 1 KiB apart (Winograd's
     * products: a block of tiles; channels-last 1x1 layers up to 256 channels in):
     * rows 2-4 KiB or more apart fall into few L1 sets, and read in place they took
     * 1.1-2x the time of packed ones (a 1024-wide A, the 512 -> 512 layer) */
    const int in_place = p->a_cs == 1 && p->a_rs > 0 && /* ldw 0 means a packed block */
                         p->a_rs * (ptrdiff_t)sizeof(REAL) <= 1024;
    if (!p->accumulate && (bias || p->k == 0)) {
        /* the block's rows start from the bias (or zero), written just before the
         * products load them, so from L2 rather than memory */
        for (ptrdiff_t i = 0; i < mb; i++) {
            REAL *row = c + (i0 + i) * p->c_rs + j0;
            if (bias)
                memcpy(row, bias + j0, (size_t)nb * sizeof(REAL));
            else
                memset(row, 0, (size_t)nb * sizeof(REAL));
        }
    }
    for (ptrdiff_t c0 = 0; c0 < p->k; c0 += KC) {
        const ptrdiff_t kc = p->k - c0 < KC ? p->k - c0 : KC;
        const int first = c0 == 0 && !p->accumulate && !bias;
        FN(matmul_pack_b)(p, b, c0, kc, j0, nb, tw, panels);
        if (!in_place)
            FN(matmul_pack_a)(p, a, i0, mb, c0, kc, kb, blocks);
        for (ptrdiff_t jp = 0; jp < np; jp++) {
            const int cnt = (int)(nb - jp * tw < tw ? nb - jp * tw : tw);
            const REAL *pk = panels + jp * kc * tw;
            for (ptrdiff_t i = 0; i < mb; i += kb) {
                const int rows = (int)(mb - i < kb ? mb - i : kb);
                REAL *y = c + (i0 + i) * p->c_rs + j0 + jp * tw;
                FN(matmul_prefetch_c)(p, c, i0 + i + kb, i0 + mb, j0 + jp * tw, kb, cnt);
                if (in_place)
                    e->SFX(pk, tw, a + (i0 + i) * p->a_rs + c0, p->a_rs, kc, NULL, y,
                           p->c_rs, rows, cnt, first);
                else
                    e->SFX(pk, tw, blocks + i / kb * kc * kb, 0, kc, NULL, y, p->c_rs,
                           rows, cnt, first);
            }
        }
    }
}

/* Item it of a product (cc_matmul_items): batch entry, block of rows, block of columns,
 * the columns innermost. */
static void FN(matmul_item)(const cc_matmul *p, const cc_gemm_tile_entry *e, ptrdiff_t tw,
                            const REAL *a, const REAL *b, const REAL *bias, REAL *c,
                            ptrdiff_t it, REAL *work)
{
    const ptrdiff_t mt = (p->m + p->mb - 1) / p->mb, nt = (p->n + p->nb - 1) / p->nb;
    const ptrdiff_t j = it % nt, i = it / nt % mt, bt = it / (nt * mt);
    const ptrdiff_t i0 = i * p->mb, j0 = j * p->nb;
    const ptrdiff_t mb = p->m - i0 < p->mb ? p->m - i0 : p->mb;
    const ptrdiff_t nb = p->n - j0 < p->nb ? p->n - j0 : p->nb;
    FN(matmul_block)(p, e, tw, a + bt * p->a_bs, b + bt * p->b_bs, bias, c + bt * p->c_bs,
                     i0, mb, j0, nb, work);
}

void CC_CAT2(cc_matmul_range, SFX)(const cc_matmul *p, const REAL *a, const REAL *b,
                                   const REAL *bias, REAL *c, REAL *workspace, ptrdiff_t it0,
                                   ptrdiff_t it1, int n_threads)
{
    ptrdiff_t tw;
    const cc_gemm_tile_entry *e =
        cc_direct_gemm_tile_and_width((ptrdiff_t)sizeof(REAL), &tw);
    const ptrdiff_t per_thread = cc_matmul_workspace_per_thread();
    const double macs = (double)p->mb * p->nb * (p->k > 0 ? p->k : 1);
    n_threads = cc_gemm_team(it1 - it0, (double)(it1 - it0) * macs, n_threads);
    if (n_threads < 1)
        return;
    cc_shares shares; /* cc_omp.h: each thread its own share, then the others' */
    cc_shares_init(&shares, n_threads, it0, it1, 1);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        const int tid = CC_OMP_THREAD_ID();
        for (ptrdiff_t it; (it = cc_shares_take(&shares, tid)) >= 0;)
            FN(matmul_item)(p, e, tw, a, b, bias, c, it,
                            workspace + (ptrdiff_t)tid * per_thread);
    }
    cc_shares_free(&shares);
}

void CC_CAT2(cc_matmul_serial, SFX)(const cc_matmul *p, const cc_gemm_tile_entry *e,
                                    ptrdiff_t tw, const REAL *a, const REAL *b, REAL *c,
                                    REAL *work)
{
    const ptrdiff_t items = cc_matmul_items(p);
    for (ptrdiff_t it = 0; it < items; it++)
        FN(matmul_item)(p, e, tw, a, b, NULL, c, it, work);
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
