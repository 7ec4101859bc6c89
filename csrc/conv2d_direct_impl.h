/* Direct convolution, NCHW, no workspace: one template, instantiated per dtype and ISA.
 *
 * The including file defines REAL (float or double), SFX (f32/f64), CC_ISA (avx512,
 * avx2, generic) and the register-tile sizes CC_KB_BIG / CC_NV_BIG / CC_NV_ONE, and
 * compiles this under a matching `#pragma GCC target`.
 *
 * Work is vectorised along output columns: a register tile holds KB output channels x
 * NV vectors of 64 bytes (16 floats / 8 doubles) of one output row.  Each step of the
 * reduction over (c, r, s) loads NV input vectors once and broadcasts KB weights:
 * NV loads + KB broadcasts feed KB * NV FMAs, so the tile is FMA-bound, not load-bound.
 * A 64-byte vector is one zmm on AVX-512, two ymm on AVX2 and four xmm on SSE2; the
 * tile sizes per ISA keep the accumulators within the register file.
 *
 * Padding is computed as real zeros (0 * w is evaluated), so non-finite weights give
 * the same NaNs as an explicitly zero-padded input, exactly as the im2col path does.
 */
#define CC_CAT3_(a, b, c) a##_##b##_##c
#define CC_CAT3(a, b, c) CC_CAT3_(a, b, c)
#define FN(name) CC_CAT3(name, SFX, CC_ISA)

#define VEC FN(vec)
#define LANES ((int)(64 / sizeof(REAL)))
#define KB_MAX CC_KB_BIG
#define NV_MAX (CC_NV_ONE > CC_NV_BIG ? CC_NV_ONE : CC_NV_BIG)

typedef REAL VEC __attribute__((vector_size(64)));

