/* Direct convolution kernels for any CPU (plain C; SSE2 on x86-64). */
#include <stddef.h>
#include <string.h>

#include "cc_omp.h"
#include "conv2d_direct.h"



#define CC_ISA generic
#define CC_KB_BIG 4 /* 4 x 1 vectors = 16 xmm on SSE2: the compiler spills little */
#define CC_NV_BIG 1
#define CC_NV_ONE 1

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

