/* Pooling kernels for any CPU (SSE2 on x86-64). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pool2d.h"
#include "kernels/cc_vec.h"

#define CC_ISA generic
#define CC_POOL_ORDER(v) (v)
#define CC_POOL_VBYTES 16 /* stride-2 max and average paths (pool2d_impl.h) */

#define REAL float
#define SFX f32
#define CC_POOL_EVEN CC_EVEN_4
#define CC_POOL_ODD CC_ODD_4
#include "kernels/pool2d_impl.h"
#undef REAL
#undef SFX
#undef CC_POOL_EVEN
#undef CC_POOL_ODD

#define REAL double
#define SFX f64
#define CC_POOL_EVEN CC_EVEN_2
#define CC_POOL_ODD CC_ODD_2
#include "kernels/pool2d_impl.h"

CC_POOL_ISA_ROW(generic, CC_SIMD_GENERIC)
