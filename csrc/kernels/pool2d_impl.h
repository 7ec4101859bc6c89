/* Max and average pooling, NCHW and NCDHW: one template instantiated per dtype and ISA.
 *
 * The including file defines REAL, SFX and CC_ISA and compiles this under a matching
 * `#pragma GCC target`; it ends with its row of micro-kernels (CC_POOL_ISA_ROW, pool2d.h):
 * max_plane, max_plane_separable and avg_plane, each one (n, c) volume (a (D, H, W)
 * volume; D = 1 in 2-D), then the other passes of kernels/pool2d_more_impl.h (included at
 * the end: backward, unpooling, adaptive and channels-last).  The driver
 * (driver/pool2d_dispatch.c) gives each thread its volumes and scratch.  The tap paths
 * (average pooling, max pooling with indices, and the fused max windows named below) walk
 * the depth as more window rows: output row (od, oh) is initialised, then every window
 * tap (t, i, j) sweeps it once, reading input row (id, ih) = (od*sd - pd + t*dd, oh*sh -
 * ph + i*dh) at columns ow*sw - pw + j*dw over exactly the range of ow where that column
 * is inside the row (so no bounds test in the inner loop, and padding never enters a max
 * or a sum).  The inner loops are unit- or constant-stride over ow and vectorise; the
 * 2x2/2, 3x3/2 and 3x3/1 windows (and the 3-D 2x2x2/2 and 3x3x3/2) are compiled with
 * constant sizes and their interior columns computed in a single pass.
 *
 * Taps are visited in row-major window order, and a value replaces the running max
 * when it is greater or NaN, which is PyTorch's rule: the first maximum wins ties, and
 * NaN propagates (the last NaN of a window gives its index).  Taps outside the input
 * are never visited, so the work is bounded by the input, whatever the window size.
 *
 * Max pooling without indices is separable (the driver, driver/pool2d_dispatch.c, takes
 * max_plane_separable for every window but 2x2/2, 2x2x2/2 and the 1-D 2/2, whose fused
 * pass reads each input cell once and measured faster): the max
 * over a box is the max over depth of the max over height of the max over width.  For
 * each output depth, a scratch plane takes the elementwise max of the depth taps' input
 * planes; for each output row, a scratch row takes the max of the height taps' rows of
 * that plane; the width taps of the row then give the outputs.  The first two stages
 * are elementwise maxima of contiguous rows that vectorise fully, and each stage shares
 * its work between the overlapping windows of a stride smaller than the window, rather
 * than every output of a 3x3x3/2 pool reading its 27 taps with stride-2 loads.  Taps
 * outside the input are skipped at every stage; a stage with a single tap inside reads
 * the input in place.  The scratch is one plane and one row per thread, allocated per
 * call by the driver (the plane only for windows deeper than 1).  Every stage applies the same
 * greater-or-NaN rule, so a NaN anywhere in a window still gives NaN and other values
 * are exact; only the order in which equal values meet changes, so where +0.0 and -0.0
 * tie for the maximum the sign of the zero returned may differ from the tap-order
 * result (and from the indices path).
 */
#define CC_CAT3_(a, b, c) a##_##b##_##c
#define CC_CAT3(a, b, c) CC_CAT3_(a, b, c)
#define FN(name) CC_CAT3(name, SFX, CC_ISA)


/* Vectors in the ISA's width (CC_POOL_VBYTES) for the stride-2 max and average paths.  The even and
 * odd cells of 2 * PL consecutive cells come from two loads and one shuffle each
 * (CC_POOL_EVEN / CC_POOL_ODD; at AVX2 an in-lane vshufps, whose lanes come out in a
 * fixed order that CC_POOL_ORDER puts right once per result, since AVX2 has no one-op
 * two-source lane-crossing shuffle); GCC's own
 * vectorisation of the scalar loops loaded each column tap's cells separately (vpermd
 * loads at every column offset, half of them across a cache line), which held the
 * 2x2/2 pool to a third of the memory bandwidth of one core (AMD Zen 3, AVX2). */
typedef REAL FN(pvec) __attribute__((vector_size(CC_POOL_VBYTES)));
#define PVEC FN(pvec)
#define PL ((ptrdiff_t)(CC_POOL_VBYTES / sizeof(REAL)))

