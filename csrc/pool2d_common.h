/* Helpers shared by the pooling kernels (internal to the C library). */
#ifndef CC_POOL2D_COMMON_H
#define CC_POOL2D_COMMON_H
#include <stddef.h>

/* Up to this many output columns of a row (the edges of a row whose interior goes in
 * one fused pass) are computed output by output rather than one pass per window tap:
 * a pass per tap costs a range computation per tap, which one or two outputs do not
 * repay (3-D windows have 8 to 27 taps). */
#define CC_POOL_FEW_COLUMNS 2

/* Planes are the parallel tasks; few or tiny ones are not worth a thread team. */
static inline int cc_plane_threads(ptrdiff_t planes, ptrdiff_t plane_size, int n_threads)
{
    return planes * plane_size < 32768 || planes < 2 ? 1 : n_threads;
}

/* Output columns [*lo, *hi) whose tap at input offset `off` (= j*dw - pw) is inside
 * [0, W): 0 <= ow*sw + off < W. */
static inline void cc_tap_range(ptrdiff_t W, ptrdiff_t Wout, ptrdiff_t sw, ptrdiff_t off,
                                ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t a = off >= 0 ? 0 : (-off + sw - 1) / sw;
    ptrdiff_t b = W - off <= 0 ? 0 : (W - 1 - off) / sw + 1;
    if (b > Wout)
        b = Wout;
    *lo = a;
    *hi = b > a ? b : a;
}

/* Taps t in [*t0, *t1) of a window starting at `start` with `k` taps `step` apart that
 * land inside [0, n): start + t*step in [0, n).  Empty when *t0 >= *t1. */
static inline void cc_taps_inside(ptrdiff_t start, ptrdiff_t k, ptrdiff_t step, ptrdiff_t n,
                                  ptrdiff_t *t0, ptrdiff_t *t1)
{
    ptrdiff_t a = start >= 0 ? 0 : (-start + step - 1) / step;
    ptrdiff_t b = n - 1 - start < 0 ? 0 : (n - 1 - start) / step + 1;
    *t0 = a;
    *t1 = b < k ? b : k;
}

/* The shape of an adaptive pool: input volume (D, H, W) to output (Dout, Hout, Wout). */
typedef struct {
    ptrdiff_t D, H, W, Dout, Hout, Wout;
} cc_adaptive_shape;

/* PyTorch's adaptive window of output i of n over a length L: [start, end). */
static inline ptrdiff_t cc_adaptive_start(ptrdiff_t i, ptrdiff_t n, ptrdiff_t L)
{
    return (i * L) / n;
}

static inline ptrdiff_t cc_adaptive_end(ptrdiff_t i, ptrdiff_t n, ptrdiff_t L)
{
    return ((i + 1) * L + n - 1) / n;
}
#endif
