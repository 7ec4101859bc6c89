/* Portable vector helpers for the per-ISA kernel files (GCC >= 12 and clang). */
#ifndef CC_KERNELS_VEC_H
#define CC_KERNELS_VEC_H

/* Even lanes of the concatenation (lo, hi) of two vectors of n lanes: a stride-2 load. */
#define CC_EVEN_2(lo, hi) __builtin_shufflevector(lo, hi, 0, 2)
#define CC_EVEN_4(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 4, 6)
#define CC_EVEN_8(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14)
#define CC_EVEN_16(lo, hi) \
    __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)

/* Odd lanes of the concatenation (lo, hi): a stride-2 load from the second element. */
#define CC_ODD_2(lo, hi) __builtin_shufflevector(lo, hi, 1, 3)
#define CC_ODD_4(lo, hi) __builtin_shufflevector(lo, hi, 1, 3, 5, 7)
#define CC_ODD_8(lo, hi) __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15)
#define CC_ODD_16(lo, hi) \
    __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)

/* AVX2 has no one-op lane-crossing shuffle of two sources: the even and odd lanes of
 * (lo, hi) in the lane order of an in-lane vshufps (8 floats: 0 2 8 10 | 4 6 12 14) or
 * vunpck{l,h}pd (4 doubles: 0 4 | 2 6), and the permutation (vpermpd) that puts a
 * result computed lane by lane from them back in order. */
#define CC_EVEN_INLANE_8(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 8, 10, 4, 6, 12, 14)
#define CC_ODD_INLANE_8(lo, hi) __builtin_shufflevector(lo, hi, 1, 3, 9, 11, 5, 7, 13, 15)
#define CC_ORDER_INLANE_8(v) __builtin_shufflevector(v, v, 0, 1, 4, 5, 2, 3, 6, 7)
#define CC_EVEN_INLANE_4(lo, hi) __builtin_shufflevector(lo, hi, 0, 4, 2, 6)
#define CC_ODD_INLANE_4(lo, hi) __builtin_shufflevector(lo, hi, 1, 5, 3, 7)
#define CC_ORDER_INLANE_4(v) __builtin_shufflevector(v, v, 0, 2, 1, 3)

/* The even lanes of a stride-2 run moved down one, the last lane from c's last (c a
 * splat, so that the new lane is a blend, not another shuffle): from e = EVEN(lo, hi)
 * (cells 0, 2, ..) the cells 2, 4, .., in the same lane order. */
#define CC_NEXT_EVEN_2(e, c) __builtin_shufflevector(e, c, 1, 3)
#define CC_NEXT_EVEN_4(e, c) __builtin_shufflevector(e, c, 1, 2, 3, 7)
#define CC_NEXT_EVEN_8(e, c) __builtin_shufflevector(e, c, 1, 2, 3, 4, 5, 6, 7, 15)
#define CC_NEXT_EVEN_16(e, c) \
    __builtin_shufflevector(e, c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 31)
#define CC_NEXT_EVEN_INLANE_8(e, c) __builtin_shufflevector(e, c, 1, 4, 3, 6, 5, 2, 7, 15)
#define CC_NEXT_EVEN_INLANE_4(e, c) __builtin_shufflevector(e, c, 2, 3, 1, 7)

/* Interleaves of two vectors of n lanes: the low halves (a0 b0 a1 b1 ...) and the high
 * halves.  log2(n) rounds of them, row i of the first half paired with row i + n/2,
 * transpose an n x n block (store_run in the CV kernel). */
#define CC_ZIP_LO_2(a, b) __builtin_shufflevector(a, b, 0, 2)
#define CC_ZIP_HI_2(a, b) __builtin_shufflevector(a, b, 1, 3)
#define CC_ZIP_LO_4(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)
#define CC_ZIP_HI_4(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)
#define CC_ZIP_LO_8(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define CC_ZIP_HI_8(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define CC_ZIP_LO_16(a, b) \
    __builtin_shufflevector(a, b, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define CC_ZIP_HI_16(a, b) \
    __builtin_shufflevector(a, b, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)

/* The input of tap 1 of a 3-tap row's last vector from its tap-0 vector lo and its
 * tap-2 vector hi2 (the ISA file's CC_SHIFT_F32/F64(lo, hi, s) gives the other vectors'
 * taps: lanes s.. of lo followed by the first lanes of hi). */
#define CC_SHIFT1_LAST_16(lo, hi2) \
    __builtin_shufflevector(lo, hi2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 30)
#define CC_SHIFT1_LAST_8(lo, hi2) __builtin_shufflevector(lo, hi2, 1, 2, 3, 4, 5, 6, 7, 14)
#define CC_SHIFT1_LAST_4(lo, hi2) __builtin_shufflevector(lo, hi2, 1, 2, 3, 6)

/* Instantiate the micro-kernel template twice (float, double) and the direct part of the
 * ISA's row.  The including file defines CC_ISA, CC_VBYTES, the tiles and, per dtype,
 * CC_MASK_F32/F64, CC_MAKE_MASK_F32/F64, CC_LOAD_MASKED_F32/F64, CC_EVEN_F32/F64,
 * CC_ZIP_LO_F32/F64 and CC_ZIP_HI_F32/F64. */
#define CC_TABLE_NAME_(isa) cc_direct_isa_##isa
#define CC_TABLE_NAME(isa) CC_TABLE_NAME_(isa)
#define CC_ROW_NAME_(name, sfx, isa) name##_##sfx##_##isa
#define CC_ROW_NAME(name, sfx, isa) CC_ROW_NAME_(name, sfx, isa)
#define CC_TILE_ROW(name, kb, nv, pix) \
    {kb, nv, pix, CC_ROW_NAME(name, f32, CC_ISA), CC_ROW_NAME(name, f64, CC_ISA)}
#define CC_DIRECT_ISA_TABLE                                                               \
    const cc_direct_isa CC_TABLE_NAME(CC_ISA) = {                                         \
        CC_VBYTES,                                                                        \
        {CC_TILE_ROW(row_big, CC_KB_BIG, CC_NV_BIG, 0),                                   \
         CC_TILE_ROW(row_big_narrow, CC_KB_BIG, 1, 0),                                    \
         CC_TILE_ROW(row_mid, CC_KB_MID, CC_NV_MID, 0),                                   \
         CC_TILE_ROW(row_short, CC_KB_BIG - 2, CC_NV_BIG, 0),                             \
         CC_TILE_ROW(row_one, 1, CC_NV_ONE, 0),                                           \
         CC_TILE_ROW(row_one_narrow, 1, 1, 0),                                            \
         CC_TILE_ROW(row_strip, 1, CC_NV_STRIP, 0),                                       \
         CC_TILE_ROW(row_cv, 0, CC_CV_NV, CC_CV_PIX),                                      \
         CC_TILE_ROW(row_pw, CC_KB_BIG, CC_NV_BIG, 0)},                                  \
        {CC_KB_BIG, CC_NV_BIG, CC_ROW_NAME(gemm_tile, f32, CC_ISA),                        \
         CC_ROW_NAME(gemm_tile, f64, CC_ISA)},                                            \
        {CC_ROW_NAME(split2, f32, CC_ISA), CC_ROW_NAME(split2, f64, CC_ISA)},              \
        {CC_S2W_KB, CC_ROW_NAME(s2w_chunk, f32, CC_ISA), CC_ROW_NAME(s2w_chunk, f64, CC_ISA)}};

#endif
