/* Winograd convolution for any CPU: 16-byte vectors (SSE2 on x86-64, NEON on AArch64). */
#define WG_ISA generic
#define WG_LEVEL CC_SIMD_GENERIC
#define VBYTES 16
#define WG_GATHER 0
#include "winograd_isa.h"
