/* The convolution as a sparse matrix: row pointers, then the entries. */
#include <stddef.h>
#include <stdint.h>

#include "cc_omp.h"
#include "convcore.h"

/* Taps t in [0, k) with start + t*step inside [0, n). */
static ptrdiff_t cc_taps_in(ptrdiff_t start, ptrdiff_t k, ptrdiff_t step, ptrdiff_t n)
{
    ptrdiff_t lo = start >= 0 ? 0 : (-start + step - 1) / step;
    ptrdiff_t hi = n - 1 - start < 0 ? 0 : (n - 1 - start) / step + 1;
    if (hi > k)
        hi = k;
    return hi > lo ? hi - lo : 0;
}

int64_t cc_conv_matrix_indptr(const cc_conv2d_geometry *g, int64_t *indptr)
{
    const ptrdiff_t Cg = g->C / g->groups;
    int64_t nnz = 0;
    indptr[0] = 0;
    for (ptrdiff_t k = 0, row = 0; k < g->K; k++)
        for (ptrdiff_t oh = 0; oh < g->Hout; oh++) {
            ptrdiff_t nr = cc_taps_in(oh * g->stride_h - g->pad_top, g->R, g->dil_h, g->H);
            for (ptrdiff_t ow = 0; ow < g->Wout; ow++, row++) {
                ptrdiff_t ns = cc_taps_in(ow * g->stride_w - g->pad_left, g->S, g->dil_w, g->W);
                nnz += (int64_t)(Cg * nr * ns);
                indptr[row + 1] = nnz;
            }
        }
    return nnz;
}

#define REAL float
#define SFX f32
#include "conv_matrix_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "conv_matrix_impl.h"