static inline PVEC FN(pv_load)(const REAL *p)
{
    PVEC v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* max_nan's rule lane by lane: v replaces a when greater or NaN.  An ISA with a native
 * max gives CC_POOL_MAX_NAN (its max v > a ? v : a, then v where v is NaN: three
 * instructions, the same result to the bit); otherwise a bitwise select (C has no
 * vector ?:). */
static inline PVEC FN(pv_max_nan)(PVEC a, PVEC v)
{
#ifdef CC_POOL_MAX_NAN
    return CC_POOL_MAX_NAN(a, v);
#else
    const __typeof__(v > a) take = (v > a) | (v != v);
    __typeof__(v > a) ai, vi;
    memcpy(&ai, &a, sizeof a);
    memcpy(&vi, &v, sizeof v);
    ai = (vi & take) | (ai & ~take);
    memcpy(&a, &ai, sizeof a);
    return a;
#endif
}

/* Elements from a window row of output row (od, oh) to the same row of output row
 * oh + 2, for the fused paths' prefetch (0 for a pool of one row).  The last rows of a
 * plane prefetch the first rows of the next plane, which the thread usually takes next
 * (with them, max 2x2/2 took 0.86x and 0.93x the time of a build that stopped at the
 * plane's end, 8 and 6 alternating pairs on Zen 3); a prefetch past the input never
 * faults. */
static inline ptrdiff_t FN(ahead)(const cc_pool2d_geometry *g)
{
    return g->H > 1 ? 2 * g->sh * g->W : 0;
}

/* y[ow] for ow in [lo, hi) in whole vectors (see the return value), over the ND x NH rows
 * r0 + t * dstep + i * hstep and columns 2ow, 2ow + 1 (and 2ow + 2 for KW = 3), in tap
 * order (rows in turn, the columns of each): their max (greater-or-NaN), or with AVG
 * their sum from zero divided by `divisor` (the same operations in the same order as
 * the scalar loops, so the same values; a max's NaN is the input's here and a quiet NaN
 * in the fused scalar tail, as docs/pooling.md allows).  `ahead` (elements, or 0) is
 * prefetched past each row's cells.  The third column tap (KW = 3) is the even cells
 * moved down a lane and the window's last cell (CC_POOL_NEXT_EVEN) rather than two
 * more loads a cell further and a shuffle: avg 3x3/2 on (1, 16, 112, 112) float32 in
 * L2 took 0.93x the time, and 0.95x on (8, 64, 112, 112) at AVX-512 (0.98-0.995x at
 * AVX2; one process, alternating blocks of calls, 20 rounds, AMD EPYC Zen 4 class).
 * The last cell comes as a splat, so that it enters by a blend (a vbroadcastss and a
 * vblendps at AVX2, where a single lane had taken two shuffles; a loop of lane
 * stores compiled to seven vinsertps at -O3 and took 1.15x the time in L2).
 * Returns the first ow not done: hi, or lo for a row shorter than a vector.  The cells
 * read are those of the windows [lo, hi). */
static inline __attribute__((always_inline)) ptrdiff_t
FN(pool_s2)(const REAL *r0, ptrdiff_t dstep, ptrdiff_t hstep, ptrdiff_t ahead,
            REAL *restrict y, ptrdiff_t lo, ptrdiff_t hi, const int ND, const int NH,
            const int KW, const int AVG, REAL divisor)
{
    /* A row that ends mid-vector takes one more vector ending at its last column, over
     * columns already written (each written again with the same value): on rows of a
     * few vectors (56 cells at AVX-512 give 16 + 12 outputs) the scalar tail was most
     * of the time. */
    if (hi - lo < PL)
        return lo;
    for (ptrdiff_t next = lo; next < hi; next += PL) {
        const ptrdiff_t ow = next + PL <= hi ? next : hi - PL;
        PVEC a = {0};
        for (int k = 0; k < ND * NH; k++) {
            const REAL *p = r0 + k / NH * dstep + k % NH * hstep + 2 * ow;
            const PVEC v0 = FN(pv_load)(p), v1 = FN(pv_load)(p + PL);
            if (ahead) { /* the same cells of the output row after next (FN(ahead)) */
                __builtin_prefetch(p + ahead);
                __builtin_prefetch(p + ahead + PL);
            }
            const PVEC e = CC_POOL_EVEN(v0, v1), o = CC_POOL_ODD(v0, v1);
            PVEC e2 = e;
            if (KW == 3) { /* cells 2, 4, ..: e moved down a lane, then the window's last */
                const PVEC last = -(PVEC){0} + p[2 * PL]; /* a splat: -0 + x is x */
                e2 = CC_POOL_NEXT_EVEN(e, last);
            }
            if (AVG) {
                a += e;
                a += o;
                if (KW == 3)
                    a += e2;
                continue;
            }
            a = k ? FN(pv_max_nan)(a, e) : e;
            a = FN(pv_max_nan)(a, o);
            if (KW == 3)
                a = FN(pv_max_nan)(a, e2);
        }
        if (AVG)
            a /= divisor;
        a = CC_POOL_ORDER(a);
        memcpy(y + ow, &a, sizeof a);
    }
    return hi;
}

/* Output columns [ow0, ow1) of one row (od, oh) of max pooling, one pass per window
 * tap.  Handles every case (rows or columns in the padding, any window); KD, KH, KW, SW
 * are constants where the caller inlines. */
static inline __attribute__((always_inline)) void
FN(max_row_taps)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t od, ptrdiff_t oh,
                 ptrdiff_t ow0, ptrdiff_t ow1, REAL *restrict y, int64_t *restrict idx,
                 const ptrdiff_t KD, const ptrdiff_t KH, const ptrdiff_t KW, const ptrdiff_t SW)
{
    const ptrdiff_t D = g->D, H = g->H, W = g->W, Wout = g->Wout, dd = g->dd, dh = g->dh;
    const ptrdiff_t dw = g->dw;
    const ptrdiff_t dstart = od * g->sd - g->pd, hstart = oh * g->sh - g->ph;
    ptrdiff_t t0, t1, i0, i1, j0, j1;
    if (ow1 <= ow0)
        return;
    cc_taps_inside(dstart, KD, dd, D, &t0, &t1);
    cc_taps_inside(hstart, KH, dh, H, &i0, &i1);
    if (ow1 - ow0 <= CC_POOL_FEW_COLUMNS) {
        /* A few columns (a fused row's edges): each output scans its window's cells
         * inside the input directly, in the same order, rather than a pass per tap. */
        for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
            const ptrdiff_t wstart = ow * SW - g->pw;
            cc_taps_inside(wstart, KW, dw, W, &j0, &j1);
            REAL best = -(REAL)INFINITY;
            int64_t at = -1;
            for (ptrdiff_t t = t0; t < t1; t++)
                for (ptrdiff_t i = i0; i < i1; i++) {
                    const ptrdiff_t row = ((dstart + t * dd) * H + hstart + i * dh) * W;
                    for (ptrdiff_t j = j0; j < j1; j++) {
                        const ptrdiff_t f = row + wstart + j * dw;
                        const REAL v = xp[f];
                        if (at < 0)
                            at = (int64_t)f;  /* the first cell inside: the initial index */
                        if (v > best || v != v) {
                            best = v;
                            at = (int64_t)f;
                        }
                    }
                }
            y[ow] = best;
            if (idx)
                idx[ow] = at;
        }
        return;
    }
    for (ptrdiff_t ow = ow0; ow < ow1; ow++)
        y[ow] = -(REAL)INFINITY;
    if (idx) {
        /* The window's first cell inside the input (PyTorch's initial index), or -1 for
         * a window with no cell inside it (only possible with dilation). */
        const ptrdiff_t row = ((dstart + t0 * dd) * H + hstart + i0 * dh) * W;
        for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
            ptrdiff_t wstart = ow * SW - g->pw;
            cc_taps_inside(wstart, KW, dw, W, &j0, &j1);
            idx[ow] = t0 < t1 && i0 < i1 && j0 < j1 ? (int64_t)(row + wstart + j0 * dw) : -1;
        }
    }
    /* taps j that reach the input for some ow in [ow0, ow1): p = j*dw - pw + ow0*SW must
     * lie in [-(ow1 - 1 - ow0) * SW, W), i.e. p + (ow1 - 1 - ow0) * SW in [0, W + ...) */
    cc_taps_inside((ow1 - 1) * SW - g->pw, KW, dw, W + (ow1 - 1 - ow0) * SW, &j0, &j1);
    for (ptrdiff_t t = t0; t < t1; t++)
        for (ptrdiff_t i = i0; i < i1; i++) {
            const ptrdiff_t row = ((dstart + t * dd) * H + hstart + i * dh) * W;
            for (ptrdiff_t j = j0; j < j1; j++) {
                const ptrdiff_t off = j * dw - g->pw;
                ptrdiff_t lo, hi;
                cc_tap_range(W, Wout, SW, off, &lo, &hi);
                lo = lo > ow0 ? lo : ow0;
                hi = hi < ow1 ? hi : ow1;
                const REAL *xr = xp + row + off;
                if (idx) {
                    for (ptrdiff_t ow = lo; ow < hi; ow++) {
                        REAL v = xr[ow * SW];
                        if (v > y[ow] || v != v) {
                            y[ow] = v;
                            idx[ow] = (int64_t)(row + ow * SW + off);
                        }
                    }
                } else {
                    for (ptrdiff_t ow = lo; ow < hi; ow++) {
                        REAL v = xr[ow * SW], a = y[ow];
                        y[ow] = (v > a || v != v) ? v : a;
                    }
                }
            }
        }
}

