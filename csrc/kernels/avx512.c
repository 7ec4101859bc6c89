/* The AVX-512 level (F, DQ, VL, BW): zmm vectors (16 floats / 8 doubles), 32 registers.
 *
 * Everything the library runs at this level, then its row of the table of ISAs
 * (cc_isa_table.h): the direct convolution's micro-kernels and GEMM tile (the templates
 * kernels/conv_direct_ukernel.h and conv_direct_cv_ukernel.h, below), the pooling
 * micro-kernels (kernels/pool2d_impl.h), im2col and col2im (kernels/im2col_impl.h), the
 * Winograd driver (winograd_isa.h, its products on this level's GEMM tile) and the peak
 * probe's FMA loops (kernels/peak_fma_impl.h).
 *
 * Direct convolution: big tile 8 channels x 2 vectors: 16 accumulators + 2 inputs + 1
 * weight, leaving registers for the edge masks; stride-2 loads are one two-source
 * permute. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cc_isa_table.h"
#include "kernels/cc_vec.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(                                                             \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#include <immintrin.h>

/* ---- direct convolution ---- */

typedef float cc_f32x16 __attribute__((vector_size(64)));
typedef double cc_f64x8 __attribute__((vector_size(64)));

static inline unsigned cc_lane_mask(int lo, int hi)
{
    return hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
}

static inline cc_f32x16 cc_load_masked_f32(const float *p, unsigned m)
{
    return (cc_f32x16)_mm512_maskz_loadu_ps((__mmask16)m, p);
}

static inline cc_f64x8 cc_load_masked_f64(const double *p, unsigned m)
{
    return (cc_f64x8)_mm512_maskz_loadu_pd((__mmask8)m, p);
}

/* Lanes of m stored; the others not touched (nor their addresses accessed). */
static inline void cc_store_masked_f32(float *p, unsigned m, cc_f32x16 v)
{
    _mm512_mask_storeu_ps(p, (__mmask16)m, (__m512)v);
}

static inline void cc_store_masked_f64(double *p, unsigned m, cc_f64x8 v)
{
    _mm512_mask_storeu_pd(p, (__mmask8)m, (__m512d)v);
}

#define CC_ISA avx512
#define CC_VBYTES 64
#define CC_KB_BIG 8
#define CC_NV_BIG 2
#define CC_KB_MID 4
#define CC_NV_MID 2
#define CC_NV_ONE 4
/* one-channel blocks of output rows on kernels of 4 rows or more (conv_direct_ukernel.h):
 * 4 rows x 4 vectors: 16 accumulators + 4 inputs + 1 broadcast of the 32 zmm */
#define CC_R_BLOCK 4
#define CC_NV_BLOCK 4
#define CC_NV_STRIP 2
#define CC_FMA_F32(a, b, c) ((cc_f32x16)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define CC_FMA_F64(a, b, c) ((cc_f64x8)_mm512_fmadd_pd((__m512d)(a), (__m512d)(b), (__m512d)(c)))
/* Stride-2 Winograd tile (conv_s2w_ukernel.h): 3 channels x 9 sums = 27 accumulators.
 * Each weight feeds one FMA there, so the FMA takes it as a broadcast operand from memory
 * (`{1to16}`): GCC kept the broadcasts in registers, loaded the transformed input as the
 * memory operand instead, and the tile ran at 58-61% of the FMA peak against 88% (Zen 4
 * class, one core, the RGB stem's tiles in L1). */
