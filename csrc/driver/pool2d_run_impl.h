/* The pooling entry points for one dtype (REAL, SFX): included by
 * driver/pool2d_dispatch.c.  Volumes are the parallel tasks, in a static schedule (each
 * is computed whole by one thread, so the result does not depend on the thread count). */
#define PD_CAT_(a, b) a##_##b
#define PD_CAT(a, b) PD_CAT_(a, b)

void PD_CAT(cc_max_pool2d, SFX)(const cc_pool2d_geometry *g, const REAL *x, REAL *y,
                                int64_t *indices, int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    const ptrdiff_t in_plane = g->D * g->H * g->W, out_plane = g->Dout * g->Hout * g->Wout;
    n_threads = cc_plane_threads(g->planes, in_plane, n_threads);
    if (indices || !use_separable_max(g)) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
        (void)n_threads;
#endif
        for (ptrdiff_t p = 0; p < g->planes; p++)
            k->max(g, x + p * in_plane, y + p * out_plane,
                   indices ? indices + p * out_plane : NULL);
        return;
    }
    /* per-thread scratch: a depth-max plane (3-D windows only) and a height-max row */
    const size_t scratch = (size_t)((g->kd > 1 ? g->H * g->W : 0) + g->W);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
        REAL *P = malloc(scratch * sizeof *P);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t p = 0; p < g->planes; p++) {
            if (P)
                k->max_separable(g, x + p * in_plane, x + g->planes * in_plane,
                                 y + p * out_plane, P, P + scratch - g->W);
            else /* no memory for the scratch: the tap path needs none */
                k->max(g, x + p * in_plane, y + p * out_plane, NULL);
        }
        free(P);
    }
}

void PD_CAT(cc_avg_pool2d, SFX)(const cc_pool2d_geometry *g, const REAL *x, REAL *y,
                                int count_include_pad, ptrdiff_t divisor_override,
                                int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    const ptrdiff_t in_plane = g->D * g->H * g->W, out_plane = g->Dout * g->Hout * g->Wout;
    n_threads = cc_plane_threads(g->planes, in_plane, n_threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t p = 0; p < g->planes; p++)
        k->avg(g, x + p * in_plane, y + p * out_plane, count_include_pad, divisor_override);
}

void PD_CAT(cc_max_pool2d_backward, SFX)(const cc_pool2d_geometry *g, const REAL *grad_out,
                                         const int64_t *indices, REAL *grad_in,
                                         int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    const ptrdiff_t in_plane = g->D * g->H * g->W, out_plane = g->Dout * g->Hout * g->Wout;
    n_threads = cc_plane_threads(g->planes, in_plane, n_threads);
    CC_POOL_PARALLEL_FOR
    for (ptrdiff_t p = 0; p < g->planes; p++)
        k->max_backward(g, grad_out + p * out_plane, indices + p * out_plane,
                        grad_in + p * in_plane);
}

void PD_CAT(cc_avg_pool2d_backward, SFX)(const cc_pool2d_geometry *g, const REAL *grad_out,
                                         REAL *grad_in, int count_include_pad,
                                         ptrdiff_t divisor_override, int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    const ptrdiff_t in_plane = g->D * g->H * g->W, out_plane = g->Dout * g->Hout * g->Wout;
    n_threads = cc_plane_threads(g->planes, in_plane, n_threads);
    CC_POOL_PARALLEL_FOR
    for (ptrdiff_t p = 0; p < g->planes; p++)
        k->avg_backward(g, grad_out + p * out_plane, grad_in + p * in_plane,
                        count_include_pad, divisor_override);
}

/* Planes are the parallel tasks, so a repeated index within a plane keeps the last value
 * whatever the thread count. */
void PD_CAT(cc_max_unpool, SFX)(ptrdiff_t planes, ptrdiff_t in_plane, ptrdiff_t out_plane,
                                const REAL *x, const int64_t *indices, REAL *y, int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    n_threads = cc_plane_threads(planes, out_plane, n_threads);
    CC_POOL_PARALLEL_FOR
    for (ptrdiff_t p = 0; p < planes; p++)
        k->unpool(in_plane, out_plane, x + p * in_plane, indices + p * in_plane,
                  y + p * out_plane);
}