/* Columns [*lo, *hi) whose whole window is inside the row, and whether every window
 * row of output row (od, oh) is inside the input. */
static inline int FN(interior)(const cc_pool2d_geometry *g, ptrdiff_t od, ptrdiff_t oh,
                               ptrdiff_t KD, ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t SW,
                               ptrdiff_t *lo, ptrdiff_t *hi)
{
    const ptrdiff_t dstart = od * g->sd - g->pd, hstart = oh * g->sh - g->ph;
    ptrdiff_t lo0, hi0, lo1, hi1;
    cc_tap_range(g->W, g->Wout, SW, -g->pw, &lo0, &hi0);
    cc_tap_range(g->W, g->Wout, SW, (KW - 1) * g->dw - g->pw, &lo1, &hi1);
    *lo = lo0 > lo1 ? lo0 : lo1;
    *hi = hi0 < hi1 ? hi0 : hi1;
    if (*hi < *lo)
        *hi = *lo;
    return hstart >= 0 && hstart + (KH - 1) * g->dh < g->H && dstart >= 0
           && dstart + (KD - 1) * g->dd < g->D;
}

/* One output row of max pooling.  With a compile-time window (FUSED) the interior goes
 * in one pass, every tap of an output in registers and vectorised across outputs, and
 * the edges tap by tap; other windows go tap by tap (their runtime tap loops would
 * not vectorise across outputs). */
