/* Pooling driver, no ISA code: the active ISA's row of micro-kernels (one (n, c) volume
 * each, or one channels-last output row), the volumes or rows split among the threads,
 * each thread's scratch: forward, backward, unpooling, adaptive and channels-last. */
#include <stdint.h>
#include <stdlib.h>

#include "cc_isa_table.h"
#include "cc_omp.h"
#include "pool2d.h"

/* The active level's micro-kernels (its row of the ISA table). */
static const cc_pool_isa *active(void)
{
    return cc_isa_active()->pool;
}

/* Whether max pooling without indices goes the separable way: every window but those
 * whose fused one-pass interior is as fast (measured: 2x2/2, 2x2x2/2 and the 1-D 2/2,
 * which read each input cell once already). */
static int use_separable_max(const cc_pool2d_geometry *g)
{
    const int d1 = g->dd == 1 && g->dh == 1 && g->dw == 1;
    if (d1 && g->kh == 2 && g->kw == 2 && g->sw == 2 && (g->kd == 1 || g->kd == 2))
        return 0;
    return !(d1 && g->kd == 1 && g->kh == 1 && g->kw == 2 && g->sw == 2);
}

/* A static schedule over the planes (or NHWC rows) of a pass, n_threads of them. */
#ifdef _OPENMP
#define CC_POOL_PARALLEL_FOR                                                              \
    _Pragma("omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)")
#else
#define CC_POOL_PARALLEL_FOR (void)n_threads;
#endif

#define REAL float
#define SFX f32
#include "driver/pool2d_run_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "driver/pool2d_run_impl.h"
#undef REAL
#undef SFX
