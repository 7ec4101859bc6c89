/* Direct-convolution micro-kernel for one-channel 3x3 layers at stride 1 (depthwise
 * layers, 3x3 image filters), one template instantiated per ISA and dtype, included by
 * conv_direct_instantiate.h after conv_direct_ukernel.h (whose vector type, loads and
 * masks it uses).
 *
 * A strip of NV vectors of output columns walks down a band of output rows, reading the
 * input where it lies (no copy of the band).  Each input row is loaded once per strip,
 * as its three taps (three loads), and feeds the three output rows that read it: row k
 * is tap row 0 of output row k, tap row 1 of row k - 1 and tap row 2 of row k - 2, whose
 * sums stay in registers (A, B, C below) with the 9 weights.  So each input row costs
 * 3 loads per 9 FMAs, where the row tiles (FN(tile)) load or shuffle 3 vectors and
 * broadcast 3 weights per 3 FMAs and run on a padded copy of the band.  Output row
 * k - 2 is complete after row k and is stored.
 *
 * Strips that reach into the padding or past the row (and the last one, when the row
 * does not end on a vector) load by mask, so nothing outside the input row is read;
 * input rows in the zero padding are vectors of zeros.  Both are still multiplied, as
 * everywhere (an infinite weight gives NaN beside the padding).  Under a border mode
 * (reflect, replicate, circular) the driver's table maps the rows, and those strips
 * copy their columns mapped by the mode (cc_pad_index) before loading them.  Each
 * output is summed as by every other tile: bias, then tap rows u = 0, 1, 2, each over
 * its taps s = 0, 1, 2.
 *
 * The including file may define CC_NV_STRIP, the vectors of the strips inside a row
 * (default 1; those at its ends are one vector): their 3 * NV sums, a tap and the 9
 * weights should fit the register file (2 at AVX2 and AVX-512: at AVX2 the 16 ymm hold
 * 6 sums, a tap and most of the weights, the rest read from the stack by the FMAs). */
#ifndef CC_NV_STRIP
#define CC_NV_STRIP 1
#endif
#include "kernels/cc_template_names.h"
/* a * b + c: the ISA's FMA where it has one (CC_FMA), else as written (contracted where
 * the ISA can).  Left to contraction, GCC 12 kept some of the walk's last products apart
 * from their sums (vmulps, vaddps at AVX2 and AVX-512; objdump), which rounds them
 * differently from the other tiles. */
#ifdef CC_FMA
#define CC_STRIP_FMA(a, b, c) CC_FMA(a, b, c)
#else
#define CC_STRIP_FMA(a, b, c) ((a) * (b) + (c))
#endif

/* One input row xr (with PAD, NULL for a row of the zero padding) of a strip whose
 * tap-0 input columns start at col0, tap by tap (EDGE 1 strips, of one vector: loaded by
 * the masks m of its taps), into the sums of the three output rows that read it:
 * C[v] += w[s] * tap (tap row 0, from the bias when NEW), B[v] += w[3 + s] * tap where
 * MID, A[v] += w[6 + s] * tap where OLD.  One tap is live at a time, so the registers
 * hold the 3 * NV sums and the 9 weights. */
static inline __attribute__((always_inline)) void
FN(strip_input_row)(VEC A[], VEC B[], VEC C[], const VEC w[9], const VEC b, const REAL *xr,
                    ptrdiff_t col0, const CC_MASK m[3], const int NV,
                    const int EDGE, const int PAD, const int NEW, const int MID,
                    const int OLD)
{
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        if (NEW)
            C[v] = b;
#pragma GCC unroll 3
        for (int s = 0; s < 3; s++) {
            const ptrdiff_t at = col0 + v * LANES + s;
            const VEC t = PAD && !xr  ? FN(splat)((REAL)0)
                          : EDGE == 1 ? CC_LOAD_MASKED(xr + at, m[s])
                                      : FN(loadu)(xr + at);
            if (NEW)
                C[v] = CC_STRIP_FMA(w[s], t, C[v]);
            if (MID)
                B[v] = CC_STRIP_FMA(w[3 + s], t, B[v]);
            if (OLD)
                A[v] = CC_STRIP_FMA(w[6 + s], t, A[v]);
        }
    }
}

/* Output row y's NV vectors from column j (cnt outputs, fewer than the strip's only in
 * EDGE strips). */