static inline __attribute__((always_inline)) void
FN(max_row)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t od, ptrdiff_t oh,
            REAL *restrict y, int64_t *restrict idx, const ptrdiff_t KD, const ptrdiff_t KH,
            const ptrdiff_t KW, const ptrdiff_t SW, const int FUSED)
{
    ptrdiff_t lo, hi;
    if (!FUSED || !FN(interior)(g, od, oh, KD, KH, KW, SW, &lo, &hi) || hi == lo) {
        FN(max_row_taps)(g, xp, od, oh, 0, g->Wout, y, idx, KD, KH, KW, SW);
        return;
    }
    FN(max_row_taps)(g, xp, od, oh, 0, lo, y, idx, KD, KH, KW, SW);
    FN(max_row_taps)(g, xp, od, oh, hi, g->Wout, y, idx, KD, KH, KW, SW);
    const ptrdiff_t W = g->W, dh = g->dh, dw = g->dw, plane = g->H * W, dd = g->dd;
    const ptrdiff_t row0 = ((od * g->sd - g->pd) * g->H + oh * g->sh - g->ph) * W - g->pw;
    const REAL *base = xp + row0;
    if (idx) {
        for (ptrdiff_t ow = lo; ow < hi; ow++) {
            REAL a = -(REAL)INFINITY;
            int64_t at = (int64_t)(row0 + ow * SW);
            for (ptrdiff_t t = 0; t < KD; t++)
                for (ptrdiff_t i = 0; i < KH; i++)
                    for (ptrdiff_t j = 0; j < KW; j++) {
                        ptrdiff_t o = t * dd * plane + i * dh * W + j * dw + ow * SW;
                        REAL v = base[o];
                        if (v > a || v != v) {
                            a = v;
                            at = (int64_t)(row0 + o);
                        }
                    }
            y[ow] = a;
            idx[ow] = at;
        }
    } else {
        /* max ignoring NaN (one vmaxps per tap) plus a NaN flag: cheaper than a
         * NaN-propagating compare-and-blend in the dependency chain */
        ptrdiff_t ow = lo;
        if (KW == 2 && SW == 2 && KH * KD <= 4) /* dh = dd = dw = 1 here */
            ow = FN(pool_s2)(base, plane, W, FN(ahead)(g), y, lo, hi, (int)KD,
                             (int)KH, 2, 0, 0);
        for (; ow < hi; ow++) {
            REAL a = -(REAL)INFINITY;
            int nan = 0;
            for (ptrdiff_t t = 0; t < KD; t++)
                for (ptrdiff_t i = 0; i < KH; i++)
                    for (ptrdiff_t j = 0; j < KW; j++) {
                        REAL v = base[t * dd * plane + i * dh * W + j * dw + ow * SW];
                        a = v > a ? v : a;
                        nan |= v != v;
                    }
            y[ow] = nan ? (REAL)NAN : a;
        }
    }
}

/* The window sums of columns [ow0, ow1), one pass per tap (t, i, j). */
static inline __attribute__((always_inline)) void
FN(avg_row_sums)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t dstart,
                 ptrdiff_t hstart, ptrdiff_t ow0, ptrdiff_t ow1, REAL *restrict y,
                 ptrdiff_t t0, ptrdiff_t t1, ptrdiff_t i0, ptrdiff_t i1, ptrdiff_t j0,
                 ptrdiff_t j1, const ptrdiff_t SW)
{
    const ptrdiff_t H = g->H, W = g->W, Wout = g->Wout;
    for (ptrdiff_t t = t0; t < t1; t++)
        for (ptrdiff_t i = i0; i < i1; i++) {
            const ptrdiff_t row = ((dstart + t) * H + hstart + i) * W;
            for (ptrdiff_t j = j0; j < j1; j++) {
                const ptrdiff_t off = j - g->pw;
                ptrdiff_t lo, hi;
                cc_tap_range(W, Wout, SW, off, &lo, &hi);
                lo = lo > ow0 ? lo : ow0;
                hi = hi < ow1 ? hi : ow1;
                const REAL *xr = xp + row + off;
                for (ptrdiff_t ow = lo; ow < hi; ow++)
                    y[ow] += xr[ow * SW];
            }
        }
}

/* The divisor of the window starting at column wstart whose rows span rows_pad rows of
 * the padded input and rows_in of the input (avg_divide). */
static inline ptrdiff_t FN(avg_divisor)(const cc_pool2d_geometry *g, ptrdiff_t wstart,
                                        ptrdiff_t KW, ptrdiff_t rows_pad, ptrdiff_t rows_in,
                                        int count_include_pad, ptrdiff_t divisor_override)
{
    if (divisor_override)
        return divisor_override;
    const ptrdiff_t W = g->W, wend = wstart + KW < W + g->pw ? wstart + KW : W + g->pw;
    if (count_include_pad)
        return rows_pad * (wend - wstart);
    return rows_in * ((wend < W ? wend : W) - (wstart > 0 ? wstart : 0));
}

/* Divide the sums of columns [ow0, ow1) by their windows' divisors: the cells of the
 * window inside the padded input [-p, L + p) (count_include_pad) or inside the input
 * [0, L); the ceil-mode overhang is never counted. */
static inline __attribute__((always_inline)) void
FN(avg_divide)(const cc_pool2d_geometry *g, ptrdiff_t dstart, ptrdiff_t hstart,
               ptrdiff_t ow0, ptrdiff_t ow1, REAL *restrict y, int count_include_pad,
               ptrdiff_t divisor_override, const ptrdiff_t KD, const ptrdiff_t KH,
               const ptrdiff_t KW, const ptrdiff_t SW)
{
    const ptrdiff_t D = g->D, H = g->H;
    ptrdiff_t dend = dstart + KD < D + g->pd ? dstart + KD : D + g->pd;
    ptrdiff_t hend = hstart + KH < H + g->ph ? hstart + KH : H + g->ph;
    ptrdiff_t rows_pad = (dend - dstart) * (hend - hstart);
    ptrdiff_t rows_in = ((dend < D ? dend : D) - (dstart > 0 ? dstart : 0))
                        * ((hend < H ? hend : H) - (hstart > 0 ? hstart : 0));
    for (ptrdiff_t ow = ow0; ow < ow1; ow++)
        y[ow] /= (REAL)FN(avg_divisor)(g, ow * SW - g->pw, KW, rows_pad, rows_in,
                                       count_include_pad, divisor_override);
}

