/* Stride-2 3x3 convolution by polyphase Winograd: the micro-kernels of one ISA, for
 * driver/conv_s2w.c.  Instantiated per ISA and dtype after conv_direct_ukernel.h (whose
 * loadu, storeu, splat and split2 it uses); the including file defines CC_S2W_KB, the
 * output channels of a register tile, and optionally CC_FMA_BCAST(acc, x, p), an FMA
 * acc += broadcast(*p) * x taking the broadcast from memory.
 *
 * The scheme.  Output (oy, ox) reads the padded input rows 2 oy + i and columns
 * 2 ox + j (i, j < 3).  A tile of 2 x 2 outputs (rows 2a, 2a + 1, columns 2b, 2b + 1)
 * reads the 5 x 5 patch of rows 4a .. 4a + 4 and columns 4b .. 4b + 4.  Along one row of
 * the patch, d0 .. d4, the two outputs are y0 = w0 d0 + w1 d1 + w2 d2 and
 * y1 = w0 d2 + w1 d3 + w2 d4.  The even columns meet the taps w0, w2 as a 2-tap stride-1
 * convolution, which F(2, 2) computes with 3 products: m0 = (d0 - d2) w0,
 * m1 = d2 (w0 + w2), m2 = (d4 - d2) w2, y0 = m0 + m1, y1 = m1 + m2; the odd columns meet
 * w1 once each, and their products join m0 and m2.  So 5 products (for 6) go into 3
 * sums z0, z1, z2, and y0 = z0 + z1, y1 = z1 + z2.  Along both dimensions, a tile takes
 * 25 products per input channel (the direct method 36) into 3 x 3 sums Z per output
 * channel, and its 4 outputs are Z combined by those additions along the rows, then
 * along the columns.
 *
 * The 5 combinations of a row (or column) d0 .. d4, in order: d0 - d2, d2, d4 - d2 (into
 * sums 0, 1, 2), d1, d3 (into sums 0, 2); of the taps w0 .. w2: w0, w0 + w2, w2, w1, w1.
 * Transformed value q = 5 r + s of a tile is row combination r of the column combinations
 * s of its patch's rows; its weight is row combination r of column combination s of the
 * kernel (driver/conv_s2w.c).  The bias starts the middle sum Z11, which each of the 4
 * outputs adds once.  Non-finite inputs: an infinity in the patch meets its own negative
 * in the combinations, so the outputs that read it are NaN where the direct method gives
 * an infinity (the other Winograd routes do the same). */
#include "kernels/cc_template_names.h"

#define S2W_Z(i) ((i) < 3 ? (i) : (i) == 3 ? 0 : 2) /* the sum combination i goes into */

/* acc + broadcast(*p) * x, one FMA */
static inline __attribute__((always_inline)) VEC FN(s2w_fma)(VEC acc, VEC x, const REAL *p)
{
#ifdef CC_FMA_BCAST
    CC_FMA_BCAST(acc, x, p);
    return acc;
#else
    return acc + FN(splat)(*p) * x;
#endif
}

/* Lanes of src[col ..] inside [0, end), zeros elsewhere (a masked load: only those
 * lanes are read). */
static inline VEC FN(s2w_load_in)(const REAL *src, ptrdiff_t col, ptrdiff_t end)
{
    const int lo = col < 0 ? (int)(-col < LANES ? -col : LANES) : 0;
    const int hi = end - col < LANES ? (end - col > lo ? (int)(end - col) : lo) : LANES;
    if (hi <= lo)
        return FN(splat)((REAL)0);
    return CC_LOAD_MASKED(src + col, CC_MAKE_MASK(lo, hi));
}

/* Transformed values q = 5 r + s, s < 5, of one vector of tiles (T + r * 5 rows): the
 * column combinations of row combination r, from its 4 vectors a of the padded columns
 * 4 i .. 4 i + 4 LANES - 1 and the 4 vectors b of those 4 columns on, split by column
 * phase mod 4 by two rounds of even/odd shuffles (d4, the next tile's d0, from b). */
