/* Direct convolution: pick the kernel for the SIMD level of this CPU. */
#include "conv2d_direct.h"

#if defined(__x86_64__) || defined(__i386__)
#define CC_DISPATCH(T, sfx)                                                               \
    ptrdiff_t cc_conv2d_direct_pack_size_##sfx(const cc_conv2d_geometry *g)               \
    {                                                                                     \
        switch (cc_simd_active()) {                                                       \
        case CC_SIMD_AVX512: return cc_conv2d_direct_pack_size_##sfx##_avx512(g);         \
        case CC_SIMD_AVX2: return cc_conv2d_direct_pack_size_##sfx##_avx2(g);             \
        default: return cc_conv2d_direct_pack_size_##sfx##_generic(g);                    \
        }                                                                                 \
    }                                                                                     \
    void cc_conv2d_direct_##sfx(const cc_conv2d_geometry *g, const T *x, const T *w,      \
                                const T *bias, T *y, T *wpack, int n_threads)             \
    {                                                                                     \
        switch (cc_simd_active()) {                                                       \
        case CC_SIMD_AVX512:                                                              \
            cc_conv2d_direct_##sfx##_avx512(g, x, w, bias, y, wpack, n_threads);          \
            break;                                                                        \
        case CC_SIMD_AVX2:                                                                \
            cc_conv2d_direct_##sfx##_avx2(g, x, w, bias, y, wpack, n_threads);            \
            break;                                                                        \
        default:                                                                          \
            cc_conv2d_direct_##sfx##_generic(g, x, w, bias, y, wpack, n_threads);         \
        }                                                                                 \
    }
#else
#define CC_DISPATCH(T, sfx)                                                               \
    ptrdiff_t cc_conv2d_direct_pack_size_##sfx(const cc_conv2d_geometry *g)               \
    {                                                                                     \
        return cc_conv2d_direct_pack_size_##sfx##_generic(g);                             \
    }                                                                                     \
    void cc_conv2d_direct_##sfx(const cc_conv2d_geometry *g, const T *x, const T *w,      \
                                const T *bias, T *y, T *wpack, int n_threads)             \
    {                                                                                     \
        cc_conv2d_direct_##sfx##_generic(g, x, w, bias, y, wpack, n_threads);             \
    }
#endif

CC_DISPATCH(float, f32)
CC_DISPATCH(double, f64)