/* Columns [ow0, ow1) of one row of average pooling, one pass per tap (no dilation). */
static inline __attribute__((always_inline)) void
FN(avg_row_taps)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t od, ptrdiff_t oh,
                 ptrdiff_t ow0, ptrdiff_t ow1, REAL *restrict y, int count_include_pad,
                 ptrdiff_t divisor_override, const ptrdiff_t KD, const ptrdiff_t KH,
                 const ptrdiff_t KW, const ptrdiff_t SW)
{
    const ptrdiff_t D = g->D, H = g->H, W = g->W;
    const ptrdiff_t dstart = od * g->sd - g->pd, hstart = oh * g->sh - g->ph;
    ptrdiff_t t0, t1, i0, i1, j0, j1;
    if (ow1 <= ow0)
        return;
    cc_taps_inside(dstart, KD, 1, D, &t0, &t1);
    cc_taps_inside(hstart, KH, 1, H, &i0, &i1);
    if (ow1 - ow0 <= CC_POOL_FEW_COLUMNS) {
        /* a few columns: each output sums its cells directly, in the same order */
        for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
            const ptrdiff_t wstart = ow * SW - g->pw;
            cc_taps_inside(wstart, KW, 1, W, &j0, &j1);
            REAL sum = 0;
            for (ptrdiff_t t = t0; t < t1; t++)
                for (ptrdiff_t i = i0; i < i1; i++) {
                    const REAL *xr = xp + ((dstart + t) * H + hstart + i) * W + wstart;
                    for (ptrdiff_t j = j0; j < j1; j++)
                        sum += xr[j];
                }
            y[ow] = sum;
        }
    } else {
        /* taps that reach the input for some ow in [ow0, ow1), as in max_row_taps */
        cc_taps_inside((ow1 - 1) * SW - g->pw, KW, 1, W + (ow1 - 1 - ow0) * SW, &j0, &j1);
        for (ptrdiff_t ow = ow0; ow < ow1; ow++)
            y[ow] = 0;
        FN(avg_row_sums)(g, xp, dstart, hstart, ow0, ow1, y, t0, t1, i0, i1, j0, j1, SW);
    }
    FN(avg_divide)(g, dstart, hstart, ow0, ow1, y, count_include_pad, divisor_override, KD,
                   KH, KW, SW);
}

/* Columns [ow0, ow1) of an output row whose windows' rows all lie inside the input
 * (FN(interior); rows: column 0 of the windows' first row), each window summed from zero
 * over its columns inside the input in (t, i, j) order and divided by avg_divisor:
 * avg_row_taps's values without its set-up, which took a quarter of avg 3x3/2's time on
 * (8, 64, 112, 112) for the one output a row has left of its vectors (AVX2, AMD EPYC
 * Zen 3, docs/performance.md). */
static inline __attribute__((always_inline)) void
FN(avg_edge)(const cc_pool2d_geometry *g, const REAL *rows, ptrdiff_t ow0, ptrdiff_t ow1,
             REAL *restrict y, int count_include_pad, ptrdiff_t divisor_override,
             const ptrdiff_t KD, const ptrdiff_t KH, const ptrdiff_t KW, const ptrdiff_t SW)
{
    const ptrdiff_t W = g->W, plane = g->H * W;
    for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
        const ptrdiff_t wstart = ow * SW - g->pw;
        const ptrdiff_t j0 = wstart < 0 ? -wstart : 0;
        const ptrdiff_t j1 = W - wstart < KW ? W - wstart : KW;
        REAL sum = 0;
        for (ptrdiff_t t = 0; t < KD; t++)
            for (ptrdiff_t i = 0; i < KH; i++)
                for (ptrdiff_t j = j0; j < j1; j++)
                    sum += rows[t * plane + i * W + wstart + j];
        y[ow] = sum / (REAL)FN(avg_divisor)(g, wstart, KW, KD * KH, KD * KH,
                                            count_include_pad, divisor_override);
    }
}

/* One output row of average pooling, split as max_row.  Both ways sum a window in
 * row-major order from zero, so every output rounds the same either way (and as
 * PyTorch's loop does). */
