/* The AVX2 + FMA level: ymm vectors (8 floats / 4 doubles), 16 registers.
 *
 * Everything the library runs at this level, then its row of the table of ISAs
 * (cc_isa_table.h): the direct convolution's micro-kernels and GEMM tile (the templates
 * kernels/conv_direct_ukernel.h and conv_direct_cv_ukernel.h, below), the pooling
 * micro-kernels (kernels/pool2d_impl.h), im2col and col2im (kernels/im2col_impl.h), the
 * Winograd driver (winograd_isa.h, its products on this level's GEMM tile) and the peak
 * probe's FMA loops (kernels/peak_fma_impl.h).
 *
 * Direct convolution: big tile 6 channels x 2 vectors (6 x 16 floats, BLIS's Haswell
 * sgemm shape): 12 accumulators + 2 inputs + 1 broadcast weight = 15 registers; mid
 * tile 4 x 3 vectors, as many accumulators, for channel counts it pads less (the RGB
 * stem). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cc_isa_table.h"
#include "kernels/cc_vec.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>

/* ---- direct convolution ---- */

typedef float cc_f32x8 __attribute__((vector_size(32)));
typedef double cc_f64x4 __attribute__((vector_size(32)));

/* Lanes [lo, hi) of 8 (floats) or 4 (doubles): a per-lane sign mask for vmaskmov, whose
 * masked-off lanes are never read. */
static inline __m256i cc_mask_f32(int lo, int hi)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), idx),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
}

static inline __m256i cc_mask_f64(int lo, int hi)
{
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(lo), idx),
                               _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), idx));
}

static inline cc_f32x8 cc_load_masked_f32(const float *p, __m256i m)
{
    return (cc_f32x8)_mm256_maskload_ps(p, m);
}

static inline cc_f64x4 cc_load_masked_f64(const double *p, __m256i m)
{
    return (cc_f64x4)_mm256_maskload_pd(p, m);
}

/* Lanes of m stored; the others not touched (nor their addresses accessed). */
static inline void cc_store_masked_f32(float *p, __m256i m, cc_f32x8 v)
{
    _mm256_maskstore_ps(p, m, (__m256)v);
}

static inline void cc_store_masked_f64(double *p, __m256i m, cc_f64x4 v)
{
    _mm256_maskstore_pd(p, m, (__m256d)v);
}

/* v with lanes l.. moved to lanes 0.. (vpermps; lanes past the end wrap around) */
static inline cc_f32x8 cc_lanes_down_f32(cc_f32x8 v, int l)
{
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(l),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return (cc_f32x8)_mm256_permutevar8x32_ps((__m256)v, idx);
}

static inline cc_f64x4 cc_lanes_down_f64(cc_f64x4 v, int l)
{
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(2 * l),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return (cc_f64x4)_mm256_permutevar8x32_ps((__m256)v, idx);
}

#define CC_ISA avx2
#define CC_VBYTES 32
#define CC_KB_BIG 6
#define CC_NV_BIG 2
/* 4 channels x 3 vectors: as many accumulators as the big tile (12), and 3 loads + 4
 * broadcasts per 12 FMAs; chosen over it where its blocks pad fewer channels (RGB stem,
 * 32 channels: 8 blocks of 4 rather than 6 blocks of 6 computing 36) */
#define CC_KB_MID 4
#define CC_NV_MID 3
/* the pointwise tiles prefetch the next stretch with locality 2 (prefetcht1): on ResNet's
 * 1x1 256 -> 64, four series of alternating processes against prefetcht0 read 0.92-1.03x
 * the time in float32 and 0.93-1.00x in float64, three of four under 1 in each (AMD
 * EPYC Zen 4 class, AVX2 forced, 1 and 2 threads); at AVX-512 prefetcht1 took
 * 1.01-1.05x, so that level keeps the default, 3 */
#define CC_PW_PREFETCH_LOCALITY 2
#define CC_NV_ONE 4
/* one-channel blocks of output rows on kernels of 4 rows or more (conv_direct_ukernel.h):
 * 4 rows x 3 vectors: 12 accumulators + 3 inputs + 1 broadcast, the 16 ymm */
#define CC_R_BLOCK 4
#define CC_NV_BLOCK 3
#define CC_NV_STRIP 2 /* interior strips; the edge ones are of one vector */
#define CC_FMA_F32(a, b, c) ((cc_f32x8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define CC_FMA_F64(a, b, c) ((cc_f64x4)_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(c)))
/* stride-2 Winograd tile (conv_s2w_ukernel.h): 1 channel x 9 sums, all that fits 16 ymm
 * with the input and a broadcast; a load and a broadcast per FMA */
