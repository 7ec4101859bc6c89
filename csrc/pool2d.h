/* Per-ISA entry points of the pooling kernels (internal to the C library). */
#ifndef CC_POOL2D_H
#define CC_POOL2D_H
#include "convcore.h"
#include "pool2d_common.h"

/* The micro-kernels of one ISA: each computes one (n, c) volume (depth 1 in 1-D and
 * 2-D; kernels/pool2d_impl.h says how); the driver (driver/pool2d_dispatch.c) splits
 * the volumes among the threads and gives each thread its scratch. */
#define CC_POOL_KERNELS(T, sfx)                                                          \
    typedef struct {                                                                     \
        /* max over each window (indices: flat argmax per volume, or NULL) */            \
        void (*max)(const cc_pool2d_geometry *g, const T *xp, T *yp, int64_t *ip);       \
        /* the same without indices, separably: depth, height, then width; P (H * W      \
         * cells, windows deeper than 1) and R (W cells) the thread's scratch, xend the  \
         * end of the input (prefetches stop there) */                                   \
        void (*max_separable)(const cc_pool2d_geometry *g, const T *xp, const T *xend,   \
                              T *yp, T *P, T *R);                                        \
        void (*avg)(const cc_pool2d_geometry *g, const T *xp, T *yp,                     \
                    int count_include_pad, ptrdiff_t divisor_override);                  \
        /* the other passes (kernels/pool2d_more_impl.h): a volume, or an NHWC row */    \
        void (*max_backward)(const cc_pool2d_geometry *g, const T *go, const int64_t *ix, \
                             T *gi);                                                     \
        void (*avg_backward)(const cc_pool2d_geometry *g, const T *go, T *gi,            \
                             int count_include_pad, ptrdiff_t divisor_override);         \
        void (*unpool)(ptrdiff_t in_plane, ptrdiff_t out_plane, const T *xp,             \
                       const int64_t *ip, T *yp);                                        \
        void (*adaptive_avg)(const cc_adaptive_shape *s, const T *xp, T *yp);            \
        void (*adaptive_max)(const cc_adaptive_shape *s, const T *xp, T *yp, int64_t *ip); \
        void (*max_nhwc)(const cc_pool2d_geometry *g, ptrdiff_t C, const T *x, T *y,     \
                         int64_t *indices, ptrdiff_t row);                               \
        void (*avg_nhwc)(const cc_pool2d_geometry *g, ptrdiff_t C, const T *x, T *y,     \
                         int count_include_pad, ptrdiff_t divisor_override, ptrdiff_t row); \
    } cc_pool_kernels_##sfx;
CC_POOL_KERNELS(float, f32)
CC_POOL_KERNELS(double, f64)
#undef CC_POOL_KERNELS

/* The pooling part of an ISA's row (cc_isa_table.h): its micro-kernels. */
typedef struct {
    cc_pool_kernels_f32 f32;
    cc_pool_kernels_f64 f64;
} cc_pool_isa;

/* The row of an ISA file that has instantiated kernels/pool2d_impl.h for both dtypes. */
#define CC_POOL_KERNELS_ROW(sfx, isa)                                                    \
    {max_plane_##sfx##_##isa, max_plane_separable_##sfx##_##isa, avg_plane_##sfx##_##isa,  \
     max_backward_plane_##sfx##_##isa, avg_backward_plane_##sfx##_##isa,                 \
     unpool_plane_##sfx##_##isa, adaptive_avg_plane_##sfx##_##isa,                       \
     adaptive_max_plane_##sfx##_##isa, max_nhwc_row_##sfx##_##isa, avg_nhwc_row_##sfx##_##isa}
#define CC_POOL_ISA_ROW(isa)                                                             \
    const cc_pool_isa cc_pool_isa_##isa = {CC_POOL_KERNELS_ROW(f32, isa),                \
                                           CC_POOL_KERNELS_ROW(f64, isa)};

#endif