/* Unaligned load/store through memcpy: compiles to one vector move. */
static inline VEC FN(loadu)(const REAL *p)
{
    VEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void FN(storeu)(REAL *p, VEC v)
{
    memcpy(p, &v, sizeof v);
}

/* Broadcast; a - 0 is exactly a for every a (also -0 and NaN), so this folds away. */
static inline VEC FN(splat)(REAL a)
{
    const VEC zero = {0};
    return a - zero;
}

/* Input columns a tile reads: MODE_S1 contiguous, MODE_S2 every other element, both
 * entirely inside the row; the _EDGE variants of the two for tiles that overlap the
 * padding or the end of the row (masked loads, zeros outside); MODE_ANY any stride
 * (an element-by-element gather). */
#ifndef CC_DIRECT_MODES
#define CC_DIRECT_MODES
enum { MODE_S1 = 0, MODE_S2 = 1, MODE_S1_EDGE = 2, MODE_S2_EDGE = 3, MODE_ANY = 4 };

/* Kernel taps whose edge-tile masks are made up front (wider kernels make the rest as
 * they go). */
#define CC_EDGE_MAX_S 16

/* Clamp to [0, n] for lane bounds. */
static inline int cc_clamp_lanes(ptrdiff_t v, int n)
{
    return v < 0 ? 0 : v > n ? n : (int)v;
}
#endif

typedef struct {
    const REAL *x;          /* input image n, first channel of the group */
    const REAL *wp;         /* packed weights of the tile's channel block: [c][r][s][KB] */
    const REAL *bias;       /* bias of the block's first channel, or NULL */
    ptrdiff_t H, W, Cg, R, S, sw, dh, dw;
    ptrdiff_t x_cstride;    /* H * W */
    ptrdiff_t y_kstride;    /* Hout * Wout */
} FN(tile_args);

/* Load mask of vector v (half 0 or 1 of a stride-2 pair) of an edge tile whose input
 * columns start at col0: lanes whose input offset t from col0 is inside the row
 * (0 <= col0 + t < W) and belongs to one of the cnt outputs (t < cnt, or t <= 2*(cnt-1)
 * for stride 2). */
static inline CC_MASK FN(edge_mask)(ptrdiff_t col0, ptrdiff_t W, int cnt, int v, int half,
                                    int stride2)
{
    ptrdiff_t end = stride2 ? 2 * (ptrdiff_t)cnt - 1 : cnt;
    if (W - col0 < end)
        end = W - col0;
    ptrdiff_t o = (stride2 ? 2 : 1) * (ptrdiff_t)v * LANES + half * LANES;
    return CC_MAKE_MASK(cc_clamp_lanes(-col0 - o, LANES), cc_clamp_lanes(end - o, LANES));
}

/* One register tile: kb (<= KB) channels x cnt (<= NV * LANES) columns of output row
 * starting at y; input row origin ih0, input column of the first output iw0.  KB, NV,
 * R, S and MODE are compile-time constants at every call site, so the loops unroll
 * and the accumulators live in registers. */
static inline __attribute__((always_inline)) void
FN(tile)(const FN(tile_args) *a, ptrdiff_t ih0, ptrdiff_t iw0, REAL *y, int kb, int cnt,
         const int KB, const int NV, const ptrdiff_t R, const ptrdiff_t S, const int MODE)
{
    VEC acc[KB_MAX][NV_MAX];
    const REAL *wp = a->wp;
    const ptrdiff_t H = a->H, W = a->W, sw = a->sw, dh = a->dh, dw = a->dw;

    /* Edge tiles: the lanes inside the row depend on s only, so the load masks of the
     * first CC_EDGE_MAX_S taps are made once here, not once per (c, r, s) step (wider
     * kernels make the rest as they go). */
    CC_MASK m_lo[CC_EDGE_MAX_S][NV_MAX], m_hi[CC_EDGE_MAX_S][NV_MAX];
    if (MODE == MODE_S1_EDGE || MODE == MODE_S2_EDGE) {
        for (ptrdiff_t s = 0; s < S && s < CC_EDGE_MAX_S; s++)
            for (int v = 0; v < NV; v++) {
                m_lo[s][v] = FN(edge_mask)(iw0 + s * dw, W, cnt, v, 0, MODE == MODE_S2_EDGE);
                m_hi[s][v] = FN(edge_mask)(iw0 + s * dw, W, cnt, v, 1, MODE == MODE_S2_EDGE);
            }
    }

#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++) {
        REAL b0 = a->bias && kk < kb ? a->bias[kk] : (REAL)0;
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            acc[kk][v] = FN(splat)(b0);
    }

    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        const REAL *xc = a->x + c * a->x_cstride;
        for (ptrdiff_t r = 0; r < R; r++) {
            const ptrdiff_t ih = ih0 + r * dh;
            const int row_in = ih >= 0 && ih < H;
            const REAL *xr = xc + (row_in ? ih * W : 0);
            for (ptrdiff_t s = 0; s < S; s++) {
                VEC xv[NV_MAX];
                const ptrdiff_t col0 = iw0 + s * dw;
#pragma GCC unroll 16
                for (int v = 0; v < NV; v++) {
                    if (!row_in) {
                        xv[v] = FN(splat)((REAL)0);
                    } else if (MODE == MODE_S1) {
                        xv[v] = FN(loadu)(xr + col0 + v * LANES);
                    } else if (MODE == MODE_S2) {
                        VEC lo = FN(loadu)(xr + col0 + 2 * v * LANES);
                        VEC hi = FN(loadu)(xr + col0 + 2 * v * LANES + LANES);
                        xv[v] = CC_EVEN(lo, hi);
                    } else if (MODE == MODE_S1_EDGE) {
                        xv[v] = CC_LOAD_MASKED(xr + col0 + v * LANES,
                                               s < CC_EDGE_MAX_S ? m_lo[s][v]
                                                   : FN(edge_mask)(col0, W, cnt, v, 0, 0));
                    } else if (MODE == MODE_S2_EDGE) {
                        const REAL *p = xr + col0 + 2 * v * LANES;
                        CC_MASK lo = s < CC_EDGE_MAX_S ? m_lo[s][v]
                                         : FN(edge_mask)(col0, W, cnt, v, 0, 1);
                        CC_MASK hi = s < CC_EDGE_MAX_S ? m_hi[s][v]
                                         : FN(edge_mask)(col0, W, cnt, v, 1, 1);
                        xv[v] = CC_EVEN(CC_LOAD_MASKED(p, lo), CC_LOAD_MASKED(p + LANES, hi));
                    } else {
                        REAL t[LANES];
                        for (int l = 0; l < LANES; l++) {
                            ptrdiff_t j = v * LANES + l, col = col0 + j * sw;
                            t[l] = (j < cnt && col >= 0 && col < W) ? xr[col] : (REAL)0;
                        }
                        memcpy(&xv[v], t, sizeof t);
                    }
                }
#pragma GCC unroll 16
                for (int kk = 0; kk < KB; kk++) {
                    const REAL wv = wp[kk];
#pragma GCC unroll 16
                    for (int v = 0; v < NV; v++)
                        acc[kk][v] += wv * xv[v];
                }
                wp += KB;
            }
        }
    }

