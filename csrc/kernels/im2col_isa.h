/* im2col and col2im for one ISA, float and double, and their part of the ISA's row
 * (driver/im2col.h): included by kernels/<isa>.c after it defines CC_ISA. */
#define REAL float
#define SFX f32
#include "kernels/im2col_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "kernels/im2col_impl.h"
#undef REAL
#undef SFX

#define IC_ROW_(isa) CC_IM2COL_ISA_ROW(isa)
#define IC_ROW(isa) IC_ROW_(isa)
IC_ROW(CC_ISA)
#undef IC_ROW
#undef IC_ROW_
