/* Winograd convolution: work partition, workspace sizes, the weight-transform matrices
 * and the per-ISA dispatch. */
#include "cc_isa_table.h"
#include "cc_omp.h"
#include "winograd_table.h"

/* The active level's build of the Winograd driver (its row of the ISA table). */
static const cc_winograd_isa *active_isa(void)
{
    return cc_isa_active()->winograd;
}

/* Tiles per block T: a power of two from CC_WG_MIN_BLOCK to CC_WG_MAX_BLOCK, the one
 * nearest (in ratio) to the count whose transformed input tiles V (alpha^2 x Cg x T) and
 * products M (alpha^2 x Kg x T) take CC_WG_BLOCK_BYTES; a layer of fewer than 2 T tiles
 * (from 32) takes half its tiles, so both threads of a small layer get a block, and one
 * of fewer than 32 all of them.  The forward's last block of a group takes the remainder
 * too (cc_wg_blocks).  Every block reads all of U again, but U comes packed (once per
 * call) and streams through L3 with the next element prefetched, while V and M beyond
 * the caches go out and back with stride: on Zen 4, 64-tile blocks ran ResNet 128@28 b8
 * in 0.77-0.92x the time of two 196-tile blocks, and 32-tile blocks VGG 256@56 in
 * 0.91-1.03x that of 98-tile ones (docs/performance.md).  VGG 64@224 takes 128-tile
 * blocks, ResNet 128@28 b8 64, VGG 256@56 32, ResNet 512@7 b8 two of 16.  The items are
 * then many enough for the threads' shares (cc_shares) to balance.  All of it depends
 * on the shapes only, never on the thread count or the ISA. */
#define CC_WG_BLOCK_BYTES (2 * 1024 * 1024)
#define CC_WG_MIN_BLOCK 32
#define CC_WG_MAX_BLOCK 512

static ptrdiff_t wg_alpha2(const cc_conv2d_geometry *g, int m)
{
    ptrdiff_t a = m + 2;
    return g->R == 1 ? a : a * a;
}

static ptrdiff_t wg_tiles(const cc_conv2d_geometry *g, int m)
{
    ptrdiff_t mh = g->R == 1 ? 1 : m;
    return g->N * ((g->Hout + mh - 1) / mh) * ((g->Wout + m - 1) / m);
}

ptrdiff_t cc_winograd_tile_block(const cc_conv2d_geometry *g, int m, size_t itemsize)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups, tiles = wg_tiles(g, m);
    const double per_tile = (double)(wg_alpha2(g, m) * (Cg + Kg)) * (double)itemsize;
    const double want = CC_WG_BLOCK_BYTES / per_tile;
    if (tiles <= 0)
        return 1;
    ptrdiff_t t = CC_WG_MIN_BLOCK;
    while (t < CC_WG_MAX_BLOCK && (double)(2 * t) <= want * 1.4142135623730951)
        t *= 2; /* 2t is nearer want than t (in ratio) */
    if (2 * t > tiles && tiles >= CC_WG_MIN_BLOCK) /* two blocks */
        t = tiles / 2;
    return t < tiles ? t : tiles;
}

ptrdiff_t cc_winograd_block_max(const cc_conv2d_geometry *g, int m, size_t itemsize)
{
    const ptrdiff_t T = cc_winograd_tile_block(g, m, itemsize), tiles = wg_tiles(g, m);
    return tiles - (cc_wg_blocks(tiles, T) - 1) * T;
}

ptrdiff_t cc_winograd_work_items(const cc_conv2d_geometry *g, int m, size_t itemsize)
{
    return g->groups * cc_wg_blocks(wg_tiles(g, m), cc_winograd_tile_block(g, m, itemsize));
}

ptrdiff_t cc_winograd_grad_block(const cc_conv2d_geometry *g, size_t itemsize)
{
    const ptrdiff_t T = cc_winograd_tile_block(g, 4, itemsize), tiles = wg_tiles(g, 4);
    const ptrdiff_t fwd = cc_wg_blocks(tiles, T);
    const double sums = 36.0 * (double)(g->K / g->groups) * (double)(g->C / g->groups) *
                        (double)itemsize;
    const ptrdiff_t want =
        T > CC_WG_GRAD_TILES || sums < CC_WG_GRAD_SUMS_BYTES ? T : CC_WG_GRAD_TILES;
    ptrdiff_t n = (tiles + want - 1) / want;
    if (n < (fwd < CC_WG_GRAD_PARTS ? fwd : CC_WG_GRAD_PARTS))
        n = fwd < CC_WG_GRAD_PARTS ? fwd : CC_WG_GRAD_PARTS;
    return tiles > 0 ? (tiles + n - 1) / n : 1;
}

