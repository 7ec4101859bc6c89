/* Direct convolution kernels for any CPU (plain C; SSE2 on x86-64). */
#include <stddef.h>
#include <string.h>

#include "cc_isa.h"
#include "cc_omp.h"
#include "conv2d_direct.h"

typedef float cc_v16sf __attribute__((vector_size(64)));
typedef double cc_v8df __attribute__((vector_size(64)));

/* "Masked" loads: lanes [lo, hi) of p, zeros elsewhere; only those lanes are read. */
typedef struct {
    int lo, hi;
} cc_mask;

static inline cc_mask cc_make_mask(int lo, int hi)
{
    cc_mask m = {lo, hi};
    return m;
}

static inline cc_v16sf cc_load_masked_f32(const float *p, cc_mask m)
{
    cc_v16sf v = {0};
    for (int l = m.lo; l < m.hi; l++)
        v[l] = p[l];
    return v;
}

static inline cc_v8df cc_load_masked_f64(const double *p, cc_mask m)
{
    cc_v8df v = {0};
    for (int l = m.lo; l < m.hi; l++)
        v[l] = p[l];
    return v;
}

#define CC_MASK cc_mask
#define CC_MAKE_MASK cc_make_mask
#define CC_ISA generic
#define CC_KB_BIG 4 /* 4 x 1 vectors = 16 xmm on SSE2: the compiler spills little */
#define CC_NV_BIG 1
#define CC_NV_ONE 1

#define REAL float
#define SFX f32
#define CC_LOAD_MASKED cc_load_masked_f32
#define CC_EVEN CC_EVEN_F32
#include "conv2d_direct_impl.h"
#undef REAL
#undef SFX
#undef CC_EVEN
#undef CC_LOAD_MASKED

#define REAL double
#define SFX f64
#define CC_LOAD_MASKED cc_load_masked_f64
#define CC_EVEN CC_EVEN_F64
#include "conv2d_direct_impl.h"

