/* Channels-last (NHWC) max and average pooling: float and double instances. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "cc_omp.h"
#include "convcore.h"
#include "pool2d_common.h"

#define REAL float
#define SFX f32
#include "pool2d_nhwc_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "pool2d_nhwc_impl.h"
#undef REAL
#undef SFX
