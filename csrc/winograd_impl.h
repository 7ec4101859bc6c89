/* Winograd driver and tile transforms, one template instantiated per dtype and ISA by
 * winograd_isa.h (for kernels/<isa>.c), which defines REAL, SFX (name
 * suffix), VBYTES (the vector register width of the target: 16, 32 or 64) and
 * LANES (tiles transformed together: VBYTES / sizeof(REAL)).
 *
 * The transforms work on LANES tiles at once with the tile index innermost
 * (d[element] is one vector of LANES tiles, in the target's native vector width), and the
 * transformed values land in V[element] with the tiles contiguous.  The tile transforms
 * B^T and A^T are written out, so no zero coefficient multiplies (an inf in a patch
 * does not turn into NaN through them).
 *
 * Layouts (T = the block's columns, whole panels; AA = alpha^2, or alpha for one row):
 *   V  [AA][T / P][Cg][P]  transformed input tiles of one block, in the GEMM tile's
 *                          panels of P tiles (wg_v_at; the weight gradient: P = T)
 *   U  [groups][AA][Kg / kb][Cg][kb]  transformed weights, packed for the tile (or the
 *                          plain [groups][AA][Kg][Cg], kb = 1)
 *   M  [AA][Kg][T]         products: M[e] = U[e] . V[e], one GEMM per element e
 * (in the workspace the AA matrices of V and of M lie cc_wg_elem_stride apart, a cache
 * line more than their size).  The element is outermost so that each GEMM reads and
 * writes one contiguous matrix (with the channel outermost, the columns of one GEMM lay
 * AA * T apart, 32 KiB on ResNet 128@28 b8, and the layer ran 1.4x slower).  The weight
 * gradient's products, P_e (Kg x Cg) += Gh_e (Kg x T) . V_e^T, run on the same tile
 * through the tiled product of driver/matmul.c.
 *
 * F(4, 3) (M = 4) reads and writes its tiles in runs: at most LANES consecutive tiles of
 * one tile row (a run ends where the row or the block does).  Each patch row of a run is
 * 4 LANES + 2 contiguous input values, loaded as five vectors clipped to the image
 * (masked loads, the border mode's elements patched in) and split into the six columns
 * of the run's tiles by permutations; each output row of a run is joined back into
 * 4 LANES contiguous values and stored up to the row's end.  A run stores its tiles at
 * its own columns of V (masked stores), so runs shorter than LANES cost lanes of the
 * transforms, never columns of the GEMMs.  The runs replaced masked gathers and
 * scatters of groups of LANES tiles that spanned tile rows (on 56- and 28-wide layers
 * no group of 16 tiles lies in one row): 0.77-0.92x the time of VGG and ResNet 3x3
 * layers on Zen 4 (docs/performance.md).
 * F(6, 3) and outputs at a column stride (a transposed layer's phases) still gather
 * their patches lane by lane (int32 offsets, with the border mode's elements, and masks
 * made once per group; masked gathers on AVX2 and AVX-512) and store the outputs the
 * same way (scatters on AVX-512); arrays beyond int32 offsets take tile-by-tile input
 * and output stages with ptrdiff_t offsets. */
#define WG_CAT_(a, b) a##_##b
#define WG_CAT(a, b) WG_CAT_(a, b)
#define WG(name) WG_CAT(name, SFX)

#if defined(__GNUC__) && !defined(__clang__)
#define WG_UNROLL _Pragma("GCC unroll 8")
#else
#define WG_UNROLL
#endif
#define WG_INLINE static inline __attribute__((always_inline))

/* F(4, 3): points 0, 1, -1, 2, -2, inf.  F(6, 3): 0, +-1, +-2, +-1/2, inf (the matrices
 * B^T and A^T of Lavin & Gray; G, for the weights, is cc_wg_g4 / cc_wg_g6 in
 * winograd.c). */
/* One vector of LANES tiles; VBYTES is the register width of the ISA the file targets. */
typedef REAL WG(wg_vec) __attribute__((vector_size(VBYTES)));
#define VEC WG(wg_vec)

/* The 1-D transforms, one vector of LANES tiles per point: out[j*so] = sum_k X[j][k] *
 * in[k*si] with X = B^T (bt) or A^T (at), written out so that no zero coefficient
 * multiplies (an inf in a patch reaches only the outputs its coefficients touch). */
WG_INLINE void WG(bt4)(const VEC *d, int si, VEC *o, int so)
{
    const VEC d0 = d[0], d1 = d[si], d2 = d[2 * si], d3 = d[3 * si], d4 = d[4 * si];
    const VEC d5 = d[5 * si];
    o[0] = (REAL)4 * d0 - (REAL)5 * d2 + d4;
    o[so] = d3 + d4 - (REAL)4 * (d1 + d2);
    o[2 * so] = d4 - d3 + (REAL)4 * (d1 - d2);
    o[3 * so] = d4 - d2 + (REAL)2 * (d3 - d1);
    o[4 * so] = d4 - d2 + (REAL)2 * (d1 - d3);
    o[5 * so] = (REAL)4 * d1 - (REAL)5 * d3 + d5;
}

WG_INLINE void WG(at4)(const VEC *m, int si, VEC *o, int so)
{
    const VEC p12 = m[si] + m[2 * si], m12 = m[si] - m[2 * si];
    const VEC p34 = m[3 * si] + m[4 * si], m34 = m[3 * si] - m[4 * si];
    o[0] = m[0] + p12 + p34;
    o[so] = m12 + (REAL)2 * m34;
    o[2 * so] = p12 + (REAL)4 * p34;
    o[3 * so] = m12 + (REAL)8 * m34 + m[5 * si];
}

/* The adjoint of at4 (o = A q: 6 points from 4), for the weight gradient's transform of
 * the output gradient. */
WG_INLINE void WG(a4)(const VEC *q, int si, VEC *o, int so)
{
    const VEC q0 = q[0], q1 = q[si], q2 = q[2 * si], q3 = q[3 * si];
    const VEC e = q0 + q2, f = q1 + q3;
    const VEC e4 = q0 + (REAL)4 * q2, f8 = (REAL)2 * q1 + (REAL)8 * q3;
    o[0] = q0;
    o[so] = e + f;
    o[2 * so] = e - f;
    o[3 * so] = e4 + f8;
    o[4 * so] = e4 - f8;
    o[5 * so] = q3;
}

WG_INLINE void WG(bt6)(const VEC *d, int si, VEC *o, int so)
{
    const VEC d0 = d[0], d1 = d[si], d2 = d[2 * si], d3 = d[3 * si], d4 = d[4 * si];
    const VEC d5 = d[5 * si], d6 = d[6 * si], d7 = d[7 * si];
    o[0] = d6 - d0 + (REAL)5.25 * (d2 - d4);
    o[7 * so] = d7 - d1 + (REAL)5.25 * (d3 - d5);
    VEC a = d2 + d6 - (REAL)4.25 * d4, b = d1 + d5 - (REAL)4.25 * d3;
    o[so] = a + b;
    o[2 * so] = a - b;
    a = (REAL)0.25 * d2 - (REAL)1.25 * d4 + d6;
    b = (REAL)0.5 * d1 - (REAL)2.5 * d3 + (REAL)2 * d5;
    o[3 * so] = a + b;
    o[4 * so] = a - b;
    a = (REAL)4 * d2 - (REAL)5 * d4 + d6;
    b = (REAL)2 * d1 - (REAL)2.5 * d3 + (REAL)0.5 * d5;
    o[5 * so] = a + b;
    o[6 * so] = a - b;
}

