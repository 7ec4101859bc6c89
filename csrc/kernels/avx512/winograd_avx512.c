/* Winograd convolution for AVX-512 (F, DQ, VL, BW): 64-byte vectors. */
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")
#endif

#define WG_ISA avx512
#define WG_LEVEL CC_SIMD_AVX512
#define VBYTES 64
#define WG_GATHER 1
#include "winograd_isa.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
