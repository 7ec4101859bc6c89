/* Winograd convolution for AVX2 + FMA: 32-byte vectors. */
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#define WG_ISA avx2
#define WG_LEVEL CC_SIMD_AVX2
#define VBYTES 32
#define WG_GATHER 1
#include "winograd_isa.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
