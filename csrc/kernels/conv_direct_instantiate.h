/* Included by each kernels/<isa>.c after its direct-convolution definitions: the float
 * and double micro-kernels and the direct part of the ISA's row (see cc_vec.h). */
/* The even and odd lanes of two vectors in natural order, for the stride-2 split copy
 * (FN(split2)), by the ISA's vector width. */
#if CC_VBYTES == 64
#define CC_SPLIT_EVEN_F32 CC_EVEN_16
#define CC_SPLIT_ODD_F32 CC_ODD_16
#define CC_SPLIT_EVEN_F64 CC_EVEN_8
#define CC_SPLIT_ODD_F64 CC_ODD_8
#elif CC_VBYTES == 32
#define CC_SPLIT_EVEN_F32 CC_EVEN_8
#define CC_SPLIT_ODD_F32 CC_ODD_8
#define CC_SPLIT_EVEN_F64 CC_EVEN_4
#define CC_SPLIT_ODD_F64 CC_ODD_4
#elif CC_VBYTES == 16
#define CC_SPLIT_EVEN_F32 CC_EVEN_4
#define CC_SPLIT_ODD_F32 CC_ODD_4
#define CC_SPLIT_EVEN_F64 CC_EVEN_2
#define CC_SPLIT_ODD_F64 CC_ODD_2
#else
#error "the stride-2 split's shuffles: no vector width of 16, 32 or 64 bytes"
#endif
#define REAL float
#define SFX f32
#define CC_MASK CC_MASK_F32
#define CC_MAKE_MASK CC_MAKE_MASK_F32
#define CC_LOAD_MASKED CC_LOAD_MASKED_F32
#define CC_STORE_MASKED CC_STORE_MASKED_F32
#define CC_EVEN CC_EVEN_F32
#define CC_SPLIT_EVEN CC_SPLIT_EVEN_F32
#define CC_SPLIT_ODD CC_SPLIT_ODD_F32
#define CC_ZIP_LO CC_ZIP_LO_F32
#define CC_ZIP_HI CC_ZIP_HI_F32
#ifdef CC_ORDER_F32
#define CC_ORDER CC_ORDER_F32
#endif
#ifdef CC_LANES_DOWN_F32
#define CC_LANES_DOWN CC_LANES_DOWN_F32
#endif
#ifdef CC_FMA_F32
#define CC_FMA CC_FMA_F32
#endif
#ifdef CC_FMA_BCAST_F32
#define CC_FMA_BCAST CC_FMA_BCAST_F32
#endif
#ifdef CC_STREAM_F32
#define CC_STREAM CC_STREAM_F32
#endif
#ifdef CC_SHIFT_F32
#define CC_SHIFT CC_SHIFT_F32
#define CC_SHIFT1_LAST CC_SHIFT1_LAST_F32
#endif
#ifdef CC_ROW_SHIFT_F32
#define CC_ROW_SHIFT CC_ROW_SHIFT_F32
#define CC_ROW_SHIFT1_LAST CC_ROW_SHIFT1_LAST_F32
#endif
#include "kernels/conv_direct_ukernel.h"
#include "kernels/conv_direct_strip_ukernel.h"
#include "kernels/conv_direct_cv_ukernel.h"
#include "kernels/conv_s2w_ukernel.h"
#undef REAL
#undef SFX
#undef CC_MASK
#undef CC_MAKE_MASK
#undef CC_LOAD_MASKED
#undef CC_STORE_MASKED
#undef CC_EVEN
#undef CC_SPLIT_EVEN
#undef CC_SPLIT_ODD
#undef CC_ZIP_LO
#undef CC_ZIP_HI
#undef CC_LANES_DOWN
#undef CC_FMA
#undef CC_FMA_BCAST
#undef CC_STREAM
#undef CC_ORDER
#undef CC_SHIFT
#undef CC_SHIFT1_LAST
#undef CC_ROW_SHIFT
#undef CC_ROW_SHIFT1_LAST

