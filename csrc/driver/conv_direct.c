/* Direct convolution driver over 1, 2 or 3 spatial dimensions: no ISA code.
 *
 * It picks the active ISA's micro-kernel row and tile (kernels/<isa>.c), packs the
 * weights for the tile, lists the input rows each output row reads (the outer spatial
 * dimensions flattened: an indirection table shared by all images), cuts the work into
 * items that do not depend on the thread count, and runs a range of items on OpenMP
 * threads.  A band of output rows is one item: its few input rows (all channels) stay in
 * L2 while every block of output channels sweeps over them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cc_isa_table.h"
#include "cc_omp.h"
#include "driver/cc_scratch.h"
#include "driver/conv_direct.h"

/* The active level's tiles (its row of the ISA table). */
static const cc_direct_isa *active_isa(void)
{
    return cc_isa_active()->direct;
}

const cc_gemm_tile_entry *cc_direct_gemm_tile(void)
{
    return &active_isa()->gemm;
}

const cc_gemm_tile_entry *cc_direct_gemm_tile_and_width(ptrdiff_t real_bytes, ptrdiff_t *tw)
{
    /* one read of the level: two could straddle a set_isa and mix levels */
    const cc_direct_isa *isa = active_isa();
    *tw = (ptrdiff_t)isa->gemm.nv * (isa->vector_bytes / real_bytes);
    return &isa->gemm;
}

ptrdiff_t cc_direct_gemm_width(ptrdiff_t real_bytes)
{
    ptrdiff_t tw;
    cc_direct_gemm_tile_and_width(real_bytes, &tw);
    return tw;
}

/* Output rows per work item: a band's input rows (all channels of the group) stay in L2
 * (512 KiB on the smallest we target) while every block of output channels sweeps over
 * them.  As many rows as fit about 128 KiB of input rows, at least 4 (wide layers with
 * many channels) and at most 32 (few channels per group: depthwise, image filters), so
 * that an item's work outweighs its set-up and a short plane (7x7 at 512 channels) is
 * one band, one virtual row of few partial tiles. */
#define CC_BAND_ROWS 4
#define CC_BAND_ROWS_MAX 32
#define CC_BAND_BYTES 131072
/* Below this many items (image, group, band), output-channel blocks are split too so
 * that threads have work; a property of the shape, never of the thread count. */
#define CC_MIN_ITEMS 16

/* Pixels per work item of a pointwise layer (a GEMM per stretch of pixels of one image):
 * the image split into as many stretches as stretches of 512 bytes per input row need
 * (128 floats, 64 doubles: its copy, a slice of input channels, in L2; against 1 KiB,
 * 0.95-0.97x the time of ResNet's 1x1 256 -> 64 on two threads at both levels, never
 * slower on the other pointwise layers measured; 2 KiB was slower: docs/algorithms.md),
 * or more when the batch has fewer than CC_MIN_ITEMS, each a whole number of tiles and
 * at least 64 pixels, the last one shorter.  Blocks of output channels are split among
 * items only when there are still too few, at least CC_PW_MIN_BLOCKS blocks per item
 * (each item copies its stretch again). */
#define CC_PW_STRETCH_BYTES 512
#define CC_PW_MIN_BLOCKS 4
/* Layers of one output row per image (conv1d's) on column tiles: the row is cut into
 * stretches of output columns (whole tiles, at least CC_COLS_MIN outputs each) when the
 * batch and groups give fewer than CC_MIN_ITEMS items, so that one long signal runs on
 * every thread; at a column stride only where the row already runs as it is (nd == 1
 * geometries of the C API), not as a virtual row split by phase. */
#define CC_COLS_MIN 1024
/* Fewer output channels than a big tile's: from 4 on, the multi-channel tile that
 * computes the fewest rows (fewest_rows), below that the one-channel tiles. */
#define CC_FEW_CHANNELS 4

static ptrdiff_t outer_rows(const cc_conv_geometry *g, const ptrdiff_t *sizes)
{
    ptrdiff_t n = 1;
    for (int d = 0; d < g->nd - 1; d++)
        n *= sizes[d];
    return n;
}

/* Output rows per plane (the second-innermost dimension; 1 in 1-D) and bands per plane:
 * a band never crosses a plane, so its rows are consecutive rows of one plane. */
