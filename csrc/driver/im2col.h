/* The im2col part of an ISA's row (cc_isa_table.h; internal to the C library): the
 * micro-kernels of kernels/im2col_impl.h, which driver/im2col.c runs over the batch. */
#ifndef CC_DRIVER_IM2COL_H
#define CC_DRIVER_IM2COL_H
#include "convcore.h"

#define CC_IM2COL_FNS(T, sfx)                                                             \
    typedef struct {                                                                      \
        /* rows [row0, row0 + nrows) x columns [p0, p0 + np) of one image's columns */    \
        void (*im2col)(const cc_conv_geometry *g, const T *x_image, ptrdiff_t row0,       \
                       ptrdiff_t nrows, ptrdiff_t p0, ptrdiff_t np, T *cols);             \
        /* channel c of one image's input: the sum of its rows of the column matrix */    \
        void (*col2im_channel)(const cc_conv_geometry *g, const T *cols, ptrdiff_t c,     \
                               T *plane);                                                 \
    } cc_im2col_fns_##sfx;
CC_IM2COL_FNS(float, f32)
CC_IM2COL_FNS(double, f64)
#undef CC_IM2COL_FNS

typedef struct {
    cc_im2col_fns_f32 f32;
    cc_im2col_fns_f64 f64;
} cc_im2col_isa;

/* The part of an ISA file that has compiled kernels/im2col_impl.h for both dtypes. */
#define CC_IM2COL_ISA_ROW(isa)                                                            \
    const cc_im2col_isa cc_im2col_isa_##isa = {                                           \
        {im2col_rows_f32_##isa, col2im_channel_f32_##isa},                                \
        {im2col_rows_f64_##isa, col2im_channel_f64_##isa}};

#endif