static inline __attribute__((always_inline)) void
FN(strip_store)(REAL *y, const VEC acc[], ptrdiff_t cnt, const int NV, const int EDGE)
{
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        const ptrdiff_t n = cnt - v * LANES;
        if (!EDGE || n >= LANES)
            FN(storeu)(y + v * LANES, acc[v]);
        else if (n > 0)
            CC_STORE_MASKED(y + v * LANES, CC_MAKE_MASK(0, (int)n), acc[v]);
    }
}

/* Input row k (0 <= k < ny + 2) of the band: the row output row k reads at tap row 0,
 * and the last output row's tap rows 1 and 2 past them; NULL in the zero padding. */
static inline const REAL *FN(strip_input)(const ARGS *a, ptrdiff_t k)
{
    const ptrdiff_t ny = a->ny;
    const ptrdiff_t off = k < ny ? a->rows[3 * k] : a->rows[3 * (ny - 1) + k - ny + 1];
    return off >= 0 ? a->x + off : NULL;
}

/* One strip: output columns [j, j + cnt) (cnt < NV * LANES only in EDGE strips, of one
 * vector: 1, loads by mask; 2, FN(strip_border)'s, whole loads from its buffer) of the
 * band's ny rows (y the band's output, rows Wout apart), tap-0 input columns from col0;
 * inside: the input rows of steps 2 to ny - 1 all lie in the input.  Step k of the walk
 * loads input row k and adds it to C (output row k: bias, tap row 0), B (row k - 1, tap
 * row 1) and A (row k - 2, tap row 2, then stored); the sums then move up, A = B,
 * B = C.  The first two and last two steps have fewer rows to feed and run with runtime
 * checks. */
static inline __attribute__((always_inline)) void
FN(strip)(const ARGS *a, REAL *y, ptrdiff_t j, ptrdiff_t col0, ptrdiff_t cnt, const VEC w[9],
          const VEC b, int inside, const int NV, const int EDGE)
{
    const ptrdiff_t ny = a->ny, Wout = a->Wout, W = a->W;
    CC_MASK m[3]; /* EDGE strips are of one vector */
    if (EDGE == 1)
        for (int s = 0; s < 3; s++)
            m[s] = CC_MAKE_MASK(cc_clamp_lanes(-(col0 + s), LANES),
                                cc_clamp_lanes(W - (col0 + s), LANES));
    VEC A[CC_NV_STRIP], B[CC_NV_STRIP], C[CC_NV_STRIP];
    for (int v = 0; v < NV; v++)
        A[v] = B[v] = C[v] = b;
#define CC_STRIP_STEP(k, XR, PAD, NEW, MID, OLD)                                          \
    do {                                                                                  \
        FN(strip_input_row)(A, B, C, w, b, XR, col0, m, NV, EDGE, PAD, NEW, MID, OLD);    \
        if (OLD)                                                                          \
            FN(strip_store)(y + ((k) - 2) * Wout + j, A, cnt, NV, EDGE);                  \
        for (int v = 0; v < NV; v++) {                                                    \
            A[v] = B[v];                                                                  \
            B[v] = C[v];                                                                  \
        }                                                                                 \
    } while (0)
    const ptrdiff_t first = ny < 2 ? ny + 2 : 2; /* steps before the steady ones */
    for (ptrdiff_t k = 0; k < first; k++)
        CC_STRIP_STEP(k, FN(strip_input)(a, k), 1, k < ny, k >= 1 && k <= ny, k >= 2);
    if (ny >= 2) {
        /* Rows inside the input (every steady step but where the padding is 2 rows or
         * more): loaded without the check for a padding row. */
        if (inside)
            for (ptrdiff_t k = 2; k < ny; k++)
                CC_STRIP_STEP(k, a->x + a->rows[3 * k], 0, 1, 1, 1);
        else
            for (ptrdiff_t k = 2; k < ny; k++)
                CC_STRIP_STEP(k, FN(strip_input)(a, k), 1, 1, 1, 1);
        for (ptrdiff_t k = ny; k < ny + 2; k++)
            CC_STRIP_STEP(k, FN(strip_input)(a, k), 1, 0, k == ny, 1);
    }
#undef CC_STRIP_STEP
}