WG_INLINE void WG(at6)(const VEC *m, int si, VEC *o, int so)
{
    const VEC p12 = m[si] + m[2 * si], m12 = m[si] - m[2 * si];
    const VEC p34 = m[3 * si] + m[4 * si], m34 = m[3 * si] - m[4 * si];
    const VEC p56 = m[5 * si] + m[6 * si], m56 = m[5 * si] - m[6 * si];
    o[0] = m[0] + p12 + p34 + p56;
    o[so] = m12 + (REAL)2 * m34 + (REAL)0.5 * m56;
    o[2 * so] = p12 + (REAL)4 * p34 + (REAL)0.25 * p56;
    o[3 * so] = m12 + (REAL)8 * m34 + (REAL)0.125 * m56;
    o[4 * so] = p12 + (REAL)16 * p34 + (REAL)0.0625 * p56;
    o[5 * so] = m12 + (REAL)32 * m34 + (REAL)0.03125 * m56 + m[7 * si];
}

/* v = B^T d B (or d B for one row): d and v are AH x A tiles of lanes. */
WG_INLINE void WG(wg_input)(int M, int A, int AH, const VEC *d, VEC *v)
{
    VEC t[64];
    if (AH > 1) {
        for (int j = 0; j < A; j++)   /* along the height: t = B^T d */
            M == 6 ? WG(bt6)(d + j, A, t + j, A) : WG(bt4)(d + j, A, t + j, A);
        for (int i = 0; i < A; i++)   /* along the width: v = t B */
            M == 6 ? WG(bt6)(t + i * A, 1, v + i * A, 1) : WG(bt4)(t + i * A, 1, v + i * A, 1);
    } else {
        M == 6 ? WG(bt6)(d, 1, v, 1) : WG(bt4)(d, 1, v, 1);
    }
}

/* o = A^T m A (or m A for one row): m is AH x A, o is MH x M. */
WG_INLINE void WG(wg_output)(int M, int A, int MH, const VEC *m, VEC *o)
{
    VEC t[64];
    if (MH > 1) {
        for (int j = 0; j < A; j++)   /* t (M x A) = A^T m */
            M == 6 ? WG(at6)(m + j, A, t + j, A) : WG(at4)(m + j, A, t + j, A);
        for (int i = 0; i < M; i++)   /* o (M x M) = t A */
            M == 6 ? WG(at6)(t + i * A, 1, o + i * M, 1) : WG(at4)(t + i * A, 1, o + i * M, 1);
    } else {
        M == 6 ? WG(at6)(m, 1, o, 1) : WG(at4)(m, 1, o, 1);
    }
}

/* The input index a patch reads at index i of a dimension of size n with leading padding
 * p and `used` padded positions (the windows of the real outputs): under a border mode the
 * padding maps onto the input; positions past the windows (the last tiles overhang the
 * output) and zero padding read nothing (-1). */
static inline ptrdiff_t WG(wg_index)(ptrdiff_t i, ptrdiff_t n, ptrdiff_t p, ptrdiff_t used,
                                     int mode)
{
    if (i >= 0 && i < n)
        return i;
    if (i < -p || i >= used - p)
        return -1;
    return cc_pad_index(i, n, mode);
}

/* Offsets of image i and channel j in x, and of image i in y (cc_wg_layout). */
static inline ptrdiff_t WG(wg_x_image)(const cc_wg_layout *L, ptrdiff_t i)
{
    return i / L->depth * L->x_image + i % L->depth * L->x_depth;
}

static inline ptrdiff_t WG(wg_x_channel)(const cc_wg_layout *L, ptrdiff_t j)
{
    return j / L->taps * L->x_channel + j % L->taps * L->x_tap;
}

static inline ptrdiff_t WG(wg_y_image)(const cc_wg_layout *L, ptrdiff_t i)
{
    return i / L->depth * L->y_image + i % L->depth * L->y_depth;
}

/* Offset of output channel k in y (of image 0). */
static inline ptrdiff_t WG(wg_y_channel)(const cc_wg_layout *L, ptrdiff_t k)
{
    return L->y_koff ? L->y_koff[k] : k * L->y_channel;
}

/* d = the input patches of tiles t_first .. t_first + nl - 1 of channel c (zeros
 * outside the image, or the border mode's elements, and zeros in lanes >= nl): the
 * general case, tile by tile. */
WG_INLINE void WG(wg_gather)(const cc_conv2d_geometry *g, const cc_wg_layout *L, int M,
                             int MH, int A, int AH, const REAL *x, ptrdiff_t c,
                             ptrdiff_t t_first, int nl,
                             ptrdiff_t tpi, ptrdiff_t tw, VEC *d)
{
    const ptrdiff_t H = g->H, W = g->W;
    for (int l = 0; l < LANES; l++) {
        if (l >= nl) {
            for (int e = 0; e < AH * A; e++)
                d[e][l] = 0;
            continue;
        }
        const ptrdiff_t t = t_first + l, n = t / tpi, r = t % tpi;
        const ptrdiff_t h0 = (r / tw) * MH - g->pad_top, w0 = (r % tw) * M - g->pad_left;
        const REAL *xc = x + WG(wg_x_image)(L, n) + WG(wg_x_channel)(L, c);
        if (h0 >= 0 && h0 + AH <= H && w0 >= 0 && w0 + A <= W) {
            for (int i = 0; i < AH; i++)
                for (int j = 0; j < A; j++)
                    d[i * A + j][l] = xc[(h0 + i) * W + w0 + j];
            continue;
        }
        /* windows of stride-1, dilation-1 outputs: Hout + R - 1 padded positions */
        const ptrdiff_t used_h = g->Hout + g->R - 1, used_w = g->Wout + g->S - 1;
        for (int i = 0; i < AH; i++) {
            const ptrdiff_t hh = WG(wg_index)(h0 + i, H, g->pad_top, used_h, g->pad_mode);
            for (int j = 0; j < A; j++) {
                const ptrdiff_t ww = WG(wg_index)(w0 + j, W, g->pad_left, used_w, g->pad_mode);
                d[i * A + j][l] = hh >= 0 && ww >= 0 ? xc[hh * W + ww] : 0;
            }
        }
    }
}

/* dst[e * stride] = the first nl lanes of v[e], e < AA (whole vectors when nl = LANES). */
WG_INLINE void WG(wg_store_v)(REAL *dst, ptrdiff_t stride, int AA, int nl, const VEC *v)
{
    if (nl == LANES)
        for (int e = 0; e < AA; e++)
            memcpy(dst + e * stride, &v[e], sizeof(VEC));
    else
        for (int e = 0; e < AA; e++)
            memcpy(dst + e * stride, &v[e], (size_t)nl * sizeof(REAL));
}

/* Where tile t0 of channel c starts in one element's matrix of V: panels of P tiles,
 * each Cg rows of P (P = T: the plain Cg x T matrix), and the lanes a group of nl tiles
 * stores there (whole vectors inside a panel: the lanes past nl hold zeros). */
static inline REAL *WG(wg_v_at)(REAL *V, ptrdiff_t Cg, ptrdiff_t P, ptrdiff_t c, ptrdiff_t t0)
{
    return V + t0 / P * P * Cg + c * P + t0 % P;
}

static inline int WG(wg_v_lanes)(ptrdiff_t P, ptrdiff_t t0, int nl)
{
    return t0 % P + LANES <= P ? LANES : nl;
}

/* Lane vectors of int32: per-lane offsets and -1/0 masks of LANES tiles. */
typedef int32_t WG(wg_ivec) __attribute__((vector_size(LANES * 4)));
#define IVEC WG(wg_ivec)

/* r[l] = ok[l] ? p[idx[l]] : 0, with the ISA's masked gather where it has one. */
WG_INLINE VEC WG(wg_load_lanes)(const REAL *p, IVEC idx, IVEC ok)
{
#if WG_GATHER && VBYTES == 64 && WG_REAL_BYTES == 4
    return (VEC)_mm512_mask_i32gather_ps(_mm512_setzero_ps(),
                                         _mm512_cmpneq_epi32_mask((__m512i)ok,
                                                                  _mm512_setzero_si512()),
                                         (__m512i)idx, p, 4);
#elif WG_GATHER && VBYTES == 64
    return (VEC)_mm512_mask_i32gather_pd(_mm512_setzero_pd(),
                                         _mm256_cmpneq_epi32_mask((__m256i)ok,
                                                                  _mm256_setzero_si256()),
                                         (__m256i)idx, p, 8);
#elif WG_GATHER && VBYTES == 32 && WG_REAL_BYTES == 4
    return (VEC)_mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, (__m256i)idx,
                                         _mm256_castsi256_ps((__m256i)ok), 4);