#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++) {
        if (kk >= kb)
            break;
        REAL *yk = y + kk * a->y_kstride;
        if (cnt == NV * LANES) {
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                FN(storeu)(yk + v * LANES, acc[kk][v]);
        } else {
            /* element copies keep acc out of memory (no address taken) */
            for (int v = 0; v < NV; v++) {
                const VEC t = acc[kk][v];
                for (int l = 0; l < LANES && v * LANES + l < cnt; l++)
                    yk[v * LANES + l] = t[l];
            }
        }
    }
}

/* Instantiate the tile for one (KB, NV) and a set of kernel sizes.  The 1x1 and 3x3
 * specialisations unroll the tap loops completely; others run them as loops. */
#define CC_DEFINE_ROW(NAME, KB, NV)                                                      \
    static void FN(NAME)(const FN(tile_args) *a, const cc_conv2d_geometry *g, \
                                    ptrdiff_t oh, REAL *yrow, int kb)                    \
    {                                                                                    \
        const ptrdiff_t ih0 = oh * g->stride_h - g->pad_top;                             \
        const ptrdiff_t step = (NV) * LANES, sw = g->stride_w;                           \
        const ptrdiff_t R = g->R, S = g->S, span = (S - 1) * g->dil_w;                   \
        for (ptrdiff_t ow = 0; ow < g->Wout; ow += step) {                               \
            int cnt = (int)(g->Wout - ow < step ? g->Wout - ow : step);                  \
            ptrdiff_t iw0 = ow * sw - g->pad_left;                                       \
            int full = cnt == step && iw0 >= 0;                                          \
            int mode = sw == 1 ? MODE_S1_EDGE : sw == 2 ? MODE_S2_EDGE : MODE_ANY;       \
            if (full && sw == 1 && iw0 + span + step <= g->W)                            \
                mode = MODE_S1;                                                          \
            else if (full && sw == 2 && iw0 + span + 2 * step <= g->W)                   \
                mode = MODE_S2;                                                          \
            REAL *y = yrow + ow;                                                         \
            if (mode == MODE_S1 && R == 1 && S == 1)                                     \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, 1, 1, MODE_S1);                \
            else if (mode == MODE_S1 && R == 3 && S == 3)                                \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, 3, 3, MODE_S1);                \
            else if (mode == MODE_S1)                                                    \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, R, S, MODE_S1);                \
            else if (mode == MODE_S2 && R == 3 && S == 3)                                \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, 3, 3, MODE_S2);                \
            else if (mode == MODE_S2)                                                    \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, R, S, MODE_S2);                \
            else if (mode == MODE_S1_EDGE && R == 3 && S == 3)                           \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, 3, 3, MODE_S1_EDGE);           \
            else if (mode == MODE_S1_EDGE)                                               \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, R, S, MODE_S1_EDGE);           \
            else if (mode == MODE_S2_EDGE)                                               \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, R, S, MODE_S2_EDGE);           \
            else                                                                         \
                FN(tile)(a, ih0, iw0, y, kb, cnt, KB, NV, R, S, MODE_ANY);               \
        }                                                                                \
    }

/* Tiles by role: many channels (wide / narrow rows), a few channels, one channel. */
CC_DEFINE_ROW(row_big, CC_KB_BIG, CC_NV_BIG)
CC_DEFINE_ROW(row_big_narrow, CC_KB_BIG, 1)
CC_DEFINE_ROW(row_mid, 4, CC_NV_BIG)
CC_DEFINE_ROW(row_one, 1, CC_NV_ONE)
CC_DEFINE_ROW(row_one_narrow, 1, 1)

typedef void (*FN(row_fn))(const FN(tile_args) *, const cc_conv2d_geometry *, ptrdiff_t,
                           REAL *, int);


/* Register tile for this shape: KB output channels per block and the row kernel. */
static int FN(choose_tile)(const cc_conv2d_geometry *g, FN(row_fn) *row)
{
    const ptrdiff_t Kg = g->K / g->groups;
    const int narrow = g->Wout <= LANES;
    if (Kg >= CC_KB_BIG) {
        *row = narrow ? FN(row_big_narrow) : FN(row_big);
        return CC_KB_BIG;
    }
    if (Kg >= 4 && !narrow) {
        *row = FN(row_mid);
        return 4;
    }
    *row = narrow ? FN(row_one_narrow) : FN(row_one);
    return 1;
}

ptrdiff_t CC_CAT3(cc_conv2d_direct_pack_size, SFX, CC_ISA)(const cc_conv2d_geometry *g)
{
    FN(row_fn) row;
    const ptrdiff_t KB = FN(choose_tile)(g, &row), Kg = g->K / g->groups;
    return g->groups * ((Kg + KB - 1) / KB) * KB * (g->C / g->groups) * g->R * g->S;
}

