/* Direct convolution kernels for AVX-512 (one 64-byte vector = one zmm register). */
#include <stddef.h>
#include <string.h>

#include "cc_isa.h"
#include "cc_omp.h"
#include "conv2d_direct.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#include <immintrin.h>

typedef float cc_v16sf __attribute__((vector_size(64)));
typedef double cc_v8df __attribute__((vector_size(64)));

/* Masked loads: lanes [lo, hi) of p, zeros elsewhere; masked-off lanes are never read. */
typedef unsigned cc_mask;

static inline cc_mask cc_make_mask(int lo, int hi)
{
    return hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
}

static inline cc_v16sf cc_load_masked_f32(const float *p, cc_mask m)
{
    return (cc_v16sf)_mm512_maskz_loadu_ps((__mmask16)m, p);
}

static inline cc_v8df cc_load_masked_f64(const double *p, cc_mask m)
{
    return (cc_v8df)_mm512_maskz_loadu_pd((__mmask8)m, p);
}

#define CC_MASK cc_mask
#define CC_MAKE_MASK cc_make_mask
#define CC_ISA avx512
#define CC_KB_BIG 8 /* 8 x 2 zmm accumulators + 2 inputs + 1 weight of 32 registers */
#define CC_NV_BIG 2
#define CC_NV_ONE 4

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
