/* Per-ISA entry points of the direct convolution (internal to the C library). */
#ifndef CC_CONV2D_DIRECT_H
#define CC_CONV2D_DIRECT_H
#include "convcore.h"

#define CC_DECLARE_DIRECT(isa)                                                           \
    ptrdiff_t cc_conv2d_direct_pack_size_f32_##isa(const cc_conv2d_geometry *g);          \
    ptrdiff_t cc_conv2d_direct_pack_size_f64_##isa(const cc_conv2d_geometry *g);          \
    void cc_conv2d_direct_f32_##isa(const cc_conv2d_geometry *g, const float *x,          \
                                    const float *w, const float *bias, float *y,          \
                                    float *wpack, int nt);                                \
    void cc_conv2d_direct_f64_##isa(const cc_conv2d_geometry *g, const double *x,         \
                                    const double *w, const double *bias, double *y,       \
                                    double *wpack, int nt);

CC_DECLARE_DIRECT(generic)
#if defined(__x86_64__) || defined(__i386__)
CC_DECLARE_DIRECT(avx2)
CC_DECLARE_DIRECT(avx512)
#endif
#endif
