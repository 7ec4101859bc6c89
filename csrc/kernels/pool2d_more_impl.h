/* The other pooling passes as micro-kernels of one ISA: the backward passes, max
 * unpooling, adaptive pooling and the channels-last (NHWC) pools.  Included by
 * kernels/pool2d_impl.h (so once per dtype and ISA, under the ISA's `#pragma GCC
 * target`, with REAL, SFX and FN defined); the driver (driver/pool2d_dispatch.c) splits
 * the planes or rows among the threads.
 *
 * These are plain loops over contiguous runs that the compiler vectorises in the ISA's
 * width: a window row's cells (average backward), an unpooled plane's zeroing, and the
 * C channels of a pixel (NHWC, one unit-stride sweep per window tap).  The scatters
 * (max backward and unpooling) and the adaptive windows' sums stay scalar: a sum is
 * never reassociated, so every level gives the same bits.
 *
 * Rules, as the NCHW forward kernels': taps are visited in row-major window order; a
 * value replaces the running max when it is greater or NaN (the first maximum wins ties,
 * NaN propagates, the last NaN gives the index); taps outside the input are never
 * visited; a window is summed in row-major order from zero.  Gradients are accumulated
 * output by output in row-major order, as PyTorch does, so overlapping windows sum in
 * the same order. */

/* ---- backward passes and unpooling: one (n, c) volume each ---- */

static void FN(max_backward_plane)(const cc_pool2d_geometry *g, const REAL *go,
                                   const int64_t *ix, REAL *gi)
{
    const ptrdiff_t in_plane = g->D * g->H * g->W, out_plane = g->Dout * g->Hout * g->Wout;
    memset(gi, 0, (size_t)in_plane * sizeof(REAL));
    for (ptrdiff_t o = 0; o < out_plane; o++)
        if (ix[o] >= 0) /* -1: a window with no cell inside the input */
            gi[ix[o]] += go[o];
}

static void FN(avg_backward_plane)(const cc_pool2d_geometry *g, const REAL *go, REAL *gi,
                                   int count_include_pad, ptrdiff_t divisor_override)
{
    const ptrdiff_t D = g->D, H = g->H, W = g->W;
    memset(gi, 0, (size_t)(D * H * W) * sizeof(REAL));
    for (ptrdiff_t od = 0; od < g->Dout; od++) {
        const ptrdiff_t ds = od * g->sd - g->pd;
        const ptrdiff_t de = ds + g->kd < D + g->pd ? ds + g->kd : D + g->pd;
        const ptrdiff_t d0 = ds > 0 ? ds : 0, d1 = de < D ? de : D;
        for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
            const ptrdiff_t hs = oh * g->sh - g->ph;
            const ptrdiff_t he = hs + g->kh < H + g->ph ? hs + g->kh : H + g->ph;
            const ptrdiff_t rows_pad = (de - ds) * (he - hs);
            const ptrdiff_t h0 = hs > 0 ? hs : 0, h1 = he < H ? he : H;
            const REAL *gr = go + (od * g->Hout + oh) * g->Wout;
            for (ptrdiff_t ow = 0; ow < g->Wout; ow++) {
                const ptrdiff_t ws = ow * g->sw - g->pw;
                const ptrdiff_t we = ws + g->kw < W + g->pw ? ws + g->kw : W + g->pw;
                const ptrdiff_t w0 = ws > 0 ? ws : 0, w1 = we < W ? we : W;
                const ptrdiff_t divisor = divisor_override ? divisor_override
                                          : count_include_pad ? rows_pad * (we - ws)
                                          : (d1 - d0) * (h1 - h0) * (w1 - w0);
                const REAL delta = gr[ow] / (REAL)divisor;
                for (ptrdiff_t id = d0; id < d1; id++)
                    for (ptrdiff_t ih = h0; ih < h1; ih++) {
                        REAL *restrict row = gi + (id * H + ih) * W;
                        for (ptrdiff_t iw = w0; iw < w1; iw++)
                            row[iw] += delta;
                    }
            }
        }
    }
}

/* One plane of max unpooling: a scatter (a repeated index keeps the last value). */
static void FN(unpool_plane)(ptrdiff_t in_plane, ptrdiff_t out_plane, const REAL *xp,
                             const int64_t *ip, REAL *yp)
{
    memset(yp, 0, (size_t)out_plane * sizeof(REAL));
    for (ptrdiff_t i = 0; i < in_plane; i++)
        yp[ip[i]] = xp[i];
}

