/* Stride-2 3x3 layers by polyphase Winograd: the driver (no ISA code).  It transforms the
 * weights, cuts the layer into items and runs them on OpenMP threads, each item on the
 * chosen level's micro-kernel (kernels/conv_s2w_ukernel.h, through the ISA table). */
#include <stdlib.h>
#include <string.h>

#include "cc_isa_table.h"
#include "cc_omp.h"
#include "driver/conv_direct.h"
#include "driver/conv_s2w.h"

ptrdiff_t cc_s2w_kb(void)
{
    return cc_isa_active()->direct->s2w.kb;
}

/* The level to run weights of kb channels per block on: the active one if its tile
 * has kb, else one the CPU runs that has. */
static const cc_direct_isa *s2w_isa(ptrdiff_t kb)
{
    const cc_direct_isa *active = cc_isa_active()->direct;
    if (active->s2w.kb == kb)
        return active;
    for (int level = cc_simd_count() - 1; level >= 0; level--) {
        const cc_isa *row = cc_isa_at((cc_simd_level)level);
        if (row->runs_here() && row->direct->s2w.kb == kb)
            return row->direct;
    }
    return NULL;
}

/* Tiles per chunk: whole rows of tiles, as many as fit CC_S2W_CHUNK (a row of tiles is
 * one segment of the transform, and its last vector of tiles the only partial one),
 * else CC_S2W_CHUNK tiles of a row; fewer (halved down to 16) while the chunk's
 * transformed input would pass
 * CC_S2W_T_BYTES.  The shapes alone decide, never the thread count or the ISA. */
#define CC_S2W_T_BYTES (256 * 1024)
static ptrdiff_t s2w_chunk_tiles(const cc_conv2d_geometry *g, size_t itemsize)
{
    const ptrdiff_t tw = (g->Wout + 1) / 2, C = g->C / g->groups;
    ptrdiff_t cap = CC_S2W_CHUNK;
    while (cap > 16 && (double)C * 25 * (double)(cap + 16) * (double)itemsize > CC_S2W_T_BYTES)
        cap /= 2;
    return tw <= cap ? cap / tw * tw : cap;
}

static ptrdiff_t s2w_tiles(const cc_conv2d_geometry *g)
{
    return (g->Hout + 1) / 2 * ((g->Wout + 1) / 2);
}

static ptrdiff_t s2w_chunks(const cc_conv2d_geometry *g, size_t itemsize)
{
    const ptrdiff_t ct = s2w_chunk_tiles(g, itemsize);
    return (s2w_tiles(g) + ct - 1) / ct;
}

ptrdiff_t cc_s2w_items(const cc_conv2d_geometry *g, size_t itemsize)
{
    return g->N * g->groups * s2w_chunks(g, itemsize);
}

ptrdiff_t cc_s2w_workspace_per_thread(const cc_conv2d_geometry *g)
{
    return cc_s2w_scratch(g->C / g->groups);
}

ptrdiff_t cc_s2w_weights_size(const cc_conv2d_geometry *g, ptrdiff_t kb)
{
    const ptrdiff_t Kg = g->K / g->groups;
    return g->groups * ((Kg + kb - 1) / kb * kb) * (g->C / g->groups) * 25;
}

/* Outputs of this many bytes or more are written by non-temporal stores where the ISA
 * has them (whole, aligned vectors): the cores' caches cannot keep them anyway, and
 * the lines are then not read before being overwritten.  On the RGB stem (12.8 MB of
 * output) one core took 1.65-1.70 ms instead of 2.0-2.4 (Zen 4 class, AVX-512), as fast
 * as with the output in cache; from 2 MiB on, a 2 MB output (32 x 16 x 64^2, float32)
 * took 1.21-1.28x the direct kernel's time instead of 1.03-1.04x. */
#define CC_S2W_STREAM_BYTES (8.0 * 1024 * 1024)

int cc_s2w_fits(const cc_conv2d_geometry *g, size_t itemsize)
{
    return (double)(g->C / g->groups) * 25 * CC_S2W_TS * (double)itemsize <= CC_S2W_T_BYTES;
}

int cc_s2w_streams(const cc_conv2d_geometry *g, size_t itemsize)
{
    return (double)g->N * (double)g->K * (double)(g->Hout * g->Wout) * (double)itemsize >=
           CC_S2W_STREAM_BYTES;
}

/* The 5 combinations of the taps w0, w1, w2 (kernels/conv_s2w_ukernel.h), in double. */
static void s2w_taps(const double w[3], double out[5])
{
    out[0] = w[0];
    out[1] = w[0] + w[2];
    out[2] = w[2];
    out[3] = w[1];
    out[4] = w[1];
}

#define REAL float
#define SFX f32
#include "driver/conv_s2w_impl.h"
#undef REAL
#undef SFX
#define REAL double
#define SFX f64
#include "driver/conv_s2w_impl.h"
#undef REAL
#undef SFX
