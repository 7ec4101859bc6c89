/* Portable vector helpers for the per-ISA kernel files (GCC >= 12 and clang). */
#ifndef CC_KERNELS_VEC_H
#define CC_KERNELS_VEC_H

/* Even lanes of the concatenation (lo, hi) of two vectors of n lanes: a stride-2 load. */
#define CC_EVEN_2(lo, hi) __builtin_shufflevector(lo, hi, 0, 2)
#define CC_EVEN_4(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 4, 6)
#define CC_EVEN_8(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14)
#define CC_EVEN_16(lo, hi) \
    __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)

/* Instantiate the micro-kernel template twice (float, double) and the ISA's table row.
 * The including file defines CC_ISA, CC_LEVEL, CC_VBYTES, the tiles and, per dtype,
 * CC_MASK_F32/F64, CC_MAKE_MASK_F32/F64, CC_LOAD_MASKED_F32/F64, CC_EVEN_F32/F64. */
#define CC_TABLE_NAME_(isa) cc_direct_isa_##isa
#define CC_TABLE_NAME(isa) CC_TABLE_NAME_(isa)
#define CC_ROW_NAME_(name, sfx, isa) name##_##sfx##_##isa
#define CC_ROW_NAME(name, sfx, isa) CC_ROW_NAME_(name, sfx, isa)
#define CC_TILE_ROW(name, kb, nv, pix) \
    {kb, nv, pix, CC_ROW_NAME(name, f32, CC_ISA), CC_ROW_NAME(name, f64, CC_ISA)}
#define CC_DIRECT_ISA_TABLE                                                               \
    const cc_direct_isa CC_TABLE_NAME(CC_ISA) = {                                         \
        CC_LEVEL,                                                                         \
        CC_VBYTES,                                                                        \
        {CC_TILE_ROW(row_big, CC_KB_BIG, CC_NV_BIG, 0),                                   \
         CC_TILE_ROW(row_big_narrow, CC_KB_BIG, 1, 0),                                    \
         CC_TILE_ROW(row_mid, CC_KB_MID, CC_NV_BIG, 0),                                   \
         CC_TILE_ROW(row_one, 1, CC_NV_ONE, 0),                                           \
         CC_TILE_ROW(row_one_narrow, 1, 1, 0),                                            \
         CC_TILE_ROW(row_cv, 0, CC_CV_NV, CC_CV_PIX)}};

#endif
