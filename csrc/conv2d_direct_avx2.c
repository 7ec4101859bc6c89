/* Direct convolution kernels for AVX2 + FMA (one 64-byte vector = two ymm registers). */
#include <stddef.h>
#include <string.h>

#include "cc_omp.h"
#include "conv2d_direct.h"

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("avx2,fma")
#define CC_ISA avx2
#define CC_KB_BIG 6 /* 6 x 1 vectors = 12 ymm accumulators of 16 registers */
#define CC_NV_BIG 1
#define CC_NV_ONE 2

#define REAL float
#define SFX f32
#define CC_EVEN(lo, hi) __builtin_shufflevector(lo, hi, 0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30)
#include "conv2d_direct_impl.h"
#undef REAL
#undef SFX
#undef CC_EVEN

#define REAL double
#define SFX f64
#define CC_EVEN(lo, hi) __builtin_shufflevector(lo, hi, 0,2,4,6,8,10,12,14)
#include "conv2d_direct_impl.h"
#endif
