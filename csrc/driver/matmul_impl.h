/* The float and double halves of driver/matmul.c (REAL and SFX defined there). */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)

/* B's rows [c0, c0 + kc) at columns [j0, j0 + nb), in panels of tw columns:
 * panels[(jp * kc + r) * tw + t] = B(c0 + r, j0 + jp * tw + t), zero past nb. */
static void FN(matmul_pack_b)(const cc_matmul *p, const REAL *b, ptrdiff_t c0, ptrdiff_t kc,
                              ptrdiff_t j0, ptrdiff_t nb, ptrdiff_t tw, REAL *panels)
{
    const ptrdiff_t np = (nb + tw - 1) / tw;
    for (ptrdiff_t jp = 0; jp < np; jp++) {
        const ptrdiff_t t_end = nb - jp * tw < tw ? nb - jp * tw : tw;
        const REAL *src = b + c0 * p->b_rs + (j0 + jp * tw) * p->b_cs;
        REAL *dst = panels + jp * kc * tw;
        if (p->b_cs == 1) {
            for (ptrdiff_t r = 0; r < kc; r++) {
                memcpy(dst + r * tw, src + r * p->b_rs, (size_t)t_end * sizeof(REAL));
                memset(dst + r * tw + t_end, 0, (size_t)(tw - t_end) * sizeof(REAL));
            }
        } else {
            /* columns of B contiguous (or neither): down each column, then the zeros */
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
        for (ptrdiff_t kk = 0; kk < kb; kk++) {
            const ptrdiff_t i = ib * kb + kk;
            if (i >= mb) {
                for (ptrdiff_t r = 0; r < kc; r++)
                    dst[r * kb + kk] = 0;
                continue;
            }
            const REAL *src = a + (i0 + i) * p->a_rs + c0 * p->a_cs;
            for (ptrdiff_t r = 0; r < kc; r++)
                dst[r * kb + kk] = src[r * p->a_cs];
        }
    }
}

/* One block of C: rows [i0, i0 + mb), columns [j0, j0 + nb) of batch entry bt. */
static void FN(matmul_block)(const cc_matmul *p, const cc_gemm_tile_entry *e, ptrdiff_t tw,
                             const REAL *a, const REAL *b, REAL *c, ptrdiff_t i0,
                             ptrdiff_t mb, ptrdiff_t j0, ptrdiff_t nb, REAL *work)
{
    const ptrdiff_t kb = e->kb, np = (nb + tw - 1) / tw;
    ptrdiff_t KC = cc_pw_slice(tw, (ptrdiff_t)sizeof(REAL));
    if (KC > CC_MATMUL_SLICE_MAX)
        KC = CC_MATMUL_SLICE_MAX;
    REAL *panels = work, *blocks = work + CC_MATMUL_SLICE_MAX * CC_MATMUL_COLS;
    const int in_place = p->a_cs == 1; /* A's rows read where they are */
    if (p->k == 0) {
        if (!p->accumulate)
            for (ptrdiff_t i = 0; i < mb; i++)
                memset(c + (i0 + i) * p->c_rs + j0, 0, (size_t)nb * sizeof(REAL));
        return;
    }
    for (ptrdiff_t c0 = 0; c0 < p->k; c0 += KC) {
        const ptrdiff_t kc = p->k - c0 < KC ? p->k - c0 : KC;
        const int first = c0 == 0 && !p->accumulate;
        FN(matmul_pack_b)(p, b, c0, kc, j0, nb, tw, panels);
        if (!in_place)
            FN(matmul_pack_a)(p, a, i0, mb, c0, kc, kb, blocks);
        for (ptrdiff_t jp = 0; jp < np; jp++) {
            const int cnt = (int)(nb - jp * tw < tw ? nb - jp * tw : tw);
            const REAL *pk = panels + jp * kc * tw;
            for (ptrdiff_t i = 0; i < mb; i += kb) {
                const int rows = (int)(mb - i < kb ? mb - i : kb);
                REAL *y = c + (i0 + i) * p->c_rs + j0 + jp * tw;
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
                            const REAL *a, const REAL *b, REAL *c, ptrdiff_t it, REAL *work)
{
    const ptrdiff_t mt = (p->m + CC_MATMUL_ROWS - 1) / CC_MATMUL_ROWS;
    const ptrdiff_t nt = (p->n + CC_MATMUL_COLS - 1) / CC_MATMUL_COLS;
    const ptrdiff_t j = it % nt, i = it / nt % mt, bt = it / (nt * mt);
    const ptrdiff_t i0 = i * CC_MATMUL_ROWS, j0 = j * CC_MATMUL_COLS;
    const ptrdiff_t mb = p->m - i0 < CC_MATMUL_ROWS ? p->m - i0 : CC_MATMUL_ROWS;
    const ptrdiff_t nb = p->n - j0 < CC_MATMUL_COLS ? p->n - j0 : CC_MATMUL_COLS;
    FN(matmul_block)(p, e, tw, a + bt * p->a_bs, b + bt * p->b_bs, c + bt * p->c_bs, i0, mb,
                     j0, nb, work);
}

void CC_CAT2(cc_matmul_range, SFX)(const cc_matmul *p, const REAL *a, const REAL *b, REAL *c,
                                   REAL *workspace, ptrdiff_t it0, ptrdiff_t it1,
                                   int n_threads)
{
    const cc_gemm_tile_entry *e = cc_direct_gemm_tile();
    const ptrdiff_t tw = cc_direct_gemm_width((ptrdiff_t)sizeof(REAL));
    const ptrdiff_t per_thread = cc_matmul_workspace_per_thread();
    const double macs = (double)CC_MATMUL_ROWS * CC_MATMUL_COLS * (p->k > 0 ? p->k : 1);
    n_threads = cc_gemm_team(it1 - it0, (double)(it1 - it0) * macs, n_threads);
    if (n_threads < 1)
        return;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic) num_threads(n_threads) if (n_threads > 1)
#endif
    for (ptrdiff_t it = it0; it < it1; it++)
        FN(matmul_item)(p, e, tw, a, b, c, it,
                        workspace + (ptrdiff_t)CC_OMP_THREAD_ID() * per_thread);
}

void CC_CAT2(cc_matmul_serial, SFX)(const cc_matmul *p, const cc_gemm_tile_entry *e,
                                    ptrdiff_t tw, const REAL *a, const REAL *b, REAL *c,
                                    REAL *work)
{
    const ptrdiff_t items = cc_matmul_items(p);
    for (ptrdiff_t it = 0; it < items; it++)
        FN(matmul_item)(p, e, tw, a, b, c, it, work);
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
