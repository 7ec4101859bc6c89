/* Pooling kernels compiled for AVX2. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pool2d.h"
#include "kernels/cc_vec.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#define CC_ISA avx2
#define CC_POOL_VBYTES 32 /* stride-2 max and average paths (pool2d_impl.h) */

#define REAL float
#define SFX f32
/* the hardware max v > a ? v : a, then v where v is NaN (pool2d_impl.h) */
#define CC_POOL_MAX_NAN(a, v) _mm256_blendv_ps(_mm256_max_ps(v, a), v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q))
#define CC_POOL_EVEN CC_EVEN_INLANE_8 /* in vshufps's lane order (cc_vec.h) */
#define CC_POOL_ODD CC_ODD_INLANE_8
#define CC_POOL_ORDER CC_ORDER_INLANE_8
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX
#undef CC_POOL_MAX_NAN
#undef CC_POOL_EVEN
#undef CC_POOL_ODD
#undef CC_POOL_ORDER

#define REAL double
#define SFX f64
#define CC_POOL_MAX_NAN(a, v) _mm256_blendv_pd(_mm256_max_pd(v, a), v, _mm256_cmp_pd(v, v, _CMP_UNORD_Q))
#define CC_POOL_EVEN CC_EVEN_INLANE_4
#define CC_POOL_ODD CC_ODD_INLANE_4
#define CC_POOL_ORDER CC_ORDER_INLANE_4
#include "kernels/pool2d_impl.h"
CC_POOL_ISA_ROW(avx2, CC_SIMD_AVX2)

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
