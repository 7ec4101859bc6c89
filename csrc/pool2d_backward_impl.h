/* Pooling backward passes (and max unpooling, the same scatter): one template for float and double, instantiated by
 * pool2d_backward.c (REAL, SFX).  Portable C; parallel over planes.
 *
 * Gradients are accumulated output by output in row-major order, as PyTorch does, so
 * overlapping windows sum in the same order. */
#define CC_CAT2_(a, b) a##_##b
#define CC_CAT2(a, b) CC_CAT2_(a, b)
#define FN(name) CC_CAT2(name, SFX)


void FN(cc_max_pool2d_backward)(const cc_pool2d_geometry *g, const REAL *grad_out,
                                const int64_t *indices, REAL *grad_in, int n_threads)
{
    const ptrdiff_t in_plane = g->D * g->H * g->W, out_plane = g->Dout * g->Hout * g->Wout;
    n_threads = cc_plane_threads(g->planes, in_plane, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < g->planes; p++) {
        REAL *gi = grad_in + p * in_plane;
        const REAL *go = grad_out + p * out_plane;
        const int64_t *ix = indices + p * out_plane;
        memset(gi, 0, (size_t)in_plane * sizeof(REAL));
        for (ptrdiff_t o = 0; o < out_plane; o++)
            if (ix[o] >= 0)  /* -1: a window with no cell inside the input */
                gi[ix[o]] += go[o];
    }
}

void FN(cc_avg_pool2d_backward)(const cc_pool2d_geometry *g, const REAL *grad_out,
                                REAL *grad_in, int count_include_pad,
                                ptrdiff_t divisor_override, int n_threads)
{
    const ptrdiff_t D = g->D, H = g->H, W = g->W, in_plane = D * H * W;
    const ptrdiff_t out_plane = g->Dout * g->Hout * g->Wout;
    n_threads = cc_plane_threads(g->planes, in_plane, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < g->planes; p++) {
        REAL *gi = grad_in + p * in_plane;
        const REAL *go = grad_out + p * out_plane;
        memset(gi, 0, (size_t)in_plane * sizeof(REAL));
        for (ptrdiff_t od = 0; od < g->Dout; od++) {
            ptrdiff_t ds = od * g->sd - g->pd;
            ptrdiff_t de = ds + g->kd < D + g->pd ? ds + g->kd : D + g->pd;
            ptrdiff_t d0 = ds > 0 ? ds : 0, d1 = de < D ? de : D;
            for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
                ptrdiff_t hs = oh * g->sh - g->ph;
                ptrdiff_t he = hs + g->kh < H + g->ph ? hs + g->kh : H + g->ph;
                ptrdiff_t rows_pad = (de - ds) * (he - hs);
                ptrdiff_t h0 = hs > 0 ? hs : 0, h1 = he < H ? he : H;
                const REAL *gr = go + (od * g->Hout + oh) * g->Wout;
                for (ptrdiff_t ow = 0; ow < g->Wout; ow++) {
                    ptrdiff_t ws = ow * g->sw - g->pw;
                    ptrdiff_t we = ws + g->kw < W + g->pw ? ws + g->kw : W + g->pw;
                    ptrdiff_t w0 = ws > 0 ? ws : 0, w1 = we < W ? we : W;
                    ptrdiff_t divisor = divisor_override ? divisor_override
                                        : count_include_pad ? rows_pad * (we - ws)
                                                            : (d1 - d0) * (h1 - h0) * (w1 - w0);
                    REAL delta = gr[ow] / (REAL)divisor;
                    for (ptrdiff_t id = d0; id < d1; id++)
                        for (ptrdiff_t ih = h0; ih < h1; ih++)
                            for (ptrdiff_t iw = w0; iw < w1; iw++)
                                gi[(id * H + ih) * W + iw] += delta;
                }
            }
        }
    }
}

/* Max unpooling: a scatter per plane (planes are the parallel tasks, so a repeated
 * index within a plane keeps the last value whatever the thread count). */
void FN(cc_max_unpool)(ptrdiff_t planes, ptrdiff_t in_plane, ptrdiff_t out_plane,
                       const REAL *x, const int64_t *indices, REAL *y, int n_threads)
{
    n_threads = cc_plane_threads(planes, out_plane, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < planes; p++) {
        REAL *yp = y + p * out_plane;
        const REAL *xp = x + p * in_plane;
        const int64_t *ip = indices + p * in_plane;
        memset(yp, 0, (size_t)out_plane * sizeof(REAL));
        for (ptrdiff_t i = 0; i < in_plane; i++)
            yp[ip[i]] = xp[i];
    }
}

#undef FN
#undef CC_CAT2
#undef CC_CAT2_