/* A strip of one vector at a row's end under a border mode (reflect, replicate,
 * circular): the LANES + 2 columns it reads, mapped by the mode, copied for each of the
 * band's ny + 2 input rows into a small buffer first (filled before it is read, so its
 * vector loads never wait on the scalar stores), then walked as an interior strip whose
 * stores stop at cnt; ny <= CC_STRIP_BORDER_ROWS. */
#ifndef CC_STRIP_BORDER_ROWS
#define CC_STRIP_BORDER_ROWS 32
#endif
static void FN(strip_border)(const ARGS *a, REAL *y, ptrdiff_t j, ptrdiff_t col0,
                             ptrdiff_t cnt, const VEC w[9], const VEC b)
{
    enum { P = LANES + 2 };
    REAL buf[(CC_STRIP_BORDER_ROWS + 2) * P];
    ptrdiff_t rows[3 * CC_STRIP_BORDER_ROWS], map[P];
    ARGS e = *a;
    for (int i = 0; i < P; i++)
        map[i] = cc_pad_index(col0 + i, a->W, a->pad_mode);
    for (ptrdiff_t k = 0; k < a->ny + 2; k++) {
        const REAL *xr = FN(strip_input)(a, k);
        for (int i = 0; i < P; i++)
            buf[k * P + i] = xr && map[i] >= 0 ? xr[map[i]] : (REAL)0;
    }
    for (ptrdiff_t o = 0; o < a->ny; o++)
        for (int u = 0; u < 3; u++)
            rows[3 * o + u] = (o + u) * P;
    e.x = buf;
    e.rows = rows;
    e.W = P;
    FN(strip)(&e, y, j, 0, cnt, w, b, 1, 1, 2);
}

/* The band's output rows (a->ny of them from yrow, Wout apart; a->rows the band's table
 * of U = 3 input rows per output row), strip by strip from the left: strips of
 * CC_NV_STRIP vectors while their loads stay inside the row, then of one vector, and
 * strips of one vector where a strip reaches into the padding or past the row (at most
 * one at each end), which load by mask under zero padding (3 masks, not 3 per vector,
 * beside the sums and the weights in the registers) and from their mapped columns
 * under a border mode. */
static void FN(row_strip)(const ARGS *a, REAL *yrow, int kb)
{
    (void)kb;
    const ptrdiff_t Wout = a->Wout, W = a->W, wide = CC_NV_STRIP * LANES;
    VEC w[9];
    for (int t = 0; t < 9; t++)
        w[t] = FN(splat)(a->wp[t]);
    const VEC b = FN(splat)(a->bias ? a->bias[0] : (REAL)0);
    int inside = 1; /* the input rows of steps 2 to ny - 1 (tap row 0 of those output rows) */
    for (ptrdiff_t k = 2; k < a->ny; k++)
        inside &= a->rows[3 * k] >= 0;
    for (ptrdiff_t j = 0; j < Wout;) {
        const ptrdiff_t col0 = j - a->pad_w, left = Wout - j;
        if (CC_NV_STRIP > 1 && col0 >= 0 && left >= wide && col0 + wide + 2 <= W) {
            FN(strip)(a, yrow, j, col0, wide, w, b, inside, CC_NV_STRIP, 0);
            j += wide;
        } else if (col0 >= 0 && left >= LANES && col0 + LANES + 2 <= W) {
            FN(strip)(a, yrow, j, col0, LANES, w, b, inside, 1, 0);
            j += LANES;
        } else {
            const ptrdiff_t cnt = left < LANES ? left : LANES;
            if (a->pad_mode == CC_PAD_ZEROS) {
                FN(strip)(a, yrow, j, col0, cnt, w, b, inside, 1, 1);
            } else { /* in pieces of at most CC_STRIP_BORDER_ROWS rows */
                for (ptrdiff_t o0 = 0; o0 < a->ny; o0 += CC_STRIP_BORDER_ROWS) {
                    ARGS part = *a;
                    part.rows = a->rows + 3 * o0;
                    part.ny = a->ny - o0 < CC_STRIP_BORDER_ROWS ? a->ny - o0
                                                                : CC_STRIP_BORDER_ROWS;
                    FN(strip_border)(&part, yrow + o0 * Wout, j, col0, cnt, w, b);
                }
            }
            j += LANES;
        }
    }
}

#include "kernels/cc_template_names_end.h"
#undef CC_STRIP_FMA