static inline __attribute__((always_inline)) void
FN(s2w_split4)(REAL *T, VEC a0, VEC a1, VEC a2, VEC a3, VEC b0, VEC b1, VEC b2, VEC b3)
{
    const VEC e01 = CC_SPLIT_EVEN(a0, a1), o01 = CC_SPLIT_ODD(a0, a1);
    const VEC e23 = CC_SPLIT_EVEN(a2, a3), o23 = CC_SPLIT_ODD(a2, a3);
    const VEC d0 = CC_SPLIT_EVEN(e01, e23), d2 = CC_SPLIT_ODD(e01, e23);
    const VEC d4 = CC_SPLIT_EVEN(CC_SPLIT_EVEN(b0, b1), CC_SPLIT_EVEN(b2, b3));
    FN(storeu)(T, d0 - d2);
    FN(storeu)(T + CC_S2W_TS, d2);
    FN(storeu)(T + 2 * CC_S2W_TS, d4 - d2);
    FN(storeu)(T + 3 * CC_S2W_TS, CC_SPLIT_EVEN(o01, o23));
    FN(storeu)(T + 4 * CC_S2W_TS, CC_SPLIT_ODD(o01, o23));
}

/* One vector of patch row p's columns from col on: zeros for a row of padding (NULL),
 * a whole load inside [0, end), else its lanes there. */
static inline __attribute__((always_inline)) VEC FN(s2w_ld)(const REAL *p, ptrdiff_t col,
                                                            ptrdiff_t end, int inside)
{
    if (!p)
        return FN(splat)((REAL)0);
    return inside ? FN(loadu)(p + col) : FN(s2w_load_in)(p, col, end);
}

/* Row combination r of the patch rows p at col (kernels' comment at the top). */
static inline __attribute__((always_inline)) VEC
FN(s2w_row)(const REAL *const p[5], int r, ptrdiff_t col, ptrdiff_t end, int inside)
{
    switch (r) {
    case 0:
        return FN(s2w_ld)(p[0], col, end, inside) - FN(s2w_ld)(p[2], col, end, inside);
    case 1:
        return FN(s2w_ld)(p[2], col, end, inside);
    case 2:
        return FN(s2w_ld)(p[4], col, end, inside) - FN(s2w_ld)(p[2], col, end, inside);
    case 3:
        return FN(s2w_ld)(p[1], col, end, inside);
    default:
        return FN(s2w_ld)(p[3], col, end, inside);
    }
}

/* T[c][q][t - t_lo] for the tiles [t_lo, t_hi): per channel, row of tiles by row of
 * tiles (a segment of one where the chunk starts or ends inside it), each vector of
 * tiles from the 5 input rows of its patches: their row combinations, then the column
 * combinations of each.  Under zero padding the rows are read in place (masked loads
 * where a vector reaches past the row; a row of padding reads as zeros); under a border
 * mode they are first gathered with their padding into `stage`.  Columns no output
 * reads count as zeros; lanes past a segment up to a whole vector are written too (T's
 * slack, or tiles the next segment overwrites). */