/* ---- adaptive pooling: one (D, H, W) volume each, PyTorch's windows ---- */

static void FN(adaptive_avg_plane)(const cc_adaptive_shape *s, const REAL *xp, REAL *yp)
{
    const ptrdiff_t H = s->H, W = s->W;
    for (ptrdiff_t od = 0; od < s->Dout; od++) {
        const ptrdiff_t d0 = cc_adaptive_start(od, s->Dout, s->D);
        const ptrdiff_t d1 = cc_adaptive_end(od, s->Dout, s->D);
        for (ptrdiff_t oh = 0; oh < s->Hout; oh++) {
            const ptrdiff_t h0 = cc_adaptive_start(oh, s->Hout, H);
            const ptrdiff_t h1 = cc_adaptive_end(oh, s->Hout, H);
            for (ptrdiff_t ow = 0; ow < s->Wout; ow++) {
                const ptrdiff_t w0 = cc_adaptive_start(ow, s->Wout, W);
                const ptrdiff_t w1 = cc_adaptive_end(ow, s->Wout, W);
                REAL sum = 0;
                for (ptrdiff_t id = d0; id < d1; id++)
                    for (ptrdiff_t ih = h0; ih < h1; ih++)
                        for (ptrdiff_t iw = w0; iw < w1; iw++)
                            sum += xp[(id * H + ih) * W + iw];
                yp[(od * s->Hout + oh) * s->Wout + ow] =
                    sum / (REAL)((d1 - d0) * (h1 - h0) * (w1 - w0));
            }
        }
    }
}

static void FN(adaptive_max_plane)(const cc_adaptive_shape *s, const REAL *xp, REAL *yp,
                                   int64_t *ip)
{
    const ptrdiff_t H = s->H, W = s->W;
    for (ptrdiff_t od = 0; od < s->Dout; od++) {
        const ptrdiff_t d0 = cc_adaptive_start(od, s->Dout, s->D);
        const ptrdiff_t d1 = cc_adaptive_end(od, s->Dout, s->D);
        for (ptrdiff_t oh = 0; oh < s->Hout; oh++) {
            const ptrdiff_t h0 = cc_adaptive_start(oh, s->Hout, H);
            const ptrdiff_t h1 = cc_adaptive_end(oh, s->Hout, H);
            for (ptrdiff_t ow = 0; ow < s->Wout; ow++) {
                const ptrdiff_t w0 = cc_adaptive_start(ow, s->Wout, W);
                const ptrdiff_t w1 = cc_adaptive_end(ow, s->Wout, W);
                REAL best = -(REAL)INFINITY;
                ptrdiff_t arg = (d0 * H + h0) * W + w0;
                for (ptrdiff_t id = d0; id < d1; id++)
                    for (ptrdiff_t ih = h0; ih < h1; ih++)
                        for (ptrdiff_t iw = w0; iw < w1; iw++) {
                            const REAL v = xp[(id * H + ih) * W + iw];
                            if (v > best || v != v) {
                                best = v;
                                arg = (id * H + ih) * W + iw;
                            }
                        }
                const ptrdiff_t o = (od * s->Hout + oh) * s->Wout + ow;
                yp[o] = best;
                if (ip)
                    ip[o] = (int64_t)arg;
            }
        }
    }
}

/* ---- channels-last pools: output row `row` (= n * Hout + oh), C channels a pixel ---- */

static void FN(max_nhwc_row)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x,
                             REAL *y, int64_t *indices, ptrdiff_t row)
{
    const ptrdiff_t H = g->H, W = g->W, Hout = g->Hout, Wout = g->Wout;
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
        if (io) { /* the first cell inside the input, or -1 when there is none */
            const int64_t first = i0 < i1 && j0 < j1
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
        for (ptrdiff_t c = 0; c < C; c++) /* a quiet NaN, as the NCHW kernels give */
            yo[c] = yo[c] != yo[c] ? (REAL)NAN : yo[c];
    }
}

static void FN(avg_nhwc_row)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x,
                             REAL *y, int count_include_pad, ptrdiff_t divisor_override,
                             ptrdiff_t row)
{
    const ptrdiff_t H = g->H, W = g->W, Hout = g->Hout, Wout = g->Wout;
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
