/* im2col / col2im over 1, 2 or 3 spatial dimensions as micro-kernels of one ISA: included
 * by kernels/im2col_isa.h once per dtype (REAL, SFX, CC_ISA), under the ISA's `#pragma
 * GCC target`, so that the compiler vectorises the copies at the ISA's width; the
 * driver (driver/im2col.c) runs them over the batch.
 *
 * Column matrix of one image: rows (c, *taps) in that order (the last kernel dimension
 * fastest), columns the output positions in row-major order, as
 * torch.nn.functional.unfold in 2-D.  The outer dimensions are walked as rows of the
 * innermost one: a column segment is one output row, read from one input row (or zeros
 * when that row is in the padding); with stride 1 its in-bounds part is one memcpy. */
#define IC_CAT3_(a, b, c) a##_##b##_##c
#define IC_CAT3(a, b, c) IC_CAT3_(a, b, c)
#define FN(name) IC_CAT3(name, SFX, CC_ISA)

/* cols[j] = x_row[iw0 + j * sw] for j < n; outside [0, W) a zero, or under a border
 * mode the element the mode maps the column to. */
static void FN(gather_row)(const REAL *x_row, ptrdiff_t W, ptrdiff_t iw0, ptrdiff_t sw,
                           ptrdiff_t n, int mode, REAL *cols)
{
    /* in-bounds j: 0 <= iw0 + j * sw < W */
    ptrdiff_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;
    ptrdiff_t hi = iw0 >= W ? 0 : (W - 1 - iw0) / sw + 1;
    if (lo > n) lo = n;
    if (hi > n) hi = n;
    if (hi < lo) hi = lo;
    for (ptrdiff_t j = 0; j < lo; j++)
        cols[j] = mode == CC_PAD_ZEROS ? 0 : x_row[cc_pad_index(iw0 + j * sw, W, mode)];
    if (sw == 1) {
        memcpy(cols + lo, x_row + iw0 + lo, (size_t)(hi - lo) * sizeof(REAL));
    } else {
        for (ptrdiff_t j = lo; j < hi; j++)
            cols[j] = x_row[iw0 + j * sw];
    }
    for (ptrdiff_t j = hi; j < n; j++)
        cols[j] = mode == CC_PAD_ZEROS ? 0 : x_row[cc_pad_index(iw0 + j * sw, W, mode)];
}

#ifndef CC_IM2COL_SHARED
#define CC_IM2COL_SHARED
/* Per dimension, the kernel index of tap number `tap` (the last dimension fastest). */
static void cc_unfold_tap(const cc_conv_geometry *g, ptrdiff_t tap, ptrdiff_t *k)
{
    for (int d = g->nd - 1; d >= 0; d--) {
        k[d] = tap % g->kernel[d];
        tap /= g->kernel[d];
    }
}

/* The offset in a channel of the input row that output row `orow` (an index over the
 * outer output dimensions) reads at kernel offsets k, or -1 when it is in the padding
 * (padding rows read under border mode `mode`). */
static ptrdiff_t cc_unfold_row(const cc_conv_geometry *g, const ptrdiff_t *k, ptrdiff_t orow,
                               int mode)
{
    ptrdiff_t off = 0, scale = g->in[g->nd - 1];
    for (int d = g->nd - 2; d >= 0; d--) {
        const ptrdiff_t o = orow % g->out[d];
        const ptrdiff_t i = cc_pad_index(o * g->stride[d] - g->pad[d] + k[d] * g->dilation[d],
                                         g->in[d], mode);
        orow /= g->out[d];
        if (i < 0 || i >= g->in[d])
            return -1;
        off += i * scale;
        scale *= g->in[d];
    }
    return off;
}
#endif

/* Rows [row0, row0 + nrows) x columns [p0, p0 + np) of one image's column matrix. */
static void FN(im2col_rows)(const cc_conv_geometry *g, const REAL *x_image, ptrdiff_t row0,
                            ptrdiff_t nrows, ptrdiff_t p0, ptrdiff_t np, REAL *cols)
{
    const int last = g->nd - 1;
    const ptrdiff_t taps = cc_conv_taps(g), plane = cc_conv_in_cells(g);
    const ptrdiff_t W = g->in[last], Wout = g->out[last];
    const ptrdiff_t sw = g->stride[last], dw = g->dilation[last], pl = g->pad[last];
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const ptrdiff_t row = row0 + i, c = row / taps;
        ptrdiff_t k[CC_MAX_DIMS];
        cc_unfold_tap(g, row % taps, k);
        const REAL *xc = x_image + c * plane;
        REAL *out = cols + i * np;
        ptrdiff_t p = p0, end = p0 + np;
        while (p < end) {
            const ptrdiff_t orow = p / Wout, ow = p % Wout;
            const ptrdiff_t n = Wout - ow < end - p ? Wout - ow : end - p;
            const ptrdiff_t off = cc_unfold_row(g, k, orow, g->pad_mode);
            if (off < 0)
                memset(out, 0, (size_t)n * sizeof(REAL));
            else
                FN(gather_row)(xc + off, W, ow * sw - pl + k[last] * dw, sw, n, g->pad_mode,
                               out);
            out += n;
            p += n;
        }
    }
}

/* Add the rows of channel c of one image's column matrix into its input cells. */
static void FN(col2im_channel)(const cc_conv_geometry *g, const REAL *cols, ptrdiff_t c,
                               REAL *plane)
{
    const int last = g->nd - 1;
    const ptrdiff_t taps = cc_conv_taps(g), L = cc_conv_out_cells(g);
    const ptrdiff_t W = g->in[last], Wout = g->out[last], orows = L / Wout;
    const ptrdiff_t sw = g->stride[last], dw = g->dilation[last], pl = g->pad[last];
    memset(plane, 0, (size_t)cc_conv_in_cells(g) * sizeof(REAL));
    for (ptrdiff_t tap = 0; tap < taps; tap++) {
        ptrdiff_t k[CC_MAX_DIMS];
        cc_unfold_tap(g, tap, k);
        const REAL *src = cols + (c * taps + tap) * L;
        const ptrdiff_t iw0 = k[last] * dw - pl;
        for (ptrdiff_t orow = 0; orow < orows; orow++) {
            const ptrdiff_t off = cc_unfold_row(g, k, orow, CC_PAD_ZEROS);
            if (off < 0)
                continue;
            /* the columns inside the row, 0 <= iw0 + ow * sw < W, in one plain loop */
            const ptrdiff_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;
            ptrdiff_t hi = iw0 >= W ? 0 : (W - 1 - iw0) / sw + 1;
            hi = hi < Wout ? hi : Wout;
            if (lo >= hi)
                continue;
            /* the first cell inside the row (a pointer to a padding cell may not exist) */
            REAL *restrict dst = plane + off + iw0 + lo * sw;
            const REAL *restrict srow = src + orow * Wout + lo;
            const ptrdiff_t n = hi - lo;
            if (sw == 1)
                for (ptrdiff_t i = 0; i < n; i++)
                    dst[i] += srow[i];
            else
                for (ptrdiff_t i = 0; i < n; i++)
                    dst[i * sw] += srow[i];
        }
    }
}

#undef FN
#undef IC_CAT3
#undef IC_CAT3_
