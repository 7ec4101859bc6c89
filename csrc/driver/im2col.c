/* im2col and col2im driver, no ISA code: the active ISA's micro-kernels
 * (kernels/im2col_impl.h) over an image or the batch, float and double.  The batch is
 * parallel over (image, channel): each task owns its rows or plane, so the result does
 * not depend on the thread count. */
#include <stddef.h>

#include "cc_isa_table.h"
#include "cc_omp.h"

#define CC_IM2COL_DRIVER(T, sfx)                                                            \
    void cc_im2col_##sfx(const cc_conv_geometry *g, const T *x_image, ptrdiff_t row0,       \
                         ptrdiff_t nrows, ptrdiff_t p0, ptrdiff_t np, T *cols)              \
    {                                                                                       \
        cc_isa_active()->im2col->sfx.im2col(g, x_image, row0, nrows, p0, np, cols);         \
    }                                                                                       \
                                                                                            \
    void cc_col2im_##sfx(const cc_conv_geometry *g, const T *cols, T *x_image)              \
    {                                                                                       \
        const cc_im2col_fns_##sfx *k = &cc_isa_active()->im2col->sfx;                      \
        const ptrdiff_t plane = cc_conv_in_cells(g);                                        \
        for (ptrdiff_t c = 0; c < g->C; c++)                                                \
            k->col2im_channel(g, cols, c, x_image + c * plane);                             \
    }                                                                                       \
                                                                                            \
    void cc_im2col_batch_range_##sfx(const cc_conv_geometry *g, const T *x, T *cols,        \
                                     ptrdiff_t t0, ptrdiff_t t1, int n_threads)             \
    {                                                                                       \
        const cc_im2col_fns_##sfx *k = &cc_isa_active()->im2col->sfx;                      \
        const ptrdiff_t taps = cc_conv_taps(g), L = cc_conv_out_cells(g);                   \
        const ptrdiff_t plane = cc_conv_in_cells(g);                                        \
        if ((t1 - t0) * taps * L < 32768)                                                   \
            n_threads = 1;                                                                  \
        CC_IM2COL_PARALLEL_FOR                                                              \
        for (ptrdiff_t t = t0; t < t1; t++) {                                               \
            const ptrdiff_t n = t / g->C, c = t % g->C;                                     \
            k->im2col(g, x + n * g->C * plane, c * taps, taps, 0, L,                        \
                      cols + (n * g->C + c) * taps * L);                                    \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    void cc_col2im_batch_range_##sfx(const cc_conv_geometry *g, const T *cols, T *x,        \
                                     ptrdiff_t t0, ptrdiff_t t1, int n_threads)             \
    {                                                                                       \
        const cc_im2col_fns_##sfx *k = &cc_isa_active()->im2col->sfx;                      \
        const ptrdiff_t taps = cc_conv_taps(g), L = cc_conv_out_cells(g);                   \
        const ptrdiff_t plane = cc_conv_in_cells(g);                                        \
        if ((t1 - t0) * taps * L < 32768)                                                   \
            n_threads = 1;                                                                  \
        CC_IM2COL_PARALLEL_FOR                                                              \
        for (ptrdiff_t t = t0; t < t1; t++) {                                               \
            const ptrdiff_t n = t / g->C, c = t % g->C;                                     \
            k->col2im_channel(g, cols + n * g->C * taps * L, c,                             \
                              x + (n * g->C + c) * plane);                                  \
        }                                                                                   \
    }                                                                                       \
                                                                                            \
    void cc_im2col_batch_##sfx(const cc_conv_geometry *g, const T *x, T *cols,              \
                               int n_threads)                                               \
    {                                                                                       \
        cc_im2col_batch_range_##sfx(g, x, cols, 0, g->N * g->C, n_threads);                 \
    }                                                                                       \
                                                                                            \
    void cc_col2im_batch_##sfx(const cc_conv_geometry *g, const T *cols, T *x,              \
                               int n_threads)                                               \
    {                                                                                       \
        cc_col2im_batch_range_##sfx(g, cols, x, 0, g->N * g->C, n_threads);                 \
    }

#ifdef _OPENMP
#define CC_IM2COL_PARALLEL_FOR                                                              \
    _Pragma("omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)")
#else
#define CC_IM2COL_PARALLEL_FOR (void)n_threads;
#endif

CC_IM2COL_DRIVER(float, f32)
CC_IM2COL_DRIVER(double, f64)
