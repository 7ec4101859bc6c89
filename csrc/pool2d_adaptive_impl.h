/* Adaptive (and global) pooling over (D, H, W) volumes (D = 1 in 2-D): one template for float and double, instantiated by pool2d_adaptive.c
 * (REAL, SFX).  Portable C; parallel over planes.  Output cell i of n
 * along a length L covers PyTorch's window [floor(i*L/n), ceil((i+1)*L/n)), summed or
 * compared in row-major order (the max rule is max_pool2d's). */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)

void FN(cc_adaptive_avg_pool3d)(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H, ptrdiff_t W,
                                ptrdiff_t Dout, ptrdiff_t Hout, ptrdiff_t Wout, const REAL *x,
                                REAL *y, int n_threads)
{
    n_threads = cc_plane_threads(planes, D * H * W, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < planes; p++) {
        const REAL *xp = x + p * D * H * W;
        REAL *yp = y + p * Dout * Hout * Wout;
        for (ptrdiff_t od = 0; od < Dout; od++) {
            ptrdiff_t d0 = cc_adaptive_start(od, Dout, D), d1 = cc_adaptive_end(od, Dout, D);
            for (ptrdiff_t oh = 0; oh < Hout; oh++) {
                ptrdiff_t h0 = cc_adaptive_start(oh, Hout, H), h1 = cc_adaptive_end(oh, Hout, H);
                for (ptrdiff_t ow = 0; ow < Wout; ow++) {
                    ptrdiff_t w0 = cc_adaptive_start(ow, Wout, W);
                    ptrdiff_t w1 = cc_adaptive_end(ow, Wout, W);
                    REAL sum = 0;
                    for (ptrdiff_t id = d0; id < d1; id++)
                        for (ptrdiff_t ih = h0; ih < h1; ih++)
                            for (ptrdiff_t iw = w0; iw < w1; iw++)
                                sum += xp[(id * H + ih) * W + iw];
                    yp[(od * Hout + oh) * Wout + ow] =
                        sum / (REAL)((d1 - d0) * (h1 - h0) * (w1 - w0));
                }
            }
        }
    }
}

void FN(cc_adaptive_max_pool3d)(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H, ptrdiff_t W,
                                ptrdiff_t Dout, ptrdiff_t Hout, ptrdiff_t Wout, const REAL *x,
                                REAL *y, int64_t *indices, int n_threads)
{
    n_threads = cc_plane_threads(planes, D * H * W, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < planes; p++) {
        const REAL *xp = x + p * D * H * W;
        for (ptrdiff_t od = 0; od < Dout; od++) {
            ptrdiff_t d0 = cc_adaptive_start(od, Dout, D), d1 = cc_adaptive_end(od, Dout, D);
            for (ptrdiff_t oh = 0; oh < Hout; oh++) {
                ptrdiff_t h0 = cc_adaptive_start(oh, Hout, H), h1 = cc_adaptive_end(oh, Hout, H);
                for (ptrdiff_t ow = 0; ow < Wout; ow++) {
                    ptrdiff_t w0 = cc_adaptive_start(ow, Wout, W);
                    ptrdiff_t w1 = cc_adaptive_end(ow, Wout, W);
                    REAL best = -(REAL)INFINITY;
                    ptrdiff_t arg = (d0 * H + h0) * W + w0;
                    for (ptrdiff_t id = d0; id < d1; id++)
                        for (ptrdiff_t ih = h0; ih < h1; ih++)
                            for (ptrdiff_t iw = w0; iw < w1; iw++) {
                                REAL v = xp[(id * H + ih) * W + iw];
                                if (v > best || v != v) {
                                    best = v;
                                    arg = (id * H + ih) * W + iw;
                                }
                            }
                    ptrdiff_t o = ((p * Dout + od) * Hout + oh) * Wout + ow;
                    y[o] = best;
                    if (indices)
                        indices[o] = (int64_t)arg;
                }
            }
        }
    }
}

/* The 2-D functions: volumes of depth 1. */
void FN(cc_adaptive_avg_pool2d)(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Hout,
                                ptrdiff_t Wout, const REAL *x, REAL *y, int n_threads)
{
    FN(cc_adaptive_avg_pool3d)(planes, 1, H, W, 1, Hout, Wout, x, y, n_threads);
}

void FN(cc_adaptive_max_pool2d)(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Hout,
                                ptrdiff_t Wout, const REAL *x, REAL *y, int64_t *indices,
                                int n_threads)
{
    FN(cc_adaptive_max_pool3d)(planes, 1, H, W, 1, Hout, Wout, x, y, indices, n_threads);
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
