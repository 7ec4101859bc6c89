/* Max and average pooling, NCHW: one template instantiated per dtype and ISA.
 *
 * The including file defines REAL, SFX and CC_ISA and compiles this under a matching
 * `#pragma GCC target`.  Each (n, c) plane is one task.  An output row is computed in
 * place: the row is initialised, then every window tap (i, j) sweeps it once, reading
 * input row ih = oh*sh - ph + i*dh at columns ow*sw - pw + j*dw over exactly the range
 * of ow where that column is inside the row (so no bounds test in the inner loop, and
 * padding never enters a max or a sum).  The inner loops are unit- or constant-stride
 * over ow and vectorise; the 2x2/2, 3x3/2 and 3x3/1 windows are compiled with
 * constant sizes and their interior columns computed in a single pass.
 *
 * Taps are visited in row-major window order, and a value replaces the running max
 * when it is greater or NaN, which is PyTorch's rule: the first maximum wins ties, and
 * NaN propagates (the last NaN of a window gives its index).  Taps outside the input
 * are never visited, so the work is bounded by the input, whatever the window size.
 */
#define CC_CAT3_(a, b, c) a##_##b##_##c
#define CC_CAT3(a, b, c) CC_CAT3_(a, b, c)
#define FN(name) CC_CAT3(name, SFX, CC_ISA)


/* Output columns [ow0, ow1) of one row of max pooling, one pass per window tap.
 * Handles every case (rows or columns in the padding, any window); KH, KW, SW are
 * constants where the caller inlines. */