#elif WG_GATHER && VBYTES == 32
    return (VEC)_mm256_mask_i32gather_pd(_mm256_setzero_pd(), p, (__m128i)idx,
                                         _mm256_castsi256_pd(_mm256_cvtepi32_epi64((__m128i)ok)),
                                         8);
#else
    VEC r;
    for (int l = 0; l < LANES; l++)
        r[l] = ok[l] ? p[idx[l]] : 0;
    return r;
#endif
}

/* p[idx[l]] = v[l] where ok[l]. */
WG_INLINE void WG(wg_store_lanes)(REAL *p, IVEC idx, IVEC ok, VEC v)
{
#if WG_GATHER && VBYTES == 64 && WG_REAL_BYTES == 4
    _mm512_mask_i32scatter_ps(p, _mm512_cmpneq_epi32_mask((__m512i)ok, _mm512_setzero_si512()),
                              (__m512i)idx, (__m512)v, 4);
#elif WG_GATHER && VBYTES == 64
    _mm512_mask_i32scatter_pd(p, _mm256_cmpneq_epi32_mask((__m256i)ok, _mm256_setzero_si256()),
                              (__m256i)idx, (__m512d)v, 8);
#else
    for (int l = 0; l < LANES; l++)
        if (ok[l])
            p[idx[l]] = v[l];
#endif
}

/* Lane permutations for F(4, 3) groups that lie in one tile row (LANES tiles 4 apart):
 * even and odd lanes of two vectors, a shift by one lane taking the last from a second
 * vector, and the two halves of an interleave. */
#if LANES == 16
#define WG_EVEN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define WG_ODD 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define WG_NEXT(last) 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, last
#define WG_ZIP_LO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define WG_ZIP_HI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#elif LANES == 8
#define WG_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define WG_ODD 1, 3, 5, 7, 9, 11, 13, 15
#define WG_NEXT(last) 1, 2, 3, 4, 5, 6, 7, last
#define WG_ZIP_LO 0, 8, 1, 9, 2, 10, 3, 11
#define WG_ZIP_HI 4, 12, 5, 13, 6, 14, 7, 15
#elif LANES == 4
#define WG_EVEN 0, 2, 4, 6
#define WG_ODD 1, 3, 5, 7
#define WG_NEXT(last) 1, 2, 3, last
#define WG_ZIP_LO 0, 4, 1, 5
#define WG_ZIP_HI 2, 6, 3, 7
#else
#define WG_EVEN 0, 2
#define WG_ODD 1, 3
#define WG_NEXT(last) 1, last
#define WG_ZIP_LO 0, 2
#define WG_ZIP_HI 1, 3
#endif
#define WG_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)

/* d[j][l] = p[4 l + j], j < 6: one patch row of LANES neighbouring F(4, 3) tiles, from
 * the 4 LANES + 2 contiguous values p[0 ..] held in v[k] = p[k LANES ..], k < 4, and
 * v[4] = p[3 LANES + 2 ..] (eight permutations). */
WG_INLINE void WG(wg_split4)(const VEC *v, VEC *d)
{
    const VEC a0 = WG_SHUF(v[0], v[1], WG_EVEN), a1 = WG_SHUF(v[0], v[1], WG_ODD);
    const VEC b0 = WG_SHUF(v[2], v[3], WG_EVEN), b1 = WG_SHUF(v[2], v[3], WG_ODD);
    d[0] = WG_SHUF(a0, b0, WG_EVEN);
    d[2] = WG_SHUF(a0, b0, WG_ODD);
    d[1] = WG_SHUF(a1, b1, WG_EVEN);
    d[3] = WG_SHUF(a1, b1, WG_ODD);
    d[4] = WG_SHUF(d[0], v[4], WG_NEXT(2 * LANES - 2));
    d[5] = WG_SHUF(d[1], v[4], WG_NEXT(2 * LANES - 1));
}

/* v[k] = the values p[4 l + j] = o[j][l], j < 4, of one output row of LANES tiles, in
 * the order of the row (p + k LANES, k < 4): the inverse of wg_split4. */
WG_INLINE void WG(wg_join4)(const VEC *o, VEC *v)
{
    const VEC a0 = WG_SHUF(o[0], o[2], WG_ZIP_LO), b0 = WG_SHUF(o[0], o[2], WG_ZIP_HI);
    const VEC a1 = WG_SHUF(o[1], o[3], WG_ZIP_LO), b1 = WG_SHUF(o[1], o[3], WG_ZIP_HI);
    v[0] = WG_SHUF(a0, a1, WG_ZIP_LO);
    v[1] = WG_SHUF(a0, a1, WG_ZIP_HI);
    v[2] = WG_SHUF(b0, b1, WG_ZIP_LO);
    v[3] = WG_SHUF(b0, b1, WG_ZIP_HI);
}

/* The mask of lanes [lo, hi) for the ISA's masked loads and stores: bits on AVX-512,
 * a vector of -1/0 lanes on AVX2. */
#if WG_GATHER && VBYTES == 64
WG_INLINE unsigned WG(wg_mask)(int lo, int hi)
{
    return ((1u << hi) - 1) & ~((1u << lo) - 1);
}
#elif WG_GATHER
WG_INLINE __m256i WG(wg_mask)(int lo, int hi)
{
#if WG_REAL_BYTES == 4
    const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), l),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), l));
#else
    const __m256i l = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_andnot_si256(_mm256_cmpgt_epi64(_mm256_set1_epi64x(lo), l),
                               _mm256_cmpgt_epi64(_mm256_set1_epi64x(hi), l));
#endif
}
#endif

/* Lanes [lo, hi) of p, zeros in the others (whose addresses are never read). */
WG_INLINE VEC WG(wg_load_part)(const REAL *p, int lo, int hi)
{
#if WG_GATHER && VBYTES == 64 && WG_REAL_BYTES == 4
    return (VEC)_mm512_maskz_loadu_ps((__mmask16)WG(wg_mask)(lo, hi), p);
#elif WG_GATHER && VBYTES == 64
    return (VEC)_mm512_maskz_loadu_pd((__mmask8)WG(wg_mask)(lo, hi), p);
#elif WG_GATHER && WG_REAL_BYTES == 4
    return (VEC)_mm256_maskload_ps(p, WG(wg_mask)(lo, hi));
#elif WG_GATHER
    return (VEC)_mm256_maskload_pd(p, WG(wg_mask)(lo, hi));
#else
    VEC r = {0};
    for (int l = lo; l < hi; l++)
        r[l] = p[l];
    return r;
#endif
}

/* p[l] = v[l] for lanes [lo, hi) (the others' addresses never written). */
WG_INLINE void WG(wg_store_part)(REAL *p, VEC v, int lo, int hi)
{
    if (lo == 0 && hi == LANES) {
        memcpy(p, &v, sizeof v);
        return;
    }
#if WG_GATHER && VBYTES == 64 && WG_REAL_BYTES == 4
    _mm512_mask_storeu_ps(p, (__mmask16)WG(wg_mask)(lo, hi), (__m512)v);
#elif WG_GATHER && VBYTES == 64
    _mm512_mask_storeu_pd(p, (__mmask8)WG(wg_mask)(lo, hi), (__m512d)v);
#elif WG_GATHER && WG_REAL_BYTES == 4
    _mm256_maskstore_ps(p, WG(wg_mask)(lo, hi), (__m256)v);
#elif WG_GATHER
    _mm256_maskstore_pd(p, WG(wg_mask)(lo, hi), (__m256d)v);
#else
    for (int l = lo; l < hi; l++)
        p[l] = v[l];
#endif
}

