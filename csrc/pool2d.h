/* Per-ISA entry points of the pooling forward kernels (internal to the C library). */
#ifndef CC_POOL2D_H
#define CC_POOL2D_H
#include "convcore.h"
#include "pool2d_common.h"

/* The micro-kernels of one ISA: each computes one (n, c) volume (depth 1 in 1-D and
 * 2-D; kernels/pool2d_impl.h says how); the driver (driver/pool2d_dispatch.c) splits
 * the volumes among the threads and gives each thread its scratch. */
#define CC_POOL_PLANES(T, sfx)                                                           \
    typedef struct {                                                                     \
        /* max over each window (indices: flat argmax per volume, or NULL) */            \
        void (*max)(const cc_pool2d_geometry *g, const T *xp, T *yp, int64_t *ip);       \
        /* the same without indices, separably: depth, height, then width; P (H * W  \
         * cells, windows deeper than 1) and R (W cells) the thread's scratch, xend the \
         * end of the input (prefetches stop there) */                                  \
        void (*max_separable)(const cc_pool2d_geometry *g, const T *xp, const T *xend,   \
                              T *yp, T *P, T *R);                                        \
        void (*avg)(const cc_pool2d_geometry *g, const T *xp, T *yp,                     \
                    int count_include_pad, ptrdiff_t divisor_override);                  \
    } cc_pool_planes_##sfx;
CC_POOL_PLANES(float, f32)
CC_POOL_PLANES(double, f64)
#undef CC_POOL_PLANES

/* One row per ISA (cc_isa_table.h): its level and its micro-kernels. */
typedef struct {
    cc_simd_level level;
    cc_pool_planes_f32 f32;
    cc_pool_planes_f64 f64;
} cc_pool_isa;

/* The row of an ISA file that has instantiated kernels/pool2d_impl.h for both dtypes. */
#define CC_POOL_ISA_ROW(isa, LEVEL)                                                      \
    const cc_pool_isa cc_pool_isa_##isa = {                                              \
        LEVEL,                                                                           \
        {max_plane_f32_##isa, max_plane_separable_f32_##isa, avg_plane_f32_##isa},       \
        {max_plane_f64_##isa, max_plane_separable_f64_##isa, avg_plane_f64_##isa}};

extern const cc_pool_isa cc_pool_isa_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const cc_pool_isa cc_pool_isa_avx2;
extern const cc_pool_isa cc_pool_isa_avx512;
#endif
#endif