static inline __attribute__((always_inline)) void
FN(avg_row)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t od, ptrdiff_t oh,
            REAL *restrict y, int count_include_pad, ptrdiff_t divisor_override,
            const ptrdiff_t KD, const ptrdiff_t KH, const ptrdiff_t KW, const ptrdiff_t SW,
            const int FUSED)
{
    ptrdiff_t lo, hi;
    if (!FUSED || !FN(interior)(g, od, oh, KD, KH, KW, SW, &lo, &hi) || hi == lo) {
        FN(avg_row_taps)(g, xp, od, oh, 0, g->Wout, y, count_include_pad, divisor_override,
                         KD, KH, KW, SW);
        return;
    }
    const ptrdiff_t W = g->W, plane = g->H * W;
    const REAL *rows = xp + ((od * g->sd - g->pd) * g->H + oh * g->sh - g->ph) * W;
    FN(avg_edge)(g, rows, 0, lo, y, count_include_pad, divisor_override, KD, KH, KW, SW);
    FN(avg_edge)(g, rows, hi, g->Wout, y, count_include_pad, divisor_override, KD, KH, KW,
                 SW);
    const REAL *base = rows - g->pw;
    /* a whole window inside the input: both divisor rules give KD * KH * KW */
    const REAL divisor = (REAL)(divisor_override ? divisor_override : KD * KH * KW);
    ptrdiff_t ow = lo;
    if (SW == 2 && (KW == 2 || KW == 3) && KD * KH <= 9)
        ow = FN(pool_s2)(base, plane, W, FN(ahead)(g), y, lo, hi, (int)KD,
                         (int)KH, (int)KW, 1, divisor);
    for (; ow < hi; ow++) {
        REAL sum = 0;
        for (ptrdiff_t t = 0; t < KD; t++)
            for (ptrdiff_t i = 0; i < KH; i++)
                for (ptrdiff_t j = 0; j < KW; j++)
                    sum += base[t * plane + i * W + j + ow * SW];
        y[ow] = sum / divisor;
    }
}

/* ---- Separable max pooling (no indices; see the header comment) ---------------------
 * For output depth od, P[h][w] = max over the depth taps of x[id][h][w]; for output row
 * oh, R[w] = max over the height taps of P[ih][w]; then y[ow] = max over the width taps
 * of R[iw], each stage over the taps inside the input only. */

/* The running-max rule of the tap paths (v replaces a when greater or NaN), written as a
 * max (vmaxps: a when either is NaN) and a NaN select, which compiles without branches
 * also in the scalar edges and loop tails. */
static inline REAL FN(max_nan)(REAL a, REAL v)
{
    const REAL m = v > a ? v : a;
    return v != v ? v : m;
}

/* rows_max for 1 <= n and len >= PL in vectors of the ISA's width */
static inline __attribute__((always_inline)) void
FN(rows_max_vec)(REAL *restrict dst, const REAL *src, ptrdiff_t step, const ptrdiff_t n,
                 ptrdiff_t len)
{
    for (ptrdiff_t next = 0; next < len; next += PL) {
        /* the last vector ends at len, over cells already written (same values) */
        const ptrdiff_t w = next + PL <= len ? next : len - PL;
        PVEC a = FN(pv_load)(src + w);
        for (ptrdiff_t k = 1; k < n; k++)
            a = FN(pv_max_nan)(a, FN(pv_load)(src + k * step + w));
        memcpy(dst + w, &a, sizeof a);
    }
}

/* dst[w] = max over the n rows src + k*step (k < n) of their cell w, for w < len;
 * -inf when n <= 0.  Three rows at a time keep the running max in registers. */
static void FN(rows_max)(REAL *restrict dst, const REAL *src, ptrdiff_t step, ptrdiff_t n,
                         ptrdiff_t len)
{
    /* rows of at least a vector: whole vectors, the last one overlapping (a row of 56
     * cells had taken a vectorised loop's set-up and two tails) */
    if (len >= PL && (n == 2 || n == 3)) {
        if (n == 3)
            FN(rows_max_vec)(dst, src, step, 3, len);
        else
            FN(rows_max_vec)(dst, src, step, 2, len);
        return;
    }
    if (n <= 0) {
        for (ptrdiff_t w = 0; w < len; w++)
            dst[w] = -(REAL)INFINITY;
        return;
    }
    const REAL *a = src, *b, *c;
    if (n == 1) {
        for (ptrdiff_t w = 0; w < len; w++)
            dst[w] = a[w];
        return;
    }
    b = src + step;
    if (n == 2) {
        for (ptrdiff_t w = 0; w < len; w++)
            dst[w] = FN(max_nan)(a[w], b[w]);
        return;
    }
    c = src + 2 * step;
    for (ptrdiff_t w = 0; w < len; w++)
        dst[w] = FN(max_nan)(FN(max_nan)(a[w], b[w]), c[w]);
    ptrdiff_t k = 3;
    for (; k + 1 < n; k += 2) {
        a = src + k * step;
        b = a + step;
        for (ptrdiff_t w = 0; w < len; w++)
            dst[w] = FN(max_nan)(FN(max_nan)(dst[w], a[w]), b[w]);
    }
    if (k < n) {
        a = src + k * step;
        for (ptrdiff_t w = 0; w < len; w++)
            dst[w] = FN(max_nan)(dst[w], a[w]);
    }
}

/* One output row from its height maxima R (W cells): y[ow] = max over the width taps
 * inside the row.  Columns [lo, hi) have their whole window inside the row and take
 * every tap: a tap at a time across the columns (vectorised for a constant SW), or, with
 * a compile-time window (FIXED), every tap of a column in registers.  The edge columns
 * take only their taps inside. */
