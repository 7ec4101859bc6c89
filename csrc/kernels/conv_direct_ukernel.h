/* Direct-convolution micro-kernels: one template, instantiated per ISA and dtype, with the
 * vector width and the register tile as its parameters.
 *
 * The including file compiles this under its ISA's `#pragma GCC target` and defines:
 *   CC_ISA          name token (avx512, avx2, generic)
 *   CC_VBYTES       bytes of one native vector register (64 zmm, 32 ymm, 16 xmm/NEON)
 *   REAL, SFX       float/f32 or double/f64
 *   CC_MASK, CC_MAKE_MASK(lo, hi), CC_LOAD_MASKED(p, m), CC_STORE_MASKED(p, m, v)
 *                   a load of lanes [lo, hi) of p with zeros elsewhere, and a store of
 *                   those lanes of v, never touching memory outside them
 *   CC_EVEN(lo, hi) the even lanes of the concatenation of two vectors (stride 2), in
 *                   natural order or, with CC_ORDER(v) defined, in an order that CC_ORDER
 *                   puts right (applied to the accumulators of stride-2 tiles)
 *   CC_LANES_DOWN(v, l)  (optional) v with lanes l.. moved to lanes 0.. (the others
 *                   arbitrary), for stores of a virtual row's runs without a mask
 *   CC_KB_BIG, CC_NV_BIG, CC_KB_MID, CC_NV_MID, CC_NV_ONE
 *                   the tiles: KB output channels x NV vectors, chosen so that the
 *                   KB * NV accumulators, NV input vectors and one broadcast weight fit
 *                   the ISA's register file
 *   CC_PW_PREFETCH_LOCALITY  (optional, default 3) the locality argument of the
 *                   pointwise tiles' prefetches of the next stretch
 *   CC_PW_OUT_OF_LINE  (optional) the pointwise tiles that read their panel as functions
 *                   of their own, not inlined into row_pw
 *
 * Work is vectorised along output columns.  Each step of the reduction over
 * (c, outer tap u, s) loads NV input vectors once and broadcasts KB weights, feeding
 * KB * NV FMAs.  Every output is summed in the same order (bias, then c, u, s) whatever
 * tile computes it.  Padding is computed as real zeros (0 * w is evaluated), so
 * non-finite weights give the NaNs of an explicitly zero-padded input, as im2col does.
 */
#include "kernels/cc_template_names.h"

#define KB_MAX CC_KB_BIG
#define NV_MAX2_(a, b) ((a) > (b) ? (a) : (b))
#define NV_MAX NV_MAX2_(CC_NV_ONE, NV_MAX2_(CC_NV_BIG, CC_NV_MID))

typedef REAL VEC __attribute__((vector_size(CC_VBYTES)));

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

#ifndef CC_PW_PREFETCH_LOCALITY
#define CC_PW_PREFETCH_LOCALITY 3
#endif

/* The pointwise copy tile prefetches, into L1, the input row this many steps of its
 * reduction ahead (from L2, where the prefetches of the stretch before put it): on
 * ResNet's 1x1 256 -> 64 at AVX2, with the one panel, 0.99x the time on one and two
 * threads beside the one panel alone (0.973-0.980x for the two together); 16 steps read
 * the same (docs/algorithms.md, "One pointwise panel"). */
#define CC_PW_COPY_AHEAD 6

#ifndef CC_DIRECT_MODES
#define CC_DIRECT_MODES
/* Input columns a tile reads: MODE_S1 contiguous, MODE_S2 every other element, both
 * inside the row; the _EDGE variants for tiles that overlap the padding or the end of
 * the row (masked loads); MODE_ANY any stride (element by element). */
enum { MODE_S1 = 0, MODE_S2 = 1, MODE_S1_EDGE = 2, MODE_S2_EDGE = 3, MODE_ANY = 4 };

/* Kernel taps whose edge-tile masks are made up front (wider kernels make the rest as
 * they go). */
#define CC_EDGE_MAX_S 16

static inline int cc_clamp_lanes(ptrdiff_t v, int n)
{
    return v < 0 ? 0 : v > n ? n : (int)v;
}

/* The input of tap t (0-2) of vector v of a 3-tap row, made from tap 0's vectors x0 by
 * the ISA's shifts SH (lanes s.. of one vector, then the first of the next) and, for the
 * row's last vector, SH1L from x2, that vector's tap 2 as loaded. */
#define CC_TAP3(SH, SH1L, x0, x2, v, t, NV)                                               \
    ((t) == 0           ? (x0)[v]                                                         \
     : (v) + 1 < (NV)   ? ((t) == 1 ? (VEC)SH((x0)[v], (x0)[(v) + 1], 1)                  \
                                    : (VEC)SH((x0)[v], (x0)[(v) + 1], 2))                 \
     : (t) == 1         ? (VEC)SH1L((x0)[v], x2)                                          \
                        : (x2))
#endif

/* Load mask of vector v (half 0 or 1 of a stride-2 pair) of an edge tile whose input
 * columns start at col0: lanes inside the row (0 <= col0 + t < W) that belong to one of
 * the cnt outputs (t < cnt, or t <= 2 * (cnt - 1) at stride 2). */
static inline CC_MASK FN(edge_mask)(ptrdiff_t col0, ptrdiff_t W, int cnt, int v, int half,
                                    int stride2)
{
    ptrdiff_t end = stride2 ? 2 * (ptrdiff_t)cnt - 1 : cnt;
    if (W - col0 < end)
        end = W - col0;
    ptrdiff_t o = (stride2 ? 2 : 1) * (ptrdiff_t)v * LANES + half * LANES;
    return CC_MAKE_MASK(cc_clamp_lanes(-col0 - o, LANES), cc_clamp_lanes(end - o, LANES));
}

/* acc[kk][v] += w[kk] * xv[v]: one step of a tile's reduction */
static inline __attribute__((always_inline)) void
FN(fma_taps)(VEC acc[][NV_MAX], const REAL *w, const VEC *xv, const int KB, const int NV)
{
#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++) {
        const VEC wv = FN(splat)(w[kk]);
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++)
            acc[kk][v] += wv * xv[v];
    }
}

/* One register tile: kb (<= KB) channels x cnt (<= NV * LANES) outputs of a row starting
 * at y (channel kk at y + kk * ys), whose first output reads input column iw0.  KB, NV,
 * S, MODE and DW are compile-time constants at every call site, so the loops unroll and
 * the accumulators stay in registers.  DW is the column dilation when known (1), else 0
 * (a->dw).  With it known and the row pointer opaque (xq below), every interior load of
 * an unrolled tap loop is the row pointer plus a constant; otherwise GCC kept one index
 * per tap and vector and reloaded them from the stack (docs/algorithms.md).  taps, when
 * given (one tap per table entry, MODE_S1), is FN(flat_taps)'s table: the c, u loops and
 * the row table's padding test per tap become one loop over offsets. */
