/* Pooling kernels compiled for AVX-512. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pool2d.h"
#include "kernels/cc_vec.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#define CC_ISA avx512
#define CC_POOL_ORDER(v) (v)
#define CC_POOL_VBYTES 64 /* stride-2 max and average paths (pool2d_impl.h) */

#define REAL float
#define SFX f32
/* the hardware max v > a ? v : a, then v where v is NaN (pool2d_impl.h) */
#define CC_POOL_MAX_NAN(a, v) _mm512_mask_mov_ps(_mm512_max_ps(v, a), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v)
#define CC_POOL_EVEN CC_EVEN_16
#define CC_POOL_ODD CC_ODD_16
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX
#undef CC_POOL_MAX_NAN
#undef CC_POOL_EVEN
#undef CC_POOL_ODD

#define REAL double
#define SFX f64
#define CC_POOL_MAX_NAN(a, v) _mm512_mask_mov_pd(_mm512_max_pd(v, a), _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q), v)
#define CC_POOL_EVEN CC_EVEN_8
#define CC_POOL_ODD CC_ODD_8
#include "kernels/pool2d_impl.h"
CC_POOL_ISA_ROW(avx512, CC_SIMD_AVX512)

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