static ptrdiff_t plane_rows(const cc_conv_geometry *g)
{
    return g->nd >= 2 ? g->out[g->nd - 2] : 1;
}

static ptrdiff_t plane_bands(const cc_conv_geometry *g, ptrdiff_t band)
{
    return (plane_rows(g) + band - 1) / band;
}

static ptrdiff_t band_size(const cc_conv_geometry *g, int real_bytes)
{
    const int nd = g->nd;
    const ptrdiff_t row_bytes = (g->C / g->groups) * g->in[nd - 1] * real_bytes *
                                (nd >= 2 ? g->stride[nd - 2] : 1);
    const ptrdiff_t b = row_bytes > 0 ? CC_BAND_BYTES / row_bytes : CC_BAND_ROWS_MAX;
    return b < CC_BAND_ROWS ? CC_BAND_ROWS : b > CC_BAND_ROWS_MAX ? CC_BAND_ROWS_MAX : b;
}

/* Kg output channels rounded up to whole blocks of kb: the rows a tile of kb channels
 * computes. */
static ptrdiff_t padded(ptrdiff_t Kg, ptrdiff_t kb)
{
    return (Kg + kb - 1) / kb * kb;
}

/* Whether the mid tile, with as many accumulators as the big one (AVX2's 4 x 3 beside
 * 6 x 2), computes fewer padded channels for Kg output channels: the big tile computes
 * Kg rounded up to a multiple of its channels (32 channels on 6 x 2 tiles: 36, a ninth
 * wasted; on 4 x 3 tiles: 32). */
static int fewer_padded(const cc_direct_isa *isa, ptrdiff_t Kg)
{
    const cc_direct_tile_entry *big = &isa->tiles[CC_TILE_BIG];
    const cc_direct_tile_entry *mid = &isa->tiles[CC_TILE_MID];
    return mid->kb * mid->nv >= big->kb * big->nv && padded(Kg, mid->kb) < padded(Kg, big->kb);
}

/* Of the big, short and mid tiles, the one computing the fewest rows for Kg (< the big
 * tile's) output channels, then the one with more accumulators: at AVX-512 (8 x 2, 6 x
 * 2, 4 x 2) 4 channels on the mid tile, 5 and 6 (LeNet's C1) on the short one, 7 on the
 * big one; the time of a layer of 4-6 channels goes with the rows its tiles compute
 * (docs/algorithms.md). */
static int fewest_rows(const cc_direct_isa *isa, ptrdiff_t Kg)
{
    static const int candidates[] = {CC_TILE_MID, CC_TILE_SHORT, CC_TILE_BIG};
    int best = CC_TILE_MID;
    for (int i = 1; i < 3; i++) {
        const cc_direct_tile_entry *t = &isa->tiles[candidates[i]], *b = &isa->tiles[best];
        const ptrdiff_t rows = padded(Kg, t->kb), best_rows = padded(Kg, b->kb);
        if (rows < best_rows || (rows == best_rows && t->kb * t->nv > b->kb * b->nv))
            best = candidates[i];
    }
    return best;
}

/* Whether the strip tile runs the layer: one input and one output channel per group, a
 * 3x3 kernel at stride 1 and dilation 1 (any padding mode), on a plane whose rows hold
 * a vector. */
static int strip_fits(const cc_conv_geometry *g, int lanes)
{
    return g->nd == 2 && g->C == g->groups && g->K == g->groups && g->kernel[0] == 3 &&
           g->kernel[1] == 3 && g->stride[0] == 1 && g->stride[1] == 1 &&
           g->dilation[0] == 1 && g->dilation[1] == 1 && g->out[1] >= lanes;
}