/* row[w + l] for the lanes with 0 <= w + l < W, zeros in the others. */
WG_INLINE VEC WG(wg_load_clip)(const REAL *row, ptrdiff_t w, ptrdiff_t W)
{
    if (w >= 0 && w + LANES <= W) {
        VEC v;
        memcpy(&v, row + w, sizeof v);
        return v;
    }
    const ptrdiff_t lo = w < 0 ? -w : 0, hi = W - w < LANES ? W - w : LANES;
    if (hi <= lo) {
        const VEC zero = {0};
        return zero;
    }
    return WG(wg_load_part)(row + w, (int)lo, (int)hi);
}

/* The next run of a block's tiles: at most LANES consecutive tiles of one tile row, from
 * column col of the block (tile t_beg + col). */
typedef struct {
    ptrdiff_t image, row, first; /* image, tile row, tile column of its first tile */
    int nl;                      /* tiles */
} WG(wg_run);

static inline WG(wg_run) WG(wg_next_run)(ptrdiff_t t_beg, ptrdiff_t col, ptrdiff_t nt,
                                         ptrdiff_t tpi, ptrdiff_t tw)
{
    const ptrdiff_t t = t_beg + col;
    WG(wg_run) r = {t / tpi, t % tpi / tw, t % tw, LANES};
    if (tw - r.first < r.nl)
        r.nl = (int)(tw - r.first);
    if (nt - col < r.nl)
        r.nl = (int)(nt - col);
    return r;
}

/* The input stage of one block for F(4, 3) tiles (MH = 4, or 1 for one row), without
 * gathers: the tiles go in runs (wg_next_run); each patch row of a run is 4 LANES + 2
 * contiguous values of one input row, read in five vector loads (clipped to the image,
 * the border mode's elements patched in) and split into the 6 columns of the run's tiles
 * (wg_split4).  The transformed tiles go to the run's columns of V (in panels of P
 * tiles, wg_v_at). */
WG_INLINE void WG(wg_input_runs)(const cc_conv2d_geometry *g, const cc_wg_layout *L,
                                 const int MH, const REAL *x, ptrdiff_t grp, ptrdiff_t t_beg,
                                 ptrdiff_t nt, ptrdiff_t P, ptrdiff_t vs, REAL *V)
{
    enum { SPAN = 4 * LANES + 2 };
    const int AH = MH == 1 ? 1 : 6, AA = AH * 6, mode = g->pad_mode;
    const ptrdiff_t Cg = g->C / g->groups, H = g->H, W = g->W;
    const ptrdiff_t th = (g->Hout + MH - 1) / MH, tw = (g->Wout + 3) / 4, tpi = th * tw;
    const ptrdiff_t used_h = g->Hout + g->R - 1, used_w = g->Wout + g->S - 1;
    for (ptrdiff_t col = 0; col < nt;) {
        const WG(wg_run) run = WG(wg_next_run)(t_beg, col, nt, tpi, tw);
        const ptrdiff_t h0 = run.row * MH - g->pad_top, w0 = run.first * 4 - g->pad_left;
        const ptrdiff_t xi = WG(wg_x_image)(L, run.image);
        ptrdiff_t rows[6]; /* offset of each patch row in a channel, -1: zeros */
        for (int i = 0; i < AH; i++) {
            const ptrdiff_t hh = WG(wg_index)(h0 + i, H, g->pad_top, used_h, mode);
            rows[i] = hh < 0 ? -1 : xi + hh * W;
        }
        /* padding positions the border mode maps into the image: q -> fix_w[q] */
        const int inside = w0 >= 0 && w0 + SPAN <= W;
        int nfix = 0, fix_q[SPAN];
        ptrdiff_t fix_w[SPAN];
        for (int q = 0; !inside && q < SPAN; q++)
            if (w0 + q < 0 || w0 + q >= W) {
                const ptrdiff_t ww = WG(wg_index)(w0 + q, W, g->pad_left, used_w, mode);
                if (ww >= 0) {
                    fix_q[nfix] = q;
                    fix_w[nfix++] = ww;
                }
            }
        for (ptrdiff_t c = 0; c < Cg; c++) {
            const REAL *xc = x + WG(wg_x_channel)(L, grp * Cg + c);
            VEC d[36], v[36];
            for (int i = 0; i < AH; i++) {
                VEC rv[5];
                if (rows[i] < 0) {
                    const VEC zero = {0};
                    for (int j = 0; j < 6; j++)
                        d[i * 6 + j] = zero;
                    continue;
                }
                const REAL *xr = xc + rows[i];
                for (int k = 0; k < 5; k++)
                    rv[k] = WG(wg_load_clip)(xr, w0 + (k < 4 ? k * LANES : 3 * LANES + 2), W);
                for (int f = 0; f < nfix; f++) { /* the lanes holding position q */
                    const int q = fix_q[f];
                    const REAL v = xr[fix_w[f]];
                    if (q < 4 * LANES)
                        rv[q / LANES][q % LANES] = v;
                    if (q >= 3 * LANES + 2)
                        rv[4][q - 3 * LANES - 2] = v;
                }
                WG(wg_split4)(rv, d + i * 6);
            }
            WG(wg_input)(4, 6, AH, d, v);
            /* the run's columns [col, col + nl) cross a panel boundary at most once */
            const ptrdiff_t room = P - col % P;
            const int n1 = run.nl < room ? run.nl : (int)room;
            REAL *p0 = WG(wg_v_at)(V, Cg, P, c, col);
            for (int e = 0; e < AA; e++)
                WG(wg_store_part)(p0 + e * vs, v[e], 0, n1);
            if (n1 < run.nl) {
                REAL *p1 = WG(wg_v_at)(V, Cg, P, c, col + n1) - n1;
                for (int e = 0; e < AA; e++)
                    WG(wg_store_part)(p1 + e * vs, v[e], n1, run.nl);
            }
        }
        col += run.nl;
    }
}

/* The output stage of one block for F(4, 3) tiles on rows of unit column stride, without
 * scatters: per run (wg_next_run) and output channel, the products of the run's columns,
 * A^T M A + bias, each output row of the run joined into 4 LANES contiguous values
 * (wg_join4) and stored up to the row's end. */
WG_INLINE void WG(wg_output_runs)(const cc_conv2d_geometry *g, const cc_wg_layout *L,
                                  const int MH, const REAL *Mx, const REAL *bias,
                                  ptrdiff_t grp, ptrdiff_t t_beg, ptrdiff_t nt, ptrdiff_t T,
                                  REAL *y, const int STRIDED)
{
    const int AH = MH == 1 ? 1 : 6, AA = AH * 6;
    const ptrdiff_t Kg = g->K / g->groups, Ho = g->Hout, Wo = g->Wout;
    const ptrdiff_t th = (Ho + MH - 1) / MH, tw = (Wo + 3) / 4, tpi = th * tw;
    const ptrdiff_t yr = STRIDED ? L->y_row : Wo, ms = cc_wg_elem_stride(Kg, T, sizeof(REAL));
    for (ptrdiff_t col = 0; col < nt;) {
        const WG(wg_run) run = WG(wg_next_run)(t_beg, col, nt, tpi, tw);
        const ptrdiff_t h0 = run.row * MH, w0 = run.first * 4;
        const int rows = (int)(Ho - h0 < MH ? Ho - h0 : MH);
        const ptrdiff_t wcnt = Wo - w0 < 4 * run.nl ? Wo - w0 : 4 * run.nl;
        REAL *yi = y + WG(wg_y_image)(L, run.image) + h0 * yr + w0;
        for (ptrdiff_t k = 0; k < Kg; k++) {
            const REAL bk = bias ? bias[grp * Kg + k] : 0;
            REAL *yk = yi + (STRIDED ? WG(wg_y_channel)(L, grp * Kg + k)
                                     : (grp * Kg + k) * L->y_channel);
            VEC mt[36], o[16];
            /* whole vectors: lanes past the run read the next columns (or the line of
             * slack after the last matrix) and are never stored */
            for (int e = 0; e < AA; e++)
                memcpy(&mt[e], Mx + e * ms + k * T + col, sizeof(VEC));
            WG(wg_output)(4, 6, MH, mt, o);
            for (int i = 0; i < MH * 4; i++)
                o[i] += bk;
            for (int i = 0; i < rows; i++) {
                VEC out[4];
                WG(wg_join4)(o + i * 4, out);
                for (int q = 0; q < 4; q++) {
                    const ptrdiff_t left = wcnt - q * LANES;
                    if (left > 0)
                        WG(wg_store_part)(yk + i * yr + q * LANES, out[q], 0,
                                          left < LANES ? (int)left : LANES);
                }
            }
        }
        col += run.nl;
    }
}