static inline __attribute__((always_inline)) void
FN(tile_taps)(const ARGS *a, ptrdiff_t iw0, REAL *y, ptrdiff_t ys, int kb, int cnt,
              const int KB, const int NV, const ptrdiff_t S, const int MODE,
              const ptrdiff_t DW, ptrdiff_t vq, const ptrdiff_t *taps)
{
    VEC acc[KB_MAX][NV_MAX];
    const REAL *wp = a->wp;
    const ptrdiff_t W = a->W, sw = a->sw, dw = DW ? DW : a->dw, U = a->U;

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

    if (S == 1 && MODE == MODE_S1 && taps) {
        /* one tap per table entry, its (c, u) taps flattened by FN(flat_taps): one loop
         * of offsets from the tile's first column, in the order of the loops below */
        const REAL *xq = a->x + iw0;
        __asm__("" : "+r"(xq));
        for (ptrdiff_t t = 0, T = a->Cg * U; t < T; t++, wp += KB) {
            VEC xv[NV_MAX];
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                xv[v] = FN(loadu)(xq + taps[t] + v * LANES);
            FN(fma_taps)(acc, wp, xv, KB, NV);
        }
    } else {
        for (ptrdiff_t c = 0; c < a->Cg; c++) {
            const REAL *xc = a->x + c * a->x_cstride;
            for (ptrdiff_t u = 0; u < U; u++) {
                const ptrdiff_t off = a->rows[u];
                const int row_in = off >= 0;
                const REAL *xr = xc + (row_in ? off : 0);
                /* the tile's first column, opaque to the optimiser (an empty GNU asm, as
                 * the vector extensions this file is built on are GNU C too): the interior
                 * loads are then xq plus constant offsets, where GCC otherwise hoisted one
                 * index per tap and vector out of the c, u loops and reloaded them from the
                 * stack */
                const REAL *xq = xr + iw0;
                __asm__("" : "+r"(xq));
#ifdef CC_SHIFT
                if (MODE == MODE_S1 && S == 3 && DW == 1 && KB * NV <= 4) {
                    /* Few accumulators per loaded vector (one-channel tiles: depthwise
                     * layers, image filters): taps 1 and 2 are shuffled from tap 0's vectors
                     * instead of loaded, as loads straddling cache lines were what limited
                     * the FMAs (the last vector's tap 2 is loaded: its next vector may lie
                     * past the row).  The same products are added in the same order. */
                    VEC x0[NV_MAX], x2 = FN(splat)((REAL)0), xv[NV_MAX];
#pragma GCC unroll 16
                    for (int v = 0; v < NV; v++)
                        x0[v] = row_in ? FN(loadu)(xq + v * LANES) : FN(splat)((REAL)0);
                    if (row_in)
                        x2 = FN(loadu)(xq + 2 + (NV - 1) * LANES);
#pragma GCC unroll 4
                    for (int s = 0; s < 3; s++) {
#pragma GCC unroll 16
                        for (int v = 0; v < NV; v++)
                            xv[v] = CC_TAP3(CC_SHIFT, CC_SHIFT1_LAST, x0, x2, v, s, NV);
                        FN(fma_taps)(acc, wp, xv, KB, NV);
                        wp += KB;
                    }
                    continue;
                }
#endif
                for (ptrdiff_t s = 0; s < S; s++) {
                    VEC xv[NV_MAX];
                    const ptrdiff_t col0 = iw0 + s * dw;
#pragma GCC unroll 16
                    for (int v = 0; v < NV; v++) {
                        if (!row_in) {
                            xv[v] = FN(splat)((REAL)0);
                        } else if (MODE == MODE_S1) {
                            xv[v] = FN(loadu)(xq + s * dw + v * LANES);
                        } else if (MODE == MODE_S2) {
                            VEC lo = FN(loadu)(xq + s * dw + 2 * v * LANES);
                            VEC hi = FN(loadu)(xq + s * dw + 2 * v * LANES + LANES);
                            xv[v] = CC_EVEN(lo, hi);
                        } else if (MODE == MODE_S1_EDGE) {
                            xv[v] = CC_LOAD_MASKED(xr + col0 + v * LANES,
                                                   s < CC_EDGE_MAX_S
                                                       ? m_lo[s][v]
                                                       : FN(edge_mask)(col0, W, cnt, v, 0,
                                                                       0));
                        } else if (MODE == MODE_S2_EDGE) {
                            const REAL *p = xr + col0 + 2 * v * LANES;
                            CC_MASK lo = s < CC_EDGE_MAX_S ? m_lo[s][v]
                                             : FN(edge_mask)(col0, W, cnt, v, 0, 1);
                            CC_MASK hi = s < CC_EDGE_MAX_S ? m_hi[s][v]
                                             : FN(edge_mask)(col0, W, cnt, v, 1, 1);
                            xv[v] = CC_EVEN(CC_LOAD_MASKED(p, lo),
                                            CC_LOAD_MASKED(p + LANES, hi));
                        } else {
                            REAL t[LANES];
                            for (int l = 0; l < LANES; l++) {
                                ptrdiff_t j = v * LANES + l, col = col0 + j * sw;
                                t[l] = (j < cnt && col >= 0 && col < W) ? xr[col] : (REAL)0;
                            }
                            memcpy(&xv[v], t, sizeof t);
                        }
                    }
                    FN(fma_taps)(acc, wp, xv, KB, NV);
                    wp += KB;
                }
            }
        }
    }

#ifdef CC_ORDER
    if (MODE == MODE_S2 || MODE == MODE_S2_EDGE) {
#pragma GCC unroll 16
        for (int kk = 0; kk < KB; kk++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                acc[kk][v] = CC_ORDER(acc[kk][v]);
    }
#endif

    if (vq >= 0) {
        /* a tile of a virtual row (vq its first pixel, y the band's output) whose pixels
         * are not all real and consecutive there: each vector's run of real pixels in
         * each row it covers by one store per channel (whole or masked, below), lane l of
         * the run's row at column j + (l - l0) */
        const ptrdiff_t Wv = a->Wv, Wy = a->Wy, ny = a->ny;
        ptrdiff_t ov = vq / Wv, jv = vq - ov * Wv; /* vector v's first pixel */
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) {
            ptrdiff_t o = ov, j = jv;
            for (jv += LANES; jv >= Wv; jv -= Wv) /* no division per vector */
                ov++;
            for (int l0 = 0; l0 < LANES && o < ny; o++, j = 0) {
                const int run = Wv - j < LANES - l0 ? (int)(Wv - j) : LANES - l0;
                if (j < Wy) {
                    const int real = Wy - j < run ? (int)(Wy - j) : run;
                    REAL *p = y + o * Wy + j;
                    /* A whole vector stored from the run's first pixel writes past the
                     * run only pixels of this band that later runs store over (runs go
                     * in increasing order); the band's last ones take the masked store,
                     * which is slow on some CPUs (microcoded vmaskmov on AMD Zen 3). */
                    const int whole = o * Wy + j + LANES <= ny * Wy;
                    if (whole && l0 == 0) {
#pragma GCC unroll 16
                        for (int kk = 0; kk < KB; kk++) {
                            if (kk >= kb)
                                break;
                            FN(storeu)(p + kk * ys, acc[kk][v]);
                        }
#ifdef CC_LANES_DOWN
                    } else if (whole) { /* lanes l0.. moved down to lane 0 */
#pragma GCC unroll 16
                        for (int kk = 0; kk < KB; kk++) {
                            if (kk >= kb)
                                break;
                            FN(storeu)(p + kk * ys, CC_LANES_DOWN(acc[kk][v], l0));
                        }
#endif
                    } else {
                        const CC_MASK m = CC_MAKE_MASK(l0, l0 + real);
#pragma GCC unroll 16
                        for (int kk = 0; kk < KB; kk++) {
                            if (kk >= kb)
                                break;
                            CC_STORE_MASKED(p - l0 + kk * ys, m, acc[kk][v]);
                        }
                    }
                }
                l0 += run;
            }
        }
        return;
    }

#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++) {
        if (kk >= kb)
            break;
        REAL *yk = y + kk * ys;
        if (cnt == NV * LANES) {
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                FN(storeu)(yk + v * LANES, acc[kk][v]);
        } else {
            /* through a buffer: subscripting acc itself would keep it in memory */
            REAL t[NV_MAX * LANES];
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                FN(storeu)(t + v * LANES, acc[kk][v]);
            memcpy(yk, t, (size_t)cnt * sizeof(REAL));
        }
    }
}