void cc_conv_direct_plan_make(const cc_conv_geometry *g, int real_bytes,
                              cc_conv_direct_plan *p)
{
    const cc_direct_isa *isa = active_isa();
    const ptrdiff_t Kg = g->K / g->groups, Cg = g->C / g->groups;
    const ptrdiff_t Wout = g->out[g->nd - 1], S = g->kernel[g->nd - 1];
    const int lanes = isa->vector_bytes / real_bytes;
    /* Bands of equal height: the rows of a plane shared out evenly among as many bands
     * as band_size asks for (56 rows in 7 bands of 8, not 6 of 9 and one of 2), so that
     * the items the threads share are alike.  2-D and 3-D bands run as one virtual row
     * (flat_band): narrow only if that is. */
    const ptrdiff_t pr = plane_rows(g), most = band_size(g, real_bytes);
    const ptrdiff_t nbp = plane_bands(g, most);
    const ptrdiff_t band = nbp > 0 ? (pr + nbp - 1) / nbp : most;
    const ptrdiff_t Hout = g->nd >= 2 ? g->out[g->nd - 2] : 1;
    const int narrow = (g->nd >= 2 ? (band < Hout ? band : Hout) : 1) * Wout <= lanes;
    const int kb_cv = isa->tiles[CC_TILE_CV].nv * lanes;
    const ptrdiff_t taps = Cg * outer_rows(g, g->kernel) * S; /* reduction per output */
    int tile;
    const int pw = cc_conv_pointwise(g) && Kg >= isa->tiles[CC_TILE_PW].kb;
    /* Channel tiles pay a transposed store per output: worth it from about 8 vectors'
     * worth of reduction per output (measured: an RGB stem 3x3, 27 taps, ran 2.6x faster
     * on column tiles at AVX-512), and only on at least one full block of kb_cv
     * channels, the blocks three quarters full on average: a half-empty block ran
     * 1.3-2.1x slower than the column tiles on
     * 1->8, 3->16, 8->8, 16->16, 6->16 (LeNet's C3), 32->12 and 64->10 channels, a
     * block of 20, 36 or 40 channels on two blocks 1.1-1.8x slower (one thread, both
     * levels and dtypes, docs/algorithms.md). */
    if (pw)
        tile = CC_TILE_PW;
    else if (Kg >= kb_cv && 4 * Kg >= 3 * padded(Kg, kb_cv) && taps >= 8 * lanes)
        tile = CC_TILE_CV;
    else if (strip_fits(g, lanes))
        tile = CC_TILE_STRIP;
    else if (Kg >= isa->tiles[CC_TILE_BIG].kb)
        tile = narrow               ? CC_TILE_BIG_NARROW
               : fewer_padded(isa, Kg) ? CC_TILE_MID
                                       : CC_TILE_BIG;
    else if (Kg >= CC_FEW_CHANNELS && !narrow) /* fewer than a big tile's */
        tile = fewest_rows(isa, Kg);
    else
        tile = narrow ? CC_TILE_ONE_NARROW : CC_TILE_ONE;
    p->isa = isa;
    p->tile = tile;
    p->kb = isa->tiles[tile].kb ? isa->tiles[tile].kb : kb_cv;
    p->nv = isa->tiles[tile].nv;
    p->pix = isa->tiles[tile].pix;
    p->lanes = lanes;
    p->nkb = (Kg + p->kb - 1) / p->kb;
    const ptrdiff_t rows = outer_rows(g, g->out), U = outer_rows(g, g->kernel);
    p->band = band;
    p->nbands = pr > 0 ? rows / pr * plane_bands(g, band) : 0;
    p->flat = g->nd >= 2 && tile != CC_TILE_STRIP; /* strips read the input in place */
    /* One output row per image (1-D layers, 2-D and 3-D ones of one row): stretches of
     * output columns, the last one shorter, run on the row as it is.  A 2-D or 3-D row
     * at a column stride stays one virtual row split by column phase (flat_band): on the
     * row as it is it took 1.1x the time on one thread (docs/algorithms.md). */
    p->cols = 0;
    if (!pw && tile != CC_TILE_STRIP && rows == 1 && (!p->flat || g->stride[g->nd - 1] == 1)) {
        const ptrdiff_t imgs = g->N * g->groups;
        const ptrdiff_t step = p->pix ? (Wout > 0 ? Wout : 1) : (ptrdiff_t)p->nv * lanes;
        ptrdiff_t nst = imgs > 0 ? (CC_MIN_ITEMS + imgs - 1) / imgs : 1;
        nst = nst < Wout / CC_COLS_MIN ? nst : Wout / CC_COLS_MIN;
        nst = nst > 1 ? nst : 1;
        const ptrdiff_t st = ((Wout + nst - 1) / nst + step - 1) / step * step;
        p->cols = !p->flat || (st > 0 && st < Wout);
        if (p->cols) {
            p->flat = 0;
            p->band = st > 0 ? st : 1;
            p->nbands = st > 0 ? (Wout + st - 1) / st : 1;
        }
    }
    if (pw) { /* stretches of st pixels, the last one shorter */
        const ptrdiff_t px = rows * Wout, imgs = g->N * g->groups;
        const ptrdiff_t want = imgs > 0 ? (CC_MIN_ITEMS + imgs - 1) / imgs : 1;
        const ptrdiff_t tw = (ptrdiff_t)p->nv * lanes; /* the tile's pixels */
        const ptrdiff_t stretch = CC_PW_STRETCH_BYTES / real_bytes;
        ptrdiff_t nst = (px + stretch - 1) / stretch;
        nst = nst > want ? nst : want;
        ptrdiff_t st = (px + nst - 1) / nst;
        st = ((st < 64 ? 64 : st) + tw - 1) / tw * tw;
        p->band = px < st ? px : st;
        p->nbands = (px + st - 1) / st;
        p->flat = 0;
    }
    const ptrdiff_t outer = g->N * g->groups * p->nbands;
    ptrdiff_t kchunks = outer > 0 && outer < CC_MIN_ITEMS ? (CC_MIN_ITEMS + outer - 1) / outer
                                                          : 1;
    /* as many blocks in every chunk: the first divisor of nkb from kchunks up, or on
     * pointwise plans down from at most nkb / CC_PW_MIN_BLOCKS */
    if (pw) {
        const ptrdiff_t most = p->nkb / CC_PW_MIN_BLOCKS;
        kchunks = kchunks < most ? kchunks : most > 1 ? most : 1;
        while (kchunks > 1 && p->nkb % kchunks)
            kchunks--;
    }
    while (kchunks < p->nkb && p->nkb % kchunks)
        kchunks++;
    p->kchunks = kchunks < p->nkb ? kchunks : p->nkb > 0 ? p->nkb : 1;
    p->items = outer * p->kchunks;
    p->pack_size = g->groups * p->nkb * p->kb * Cg * U * S;
    p->rows_size = pw ? 1 : p->cols ? U : band * U;
    const double macs = (double)g->N * (double)g->K * (double)rows * (double)Wout *
                        (double)Cg * (double)U * (double)S;
    p->flops_per_item = p->items ? 2.0 * macs / (double)p->items : 0.0;
}