#define REAL double
#define SFX f64
#define CC_MASK CC_MASK_F64
#define CC_MAKE_MASK CC_MAKE_MASK_F64
#define CC_LOAD_MASKED CC_LOAD_MASKED_F64
#define CC_STORE_MASKED CC_STORE_MASKED_F64
#define CC_EVEN CC_EVEN_F64
#define CC_SPLIT_EVEN CC_SPLIT_EVEN_F64
#define CC_SPLIT_ODD CC_SPLIT_ODD_F64
#define CC_ZIP_LO CC_ZIP_LO_F64
#define CC_ZIP_HI CC_ZIP_HI_F64
#ifdef CC_ORDER_F64
#define CC_ORDER CC_ORDER_F64
#endif
#ifdef CC_LANES_DOWN_F64
#define CC_LANES_DOWN CC_LANES_DOWN_F64
#endif
#ifdef CC_FMA_F64
#define CC_FMA CC_FMA_F64
#endif
#ifdef CC_FMA_BCAST_F64
#define CC_FMA_BCAST CC_FMA_BCAST_F64
#endif
#ifdef CC_STREAM_F64
#define CC_STREAM CC_STREAM_F64
#endif
#ifdef CC_SHIFT_F64
#define CC_SHIFT CC_SHIFT_F64
#define CC_SHIFT1_LAST CC_SHIFT1_LAST_F64
#endif
#ifdef CC_ROW_SHIFT_F64
#define CC_ROW_SHIFT CC_ROW_SHIFT_F64
#define CC_ROW_SHIFT1_LAST CC_ROW_SHIFT1_LAST_F64
#endif
#include "kernels/conv_direct_ukernel.h"
#include "kernels/conv_direct_strip_ukernel.h"
#include "kernels/conv_direct_cv_ukernel.h"
#include "kernels/conv_s2w_ukernel.h"
#undef REAL
#undef SFX
#undef CC_MASK
#undef CC_MAKE_MASK
#undef CC_LOAD_MASKED
#undef CC_STORE_MASKED
#undef CC_EVEN
#undef CC_SPLIT_EVEN
#undef CC_SPLIT_ODD
#undef CC_ZIP_LO
#undef CC_ZIP_HI
#undef CC_LANES_DOWN
#undef CC_FMA
#undef CC_FMA_BCAST
#undef CC_STREAM
#undef CC_ORDER
#undef CC_SHIFT
#undef CC_SHIFT1_LAST
#undef CC_ROW_SHIFT
#undef CC_ROW_SHIFT1_LAST

CC_DIRECT_ISA_TABLE

/* The ISA file's direct-convolution definitions end here: the sections after it (pooling,
 * im2col, Winograd, the peak probe) start from a clean slate. */
#undef CC_KB_BIG
#undef CC_NV_BIG
#undef CC_S2W_KB
#undef CC_FMA_BCAST_F32
#undef CC_FMA_BCAST_F64
#undef CC_STREAM_F32
#undef CC_STREAM_F64
#undef CC_STREAM_FENCE
#undef CC_PW_PREFETCH_LOCALITY
#undef CC_PW_OUT_OF_LINE
#undef CC_KB_MID
#undef CC_NV_MID
#undef CC_NV_ONE
#undef CC_R_BLOCK
#undef CC_NV_BLOCK
#undef CC_CV_PIX
#undef CC_CV_NV
#undef CC_CV_TWO_TAP
#undef CC_CV_TAP_UNROLL
#undef CC_MASK_F32
#undef CC_MASK_F64
#undef CC_MAKE_MASK_F32
#undef CC_MAKE_MASK_F64
#undef CC_LOAD_MASKED_F32
#undef CC_LOAD_MASKED_F64
#undef CC_STORE_MASKED_F32
#undef CC_STORE_MASKED_F64
#undef CC_LANES_DOWN_F32
#undef CC_LANES_DOWN_F64
#undef CC_FMA_F32
#undef CC_FMA_F64
#undef CC_EVEN_F32
#undef CC_EVEN_F64
#undef CC_ORDER_F32
#undef CC_ORDER_F64
#undef CC_ZIP_LO_F32
#undef CC_ZIP_HI_F32
#undef CC_ZIP_LO_F64
#undef CC_ZIP_HI_F64
#undef CC_SHIFT_F32
#undef CC_SHIFT_F64
#undef CC_SHIFT1_LAST_F32
#undef CC_SHIFT1_LAST_F64
#undef CC_ROW_SHIFT_F32
#undef CC_ROW_SHIFT_F64
#undef CC_ROW_SHIFT1_LAST_F32
#undef CC_ROW_SHIFT1_LAST_F64