static inline __attribute__((always_inline)) void
FN(max_row_taps)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t oh, ptrdiff_t ow0,
                 ptrdiff_t ow1, REAL *restrict y, int64_t *restrict idx, const ptrdiff_t KH,
                 const ptrdiff_t KW, const ptrdiff_t SW)
{
    const ptrdiff_t H = g->H, W = g->W, Wout = g->Wout, dh = g->dh, dw = g->dw;
    const ptrdiff_t hstart = oh * g->sh - g->ph;
    ptrdiff_t i0, i1, j0, j1;
    if (ow1 <= ow0)
        return;
    cc_taps_inside(hstart, KH, dh, H, &i0, &i1);
    for (ptrdiff_t ow = ow0; ow < ow1; ow++)
        y[ow] = -(REAL)INFINITY;
    if (idx) {
        /* The window's first cell inside the input (PyTorch's initial index), or -1 for
         * a window with no cell inside it (only possible with dilation). */
        for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
            ptrdiff_t wstart = ow * SW - g->pw;
            cc_taps_inside(wstart, KW, dw, W, &j0, &j1);
            idx[ow] = i0 < i1 && j0 < j1 ? (int64_t)((hstart + i0 * dh) * W + wstart + j0 * dw)
                                         : -1;
        }
    }
    /* taps j that reach the input for some ow in [ow0, ow1): p = j*dw - pw + ow0*SW must
     * lie in [-(ow1 - 1 - ow0) * SW, W), i.e. p + (ow1 - 1 - ow0) * SW in [0, W + ...) */
    cc_taps_inside((ow1 - 1) * SW - g->pw, KW, dw, W + (ow1 - 1 - ow0) * SW, &j0, &j1);
    for (ptrdiff_t i = i0; i < i1; i++) {
        const ptrdiff_t ih = hstart + i * dh;
        for (ptrdiff_t j = j0; j < j1; j++) {
            const ptrdiff_t off = j * dw - g->pw;
            ptrdiff_t lo, hi;
            cc_tap_range(W, Wout, SW, off, &lo, &hi);
            lo = lo > ow0 ? lo : ow0;
            hi = hi < ow1 ? hi : ow1;
            const REAL *xr = xp + ih * W + off;
            if (idx) {
                for (ptrdiff_t ow = lo; ow < hi; ow++) {
                    REAL v = xr[ow * SW];
                    if (v > y[ow] || v != v) {
                        y[ow] = v;
                        idx[ow] = (int64_t)(ih * W + ow * SW + off);
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
 * row of output row oh is inside the input. */
static inline int FN(interior)(const cc_pool2d_geometry *g, ptrdiff_t oh, ptrdiff_t KH,
                               ptrdiff_t KW, ptrdiff_t SW, ptrdiff_t *lo, ptrdiff_t *hi)
{
    const ptrdiff_t hstart = oh * g->sh - g->ph;
    ptrdiff_t lo0, hi0, lo1, hi1;
    cc_tap_range(g->W, g->Wout, SW, -g->pw, &lo0, &hi0);
    cc_tap_range(g->W, g->Wout, SW, (KW - 1) * g->dw - g->pw, &lo1, &hi1);
    *lo = lo0 > lo1 ? lo0 : lo1;
    *hi = hi0 < hi1 ? hi0 : hi1;
    if (*hi < *lo)
        *hi = *lo;
    return hstart >= 0 && hstart + (KH - 1) * g->dh < g->H;
}

/* One output row of max pooling.  With a compile-time window (FUSED) the interior goes
 * in one pass, every tap of an output in registers and vectorised across outputs, and
 * the edges tap by tap; other windows go tap by tap (their runtime tap loops would
 * not vectorise across outputs). */
static inline __attribute__((always_inline)) void
FN(max_row)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t oh, REAL *restrict y,
            int64_t *restrict idx, const ptrdiff_t KH, const ptrdiff_t KW, const ptrdiff_t SW,
            const int FUSED)
{
    ptrdiff_t lo, hi;
    if (!FUSED || !FN(interior)(g, oh, KH, KW, SW, &lo, &hi) || hi == lo) {
        FN(max_row_taps)(g, xp, oh, 0, g->Wout, y, idx, KH, KW, SW);
        return;
    }
    FN(max_row_taps)(g, xp, oh, 0, lo, y, idx, KH, KW, SW);
    FN(max_row_taps)(g, xp, oh, hi, g->Wout, y, idx, KH, KW, SW);
    const ptrdiff_t W = g->W, dh = g->dh, dw = g->dw;
    const ptrdiff_t row0 = (oh * g->sh - g->ph) * W - g->pw;
    const REAL *base = xp + row0;
    if (idx) {
        for (ptrdiff_t ow = lo; ow < hi; ow++) {
            REAL a = -(REAL)INFINITY;
            int64_t at = (int64_t)(row0 + ow * SW);
            for (ptrdiff_t i = 0; i < KH; i++)
                for (ptrdiff_t j = 0; j < KW; j++) {
                    ptrdiff_t o = i * dh * W + j * dw + ow * SW;
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
        for (ptrdiff_t ow = lo; ow < hi; ow++) {
            REAL a = -(REAL)INFINITY;
            int nan = 0;
            for (ptrdiff_t i = 0; i < KH; i++)
                for (ptrdiff_t j = 0; j < KW; j++) {
                    REAL v = base[i * dh * W + j * dw + ow * SW];
                    a = v > a ? v : a;
                    nan |= v != v;
                }
            y[ow] = nan ? (REAL)NAN : a;
        }
    }
}

/* Columns [ow0, ow1) of one row of average pooling, one pass per tap (no dilation). */
static inline __attribute__((always_inline)) void
FN(avg_row_taps)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t oh, ptrdiff_t ow0,
                 ptrdiff_t ow1, REAL *restrict y, int count_include_pad,
                 ptrdiff_t divisor_override, const ptrdiff_t KH, const ptrdiff_t KW,
                 const ptrdiff_t SW)
{
    const ptrdiff_t H = g->H, W = g->W, Wout = g->Wout;
    const ptrdiff_t hstart = oh * g->sh - g->ph;
    ptrdiff_t i0, i1, j0, j1;
    if (ow1 <= ow0)
        return;
    cc_taps_inside(hstart, KH, 1, H, &i0, &i1);
    /* taps that reach the input for some ow in [ow0, ow1), as in max_row_taps */
    cc_taps_inside((ow1 - 1) * SW - g->pw, KW, 1, W + (ow1 - 1 - ow0) * SW, &j0, &j1);
    for (ptrdiff_t ow = ow0; ow < ow1; ow++)
        y[ow] = 0;
    for (ptrdiff_t i = i0; i < i1; i++) {
        const ptrdiff_t ih = hstart + i;
        for (ptrdiff_t j = j0; j < j1; j++) {
            const ptrdiff_t off = j - g->pw;
            ptrdiff_t lo, hi;
            cc_tap_range(W, Wout, SW, off, &lo, &hi);
            lo = lo > ow0 ? lo : ow0;
            hi = hi < ow1 ? hi : ow1;
            const REAL *xr = xp + ih * W + off;
            for (ptrdiff_t ow = lo; ow < hi; ow++)
                y[ow] += xr[ow * SW];
        }
    }
    /* Divisor: cells of the window inside the padded input [-p, L + p) (count_include_pad)
     * or inside the input [0, L); the ceil-mode overhang is never counted. */
    ptrdiff_t hend = hstart + KH < H + g->ph ? hstart + KH : H + g->ph;
    ptrdiff_t rows_pad = hend - hstart;
    ptrdiff_t rows_in = (hend < H ? hend : H) - (hstart > 0 ? hstart : 0);
    for (ptrdiff_t ow = ow0; ow < ow1; ow++) {
        ptrdiff_t divisor = divisor_override;
        if (!divisor) {
            ptrdiff_t wstart = ow * SW - g->pw;
            ptrdiff_t wend = wstart + KW < W + g->pw ? wstart + KW : W + g->pw;
            if (count_include_pad)
                divisor = rows_pad * (wend - wstart);
            else
                divisor = rows_in * ((wend < W ? wend : W) - (wstart > 0 ? wstart : 0));
        }
        y[ow] /= (REAL)divisor;
    }
}

/* One output row of average pooling, split as max_row.  Both ways sum a window in
 * row-major order from zero, so every output rounds the same either way (and as
 * PyTorch's loop does). */
static inline __attribute__((always_inline)) void
FN(avg_row)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t oh, REAL *restrict y,
            int count_include_pad, ptrdiff_t divisor_override, const ptrdiff_t KH,
            const ptrdiff_t KW, const ptrdiff_t SW, const int FUSED)
{
    ptrdiff_t lo, hi;
    if (!FUSED || !FN(interior)(g, oh, KH, KW, SW, &lo, &hi) || hi == lo) {
        FN(avg_row_taps)(g, xp, oh, 0, g->Wout, y, count_include_pad, divisor_override, KH,
                         KW, SW);
        return;
    }
    FN(avg_row_taps)(g, xp, oh, 0, lo, y, count_include_pad, divisor_override, KH, KW, SW);
    FN(avg_row_taps)(g, xp, oh, hi, g->Wout, y, count_include_pad, divisor_override, KH, KW,
                     SW);
    const ptrdiff_t W = g->W;
    const REAL *base = xp + (oh * g->sh - g->ph) * W - g->pw;
    /* a whole window inside the input: both divisor rules give KH * KW */
    const REAL divisor = (REAL)(divisor_override ? divisor_override : KH * KW);
    for (ptrdiff_t ow = lo; ow < hi; ow++) {
        REAL sum = 0;
        for (ptrdiff_t i = 0; i < KH; i++)
            for (ptrdiff_t j = 0; j < KW; j++)
                sum += base[i * W + j + ow * SW];
        y[ow] = sum / divisor;
    }
}

/* Plane drivers: constant window shapes for the common fast paths (2x2/2, 3x3/2,
 * 3x3/1 and the 1-D 2/2), then any window. */
static void FN(max_plane)(const cc_pool2d_geometry *g, const REAL *xp, REAL *yp, int64_t *ip)
{
    const ptrdiff_t Wout = g->Wout;
    const int d1 = g->dh == 1 && g->dw == 1;
    const int k2 = d1 && g->kh == 2 && g->kw == 2, k3 = d1 && g->kh == 3 && g->kw == 3;
    const int k12 = d1 && g->kh == 1 && g->kw == 2;  /* the 1-D pools */
    for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
        REAL *y = yp + oh * Wout;
        int64_t *idx = ip ? ip + oh * Wout : NULL;
        if (k12 && g->sw == 2)
            FN(max_row)(g, xp, oh, y, idx, 1, 2, 2, 1);
        else if (k2 && g->sw == 2)
            FN(max_row)(g, xp, oh, y, idx, 2, 2, 2, 1);
        else if (k3 && g->sw == 2)
            FN(max_row)(g, xp, oh, y, idx, 3, 3, 2, 1);
        else if (k3 && g->sw == 1)
            FN(max_row)(g, xp, oh, y, idx, 3, 3, 1, 1);
        else if (g->sw == 1)
            FN(max_row)(g, xp, oh, y, idx, g->kh, g->kw, 1, 0);
        else
            FN(max_row)(g, xp, oh, y, idx, g->kh, g->kw, g->sw, 0);
    }
}

static void FN(avg_plane)(const cc_pool2d_geometry *g, const REAL *xp, REAL *yp, int cip,
                          ptrdiff_t dov)
{
    const int k2 = g->kh == 2 && g->kw == 2, k3 = g->kh == 3 && g->kw == 3;
    const int k12 = g->kh == 1 && g->kw == 2;
    for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
        REAL *y = yp + oh * g->Wout;
        if (k12 && g->sw == 2)
            FN(avg_row)(g, xp, oh, y, cip, dov, 1, 2, 2, 1);
        else if (k2 && g->sw == 2)
            FN(avg_row)(g, xp, oh, y, cip, dov, 2, 2, 2, 1);
        else if (k3 && g->sw == 2)
            FN(avg_row)(g, xp, oh, y, cip, dov, 3, 3, 2, 1);
        else if (k3 && g->sw == 1)
            FN(avg_row)(g, xp, oh, y, cip, dov, 3, 3, 1, 1);
        else if (g->sw == 1)
            FN(avg_row)(g, xp, oh, y, cip, dov, g->kh, g->kw, 1, 0);
        else
            FN(avg_row)(g, xp, oh, y, cip, dov, g->kh, g->kw, g->sw, 0);
    }
}

void CC_CAT3(cc_max_pool2d, SFX, CC_ISA)(const cc_pool2d_geometry *g, const REAL *x, REAL *y,
                                         int64_t *indices, int n_threads)
{
    n_threads = cc_plane_threads(g->planes, g->H * g->W, n_threads);
    const ptrdiff_t in_plane = g->H * g->W, out_plane = g->Hout * g->Wout;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < g->planes; p++)
        FN(max_plane)(g, x + p * in_plane, y + p * out_plane,
                      indices ? indices + p * out_plane : NULL);
}

void CC_CAT3(cc_avg_pool2d, SFX, CC_ISA)(const cc_pool2d_geometry *g, const REAL *x, REAL *y,
                                         int count_include_pad, ptrdiff_t divisor_override,
                                         int n_threads)
{
    n_threads = cc_plane_threads(g->planes, g->H * g->W, n_threads);
    const ptrdiff_t in_plane = g->H * g->W, out_plane = g->Hout * g->Wout;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < g->planes; p++)
        FN(avg_plane)(g, x + p * in_plane, y + p * out_plane, count_include_pad,
                      divisor_override);
}

#undef FN
#undef CC_CAT3
#undef CC_CAT3_
