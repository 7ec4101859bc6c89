/* Winograd convolution F(m x m, 3x3) (and F(m, 3) for one row): declarations.
 *
 * The input is cut into m x m output tiles; each tile's (m+2) x (m+2) input patch is
 * transformed (B^T d B), the transformed tiles of all channels are multiplied by the
 * transformed weights (one GEMM per transformed element, over channels) and each
 * product tile is transformed back (A^T M A).  The weights arrive transformed
 * (U = G w G^T, by cc_winograd_weights, once per set of weights), with alpha = m + 2
 * (one row: alpha instead of alpha^2), either plain (groups, alpha^2, K/groups, C/groups)
 * or packed in blocks of the GEMM tile's rows (cc_winograd_u_block).
 *
 * The work is split into a fixed set of items (group, block of tiles across the batch)
 * that does not depend on the thread count; each thread runs the SIMD level's GEMM
 * micro-kernel (the weight gradient: through the tiled product cc_matmul) on its own
 * workspace, every sum over the channels in order, so results are the same for any
 * number of threads.  Supported: R = S = 3 (or R = 1, S = 3: a row), stride 1,
 * dilation 1, m in {4, 6}.
 */
#ifndef CC_WINOGRAD_H
#define CC_WINOGRAD_H

#include "convcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the images and channels of the geometry lie in x and y.  A plain 2-D call has
 * x (N, C, H, W) and y (N, K, Hout, Wout) contiguous (cc_wg_plain_layout).  A 3-D
 * convolution with a T x 3 x 3 kernel runs as a 2-D one whose images are the pairs
 * (n, output plane d) and whose channels are the pairs (c, depth tap t): image i lies at
 * (i / depth) * x_image + (i % depth) * x_depth of x (and of y with the y_ strides),
 * channel j at (j / taps) * x_channel + (j % taps) * x_tap, output channel k at
 * k * y_channel; the weights (K, C, T, 3, 3) are the 2-D ones (K, C T, 3, 3).
 * Output (i, j) of channel k lies at i * y_row + j * y_col from the channel's start
 * (Wout and 1 when plain), and channel k starts at y_koff[k] instead of k * y_channel
 * when y_koff is given: a strided transposed convolution writes its phases, computed
 * as the output channels of one convolution, straight into the positions they own. */
typedef struct {
    ptrdiff_t depth, taps;
    ptrdiff_t x_image, x_depth, x_channel, x_tap;
    ptrdiff_t y_image, y_depth, y_channel;
    ptrdiff_t x_extent, y_extent;  /* elements of x and y the offsets may reach */
    ptrdiff_t y_row, y_col;
    const ptrdiff_t *y_koff;       /* K entries, or NULL */
} cc_wg_layout;

cc_wg_layout cc_wg_plain_layout(const cc_conv2d_geometry *g);

/* Elements from one transformed element's matrix of rows x T to the next in the
 * workspace: a cache line more than rows * T.  Those sizes are often multiples of 2 KiB
 * (64 channels x 56 tiles, 256 x 98, in floats), and the input and output stages write
 * and read all 36 matrices at once: without the line, they fell in two cache sets. */
static inline ptrdiff_t cc_wg_elem_stride(ptrdiff_t rows, ptrdiff_t T, size_t itemsize)
{
    return rows * T + (ptrdiff_t)(64 / itemsize);
}

/* Columns of one element's transformed input tiles V and products M in the workspace
 * for blocks of T tiles: T rounded up to whole panels of the widest GEMM tile (AVX-512
 * float: 32 tiles), the same on every ISA. */
#define CC_WG_PANEL_MAX 32
static inline ptrdiff_t cc_wg_v_cols(ptrdiff_t T)
{
    return (T + CC_WG_PANEL_MAX - 1) / CC_WG_PANEL_MAX * CC_WG_PANEL_MAX;
}

/* The forward's blocks per group for blocks of T tiles: whole blocks, the last one taking
 * the remainder too (at most 2 T - 1 tiles), so that the blocks are as even as T allows
 * (196 tiles in blocks of 32: five of 32 and one of 36, three per thread; a seventh
 * block of 4 left one thread a block behind). */
static inline ptrdiff_t cc_wg_blocks(ptrdiff_t tiles, ptrdiff_t T)
{
    return tiles / T > 1 ? tiles / T : 1;
}

/* Tiles per block, the forward's largest block (cc_wg_blocks), work items, and workspace
 * elements per thread. */
ptrdiff_t cc_winograd_tile_block(const cc_conv2d_geometry *g, int m, size_t itemsize);
ptrdiff_t cc_winograd_block_max(const cc_conv2d_geometry *g, int m, size_t itemsize);
ptrdiff_t cc_winograd_work_items(const cc_conv2d_geometry *g, int m, size_t itemsize);
ptrdiff_t cc_winograd_workspace_per_thread(const cc_conv2d_geometry *g, int m,
                                           size_t itemsize);

/* The transformed weights U of w (K, Cg, R, 3), R = 3 (or 1: a row, alpha instead of
 * alpha^2), computed in double, in blocks of kb output channels (K/groups rounded up to
 * kb with zero rows, each block's kb values of an input channel side by side;
 * winograd_impl.h): kb = cc_winograd_u_block() for the GEMM tile's packed layout, 1 for
 * the plain (groups, alpha^2, K/groups, Cg).  The forward takes U with its kb (ukb): 1,
 * or a kb cc_winograd_u_block() returned at any SIMD level this CPU has (the products
 * then run at the active level if its tile has kb rows, else at the best level with
 * them); other values are not supported. */
