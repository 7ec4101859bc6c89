/* The portable level: 16-byte vectors (4 floats / 2 doubles), which GCC and clang lower
 * to SSE2 on x86-64 and NEON on AArch64.
 *
 * Everything the library runs at this level, then its row of the table of ISAs
 * (cc_isa_table.h): the direct convolution's micro-kernels and GEMM tile (the templates
 * kernels/conv_direct_ukernel.h and conv_direct_cv_ukernel.h, below), the pooling
 * micro-kernels (kernels/pool2d_impl.h), im2col and col2im (kernels/im2col_impl.h), the
 * Winograd driver (winograd_isa.h, its products on this level's GEMM tile) and the peak
 * probe's FMA loops (kernels/peak_fma_impl.h).
 *
 * Direct convolution: big tile 6 channels x 2 vectors, mid tile 4 x 3 (AVX2's shapes):
 * 12 accumulators + 2 inputs + 1 weight + 1 product (no FMA in SSE2) are the 16 xmm
 * registers, and GCC keeps two accumulators on the stack; measured faster than 4 x 2
 * all the same (docs/algorithms.md, "The portable tiles").  NEON has 32 registers. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cc_isa_table.h"
#include "kernels/cc_vec.h"

/* ---- direct convolution ---- */

typedef float cc_f32x4 __attribute__((vector_size(16)));
typedef double cc_f64x2 __attribute__((vector_size(16)));

/* "Masked" loads: lanes [lo, hi) of p, zeros elsewhere; only those lanes are read. */
typedef struct {
    int lo, hi;
} cc_lanes;

static inline cc_lanes cc_make_lanes(int lo, int hi)
{
    cc_lanes m = {lo, hi};
    return m;
}

static inline cc_f32x4 cc_load_masked_f32(const float *p, cc_lanes m)
{
    cc_f32x4 v = {0};
    for (int l = m.lo; l < m.hi; l++)
        v[l] = p[l];
    return v;
}

static inline cc_f64x2 cc_load_masked_f64(const double *p, cc_lanes m)
{
    cc_f64x2 v = {0};
    for (int l = m.lo; l < m.hi; l++)
        v[l] = p[l];
    return v;
}

/* Lanes [m.lo, m.hi) stored; the others not touched. */
static inline void cc_store_masked_f32(float *p, cc_lanes m, cc_f32x4 v)
{
    for (int l = m.lo; l < m.hi; l++)
        p[l] = v[l];
}

static inline void cc_store_masked_f64(double *p, cc_lanes m, cc_f64x2 v)
{
    for (int l = m.lo; l < m.hi; l++)
        p[l] = v[l];
}

#define CC_ISA generic
#define CC_VBYTES 16
/* stride-2 Winograd tile (conv_s2w_ukernel.h): 1 channel x 9 sums */
#define CC_S2W_KB 1
#define CC_KB_BIG 6
#define CC_NV_BIG 2
/* the pointwise tiles that read their panel out of line: inlined into row_pw beside the
 * copying tile, SSE2 kept 10 of the big tile's 12 accumulators on the stack (2 out of
 * line, objdump); at AVX2 and AVX-512, whose inlined loops keep them all in registers,
 * the calls cost 1-2% (ResNet's 1x1 256 -> 64) */
#define CC_PW_OUT_OF_LINE 1
#define CC_KB_MID 4
#define CC_NV_MID 3
#define CC_NV_ONE 4
/* one-channel blocks of output rows on kernels of 4 rows or more (conv_direct_ukernel.h):
 * 4 rows x 3 vectors: 12 accumulators + 3 inputs + 1 broadcast, the 16 xmm */
#define CC_R_BLOCK 4
#define CC_NV_BLOCK 3
#define CC_CV_PIX 4
#define CC_CV_NV 2

#define CC_MASK_F32 cc_lanes
#define CC_MASK_F64 cc_lanes
#define CC_MAKE_MASK_F32 cc_make_lanes
#define CC_MAKE_MASK_F64 cc_make_lanes
#define CC_LOAD_MASKED_F32 cc_load_masked_f32
#define CC_LOAD_MASKED_F64 cc_load_masked_f64
#define CC_STORE_MASKED_F32 cc_store_masked_f32
#define CC_STORE_MASKED_F64 cc_store_masked_f64
#define CC_EVEN_F32 CC_EVEN_4
#define CC_EVEN_F64 CC_EVEN_2
#define CC_ZIP_LO_F32 CC_ZIP_LO_4
#define CC_ZIP_HI_F32 CC_ZIP_HI_4
#define CC_ZIP_LO_F64 CC_ZIP_LO_2
#define CC_ZIP_HI_F64 CC_ZIP_HI_2
#include "kernels/conv_direct_instantiate.h"

/* ---- pooling ---- */

#define CC_POOL_ORDER(v) (v)
#define CC_POOL_VBYTES 16 /* stride-2 max and average paths (pool2d_impl.h) */

#define REAL float
#define SFX f32
#define CC_POOL_EVEN CC_EVEN_4
#define CC_POOL_NEXT_EVEN CC_NEXT_EVEN_4
#define CC_POOL_ODD CC_ODD_4
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX
#undef CC_POOL_EVEN
#undef CC_POOL_NEXT_EVEN
#undef CC_POOL_ODD

#define REAL double
#define SFX f64
#define CC_POOL_EVEN CC_EVEN_2
#define CC_POOL_NEXT_EVEN CC_NEXT_EVEN_2
#define CC_POOL_ODD CC_ODD_2
#include "kernels/pool2d_impl.h"

CC_POOL_ISA_ROW(generic)
#undef REAL
#undef SFX
#undef CC_POOL_EVEN
#undef CC_POOL_NEXT_EVEN
#undef CC_POOL_ODD
#undef CC_POOL_ORDER
#undef CC_POOL_VBYTES

/* ---- im2col and col2im ---- */

#include "kernels/im2col_isa.h"

/* ---- Winograd ---- */

#define WG_GATHER 0
#include "winograd_isa.h"
#undef WG_GATHER

/* ---- the peak probe ---- */

#define CC_PEAK_CHAINS 8
#include "kernels/peak_fma_impl.h"
#undef CC_PEAK_CHAINS

/* Every CPU runs the portable level. */
static int runs_here(void)
{
    return 1;
}

CC_ISA_ROW(generic, runs_here)
