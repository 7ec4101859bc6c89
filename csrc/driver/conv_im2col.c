/* im2col + GEMM convolution, and its weight gradient, on the active ISA's GEMM tile (the
 * pointwise layers' micro-kernel, driver/conv_direct.h): no ISA code and no BLAS.
 *
 * The work items are conv_im2col_plan.c's (image, group, tile of P output cells, block of
 * output channels, a whole number of the tile's kb; cc_gemm_work_items); the workspace
 * (cc_gemm_workspace_per_thread) holds a thread's packed column tile and the row it is
 * built from.  The weights are packed once per call in blocks of the tile's kb output
 * channels (one stream per block, where rows of the matrix would take kb).  A thread
 * builds the item's column tile packed in panels of the tile's width and multiplies it
 * by the packed weights, BLIS's way: the reduction (Cg * taps rows) in slices whose
 * panel stays in L1 while every block of the tile's kb output channels runs on it, the
 * weights streaming from L2; a later slice adds to the sums the earlier ones stored.
 * Every output element is summed by one item in an order fixed by the shapes (the bias,
 * then the rows in order), so results do not depend on the thread count.  The weight
 * gradient is in conv_im2col_impl.h (cc_grad_weight_tile_range). */
#include <string.h>

#include "cc_omp.h"
#include "convcore.h"
#include "driver/conv_direct.h"

/* Kg rounded up to the tile's rows, for any ISA's tile: at most Kg + CC_GEMM_ROWS_MAX - 1. */
ptrdiff_t cc_conv_im2col_pack_size(const cc_conv_geometry *g)
{
    const ptrdiff_t Kg = g->K / g->groups;
    return g->groups * (Kg + CC_GEMM_ROWS_MAX - 1) * (g->C / g->groups) * cc_conv_taps(g);
}

#define REAL float
#define SFX f32
#include "driver/conv_im2col_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "driver/conv_im2col_impl.h"
#undef REAL
#undef SFX