/* Where tiles t_first .. t_first + nl - 1 start (row h, column w, offset n * planes * rows
 * * cols + h * cols + w of their image's first plane; h and w shifted by the padding on
 * the input side) and which lanes hold one (live, -1/0). */
WG_INLINE void WG(wg_lanes)(ptrdiff_t t_first, int nl, ptrdiff_t tpi, ptrdiff_t tw, int M,
                            int MH, const cc_wg_layout *L, int output, ptrdiff_t cols,
                            ptrdiff_t col, ptrdiff_t shift_h, ptrdiff_t shift_w, IVEC *off,
                            IVEC *h, IVEC *w, IVEC *live)
{
    for (int l = 0; l < LANES; l++) {
        const ptrdiff_t t = t_first + (l < nl ? l : 0), n = t / tpi, r = t % tpi;
        const ptrdiff_t hh = (r / tw) * MH - shift_h, ww = (r % tw) * M - shift_w;
        const ptrdiff_t image = output ? WG(wg_y_image)(L, n) : WG(wg_x_image)(L, n);
        (*h)[l] = (int32_t)hh;
        (*w)[l] = (int32_t)ww;
        (*off)[l] = (int32_t)(image + hh * cols + ww * col);
        (*live)[l] = l < nl ? -1 : 0;
    }
}

/* The input stage of one block: every group of LANES tiles gathers its patches lane by
 * lane (offsets and border masks made once per group, for all channels) into V. */
WG_INLINE void WG(wg_input_lanes)(const cc_conv2d_geometry *g, const cc_wg_layout *L,
                                  const int M, const int MH, const REAL *x, ptrdiff_t grp,
                                  ptrdiff_t t_beg, ptrdiff_t nt,
                                  ptrdiff_t P, ptrdiff_t vs, REAL *V)
{
    const int A = M + 2, AH = MH == 1 ? 1 : A, AA = AH * A;
    const ptrdiff_t Cg = g->C / g->groups, H = g->H, W = g->W;
    const ptrdiff_t th = (g->Hout + MH - 1) / MH, tw = (g->Wout + M - 1) / M;
    /* windows of stride-1, dilation-1 outputs: Hout + R - 1 padded positions */
    const ptrdiff_t used_h = g->Hout + g->R - 1, used_w = g->Wout + g->S - 1;
    for (ptrdiff_t t0 = 0; t0 < nt; t0 += LANES) {
        const int nl = nt - t0 < LANES ? (int)(nt - t0) : LANES;
        IVEC off, h0, w0, live, rowat[8], rowok[8], colat[8], colok[8];
        WG(wg_lanes)(t_beg + t0, nl, th * tw, tw, M, MH, L, 0, W, 1, g->pad_top,
                     g->pad_left, &off, &h0, &w0, &live);
        /* per lane, the offset of each patch row (image included) and column, with the
         * border mode's element for padding and -1 (masked off) for zeros */
        for (int l = 0; l < LANES; l++) {
            const int32_t image = off[l] - h0[l] * (int32_t)W - w0[l];
            for (int i = 0; i < AH; i++) {
                const ptrdiff_t hh = WG(wg_index)(h0[l] + i, H, g->pad_top, used_h, g->pad_mode);
                rowat[i][l] = image + (int32_t)(hh < 0 ? 0 : hh * W);
                rowok[i][l] = live[l] && hh >= 0 ? -1 : 0;
            }
            for (int j = 0; j < A; j++) {
                const ptrdiff_t ww = WG(wg_index)(w0[l] + j, W, g->pad_left, used_w, g->pad_mode);
                colat[j][l] = (int32_t)(ww < 0 ? 0 : ww);
                colok[j][l] = ww >= 0 ? -1 : 0;
            }
        }
        for (ptrdiff_t c = 0; c < Cg; c++) {
            const REAL *xc = x + WG(wg_x_channel)(L, grp * Cg + c);
            VEC d[64], v[64];
            for (int i = 0; i < AH; i++)
                for (int j = 0; j < A; j++)
                    d[i * A + j] = WG(wg_load_lanes)(xc, rowat[i] + colat[j],
                                                     rowok[i] & colok[j]);
            WG(wg_input)(M, A, AH, d, v);
            WG(wg_store_v)(WG(wg_v_at)(V, Cg, P, c, t0), vs, AA, WG(wg_v_lanes)(P, t0, nl), v);
        }
    }
}

/* The output stage of one block: y = A^T M A + bias, lane by lane into the outputs
 * (offsets and edge masks made once per group of LANES tiles, for all channels). */
WG_INLINE void WG(wg_output_lanes)(const cc_conv2d_geometry *g, const cc_wg_layout *L,
                                   const int M, const int MH, const REAL *Mx,
                                   const REAL *bias, ptrdiff_t grp,
                                   ptrdiff_t t_beg, ptrdiff_t nt, ptrdiff_t T, REAL *y,
                                   const int STRIDED)
{
    const int A = M + 2, AH = MH == 1 ? 1 : A, AA = AH * A;
    const ptrdiff_t Kg = g->K / g->groups, Ho = g->Hout, Wo = g->Wout;
    const ptrdiff_t th = (Ho + MH - 1) / MH, tw = (Wo + M - 1) / M;
    /* rows and columns at the layout's strides only when STRIDED (a constant: the plain
     * stage keeps its constant offsets) */
    const ptrdiff_t yr = STRIDED ? L->y_row : Wo, yc = STRIDED ? L->y_col : 1;
    for (ptrdiff_t t0 = 0; t0 < nt; t0 += LANES) {
        const int nl = nt - t0 < LANES ? (int)(nt - t0) : LANES;
        IVEC off, h0, w0, live, rowok[8], colok[8];
        WG(wg_lanes)(t_beg + t0, nl, th * tw, tw, M, MH, L, 1, yr, yc, 0, 0, &off, &h0, &w0,
                     &live);
        for (int i = 0; i < MH; i++)
            rowok[i] = live & (h0 + i < (int32_t)Ho);
        for (int j = 0; j < M; j++)
            colok[j] = w0 + j < (int32_t)Wo;
        for (ptrdiff_t k = 0; k < Kg; k++) {
            const REAL bk = bias ? bias[grp * Kg + k] : 0;
            REAL *yk = y + (STRIDED ? WG(wg_y_channel)(L, grp * Kg + k)
                                    : (grp * Kg + k) * L->y_channel);
            VEC mt[64], o[36];
            for (int e = 0; e < AA; e++) {
                const REAL *src = Mx + e * cc_wg_elem_stride(Kg, T, sizeof(REAL)) + k * T + t0;
                if (nl == LANES) {
                    memcpy(&mt[e], src, sizeof(VEC));
                } else {
                    VEC part = {0};
                    memcpy(&part, src, (size_t)nl * sizeof(REAL));
                    mt[e] = part;
                }
            }
            WG(wg_output)(M, A, MH, mt, o);
            for (int i = 0; i < MH * M; i++)
                o[i] += bk;
            for (int i = 0; i < MH; i++)
                for (int j = 0; j < M; j++)
                    WG(wg_store_lanes)(yk + i * yr + j * yc, off, rowok[i] & colok[j],
                                       o[i * M + j]);
        }
    }
}

/* The input stage of one block for arrays whose offsets exceed int32: tile by tile where
 * a group of LANES tiles does not lie inside one tile row of the image. */
