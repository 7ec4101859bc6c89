/* Pooling kernels compiled for AVX2. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cc_omp.h"
#include "pool2d.h"
#include "kernels/cc_vec.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#define CC_ISA avx2
#define CC_POOL_VBYTES 32 /* stride-2 max paths (pool2d_impl.h) */

#define REAL float
#define SFX f32
/* even and odd cells in the lane order of vshufps (0 2 8 10 | 4 6 12 14), and back */
#define CC_POOL_EVEN(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 8, 10, 4, 6, 12, 14)
#define CC_POOL_ODD(lo, hi) __builtin_shufflevector(lo, hi, 1, 3, 9, 11, 5, 7, 13, 15)
#define CC_POOL_ORDER(v) __builtin_shufflevector(v, v, 0, 1, 4, 5, 2, 3, 6, 7)
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX
#undef CC_POOL_EVEN
#undef CC_POOL_ODD
#undef CC_POOL_ORDER

#define REAL double
#define SFX f64
/* even and odd cells in the lane order of vunpcklpd (0 4 | 2 6), and back */
#define CC_POOL_EVEN(lo, hi) __builtin_shufflevector(lo, hi, 0, 4, 2, 6)
#define CC_POOL_ODD(lo, hi) __builtin_shufflevector(lo, hi, 1, 5, 3, 7)
#define CC_POOL_ORDER(v) __builtin_shufflevector(v, v, 0, 2, 1, 3)
#include "kernels/pool2d_impl.h"
CC_POOL_ISA_ROW(avx2, CC_SIMD_AVX2)

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