static inline __attribute__((always_inline)) void
FN(width_max)(const cc_pool2d_geometry *g, const REAL *R, REAL *restrict y, ptrdiff_t lo,
              ptrdiff_t hi, const ptrdiff_t KW, const ptrdiff_t SW, const ptrdiff_t DW,
              const int FIXED)
{
    const ptrdiff_t W = g->W, Wout = g->Wout, pw = g->pw;
    for (ptrdiff_t ow = 0; ow < Wout; ow++) {
        if (ow == lo)
            ow = hi;
        if (ow >= Wout)
            break;
        const ptrdiff_t wstart = ow * SW - pw;
        ptrdiff_t j0, j1;
        cc_taps_inside(wstart, KW, DW, W, &j0, &j1);
        REAL a = -(REAL)INFINITY;
        for (ptrdiff_t j = j0; j < j1; j++)
            a = FN(max_nan)(a, R[wstart + j * DW]);
        y[ow] = a;
    }
    const REAL *r = R - pw;
    if (FIXED) {
        ptrdiff_t ow = lo;
        if (SW == 2 && DW == 1 && (KW == 2 || KW == 3))
            ow = FN(pool_s2)(r, 0, 0, 0, y, lo, hi, 1, 1, (int)KW, 0, 0);
        for (; ow < hi; ow++) {
            REAL a = r[ow * SW];
            for (ptrdiff_t j = 1; j < KW; j++)
                a = FN(max_nan)(a, r[ow * SW + j * DW]);
            y[ow] = a;
        }
        return;
    }
    for (ptrdiff_t ow = lo; ow < hi; ow++)
        y[ow] = r[ow * SW];
    for (ptrdiff_t j = 1; j < KW; j++) {
        const REAL *rj = r + j * DW;
        for (ptrdiff_t ow = lo; ow < hi; ow++)
            y[ow] = FN(max_nan)(y[ow], rj[ow * SW]);
    }
}

/* One (n, c) volume (the input ends at xend).  P (H * W cells, used when two or more
 * depth taps are inside) and R (W cells) are the caller's scratch; a stage with a single
 * tap inside reads its input in place.  While an output depth's rows are computed, the
 * planes the next one adds are prefetched, a share per row: 3x3x3/2 on (4, 64, 16, 56,
 * 56) float32 took 0.72-0.79x the time with it (the depth stage's reads had come in a
 * burst per plane, not overlapped with the rows' arithmetic). */
static void FN(max_plane_separable)(const cc_pool2d_geometry *g, const REAL *xp,
                                    const REAL *xend, REAL *yp, REAL *P, REAL *R)
{
    const ptrdiff_t H = g->H, W = g->W, plane = H * W, Wout = g->Wout;
    const ptrdiff_t kw = g->kw, sw = g->sw, dw = g->dw;
    /* the columns whose window is inside the row */
    ptrdiff_t lo, hi, lo1, hi1;
    cc_tap_range(W, Wout, sw, -g->pw, &lo, &hi);
    cc_tap_range(W, Wout, sw, (kw - 1) * dw - g->pw, &lo1, &hi1);
    lo = lo > lo1 ? lo : lo1;
    hi = hi < hi1 ? hi : hi1;
    if (hi < lo)
        hi = lo;
    for (ptrdiff_t od = 0; od < g->Dout; od++) {
        const ptrdiff_t dstart = od * g->sd - g->pd;
        ptrdiff_t t0, t1;
        cc_taps_inside(dstart, g->kd, g->dd, g->D, &t0, &t1);
        if (t1 <= t0) { /* no depth tap inside: windows with no cell, as the tap path */
            for (ptrdiff_t i = 0; i < g->Hout * Wout; i++)
                yp[od * g->Hout * Wout + i] = -(REAL)INFINITY;
            continue; /* (the plane scratch exists only for depth windows over 1) */
        }
        const REAL *pl = P;
        if (t1 - t0 == 1)
            pl = xp + (dstart + t0 * g->dd) * plane;
        else
            FN(rows_max)(P, xp + (dstart + t0 * g->dd) * plane, g->dd * plane, t1 - t0, plane);
        /* the sd planes after this window's last (with dilation 1 and a stride no larger
         * than the window, the planes the next output depth adds); past the volume's last
         * plane, the first planes of the next volume, which this thread usually takes
         * next.  Offsets from xp, clipped to the input's end. */
        const ptrdiff_t reach = dstart + (g->kd - 1) * g->dd + 1, avail = xend - xp;
        const ptrdiff_t line = 64 / (ptrdiff_t)sizeof(REAL);
        ptrdiff_t nextc = (reach > 0 ? reach : 0) * plane;
        const ptrdiff_t nextend = avail / plane > reach + g->sd ? (reach + g->sd) * plane : avail;
        const ptrdiff_t share = (nextend - nextc) / g->Hout + line;
        for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
            const ptrdiff_t hstart = oh * g->sh - g->ph;
            ptrdiff_t i0, i1;
            cc_taps_inside(hstart, g->kh, g->dh, H, &i0, &i1);
            if (pl == P && nextc < nextend) {
                /* a share of the next output depth's new planes, one share per row:
                 * they arrive while this plane's rows are computed on */
                const ptrdiff_t stop = nextend - nextc > share ? nextc + share : nextend;
                for (; nextc < stop; nextc += line)
                    __builtin_prefetch(xp + nextc);
            }
            if (pl != P) { /* the input rows of the output row after next, inside the plane */
                const ptrdiff_t next = hstart + 2 * g->sh, last = next + (g->kh - 1) * g->dh;
                const ptrdiff_t h0 = next < 0 ? 0 : next, h1 = last + 1 < H ? last + 1 : H;
                for (ptrdiff_t c = h0 * W; c < h1 * W; c += 64 / (ptrdiff_t)sizeof(REAL))
                    __builtin_prefetch(pl + c);
            }
            const REAL *row = R;
            if (i1 - i0 == 1)
                row = pl + (hstart + i0 * g->dh) * W;
            else
                FN(rows_max)(R, pl + (hstart + i0 * g->dh) * W, g->dh * W, i1 - i0, W);
            REAL *y = yp + (od * g->Hout + oh) * Wout;
            if (dw == 1 && kw == 3 && sw == 2)
                FN(width_max)(g, row, y, lo, hi, 3, 2, 1, 1);
            else if (dw == 1 && kw == 3 && sw == 1)
                FN(width_max)(g, row, y, lo, hi, 3, 1, 1, 1);
            else if (dw == 1 && kw == 2 && sw == 2)
                FN(width_max)(g, row, y, lo, hi, 2, 2, 1, 1);
            else if (sw == 1)
                FN(width_max)(g, row, y, lo, hi, kw, 1, dw, 0);
            else if (sw == 2)
                FN(width_max)(g, row, y, lo, hi, kw, 2, dw, 0);
            else
                FN(width_max)(g, row, y, lo, hi, kw, sw, dw, 0);
        }
    }
}