/* The input index, row-major over the dimensions [0, od), that output index o (row-major
 * over the same dimensions) reads at kernel tap u, or -1 where it lies in the zero
 * padding (other border modes map the index onto the input). */
static ptrdiff_t outer_input(const cc_conv_geometry *g, int od, ptrdiff_t o, ptrdiff_t u)
{
    ptrdiff_t oi[CC_MAX_DIMS] = {0}, tap[CC_MAX_DIMS] = {0}, off = 0;
    for (int d = od - 1; d >= 0; d--) {
        oi[d] = o % g->out[d];
        o /= g->out[d];
        tap[d] = u % g->kernel[d];
        u /= g->kernel[d];
    }
    for (int d = 0; d < od && off >= 0; d++) {
        ptrdiff_t i = oi[d] * g->stride[d] - g->pad[d] + tap[d] * g->dilation[d];
        i = cc_pad_index(i, g->in[d], g->pad_mode);
        off = i < 0 ? -1 : off * g->in[d] + i;
    }
    return off;
}

/* rows[(o - o_lo) * U + u] for output rows o in [o_lo, o_hi): the offset in an input
 * channel of the row that output row o reads at outer tap u, or -1 when that row lies in
 * the zero padding.  Output rows and taps are numbered row-major over the outer
 * dimensions (depth, height). */
static void band_rows(const cc_conv_geometry *g, ptrdiff_t o_lo, ptrdiff_t o_hi,
                      ptrdiff_t *rows)
{
    const ptrdiff_t U = outer_rows(g, g->kernel);
    if (g->nd == 2) { /* without outer_input's divisions: a band of a few rows of a small
                       * plane is quick to run */
        for (ptrdiff_t o = o_lo; o < o_hi; o++)
            for (ptrdiff_t u = 0; u < U; u++) {
                const ptrdiff_t i = cc_pad_index(
                    o * g->stride[0] - g->pad[0] + u * g->dilation[0], g->in[0], g->pad_mode);
                rows[(o - o_lo) * U + u] = i >= 0 ? i * g->in[1] : -1;
            }
        return;
    }
    for (ptrdiff_t o = o_lo; o < o_hi; o++)
        for (ptrdiff_t u = 0; u < U; u++) {
            const ptrdiff_t off = outer_input(g, g->nd - 1, o, u);
            rows[(o - o_lo) * U + u] = off < 0 ? -1 : off * g->in[g->nd - 1];
        }
}

