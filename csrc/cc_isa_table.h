/* The table of ISAs (internal to the C library): one row per SIMD level, from the
 * portable one up, each row everything the library runs at that level.
 *
 * A level is its row's index in the table (cpu_features.c), so the x86-64 build's levels
 * are CC_SIMD_GENERIC, CC_SIMD_AVX2 and CC_SIMD_AVX512; an AArch64 build has the
 * portable row only.  Each row is defined by its ISA's one file, kernels/<isa>.c, which
 * compiles every kernel family for the ISA (under its `#pragma GCC target`) and ends
 * with CC_ISA_ROW.  Adding an ISA is that file and its row in the table. */
#ifndef CC_ISA_TABLE_H
#define CC_ISA_TABLE_H
#include <stddef.h>

#include "convcore.h"
#include "driver/conv_direct.h"
#include "driver/im2col.h"
#include "pool2d.h"
#include "winograd_table.h"

/* One FMA loop of the peak probe (kernels/peak_fma_impl.h): `iterations` steps of every
 * chain; returns a value that depends on all of them and sets *flops to the flops done. */
typedef double (*cc_peak_fma_fn)(long iterations, double *flops);

typedef struct {
    const char *name;         /* the level's name, as CONVCORE_ISA and cc_simd_name give it */
    int (*runs_here)(void);   /* whether this CPU runs the row's code */
    const cc_direct_isa *direct;     /* direct tiles, GEMM tile, band copy's split */
    const cc_im2col_isa *im2col;     /* im2col and col2im */
    const cc_pool_isa *pool;         /* the pooling micro-kernels */
    const cc_winograd_isa *winograd; /* the Winograd driver built for the ISA */
    cc_peak_fma_fn peak_f32, peak_f64; /* the peak probe's FMA loops */
} cc_isa;

/* The row of an ISA file that has compiled every family for `isa`; runs_here is its CPU
 * check. */
#define CC_ISA_ROW(isa, runs_here)                                                          \
    const cc_isa cc_isa_##isa = {#isa,                                                      \
                                 runs_here,                                                 \
                                 &cc_direct_isa_##isa,                                      \
                                 &cc_im2col_isa_##isa,                                      \
                                 &cc_pool_isa_##isa,                                        \
                                 &cc_winograd_isa_##isa,                                    \
                                 cc_peak_fma_f32_##isa,                                     \
                                 cc_peak_fma_f64_##isa};

/* The row of a level (clamped to the table), and of the level the kernels use now
 * (cc_simd_active). */
const cc_isa *cc_isa_at(cc_simd_level level);
const cc_isa *cc_isa_active(void);

#endif
