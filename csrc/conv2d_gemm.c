/* im2col + GEMM convolution and a tiled GEMM, for float and double; the BLAS gemm is
 * passed in and must be single-threaded (convcore's threads run one gemm each).
 *
 * Determinism: the work is split into items fixed by the shapes alone (never by the
 * thread count); every output element is computed by exactly one gemm call whose
 * arguments do not depend on which thread runs it, so results are bit-identical for
 * any thread count.  Workspace tiles start on 64-byte boundaries in every thread. */
#include <stddef.h>

#include "cc_omp.h"
#include "convcore.h"

/* Column-tile budget: the tile (Cg*taps x P) stays within ~1 MiB of floats so it is
 * still in L2 when the GEMM packs it; P is a multiple of 16 and at least 64 wide so
 * the GEMM's pixel dimension keeps its micro-kernel busy. */
#define CC_TILE_ELEMS (256 * 1024)
/* Enough items for the threads of any machine convcore targets when a call has few
 * tiles (one small image): output channels are then split into blocks. */
#define CC_MIN_ITEMS 16
/* No block below this many output channels (a narrower gemm wastes its micro-kernel). */
#define CC_MIN_CHANNEL_BLOCK 32
/* Upper bound on one item's multiply-adds, so a chunk of items stays short. */
#define CC_ITEM_MACS (64.0 * 1024 * 1024)

ptrdiff_t cc_gemm_tile_columns(const cc_conv_geometry *g)
{
    ptrdiff_t CgRS = (g->C / g->groups) * cc_conv_taps(g), HWo = cc_conv_out_cells(g);
    ptrdiff_t P = CC_TILE_ELEMS / (CgRS > 0 ? CgRS : 1);
    P -= P % 16;
    if (P < 64)
        P = 64;
    if (P > HWo)
        P = HWo;
    return P > 0 ? P : 1;
}

ptrdiff_t cc_gemm_channel_block(const cc_conv_geometry *g)
{
    const ptrdiff_t Kg = g->K / g->groups, CgRS = (g->C / g->groups) * cc_conv_taps(g);
    const ptrdiff_t HWo = cc_conv_out_cells(g), P = cc_gemm_tile_columns(g);
    const ptrdiff_t base = g->N * g->groups * ((HWo + P - 1) / P);
    ptrdiff_t kb = Kg;
    if (base > 0 && base < CC_MIN_ITEMS) {
        ptrdiff_t blocks = (CC_MIN_ITEMS + base - 1) / base;
        kb = (Kg + blocks - 1) / blocks;
    }
    double macs = (double)CgRS * (double)P;
    if (macs > 0 && (double)kb * macs > CC_ITEM_MACS) {
        ptrdiff_t cap = (ptrdiff_t)(CC_ITEM_MACS / macs);
        kb = cap < kb ? cap : kb;
    }
    if (kb < CC_MIN_CHANNEL_BLOCK)
        kb = CC_MIN_CHANNEL_BLOCK;
    kb += (8 - kb % 8) % 8;
    if (kb > Kg)
        kb = Kg;
    return kb > 0 ? kb : 1;
}

ptrdiff_t cc_gemm_workspace_per_thread(const cc_conv_geometry *g)
{
    ptrdiff_t n = (g->C / g->groups) * cc_conv_taps(g) * cc_gemm_tile_columns(g);
    return n + (16 - n % 16) % 16;  /* each thread's tile starts 64-byte aligned */
}

ptrdiff_t cc_gemm_work_items(const cc_conv_geometry *g)
{
    ptrdiff_t HWo = cc_conv_out_cells(g), P = cc_gemm_tile_columns(g);
    ptrdiff_t Kg = g->K / g->groups, kb = cc_gemm_channel_block(g);
    return g->N * g->groups * ((HWo + P - 1) / P) * ((Kg + kb - 1) / kb);
}

ptrdiff_t cc_gemm_tiles_items(const cc_gemm_tiles *t)
{
    return t->batch * ((t->m + t->tile_m - 1) / t->tile_m) *
           ((t->n + t->tile_n - 1) / t->tile_n);
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
