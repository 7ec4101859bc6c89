/* Direct-convolution micro-kernel vectorised along output channels, for layers with many
 * output channels per group; one template, instantiated per ISA and dtype.
 *
 * A register tile holds PIX output pixels of a row x NV vectors of output channels
 * (KB = NV * LANES channels).  Each reduction step (input channel c, outer tap u, tap s)
 * loads NV vectors of packed weights and broadcasts PIX input values, feeding PIX * NV
 * FMAs.  The broadcasts are scalar loads, so strides, dilations and unaligned rows cost
 * nothing extra, and no vector load splits a cache line (the weights are packed
 * contiguously).  The tiles of a segment go through a small pixel-major buffer, which
 * is stored to the NCHW output by LANES x LANES register transposes (store_run).
 *
 * Every output is summed in the same order as in the column-vectorised kernel (bias,
 * then c, u, s), and padding is computed as real zeros, so the two agree bit for bit.
 *
 * The including file defines, besides what conv_direct_ukernel.h needs, CC_CV_PIX and
 * CC_CV_NV (PIX * NV accumulators + NV weights + 1 broadcast within the register file),
 * and may define CC_CV_TAP_UNROLL: how many taps s the compiler may unroll (left to the
 * compiler when undefined).  With 16 registers a tile that fills them must keep its taps
 * a loop (1), or the weights of the next taps, loaded early, push accumulators onto the
 * stack.  It may also define CC_CV_TWO_TAP: rows of two taps (the 2x2 phases of a 4x4
 * stride-2 transposed convolution) then get a path with S = 2 known and the taps
 * unrolled, where the registers hold them (docs/performance.md has the measurements).
 */
#define CC_CV_PRAGMA_(x) _Pragma(#x)
#ifdef CC_CV_TAP_UNROLL
#define CC_CV_UNROLL(n) CC_CV_PRAGMA_(GCC unroll n)
#else
#define CC_CV_UNROLL(n)
#endif
#include "kernels/cc_template_names.h"
#define PIX CC_CV_PIX
#define NV CC_CV_NV
#define KB (NV * LANES)

/* Input columns a tile reads: inside the row at stride 1, at stride 2, at any stride,
 * or overlapping the padding / the end of the row (then each value is checked). */
#ifndef CC_CV_MODES
#define CC_CV_MODES
/* Tiles per segment of a row; input channels per sweep of a segment: at most 16, and
 * as many as keep the sweep's weights within CC_CV_WEIGHT_BYTES (a 3x3x3 kernel's 27
 * taps would otherwise fill L1 with weights alone). */
#define CC_CV_SEG 8
#define CC_CV_CHUNK 16
#ifndef CC_CV_WEIGHT_BYTES
#define CC_CV_WEIGHT_BYTES 16384
#endif
/* Longest stretch of a row an edge tile copies (zero-padded) to run as an interior one. */
#define CC_CV_EDGE_MAX 128
enum { CV_S1 = 0, CV_S2 = 1, CV_ANY = 2, CV_EDGE = 3 };
#endif

/* One reduction step of one input row: PIX broadcasts x NV weight vectors, for each of
 * the S taps.  ZERO: the row is padding, so the broadcast value is 0 (still multiplied,
 * so that an infinite weight gives NaN as with an explicitly padded input). */
static inline __attribute__((always_inline)) const REAL *
FN(cv_row)(VEC acc[PIX][NV], const REAL *wp, const REAL *xr, ptrdiff_t iw0, ptrdiff_t sw,
           ptrdiff_t dw, ptrdiff_t W, int cnt, const ptrdiff_t S, const int MODE,
           const int ZERO)
{
    CC_CV_UNROLL(CC_CV_TAP_UNROLL)
    for (ptrdiff_t s = 0; s < S; s++) {
        VEC w[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            w[v] = FN(loadu)(wp + v * LANES);
        wp += KB;
        const REAL *p = xr + iw0 + s * dw;
#pragma GCC unroll 32
        for (int j = 0; j < PIX; j++) {
            REAL xv;
            if (ZERO) {
                xv = (REAL)0;
            } else if (MODE == CV_S1) {
                xv = p[j];
            } else if (MODE == CV_S2) {
                xv = p[2 * j];
            } else if (MODE == CV_ANY) {
                xv = p[j * sw];
            } else {
                const ptrdiff_t col = iw0 + s * dw + j * sw;
                xv = j < cnt && col >= 0 && col < W ? xr[col] : (REAL)0;
            }
            const VEC xb = FN(splat)(xv);
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++)
                acc[j][v] += xb * w[v];
        }
    }
    return wp;
}

/* One tile over input channels [c0, c1): the accumulators come from and go back to acc_io
 * (pixel-major, PIX x KB), so a row can be swept one block of input channels at a time. */