void PD_CAT(cc_adaptive_avg_pool3d, SFX)(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H,
                                         ptrdiff_t W, ptrdiff_t Dout, ptrdiff_t Hout,
                                         ptrdiff_t Wout, const REAL *x, REAL *y,
                                         int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    const cc_adaptive_shape s = {D, H, W, Dout, Hout, Wout};
    n_threads = cc_plane_threads(planes, D * H * W, n_threads);
    CC_POOL_PARALLEL_FOR
    for (ptrdiff_t p = 0; p < planes; p++)
        k->adaptive_avg(&s, x + p * D * H * W, y + p * Dout * Hout * Wout);
}

void PD_CAT(cc_adaptive_max_pool3d, SFX)(ptrdiff_t planes, ptrdiff_t D, ptrdiff_t H,
                                         ptrdiff_t W, ptrdiff_t Dout, ptrdiff_t Hout,
                                         ptrdiff_t Wout, const REAL *x, REAL *y,
                                         int64_t *indices, int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    const cc_adaptive_shape s = {D, H, W, Dout, Hout, Wout};
    const ptrdiff_t out_plane = Dout * Hout * Wout;
    n_threads = cc_plane_threads(planes, D * H * W, n_threads);
    CC_POOL_PARALLEL_FOR
    for (ptrdiff_t p = 0; p < planes; p++)
        k->adaptive_max(&s, x + p * D * H * W, y + p * out_plane,
                        indices ? indices + p * out_plane : NULL);
}

/* The 2-D functions: volumes of depth 1. */
void PD_CAT(cc_adaptive_avg_pool2d, SFX)(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W,
                                         ptrdiff_t Hout, ptrdiff_t Wout, const REAL *x,
                                         REAL *y, int n_threads)
{
    PD_CAT(cc_adaptive_avg_pool3d, SFX)(planes, 1, H, W, 1, Hout, Wout, x, y, n_threads);
}

void PD_CAT(cc_adaptive_max_pool2d, SFX)(ptrdiff_t planes, ptrdiff_t H, ptrdiff_t W,
                                         ptrdiff_t Hout, ptrdiff_t Wout, const REAL *x,
                                         REAL *y, int64_t *indices, int n_threads)
{
    PD_CAT(cc_adaptive_max_pool3d, SFX)(planes, 1, H, W, 1, Hout, Wout, x, y, indices,
                                        n_threads);
}

/* Channels-last pools: output rows [r0, r1) of the planes * Hout rows (row = n * Hout +
 * oh), the parallel tasks, so that a caller can run a pool in chunks of rows and check
 * for interrupts between them. */
void PD_CAT(cc_max_pool2d_nhwc_rows, SFX)(const cc_pool2d_geometry *g, ptrdiff_t C,
                                          const REAL *x, REAL *y, int64_t *indices,
                                          ptrdiff_t r0, ptrdiff_t r1, int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    n_threads = cc_plane_threads(r1 - r0, g->Wout * C, n_threads);
    CC_POOL_PARALLEL_FOR
    for (ptrdiff_t row = r0; row < r1; row++)
        k->max_nhwc(g, C, x, y, indices, row);
}

void PD_CAT(cc_avg_pool2d_nhwc_rows, SFX)(const cc_pool2d_geometry *g, ptrdiff_t C,
                                          const REAL *x, REAL *y, int count_include_pad,
                                          ptrdiff_t divisor_override, ptrdiff_t r0,
                                          ptrdiff_t r1, int n_threads)
{
    const PD_CAT(cc_pool_kernels, SFX) *k = &active()->SFX;
    n_threads = cc_plane_threads(r1 - r0, g->Wout * C, n_threads);
    CC_POOL_PARALLEL_FOR
    for (ptrdiff_t row = r0; row < r1; row++)
        k->avg_nhwc(g, C, x, y, count_include_pad, divisor_override, row);
}

void PD_CAT(cc_max_pool2d_nhwc, SFX)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x,
                                     REAL *y, int64_t *indices, int n_threads)
{
    PD_CAT(cc_max_pool2d_nhwc_rows, SFX)(g, C, x, y, indices, 0, g->planes * g->Hout,
                                         n_threads);
}

void PD_CAT(cc_avg_pool2d_nhwc, SFX)(const cc_pool2d_geometry *g, ptrdiff_t C, const REAL *x,
                                     REAL *y, int count_include_pad,
                                     ptrdiff_t divisor_override, int n_threads)
{
    PD_CAT(cc_avg_pool2d_nhwc_rows, SFX)(g, C, x, y, count_include_pad, divisor_override, 0,
                                         g->planes * g->Hout, n_threads);
}

#undef PD_CAT
#undef PD_CAT_