/* Weights (K, Cg, R, S) -> blocks [group][block][c][r][s][KB], the KB weights one
 * reduction step broadcasts side by side; channels past Kg are zero (never stored). */
static void FN(pack_weights)(const cc_conv2d_geometry *g, const REAL *w, int KB, REAL *wpack)
{
    const ptrdiff_t Kg = g->K / g->groups, CgRS = (g->C / g->groups) * g->R * g->S;
    const ptrdiff_t nkb = (Kg + KB - 1) / KB;
    for (ptrdiff_t grp = 0; grp < g->groups; grp++)
        for (ptrdiff_t b = 0; b < nkb; b++) {
            REAL *dst = wpack + (grp * nkb + b) * CgRS * KB;
            for (int kk = 0; kk < KB; kk++) {
                ptrdiff_t k = b * KB + kk;
                const REAL *src = w + (grp * Kg + k) * CgRS;
                for (ptrdiff_t t = 0; t < CgRS; t++)
                    dst[t * KB + kk] = k < Kg ? src[t] : (REAL)0;
            }
        }
}

/* Rows per work item: a band of output rows reuses the same few input rows (all
 * channels) from L2 while every block of output channels sweeps over it. */
#define CC_BAND_ROWS 4

void CC_CAT3(cc_conv2d_direct, SFX, CC_ISA)(const cc_conv2d_geometry *g, const REAL *x,
                                            const REAL *w, const REAL *bias, REAL *y,
                                            REAL *wpack, int n_threads)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t HWo = g->Hout * g->Wout, CgRS = Cg * g->R * g->S;
    FN(row_fn) row;
    const int KB = FN(choose_tile)(g, &row);
    FN(pack_weights)(g, w, KB, wpack);
    const ptrdiff_t nkb = (Kg + KB - 1) / KB;
    const ptrdiff_t nbands = (g->Hout + CC_BAND_ROWS - 1) / CC_BAND_ROWS;
    const ptrdiff_t outer = g->N * g->groups * nbands;
    /* Split the output channels too when images x bands alone cannot feed the threads. */
    ptrdiff_t kchunks = 1;
    if (n_threads > 1 && outer < 4 * (ptrdiff_t)n_threads)
        kchunks = (4 * (ptrdiff_t)n_threads + outer - 1) / outer;
    if (kchunks > nkb)
        kchunks = nkb;
    const ptrdiff_t items = outer * kchunks;
    if (2.0 * (double)(g->N * g->K * HWo) * (double)CgRS < 2e5 || items < 2)
        n_threads = 1;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t it = 0; it < items; it++) {
        ptrdiff_t kc = it % kchunks, rest = it / kchunks;
        ptrdiff_t band = rest % nbands;
        ptrdiff_t ng = rest / nbands, n = ng / g->groups, grp = ng % g->groups;
        ptrdiff_t kb_lo = nkb * kc / kchunks, kb_hi = nkb * (kc + 1) / kchunks;
        ptrdiff_t oh_lo = band * CC_BAND_ROWS;
        ptrdiff_t oh_hi = oh_lo + CC_BAND_ROWS < g->Hout ? oh_lo + CC_BAND_ROWS : g->Hout;
        FN(tile_args) a;
        a.x = x + (n * g->C + grp * Cg) * g->H * g->W;
        a.H = g->H; a.W = g->W; a.Cg = Cg; a.R = g->R; a.S = g->S;
        a.sw = g->stride_w; a.dh = g->dil_h; a.dw = g->dil_w;
        a.x_cstride = g->H * g->W;
        a.y_kstride = HWo;
        for (ptrdiff_t kblk = kb_lo; kblk < kb_hi; kblk++) {
            ptrdiff_t k = grp * Kg + kblk * KB;
            int kb = (int)(Kg - kblk * KB < KB ? Kg - kblk * KB : KB);
            a.wp = wpack + (grp * nkb + kblk) * CgRS * KB;
            a.bias = bias ? bias + k : NULL;
            REAL *yk = y + (n * g->K + k) * HWo;
            for (ptrdiff_t oh = oh_lo; oh < oh_hi; oh++)
                row(&a, g, oh, yk + oh * g->Wout, kb);
        }
    }
}

#undef FN
#undef VEC
#undef LANES
#undef KB_MAX
#undef NV_MAX
#undef CC_DEFINE_ROW
#undef CC_BAND_ROWS