ptrdiff_t cc_winograd_grad_blocks(const cc_conv2d_geometry *g, size_t itemsize)
{
    const ptrdiff_t T = cc_winograd_grad_block(g, itemsize);
    return (wg_tiles(g, 4) + T - 1) / T;
}

ptrdiff_t cc_winograd_grad_workspace_per_thread(const cc_conv2d_geometry *g, size_t itemsize)
{
    const ptrdiff_t T = cc_winograd_grad_block(g, itemsize);
    const ptrdiff_t n = 36 * (cc_wg_elem_stride(g->C / g->groups, T, itemsize) +
                              cc_wg_elem_stride(g->K / g->groups, T, itemsize));
    /* the blocks, then the product's panels (a multiple of 16 elements), each 64-byte
     * aligned when the thread's workspace is */
    return n + (16 - n % 16) % 16 + cc_matmul_workspace_per_thread();
}

ptrdiff_t cc_winograd_workspace_per_thread(const cc_conv2d_geometry *g, int m,
                                           size_t itemsize)
{
    const ptrdiff_t T = cc_winograd_block_max(g, m, itemsize);
    return wg_alpha2(g, m) * (cc_wg_elem_stride(g->C / g->groups, cc_wg_v_cols(T), itemsize) +
                              cc_wg_elem_stride(g->K / g->groups, cc_wg_v_cols(T), itemsize));
}

cc_wg_layout cc_wg_plain_layout(const cc_conv2d_geometry *g)
{
    cc_wg_layout l = {1, 1, g->C * g->H * g->W, 0, g->H * g->W, 0,
                      g->K * g->Hout * g->Wout, 0, g->Hout * g->Wout,
                      g->N * g->C * g->H * g->W, g->N * g->K * g->Hout * g->Wout,
                      g->Wout, 1, NULL};
    return l;
}

ptrdiff_t cc_winograd_u_block(void)
{
    return active_isa()->direct->gemm.kb;
}

/* The row whose GEMM tile has ukb rows, for weights packed by cc_winograd_weights with
 * that block height (at whichever level was active then): the active row when its tile
 * has that height (AVX2's and the portable tile both have 6 rows: a forced level runs
 * its own code), else the best such row this CPU runs (AVX-512's 8 rows); the active row
 * for the plain layout (ukb = 1), or a height no row of this CPU has. */
static const cc_winograd_isa *isa_for(ptrdiff_t ukb)
{
    const cc_winograd_isa *active = active_isa();
    if (active->direct->gemm.kb == ukb)
        return active;
    for (int level = (int)cc_simd_detect(); level >= 0; level--) {
        const cc_winograd_isa *row = cc_isa_at((cc_simd_level)level)->winograd;
        if (row->direct->gemm.kb == ukb)
            return row;
    }
    return active;
}

#ifdef _OPENMP
#define CC_WG_FINISH_PARALLEL                                                                \
    _Pragma("omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1)")
#else
#define CC_WG_FINISH_PARALLEL (void)n_threads;
#endif