static void FN(s2w_transform)(const cc_s2w_geom *g, const REAL *x, ptrdiff_t t_lo,
                              ptrdiff_t t_hi, REAL *T, REAL *stage)
{
    const ptrdiff_t sl = 4 * CC_S2W_CHUNK + 128; /* a staged row */
    for (ptrdiff_t c = 0; c < g->C; c++) {
        const REAL *x_c = x + c * g->x_cstride;
        for (ptrdiff_t t = t_lo; t < t_hi;) {
            const ptrdiff_t a = t / g->tw, i0 = t % g->tw;
            const ptrdiff_t n = g->tw - i0 < t_hi - t ? g->tw - i0 : t_hi - t;
            const ptrdiff_t nv = (n + LANES - 1) / LANES * LANES;
            const ptrdiff_t c0 = 4 * i0 - g->pad_left; /* input column of d0 of tile i0 */
            const ptrdiff_t last = 2 * g->Wout - g->pad_left; /* the last one read */
            const REAL *p[5];
            ptrdiff_t col0 = c0, end = last + 1 < g->W ? last + 1 : g->W;
            for (int r = 0; r < 5; r++) {
                const ptrdiff_t pr = 4 * a + r;
                const ptrdiff_t row = pr <= 2 * g->Hout
                                          ? cc_pad_index(pr - g->pad_top, g->H, g->pad_mode)
                                          : -1;
                p[r] = row < 0 ? NULL : x_c + row * g->W;
                if (g->pad_mode != CC_PAD_ZEROS && p[r]) { /* gathered, padding and all */
                    REAL *xp = stage + r * sl;
                    for (ptrdiff_t j = 0; j < 4 * nv + 4; j++) {
                        const ptrdiff_t k =
                            c0 + j <= last ? cc_pad_index(c0 + j, g->W, g->pad_mode) : -1;
                        xp[j] = k < 0 ? (REAL)0 : p[r][k];
                    }
                    p[r] = xp;
                }
            }
            if (g->pad_mode != CC_PAD_ZEROS) {
                col0 = 0;
                end = 4 * nv + 4;
            }
            REAL *Tc = T + c * 25 * CC_S2W_TS + (t - t_lo);
            for (ptrdiff_t i = 0; i < n; i += LANES) {
                const ptrdiff_t col = col0 + 4 * i;
                const int in = col >= 0 && col + 4 * LANES + 4 <= end;
                for (int r = 0; r < 5; r++)
                    FN(s2w_split4)(Tc + r * 5 * CC_S2W_TS + i,
                                   FN(s2w_row)(p, r, col, end, in),
                                   FN(s2w_row)(p, r, col + LANES, end, in),
                                   FN(s2w_row)(p, r, col + 2 * LANES, end, in),
                                   FN(s2w_row)(p, r, col + 3 * LANES, end, in),
                                   FN(s2w_row)(p, r, col + 4, end, in),
                                   FN(s2w_row)(p, r, col + 4 + LANES, end, in),
                                   FN(s2w_row)(p, r, col + 4 + 2 * LANES, end, in),
                                   FN(s2w_row)(p, r, col + 4 + 3 * LANES, end, in));
            }
            t += n;
        }
    }
}

/* One whole vector of outputs to d: a non-temporal store (no read of the line first)
 * when asked for, the ISA has one and d is aligned for it. */
static inline void FN(s2w_store)(REAL *d, VEC v, int stream)
{
#ifdef CC_STREAM
    if (stream && ((uintptr_t)d & (CC_VBYTES - 1)) == 0) {
        CC_STREAM(d, v);
        return;
    }
#endif
    (void)stream;
    FN(storeu)(d, v);
}

/* Positions [p0, p1) of the 2 LANES outputs lo, hi (in that order) to dst[p0 .. p1):
 * whole vectors where a run covers one, else its lanes by a masked store (dst + p0 is
 * in the output; dst itself may lie before the row, never before the plane: the
 * runs of s2w_chunk). */
static inline void FN(s2w_put)(REAL *dst, int p0, int p1, VEC lo, VEC hi, int stream)
{
    if (p0 <= 0 && p1 >= LANES)
        FN(s2w_store)(dst, lo, stream);
    else if (p0 < LANES && p1 > p0)
        CC_STORE_MASKED(dst, CC_MAKE_MASK(p0, p1 < LANES ? p1 : LANES), lo);
    if (p0 <= LANES && p1 >= 2 * LANES)
        FN(s2w_store)(dst + LANES, hi, stream);
    else if (p1 > LANES)
        CC_STORE_MASKED(dst + LANES, CC_MAKE_MASK(p0 > LANES ? p0 - LANES : 0, p1 - LANES), hi);
}

/* A run of a vector's tiles within one row of tiles: its output rows' first element
 * (the position of the vector's first output, so that position p is dst[p]), the
 * positions it holds and whether the tiles' second output row exists. */
typedef struct {
    ptrdiff_t at;
    int p0, p1, two_rows;
} FN(s2w_run);

/* One register tile: kb <= CC_S2W_KB output channels (from y, ys apart; a constant at
 * every call) of the LANES tiles whose transformed values start at Tv, the weights of
 * their block at wk (CC_S2W_KB per transformed value), written by the runs. */
