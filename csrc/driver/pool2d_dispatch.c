/* Pooling forward kernels: the row of the ISA table for the SIMD level in use. */
#include "cc_isa_table.h"
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

#define CC_DISPATCH_POOL(T, sfx)                                                         \
    void cc_max_pool2d_##sfx(const cc_pool2d_geometry *g, const T *x, T *y,              \
                             int64_t *indices, int n_threads)                            \
    {                                                                                    \
        active()->max_##sfx(g, x, y, indices, n_threads);                                \
    }                                                                                    \
    void cc_avg_pool2d_##sfx(const cc_pool2d_geometry *g, const T *x, T *y,              \
                             int count_include_pad, ptrdiff_t divisor_override,          \
                             int n_threads)                                              \
    {                                                                                    \
        active()->avg_##sfx(g, x, y, count_include_pad, divisor_override, n_threads);    \
    }

CC_DISPATCH_POOL(float, f32)
CC_DISPATCH_POOL(double, f64)
