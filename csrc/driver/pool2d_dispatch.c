/* Pooling forward driver, no ISA code: the active ISA's row of micro-kernels (one
 * (n, c) volume each), the volumes split among the threads, each thread's scratch. */
#include <stdint.h>
#include <stdlib.h>

#include "cc_isa_table.h"
#include "cc_omp.h"
#include "pool2d.h"

/* The ISAs with pooling kernels: adding one is a kernel file and a row here. */
static const void *const ISAS[] = {
    &cc_pool_isa_generic,
#if defined(__x86_64__) || defined(__i386__)
    &cc_pool_isa_avx2,
    &cc_pool_isa_avx512,
#endif
};

static const cc_pool_isa *active(void)
{
    return (const cc_pool_isa *)cc_isa_pick(ISAS, sizeof ISAS / sizeof ISAS[0]);
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
