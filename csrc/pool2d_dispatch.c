/* Pooling forward kernels: pick the build for the SIMD level of this CPU. */
#include "pool2d.h"

#if defined(__x86_64__) || defined(__i386__)
#define CC_SELECT(fn, ...)                                                               \
    switch (cc_simd_active()) {                                                          \
    case CC_SIMD_AVX512: fn##_avx512(__VA_ARGS__); break;                                \
    case CC_SIMD_AVX2: fn##_avx2(__VA_ARGS__); break;                                    \
    default: fn##_generic(__VA_ARGS__);                                                  \
    }
#else
#define CC_SELECT(fn, ...) fn##_generic(__VA_ARGS__);
#endif

#define CC_DISPATCH_POOL(T, sfx)                                                         \
    void cc_max_pool2d_##sfx(const cc_pool2d_geometry *g, const T *x, T *y,              \
                             int64_t *indices, int n_threads)                            \
    {                                                                                    \
        CC_SELECT(cc_max_pool2d_##sfx, g, x, y, indices, n_threads)                      \
    }                                                                                    \
    void cc_avg_pool2d_##sfx(const cc_pool2d_geometry *g, const T *x, T *y,              \
                             int count_include_pad, ptrdiff_t divisor_override,          \
                             int n_threads)                                              \
    {                                                                                    \
        CC_SELECT(cc_avg_pool2d_##sfx, g, x, y, count_include_pad, divisor_override,     \
                  n_threads)                                                             \
    }

CC_DISPATCH_POOL(float, f32)
CC_DISPATCH_POOL(double, f64)