#define CC_WG_DISPATCH(T, sfx)                                                              \
    void cc_conv_winograd_strided_##sfx(const cc_conv2d_geometry *g, const cc_wg_layout *lay,  \
                                     int m, const T *x, const T *u, ptrdiff_t ukb,          \
                                     const T *bias, T *y, T *ws, ptrdiff_t it_lo,           \
                                     ptrdiff_t it_hi, int n_threads)                        \
    {                                                                                       \
        isa_for(ukb)->strided_##sfx(g, lay, m, x, u, ukb, bias, y, ws, it_lo, it_hi,         \
                                    n_threads);                                             \
    }                                                                                       \
    void cc_conv2d_winograd_##sfx(const cc_conv2d_geometry *g, int m, const T *x,           \
                                  const T *u, ptrdiff_t ukb, const T *bias, T *y, T *ws,    \
                                  int n_threads)                                            \
    {                                                                                       \
        const cc_wg_layout plain = cc_wg_plain_layout(g);                                   \
        cc_conv_winograd_strided_##sfx(g, &plain, m, x, u, ukb, bias, y, ws, 0,              \
                                       cc_winograd_work_items(g, m, sizeof(T)), n_threads);  \
    }                                                                                       \
    void cc_winograd_weights_##sfx(int m, ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups,       \
                                   ptrdiff_t R, const T *w, T *u, ptrdiff_t kb,              \
                                   int n_threads)                                            \
    {                                                                                       \
        active_isa()->weights_##sfx(m, K, Cg, groups, R, w, u, kb, n_threads);              \
    }                                                                                       \
    void cc_winograd_grad_weight_parts_##sfx(const cc_conv2d_geometry *g, const T *x,        \
                                             const T *go, T *parts, ptrdiff_t nparts,        \
                                             ptrdiff_t it_lo, ptrdiff_t it_hi, T *ws,        \
                                             int n_threads)                                  \
    {                                                                                       \
        active_isa()->grad_weight_parts_##sfx(g, x, go, parts, nparts, it_lo, it_hi, ws,     \
                                              n_threads);                                   \
    }                                                                                       \
    /* grad_weight[k][c] = G^T S G, S the 36 values of (k, c) summed over the parts in  \
     * order, in double (acc: 36 * Cg doubles per thread); per output channel, the parts' \
     * rows read along c. */                                                             \
    void cc_winograd_grad_weight_finish_##sfx(ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups,   \
                                              ptrdiff_t nparts, const T *parts, T *dw,       \
                                              double *acc, int n_threads)                    \
    {                                                                                       \
        const ptrdiff_t Kg = K / groups;                                                    \
        if (K * Cg < 4096)                                                                  \
            n_threads = 1;                                                                  \
        CC_WG_FINISH_PARALLEL                                                               \
        for (ptrdiff_t k = 0; k < K; k++) {                                                 \
            double *s = acc + (ptrdiff_t)CC_OMP_THREAD_ID() * 36 * Cg;                      \
            const ptrdiff_t grp = k / Kg, kk = k % Kg;                                      \
            for (ptrdiff_t p = 0; p < nparts; p++)                                          \
                for (int e = 0; e < 36; e++) {                                              \
                    const T *row = parts + (((grp * nparts + p) * 36 + e) * Kg + kk) * Cg;  \
                    double *sum = s + e * Cg;                                               \
                    for (ptrdiff_t c = 0; c < Cg; c++)                                      \
                        sum[c] = p ? sum[c] + (double)row[c] : (double)row[c];              \
                }                                                                           \
            for (ptrdiff_t c = 0; c < Cg; c++) {                                            \
                double t[6][3];                                                             \
                for (int i = 0; i < 6; i++) /* t = S G */                                   \
                    for (int b = 0; b < 3; b++) {                                           \
                        double v = 0;                                                       \
                        for (int j = 0; j < 6; j++)                                         \
                            if (cc_wg_g4[j][b] != 0)                                        \
                                v += s[(i * 6 + j) * Cg + c] * cc_wg_g4[j][b];              \
                        t[i][b] = v;                                                        \
                    }                                                                       \
                T *out = dw + (k * Cg + c) * 9;                                             \
                for (int a = 0; a < 3; a++) /* G^T t */                                     \
                    for (int b = 0; b < 3; b++) {                                           \
                        double v = 0;                                                       \
                        for (int i = 0; i < 6; i++)                                         \
                            if (cc_wg_g4[i][a] != 0)                                        \
                                v += cc_wg_g4[i][a] * t[i][b];                              \
                        out[a * 3 + b] = (T)v;                                              \
                    }                                                                       \
            }                                                                               \
        }                                                                                   \
    }

CC_WG_DISPATCH(float, f32)
CC_WG_DISPATCH(double, f64)

/* G (alpha x 3) of F(m, 3) for the points of winograd_impl.h. */
const double cc_wg_g4[6][3] = {
    {1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1},
};
const double cc_wg_g6[8][3] = {
    {-1, 0, 0}, {-2.0 / 9, -2.0 / 9, -2.0 / 9}, {-2.0 / 9, 2.0 / 9, -2.0 / 9},
    {1.0 / 90, 1.0 / 45, 2.0 / 45}, {1.0 / 90, -1.0 / 45, 2.0 / 45},
    {32.0 / 45, 16.0 / 45, 8.0 / 45}, {32.0 / 45, -16.0 / 45, 8.0 / 45}, {0, 0, 1},
};

