/* im2col and col2im for float and double. */
#include <stddef.h>
#include <string.h>

#include "cc_omp.h"
#include "convcore.h"

#define REAL float
#define SFX f32
#include "im2col_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "im2col_impl.h"
