/* Direct convolution kernels for AVX2 + FMA (one 64-byte vector = two ymm registers). */
#include <stddef.h>
#include <string.h>

#include "cc_isa.h"
#include "cc_omp.h"
#include "conv2d_direct.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#include <immintrin.h>

typedef float cc_v16sf __attribute__((vector_size(64)));
typedef double cc_v8df __attribute__((vector_size(64)));

/* Masked loads: lanes [lo, hi) of p, zeros elsewhere; masked-off lanes are never read.
 * The mask is kept per 32-bit lane (16 float lanes); doubles use pairs of them. */
typedef struct {
    __m256i a, b;
} cc_mask;

static inline cc_mask cc_make_mask(int lo, int hi)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    __m256i i1 = _mm256_add_epi32(idx, _mm256_set1_epi32(8));
    cc_mask m;
    m.a = _mm256_andnot_si256(_mm256_cmpgt_epi32(vlo, idx), _mm256_cmpgt_epi32(vhi, idx));
    m.b = _mm256_andnot_si256(_mm256_cmpgt_epi32(vlo, i1), _mm256_cmpgt_epi32(vhi, i1));
    return m;
}

static inline cc_v16sf cc_load_masked_f32(const float *p, cc_mask m)
{
    __m256 a = _mm256_maskload_ps(p, m.a), b = _mm256_maskload_ps(p + 8, m.b);
    cc_v16sf v;
    memcpy(&v, &a, sizeof a);
    memcpy((char *)&v + sizeof a, &b, sizeof b);
    return v;
}

static inline cc_v8df cc_load_masked_f64(const double *p, cc_mask m)
{
    /* double lane j uses 32-bit mask lane j: widen the low halves to 64 bits */
    __m256i ma = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m.a));
    __m256i mb = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m.a, 1));
    __m256d a = _mm256_maskload_pd(p, ma), b = _mm256_maskload_pd(p + 4, mb);
    cc_v8df v;
    memcpy(&v, &a, sizeof a);
    memcpy((char *)&v + sizeof a, &b, sizeof b);
    return v;
}

#define CC_MASK cc_mask
#define CC_MAKE_MASK cc_make_mask
#define CC_ISA avx2
#define CC_KB_BIG 6 /* 6 x 1 vectors = 12 ymm accumulators of 16 registers */
#define CC_NV_BIG 1
#define CC_NV_ONE 2

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
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