/* FN(tile_taps) with the taps walked as c, u, s loops over the band's row table */
static inline __attribute__((always_inline)) void
FN(tile)(const ARGS *a, ptrdiff_t iw0, REAL *y, ptrdiff_t ys, int kb, int cnt, const int KB,
         const int NV, const ptrdiff_t S, const int MODE, const ptrdiff_t DW, ptrdiff_t vq)
{
    FN(tile_taps)(a, iw0, y, ys, kb, cnt, KB, NV, S, MODE, DW, vq, NULL);
}

#ifndef CC_DIRECT_VIRTUAL_STORE
#define CC_DIRECT_VIRTUAL_STORE
/* Where a tile of a virtual row (a band flattened by the driver: pixel q is column
 * q % Wv of the band's row q / Wv, stored if that column is one of the Wy real ones and
 * the row one of the ny real ones) stores its cnt pixels from q0: the offset of pixel
 * q0 in the band's output when they are all real and consecutive there, else -1. */
static inline ptrdiff_t cc_virtual_offset(ptrdiff_t Wv, ptrdiff_t Wy, ptrdiff_t ny,
                                          ptrdiff_t q0, ptrdiff_t cnt)
{
    if (Wv == Wy) /* no junk columns: only the rounded tail past ny rows is junk */
        return q0 + cnt <= ny * Wy ? q0 : -1;
    const ptrdiff_t o = q0 / Wv, j = q0 - o * Wv;
    return o < ny && j + cnt <= Wy ? o * Wy + j : -1;
}
#endif

/* One tile of FN(one_rows): NV vectors of output row y from its column j, the row's
 * input (channel 0, outer tap 0) at xo; lanes past column Wy are computed, not stored. */
static inline __attribute__((always_inline)) void
FN(one_tile)(const ARGS *a, const REAL *xo, REAL *y, ptrdiff_t j, ptrdiff_t Wy,
             const ptrdiff_t S, const int NV)
{
    VEC acc[CC_NV_ONE];
    const REAL b0 = a->bias ? a->bias[0] : (REAL)0;
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++)
        acc[v] = FN(splat)(b0);
    const REAL *wp = a->wp;
    for (ptrdiff_t c = 0; c < a->Cg; c++)
        for (ptrdiff_t u = 0; u < a->U; u++) {
            const REAL *xq = xo + c * a->x_cstride + a->rows[u] + j;
            __asm__("" : "+r"(xq)); /* loads at constant offsets, as in FN(tile) */
#ifdef CC_ROW_SHIFT
            if (S == 3) { /* taps 1 and 2 shuffled from tap 0's vectors, as in FN(tile) */
                VEC x0[CC_NV_ONE], x2 = FN(loadu)(xq + 2 + (NV - 1) * LANES);
#pragma GCC unroll 16
                for (int v = 0; v < NV; v++)
                    x0[v] = FN(loadu)(xq + v * LANES);
#pragma GCC unroll 4
                for (int t = 0; t < 3; t++, wp++) {
                    const VEC wv = FN(splat)(*wp);
#pragma GCC unroll 16
                    for (int v = 0; v < NV; v++)
                        acc[v] += wv * CC_TAP3(CC_ROW_SHIFT, CC_ROW_SHIFT1_LAST, x0, x2, v,
                                               t, NV);
                }
                continue;
            }
#endif
#pragma GCC unroll 4
            for (ptrdiff_t s = 0; s < S; s++, wp++) {
                const VEC wv = FN(splat)(*wp);
#pragma GCC unroll 16
                for (int v = 0; v < NV; v++)
                    acc[v] += wv * FN(loadu)(xq + s + v * LANES);
            }
        }
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) {
        const ptrdiff_t n = Wy - j - v * LANES;
        if (n >= LANES)
            FN(storeu)(y + j + v * LANES, acc[v]);
        else if (n > 0)
            CC_STORE_MASKED(y + j + v * LANES, CC_MAKE_MASK(0, (int)n), acc[v]);
    }
}

/* Output rows [o_lo, o_hi) of FN(one_rows), each on its own: whole tiles from the row's
 * first column, then one tile of the vectors left. */
static inline __attribute__((always_inline)) void
FN(one_rows_s)(const ARGS *a, REAL *yrow, ptrdiff_t o_lo, ptrdiff_t o_hi, const ptrdiff_t S)
{
    const ptrdiff_t step = CC_NV_ONE * LANES, Wy = a->Wy;
    for (ptrdiff_t o = o_lo; o < o_hi; o++) {
        const REAL *xo = a->x + o * a->Wv;
        REAL *y = yrow + o * Wy;
        ptrdiff_t j = 0;
        for (; j + step <= Wy; j += step)
            FN(one_tile)(a, xo, y, j, Wy, S, CC_NV_ONE);
        /* the row's last vectors, fewer than a tile's */
        _Static_assert(CC_NV_ONE == 4, "one-channel tiles of 4 vectors");
        switch ((Wy - j + LANES - 1) / LANES) {
        case 0: break;
        case 1: FN(one_tile)(a, xo, y, j, Wy, S, 1); break;
        case 2: FN(one_tile)(a, xo, y, j, Wy, S, 2); break;
        case 3: FN(one_tile)(a, xo, y, j, Wy, S, 3); break;
        default: FN(one_tile)(a, xo, y, j, Wy, S, CC_NV_ONE); break;
        }
    }
}

/* One step of FN(one_block): input row xq (from the block's column), each of its S taps
 * loaded as NV vectors once and fed to the block's output rows I0 <= i < I1 (constants
 * at each call site), which read it at tap row r - i: weights wr - i * S (wr: tap row r
 * of the channel's weights). */