WG_INLINE void WG(wg_input_tiles)(const cc_conv2d_geometry *g, const cc_wg_layout *L,
                                  const int M, const int MH, const REAL *x, ptrdiff_t grp,
                                  ptrdiff_t t_beg, ptrdiff_t nt,
                                  ptrdiff_t P, ptrdiff_t vs, REAL *V)
{
    const int A = M + 2, AH = MH == 1 ? 1 : A, AA = AH * A;
    const ptrdiff_t Cg = g->C / g->groups, H = g->H, W = g->W;
    const ptrdiff_t pt = g->pad_top, pl = g->pad_left;
    const ptrdiff_t th = (g->Hout + MH - 1) / MH, tw = (g->Wout + M - 1) / M, tpi = th * tw;
    for (ptrdiff_t c = 0; c < Cg; c++) {
        for (ptrdiff_t t0 = 0; t0 < nt; t0 += LANES) {
            VEC d[64], v[64];
            const int nl = nt - t0 < LANES ? (int)(nt - t0) : LANES;
            const ptrdiff_t tf = t_beg + t0, nf = tf / tpi, rf = tf % tpi;
            const ptrdiff_t hf = (rf / tw) * MH - pt, wf = (rf % tw) * M - pl;
            const REAL *xf = x + WG(wg_x_image)(L, nf) + WG(wg_x_channel)(L, grp * Cg + c);
            if (nl == LANES && rf % tw + LANES <= tw && hf >= 0 && hf + AH <= H &&
                wf >= 0 && wf + (LANES - 1) * M + A <= W) {
                /* LANES neighbouring tiles of one tile row, all inside the image */
                for (int i = 0; i < AH; i++)
                    for (int j = 0; j < A; j++) {
                        const REAL *p = xf + (hf + i) * W + wf + j;
                        VEC e;
                        for (int l = 0; l < LANES; l++)
                            e[l] = p[l * M];
                        d[i * A + j] = e;
                    }
            } else {
                WG(wg_gather)(g, L, M, MH, A, AH, x, grp * Cg + c, t_beg + t0, nl, tpi, tw,
                              d);
            }
            WG(wg_input)(M, A, AH, d, v);
            WG(wg_store_v)(WG(wg_v_at)(V, Cg, P, c, t0), vs, AA, WG(wg_v_lanes)(P, t0, nl), v);
        }
    }
}

/* The output stage for arrays whose offsets exceed int32: lane by lane with ptrdiff_t
 * offsets. */
WG_INLINE void WG(wg_output_tiles)(const cc_conv2d_geometry *g, const cc_wg_layout *L,
                                   const int M, const int MH, const REAL *Mx,
                                   const REAL *bias, ptrdiff_t grp, ptrdiff_t t_beg,
                                   ptrdiff_t nt, ptrdiff_t T, REAL *y)
{
    const int A = M + 2, AH = MH == 1 ? 1 : A, AA = AH * A;
    const ptrdiff_t Kg = g->K / g->groups, Ho = g->Hout, Wo = g->Wout;
    const ptrdiff_t tw = (Wo + M - 1) / M, tpi = (Ho + MH - 1) / MH * tw;
    for (ptrdiff_t t0 = 0; t0 < nt; t0 += LANES) {
        const int nl = nt - t0 < LANES ? (int)(nt - t0) : LANES;
        for (ptrdiff_t k = 0; k < Kg; k++) {
            const REAL bk = bias ? bias[grp * Kg + k] : 0;
            VEC mt[64], o[36];
            for (int e = 0; e < AA; e++) {
                VEC part = {0};
                memcpy(&part, Mx + e * cc_wg_elem_stride(Kg, T, sizeof(REAL)) + k * T + t0,
                       (size_t)nl * sizeof(REAL));
                mt[e] = part;
            }
            WG(wg_output)(M, A, MH, mt, o);
            for (int l = 0; l < nl; l++) {
                const ptrdiff_t t = t_beg + t0 + l, r = t % tpi;
                const ptrdiff_t h0 = (r / tw) * MH, w0 = (r % tw) * M;
                REAL *yk = y + WG(wg_y_image)(L, t / tpi) + WG(wg_y_channel)(L, grp * Kg + k);
                for (int i = 0; i < MH && h0 + i < Ho; i++)
                    for (int j = 0; j < M && w0 + j < Wo; j++)
                        yk[(h0 + i) * L->y_row + (w0 + j) * L->y_col] = o[i * M + j][l] + bk;
            }
        }
    }
}

/* Tiles per panel of V: the width of the ISA's GEMM tile (conv_direct.h). */
static inline ptrdiff_t WG(wg_panel)(void)
{
    return (ptrdiff_t)WG_TABLE.gemm.nv * LANES;
}

/* The products of one block, M[e] (Kg x nt, rows T apart, T a whole number of panels) =
 * U[e] (Kg x Cg) . V[e] (Cg x nt in panels of P tiles), by the ISA's GEMM tile (the
 * pointwise layers' micro-kernel): the input channels in slices whose panel (kc rows of
 * P) stays in L1 while every block of kb output channels runs on it, U streaming from L2,
 * the next element's U prefetched into L2 meanwhile; later slices add to the sums stored
 * by the earlier ones (each sum in the order of c, whatever the blocks).  U[e] is packed
 * in blocks of the tile's kb rows (ukb = kb: [block][c][kb], rows past Kg zero) or plain
 * rows (ukb = 1), usize elements per element e.  The panels' lanes past the block's tiles
 * are zeroed first; their products land in M's columns past nt, which nothing reads
 * (whole vectors: no partial stores). */
static void WG(wg_products)(const REAL *u, ptrdiff_t ukb, ptrdiff_t usize, REAL *V,
                            REAL *Mx, int AA, ptrdiff_t Kg, ptrdiff_t Cg, ptrdiff_t nt,
                            ptrdiff_t T, ptrdiff_t vs, ptrdiff_t ms)
{
    const WG_TILE_FN tile = WG_TABLE.gemm.WG_TILE_MEMBER;
    const int kb = WG_TABLE.gemm.kb;
    const ptrdiff_t P = WG(wg_panel)(), KC = cc_pw_slice(P, (ptrdiff_t)sizeof(REAL));
    const ptrdiff_t end = (nt + P - 1) / P * P;
    if (nt <= 0)
        return;
    const ptrdiff_t calls = (Cg + KC - 1) / KC * ((nt + P - 1) / P) * ((Kg + kb - 1) / kb);
    const ptrdiff_t ahead = (usize * (ptrdiff_t)sizeof(REAL) / 64 + calls - 1) / calls;
    for (int e = 0; e < AA && nt < end; e++)
        for (ptrdiff_t c = 0; c < Cg; c++)
            memset(WG(wg_v_at)(V + e * vs, Cg, P, c, nt), 0, (size_t)(end - nt) * sizeof(REAL));
    for (int e = 0; e < AA; e++) {
        const REAL *Ue = u + e * usize, *Ve = V + e * vs;
        const char *next = (const char *)(Ue + usize);
        const char *next_end = e + 1 < AA ? (const char *)(Ue + 2 * usize) : next;
        REAL *Me = Mx + e * ms;
        for (ptrdiff_t c0 = 0; c0 < Cg; c0 += KC) {
            const ptrdiff_t kc = Cg - c0 < KC ? Cg - c0 : KC;
            for (ptrdiff_t t0 = 0; t0 < nt; t0 += P) {
                /* the last panel by a narrower tile when its tiles fit one vector fewer */
                const int cnt = (int)(nt - t0 <= P - LANES ? P - LANES : P);
                const REAL *pk = Ve + t0 * Cg + c0 * P;
                for (ptrdiff_t k = 0; k < Kg; k += kb) {
                    for (ptrdiff_t q = 0; q < ahead && next < next_end; q++, next += 64)
                        __builtin_prefetch(next, 0, 2);
                    const int n = (int)(Kg - k < kb ? Kg - k : kb);
                    if (ukb == kb)
                        tile(pk, P, Ue + (k * Cg + c0 * kb), 0, kc, NULL, Me + k * T + t0, T, n,
                             cnt, c0 == 0);
                    else
                        tile(pk, P, Ue + k * Cg + c0, Cg, kc, NULL, Me + k * T + t0, T, n, cnt,
                             c0 == 0);
                }
            }
        }
    }
}

