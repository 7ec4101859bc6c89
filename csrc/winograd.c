/* Winograd convolution: work partition, workspace sizes, the weight-transform matrices
 * and the per-ISA dispatch. */
#include "winograd.h"

/* Workspace budget per thread: the transformed input tiles V (alpha^2 x Cg x T) and the
 * products M (alpha^2 x Kg x T) of one block stay within ~2 MiB (an L2-sized slab),
 * while T stays at least 32 wide so that each of the alpha^2 GEMMs amortises the
 * packing of its Kg x Cg weight matrix over enough tiles. */
#define CC_WG_BUDGET_BYTES (8 * 1024 * 1024)
#define CC_WG_MIN_BLOCK 64
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
    ptrdiff_t per_tile = wg_alpha2(g, m) * (g->C / g->groups + g->K / g->groups) *
                         (ptrdiff_t)itemsize;
    ptrdiff_t t = CC_WG_BUDGET_BYTES / (per_tile > 0 ? per_tile : 1), tiles = wg_tiles(g, m);
    t -= t % 8;
    if (t < CC_WG_MIN_BLOCK)
        t = CC_WG_MIN_BLOCK;
    if (t > CC_WG_MAX_BLOCK)
        t = CC_WG_MAX_BLOCK;
    if (t > tiles)
        t = tiles;
    return t > 0 ? t : 1;
}

ptrdiff_t cc_winograd_work_items(const cc_conv2d_geometry *g, int m, size_t itemsize)
{
    ptrdiff_t t = cc_winograd_tile_block(g, m, itemsize);
    return g->groups * ((wg_tiles(g, m) + t - 1) / t);
}

ptrdiff_t cc_winograd_workspace_per_thread(const cc_conv2d_geometry *g, int m,
                                           size_t itemsize)
{
    return wg_alpha2(g, m) * (g->C / g->groups + g->K / g->groups) *
           cc_winograd_tile_block(g, m, itemsize);
}

/* name_<isa> args for the active SIMD level. */
#if defined(__x86_64__) || defined(__i386__)
#define CC_WG_CALL(name, args)                                                              \
    switch (cc_simd_active()) {                                                             \
    case CC_SIMD_AVX512:                                                                    \
        name##_avx512 args;                                                                 \
        break;                                                                              \
    case CC_SIMD_AVX2:                                                                      \
        name##_avx2 args;                                                                   \
        break;                                                                              \
    default:                                                                                \
        name##_generic args;                                                                \
    }
#else
#define CC_WG_CALL(name, args) name##_generic args;
#endif

#define CC_WG_DISPATCH(T, sfx, GEMM)                                                        \
    void cc_conv2d_winograd_##sfx(const cc_conv2d_geometry *g, int m, const T *x,           \
                                  const T *u, const T *bias, T *y, T *ws, GEMM gemm,        \
                                  int n_threads)                                            \
    {                                                                                       \
        CC_WG_CALL(cc_conv2d_winograd_##sfx, (g, m, x, u, bias, y, ws, gemm, n_threads))    \
    }                                                                                       \
    void cc_winograd_weights_##sfx(int m, ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups,       \
                                   ptrdiff_t R, const T *w, T *u, int n_threads)             \
    {                                                                                       \
        CC_WG_CALL(cc_winograd_weights_##sfx, (m, K, Cg, groups, R, w, u, n_threads))       \
    }

CC_WG_DISPATCH(float, f32, cc_sgemm_fn)
CC_WG_DISPATCH(double, f64, cc_dgemm_fn)

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

