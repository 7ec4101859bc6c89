/* im2col + GEMM convolution for float and double; the BLAS gemm is passed in. */
#include <stddef.h>

#include "cc_omp.h"
#include "convcore.h"

/* Column-tile budget: the tile (Cg*R*S x P) stays within ~1 MiB of floats so it is
 * still in L2 when the GEMM packs it; P is a multiple of 16 and at least 64 wide so
 * the GEMM's pixel dimension keeps its micro-kernel busy. */
#define CC_TILE_ELEMS (256 * 1024)

ptrdiff_t cc_gemm_tile_columns(const cc_conv2d_geometry *g)
{
    ptrdiff_t CgRS = (g->C / g->groups) * g->R * g->S, HWo = g->Hout * g->Wout;
    ptrdiff_t P = CC_TILE_ELEMS / (CgRS > 0 ? CgRS : 1);
    P -= P % 16;
    if (P < 64)
        P = 64;
    if (P > HWo)
        P = HWo;
    return P > 0 ? P : 1;
}

ptrdiff_t cc_gemm_workspace_per_thread(const cc_conv2d_geometry *g)
{
    return (g->C / g->groups) * g->R * g->S * cc_gemm_tile_columns(g);
}

ptrdiff_t cc_gemm_work_items(const cc_conv2d_geometry *g)
{
    ptrdiff_t HWo = g->Hout * g->Wout, P = cc_gemm_tile_columns(g);
    return g->N * g->groups * ((HWo + P - 1) / P);
}

#define REAL float
#define SFX f32
#define GEMM_FN cc_sgemm_fn
#include "conv2d_gemm_impl.h"
#undef REAL
#undef SFX
#undef GEMM_FN

#define REAL double
#define SFX f64
#define GEMM_FN cc_dgemm_fn
#include "conv2d_gemm_impl.h"