/* MH = M for 2-D tiles, 1 for one row (R = 1); constants after inlining. */
WG_INLINE void WG(wg_drive)(const cc_conv2d_geometry *g, const cc_wg_layout *L, const int M,
                            const int MH, const REAL *x, const REAL *u, ptrdiff_t ukb,
                            const REAL *bias, REAL *y, REAL *workspace, ptrdiff_t it_lo,
                            ptrdiff_t it_hi, int n_threads)
{
    const int A = M + 2, AH = MH == 1 ? 1 : A, AA = AH * A;
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t th = (g->Hout + MH - 1) / MH, tw = (g->Wout + M - 1) / M;
    const ptrdiff_t tiles = g->N * th * tw, T = cc_winograd_tile_block(g, M, sizeof(REAL));
    const ptrdiff_t nb = cc_wg_blocks(tiles, T), items = g->groups * nb;
    const ptrdiff_t per_thread = cc_winograd_workspace_per_thread(g, M, sizeof(REAL));
    /* lane offsets are int32: the largest is below N C H W (N K Ho Wo on the output) */
    const int lanes = L->x_extent < INT32_MAX && L->y_extent < INT32_MAX;
    const int strided = L->y_koff || L->y_col != 1 || L->y_row != g->Wout;
    const ptrdiff_t P = WG(wg_panel)(), usize = (Kg + ukb - 1) / ukb * ukb * Cg;
    /* columns of V and M: the largest block in whole panels */
    const ptrdiff_t Tp = cc_wg_v_cols(cc_winograd_block_max(g, M, sizeof(REAL)));
    n_threads = cc_team(&it_lo, &it_hi, items, n_threads);

    /* each thread its own share of the blocks, then the others' (cc_omp.h: a core
     * slowed by another process does not hold the call back) */
    cc_shares shares;
    cc_shares_init(&shares, n_threads, it_lo, it_hi, 1);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
    const int tid = CC_OMP_THREAD_ID();
    for (ptrdiff_t it; (it = cc_shares_take(&shares, tid)) >= 0;) {
        const ptrdiff_t grp = it / nb, t_beg = (it % nb) * T;
        const ptrdiff_t nt = it % nb == nb - 1 ? tiles - t_beg : T; /* the last: the rest */
        REAL *V = workspace + (ptrdiff_t)tid * per_thread;
        const ptrdiff_t vs = cc_wg_elem_stride(Cg, Tp, sizeof(REAL));
        const ptrdiff_t ms = cc_wg_elem_stride(Kg, Tp, sizeof(REAL));
        REAL *Mx = V + AA * vs;

        if (M == 4)
            WG(wg_input_runs)(g, L, MH, x, grp, t_beg, nt, P, vs, V);
        else if (lanes)
            WG(wg_input_lanes)(g, L, M, MH, x, grp, t_beg, nt, P, vs, V);
        else
            WG(wg_input_tiles)(g, L, M, MH, x, grp, t_beg, nt, P, vs, V);
        WG(wg_products)(u + grp * AA * usize, ukb, usize, V, Mx, AA, Kg, Cg, nt, Tp, vs, ms);

        if (M == 4 && L->y_col == 1 && strided)
            WG(wg_output_runs)(g, L, MH, Mx, bias, grp, t_beg, nt, Tp, y, 1);
        else if (M == 4 && L->y_col == 1)
            WG(wg_output_runs)(g, L, MH, Mx, bias, grp, t_beg, nt, Tp, y, 0);
        else if (lanes && strided)
            WG(wg_output_lanes)(g, L, M, MH, Mx, bias, grp, t_beg, nt, Tp, y, 1);
        else if (lanes)
            WG(wg_output_lanes)(g, L, M, MH, Mx, bias, grp, t_beg, nt, Tp, y, 0);
        else
            WG(wg_output_tiles)(g, L, M, MH, Mx, bias, grp, t_beg, nt, Tp, y);
    }
    }
    cc_shares_free(&shares);
}

/* The weight gradient's stage for the output gradient of one block, F(4x4, 3x3) only:
 * each group of LANES tiles gathers its 4x4 tiles of go (zeros past the output) and
 * transforms them by the adjoint of the output transform, A go A^T, into
 * Gh[element][channel][tile], as the input stage fills V. */
WG_INLINE void WG(wg_grad_lanes)(const cc_conv2d_geometry *g, const cc_wg_layout *L,
                                 const REAL *go, ptrdiff_t grp, ptrdiff_t t_beg, ptrdiff_t nt,
                                 ptrdiff_t T, REAL *Gh)
{
    const ptrdiff_t Kg = g->K / g->groups, Ho = g->Hout, Wo = g->Wout;
    const ptrdiff_t th = (Ho + 3) / 4, tw = (Wo + 3) / 4;
    for (ptrdiff_t t0 = 0; t0 < nt; t0 += LANES) {
        const int nl = nt - t0 < LANES ? (int)(nt - t0) : LANES;
        IVEC off, h0, w0, live, ok[16], at[16];
        WG(wg_lanes)(t_beg + t0, nl, th * tw, tw, 4, 4, L, 1, Wo, 1, 0, 0, &off, &h0, &w0,
                     &live);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                ok[i * 4 + j] = live & (h0 + i < (int32_t)Ho) & (w0 + j < (int32_t)Wo);
                at[i * 4 + j] = off + (int32_t)(i * Wo + j);
            }
        for (ptrdiff_t k = 0; k < Kg; k++) {
            const REAL *gk = go + (grp * Kg + k) * L->y_channel;
            VEC d[16], t[24], v[36];
            for (int e = 0; e < 16; e++)
                d[e] = WG(wg_load_lanes)(gk, at[e], ok[e]);
            for (int j = 0; j < 4; j++) /* along the height: t (6 x 4) = A d */
                WG(a4)(d + j, 4, t + j, 4);
            for (int i = 0; i < 6; i++) /* along the width: v (6 x 6) = t A^T */
                WG(a4)(t + i * 4, 1, v + i * 6, 1);
            WG(wg_store_v)(Gh + k * T + t0, cc_wg_elem_stride(Kg, T, sizeof(REAL)), 36, nl, v);
        }
    }
}

/* Parts [it_lo, it_hi) of the weight gradient of a 3x3 stride-1 layer, F(4x4, 3x3):
 * part (grp, p) of nparts per group sums, over the tile blocks p * nb / nparts ..
 * (p + 1) * nb / nparts - 1 in order, the products of the transformed output gradient and
 * input tiles, P[e][k][c] = sum over tiles of Gh[e][k][t] V[e][c][t] (one GEMM per
 * element e and block), into parts + (grp * nparts + p) * 36 * Kg * Cg.  The blocks are
 * cc_winograd_grad_block tiles, the last one shorter (not taking the
 * remainder as the forward's does): fixed by the shapes, as is nparts, so the
 * parts do not depend on the thread count.  x and go plain (N, C, H, W) and (N, K, Hout,
 * Wout), within int32 offsets. */
