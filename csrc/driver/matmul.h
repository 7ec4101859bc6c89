/* The tiled product of driver/matmul.c (cc_matmul, convcore.h) for other drivers: every
 * item on the calling thread, on a given GEMM tile e of width tw elements (Winograd's
 * weight gradient, on its ISA's tile); p planned by cc_matmul_plan, work holding
 * cc_matmul_workspace_per_thread() elements. */
#ifndef CC_DRIVER_MATMUL_H
#define CC_DRIVER_MATMUL_H
#include "convcore.h"
#include "driver/conv_direct.h"

void cc_matmul_serial_f32(const cc_matmul *p, const cc_gemm_tile_entry *e, ptrdiff_t tw,
                          const float *a, const float *b, float *c, float *work);
void cc_matmul_serial_f64(const cc_matmul *p, const cc_gemm_tile_entry *e, ptrdiff_t tw,
                          const double *a, const double *b, double *c, double *work);

#endif