static inline __attribute__((always_inline)) void
FN(cv_tile)(const ARGS *a, REAL *acc_io, ptrdiff_t c0, ptrdiff_t c1, ptrdiff_t iw0, int cnt,
            const ptrdiff_t S, const int MODE)
{
    VEC acc[PIX][NV];
#pragma GCC unroll 32
    for (int j = 0; j < PIX; j++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            acc[j][v] = FN(loadu)(acc_io + j * KB + v * LANES);
    const ptrdiff_t U = a->U, sw = a->sw, dw = a->dw, W = a->W;
    const REAL *wp = a->wp + c0 * U * S * KB;
    /* Edge tiles read the columns [iw0, iw0 + len) they need through a zero-padded copy
     * of that stretch of each row, then run as interior tiles. */
    const ptrdiff_t len = (PIX - 1) * sw + (S - 1) * dw + 1;
    REAL seg[CC_CV_EDGE_MAX];
    for (ptrdiff_t c = c0; c < c1; c++) {
        const REAL *xc = a->x + c * a->x_cstride;
        for (ptrdiff_t u = 0; u < U; u++) {
            const ptrdiff_t off = a->rows[u];
            if (off < 0) {
                wp = FN(cv_row)(acc, wp, xc, iw0, sw, dw, W, cnt, S, MODE, 1);
            } else if (MODE == CV_EDGE && len <= CC_CV_EDGE_MAX) {
                const REAL *xr = xc + off;
                for (ptrdiff_t i = 0; i < len; i++) {
                    const ptrdiff_t col = iw0 + i;
                    seg[i] = col >= 0 && col < W ? xr[col] : (REAL)0;
                }
                if (sw == 1)
                    wp = FN(cv_row)(acc, wp, seg, 0, sw, dw, W, cnt, S, CV_S1, 0);
                else if (sw == 2)
                    wp = FN(cv_row)(acc, wp, seg, 0, sw, dw, W, cnt, S, CV_S2, 0);
                else
                    wp = FN(cv_row)(acc, wp, seg, 0, sw, dw, W, cnt, S, CV_ANY, 0);
            } else {
                wp = FN(cv_row)(acc, wp, xc + off, iw0, sw, dw, W, cnt, S, MODE, 0);
            }
        }
    }
#pragma GCC unroll 32
    for (int j = 0; j < PIX; j++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            FN(storeu)(acc_io + j * KB + v * LANES, acc[j][v]);
}

static inline void FN(cv_tile_any)(const ARGS *a, REAL *acc_io, ptrdiff_t c0, ptrdiff_t c1,
                                   ptrdiff_t ow, int cnt)
{
    const ptrdiff_t sw = a->sw, S = a->S, span = (S - 1) * a->dw;
    const ptrdiff_t iw0 = ow * sw - a->pad_w;
    const int inside = cnt == PIX && iw0 >= 0 && iw0 + (PIX - 1) * sw + span < a->W;
    if (inside && sw == 1 && S == 3)
        FN(cv_tile)(a, acc_io, c0, c1, iw0, cnt, 3, CV_S1);
    else if (inside && sw == 1 && S == 1)
        FN(cv_tile)(a, acc_io, c0, c1, iw0, cnt, 1, CV_S1);
#ifdef CC_CV_TWO_TAP
    else if (inside && sw == 1 && S == 2) /* the 2x2 phases of a 4x4 stride-2 transpose */
        FN(cv_tile)(a, acc_io, c0, c1, iw0, cnt, 2, CV_S1);
#endif
    else if (inside && sw == 1)
        FN(cv_tile)(a, acc_io, c0, c1, iw0, cnt, S, CV_S1);
    else if (inside && sw == 2)
        FN(cv_tile)(a, acc_io, c0, c1, iw0, cnt, S, CV_S2);
    else if (inside)
        FN(cv_tile)(a, acc_io, c0, c1, iw0, cnt, S, CV_ANY);
    else
        FN(cv_tile)(a, acc_io, c0, c1, iw0, cnt, S, CV_EDGE);
}

/* Channel rows of run pixels from the pixel-major tile buffer: y[k * ks + i] =
 * src[i * KB + k] for k < kb, i < run.  Blocks of LANES pixels x LANES channels are
 * transposed in registers (log2(LANES) rounds of interleaves); a block needs LANES
 * pixels in the buffer (avail from src), else that stretch is copied one value at a
 * time. */
static void FN(store_run)(REAL *y, ptrdiff_t ks, int kb, const REAL *src, ptrdiff_t run,
                          ptrdiff_t avail)
{
    ptrdiff_t i0 = 0;
    for (; i0 < run && i0 + LANES <= avail; i0 += LANES) {
        const int nc = run - i0 < LANES ? (int)(run - i0) : LANES;
        for (int k0 = 0; k0 < kb; k0 += LANES) {
            VEC r[LANES], t[LANES];
            for (int i = 0; i < LANES; i++)
                r[i] = FN(loadu)(src + (i0 + i) * KB + k0);
            for (int round = 1; round < LANES; round *= 2) {
                for (int i = 0; i < LANES / 2; i++) {
                    t[2 * i] = CC_ZIP_LO(r[i], r[i + LANES / 2]);
                    t[2 * i + 1] = CC_ZIP_HI(r[i], r[i + LANES / 2]);
                }
                memcpy(r, t, sizeof r);
            }
            const int nk = kb - k0 < LANES ? kb - k0 : LANES;
            if (nc == LANES) { /* unrolled: constant indices keep r in registers */
#pragma GCC unroll 16
                for (int k = 0; k < LANES; k++)
                    if (k < nk)
                        FN(storeu)(y + (k0 + k) * ks + i0, r[k]);
            } else { /* the last, partial block of the run */
                REAL part[LANES * LANES];
                memcpy(part, r, sizeof part);
                for (int k = 0; k < nk; k++)
                    memcpy(y + (k0 + k) * ks + i0, part + k * LANES, (size_t)nc * sizeof(REAL));
            }
        }
    }
    for (int k = 0; k < kb; k++)
        for (ptrdiff_t i = i0; i < run; i++)
            y[k * ks + i] = src[i * KB + k];
}

/* The transpose of a segment [q0, q0 + npx) of a virtual row (a band flattened by the
 * driver): pixel q is column q % Wv of the band's row q / Wv, stored if that column is
 * one of the Wy real ones: a run of real columns of one row at a time.  buf holds
 * avail pixels. */
static void FN(store_virtual)(const ARGS *a, REAL *yrow, int kb, const REAL *buf,
                              ptrdiff_t q0, ptrdiff_t npx, ptrdiff_t avail)
{
    const ptrdiff_t Wv = a->Wv, Wy = a->Wy, ny = a->ny;
    ptrdiff_t o = q0 / Wv, j = q0 % Wv, q = 0;
    while (q < npx && o < ny) {
        if (j < Wy) {
            const ptrdiff_t run = Wy - j < npx - q ? Wy - j : npx - q;
            FN(store_run)(yrow + o * Wy + j, a->y_kstride, kb, buf + q * KB, run, avail - q);
        }
        q += Wv - j; /* on to the start of the next row */
        j = 0;
        o++;
    }
}

/* One output row for a block of kb <= KB output channels, in segments of CC_CV_SEG
 * tiles.  Within a segment the input channels are swept CC_CV_CHUNK at a time, so the
 * block's weights for those channels, the input rows they read and the segment's
 * accumulators stay in L1 while every tile of the segment uses them.  The accumulators
 * are stored exactly between blocks, so the sums are those of one uninterrupted pass. */
static void FN(row_cv)(const ARGS *a, REAL *yrow, int kb)
{
    REAL buf[CC_CV_SEG * PIX * KB];
    REAL b[KB] = {0};
    if (a->bias)
        memcpy(b, a->bias, (size_t)kb * sizeof(REAL));
    const ptrdiff_t seg_px = (ptrdiff_t)CC_CV_SEG * PIX;
    const ptrdiff_t fit = CC_CV_WEIGHT_BYTES / (a->U * a->S * KB * (ptrdiff_t)sizeof(REAL));
    const ptrdiff_t chunk = fit < 1 ? 1 : fit > CC_CV_CHUNK ? CC_CV_CHUNK : fit;
    for (ptrdiff_t ow0 = 0; ow0 < a->Wout; ow0 += seg_px) {
        const ptrdiff_t npx = a->Wout - ow0 < seg_px ? a->Wout - ow0 : seg_px;
        const int ntiles = (int)((npx + PIX - 1) / PIX);
        for (int t = 0; t < ntiles * PIX; t++)
            memcpy(buf + t * KB, b, sizeof b);
        for (ptrdiff_t c0 = 0; c0 < a->Cg; c0 += chunk) {
            const ptrdiff_t c1 = a->Cg - c0 < chunk ? a->Cg : c0 + chunk;
            for (int t = 0; t < ntiles; t++) {
                const ptrdiff_t ow = ow0 + (ptrdiff_t)t * PIX;
                const int cnt = (int)(a->Wout - ow < PIX ? a->Wout - ow : PIX);
                FN(cv_tile_any)(a, buf + t * PIX * KB, c0, c1, ow, cnt);
            }
        }
        /* transpose: pixel-major accumulators -> channel rows of the NCHW output */
        if (a->Wv)
            FN(store_virtual)(a, yrow, kb, buf, ow0, npx, seg_px);
        else
            FN(store_run)(yrow + ow0, a->y_kstride, kb, buf, npx, seg_px);
    }
}

#include "kernels/cc_template_names_end.h"
#undef PIX
#undef NV
#undef KB
#undef CC_CV_UNROLL
#undef CC_CV_PRAGMA_
