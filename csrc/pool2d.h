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
#endif
