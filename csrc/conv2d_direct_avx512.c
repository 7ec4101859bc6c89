/* Direct convolution kernels for AVX-512 (one 64-byte vector = one zmm register). */
#include <stddef.h>
#include <string.h>

#include "cc_omp.h"
#include "conv2d_direct.h"

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#define CC_ISA avx512
#define CC_KB_BIG 8 /* 8 x 2 zmm accumulators + 2 inputs + 1 weight of 32 registers */
#define CC_NV_BIG 2
#define CC_NV_ONE 4

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