static inline __attribute__((always_inline)) void
FN(s2w_tile)(const cc_s2w_geom *g, const REAL *Tv, const REAL *wk, const REAL *bias, REAL *y,
             ptrdiff_t ys, const int kb, const FN(s2w_run) *runs, int nruns)
{
    VEC z[CC_S2W_KB][9];
#pragma GCC unroll 4
    for (int kk = 0; kk < kb; kk++) {
#pragma GCC unroll 9
        for (int e = 0; e < 9; e++)
            z[kk][e] = FN(splat)((REAL)0);
        if (bias)
            z[kk][4] = FN(splat)(bias[kk]);
    }
    for (ptrdiff_t c = 0; c < g->C; c++) {
        const REAL *tq = Tv + c * 25 * CC_S2W_TS, *wq = wk + c * 25 * CC_S2W_KB;
        __asm__("" : "+r"(tq), "+r"(wq)); /* loads at constant offsets from two pointers */
#pragma GCC unroll 25
        for (int q = 0; q < 25; q++) {
            const VEC t = FN(loadu)(tq + q * CC_S2W_TS);
            const int e = S2W_Z(q / 5) * 3 + S2W_Z(q % 5);
#pragma GCC unroll 4
            for (int kk = 0; kk < kb; kk++)
                z[kk][e] = FN(s2w_fma)(z[kk][e], t, wq + q * CC_S2W_KB + kk);
        }
    }
#pragma GCC unroll 4
    for (int kk = 0; kk < kb; kk++) {
        /* along the rows of Z, then its columns: outputs (0, 0), (0, 1), (1, 0), (1, 1) */
        VEC s0[3], s1[3];
#pragma GCC unroll 3
        for (int j = 0; j < 3; j++) {
            s0[j] = z[kk][j] + z[kk][3 + j];
            s1[j] = z[kk][3 + j] + z[kk][6 + j];
        }
        const VEC e0 = s0[0] + s0[1], o0 = s0[1] + s0[2];
        const VEC e1 = s1[0] + s1[1], o1 = s1[1] + s1[2];
        const VEC lo0 = CC_ZIP_LO(e0, o0), hi0 = CC_ZIP_HI(e0, o0);
        const VEC lo1 = CC_ZIP_LO(e1, o1), hi1 = CC_ZIP_HI(e1, o1);
        REAL *yk = y + kk * ys;
        for (int r = 0; r < nruns; r++) {
            FN(s2w_put)(yk + runs[r].at, runs[r].p0, runs[r].p1, lo0, hi0, g->stream);
            if (runs[r].two_rows)
                FN(s2w_put)(yk + runs[r].at + g->Wout, runs[r].p0, runs[r].p1, lo1, hi1,
                            g->stream);
        }
    }
}

/* Prefetches of the input rows the tiles [t_lo, t_hi) of x read (next->x: the chunk a
 * thread runs next), rows [*row, *row + count) of the list (channel by channel, the
 * chunk's rows in order); *row advances, past the end once all are done.  Spread over
 * the vectors of the chunk before, they bring the next transform's input in while the
 * FMAs run (without them, each chunk's transform waited on its rows: 0.9 ms of the RGB
 * stem's 2.8 on one core). */
static void FN(s2w_prefetch)(const cc_s2w_geom *g, const cc_s2w_next *next, ptrdiff_t *row,
                             ptrdiff_t count)
{
    if (!next->x || next->t_hi <= next->t_lo)
        return;
    const ptrdiff_t r_lo = 4 * (next->t_lo / g->tw) - g->pad_top;
    const ptrdiff_t r_hi = 4 * ((next->t_hi - 1) / g->tw) + 5 - g->pad_top;
    const ptrdiff_t lo = r_lo > 0 ? r_lo : 0, hi = r_hi < g->H ? r_hi : g->H;
    const ptrdiff_t per_c = hi > lo ? hi - lo : 0, bytes = g->W * (ptrdiff_t)sizeof(REAL);
    for (ptrdiff_t k = 0; k < count && *row < g->C * per_c; k++, (*row)++) {
        const char *p = (const char *)((const REAL *)next->x + *row / per_c * g->x_cstride +
                                       (lo + *row % per_c) * g->W);
        for (ptrdiff_t b = 0; b < bytes; b += 64)
            __builtin_prefetch(p + b, 0, 2);
    }
}

/* The runs of the vector of tiles [t0, t0 + cnt) (a vector's tiles may span rows of
 * tiles): returns their number. */
