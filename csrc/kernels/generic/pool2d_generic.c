/* Pooling kernels for any CPU (SSE2 on x86-64). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cc_omp.h"
#include "pool2d.h"

#define CC_ISA generic

#define REAL float
#define SFX f32
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "kernels/pool2d_impl.h"

CC_POOL_ISA_ROW(generic, CC_SIMD_GENERIC)