void cc_winograd_weights_f32(int m, ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups, ptrdiff_t R,
                             const float *w, float *u, ptrdiff_t kb, int n_threads);
void cc_winograd_weights_f64(int m, ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups, ptrdiff_t R,
                             const double *w, double *u, ptrdiff_t kb, int n_threads);

/* The block height of U's packed layout for the active ISA: its GEMM tile's rows. */
ptrdiff_t cc_winograd_u_block(void);

void cc_conv2d_winograd_f32(const cc_conv2d_geometry *g, int m, const float *x,
                            const float *u, ptrdiff_t ukb, const float *bias, float *y,
                            float *workspace, int n_threads);
void cc_conv2d_winograd_f64(const cc_conv2d_geometry *g, int m, const double *x,
                            const double *u, ptrdiff_t ukb, const double *bias, double *y,
                            double *workspace, int n_threads);

/* The weight gradient of a 3x3 stride-1 layer by F(4x4, 3x3) (winograd_impl.h): parts
 * [it_lo, it_hi) of groups * nparts (each 36 x K/groups x C/groups, a fixed range of tile
 * blocks), then grad_weight (K, C/groups, 3, 3) = G^T (the parts summed in order) G, in
 * double (acc: 36 * C/groups doubles per thread).  x and go plain, within int32 offsets;
 * the workspace cc_winograd_grad_workspace_per_thread elements per thread (the blocks of
 * cc_winograd_grad_block tiles, then the tiled product's panels). */
ptrdiff_t cc_winograd_grad_workspace_per_thread(const cc_conv2d_geometry *g, size_t itemsize);
/* The weight gradient's blocks of tiles: as even as they come, in as many blocks as
 * blocks of the forward's size would need or, where the 36 matrices of sums exceed
 * CC_WG_GRAD_SUMS_BYTES (more than L2 holds) and the forward's blocks are shorter, as
 * blocks of CC_WG_GRAD_TILES would (so at most that many tiles: 392 tiles go in 4 of 98),
 * but at least as many as the forward's blocks up to CC_WG_GRAD_PARTS (the parts, and
 * so the threads, take whole blocks).  Each element's product of a block then sums that
 * many tiles per load and store of its sums: with the forward's 32 tiles on 256 channels
 * it took 1.1-1.2x the time of OpenBLAS's gemms, with 98 0.8-0.9x; on 64 channels in
 * double (1.2 MiB of sums) 128 tiles instead of 64 took 1.1-1.35x the time, and 392
 * instead of 128 in float 1.5x (AMD EPYC Zen 4 class, 2026-12-03). */
#define CC_WG_GRAD_TILES 128
#define CC_WG_GRAD_SUMS_BYTES (2 << 20)
#define CC_WG_GRAD_PARTS 4
ptrdiff_t cc_winograd_grad_block(const cc_conv2d_geometry *g, size_t itemsize);
ptrdiff_t cc_winograd_grad_blocks(const cc_conv2d_geometry *g, size_t itemsize); /* per group */
void cc_winograd_grad_weight_parts_f32(const cc_conv2d_geometry *g, const float *x,
                                       const float *go, float *parts, ptrdiff_t nparts,
                                       ptrdiff_t it_lo, ptrdiff_t it_hi, float *workspace,
                                       int n_threads);
void cc_winograd_grad_weight_parts_f64(const cc_conv2d_geometry *g, const double *x,
                                       const double *go, double *parts, ptrdiff_t nparts,
                                       ptrdiff_t it_lo, ptrdiff_t it_hi, double *workspace,
                                       int n_threads);
void cc_winograd_grad_weight_finish_f32(ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups,
                                        ptrdiff_t nparts, const float *parts, float *dw,
                                        double *acc, int n_threads);
void cc_winograd_grad_weight_finish_f64(ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups,
                                        ptrdiff_t nparts, const double *parts, double *dw,
                                        double *acc, int n_threads);

/* G (alpha x 3) of F(4, 3) and F(6, 3), for the weight transform. */
extern const double cc_wg_g4[6][3];
extern const double cc_wg_g6[8][3];

/* The same on images and channels laid out by ``layout`` (a 3-D layer, see above), work
 * items [it_lo, it_hi) of cc_winograd_work_items (a caller checks for Ctrl-C between
 * ranges; the items are fixed by the shapes, so the result does not depend on them). */
void cc_conv_winograd_strided_f32(const cc_conv2d_geometry *g, const cc_wg_layout *layout,
                               int m, const float *x, const float *u, ptrdiff_t ukb,
                               const float *bias, float *y, float *workspace,
                               ptrdiff_t it_lo, ptrdiff_t it_hi, int n_threads);
void cc_conv_winograd_strided_f64(const cc_conv2d_geometry *g, const cc_wg_layout *layout,
                               int m, const double *x, const double *u, ptrdiff_t ukb,
                               const double *bias, double *y, double *workspace,
                               ptrdiff_t it_lo, ptrdiff_t it_hi, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