static inline int FN(s2w_runs)(const cc_s2w_geom *g, ptrdiff_t t0, ptrdiff_t cnt,
                               FN(s2w_run) *runs)
{
    const ptrdiff_t tw = g->tw, Wout = g->Wout;
    int nruns = 0;
    for (ptrdiff_t t = t0; t < t0 + cnt;) {
        const ptrdiff_t a = t / tw, i = t % tw;
        const ptrdiff_t len = tw - i < t0 + cnt - t ? tw - i : t0 + cnt - t;
        const ptrdiff_t p0 = 2 * (t - t0), cols = 2 * len < Wout - 2 * i ? 2 * len
                                                                         : Wout - 2 * i;
        runs[nruns].at = 2 * a * Wout + 2 * i - p0;
        runs[nruns].p0 = (int)p0;
        runs[nruns].p1 = (int)(p0 + cols);
        runs[nruns].two_rows = 2 * a + 1 < g->Hout;
        nruns++;
        t += len;
    }
    return nruns;
}

/* Tiles [t_lo, t_hi) of one (image, group), at most CC_S2W_CHUNK (cc_s2w_fn_f32/f64,
 * driver/conv_direct.h): every input channel transformed into T, then each vector of
 * LANES tiles for every block of CC_S2W_KB output channels. */
void FN(s2w_chunk)(const cc_s2w_geom *g, const REAL *x, const REAL *wt, const REAL *bias,
                   REAL *y, ptrdiff_t t_lo, ptrdiff_t t_hi, REAL *scratch,
                   const cc_s2w_next *next)
{
    const ptrdiff_t tw = g->tw;
    /* whole cache lines: T's rows (CC_S2W_TS elements) and vectors of tiles stay in them */
    REAL *T = (REAL *)(((uintptr_t)scratch + 63) / 64 * 64);
    REAL *stage = T + g->C * 25 * CC_S2W_TS;
    FN(s2w_transform)(g, x, t_lo, t_hi, T, stage);
    const ptrdiff_t nkb = (g->K + CC_S2W_KB - 1) / CC_S2W_KB;
    const ptrdiff_t nvec = (t_hi - t_lo + LANES - 1) / LANES;
    /* the next chunk's input rows, a share of them before each vector of tiles */
    const ptrdiff_t nrows = 5 * g->C * ((t_hi - t_lo) / tw + 2);
    ptrdiff_t pf_row = 0;
    for (ptrdiff_t t0 = t_lo; t0 < t_hi; t0 += LANES) {
        const ptrdiff_t cnt = t_hi - t0 < LANES ? t_hi - t0 : LANES;
        FN(s2w_run) runs[LANES];
        const int nruns = FN(s2w_runs)(g, t0, cnt, runs);
        FN(s2w_prefetch)(g, next, &pf_row, (nrows + nvec - 1) / nvec);
        const REAL *Tv = T + (t0 - t_lo);
        if (t0 + LANES < t_hi) /* the next vector's T rows */
            for (ptrdiff_t r = 0; r < g->C * 25; r++)
                __builtin_prefetch(Tv + LANES + r * CC_S2W_TS, 0, 3);
        for (ptrdiff_t kb0 = 0; kb0 < nkb; kb0++) {
            const ptrdiff_t k = kb0 * CC_S2W_KB;
            const REAL *wk = wt + kb0 * g->C * 25 * CC_S2W_KB, *bk = bias ? bias + k : NULL;
            REAL *yk = y + k * g->y_kstride;
            const ptrdiff_t left = g->K - k; /* the last block: a tile of its channels */
            if (left >= CC_S2W_KB)
                FN(s2w_tile)(g, Tv, wk, bk, yk, g->y_kstride, CC_S2W_KB, runs, nruns);
#if CC_S2W_KB > 2
            else if (left == 2)
                FN(s2w_tile)(g, Tv, wk, bk, yk, g->y_kstride, 2, runs, nruns);
#endif
#if CC_S2W_KB > 1
            else
                FN(s2w_tile)(g, Tv, wk, bk, yk, g->y_kstride, 1, runs, nruns);
#endif
        }
    }
#ifdef CC_STREAM
    if (g->stream) /* the streamed stores in order before any later store of the thread */
        CC_STREAM_FENCE();
#endif
}

#undef S2W_Z
#include "kernels/cc_template_names_end.h"