/* For the band of output rows starting at o_lo: the offset in an input channel of the
 * input plane (the two innermost dimensions) each of the U / R taps of the dimensions
 * above the plane reads, or -1 where that plane is padding; in 2-D one plane, offset 0. */
static void band_planes(const cc_conv_geometry *g, ptrdiff_t o_lo, ptrdiff_t *planes)
{
    const int od = g->nd - 2;
    const ptrdiff_t plane_size = g->in[g->nd - 2] * g->in[g->nd - 1];
    ptrdiff_t Uu = 1;
    for (int d = 0; d < od; d++)
        Uu *= g->kernel[d];
    for (ptrdiff_t ut = 0; ut < Uu; ut++) {
        const ptrdiff_t off = outer_input(g, od, o_lo / plane_rows(g), ut);
        planes[ut] = off < 0 ? -1 : off * plane_size;
    }
}

/* Where a border mode splits an output row: outputs [0, *left) and [*right, Wout) read
 * the padding and run on small copies of their columns; [*left, *right) reads only the
 * row and runs on the input.  The split falls on whole register tiles of `step` outputs,
 * so a row takes as many tiles as it would with zero padding. */
static void border_split(ptrdiff_t W, ptrdiff_t Wout, ptrdiff_t sw, ptrdiff_t span,
                         ptrdiff_t pad_w, ptrdiff_t step, ptrdiff_t *left, ptrdiff_t *right)
{
    ptrdiff_t jl = (pad_w + sw - 1) / sw; /* first output whose window starts inside */
    const ptrdiff_t v = W - 1 + pad_w - span;
    ptrdiff_t jr = v < 0 ? 0 : v / sw + 1; /* outputs before it end inside */
    jl = jl > Wout ? Wout : jl;
    jr = jr > Wout ? Wout : jr < jl ? jl : jr;
    ptrdiff_t l = jl ? (jl + step - 1) / step * step : 0;
    l = l > Wout ? Wout : l;
    ptrdiff_t r = jr > l ? l + (jr - l) / step * step : l;
    *left = l;
    *right = r;
}

/* Work item `it` of a plan: its image, group, band of output rows (a stretch of pixels
 * on pointwise plans) and range of blocks of output channels. */
typedef struct {
    ptrdiff_t n, grp, band, kb_lo, kb_hi;
} cc_direct_item;

static cc_direct_item item_of(const cc_conv_geometry *g, const cc_conv_direct_plan *p,
                              ptrdiff_t it)
{
    const ptrdiff_t kc = it % p->kchunks, rest = it / p->kchunks, ng = rest / p->nbands;
    cc_direct_item r = {ng / g->groups, ng % g->groups, rest % p->nbands,
                        p->nkb * kc / p->kchunks, p->nkb * (kc + 1) / p->kchunks};
    return r;
}

#define REAL float
#define SFX f32
#include "driver/conv_direct_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "driver/conv_direct_impl.h"
#undef REAL
#undef SFX

cc_conv_geometry cc_conv_geometry_from_2d(const cc_conv2d_geometry *g2)
{
    cc_conv_geometry g;
    memset(&g, 0, sizeof g);
    g.nd = 2;
    g.N = g2->N; g.C = g2->C; g.K = g2->K; g.groups = g2->groups;
    g.in[0] = g2->H; g.in[1] = g2->W;
    g.kernel[0] = g2->R; g.kernel[1] = g2->S;
    g.out[0] = g2->Hout; g.out[1] = g2->Wout;
    g.stride[0] = g2->stride_h; g.stride[1] = g2->stride_w;
    g.dilation[0] = g2->dil_h; g.dilation[1] = g2->dil_w;
    g.pad[0] = g2->pad_top; g.pad[1] = g2->pad_left;
    g.pad_mode = g2->pad_mode;
    return g;
}
