/* Max and average pooling on channels-last (NHWC) data: one template per dtype,
 * instantiated by pool2d_nhwc.c (REAL, SFX).
 *
 * The C channels of a pixel are contiguous, so each window tap is one unit-stride sweep
 * over the channels of an output pixel, which the compiler vectorises; the parallel
 * tasks are output rows (n, oh).  Same rules as the NCHW kernels: taps are visited in
 * row-major window order, a value replaces the running max when it is greater or NaN
 * (the first maximum wins ties, NaN propagates, the last NaN gives the index), taps
 * outside the input are never visited, and a window is summed in row-major order from
 * zero, so each output rounds exactly as the NCHW kernels round it. */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)


/* Output rows [r0, r1) of the planes * Hout rows (row = n * Hout + oh), so that a caller
 * can run a pool in chunks of rows and check for interrupts between them. */
void FN(cc_max_pool2d_nhwc_rows)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x,
                                 REAL *y, int64_t *indices, ptrdiff_t r0, ptrdiff_t r1,
                                 int n_threads)
{
    const ptrdiff_t H = g->H, W = g->W, Hout = g->Hout, Wout = g->Wout;
    n_threads = cc_plane_threads(r1 - r0, Wout * C, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t row = r0; row < r1; row++) {
        const ptrdiff_t n = row / Hout, oh = row % Hout;
        const ptrdiff_t hstart = oh * g->sh - g->ph;
        const REAL *xn = x + n * H * W * C;
        ptrdiff_t i0, i1, j0, j1;
        cc_taps_inside(hstart, g->kh, g->dh, H, &i0, &i1);
        for (ptrdiff_t ow = 0; ow < Wout; ow++) {
            REAL *restrict yo = y + (row * Wout + ow) * C;
            int64_t *restrict io = indices ? indices + (row * Wout + ow) * C : NULL;
            const ptrdiff_t wstart = ow * g->sw - g->pw;
            cc_taps_inside(wstart, g->kw, g->dw, W, &j0, &j1);
            for (ptrdiff_t c = 0; c < C; c++)
                yo[c] = -(REAL)INFINITY;
            if (io) {  /* the first cell inside the input, or -1 when there is none */
                int64_t first = i0 < i1 && j0 < j1
                    ? (int64_t)((hstart + i0 * g->dh) * W + wstart + j0 * g->dw) : -1;
                for (ptrdiff_t c = 0; c < C; c++)
                    io[c] = first;
            }
            for (ptrdiff_t i = i0; i < i1; i++) {
                const ptrdiff_t ih = hstart + i * g->dh;
                for (ptrdiff_t j = j0; j < j1; j++) {
                    const ptrdiff_t iw = wstart + j * g->dw;
                    const REAL *restrict xv = xn + (ih * W + iw) * C;
                    if (io) {
                        const int64_t at = (int64_t)(ih * W + iw);
                        for (ptrdiff_t c = 0; c < C; c++) {
                            const int take = xv[c] > yo[c] || xv[c] != xv[c];
                            yo[c] = take ? xv[c] : yo[c];
                            io[c] = take ? at : io[c];
                        }
                    } else {
                        for (ptrdiff_t c = 0; c < C; c++)
                            yo[c] = xv[c] > yo[c] || xv[c] != xv[c] ? xv[c] : yo[c];
                    }
                }
            }
            for (ptrdiff_t c = 0; c < C; c++)  /* a quiet NaN, as the NCHW kernels give */
                yo[c] = yo[c] != yo[c] ? (REAL)NAN : yo[c];
        }
    }
}

void FN(cc_avg_pool2d_nhwc_rows)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x,
                                 REAL *y, int count_include_pad, ptrdiff_t divisor_override,
                                 ptrdiff_t r0, ptrdiff_t r1, int n_threads)
{
    const ptrdiff_t H = g->H, W = g->W, Hout = g->Hout, Wout = g->Wout;
    n_threads = cc_plane_threads(r1 - r0, Wout * C, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t row = r0; row < r1; row++) {
        const ptrdiff_t n = row / Hout, oh = row % Hout;
        const ptrdiff_t hstart = oh * g->sh - g->ph;
        const ptrdiff_t hend = hstart + g->kh < H + g->ph ? hstart + g->kh : H + g->ph;
        const ptrdiff_t h0 = hstart > 0 ? hstart : 0, h1 = hend < H ? hend : H;
        const REAL *xn = x + n * H * W * C;
        for (ptrdiff_t ow = 0; ow < Wout; ow++) {
            REAL *restrict yo = y + (row * Wout + ow) * C;
            const ptrdiff_t wstart = ow * g->sw - g->pw;
            const ptrdiff_t wend = wstart + g->kw < W + g->pw ? wstart + g->kw : W + g->pw;
            const ptrdiff_t w0 = wstart > 0 ? wstart : 0, w1 = wend < W ? wend : W;
            for (ptrdiff_t c = 0; c < C; c++)
                yo[c] = 0;
            for (ptrdiff_t ih = h0; ih < h1; ih++)
                for (ptrdiff_t iw = w0; iw < w1; iw++) {
                    const REAL *restrict xv = xn + (ih * W + iw) * C;
                    for (ptrdiff_t c = 0; c < C; c++)
                        yo[c] += xv[c];
                }
            /* the cells of the window inside the padded input, or inside the input */
            const ptrdiff_t divisor = divisor_override ? divisor_override
                : count_include_pad ? (hend - hstart) * (wend - wstart)
                                    : (h1 - h0) * (w1 - w0);
            for (ptrdiff_t c = 0; c < C; c++)
                yo[c] /= (REAL)divisor;
        }
    }
}

void FN(cc_max_pool2d_nhwc)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x, REAL *y,
                            int64_t *indices, int n_threads)
{
    FN(cc_max_pool2d_nhwc_rows)(g, C, x, y, indices, 0, g->planes * g->Hout, n_threads);
}

void FN(cc_avg_pool2d_nhwc)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x, REAL *y,
                            int count_include_pad, ptrdiff_t divisor_override, int n_threads)
{
    FN(cc_avg_pool2d_nhwc_rows)(g, C, x, y, count_include_pad, divisor_override, 0,
                                g->planes * g->Hout, n_threads);
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