#define CC_S2W_KB 3
/* non-temporal stores of whole outputs (the stride-2 Winograd tile's large outputs) */
#define CC_STREAM_F32(p, v) _mm512_stream_ps((p), (__m512)(v))
#define CC_STREAM_F64(p, v) _mm512_stream_pd((p), (__m512d)(v))
#define CC_STREAM_FENCE() _mm_sfence()
#define CC_FMA_BCAST_F32(acc, x, p) \
    __asm__("vfmadd231ps %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(x), "m"(*(const float *)(p)))
#define CC_FMA_BCAST_F64(acc, x, p) \
    __asm__("vfmadd231pd %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(x), "m"(*(const double *)(p)))
/* 14 x 2 vectors: 28 accumulators + 2 weights + 1 broadcast = 31 of the 32 zmm, no spill
 * in the loop (objdump); widths 56 and 224 (ResNet, VGG, C3D) split into whole tiles,
 * where 12 pixels left a tile 1/3 empty at 56 (3-D C3D layer about 14% faster on one
 * thread, VGG 64@224 unchanged or faster). */
#define CC_CV_PIX 14
#define CC_CV_NV 2
/* two-tap rows unrolled: the DCGAN layer 0.90-0.92x the time of the tap loop (at AVX2,
 * 16 ymm, the unrolled taps spilled and took 1.20x) */
#define CC_CV_TWO_TAP 1

#define CC_MASK_F32 unsigned
#define CC_MASK_F64 unsigned
#define CC_MAKE_MASK_F32 cc_lane_mask
#define CC_MAKE_MASK_F64 cc_lane_mask
#define CC_LOAD_MASKED_F32 cc_load_masked_f32
#define CC_LOAD_MASKED_F64 cc_load_masked_f64
#define CC_STORE_MASKED_F32 cc_store_masked_f32
#define CC_STORE_MASKED_F64 cc_store_masked_f64
#define CC_EVEN_F32 CC_EVEN_16
#define CC_EVEN_F64 CC_EVEN_8
/* 3-tap rows of one-channel tiles (conv_direct_ukernel.h): `valignd`/`valignq` with an
 * immediate (GCC made the generic shuffle a `vpermt2ps`, which needs an index register
 * and a copy of the operand it overwrites) */
#define CC_SHIFT_F32(lo, hi, s) \
    _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), s))
#define CC_SHIFT_F64(lo, hi, s) \
    _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), s))
#define CC_SHIFT1_LAST_F32 CC_SHIFT1_LAST_16
#define CC_SHIFT1_LAST_F64 CC_SHIFT1_LAST_8
#define CC_ROW_SHIFT_F32 CC_SHIFT_F32
#define CC_ROW_SHIFT_F64 CC_SHIFT_F64
#define CC_ROW_SHIFT1_LAST_F32 CC_SHIFT1_LAST_F32
#define CC_ROW_SHIFT1_LAST_F64 CC_SHIFT1_LAST_F64
#define CC_ZIP_LO_F32 CC_ZIP_LO_16
#define CC_ZIP_HI_F32 CC_ZIP_HI_16
#define CC_ZIP_LO_F64 CC_ZIP_LO_8
#define CC_ZIP_HI_F64 CC_ZIP_HI_8
#include "kernels/conv_direct_instantiate.h"

/* ---- pooling ---- */

#define CC_POOL_ORDER(v) (v)
#define CC_POOL_VBYTES 64 /* stride-2 max and average paths (pool2d_impl.h) */

#define REAL float
#define SFX f32
/* the hardware max v > a ? v : a, then v where v is NaN (pool2d_impl.h) */
#define CC_POOL_MAX_NAN(a, v)                                                             \
    _mm512_mask_mov_ps(_mm512_max_ps(v, a), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v)
#define CC_POOL_EVEN CC_EVEN_16
#define CC_POOL_NEXT_EVEN CC_NEXT_EVEN_16
#define CC_POOL_ODD CC_ODD_16
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX
#undef CC_POOL_MAX_NAN
#undef CC_POOL_EVEN
#undef CC_POOL_NEXT_EVEN
#undef CC_POOL_ODD

#define REAL double
#define SFX f64
#define CC_POOL_MAX_NAN(a, v)                                                             \
    _mm512_mask_mov_pd(_mm512_max_pd(v, a), _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q), v)
#define CC_POOL_EVEN CC_EVEN_8
#define CC_POOL_NEXT_EVEN CC_NEXT_EVEN_8
#define CC_POOL_ODD CC_ODD_8
#include "kernels/pool2d_impl.h"
CC_POOL_ISA_ROW(avx512)
#undef REAL
#undef SFX
#undef CC_POOL_MAX_NAN
#undef CC_POOL_EVEN
#undef CC_POOL_NEXT_EVEN
#undef CC_POOL_ODD
#undef CC_POOL_ORDER
#undef CC_POOL_VBYTES

/* ---- im2col and col2im ---- */

#include "kernels/im2col_isa.h"

/* ---- Winograd ---- */

#define WG_GATHER 1
#include "winograd_isa.h"
#undef WG_GATHER

/* ---- the peak probe ---- */

#define CC_PEAK_CHAINS 16
#include "kernels/peak_fma_impl.h"
#undef CC_PEAK_CHAINS

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* AVX-512 F, DQ, VL and BW (checked outside the target region: this code runs on any
 * CPU) */
static int runs_here(void)
{
#if defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

CC_ISA_ROW(avx512, runs_here)
#endif