static inline __attribute__((always_inline)) void
FN(block_step)(VEC acc[][CC_NV_BLOCK], const REAL *xq, const REAL *wr, ptrdiff_t S,
               const int NV, const int I0, const int I1)
{
    for (ptrdiff_t s = 0; s < S; s++) {
        VEC xv[CC_NV_BLOCK];
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            xv[v] = FN(loadu)(xq + s + v * LANES);
#pragma GCC unroll 8
        for (int i = I0; i < I1; i++) {
            const VEC wv = FN(splat)(wr[s - i * S]);
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++)
                acc[i][v] += wv * xv[v];
        }
    }
}

/* A block of R output rows x NV vectors of a one-channel tile's flat band, from column j
 * of the band's output row o (input at xo, whose row o + r is input row r of the block;
 * the band's tap rows consecutive, FN(blocks_fit)).  Input row r feeds output rows i with
 * 0 <= r - i < U: the first R - 1 rows fewer of them, the middle ones all R, the last
 * R - 1 again fewer, so each row's NV vectors are loaded once per tap for up to R rows'
 * sums where FN(one_tile) loads them for one.  Each sum is still bias, then c, u, s in
 * that order (u = r - i rises with r), so the bits are FN(one_tile)'s.  Lanes past
 * column Wy are computed, not stored. */
