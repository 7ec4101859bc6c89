/* Per-ISA entry points of the pooling forward kernels (internal to the C library). */
#ifndef CC_POOL2D_H
#define CC_POOL2D_H
#include "convcore.h"
#include "pool2d_common.h"

#define CC_DECLARE_POOL(T, sfx, isa)                                                     \
    void cc_max_pool2d_##sfx##_##isa(const cc_pool2d_geometry *g, const T *x, T *y,      \
                                     int64_t *indices, int n_threads);                  \
    void cc_avg_pool2d_##sfx##_##isa(const cc_pool2d_geometry *g, const T *x, T *y,      \
                                     int count_include_pad, ptrdiff_t divisor_override, \
                                     int n_threads);

CC_DECLARE_POOL(float, f32, generic)
CC_DECLARE_POOL(double, f64, generic)
#if defined(__x86_64__) || defined(__i386__)
CC_DECLARE_POOL(float, f32, avx2)
CC_DECLARE_POOL(double, f64, avx2)
CC_DECLARE_POOL(float, f32, avx512)
CC_DECLARE_POOL(double, f64, avx512)
#endif

/* One row per ISA (kernels/<isa>/pool2d_<isa>.c): its level and its kernels. */
typedef struct {
    cc_simd_level level;
    void (*max_f32)(const cc_pool2d_geometry *, const float *, float *, int64_t *, int);
    void (*avg_f32)(const cc_pool2d_geometry *, const float *, float *, int, ptrdiff_t, int);
    void (*max_f64)(const cc_pool2d_geometry *, const double *, double *, int64_t *, int);
    void (*avg_f64)(const cc_pool2d_geometry *, const double *, double *, int, ptrdiff_t, int);
} cc_pool_isa;

#define CC_POOL_ISA_ROW(isa, LEVEL)                                                      \
    const cc_pool_isa cc_pool_isa_##isa = {LEVEL, cc_max_pool2d_f32_##isa,               \
                                           cc_avg_pool2d_f32_##isa, cc_max_pool2d_f64_##isa, \
                                           cc_avg_pool2d_f64_##isa};

extern const cc_pool_isa cc_pool_isa_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const cc_pool_isa cc_pool_isa_avx2;
extern const cc_pool_isa cc_pool_isa_avx512;
#endif
#endif
