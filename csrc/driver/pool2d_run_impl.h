/* The pooling forward entry points for one dtype (REAL, SFX): included by
 * driver/pool2d_dispatch.c.  Volumes are the parallel tasks, in a static schedule (each
 * is computed whole by one thread, so the result does not depend on the thread count). */
#define PD_CAT_(a, b) a##_##b
#define PD_CAT(a, b) PD_CAT_(a, b)

void PD_CAT(cc_max_pool2d, SFX)(const cc_pool2d_geometry *g, const REAL *x, REAL *y,
                                int64_t *indices, int n_threads)
{
    const PD_CAT(cc_pool_planes, SFX) *k = &active()->SFX;
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
    const PD_CAT(cc_pool_planes, SFX) *k = &active()->SFX;
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

#undef PD_CAT
#undef PD_CAT_
