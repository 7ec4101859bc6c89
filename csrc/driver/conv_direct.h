/* The contract between the direct-convolution driver (driver/conv_direct.c, no ISA code)
 * and the per-ISA micro-kernels (kernels/<isa>.c).
 *
 * A micro-kernel computes one output row (the innermost spatial dimension) for a block
 * of kb <= KB output channels, sweeping the row in register tiles of KB channels x NV
 * vectors.  The outer spatial dimensions (height, depth) never reach it: the driver
 * flattens their kernel taps into U "outer taps" and hands it, per output row, the
 * offset of the input row each outer tap reads (-1 where that row is padding).  So one
 * micro-kernel serves 1-D, 2-D and 3-D convolution.
 */
#ifndef CC_DRIVER_CONV_DIRECT_H
#define CC_DRIVER_CONV_DIRECT_H
#include <stddef.h>
#include <string.h>

#include "convcore.h"

#define CC_DIRECT_ROW_ARGS(REAL, SFX)                                                     \
    typedef struct {                                                                      \
        const REAL *x;          /* input channel 0 of the group, one image */             \
        const REAL *wp;         /* packed weights of the block: [c][u][s][KB] */          \
        const REAL *bias;       /* biases of the block's channels, or NULL */             \
        const ptrdiff_t *rows;  /* U offsets of input rows in a channel, -1 = padding */  \
        ptrdiff_t U, Cg;        /* outer taps, input channels per group */                \
        ptrdiff_t W, S, sw, dw, pad_w, Wout; /* innermost dimension */                    \
        ptrdiff_t x_cstride;    /* elements per input channel */                          \
        ptrdiff_t y_kstride;    /* elements per output channel */                         \
        /* a band flattened into one virtual row of pixels (Wv > 0, else 0): */           \
        ptrdiff_t Wv, Wy, ny;   /* pitch of its rows, real row width, real rows */         \
        int pad_mode;           /* strip tile: what its edge strips read past the row */  \
        REAL *work;             /* pointwise: the thread's buffer for packed panels */    \
        ptrdiff_t work_size;    /* (elements, cc_pw_panels), else NULL and 0 */          \
        const REAL *next;       /* pointwise: the next item's stretch (to prefetch), */   \
        ptrdiff_t next_len;     /* its pixels; or NULL and 0 */                           \
    } cc_direct_row_##SFX;                                                                \
    typedef void (*cc_direct_row_fn_##SFX)(const cc_direct_row_##SFX *a, REAL *y, int kb);

CC_DIRECT_ROW_ARGS(float, f32)
CC_DIRECT_ROW_ARGS(double, f64)

/* The tiles every ISA provides, by role.  Vectorised along output columns: many output
 * channels on wide and on narrow rows, a few channels (the mid tile, and the short
 * one: the big tile less 2 channels), one channel (image filtering, depthwise) on wide
 * and narrow rows, and the strip tile: one input and one output channel per group,
 * 3x3 at stride 1 (any padding mode), whose strips of columns walk down a band of rows
 * read in place (kernels/conv_direct_strip_ukernel.h; nv: the vectors of its interior
 * strips).  Vectorised along output channels (CV): many output channels per
 * group (kernels/conv_direct_cv_ukernel.h).  Pointwise (PW): a 1x1 stride-1 layer
 * without padding, a GEMM whose row is a stretch of pixels of any length and whose kb
 * counts every channel of a range of blocks (the big tile, the blocks swept on each
 * tile in turn).  At AVX2 and the portable level the short tile (4 x 2) ties the mid
 * one (4 x 3) on rows and has fewer accumulators, so the plan does not take it there. */
/* Pointwise rows (CC_TILE_PW) take the input channels in slices whose rows of one tile
 * fill CC_PW_PANEL_BYTES (in L1 while every block of output channels runs on them), and
 * copy a slice of a tile of their stretch of len pixels into work: one panel that every
 * whole tile of tw pixels reuses in turn, and one for a last, shorter tile. */
#define CC_PW_PANEL_BYTES 16384
static inline ptrdiff_t cc_pw_slice(ptrdiff_t tw, ptrdiff_t real_bytes)
{
    return CC_PW_PANEL_BYTES / (tw * real_bytes);
}
static inline ptrdiff_t cc_pw_panels(ptrdiff_t Cg, ptrdiff_t len, ptrdiff_t tw,
                                     ptrdiff_t real_bytes)
{
    const ptrdiff_t kc = cc_pw_slice(tw, real_bytes);
    return (Cg < kc ? Cg : kc) * tw * (len > tw && len % tw ? 2 : 1);
}

enum { CC_TILE_BIG, CC_TILE_BIG_NARROW, CC_TILE_MID, CC_TILE_SHORT, CC_TILE_ONE,
       CC_TILE_ONE_NARROW, CC_TILE_STRIP, CC_TILE_CV, CC_TILE_PW, CC_N_TILES };

typedef struct {
    int kb, nv;                 /* output channels (0: nv vectors of them) x vectors */
    int pix;                    /* CV tiles: output pixels per tile (0 otherwise) */
    cc_direct_row_fn_f32 f32;
    cc_direct_row_fn_f64 f64;
} cc_direct_tile_entry;

/* The pointwise tile as a GEMM micro-kernel for other drivers (Winograd's products,
 * im2col's): y[kk * ys + t] for kk < n <= kb, t < cnt <= nv vectors, = (first ?
 * (bias ? bias[kk] : 0) : y[kk * ys + t]) + sum over c < kc of w(kk, c) * pk[c * ps + t],
 * in that order; pk a packed panel of kc rows of nv vectors, ps apart (the vectors
 * holding t < cnt are read, lanes past cnt never stored); w(kk, c) = w[c * kb + kk] (a
 * packed block of kb rows, ldw = 0) or w[kk * ldw + c] (rows of a matrix; rows past n
 * are not read). */
#define CC_GEMM_TILE_FN(REAL, SFX)                                                        \
    typedef void (*cc_gemm_tile_fn_##SFX)(const REAL *pk, ptrdiff_t ps, const REAL *w,    \
                                          ptrdiff_t ldw, ptrdiff_t kc, const REAL *bias,  \
                                          REAL *y, ptrdiff_t ys, int n, int cnt, int first);
CC_GEMM_TILE_FN(float, f32)
CC_GEMM_TILE_FN(double, f64)
#undef CC_GEMM_TILE_FN

/* The widest GEMM tile of any ISA, in elements of float or double: every ISA's tile
 * width divides it (test_kernels.c checks it), so the im2col route's workspace
 * (cc_gemm_workspace_per_thread, conv_im2col_plan.c), in panels of at most this width, does
 * not depend on the ISA. */
#define CC_GEMM_PANEL_MAX 32
/* The most rows of any ISA's GEMM tile (test_kernels.c checks it): buffers sized with it
 * (the im2col route's packed weights) fit the tile of any level, so a level switched
 * between sizing and running (set_isa from another thread) cannot overrun them. */
#define CC_GEMM_ROWS_MAX 8

/* dst[0:bytes] = src[0:bytes] for a row of a panel, the rows of the ISAs' tiles (two
 * vectors of 16, 32 or 64 bytes) copied inline rather than by a call of memcpy. */
static inline void cc_copy_panel_row(void *dst, const void *src, ptrdiff_t bytes)
{
    switch (bytes) {
    case 32: memcpy(dst, src, 32); break;
    case 64: memcpy(dst, src, 64); break;
    case 128: memcpy(dst, src, 128); break;
    default: memcpy(dst, src, (size_t)bytes);
    }
}

typedef struct {
    int kb, nv; /* the tile: kb rows x nv vectors */
    cc_gemm_tile_fn_f32 f32;
    cc_gemm_tile_fn_f64 f64;
} cc_gemm_tile_entry;

/* The column phases of a stride-2 row for the band copy (driver/conv_direct_impl.h):
 * even[i] = src[2 * i], odd[i] = src[2 * i + 1] for i < n; the three arrays disjoint. */
typedef void (*cc_split2_fn_f32)(float *even, float *odd, const float *src, ptrdiff_t n);
typedef void (*cc_split2_fn_f64)(double *even, double *odd, const double *src, ptrdiff_t n);

/* Stride-2 3x3 layers by polyphase Winograd (driver/conv_s2w.c, kernels/conv_s2w_ukernel.h).
 * The output is cut into tiles of 2 x 2 pixels, numbered row by row over a plane (tw
 * tiles per row of tiles); an item is a chunk of at most CC_S2W_CHUNK consecutive tiles
 * of one (image, group).  Its 25 transformed values per tile and input channel lie in
 * T[c][q][t] (CC_S2W_TS elements from one (c, q) to the next: the chunk's tiles and a
 * vector of slack), so every load of a tile's reduction is a constant offset. */
#define CC_S2W_CHUNK 128
#define CC_S2W_TS (CC_S2W_CHUNK + 16)
#define CC_S2W_KB_MAX 4 /* the most output channels of any ISA's register tile */

typedef struct {
    ptrdiff_t C, K;              /* input and output channels of one group */
    ptrdiff_t H, W, Hout, Wout;
    ptrdiff_t pad_top, pad_left;
    int pad_mode;                /* cc_pad_mode: what the padding reads */
    ptrdiff_t x_cstride, y_kstride; /* elements between channels: H W, Hout Wout */
    ptrdiff_t tw;                /* tiles per row of tiles: ceil(Wout / 2) */
    int stream;                  /* whole output vectors by non-temporal stores */
} cc_s2w_geom;

/* Elements of the scratch one chunk needs besides T (5 input rows gathered with their
 * padding under a border mode), and in all for C input channels. */
#define CC_S2W_ROW_SCRATCH (5 * (4 * CC_S2W_CHUNK + 128))
static inline ptrdiff_t cc_s2w_scratch(ptrdiff_t C)
{
    return C * 25 * CC_S2W_TS + CC_S2W_ROW_SCRATCH + 64; /* and a cache line to align */
}

/* Tiles [t_lo, t_hi) of one (image, group): x the group's input channel 0 of the image,
 * y its output channel 0, wt the group's transformed weights in blocks of the ISA's kb
 * channels ([K / kb][C][25][kb], zeros past K), bias the group's K biases or NULL,
 * scratch cc_s2w_scratch(C) elements. */
typedef struct {
    const void *x;               /* the (image, group) of the chunk run next, or NULL */
    ptrdiff_t t_lo, t_hi;        /* its tiles (their input rows are prefetched) */
} cc_s2w_next;
#define CC_S2W_FN(REAL, SFX)                                                               \
    typedef void (*cc_s2w_fn_##SFX)(const cc_s2w_geom *g, const REAL *x, const REAL *wt,   \
                                    const REAL *bias, REAL *y, ptrdiff_t t_lo,             \
                                    ptrdiff_t t_hi, REAL *scratch, const cc_s2w_next *next);
CC_S2W_FN(float, f32)
CC_S2W_FN(double, f64)
#undef CC_S2W_FN

/* The direct convolution's part of an ISA's row (cc_isa_table.h): its vector width,
 * tiles, GEMM tile, the band copy's stride-2 split and the stride-2 Winograd tile. */
typedef struct {
    int vector_bytes;
    cc_direct_tile_entry tiles[CC_N_TILES];
    cc_gemm_tile_entry gemm;
    struct {
        cc_split2_fn_f32 f32;
        cc_split2_fn_f64 f64;
    } split2;
    struct {
        int kb; /* output channels per register tile */
        cc_s2w_fn_f32 f32;
        cc_s2w_fn_f64 f64;
    } s2w;
} cc_direct_isa;


/* The active ISA's GEMM tile, and its width in elements of real_bytes bytes (for
 * drivers other than the direct one: im2col's products, driver/conv_im2col.c). */
const cc_gemm_tile_entry *cc_direct_gemm_tile(void);
ptrdiff_t cc_direct_gemm_width(ptrdiff_t real_bytes);
/* Both from one read of the active level (a kernel call uses this: its tile and width
 * then belong to one level whatever set_isa does meanwhile). */
const cc_gemm_tile_entry *cc_direct_gemm_tile_and_width(ptrdiff_t real_bytes, ptrdiff_t *tw);

#endif
