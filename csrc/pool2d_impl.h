/* Max and average pooling, NCHW: one template instantiated per dtype and ISA.
 *
 * The including file defines REAL, SFX and CC_ISA and compiles this under a matching
 * `#pragma GCC target`.  Each (n, c) plane is one task.  An output row is computed in
 * place: the row is initialised, then every window tap (i, j) sweeps it once, reading
 * input row ih = oh*sh - ph + i*dh at columns ow*sw - pw + j*dw over exactly the range
 * of ow where that column is inside the row (so no bounds test in the inner loop, and
 * padding never enters a max or a sum).  The inner loops are unit- or constant-stride
 * over ow and vectorise; the 2x2/2 and 3x3/2 windows are compiled with constant sizes.
 *
 * Taps are visited in row-major window order, and a value replaces the running max
 * when it is greater or NaN, which is PyTorch's rule: the first maximum wins ties, and
 * NaN propagates (the last NaN of a window gives its index).
 */
#define CC_CAT3_(a, b, c) a##_##b##_##c
#define CC_CAT3(a, b, c) CC_CAT3_(a, b, c)
#define FN(name) CC_CAT3(name, SFX, CC_ISA)

#ifndef CC_POOL_HELPERS
#define CC_POOL_HELPERS
/* Output columns [*lo, *hi) whose tap at input offset `off` (= j*dw - pw) is inside
 * [0, W): 0 <= ow*sw + off < W. */
static inline void cc_tap_range(ptrdiff_t W, ptrdiff_t Wout, ptrdiff_t sw, ptrdiff_t off,
                                ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t a = off >= 0 ? 0 : (-off + sw - 1) / sw;
    ptrdiff_t b = W - off <= 0 ? 0 : (W - 1 - off) / sw + 1;
    if (b > Wout)
        b = Wout;
    *lo = a;
    *hi = b > a ? b : a;
}

/* First index >= start of the progression start + t*step that is >= 0. */
static inline ptrdiff_t cc_first_inside(ptrdiff_t start, ptrdiff_t step)
{
    return start >= 0 ? start : start + ((-start + step - 1) / step) * step;
}
#endif

/* One output row of max pooling; KH, KW, SW are constants where the caller inlines. */
static inline __attribute__((always_inline)) void
FN(max_row)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t oh, REAL *y, int64_t *idx,
            const ptrdiff_t KH, const ptrdiff_t KW, const ptrdiff_t SW)
{
    const ptrdiff_t H = g->H, W = g->W, Wout = g->Wout, dh = g->dh, dw = g->dw;
    const ptrdiff_t hstart = oh * g->sh - g->ph;
    for (ptrdiff_t ow = 0; ow < Wout; ow++)
        y[ow] = -(REAL)INFINITY;
    if (idx) {
        /* PyTorch's initial index: the window's first cell inside the input */
        const ptrdiff_t ih0 = cc_first_inside(hstart, dh);
        for (ptrdiff_t ow = 0; ow < Wout; ow++)
            idx[ow] = (int64_t)(ih0 * W + cc_first_inside(ow * SW - g->pw, dw));
    }
    for (ptrdiff_t i = 0; i < KH; i++) {
        const ptrdiff_t ih = hstart + i * dh;
        if (ih < 0 || ih >= H)
            continue;
        for (ptrdiff_t j = 0; j < KW; j++) {
            const ptrdiff_t off = j * dw - g->pw;
            ptrdiff_t lo, hi;
            cc_tap_range(W, Wout, SW, off, &lo, &hi);
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

/* One output row of average pooling (no dilation, as in PyTorch). */
static inline __attribute__((always_inline)) void
FN(avg_row)(const cc_pool2d_geometry *g, const REAL *xp, ptrdiff_t oh, REAL *y,
            int count_include_pad, ptrdiff_t divisor_override, const ptrdiff_t KH,
            const ptrdiff_t KW, const ptrdiff_t SW)
{
    const ptrdiff_t H = g->H, W = g->W, Wout = g->Wout;
    const ptrdiff_t hstart = oh * g->sh - g->ph;
    for (ptrdiff_t ow = 0; ow < Wout; ow++)
        y[ow] = 0;
    for (ptrdiff_t i = 0; i < KH; i++) {
        const ptrdiff_t ih = hstart + i;
        if (ih < 0 || ih >= H)
            continue;
        for (ptrdiff_t j = 0; j < KW; j++) {
            const ptrdiff_t off = j - g->pw;
            ptrdiff_t lo, hi;
            cc_tap_range(W, Wout, SW, off, &lo, &hi);
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
    for (ptrdiff_t ow = 0; ow < Wout; ow++) {
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

/* Plane drivers: constant window shapes for the common fast paths. */
static void FN(max_plane)(const cc_pool2d_geometry *g, const REAL *xp, REAL *yp, int64_t *ip)
{
    const ptrdiff_t Wout = g->Wout;
    const int d1 = g->dh == 1 && g->dw == 1;
    for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
        REAL *y = yp + oh * Wout;
        int64_t *idx = ip ? ip + oh * Wout : NULL;
        if (d1 && g->kh == 2 && g->kw == 2 && g->sw == 2)
            FN(max_row)(g, xp, oh, y, idx, 2, 2, 2);
        else if (d1 && g->kh == 3 && g->kw == 3 && g->sw == 2)
            FN(max_row)(g, xp, oh, y, idx, 3, 3, 2);
        else if (g->sw == 1)
            FN(max_row)(g, xp, oh, y, idx, g->kh, g->kw, 1);
        else
            FN(max_row)(g, xp, oh, y, idx, g->kh, g->kw, g->sw);
    }
}

static void FN(avg_plane)(const cc_pool2d_geometry *g, const REAL *xp, REAL *yp, int cip,
                          ptrdiff_t dov)
{
    for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
        REAL *y = yp + oh * g->Wout;
        if (g->kh == 2 && g->kw == 2 && g->sw == 2)
            FN(avg_row)(g, xp, oh, y, cip, dov, 2, 2, 2);
        else if (g->kh == 3 && g->kw == 3 && g->sw == 2)
            FN(avg_row)(g, xp, oh, y, cip, dov, 3, 3, 2);
        else if (g->sw == 1)
            FN(avg_row)(g, xp, oh, y, cip, dov, g->kh, g->kw, 1);
        else
            FN(avg_row)(g, xp, oh, y, cip, dov, g->kh, g->kw, g->sw);
    }
}

/* Few planes or tiny ones: not worth waking a thread team. */
static int FN(pool_threads)(const cc_pool2d_geometry *g, int n_threads)
{
    return g->planes * g->H * g->W < 32768 || g->planes < 2 ? 1 : n_threads;
}

void CC_CAT3(cc_max_pool2d, SFX, CC_ISA)(const cc_pool2d_geometry *g, const REAL *x, REAL *y,
                                         int64_t *indices, int n_threads)
{
    n_threads = FN(pool_threads)(g, n_threads);
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
    n_threads = FN(pool_threads)(g, n_threads);
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