static inline __attribute__((always_inline)) void
FN(one_block)(const ARGS *a, const REAL *xo, REAL *y, ptrdiff_t j, ptrdiff_t Wy, const int R,
              const int NV)
{
    VEC acc[CC_R_BLOCK][CC_NV_BLOCK];
    const REAL b0 = a->bias ? a->bias[0] : (REAL)0;
    const ptrdiff_t U = a->U, S = a->S, Wv = a->Wv;
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            acc[i][v] = FN(splat)(b0);
    for (ptrdiff_t c = 0; c < a->Cg; c++) {
        const REAL *xc = xo + c * a->x_cstride + a->rows[0] + j;
        const REAL *wc = a->wp + c * U * S;
#pragma GCC unroll 8
        for (int r = 0; r < R - 1; r++) { /* rows 0..r read input row r */
            const REAL *xq = xc + r * Wv;
            __asm__("" : "+r"(xq)); /* loads at constant offsets, as in FN(tile) */
            FN(block_step)(acc, xq, wc + r * S, S, NV, 0, r + 1);
        }
        for (ptrdiff_t r = R - 1; r < U; r++) { /* every row */
            const REAL *xq = xc + r * Wv;
            __asm__("" : "+r"(xq));
            FN(block_step)(acc, xq, wc + r * S, S, NV, 0, R);
        }
#pragma GCC unroll 8
        for (int t = 0; t < R - 1; t++) { /* rows t + 1.. read input row U + t */
            const REAL *xq = xc + (U + t) * Wv;
            __asm__("" : "+r"(xq));
            FN(block_step)(acc, xq, wc + (U + t) * S, S, NV, t + 1, R);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
            const ptrdiff_t n = Wy - j - v * LANES;
            if (n >= LANES)
                FN(storeu)(y + i * Wy + j + v * LANES, acc[i][v]);
            else if (n > 0)
                CC_STORE_MASKED(y + i * Wy + j + v * LANES, CC_MAKE_MASK(0, (int)n),
                                acc[i][v]);
        }
}

/* Whether FN(one_rows) runs blocks of CC_R_BLOCK output rows: kernels of at least that
 * many rows, consecutive in the band (stride and dilation 1 along the rows), and a band
 * of at least one block. */
static inline int FN(blocks_fit)(const ARGS *a)
{
    if (a->U < CC_R_BLOCK || a->ny < CC_R_BLOCK)
        return 0;
    for (ptrdiff_t u = 1; u < a->U; u++)
        if (a->rows[u] != a->rows[0] + u * a->Wv)
            return 0;
    return 1;
}

/* FN(one_rows) in blocks of CC_R_BLOCK output rows (FN(one_block)): whole blocks of
 * CC_NV_BLOCK vectors from the rows' first column, then one of the vectors left; the
 * band's last rows, fewer than a block, one by one. */
static __attribute__((noinline)) void FN(one_blocks)(const ARGS *a, REAL *yrow)
{
    const ptrdiff_t step = CC_NV_BLOCK * LANES, Wy = a->Wy, ny = a->ny;
    ptrdiff_t o = 0;
    for (; o + CC_R_BLOCK <= ny; o += CC_R_BLOCK) {
        const REAL *xo = a->x + o * a->Wv;
        REAL *y = yrow + o * Wy;
        ptrdiff_t j = 0;
        for (; j + step <= Wy; j += step)
            FN(one_block)(a, xo, y, j, Wy, CC_R_BLOCK, CC_NV_BLOCK);
        _Static_assert(CC_NV_BLOCK >= 2 && CC_NV_BLOCK <= 4, "blocks of 2-4 vectors");
        const ptrdiff_t left = (Wy - j + LANES - 1) / LANES; /* the last one partial */
        if (left == CC_NV_BLOCK)
            FN(one_block)(a, xo, y, j, Wy, CC_R_BLOCK, CC_NV_BLOCK);
        else if (left == 3)
            FN(one_block)(a, xo, y, j, Wy, CC_R_BLOCK, CC_NV_BLOCK > 3 ? 3 : 1);
        else if (left == 2)
            FN(one_block)(a, xo, y, j, Wy, CC_R_BLOCK, 2);
        else if (left == 1)
            FN(one_block)(a, xo, y, j, Wy, CC_R_BLOCK, 1);
    }
    FN(one_rows_s)(a, yrow, o, ny, a->S);
}

/* A one-channel tile's virtual row (a band flattened by the driver, at stride 1 and
 * column dilation 1, with junk columns at each row's end) output row by output row: the
 * vectors of a row start at its first column, so no tile straddles two rows and only a
 * row's last vector stores by mask.  The sums are FN(tile)'s (bias, then c, u, s), in
 * its order.  Each row reads up to its last vector plus S - 1 elements, inside the
 * driver's copy (flat_band sizes it for this).  Kernels of CC_R_BLOCK rows or more run
 * in blocks of output rows (FN(one_blocks)). */
static void FN(one_rows)(const ARGS *a, REAL *yrow)
{
    if (FN(blocks_fit)(a))
        FN(one_blocks)(a, yrow);
    else if (a->S == 3)
        FN(one_rows_s)(a, yrow, 0, a->ny, 3);
    else
        FN(one_rows_s)(a, yrow, 0, a->ny, a->S);
}

/* A virtual row (a flat band of ny rows of Wv pixels, Wy of them real) walked row by
 * row: whole tiles from each row's first column, then one of the 2 vectors left of a
 * 3-vector tile, so that no tile straddles a row's junk and each stores whole vectors
 * in place (a tile storing part of a vector through its stack buffer kept half the
 * accumulators of the 8 x 2 AVX-512 tile's loop on the stack: objdump).  The sums are
 * those of the walk along the virtual row.  Used where FN(by_rows_fits).  S and DW as
 * in FN(tile), constants at each call site. */
static inline __attribute__((always_inline)) void
FN(by_rows)(const ARGS *a, REAL *yrow, int kb, const int KB, const int NV,
            const ptrdiff_t S, const ptrdiff_t DW, const ptrdiff_t *taps)
{
    const ptrdiff_t step = NV * LANES, Wy = a->Wy, Wv = a->Wv, ys = a->y_kstride;
    for (ptrdiff_t o = 0; o < a->ny; o++) {
        const ptrdiff_t q = o * Wv;
        REAL *y = yrow + o * Wy;
        ptrdiff_t j = 0;
        for (; j + step <= Wy; j += step)
            FN(tile_taps)(a, q + j, y + j, ys, kb, NV * LANES, KB, NV, S, MODE_S1, DW, -1,
                          taps);
        if (j < Wy) /* two vectors left of a three-vector tile (FN(by_rows_fits)) */
            FN(tile_taps)(a, q + j, y + j, ys, kb, 2 * LANES, KB, NV > 2 ? 2 : NV, S, MODE_S1,
                          DW, -1, taps);
    }
}

/* Entries of the flat tap table, on the stack of the walk that makes it (2 KiB): the RGB
 * stem needs 27, 3 channels x 9 taps; a 3x3 stride-2 layer of 29 channels or more walks
 * the c, u loops. */
#ifndef CC_FLAT_TAPS
#define CC_FLAT_TAPS 256
#endif

/* Fills taps with the taps of a band of one tap per table entry (S == 1), flattened:
 * entry c * U + u holds c * x_cstride + rows[u], the offset of that tap's input row, so
 * that FN(tile_taps) walks them in one loop in the order of its c, u loops.  Returns 0
 * and leaves the c, u loops to the tiles when the table would exceed CC_FLAT_TAPS
 * entries or holds a padding row (-1, read as zeros by those loops; the flat bands that
 * the row-by-row walks run on hold none). */
static int FN(flat_taps)(const ARGS *a, ptrdiff_t *taps)
{
    if (a->Cg * a->U > CC_FLAT_TAPS)
        return 0;
    for (ptrdiff_t u = 0; u < a->U; u++)
        if (a->rows[u] < 0)
            return 0;
    for (ptrdiff_t c = 0; c < a->Cg; c++)
        for (ptrdiff_t u = 0; u < a->U; u++)
            taps[c * a->U + u] = c * a->x_cstride + a->rows[u];
    return 1;
}

/* Whether a virtual row runs FN(by_rows): rows of whole vectors and at least one tile
 * (every tile then reads inside the pixels the walk along the virtual row reads); Wv
 * not a whole number of tiles (else that walk's tiles never straddle two rows); and
 * rows ending on a whole tile or on 2 vectors of a 3-vector tile of 8 accumulators or
 * more: a tile of one vector costs a row about a tile's set-up and stores for a
 * vector's sums, and 4 accumulators chain the FMAs on their latency (docs/algorithms.md,
 * "Several channels, output row by output row").  Tiles of one vector (the narrow big
 * tile, for bands of at most one vector) never take it: their rows would be one tile,
 * as on the virtual row, and GCC kept the AVX2 walk's sums on the stack (objdump). */
static inline int FN(by_rows_fits)(const ARGS *a, const int KB, const int NV)
{
    const ptrdiff_t Wy = a->Wy, step = NV * LANES, tail = Wy % step / LANES;
    return a->Wv && a->Wv != Wy && Wy >= step && Wy % LANES == 0 && a->Wv % step != 0 &&
           (tail == 0 || (tail == 2 && NV == 3 && KB * 2 >= 8));
}

/* One output row for one (KB, NV) tile.  The 1- and 3-tap specialisations unroll the
 * innermost tap loop completely; others run it as a loop, and so do the tiles of 12 or
 * more accumulators (with three taps unrolled, GCC kept 8 of the 16 accumulators of the
 * 8 x 2 AVX-512 tile on the stack, and 6 of the 12 at AVX2: objdump).  A virtual row
 * (a->Wv > 0: the driver's flattened band, every tile an interior one) stores each tile
 * straight into the output where its pixels are real and consecutive there, and the
 * tiles that straddle junk columns or a row's end by a store of each row's run (a whole
 * vector where its spare lanes stay in the band, else masked; a stack buffer and a
 * memcpy per run and channel had taken a quarter of a depthwise layer's time:
 * docs/algorithms.md). */
#define CC_DEFINE_ROW(NAME, KB, NV)                                                      \
    /* the row-by-row walks, out of line, one for each kind of tap loop */               \
    static __attribute__((noinline)) void FN(NAME##_by_rows_1)(const ARGS *a, REAL *y,   \
                                                               int kb)                   \
    {                                                                                    \
        ptrdiff_t taps[CC_FLAT_TAPS];                                                    \
        if (FN(flat_taps)(a, taps))                                                      \
            FN(by_rows)(a, y, kb, KB, NV, 1, 1, taps);                                   \
        else                                                                             \
            FN(by_rows)(a, y, kb, KB, NV, 1, 1, NULL);                                   \
    }                                                                                    \
    static __attribute__((noinline)) void FN(NAME##_by_rows_3)(const ARGS *a, REAL *y,   \
                                                               int kb)                   \
    {                                                                                    \
        if (a->dw == 1)                                                                  \
            FN(by_rows)(a, y, kb, KB, NV, 3, 1, NULL);                                   \
        else                                                                             \
            FN(by_rows)(a, y, kb, KB, NV, 3, 0, NULL);                                   \
    }                                                                                    \
    static __attribute__((noinline)) void FN(NAME##_by_rows_s)(const ARGS *a, REAL *y,   \
                                                               int kb)                   \
    {                                                                                    \
        FN(by_rows)(a, y, kb, KB, NV, a->S, 0, NULL);                                    \
    }                                                                                    \
    static void FN(NAME)(const ARGS *a, REAL *yrow, int kb)                              \
    {                                                                                    \
        const ptrdiff_t step = (NV) * LANES, sw = a->sw, S = a->S;                       \
        const ptrdiff_t span = (S - 1) * a->dw;                                          \
        if ((KB) == 1 && (NV) == CC_NV_ONE && a->Wv && a->Wv != a->Wy &&                  \
            a->Wy >= 2 * LANES && sw == 1 && a->dw == 1) {                               \
            FN(one_rows)(a, yrow);                                                       \
            return;                                                                      \
        }                                                                                \
        if ((KB) > 1 && (NV) >= 2 && (NV) <= 3 && FN(by_rows_fits)(a, KB, NV)) {         \
            if (S == 1)                                                                  \
                FN(NAME##_by_rows_1)(a, yrow, kb);                                       \
            else if (S == 3 && (KB) * (NV) < 12)                                         \
                FN(NAME##_by_rows_3)(a, yrow, kb);                                       \
            else                                                                         \
                FN(NAME##_by_rows_s)(a, yrow, kb);                                       \
            return;                                                                      \
        }                                                                                \
        for (ptrdiff_t ow = 0; ow < a->Wout; ow += step) {                               \
            int cnt = (int)(a->Wout - ow < step ? a->Wout - ow : step);                  \
            ptrdiff_t iw0 = ow * sw - a->pad_w;                                          \
            int full = cnt == step && iw0 >= 0;                                          \
            int mode = sw == 1 ? MODE_S1_EDGE : sw == 2 ? MODE_S2_EDGE : MODE_ANY;       \
            if (full && sw == 1 && iw0 + span + step <= a->W)                            \
                mode = MODE_S1;                                                          \
            else if (full && sw == 2 && iw0 + span + 2 * step <= a->W)                   \
                mode = MODE_S2;                                                          \
            REAL *y = yrow + ow;                                                         \
            const ptrdiff_t ys = a->y_kstride;                                           \
            ptrdiff_t vq = -1;                                                           \
            if (a->Wv) {                                                                 \
                const ptrdiff_t at = cc_virtual_offset(a->Wv, a->Wy, a->ny, ow, cnt);    \
                y = yrow + (at >= 0 ? at : 0);                                           \
                vq = at >= 0 ? -1 : ow;                                                  \
            }                                                                            \
            const int d1 = a->dw == 1, s3 = S == 3 && (KB) * (NV) < 12;                \
            if (mode == MODE_S1 && S == 1)                                               \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, 1, MODE_S1, 1, vq);             \
            else if (mode == MODE_S1 && s3 && d1)                                        \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, 3, MODE_S1, 1, vq);             \
            else if (mode == MODE_S1 && s3)                                              \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, 3, MODE_S1, 0, vq);             \
            else if (mode == MODE_S1)                                                    \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, S, MODE_S1, 0, vq);             \
            else if (mode == MODE_S2 && s3 && d1)                                        \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, 3, MODE_S2, 1, vq);             \
            else if (mode == MODE_S2 && s3)                                              \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, 3, MODE_S2, 0, vq);             \
            else if (mode == MODE_S2)                                                    \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, S, MODE_S2, 0, vq);             \
            else if (mode == MODE_S1_EDGE && S == 3)                                     \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, 3, MODE_S1_EDGE, 0, vq);        \
            else if (mode == MODE_S1_EDGE)                                               \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, S, MODE_S1_EDGE, 0, vq);        \
            else if (mode == MODE_S2_EDGE)                                               \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, S, MODE_S2_EDGE, 0, vq);        \
            else                                                                         \
                FN(tile)(a, iw0, y, ys, kb, cnt, KB, NV, S, MODE_ANY, 0, vq);            \
        }                                                                                \
    }

