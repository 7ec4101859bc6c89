/* The Winograd driver's builds, the Winograd part of an ISA's row (cc_isa_table.h;
 * internal to the C library): kernels/<isa>.c compiles winograd_isa.h for its ISA, which
 * defines this part; winograd.c dispatches through the table of ISAs. */
#ifndef CC_WINOGRAD_TABLE_H
#define CC_WINOGRAD_TABLE_H

#include "driver/conv_direct.h"
#include "winograd.h"

#define CC_WG_ROW_FNS(T, SFX)                                                               \
    void (*strided_##SFX)(const cc_conv2d_geometry *g, const cc_wg_layout *layout, int m,   \
                          const T *x, const T *u, ptrdiff_t ukb, const T *bias, T *y,       \
                          T *workspace, ptrdiff_t it_lo, ptrdiff_t it_hi, int n_threads);   \
    void (*grad_weight_parts_##SFX)(const cc_conv2d_geometry *g, const T *x, const T *go,   \
                                    T *parts, ptrdiff_t nparts, ptrdiff_t it_lo,            \
                                    ptrdiff_t it_hi, T *workspace, int n_threads);          \
    void (*weights_##SFX)(int m, ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups, ptrdiff_t R,  \
                          const T *w, T *u, ptrdiff_t kb, int n_threads);

typedef struct {
    const cc_direct_isa *direct; /* the ISA's tiles: its GEMM tile computes the products */
    CC_WG_ROW_FNS(float, f32)
    CC_WG_ROW_FNS(double, f64)
} cc_winograd_isa;
#undef CC_WG_ROW_FNS


#endif