/* Plane drivers: constant window shapes for the common fast paths (2x2/2, 3x3/2,
 * 3x3/1, the 1-D 2/2 and the 3-D 2x2x2/2 and 3x3x3/2), then any window.  Only the
 * column stride is a constant: the others enter through the row's start. */
static void FN(max_plane)(const cc_pool2d_geometry *g, const REAL *xp, REAL *yp, int64_t *ip)
{
    const ptrdiff_t Wout = g->Wout;
    const int d1 = g->dh == 1 && g->dw == 1 && g->dd == 1;
    const int k2 = d1 && g->kh == 2 && g->kw == 2, k3 = d1 && g->kh == 3 && g->kw == 3;
    const int k12 = d1 && g->kd == 1 && g->kh == 1 && g->kw == 2;  /* the 1-D pools */
    const ptrdiff_t kd = g->kd;
    for (ptrdiff_t od = 0; od < g->Dout; od++)
        for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
            REAL *y = yp + (od * g->Hout + oh) * Wout;
            int64_t *idx = ip ? ip + (od * g->Hout + oh) * Wout : NULL;
            if (k12 && g->sw == 2)
                FN(max_row)(g, xp, od, oh, y, idx, 1, 1, 2, 2, 1);
            else if (k2 && kd == 1 && g->sw == 2)
                FN(max_row)(g, xp, od, oh, y, idx, 1, 2, 2, 2, 1);
            else if (k2 && kd == 2 && g->sw == 2)
                FN(max_row)(g, xp, od, oh, y, idx, 2, 2, 2, 2, 1);
            else if (k3 && kd == 1 && g->sw == 2)
                FN(max_row)(g, xp, od, oh, y, idx, 1, 3, 3, 2, 1);
            else if (k3 && kd == 3 && g->sw == 2)
                FN(max_row)(g, xp, od, oh, y, idx, 3, 3, 3, 2, 1);
            else if (k3 && kd == 1 && g->sw == 1)
                FN(max_row)(g, xp, od, oh, y, idx, 1, 3, 3, 1, 1);
            else if (g->sw == 1)
                FN(max_row)(g, xp, od, oh, y, idx, kd, g->kh, g->kw, 1, 0);
            else
                FN(max_row)(g, xp, od, oh, y, idx, kd, g->kh, g->kw, g->sw, 0);
        }
}

static void FN(avg_plane)(const cc_pool2d_geometry *g, const REAL *xp, REAL *yp, int cip,
                          ptrdiff_t dov)
{
    const int k2 = g->kh == 2 && g->kw == 2, k3 = g->kh == 3 && g->kw == 3;
    const int k12 = g->kd == 1 && g->kh == 1 && g->kw == 2;
    const ptrdiff_t kd = g->kd;
    for (ptrdiff_t od = 0; od < g->Dout; od++)
        for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
            REAL *y = yp + (od * g->Hout + oh) * g->Wout;
            if (k12 && g->sw == 2)
                FN(avg_row)(g, xp, od, oh, y, cip, dov, 1, 1, 2, 2, 1);
            else if (k2 && kd == 1 && g->sw == 2)
                FN(avg_row)(g, xp, od, oh, y, cip, dov, 1, 2, 2, 2, 1);
            else if (k2 && kd == 2 && g->sw == 2)
                FN(avg_row)(g, xp, od, oh, y, cip, dov, 2, 2, 2, 2, 1);
            else if (k3 && kd == 1 && g->sw == 2)
                FN(avg_row)(g, xp, od, oh, y, cip, dov, 1, 3, 3, 2, 1);
            else if (k3 && kd == 3 && g->sw == 2)
                FN(avg_row)(g, xp, od, oh, y, cip, dov, 3, 3, 3, 2, 1);
            else if (k3 && kd == 1 && g->sw == 1)
                FN(avg_row)(g, xp, od, oh, y, cip, dov, 1, 3, 3, 1, 1);
            else if (g->sw == 1)
                FN(avg_row)(g, xp, od, oh, y, cip, dov, kd, g->kh, g->kw, 1, 0);
            else
                FN(avg_row)(g, xp, od, oh, y, cip, dov, kd, g->kh, g->kw, g->sw, 0);
        }
}

#include "kernels/pool2d_more_impl.h"

#undef FN
#undef CC_CAT3
#undef CC_CAT3_
#undef PVEC
#undef PL