CC_DEFINE_ROW(row_big, CC_KB_BIG, CC_NV_BIG)
CC_DEFINE_ROW(row_big_narrow, CC_KB_BIG, 1)
CC_DEFINE_ROW(row_mid, CC_KB_MID, CC_NV_MID)
CC_DEFINE_ROW(row_short, CC_KB_BIG - 2, CC_NV_BIG)
CC_DEFINE_ROW(row_one, 1, CC_NV_ONE)
CC_DEFINE_ROW(row_one_narrow, 1, 1)

/* What a pointwise tile does beside its sums (zeros: nothing): read its input rows (src,
 * ss apart) and copy them into its panel (dst, rows as the tile reads its panel: the
 * tile of the first block of a slice), and prefetch `lines` consecutive cache lines of
 * each of `rows` rows (pf, rows pfs apart) of the next item's same slice, or of this
 * stretch's next one, a row on every 2^sh-th step of the reduction. */
typedef struct {
    const REAL *src;
    ptrdiff_t ss;
    REAL *dst;
    const REAL *pf;
    ptrdiff_t pfs, rows;
    int lines, sh;
} FN(pw_side);

/* One tile of the pointwise GEMM: n (<= KB) channels x cnt (<= NV * LANES) pixels from
 * a packed panel (kc rows of NV vectors, ps apart; KB <= CC_KB_BIG and NV <= CC_NV_BIG
 * constants), summed as FN(tile) sums (bias, then c): from the bias on the first slice,
 * else from the sums stored by the earlier slices.  The weight of channel kk and input
 * channel c is wp[kk * wk + c * wc]: packed blocks of CC_KB_BIG channels (wk 1, wc
 * CC_KB_BIG, constants, also for a tile of fewer channels; rows past n are zeros) or
 * the rows of a matrix (wk its row length, wc 1; rows past n read row n - 1, never past
 * the matrix); rows past n are not stored.  With copy (a constant, whole tiles only) the
 * tile reads side.src instead of the panel, and writes what it read to side.dst. */
static inline __attribute__((always_inline)) void
FN(pw_tile)(const REAL *pk, ptrdiff_t ps, const int KB, const int NV, const REAL *wp,
            ptrdiff_t wk, ptrdiff_t wc, const REAL *bias, ptrdiff_t kc, REAL *y, ptrdiff_t ys,
            int n, int cnt, int first, const int copy, FN(pw_side) side)
{
    VEC acc[CC_KB_BIG][CC_NV_BIG];
    const REAL *wr[CC_KB_BIG];
#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++)
        wr[kk] = wp + (wc != 1 ? kk : (kk < n ? kk : n - 1) * wk);
#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++) {
        if (!first && kk < n && cnt == NV * LANES) { /* the sums of earlier channels */
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                acc[kk][v] = FN(loadu)(y + kk * ys + v * LANES);
        } else if (!first && kk < n) {
            REAL t[CC_NV_BIG * LANES] = {0};
            memcpy(t, y + kk * ys, (size_t)cnt * sizeof(REAL));
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                acc[kk][v] = FN(loadu)(t + v * LANES);
        } else {
            const REAL b0 = bias && kk < n ? bias[kk] : (REAL)0;
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                acc[kk][v] = FN(splat)(b0);
        }
    }
    for (ptrdiff_t c = 0; c < kc; c++, pk += ps) {
        if (!(c & ((1 << side.sh) - 1)) && (c >> side.sh) < side.rows)
            for (int l = 0; l < side.lines; l++)
                __builtin_prefetch(side.pf + (c >> side.sh) * side.pfs +
                                       l * (64 / (ptrdiff_t)sizeof(REAL)),
                                   0, CC_PW_PREFETCH_LOCALITY);
        VEC xv[CC_NV_BIG];
        if (copy) /* past the slice's last row: other rows, or nothing (never faults) */
            __builtin_prefetch(side.src + (c + CC_PW_COPY_AHEAD) * side.ss);
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) {
            xv[v] = FN(loadu)((copy ? side.src + c * side.ss : pk) + v * LANES);
            if (copy)
                FN(storeu)(side.dst + c * ps + v * LANES, xv[v]);
        }
#pragma GCC unroll 16
        for (int kk = 0; kk < KB; kk++) {
            const VEC wv = FN(splat)(wr[kk][c * wc]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                acc[kk][v] += wv * xv[v];
        }
    }
#pragma GCC unroll 16
    for (int kk = 0; kk < KB; kk++) {
        if (kk >= n)
            break;
        if (cnt == NV * LANES) {
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                FN(storeu)(y + kk * ys + v * LANES, acc[kk][v]);
        } else {
            REAL t[CC_NV_BIG * LANES];
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++)
                FN(storeu)(t + v * LANES, acc[kk][v]);
            memcpy(y + kk * ys, t, (size_t)cnt * sizeof(REAL));
        }
    }
}

