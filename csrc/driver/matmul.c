/* Batches of matrix products C = A B (or C += A B) on the active ISA's GEMM tile (the
 * pointwise layers' micro-kernel, driver/conv_direct.h): no ISA code and no BLAS.  The
 * channels-last 1x1 layers, the transposed convolution's per-tap route and its weight
 * gradient, Linear (convcore.nn) and Winograd's weight gradient multiply through it.
 *
 * A work item is a block of C (at most CC_MATMUL_ROWS rows x CC_MATMUL_COLS columns of
 * one batch entry, cc_matmul_plan).  Its thread takes the reduction in slices, BLIS's
 * way: the slice of B under the block packed in panels of the tile's width (one panel
 * stays in L1 while every kb rows of the block run on it), the slice of A read in place
 * when its rows are contiguous and at most 1 KiB apart, else packed in blocks of the
 * tile's kb rows (matmul_block says why); a later
 * slice adds to the sums the earlier ones stored.  Every element of C is summed by one
 * item over the reduction in order, so the result does not depend on the blocks, the
 * chunks of items or the thread count.  The tile is looked up once per call of a range,
 * and everything packed in that call is packed for it. */
#include <string.h>

#include "cc_omp.h"
#include "convcore.h"
#include "driver/matmul.h"

/* The most reduction rows of a slice: CC_PW_PANEL_BYTES over the narrowest tile (two
 * 16-byte vectors), so the workspace does not depend on the ISA; wider tiles take
 * fewer (cc_pw_slice). */
#define CC_MATMUL_SLICE_MAX (CC_PW_PANEL_BYTES / 32)

static ptrdiff_t ceil_div(ptrdiff_t a, ptrdiff_t b)
{
    return (a + b - 1) / b;
}

/* len in blocks of at most max (a multiple of q), of even sizes, multiples of q. */
static ptrdiff_t even_block(ptrdiff_t len, ptrdiff_t max, ptrdiff_t q)
{
    const ptrdiff_t per = ceil_div(len, ceil_div(len, max));
    return ceil_div(per, q) * q;
}

/* Rows in multiples of 24 (whole tiles of 6 and of 8 rows), columns of 32 (whole tiles
 * of every width, CC_GEMM_PANEL_MAX). */
void cc_matmul_plan(cc_matmul *p, int n_threads)
{
    const ptrdiff_t want = n_threads > 1 ? n_threads : 1;
    p->mb = even_block(p->m > 0 ? p->m : 1, CC_MATMUL_ROWS, 24);
    p->nb = even_block(p->n > 0 ? p->n : 1, CC_MATMUL_COLS, CC_GEMM_PANEL_MAX);
    while (p->batch * ceil_div(p->m, p->mb) * ceil_div(p->n, p->nb) < want) {
        if (p->mb > 24) /* rows first: a block of columns packs A's rows again */
            p->mb = ceil_div(ceil_div(p->mb, 2), 24) * 24;
        else if (p->nb > CC_GEMM_PANEL_MAX)
            p->nb = ceil_div(ceil_div(p->nb, 2), CC_GEMM_PANEL_MAX) * CC_GEMM_PANEL_MAX;
        else
            break;
    }
}

ptrdiff_t cc_matmul_items(const cc_matmul *p)
{
    if (p->batch <= 0 || p->m <= 0 || p->n <= 0)
        return 0;
    return p->batch * ceil_div(p->m, p->mb) * ceil_div(p->n, p->nb);
}

ptrdiff_t cc_matmul_workspace_per_thread(void)
{
    /* B's panels, then A's rows packed in blocks of any ISA's tile */
    const ptrdiff_t n = CC_MATMUL_SLICE_MAX * (CC_MATMUL_COLS + CC_MATMUL_ROWS +
                                               CC_GEMM_ROWS_MAX);
    return n + (16 - n % 16) % 16; /* each thread's buffers start 64-byte aligned */
}

#define REAL float
#define SFX f32
#include "driver/matmul_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "driver/matmul_impl.h"
#undef REAL
#undef SFX
