/* The im2col route's work items and workspace, forward and weight gradient (both run on
 * the ISA's GEMM tile, driver/conv_im2col.c).
 *
 * Determinism: the work is split into items fixed by the shapes alone (never by the
 * thread count); every output element is computed by exactly one item whose arguments
 * do not depend on which thread runs it, so results are bit-identical for any thread
 * count.  Workspace tiles start on 64-byte boundaries in every thread. */
#include <stddef.h>

#include "cc_omp.h"
#include "convcore.h"
#include "driver/conv_direct.h"

/* Column-tile budget: the tile (Cg*taps x P) stays within ~1 MiB of floats (tiles of
 * 64K and 128K elements measured no faster: docs/algorithms.md); P is a multiple of 32
 * (whole panels of every ISA's GEMM tile, CC_GEMM_PANEL_MAX) and at least 64 wide so
 * the GEMM's pixel dimension keeps its micro-kernel busy. */
#define CC_TILE_ELEMS (256 * 1024)
/* Enough items for the threads of any machine convcore targets when a call has few
 * tiles (one small image): output channels are then split into blocks. */
#define CC_MIN_ITEMS 16
/* No block below this many output channels (a narrower gemm wastes its micro-kernel);
 * blocks are whole tiles of the ISA's GEMM tile (6 rows at AVX2: 36, not 32). */
#define CC_MIN_CHANNEL_BLOCK 32
/* Upper bound on one item's multiply-adds, so a chunk of items stays short. */
#define CC_ITEM_MACS (64.0 * 1024 * 1024)

ptrdiff_t cc_gemm_tile_columns(const cc_conv_geometry *g)
{
    ptrdiff_t CgRS = (g->C / g->groups) * cc_conv_taps(g), HWo = cc_conv_out_cells(g);
    ptrdiff_t P = CC_TILE_ELEMS / (CgRS > 0 ? CgRS : 1);
    P -= P % 32;
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
    const ptrdiff_t rows = cc_direct_gemm_tile()->kb;
    kb += (rows - kb % rows) % rows;
    if (kb > Kg)
        kb = Kg;
    return kb > 0 ? kb : 1;
}

/* Whether the weight gradient's GEMM tile runs its rows over the output channels (else
 * over the column rows): the way whose tiles compute fewer padded products. */
int cc_grad_weight_by_channels(const cc_conv_geometry *g, int real_bytes)
{
    const ptrdiff_t kb = cc_direct_gemm_tile()->kb, tw = cc_direct_gemm_width(real_bytes);
    const ptrdiff_t Kg = g->K / g->groups, rows = (g->C / g->groups) * cc_conv_taps(g);
    const double by_rows =
        (double)((rows + kb - 1) / kb * kb) * (double)((Kg + tw - 1) / tw * tw);
    const double by_channels =
        (double)((Kg + kb - 1) / kb * kb) * (double)((rows + tw - 1) / tw * tw);
    return by_channels < by_rows;
}

/* Output cells per unit (image, tile of cells) of the weight gradient.  Over the column
 * rows: as many as keep grad_output's panels (K/groups x cells) within
 * CC_GRAD_PANELS_ELEMS, 64 to 1024 of them, so that each partial sum, loaded and stored
 * once per unit, takes hundreds of products.  Over the output channels (few of them):
 * the forward's tile, at most 1024. */
#define CC_GRAD_PANELS_ELEMS (64 * 1024)
#define CC_GRAD_COLUMNS_MIN 64
#define CC_GRAD_COLUMNS_MAX 1024

ptrdiff_t cc_grad_weight_columns(const cc_conv_geometry *g, int real_bytes)
{
    const ptrdiff_t M = CC_GEMM_PANEL_MAX, HWo = cc_conv_out_cells(g);
    const ptrdiff_t Kg = (g->K / g->groups + M - 1) / M * M;
    ptrdiff_t P = cc_gemm_tile_columns(g);
    if (!cc_grad_weight_by_channels(g, real_bytes)) {
        P = CC_GRAD_PANELS_ELEMS / (Kg > 0 ? Kg : 1);
        P -= P % M;
        P = P < CC_GRAD_COLUMNS_MIN ? CC_GRAD_COLUMNS_MIN : P;
    }
    P = P > CC_GRAD_COLUMNS_MAX ? CC_GRAD_COLUMNS_MAX : P;
    return P > HWo ? (HWo > 0 ? HWo : 1) : P;
}

ptrdiff_t cc_grad_weight_workspace_per_thread(const cc_conv_geometry *g, int real_bytes)
{
    /* The larger of the two orientations' needs (driver/conv_im2col.c), whichever the
     * active tile takes, so that a level switched between sizing and running (set_isa
     * from another thread) cannot overrun the workspace: panels of at most M cells or
     * rows and the column rows they or the products read (all, or a block of the tile's
     * at most M rows), over the units of either orientation. */
    const ptrdiff_t M = CC_GEMM_PANEL_MAX, HWo = cc_conv_out_cells(g);
    const ptrdiff_t rows = (g->C / g->groups) * cc_conv_taps(g);
    const ptrdiff_t Kg = (g->K / g->groups + M - 1) / M * M, rows_m = (rows + M - 1) / M * M;
    ptrdiff_t by_rows = CC_GRAD_PANELS_ELEMS / (Kg > 0 ? Kg : 1);
    by_rows -= by_rows % M;
    by_rows = by_rows < CC_GRAD_COLUMNS_MIN ? CC_GRAD_COLUMNS_MIN : by_rows;
    by_rows = by_rows > CC_GRAD_COLUMNS_MAX ? CC_GRAD_COLUMNS_MAX : by_rows;
    ptrdiff_t by_channels = cc_gemm_tile_columns(g);
    by_channels = by_channels > CC_GRAD_COLUMNS_MAX ? CC_GRAD_COLUMNS_MAX : by_channels;
    by_rows = by_rows > HWo ? HWo : by_rows;
    by_channels = by_channels > HWo ? HWo : by_channels;
    const ptrdiff_t a = (Kg + M) * ((by_rows + M - 1) / M * M);
    const ptrdiff_t b = (rows_m + rows) * ((by_channels + M - 1) / M * M);
    const ptrdiff_t n = a > b ? a : b;
    (void)real_bytes;
    return n + (16 - n % 16) % 16;  /* each thread's buffers start 64-byte aligned */
}

ptrdiff_t cc_gemm_workspace_per_thread(const cc_conv_geometry *g)
{
    const ptrdiff_t M = CC_GEMM_PANEL_MAX;
    const ptrdiff_t P = (cc_gemm_tile_columns(g) + M - 1) / M * M;
    /* the packed tile (panels of at most M cells) and the row it is built from */
    const ptrdiff_t n = ((g->C / g->groups) * cc_conv_taps(g) + 1) * P;
    return n + (16 - n % 16) % 16;  /* each thread's tile starts 64-byte aligned */
}

ptrdiff_t cc_gemm_work_items(const cc_conv_geometry *g)
{
    ptrdiff_t HWo = cc_conv_out_cells(g), P = cc_gemm_tile_columns(g);
    ptrdiff_t Kg = g->K / g->groups, kb = cc_gemm_channel_block(g);
    return g->N * g->groups * ((HWo + P - 1) / P) * ((Kg + kb - 1) / kb);
}