/* A block of n channels read from its panel (row_pw): on the big tile, or a short last
 * block on a tile of 2 or 4 rows less; out of line where the ISA asks (CC_PW_OUT_OF_LINE),
 * else inlined into row_pw. */
#ifdef CC_PW_OUT_OF_LINE
#define CC_PW_BLOCK_FN static __attribute__((noinline)) void
#else
#define CC_PW_BLOCK_FN static inline __attribute__((always_inline)) void
#endif
CC_PW_BLOCK_FN FN(pw_full)(const REAL *tp, const REAL *wt, const REAL *bt, ptrdiff_t kc,
                           REAL *yt, ptrdiff_t ys, int n, int cnt, int first,
                           FN(pw_side) side)
{
    FN(pw_tile)(tp, CC_NV_BIG * LANES, CC_KB_BIG, CC_NV_BIG, wt, 1, CC_KB_BIG, bt, kc, yt,
                ys, n, cnt, first, 0, side);
}

CC_PW_BLOCK_FN FN(pw_short)(const REAL *tp, const REAL *wt, const REAL *bt, ptrdiff_t kc,
                            REAL *yt, ptrdiff_t ys, int n, int cnt, int first,
                            FN(pw_side) side)
{
    const ptrdiff_t step = CC_NV_BIG * LANES;
    if (n > CC_KB_BIG - 4 || CC_KB_BIG < 6)
        FN(pw_tile)(tp, step, CC_KB_BIG - 2, CC_NV_BIG, wt, 1, CC_KB_BIG, bt, kc, yt, ys, n,
                    cnt, first, 0, side);
    else
        FN(pw_tile)(tp, step, CC_KB_BIG - 4, CC_NV_BIG, wt, 1, CC_KB_BIG, bt, kc, yt, ys, n,
                    cnt, first, 0, side);
}

static inline void FN(pw_block)(const REAL *tp, const REAL *wt, const REAL *bt,
                                ptrdiff_t kc, REAL *yt, ptrdiff_t ys, int n, int cnt,
                                int first, FN(pw_side) side)
{
    if (n > CC_KB_BIG - 2)
        FN(pw_full)(tp, wt, bt, kc, yt, ys, n, cnt, first, side);
    else
        FN(pw_short)(tp, wt, bt, kc, yt, ys, n, cnt, first, side);
}

/* The prefetches of tile call j of the n_calls of a slice (pw_side): the nrows rows of
 * nlen pixels to prefetch (the next item's slice, or this stretch's next one), `next`,
 * rows cs apart, are cut into units of a few consecutive lines of a group of rows, as
 * many units as calls allow, each unit given to one call, its rows spread over the
 * call's kc steps (a row a step at most: a last slice shorter than the next one
 * prefetches part of it). */
static inline FN(pw_side) FN(pw_prefetch)(const REAL *next, ptrdiff_t cs, ptrdiff_t nrows,
                                          ptrdiff_t nlen, ptrdiff_t kc, ptrdiff_t j,
                                          ptrdiff_t n_calls)
{
    FN(pw_side) side = {NULL, 0, NULL, NULL, 0, 0, 0, 0};
    const ptrdiff_t L = next ? (nlen * (ptrdiff_t)sizeof(REAL) + 63) / 64 : 0;
    if (!L || nrows <= 0)
        return side;
    /* lines per unit, groups of lines, groups of rows */
    const ptrdiff_t per = (L + n_calls - 1) / n_calls, line_groups = (L + per - 1) / per;
    const ptrdiff_t row_groups = n_calls / line_groups > 1 ? n_calls / line_groups : 1;
    const ptrdiff_t units = line_groups * row_groups;
    const ptrdiff_t u = j * units / n_calls;
    if (j > 0 && (j - 1) * units / n_calls == u) /* calls share a unit: its first */
        return side;
    const ptrdiff_t per_group = (nrows + row_groups - 1) / row_groups;
    const ptrdiff_t r0 = u % row_groups * per_group, l0 = u / row_groups * per;
    if (r0 >= nrows)
        return side;
    int sh = 0;
    while ((kc >> (sh + 1)) >= per_group)
        sh++;
    side.pf = next + r0 * cs + l0 * (64 / (ptrdiff_t)sizeof(REAL));
    side.pfs = cs;
    side.rows = nrows - r0 < per_group ? nrows - r0 : per_group;
    side.lines = (int)(L - l0 < per ? L - l0 : per);
    side.sh = sh;
    return side;
}

/* A pointwise layer (1x1 kernel, stride 1, no padding) on a stretch of a->Wout pixels
 * (a->W = a->Wout): a GEMM of kb output channels (every block of a range: a->wp, a->bias
 * and y at its first) by the stretch's Cg input rows, BLIS's way.  The input channels go
 * in slices (cc_pw_slice: a tile's rows of one slice fill CC_PW_PANEL_BYTES of L1); each
 * slice is computed tile by tile, for every block of output channels before the next
 * tile, the tile's panel (its rows side by side, packed panels of B) in L1 while the
 * slice's weights stream from L2, the later slices adding to the sums stored by the
 * earlier ones (in the same order: the same bits as one pass).  The first block's tile
 * reads the input rows and copies them into the panel as it computes, so that the copy
 * runs beside the FMAs (a copy pass before the tiles took 11-17% of the layer's time on
 * one thread, even with the stretch in L2).  The whole tiles take turns in one panel,
 * whose lines the copy then finds in L1 (a panel per tile had them come from L2); a
 * last, shorter tile has a panel of its own, filled first.  Meanwhile the tiles
 * prefetch the same slice of the next item's stretch (a->next; without one, this
 * stretch's next slice), a whole stretch ahead, so that the copy reads from L2 (the
 * next slice, half a stretch ahead with two slices, left AVX-512's 1x1 256 -> 64 layer
 * 5% slower: docs/algorithms.md).  Read in place by every block, rows a channel stride
 * apart fall in a few L1 sets (56 x 56 floats: 16 of 64) and came from L2 on every
 * block: the 1x1 256 -> 64 layer of ResNet ran at a fifth of the FMA peak
 * (docs/algorithms.md).  A last block of fewer channels runs on a tile of 2 or 4 rows
 * less, so that 64 channels in blocks of 6 cost 64 rows, not 66 (1x1 256 -> 64 at AVX2:
 * 0.94x the time on one thread).  Without a->work the tiles read in place. */
