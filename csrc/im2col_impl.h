/* im2col / col2im, one template instantiated for float and double by im2col.c.
 * The including file defines REAL and SFX.
 *
 * Column matrix of one image: rows (c, r, s) in that order, columns the output pixels
 * p = oh * Wout + ow, as torch.nn.functional.unfold.  Rows are filled one output row
 * segment at a time; with stride 1 the in-bounds part of a segment is one memcpy. */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)

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

void CC_CAT2(cc_im2col, SFX)(const cc_conv2d_geometry *g, const REAL *x_image, ptrdiff_t row0,
                   ptrdiff_t nrows, ptrdiff_t p0, ptrdiff_t np, REAL *cols)
{
    const ptrdiff_t RS = g->R * g->S;
    for (ptrdiff_t i = 0; i < nrows; i++) {
        const ptrdiff_t row = row0 + i, c = row / RS, r = (row / g->S) % g->R, s = row % g->S;
        const REAL *xc = x_image + c * g->H * g->W;
        REAL *out = cols + i * np;
        ptrdiff_t p = p0, end = p0 + np;
        while (p < end) {
            ptrdiff_t oh = p / g->Wout, ow = p % g->Wout;
            ptrdiff_t n = g->Wout - ow < end - p ? g->Wout - ow : end - p;
            ptrdiff_t ih = cc_pad_index(oh * g->stride_h - g->pad_top + r * g->dil_h, g->H,
                                        g->pad_mode);
            if (ih < 0) {
                memset(out, 0, (size_t)n * sizeof(REAL));
            } else {
                ptrdiff_t iw0 = ow * g->stride_w - g->pad_left + s * g->dil_w;
                FN(gather_row)(xc + ih * g->W, g->W, iw0, g->stride_w, n, g->pad_mode, out);
            }
            out += n;
            p += n;
        }
    }
}

/* Add the rows of channel c of one image's column matrix into plane (H, W). */
static void FN(col2im_channel)(const cc_conv2d_geometry *g, const REAL *cols, ptrdiff_t c,
                               REAL *plane)
{
    const ptrdiff_t L = g->Hout * g->Wout;
    memset(plane, 0, (size_t)(g->H * g->W) * sizeof(REAL));
    for (ptrdiff_t r = 0; r < g->R; r++) {
        for (ptrdiff_t s = 0; s < g->S; s++) {
            const REAL *src = cols + ((c * g->R + r) * g->S + s) * L;
            for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
                ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dil_h;
                if (ih < 0 || ih >= g->H)
                    continue;
                REAL *dst = plane + ih * g->W;
                const REAL *srow = src + oh * g->Wout;
                ptrdiff_t iw0 = s * g->dil_w - g->pad_left;
                for (ptrdiff_t ow = 0; ow < g->Wout; ow++) {
                    ptrdiff_t iw = iw0 + ow * g->stride_w;
                    if (iw >= 0 && iw < g->W)
                        dst[iw] += srow[ow];
                }
            }
        }
    }
}

void CC_CAT2(cc_col2im, SFX)(const cc_conv2d_geometry *g, const REAL *cols, REAL *x_image)
{
    for (ptrdiff_t c = 0; c < g->C; c++)
        FN(col2im_channel)(g, cols, c, x_image + c * g->H * g->W);
}

/* Tasks [t0, t1) of the batch, parallel over (image, channel): each task owns its rows /
 * plane, so the result does not depend on the thread count. */
void CC_CAT2(cc_im2col_batch_range, SFX)(const cc_conv2d_geometry *g, const REAL *x, REAL *cols,
                                         ptrdiff_t t0, ptrdiff_t t1, int n_threads)
{
    const ptrdiff_t RS = g->R * g->S, L = g->Hout * g->Wout;
    if ((t1 - t0) * RS * L < 32768)
        n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t t = t0; t < t1; t++) {
        ptrdiff_t n = t / g->C, c = t % g->C;
        CC_CAT2(cc_im2col, SFX)(g, x + n * g->C * g->H * g->W, c * RS, RS, 0, L,
                      cols + (n * g->C + c) * RS * L);
    }
}

void CC_CAT2(cc_col2im_batch_range, SFX)(const cc_conv2d_geometry *g, const REAL *cols, REAL *x,
                                         ptrdiff_t t0, ptrdiff_t t1, int n_threads)
{
    const ptrdiff_t RS = g->R * g->S, L = g->Hout * g->Wout;
    if ((t1 - t0) * RS * L < 32768)
        n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t t = t0; t < t1; t++) {
        ptrdiff_t n = t / g->C, c = t % g->C;
        FN(col2im_channel)(g, cols + n * g->C * RS * L, c, x + (n * g->C + c) * g->H * g->W);
    }
}

void CC_CAT2(cc_im2col_batch, SFX)(const cc_conv2d_geometry *g, const REAL *x, REAL *cols, int n_threads)
{
    CC_CAT2(cc_im2col_batch_range, SFX)(g, x, cols, 0, g->N * g->C, n_threads);
}

void CC_CAT2(cc_col2im_batch, SFX)(const cc_conv2d_geometry *g, const REAL *cols, REAL *x, int n_threads)
{
    CC_CAT2(cc_col2im_batch_range, SFX)(g, cols, x, 0, g->N * g->C, n_threads);
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