static void WG(cc_winograd_grad_weight_parts)(const cc_conv2d_geometry *g, const REAL *x,
                                       const REAL *go, REAL *parts, ptrdiff_t nparts,
                                       ptrdiff_t it_lo, ptrdiff_t it_hi, REAL *workspace,
                                       int n_threads)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    const ptrdiff_t tiles = g->N * ((g->Hout + 3) / 4) * ((g->Wout + 3) / 4);
    const ptrdiff_t T = cc_winograd_grad_block(g, sizeof(REAL));
    const ptrdiff_t nb = cc_winograd_grad_blocks(g, sizeof(REAL));
    const ptrdiff_t per_thread = cc_winograd_grad_workspace_per_thread(g, sizeof(REAL));
    /* the product's panels last, 64-byte aligned like the thread's blocks */
    const ptrdiff_t blocks = per_thread - cc_matmul_workspace_per_thread();
    const cc_wg_layout L = cc_wg_plain_layout(g);
    n_threads = cc_team(&it_lo, &it_hi, g->groups * nparts, n_threads);
    cc_shares shares; /* each thread its own share, then the others' (cc_omp.h) */
    cc_shares_init(&shares, n_threads, it_lo, it_hi, 1);
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
#endif
    {
    const int tid = CC_OMP_THREAD_ID();
    for (ptrdiff_t it; (it = cc_shares_take(&shares, tid)) >= 0;) {
        const ptrdiff_t grp = it / nparts, p = it % nparts;
        const ptrdiff_t b_lo = nb * p / nparts, b_hi = nb * (p + 1) / nparts;
        REAL *V = workspace + (ptrdiff_t)tid * per_thread;
        const ptrdiff_t vs = cc_wg_elem_stride(Cg, T, sizeof(REAL));
        const ptrdiff_t ms = cc_wg_elem_stride(Kg, T, sizeof(REAL));
        REAL *Gh = V + 36 * vs, *P = parts + it * 36 * Kg * Cg, *work = V + blocks;
        if (b_lo == b_hi)
            memset(P, 0, (size_t)(36 * Kg * Cg) * sizeof *P);
        for (ptrdiff_t b = b_lo; b < b_hi; b++) {
            const ptrdiff_t t_beg = b * T, nt = tiles - t_beg < T ? tiles - t_beg : T;
            WG(wg_input_runs)(g, &L, 4, x, grp, t_beg, nt, T, vs, V);
            WG(wg_grad_lanes)(g, &L, go, grp, t_beg, nt, T, Gh);
            /* P[e] (Kg x Cg) += Gh[e] (Kg x nt, rows T apart) V[e]^T (V[e]: Cg x nt) */
            cc_matmul prod = {.batch = 36, .m = Kg, .n = Cg, .k = nt,
                              .a_rs = T, .a_cs = 1, .a_bs = ms,
                              .b_rs = 1, .b_cs = T, .b_bs = vs,
                              .c_rs = Cg, .c_bs = Kg * Cg, .accumulate = b != b_lo};
            cc_matmul_plan(&prod, 1);
            WG_ISA_CAT(cc_matmul_serial, WG_TILE_MEMBER)(&prod, &WG_TABLE.gemm,
                                                         WG_TABLE.gemm.nv * LANES, Gh, V, P,
                                                         work);
        }
    }
    }
    cc_shares_free(&shares);
}

/* Channels transformed together by the weight transform (vectors over channels). */
#define WG_WEIGHT_CHANNELS 32

/* U = (G w[k, c] G^T)[e] (or G w for a row), in double, rounded once, for element e,
 * output channel k and input channel c of group grp at
 *   u[((grp * aa + e) * Kp + k / kb * kb) * Cg + c * kb + k % kb],  Kp = Kg rounded up to kb:
 * blocks of kb output channels, their kb values of each c side by side (the GEMM tile's
 * packed layout; rows Kg..Kp-1 are zeros), or with kb = 1 the plain (groups, aa, Kg, Cg).
 * Weights (K, Cg, R, 3) with R = 3 or 1, parallel over blocks of kb output channels
 * (each writes its own blocks of U).  Channels go WG_WEIGHT_CHANNELS at a time with the
 * channel innermost, so each sum is a vector loop in the ISA's width, and every row of
 * a block is done before the next channels, so the block's lines of U are filled while
 * in L1 (a channel at a time in SSE2 took 5 ms for a 256 x 256 layer; a row at a time
 * over all channels refetched each line of packed U kb times). */
static void WG(cc_winograd_weights)(int m, ptrdiff_t K, ptrdiff_t Cg, ptrdiff_t groups, ptrdiff_t R,
                             const REAL *w, REAL *u, ptrdiff_t kb, int n_threads)
{
    enum { NC = WG_WEIGHT_CHANNELS };
    const int a = m + 2;
    const double(*G)[3] = m == 6 ? cc_wg_g6 : cc_wg_g4;
    const ptrdiff_t Kg = K / groups, aa = R == 1 ? a : a * a, Kp = (Kg + kb - 1) / kb * kb;
    const ptrdiff_t es = Kp * Cg, nblk = Kp / kb; /* es: elements of one element's matrix */
    if (K * Cg < 4096)
        n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads)
#else
    (void)n_threads;
#endif
    for (ptrdiff_t blk = 0; blk < groups * nblk; blk++) {
        const ptrdiff_t grp = blk / nblk, k0 = blk % nblk * kb;
        REAL *block = u + grp * aa * es + k0 * Cg; /* (e, c, r): e es + c kb + r */
        double f[9][NC], t[8][3][NC];
        for (ptrdiff_t c0 = 0; c0 < Cg; c0 += NC) {
            const int nc = Cg - c0 < NC ? (int)(Cg - c0) : NC;
            for (ptrdiff_t r = 0; r < kb; r++) {
                REAL *dst = block + c0 * kb + r;
                if (k0 + r >= Kg) {
                    for (ptrdiff_t e = 0; e < aa; e++)
                        for (int cc = 0; cc < nc; cc++)
                            dst[e * es + cc * kb] = 0;
                    continue;
                }
                const REAL *src = w + ((grp * Kg + k0 + r) * Cg + c0) * R * 3;
                for (int cc = 0; cc < nc; cc++)
                    for (int q = 0; q < R * 3; q++)
                        f[q][cc] = src[cc * R * 3 + q];
                if (R == 1) {
                    for (int i = 0; i < a; i++)
                        for (int cc = 0; cc < nc; cc++)
                            dst[i * es + cc * kb] = (REAL)(G[i][0] * f[0][cc] +
                                                           G[i][1] * f[1][cc] +
                                                           G[i][2] * f[2][cc]);
                    continue;
                }
                for (int i = 0; i < a; i++) /* G f: alpha x 3 */
                    for (int j = 0; j < 3; j++)
                        for (int cc = 0; cc < nc; cc++)
                            t[i][j][cc] = G[i][0] * f[j][cc] + G[i][1] * f[3 + j][cc] +
                                          G[i][2] * f[6 + j][cc];
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < a; j++)
                        for (int cc = 0; cc < nc; cc++)
                            dst[(i * a + j) * es + cc * kb] =
                                (REAL)(t[i][0][cc] * G[j][0] + t[i][1][cc] * G[j][1] +
                                       t[i][2][cc] * G[j][2]);
            }
        }
    }
}
#undef WG_WEIGHT_CHANNELS

static void WG(cc_conv_winograd_strided)(const cc_conv2d_geometry *g, const cc_wg_layout *L, int m,
                               const REAL *x, const REAL *u, ptrdiff_t ukb, const REAL *bias,
                               REAL *y, REAL *workspace, ptrdiff_t it_lo, ptrdiff_t it_hi,
                               int n_threads)
{
    if (g->R == 1) {
        if (m == 6)
            WG(wg_drive)(g, L, 6, 1, x, u, ukb, bias, y, workspace, it_lo, it_hi, n_threads);
        else
            WG(wg_drive)(g, L, 4, 1, x, u, ukb, bias, y, workspace, it_lo, it_hi, n_threads);
    } else {
        if (m == 6)
            WG(wg_drive)(g, L, 6, 6, x, u, ukb, bias, y, workspace, it_lo, it_hi, n_threads);
        else
            WG(wg_drive)(g, L, 4, 4, x, u, ukb, bias, y, workspace, it_lo, it_hi, n_threads);
    }
}

#undef VEC
#undef IVEC
#undef WG_EVEN
#undef WG_ODD
#undef WG_NEXT
#undef WG_ZIP_LO
#undef WG_ZIP_HI
#undef WG_SHUF
#undef WG_CAT_
#undef WG_CAT
#undef WG
#undef WG_UNROLL
#undef WG_INLINE