#define CC_S2W_KB 1
/* non-temporal stores of whole outputs (the stride-2 Winograd tile's large outputs) */
#define CC_STREAM_F32(p, v) _mm256_stream_ps((p), (__m256)(v))
#define CC_STREAM_F64(p, v) _mm256_stream_pd((p), (__m256d)(v))
#define CC_STREAM_FENCE() _mm_sfence()
#define CC_CV_PIX 6
#define CC_CV_NV 2
#define CC_CV_TAP_UNROLL 1 /* 12 accumulators + 2 weights + 1 broadcast: all 16 ymm */

#define CC_MASK_F32 __m256i
#define CC_MASK_F64 __m256i
#define CC_MAKE_MASK_F32 cc_mask_f32
#define CC_MAKE_MASK_F64 cc_mask_f64
#define CC_LOAD_MASKED_F32 cc_load_masked_f32
#define CC_LOAD_MASKED_F64 cc_load_masked_f64
#define CC_STORE_MASKED_F32 cc_store_masked_f32
#define CC_STORE_MASKED_F64 cc_store_masked_f64
#define CC_LANES_DOWN_F32 cc_lanes_down_f32 /* vmaskmov stores are microcoded on Zen */
#define CC_LANES_DOWN_F64 cc_lanes_down_f64
#define CC_EVEN_F32 CC_EVEN_INLANE_8 /* stride-2 loads in vshufps's lane order ... */
#define CC_EVEN_F64 CC_EVEN_INLANE_4
#define CC_ORDER_F32 CC_ORDER_INLANE_8 /* ... put back in order once per accumulator */
#define CC_ORDER_F64 CC_ORDER_INLANE_4
#define CC_ZIP_LO_F32 CC_ZIP_LO_8
#define CC_ZIP_HI_F32 CC_ZIP_HI_8
#define CC_ZIP_LO_F64 CC_ZIP_LO_4
#define CC_ZIP_HI_F64 CC_ZIP_HI_4
/* 3-tap rows of one-channel tiles, output row by output row (conv_direct_ukernel.h):
 * lanes s.. of lo then the first of hi, by one vperm2f128 (lo's high half, hi's low half)
 * and a vpalignr per 128-bit lane */
#define CC_ROW_SHIFT_F32(lo, hi, s)                                                       \
    _mm256_castsi256_ps(_mm256_alignr_epi8(                                               \
        _mm256_castps_si256(_mm256_permute2f128_ps(lo, hi, 0x21)), _mm256_castps_si256(lo), \
        4 * (s)))
#define CC_ROW_SHIFT_F64(lo, hi, s)                                                       \
    _mm256_castsi256_pd(_mm256_alignr_epi8(                                               \
        _mm256_castpd_si256(_mm256_permute2f128_pd(lo, hi, 0x21)), _mm256_castpd_si256(lo), \
        8 * (s)))
#define CC_ROW_SHIFT1_LAST_F32 CC_SHIFT1_LAST_8
#define CC_ROW_SHIFT1_LAST_F64 CC_SHIFT1_LAST_4
#include "kernels/conv_direct_instantiate.h"

/* ---- pooling ---- */

#define CC_POOL_VBYTES 32 /* stride-2 max and average paths (pool2d_impl.h) */

#define REAL float
#define SFX f32
/* the hardware max v > a ? v : a, then v where v is NaN (pool2d_impl.h) */
#define CC_POOL_MAX_NAN(a, v)                                                             \
    _mm256_blendv_ps(_mm256_max_ps(v, a), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q))
#define CC_POOL_EVEN CC_EVEN_INLANE_8 /* in vshufps's lane order (cc_vec.h) */
#define CC_POOL_NEXT_EVEN CC_NEXT_EVEN_INLANE_8
#define CC_POOL_ODD CC_ODD_INLANE_8
#define CC_POOL_ORDER CC_ORDER_INLANE_8
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX
#undef CC_POOL_MAX_NAN
#undef CC_POOL_EVEN
#undef CC_POOL_NEXT_EVEN
#undef CC_POOL_ODD
#undef CC_POOL_ORDER

#define REAL double
#define SFX f64
#define CC_POOL_MAX_NAN(a, v)                                                             \
    _mm256_blendv_pd(_mm256_max_pd(v, a), v, _mm256_cmp_pd(v, v, _CMP_UNORD_Q))
#define CC_POOL_EVEN CC_EVEN_INLANE_4
#define CC_POOL_NEXT_EVEN CC_NEXT_EVEN_INLANE_4
#define CC_POOL_ODD CC_ODD_INLANE_4
#define CC_POOL_ORDER CC_ORDER_INLANE_4
#include "kernels/pool2d_impl.h"
CC_POOL_ISA_ROW(avx2)
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

#define CC_PEAK_CHAINS 12
#include "kernels/peak_fma_impl.h"
#undef CC_PEAK_CHAINS

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* AVX2 and FMA (checked outside the target region: this code runs on any CPU) */
static int runs_here(void)
{
#if defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

CC_ISA_ROW(avx2, runs_here)
#endif
