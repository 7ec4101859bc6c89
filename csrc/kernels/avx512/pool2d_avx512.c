/* Pooling kernels compiled for AVX-512. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cc_omp.h"
#include "pool2d.h"

#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#define CC_ISA avx512

#define REAL float
#define SFX f32
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "kernels/pool2d_impl.h"
CC_POOL_ISA_ROW(avx512, CC_SIMD_AVX512)

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
