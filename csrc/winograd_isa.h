/* The float and double builds of the Winograd driver for one ISA and its part of the
 * ISA's row (winograd_table.h): included by kernels/<isa>.c, under its `#pragma GCC
 * target`, after it defines CC_ISA (the name suffix), CC_VBYTES (the width of the
 * target's vector registers in bytes) and WG_GATHER (1 where the ISA has masked gathers:
 * AVX2 and AVX-512, which also scatters). */
#include <stddef.h>
#include <string.h>
#if WG_GATHER
#include <immintrin.h>
#endif

#include "cc_omp.h"
#include "driver/matmul.h"
#include "winograd_table.h"

/* GCC cannot see that the output transform writes every o[i * M + j] the scatter reads
 * (the row count is a parameter folded only after inlining). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define WG_ISA CC_ISA
#define VBYTES CC_VBYTES
#define WG_ISA_CAT_(a, b) a##_##b
#define WG_ISA_CAT(a, b) WG_ISA_CAT_(a, b)
/* The ISA's table of direct-convolution tiles: its GEMM tile computes the products. */
#define WG_TABLE WG_ISA_CAT(cc_direct_isa, WG_ISA)

#define LANES (VBYTES / 4)
#define REAL float
#define WG_REAL_BYTES 4
#define SFX WG_ISA_CAT(f32, WG_ISA)
#define WG_TILE_FN cc_gemm_tile_fn_f32
#define WG_TILE_MEMBER f32
#include "winograd_impl.h"
#undef WG_TILE_FN
#undef WG_TILE_MEMBER
#undef LANES
#undef REAL
#undef WG_REAL_BYTES
#undef SFX

#define LANES (VBYTES / 8)
#define REAL double
#define WG_REAL_BYTES 8
#define SFX WG_ISA_CAT(f64, WG_ISA)
#define WG_TILE_FN cc_gemm_tile_fn_f64
#define WG_TILE_MEMBER f64
#include "winograd_impl.h"
#undef WG_TILE_FN
#undef WG_TILE_MEMBER
#undef LANES
#undef REAL
#undef WG_REAL_BYTES
#undef SFX

const cc_winograd_isa WG_ISA_CAT(cc_winograd_isa, WG_ISA) = {
    &WG_TABLE,
    WG_ISA_CAT(cc_conv_winograd_strided_f32, WG_ISA),
    WG_ISA_CAT(cc_winograd_grad_weight_parts_f32, WG_ISA),
    WG_ISA_CAT(cc_winograd_weights_f32, WG_ISA),
    WG_ISA_CAT(cc_conv_winograd_strided_f64, WG_ISA),
    WG_ISA_CAT(cc_winograd_grad_weight_parts_f64, WG_ISA),
    WG_ISA_CAT(cc_winograd_weights_f64, WG_ISA),
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#undef WG_TABLE
#undef WG_ISA
#undef VBYTES
#undef WG_ISA_CAT_
#undef WG_ISA_CAT