static void FN(row_pw)(const ARGS *a0, REAL *y, int kb)
{
    const ptrdiff_t step = CC_NV_BIG * LANES, ys = a0->y_kstride, Cg = a0->Cg;
    const ptrdiff_t wblock = Cg * CC_KB_BIG, cs = a0->x_cstride, len = a0->Wout;
    const ptrdiff_t KC = cc_pw_slice(step, (ptrdiff_t)sizeof(REAL));
    REAL *pk = a0->work_size >= cc_pw_panels(Cg, len, step, (ptrdiff_t)sizeof(REAL))
                   ? a0->work : NULL;
    if (!pk) {
        for (ptrdiff_t ow = 0; ow < len; ow += step) {
            const int cnt = (int)(len - ow < step ? len - ow : step);
            ARGS a = *a0;
            for (int k = 0; k < kb; k += CC_KB_BIG) {
                const int n = kb - k < CC_KB_BIG ? kb - k : CC_KB_BIG;
                a.wp = a0->wp + k / CC_KB_BIG * wblock;
                a.bias = a0->bias ? a0->bias + k : NULL;
                if (cnt == step)
                    FN(tile)(&a, ow, y + k * ys + ow, ys, n, cnt, CC_KB_BIG, CC_NV_BIG, 1,
                             MODE_S1, 1, -1);
                else
                    FN(tile)(&a, ow, y + k * ys + ow, ys, n, cnt, CC_KB_BIG, CC_NV_BIG, 1,
                             MODE_S1_EDGE, 1, -1);
            }
        }
        return;
    }
    const ptrdiff_t n_calls = (len + step - 1) / step * ((kb + CC_KB_BIG - 1) / CC_KB_BIG);
    for (ptrdiff_t c0 = 0; c0 < Cg; c0 += KC) {
        const ptrdiff_t kc = Cg - c0 < KC ? Cg - c0 : KC, panel = kc * step;
        const int last = c0 + KC >= Cg;
        /* the same slice of the next item's stretch, a whole stretch ahead; without a
         * next item, this stretch's next slice */
        const REAL *x = a0->x + c0 * cs;
        const REAL *next = a0->next ? a0->next + c0 * cs : last ? NULL : x + KC * cs;
        const ptrdiff_t after = last ? 0 : Cg - c0 - KC;
        const ptrdiff_t nrows = a0->next ? kc : after < KC ? after : KC;
        const ptrdiff_t nlen = a0->next ? a0->next_len : len;
        REAL *tail = pk + (len > step ? panel : 0);
        if (len % step) { /* the last tile's panel: zeros past the stretch */
            const ptrdiff_t ow = len - len % step;
            for (ptrdiff_t c = 0; c < kc; c++) {
                REAL *dst = tail + c * step;
                memcpy(dst, x + c * cs + ow, (size_t)(len - ow) * sizeof *pk);
                memset(dst + (len - ow), 0, (size_t)(step - (len - ow)) * sizeof *pk);
            }
        }
        ptrdiff_t j = 0;
        for (ptrdiff_t ow = 0; ow < len; ow += step) {
            const int cnt = (int)(len - ow < step ? len - ow : step);
            for (int k = 0; k < kb; k += CC_KB_BIG, j++) {
                const int n = kb - k < CC_KB_BIG ? kb - k : CC_KB_BIG;
                FN(pw_side) side = FN(pw_prefetch)(next, cs, nrows, nlen, kc, j, n_calls);
                REAL *tp = cnt == step ? pk : tail, *yt = y + k * ys + ow;
                const REAL *wt = a0->wp + k / CC_KB_BIG * wblock + c0 * CC_KB_BIG;
                const REAL *bt = a0->bias ? a0->bias + k : NULL;
                if (k == 0 && cnt == step) {
                    side.src = x + ow;
                    side.ss = cs;
                    side.dst = tp;
                    FN(pw_tile)(tp, step, CC_KB_BIG, CC_NV_BIG, wt, 1, CC_KB_BIG, bt, kc, yt,
                                ys, n, cnt, c0 == 0, 1, side);
                } else {
                    FN(pw_block)(tp, wt, bt, kc, yt, ys, n, cnt, c0 == 0, side);
                }
            }
        }
    }
}

/* The column phases of a stride-2 row (cc_split2_fn, conv_direct.h): whole vectors of
 * each phase from two loads and two shuffles (the driver's loop, built without the ISA,
 * ran four lanes at a time with its pointers reloaded from the stack: on the RGB stem
 * the split copy took 15-20% of the layer's time). */
void FN(split2)(REAL *restrict even, REAL *restrict odd, const REAL *restrict src,
                ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        const VEC lo = FN(loadu)(src + 2 * i), hi = FN(loadu)(src + 2 * i + LANES);
        FN(storeu)(even + i, CC_SPLIT_EVEN(lo, hi));
        FN(storeu)(odd + i, CC_SPLIT_ODD(lo, hi));
    }
    /* the last pairs: by masked loads and stores where a vector holds 16 lanes or more
     * (up to 15 pairs), else one by one (masked stores are microcoded on AMD Zen 3) */
    if (LANES >= 16 && i < n) {
        const int r = (int)(n - i), r2 = 2 * r;
        const VEC lo = CC_LOAD_MASKED(src + 2 * i, CC_MAKE_MASK(0, r2 < LANES ? r2 : LANES));
        /* the second vector's address only where it holds pairs */
        const VEC hi = r2 > LANES ? CC_LOAD_MASKED(src + 2 * i + LANES,
                                                   CC_MAKE_MASK(0, r2 - LANES))
                                  : FN(splat)((REAL)0);
        CC_STORE_MASKED(even + i, CC_MAKE_MASK(0, r), CC_SPLIT_EVEN(lo, hi));
        CC_STORE_MASKED(odd + i, CC_MAKE_MASK(0, r), CC_SPLIT_ODD(lo, hi));
        return;
    }
    for (; i < n; i++) {
        even[i] = src[2 * i];
        odd[i] = src[2 * i + 1];
    }
}

/* The pointwise tile for other drivers (cc_gemm_tile_fn, conv_direct.h): y[kk][t] for
 * kk < n, t < cnt, = (first ? bias[kk] or 0 : y[kk][t]) + sum over c < kc of w(kk, c)
 * pk[c][t], the panel's rows ps apart, the weights a packed block (w[c * KB + kk],
 * ldw 0) or rows (w[kk * ldw + c]); a tile of fewer vectors where cnt leaves the last
 * unused. */
void FN(gemm_tile)(const REAL *pk, ptrdiff_t ps, const REAL *w, ptrdiff_t ldw, ptrdiff_t kc,
                   const REAL *bias, REAL *y, ptrdiff_t ys, int n, int cnt, int first)
{
    const int narrow = cnt <= (CC_NV_BIG - 1) * LANES;
    const FN(pw_side) none = {NULL, 0, NULL, NULL, 0, 0, 0, 0};
    if (ldw == 0 && narrow)
        FN(pw_tile)(pk, ps, CC_KB_BIG, CC_NV_BIG - 1, w, 1, CC_KB_BIG, bias, kc, y, ys, n,
                    cnt, first, 0, none);
    else if (ldw == 0)
        FN(pw_tile)(pk, ps, CC_KB_BIG, CC_NV_BIG, w, 1, CC_KB_BIG, bias, kc, y, ys, n, cnt,
                    first, 0, none);
    else if (narrow)
        FN(pw_tile)(pk, ps, CC_KB_BIG, CC_NV_BIG - 1, w, ldw, 1, bias, kc, y, ys, n, cnt,
                    first, 0, none);
    else
        FN(pw_tile)(pk, ps, CC_KB_BIG, CC_NV_BIG, w, ldw, 1, bias, kc, y, ys, n, cnt, first,
                    0, none);
}

#include "kernels/cc_template_names_end.h"
#undef KB_MAX
#undef NV_MAX
#undef CC_PW_BLOCK_FN
#undef CC_DEFINE_ROW
