/* Tests of the convcore C library on its own (no Python): direct and im2col + GEMM
 * convolution against a naive loop reference, im2col / col2im, and every SIMD level
 * this CPU supports.
 *
 * Inputs are multiples of 1/64 in [-1, 1], so every product is a multiple of 2^-12 and
 * every partial sum (|sum| < 2^12 here) is exactly representable in float: the result
 * is exact whatever the summation order, and outputs are compared for equality.
 * Outputs and workspaces are filled with NaN before each call (an unwritten cell
 * fails) and followed by guard cells that must stay untouched.
 *
 * Prints "N passed, N failed"; exits 1 on any failure.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "convcore.h"
#include "cc_isa_table.h"
#include "driver/conv_direct.h"
#include "cc_omp.h"

#define GUARD 32
#define GUARD_VALUE 12345.0

static int n_passed, n_failed;

static void check(int ok, const char *fmt, ...)
{
    if (ok) {
        n_passed++;
        return;
    }
    n_failed++;
    va_list ap;
    va_start(ap, fmt);
    fputs("FAIL: ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* ---- deterministic dyadic random numbers ---------------------------------------- */

static unsigned long long rng_state = 88172645463325252ull;

static double rand_dyadic(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)((int)(rng_state % 129) - 64) / 64.0;
}

static double *rand_array(ptrdiff_t n)
{
    double *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a);
    for (ptrdiff_t i = 0; i < n; i++)
        a[i] = rand_dyadic();
    return a;
}

/* ---- geometries ----------------------------------------------------------------- */

typedef struct {
    const char *name;
    ptrdiff_t N, C, H, W, K, R, S, groups, sh, sw, dh, dw, pt, pb, pl, pr;
    int bias;
} conv_case;

static const conv_case CASES[] = {
    /* name                    N  C   H   W   K  R   S  g  sh sw dh dw pt pb pl pr bias */
    {"3x3 valid",              2, 3,  7,  9,  5, 3,  3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"asymmetric padding",     1, 2,  6,  8,  4, 3,  3, 1, 1, 1, 1, 1, 2, 0, 1, 2, 0},
    {"stride 2 pad 1",         1, 4, 11, 13,  8, 3,  3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {"stride 3",               2, 2, 10, 20,  3, 2,  4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"stride (2,3) pad 2",     1, 3,  9, 37,  7, 3,  3, 1, 2, 3, 1, 1, 2, 2, 2, 2, 0},
    {"dilation (2,3)",         1, 3, 12, 14,  4, 3,  2, 1, 1, 1, 2, 3, 2, 2, 2, 2, 1},
    /* a column stride with dilation: the copy split by column phase, taps across it */
    {"stride 2, dilation 3",   1, 3, 12, 41,  9, 3,  3, 1, 2, 2, 1, 3, 1, 1, 2, 3, 1},
    {"stride 3, dilation 2",   1, 2, 10, 50,  2, 2,  4, 1, 1, 3, 2, 2, 0, 1, 3, 1, 0},
    {"groups 2, stride (1,2)", 2, 4,  8, 10,  6, 3,  3, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1},
    {"depthwise x2",           1, 3,  9, 21,  6, 3,  3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"wide rows, K 17",        1, 2,  5, 70, 17, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"wide rows, stride 2",    1, 2,  6, 90,  9, 3,  3, 1, 2, 2, 1, 1, 0, 1, 1, 0, 0},
    {"1x1",                    2, 5,  6, 33, 12, 1,  1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1 stride 2 padded",    1, 3,  5,  7,  4, 1,  1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 0},
    {"kernel 2x17",            1, 2,  4, 40,  3, 2, 17, 1, 1, 1, 1, 1, 0, 1, 8, 8, 1},
    {"kernel > input",         1, 1,  3,  3,  2, 5,  5, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1},
    {"threaded batch",         2, 8, 24, 24, 16, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"threaded one image",     1, 8, 24, 40, 32, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"2x2 channel tiles",      2, 40, 9, 23, 36, 2,  2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    /* one-tap bands read in place (rows of whole column tiles at every level); with a
     * padded top row, the first band of the plane is a copy and the others in place */
    {"1x1 rows of 64, K 3",    2, 3,  5, 64,  3, 1,  1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1 one channel, 128",   1, 1,  7, 128, 1, 1,  1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"1x1 bands, pad top",     1, 16, 70, 64, 10, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1},
    /* one-channel 3x3 layers at stride 1 on strips walking down the input in place:
     * interior and masked strips, a one-vector last strip (AVX-512), several bands, a
     * band of one row, padding rows and columns past the taps' reach */
    {"strip depthwise, 56",    2, 4,  7, 56,  4, 3,  3, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"strip asymmetric, bands", 1, 3, 40, 33, 3, 3,  3, 3, 1, 1, 1, 1, 2, 0, 0, 2, 0},
    {"strip one channel, 80",  1, 1,  5, 80,  1, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"strip one row",          1, 2,  1, 17,  2, 3,  3, 2, 1, 1, 1, 1, 1, 1, 2, 2, 1},
    {"strip pad 2",            1, 2,  3, 17,  2, 3,  3, 2, 1, 1, 1, 1, 2, 2, 2, 2, 0},
    /* pointwise (1x1, stride 1, unpadded, a big tile's channels per group): a GEMM per
     * stretch of pixels; a last partial tile, groups, several stretches per image, several
     * slices of input channels (deep: one block per item; wide: several blocks, groups);
     * the last block of 1-6 channels at every level (K 9, 20, 29, 30) */
    {"1x1 rows of 64",         2, 3,  5, 64, 20, 1,  1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1 pointwise stretches", 4, 40, 9, 91, 24, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1 pointwise deep",     1, 1100, 3, 45, 9, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"1x1 pointwise wide",     2, 1200, 8, 41, 40, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1 pointwise, K 29",    2, 48, 5, 40, 29, 1,  1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1 pointwise, K 30",    1, 48, 5, 40, 30, 1,  1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    /* virtual rows with junk columns: tiles stored straight into the output, and those
     * straddling a row's end through the stack buffer (one or several rows per tile) */
    {"stem s2, rows of 113",   2, 3, 10, 226, 32, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {"short rows, pad 2",      1, 4,  9,  5,  8, 3,  3, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0},
    /* several output channels on virtual rows walked row by row: rows of 40, 48, 56, 60
     * and 64 (last tiles of 0 and 2 vectors across the levels and dtypes), 3x3, 5x5,
     * dilated, and a band split by column phase (stride 2) */
    {"rows of 64, K 32",        2, 3, 9, 64, 32, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"rows of 60",              1, 2, 7, 60, 32, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"rows of 56, 5x5",         1, 2, 6, 56, 32, 5,  5, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0},
    {"stride 2, rows of 64",    1, 3, 9, 128, 32, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1},
    {"rows of 40",              1, 2, 7, 40, 32, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"rows of 48, 5x5, K 12",   1, 2, 6, 48, 12, 5,  5, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1},
    {"rows of 64, dilated, K 4", 1, 1, 8, 64, 4, 3,  3, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    {"rows of 64, K 4",         2, 1, 5, 64,  4, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    /* one-channel tiles on virtual rows with junk columns, output row by output row:
     * rows of whole tiles and a tail of 1-4 vectors (float and double, every level),
     * 3 taps and others, one input channel per group and three */
    {"depthwise, rows of 56",  1, 4,  7, 56,  4, 3,  3, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"depthwise, rows of 61",  2, 3,  6, 61,  3, 3,  3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0},
    {"one channel, rows of 45", 1, 1, 9, 45,  1, 3,  3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3 -> 1, 5x5, rows of 70", 1, 3, 8, 70,  1, 5,  5, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1},
    {"one channel, rows of 100", 1, 1, 5, 100, 1, 3, 3, 1, 1, 1, 1, 1, 0, 1, 0, 2, 0},
    /* one-channel tiles in blocks of 4 output rows (kernels of 4 rows or more): a band's
     * last rows fewer than a block, last blocks of 1-4 vectors (a partial one), several
     * input channels, groups, several bands, and dilated rows (row by row) */
    {"blocks 7x7, 11 rows of 50", 1, 1, 11, 50, 1, 7, 7, 1, 1, 1, 1, 1, 3, 3, 3, 3, 1},
    {"blocks 15x15, 9 rows of 70", 2, 2, 9, 70, 2, 15, 15, 2, 1, 1, 1, 1, 7, 7, 7, 7, 0},
    {"blocks 4x5, 3 -> 2, 37",  1, 3, 10, 37, 2, 4,  5, 1, 1, 1, 1, 1, 2, 1, 2, 2, 1},
    {"blocks 6x6 valid, 100",   1, 1, 13, 105, 1, 6, 6, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"blocks 5x5, bands of 64", 1, 1, 70, 64, 1, 5,  5, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0},
    {"blocks 5x5, dilated rows", 1, 1, 12, 40, 1, 5, 5, 1, 1, 1, 2, 1, 4, 4, 2, 2, 1},
    /* one output row per image at column stride 1: stretches of output columns (the last
     * one shorter), stretches whose first windows lie in a wide padding, and a row with
     * three kernel rows, two of them in the padding */
    {"one row, stretches",      1, 1, 1, 5000, 1, 1, 31, 1, 1, 1, 1, 1, 0, 0, 15, 15, 1},
    {"one row, K 4, stretches", 1, 2, 1, 4100, 4, 1, 11, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0},
    {"one row, wide padding",   1, 1, 1, 3000, 2, 1, 3, 1, 1, 1, 1, 1, 0, 0, 2500, 2500, 1},
    {"one row, R 3 padded",     1, 2, 1, 4000, 3, 3, 5, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

static cc_conv2d_geometry make_geometry(const conv_case *c)
{
    cc_conv2d_geometry g;
    memset(&g, 0, sizeof g);
    g.N = c->N; g.C = c->C; g.H = c->H; g.W = c->W;
    g.K = c->K; g.R = c->R; g.S = c->S; g.groups = c->groups;
    g.stride_h = c->sh; g.stride_w = c->sw; g.dil_h = c->dh; g.dil_w = c->dw;
    g.pad_top = c->pt; g.pad_left = c->pl;
    g.Hout = (c->H + c->pt + c->pb - c->dh * (c->R - 1) - 1) / c->sh + 1;
    g.Wout = (c->W + c->pl + c->pr - c->dw * (c->S - 1) - 1) / c->sw + 1;
    return g;
}

static ptrdiff_t x_size(const cc_conv2d_geometry *g) { return g->N * g->C * g->H * g->W; }
static ptrdiff_t w_size(const cc_conv2d_geometry *g)
{
    return g->K * (g->C / g->groups) * g->R * g->S;
}
static ptrdiff_t y_size(const cc_conv2d_geometry *g) { return g->N * g->K * g->Hout * g->Wout; }
static ptrdiff_t cols_size(const cc_conv2d_geometry *g)
{
    return g->N * g->C * g->R * g->S * g->Hout * g->Wout;
}

/* ---- naive references ----------------------------------------------------------- */

static void conv_ref(const cc_conv2d_geometry *g, const double *x, const double *w,
                     const double *bias, double *y)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    for (ptrdiff_t n = 0; n < g->N; n++)
        for (ptrdiff_t k = 0; k < g->K; k++)
            for (ptrdiff_t oh = 0; oh < g->Hout; oh++)
                for (ptrdiff_t ow = 0; ow < g->Wout; ow++) {
                    double acc = bias ? bias[k] : 0.0;
                    ptrdiff_t grp = k / Kg;
                    for (ptrdiff_t c = 0; c < Cg; c++)
                        for (ptrdiff_t r = 0; r < g->R; r++)
                            for (ptrdiff_t s = 0; s < g->S; s++) {
                                ptrdiff_t ih = oh * g->stride_h - g->pad_top + r * g->dil_h;
                                ptrdiff_t iw = ow * g->stride_w - g->pad_left + s * g->dil_w;
                                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                                    continue;
                                acc += x[((n * g->C + grp * Cg + c) * g->H + ih) * g->W + iw] *
                                       w[((k * Cg + c) * g->R + r) * g->S + s];
                            }
                    y[((n * g->K + k) * g->Hout + oh) * g->Wout + ow] = acc;
                }
}

/* Column matrices of the whole batch: (N, C*R*S, Hout*Wout), zeros for padding. */
static void im2col_ref(const cc_conv2d_geometry *g, const double *x, double *cols)
{
    const ptrdiff_t L = g->Hout * g->Wout, rows = g->C * g->R * g->S;
    for (ptrdiff_t n = 0; n < g->N; n++)
        for (ptrdiff_t row = 0; row < rows; row++) {
            ptrdiff_t c = row / (g->R * g->S), r = (row / g->S) % g->R, s = row % g->S;
            for (ptrdiff_t p = 0; p < L; p++) {
                ptrdiff_t ih = (p / g->Wout) * g->stride_h - g->pad_top + r * g->dil_h;
                ptrdiff_t iw = (p % g->Wout) * g->stride_w - g->pad_left + s * g->dil_w;
                int in = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W;
                cols[(n * rows + row) * L + p] =
                    in ? x[((n * g->C + c) * g->H + ih) * g->W + iw] : 0.0;
            }
        }
}

/* col2im of one image in T: every cell starts at 0 and takes its columns' values in the
 * order of the taps (row, then column, of the kernel), so a kernel that sums in that
 * order gives exactly these bits. */
#define DEFINE_COL2IM_REF(T, SFX)                                                        \
    static void col2im_ref_##SFX(const cc_conv2d_geometry *g, const T *cols, T *x)      \
    {                                                                                    \
        const ptrdiff_t L = g->Hout * g->Wout, rows = g->C * g->R * g->S;               \
        memset(x, 0, (size_t)(g->C * g->H * g->W) * sizeof *x);                          \
        for (ptrdiff_t row = 0; row < rows; row++) {                                     \
            ptrdiff_t c = row / (g->R * g->S), r = (row / g->S) % g->R, s = row % g->S;  \
            for (ptrdiff_t p = 0; p < L; p++) {                                          \
                ptrdiff_t ih = (p / g->Wout) * g->stride_h - g->pad_top + r * g->dil_h;  \
                ptrdiff_t iw = (p % g->Wout) * g->stride_w - g->pad_left + s * g->dil_w; \
                if (ih >= 0 && ih < g->H && iw >= 0 && iw < g->W)                        \
                    x[(c * g->H + ih) * g->W + iw] += cols[row * L + p];                 \
            }                                                                            \
        }                                                                                \
    }
DEFINE_COL2IM_REF(float, f32)
DEFINE_COL2IM_REF(double, f64)

#include "test_buffers.h"

DEFINE_BUFFERS(float, f32)
DEFINE_BUFFERS(double, f64)

/* ---- convolution checks --------------------------------------------------------- */

/* Direct and GEMM convolution of one case in one dtype against the reference. */
#define DEFINE_CONV_CHECK(T, SFX)                                                  \
    static void check_direct_##SFX(const conv_case *cs, const cc_conv2d_geometry *g,     \
                                   const double *x, const double *w, const double *b,    \
                                   const double *ref, int nt, const char *simd)          \
    {                                                                                    \
        T *xt = converted_##SFX(x, x_size(g)), *wt = converted_##SFX(w, w_size(g));      \
        T *bt = b ? converted_##SFX(b, g->K) : NULL;                                     \
        ptrdiff_t ny = y_size(g), npack = cc_conv2d_direct_pack_size_##SFX(g);           \
        T *y = nan_buffer_##SFX(ny), *wpack = nan_buffer_##SFX(npack);                   \
        cc_conv2d_direct_##SFX(g, xt, wt, bt, y, wpack, nt);                             \
        ptrdiff_t bad = first_mismatch_##SFX(y, ref, ny);                                \
        check(bad < 0, "direct %s [%s, %s, %d threads]: y[%td] = %g, expected %g",       \
              #SFX, cs->name, simd, nt, bad, bad < 0 ? 0.0 : (double)y[bad],             \
              bad < 0 ? 0.0 : ref[bad]);                                                 \
        check(guard_intact_##SFX(y, ny) && guard_intact_##SFX(wpack, npack),             \
              "direct %s [%s, %s, %d threads]: wrote past y or wpack", #SFX, cs->name,   \
              simd, nt);                                                                 \
        free(xt); free(wt); free(bt); free(y); free(wpack);                              \
    }                                                                                    \
    static void check_gemm_##SFX(const conv_case *cs, const cc_conv2d_geometry *g,       \
                                 const double *x, const double *w, const double *b,      \
                                 const double *ref, int nt, const char *simd)            \
    {                                                                                    \
        T *xt = converted_##SFX(x, x_size(g)), *wt = converted_##SFX(w, w_size(g));      \
        T *bt = b ? converted_##SFX(b, g->K) : NULL;                                     \
        cc_conv_geometry gn = cc_conv_geometry_from_2d(g);                                \
        ptrdiff_t ny = y_size(g), nws = nt * cc_gemm_workspace_per_thread(&gn);          \
        ptrdiff_t npack = cc_conv_im2col_pack_size(&gn);                                 \
        T *y = nan_buffer_##SFX(ny), *ws = nan_buffer_##SFX(nws);                        \
        T *wpack = nan_buffer_##SFX(npack);                                              \
        cc_conv_im2col_##SFX(&gn, xt, wt, bt, y, ws, wpack, nt);                         \
        ptrdiff_t bad = first_mismatch_##SFX(y, ref, ny);                                \
        check(bad < 0, "im2col %s [%s, %s, %d threads]: y[%td] = %g, expected %g", #SFX, \
              cs->name, simd, nt, bad, bad < 0 ? 0.0 : (double)y[bad],                   \
              bad < 0 ? 0.0 : ref[bad]);                                                 \
        check(guard_intact_##SFX(y, ny) && guard_intact_##SFX(ws, nws) &&                \
                  guard_intact_##SFX(wpack, npack),                                      \
              "im2col %s [%s, %s, %d threads]: wrote past y, the workspace or wpack",    \
              #SFX, cs->name, simd, nt);                                                 \
        free(xt); free(wt); free(bt); free(y); free(ws); free(wpack);                    \
    }
DEFINE_CONV_CHECK(float, f32)
DEFINE_CONV_CHECK(double, f64)

static const int THREADS[] = {1, 3};

static void check_convolutions(void)
{
    const char *simd = cc_simd_name(cc_simd_active());
    for (size_t i = 0; i < N_CASES; i++) {
        const conv_case *cs = &CASES[i];
        cc_conv2d_geometry g = make_geometry(cs);
        double *x = rand_array(x_size(&g)), *w = rand_array(w_size(&g));
        double *b = cs->bias ? rand_array(g.K) : NULL;
        double *ref = malloc((size_t)y_size(&g) * sizeof *ref);
        conv_ref(&g, x, w, b, ref);
        for (int t = 0; t < 2; t++) {
            check_direct_f32(cs, &g, x, w, b, ref, THREADS[t], simd);
            check_direct_f64(cs, &g, x, w, b, ref, THREADS[t], simd);
            check_gemm_f32(cs, &g, x, w, b, ref, THREADS[t], simd);
            check_gemm_f64(cs, &g, x, w, b, ref, THREADS[t], simd);
        }
        free(x); free(w); free(b); free(ref);
    }
}

/* ---- weight gradient in parts ----------------------------------------------------- */

/* cc_grad_weight_tile_range_f64 on every case at the active level: the parts' sums added
 * in order (read in the layout cc_grad_weight_by_channels gives) against grad_output times
 * the reference column matrices, in one part and in three, every part taken in windows
 * of one unit and in one window, on 1 and 3 threads. */
static void check_weight_gradients(void)
{
    const char *simd = cc_simd_name(cc_simd_active());
    for (size_t i = 0; i < N_CASES; i++) {
        const conv_case *cs = &CASES[i];
        cc_conv2d_geometry g2 = make_geometry(cs);
        cc_conv_geometry g = cc_conv_geometry_from_2d(&g2);
        const ptrdiff_t G = g2.groups, Kg = g2.K / G, rows = g2.C / G * g2.R * g2.S;
        const ptrdiff_t L = g2.Hout * g2.Wout, P = cc_grad_weight_columns(&g, 8);
        const ptrdiff_t units = g2.N * ((L + P - 1) / P);
        const int by_channels = cc_grad_weight_by_channels(&g, 8);
        const ptrdiff_t nws = cc_grad_weight_workspace_per_thread(&g, 8);
        double *x = rand_array(x_size(&g2)), *go = rand_array(y_size(&g2));
        double *cols = malloc((size_t)(g2.N * G * rows * L) * sizeof *cols);
        double *ref = calloc((size_t)(G * Kg * rows), sizeof *ref);
        im2col_ref(&g2, x, cols);
        for (ptrdiff_t n = 0; n < g2.N; n++)
            for (ptrdiff_t grp = 0; grp < G; grp++)
                for (ptrdiff_t k = 0; k < Kg; k++)
                    for (ptrdiff_t row = 0; row < rows; row++)
                        for (ptrdiff_t p = 0; p < L; p++)
                            ref[(grp * Kg + k) * rows + row] +=
                                go[(n * g2.K + grp * Kg + k) * L + p] *
                                cols[(n * G * rows + grp * rows + row) * L + p];
        double *first = NULL;
        for (int t = 0; t < 4; t++)
            for (int whole = 0; whole < 2; whole++) {
                /* one part of every unit, or three (some empty on short cases) */
                const int nt = THREADS[t % 2];
                const ptrdiff_t nparts = t < 2 ? 1 : 3, items = G * nparts;
                double *parts = nan_buffer_f64(items * Kg * rows);
                double *ws = nan_buffer_f64(nt * nws);
                for (ptrdiff_t k0 = 0; k0 < units; k0 += whole ? units : 1)
                    cc_grad_weight_tile_range_f64(&g, x, go, parts, ws, nparts, k0,
                                                  whole ? units : k0 + 1, 0, items, nt);
                double *gw = calloc((size_t)(G * Kg * rows), sizeof *gw);
                for (ptrdiff_t grp = 0; grp < G; grp++)
                    for (ptrdiff_t q = 0; q < nparts; q++) {
                        const double *part = parts + (grp * nparts + q) * Kg * rows;
                        for (ptrdiff_t k = 0; k < Kg; k++)
                            for (ptrdiff_t r = 0; r < rows; r++)
                                gw[(grp * Kg + k) * rows + r] +=
                                    by_channels ? part[k * rows + r] : part[r * Kg + k];
                    }
                ptrdiff_t bad = first_mismatch_f64(gw, ref, G * Kg * rows);
                check(bad < 0, "weight gradient [%s, %s, %d threads, %s]: gw[%td] = %g, "
                      "expected %g", cs->name, simd, nt,
                      whole ? "one window" : "windows of one unit", bad,
                      bad < 0 ? 0.0 : gw[bad], bad < 0 ? 0.0 : ref[bad]);
                check(guard_intact_f64(parts, items * Kg * rows) &&
                          guard_intact_f64(ws, nt * nws),
                      "weight gradient [%s, %s]: wrote past the parts or the workspace",
                      cs->name, simd);
                if (!first || t == 2) { /* the bits of 1 thread, one window per part count */
                    free(first);
                    first = gw;
                } else {
                    check(!memcmp(first, gw, (size_t)(G * Kg * rows) * sizeof *gw),
                          "weight gradient [%s, %d threads, %s]: other bits than 1 thread",
                          cs->name, nt, whole ? "one window" : "windows of one unit");
                    free(gw);
                }
                free(parts); free(ws);
            }
        free(first); free(x); free(go); free(cols); free(ref);
    }
}

/* ---- the tiled product (cc_matmul) ---------------------------------------------- */

typedef struct {
    ptrdiff_t batch, m, n, k;
    int a_rows, b_rows, shared_a, accumulate, bias; /* A, B by rows (else by columns) */
    /* shared_a: 1 one A for the batch, 2 also one row for all of A's rows (stride 0) */
} matmul_case;

/* Blocks of rows and columns with edges, a reduction longer than any level's slice (and
 * than CC_MATMUL_SLICE_MAX), k = 0, one A for the whole batch, both storage orders. */
static const matmul_case MATMUL_CASES[] = {
    {1, 1, 1, 1, 1, 1, 0, 0, 0},      {2, 97, 257, 130, 1, 1, 0, 1, 0},
    {1, 5, 300, 600, 1, 0, 0, 0, 1},  {1, 200, 33, 70, 0, 1, 0, 1, 0},
    {2, 100, 3, 0, 1, 1, 0, 1, 0},    {2, 100, 3, 0, 0, 0, 0, 0, 0},
    {2, 100, 3, 0, 0, 0, 0, 0, 1},    {3, 13, 40, 7, 0, 0, 1, 1, 0},
    {2, 300, 270, 40, 1, 1, 0, 0, 1}, {2, 40, 30, 9, 1, 1, 2, 0, 0},
};

#define DEFINE_CHECK_MATMUL(T, SFX)                                                      \
    static void check_matmul_##SFX(const matmul_case *mc, int nt)                        \
    {                                                                                    \
        cc_matmul p = {0};                                                               \
        p.batch = mc->batch, p.m = mc->m, p.n = mc->n, p.k = mc->k;                      \
        const ptrdiff_t k1 = mc->k > 0 ? mc->k : 1;                                      \
        p.a_rs = mc->shared_a == 2 ? 0 : mc->a_rows ? k1 + 3 : 1;                        \
        p.a_cs = mc->a_rows ? 1 : mc->m + 2;                                             \
        p.b_rs = mc->b_rows ? mc->n + 1 : 1;                                             \
        p.b_cs = mc->b_rows ? 1 : k1 + 2;                                                \
        const ptrdiff_t one_a = (mc->m - 1) * p.a_rs + (k1 - 1) * p.a_cs + 1;            \
        /* (a_rs 0 with A by rows: every row of A is the first) */                      \
        const ptrdiff_t one_b = (k1 - 1) * p.b_rs + (mc->n - 1) * p.b_cs + 1;            \
        p.a_bs = mc->shared_a ? 0 : one_a;                                               \
        p.b_bs = one_b;                                                                  \
        p.c_rs = mc->n + 5;                                                              \
        p.c_bs = p.c_rs * mc->m;                                                         \
        p.accumulate = mc->accumulate;                                                   \
        cc_matmul_plan(&p, nt);                                                          \
        const ptrdiff_t na = one_a + p.a_bs * (mc->batch - 1), nb = one_b * mc->batch;   \
        const ptrdiff_t nc = p.c_bs * mc->batch;                                         \
        double *ad = rand_array(na), *bd = rand_array(nb), *cd = rand_array(nc);         \
        double *biasd = rand_array(mc->n);                                               \
        T *a = converted_##SFX(ad, na), *b = converted_##SFX(bd, nb);                    \
        T *bias = mc->bias ? converted_##SFX(biasd, mc->n) : NULL;                       \
        T *c = nan_buffer_##SFX(nc);                                                     \
        double *ref = malloc((size_t)nc * sizeof *ref);                                  \
        for (ptrdiff_t i = 0; i < nc; i++) { /* C's row pads stay as they were */        \
            const int pad = i % p.c_rs >= mc->n;                                         \
            ref[i] = mc->accumulate || pad ? cd[i] : bias ? biasd[i % p.c_rs] : 0;       \
            c[i] = mc->accumulate || pad ? (T)cd[i] : (T)NAN;                            \
        }                                                                                \
        for (ptrdiff_t bt = 0; bt < mc->batch; bt++)                                     \
            for (ptrdiff_t i = 0; i < mc->m; i++)                                        \
                for (ptrdiff_t j = 0; j < mc->n; j++)                                    \
                    for (ptrdiff_t l = 0; l < mc->k; l++)                                \
                        ref[bt * p.c_bs + i * p.c_rs + j] +=                             \
                            ad[bt * p.a_bs + i * p.a_rs + l * p.a_cs] *                  \
                            bd[bt * p.b_bs + l * p.b_rs + j * p.b_cs];                   \
        const ptrdiff_t items = cc_matmul_items(&p), per = cc_matmul_workspace_per_thread(); \
        T *ws = nan_buffer_##SFX(nt * per);                                              \
        for (ptrdiff_t it0 = 0; it0 < items; it0 += 2) /* in chunks of two items */     \
            cc_matmul_range_##SFX(&p, a, b, bias, c, ws, it0, it0 + 2 < items ? it0 + 2 : items, \
                                  nt);                                                   \
        const ptrdiff_t bad = first_mismatch_##SFX(c, ref, nc);                          \
        check(bad < 0 && guard_intact_##SFX(c, nc) && guard_intact_##SFX(ws, nt * per),  \
              "matmul " #SFX " [%s, %td x %td x %td, batch %td, A by %s, B by %s, bias " \
              "%d, %d threads]: c[%td] = %g, expected %g, or wrote past c or the "       \
              "workspace", cc_simd_name(cc_simd_active()), mc->m, mc->n, mc->k,          \
              mc->batch, mc->a_rows ? "rows" : "columns",                                \
              mc->b_rows ? "rows" : "columns", mc->bias, nt, bad,                        \
              bad < 0 ? 0.0 : (double)c[bad], bad < 0 ? 0.0 : ref[bad]);                \
        free(ad); free(bd); free(cd); free(a); free(b); free(c); free(ref); free(ws);    \
        free(biasd); free(bias);                                                         \
    }
DEFINE_CHECK_MATMUL(float, f32)
DEFINE_CHECK_MATMUL(double, f64)

static void check_matmuls(void)
{
    for (size_t i = 0; i < sizeof MATMUL_CASES / sizeof *MATMUL_CASES; i++)
        for (int t = 0; t < 2; t++) {
            check_matmul_f32(&MATMUL_CASES[i], THREADS[t]);
            check_matmul_f64(&MATMUL_CASES[i], THREADS[t]);
        }
}

/* ---- im2col / col2im ------------------------------------------------------------ */

static void check_im2col(void)
{
    for (size_t i = 0; i < N_CASES; i++) {
        const conv_case *cs = &CASES[i];
        cc_conv2d_geometry g = make_geometry(cs);
        cc_conv_geometry gn = cc_conv_geometry_from_2d(&g);
        const ptrdiff_t nx = x_size(&g), nc = cols_size(&g);
        const ptrdiff_t rows = g.C * g.R * g.S, L = g.Hout * g.Wout;
        double *x = rand_array(nx), *ref = malloc((size_t)nc * sizeof *ref);
        im2col_ref(&g, x, ref);

        /* whole batch, both dtypes: a pure copy, so exact */
        for (int t = 0; t < 2; t++) {
            double *cols = nan_buffer_f64(nc);
            cc_im2col_batch_f64(&gn, x, cols, THREADS[t]);
            check(first_mismatch_f64(cols, ref, nc) < 0 && guard_intact_f64(cols, nc),
                  "im2col_batch f64 [%s, %d threads]", cs->name, THREADS[t]);
            float *xf = converted_f32(x, nx), *colsf = nan_buffer_f32(nc);
            cc_im2col_batch_f32(&gn, xf, colsf, THREADS[t]);
            check(first_mismatch_f32(colsf, ref, nc) < 0 && guard_intact_f32(colsf, nc),
                  "im2col_batch f32 [%s, %d threads]", cs->name, THREADS[t]);
            free(cols); free(xf); free(colsf);
        }

        /* a block [row0, row0 + nrows) x [p0, p0 + np) of the last image, stored densely */
        const ptrdiff_t row0 = rows / 3, nrows = rows - row0 - rows / 4;
        const ptrdiff_t p0 = L / 5, np = L - p0 - L / 3;
        const double *img = x + (g.N - 1) * g.C * g.H * g.W;
        double *block = nan_buffer_f64(nrows * np);
        cc_im2col_f64(&gn, img, row0, nrows, p0, np, block);
        int ok = guard_intact_f64(block, nrows * np);
        for (ptrdiff_t r = 0; r < nrows; r++)
            for (ptrdiff_t p = 0; p < np; p++)
                ok &= block[r * np + p] == ref[((g.N - 1) * rows + row0 + r) * L + p0 + p];
        check(ok, "im2col f64 block [%s]: rows %td+%td, columns %td+%td", cs->name, row0,
              nrows, p0, np);
        free(block);

        /* adjointness: <im2col(x), c> == <x, col2im(c)>, over the whole batch */
        double *c = rand_array(nc), *cols = malloc((size_t)nc * sizeof *cols);
        cc_im2col_batch_f64(&gn, x, cols, 1);
        for (int t = 0; t < 2; t++) {
            double *xt = nan_buffer_f64(nx); /* col2im overwrites: NaN must not survive */
            cc_col2im_batch_f64(&gn, c, xt, THREADS[t]);
            double lhs = 0, rhs = 0, mag = 0;
            for (ptrdiff_t j = 0; j < nc; j++) {
                lhs += cols[j] * c[j];
                mag += fabs(cols[j] * c[j]);
            }
            for (ptrdiff_t j = 0; j < nx; j++)
                rhs += x[j] * xt[j];
            check(fabs(lhs - rhs) <= 1e-12 * (1 + mag) && guard_intact_f64(xt, nx),
                  "col2im_batch f64 adjoint [%s, %d threads]: %.17g vs %.17g", cs->name,
                  THREADS[t], lhs, rhs);
            free(xt);
        }

        /* single-image col2im (f32) equals the batch version on the last image */
        const ptrdiff_t img_x = g.C * g.H * g.W, img_c = rows * L;
        double *batch = malloc((size_t)nx * sizeof *batch);
        cc_col2im_batch_f64(&gn, c, batch, 1);
        float *cf = converted_f32(c + (g.N - 1) * img_c, img_c), *xf = nan_buffer_f32(img_x);
        cc_col2im_f32(&gn, cf, xf);
        check(first_mismatch_f32(xf, batch + (g.N - 1) * img_x, img_x) < 0 &&
                  guard_intact_f32(xf, img_x),
              "col2im f32 one image [%s]", cs->name);

        /* both dtypes bit for bit against the reference's order of sums (NaN-poisoned
         * outputs: every cell is written) */
        double *want = malloc((size_t)img_x * sizeof *want);
        float *wantf = malloc((size_t)img_x * sizeof *wantf);
        col2im_ref_f64(&g, c + (g.N - 1) * img_c, want);
        col2im_ref_f32(&g, cf, wantf);
        int exact = memcmp(batch + (g.N - 1) * img_x, want, (size_t)img_x * sizeof *want) == 0;
        for (ptrdiff_t j = 0; j < img_x && exact; j++)
            exact = xf[j] == wantf[j];
        check(exact, "col2im exact in both dtypes [%s]", cs->name);
        free(x); free(ref); free(c); free(cols); free(batch); free(cf); free(xf); free(want);
        free(wantf);
    }
}

/* ---- SIMD levels ---------------------------------------------------------------- */

/* ---- the N-d driver on 3-D volumes (plan, row table, packing, items in chunks) ---- */

typedef struct {
    const char *name;
    ptrdiff_t N, C, K, groups, in[3], kernel[3], stride[3], dil[3], pad[3], pad_after[3];
} vol_case;

static const vol_case VOL_CASES[] = {
    {"3x3x3 pad 1", 2, 3, 7, 1, {4, 5, 19}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
    {"3x3x3 channel tiles", 1, 12, 20, 1, {4, 6, 17}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1},
     {1, 1, 1}, {1, 1, 1}},
    {"strided, dilated, groups", 1, 4, 6, 2, {7, 6, 23}, {2, 3, 2}, {2, 1, 2}, {1, 2, 1},
     {0, 2, 1}, {1, 0, 2}},
    {"1x1x1 many channels", 1, 5, 13, 1, {2, 3, 40}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1},
     {0, 0, 0}, {0, 0, 0}},
    {"1x1x1 rows of 64", 2, 3, 10, 1, {3, 4, 64}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1},
     {0, 0, 0}, {0, 0, 0}},
    {"1x1x1 bands in place, K 3", 2, 3, 3, 1, {3, 4, 64}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1},
     {0, 0, 0}, {0, 0, 0}},
    {"depthwise 3x3x3, rows of 40", 1, 2, 2, 2, {3, 4, 40}, {3, 3, 3}, {1, 1, 1},
     {1, 1, 1}, {1, 1, 1}, {1, 1, 1}},
};

static void conv3d_ref(const cc_conv_geometry *g, const double *x, const double *w,
                       double *y)
{
    const ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups;
    ptrdiff_t o[3], t[3];
    double *out = y;
    for (ptrdiff_t n = 0; n < g->N; n++)
        for (ptrdiff_t k = 0; k < g->K; k++)
            for (o[0] = 0; o[0] < g->out[0]; o[0]++)
                for (o[1] = 0; o[1] < g->out[1]; o[1]++)
                    for (o[2] = 0; o[2] < g->out[2]; o[2]++) {
                        double acc = 0;
                        for (ptrdiff_t c = 0; c < Cg; c++)
                            for (t[0] = 0; t[0] < g->kernel[0]; t[0]++)
                                for (t[1] = 0; t[1] < g->kernel[1]; t[1]++)
                                    for (t[2] = 0; t[2] < g->kernel[2]; t[2]++) {
                                        ptrdiff_t i[3], inside = 1;
                                        for (int d = 0; d < 3; d++) {
                                            i[d] = o[d] * g->stride[d] - g->pad[d] +
                                                   t[d] * g->dilation[d];
                                            inside &= i[d] >= 0 && i[d] < g->in[d];
                                        }
                                        if (!inside)
                                            continue;
                                        ptrdiff_t xc = n * g->C + (k / Kg) * Cg + c;
                                        acc += x[((xc * g->in[0] + i[0]) * g->in[1] + i[1]) *
                                                     g->in[2] + i[2]] *
                                               w[(((k * Cg + c) * g->kernel[0] + t[0]) *
                                                      g->kernel[1] + t[1]) * g->kernel[2] + t[2]];
                                    }
                        *out++ = acc;
                    }
}

/* The direct route on g in float32, its items in uneven chunks on 2 threads (every
 * output written exactly once), exactly against ref; returns the plan's items. */
static ptrdiff_t check_direct_in_chunks(const cc_conv_geometry *g, const float *xf,
                                        const float *wf, const double *ref, ptrdiff_t ny,
                                        const char *what, const char *name, const char *simd)
{
    cc_conv_direct_plan plan;
    cc_conv_direct_plan_make(g, (int)sizeof(float), &plan);
    ptrdiff_t *rows = malloc((size_t)(2 * plan.rows_size) * sizeof *rows);
    float *wpack = nan_buffer_f32(plan.pack_size), *y = nan_buffer_f32(ny);
    cc_conv_direct_pack_f32(g, &plan, wf, wpack, 2);
    for (ptrdiff_t lo = 0, step = 1; lo < plan.items; lo += step, step += 2)
        cc_conv_direct_run_f32(g, &plan, xf, wpack, rows, NULL, y, lo, lo + step, 2);
    ptrdiff_t bad = first_mismatch_f32(y, ref, ny);
    check(bad < 0, "direct %s f32 [%s, %s]: y[%td] = %g, expected %g", what, name, simd, bad,
          bad < 0 ? 0.0 : (double)y[bad], bad < 0 ? 0.0 : ref[bad]);
    check(guard_intact_f32(y, ny) && guard_intact_f32(wpack, plan.pack_size),
          "direct %s f32 [%s, %s]: wrote past y or wpack", what, name, simd);
    free(rows); free(wpack); free(y);
    return plan.items;
}

static void check_volumes(void)
{
    const char *simd = cc_simd_name(cc_simd_active());
    for (size_t i = 0; i < sizeof VOL_CASES / sizeof VOL_CASES[0]; i++) {
        const vol_case *vc = &VOL_CASES[i];
        cc_conv_geometry g;
        memset(&g, 0, sizeof g);
        g.nd = 3; g.N = vc->N; g.C = vc->C; g.K = vc->K; g.groups = vc->groups;
        ptrdiff_t nx = g.N * g.C, nw = g.K * (g.C / g.groups), ny = g.N * g.K;
        for (int d = 0; d < 3; d++) {
            g.in[d] = vc->in[d]; g.kernel[d] = vc->kernel[d]; g.stride[d] = vc->stride[d];
            g.dilation[d] = vc->dil[d]; g.pad[d] = vc->pad[d];
            g.out[d] = (vc->in[d] + vc->pad[d] + vc->pad_after[d] -
                        vc->dil[d] * (vc->kernel[d] - 1) - 1) / vc->stride[d] + 1;
            nx *= g.in[d]; nw *= g.kernel[d]; ny *= g.out[d];
        }
        double *x = rand_array(nx), *w = rand_array(nw), *ref = malloc((size_t)ny * sizeof *ref);
        conv3d_ref(&g, x, w, ref);
        float *xf = converted_f32(x, nx), *wf = converted_f32(w, nw);
        check_direct_in_chunks(&g, xf, wf, ref, ny, "3-D", vc->name, simd);
        /* the im2col + GEMM route on the same volume: N-d column tiles, 2 threads */
        const ptrdiff_t items = cc_gemm_work_items(&g), workers = items < 2 ? items : 2;
        const ptrdiff_t nws = workers * cc_gemm_workspace_per_thread(&g);
        const ptrdiff_t ngp = cc_conv_im2col_pack_size(&g);
        float *ws = nan_buffer_f32(nws), *yg = nan_buffer_f32(ny), *gp = nan_buffer_f32(ngp);
        cc_conv_im2col_f32(&g, xf, wf, NULL, yg, ws, gp, (int)workers);
        const ptrdiff_t bad = first_mismatch_f32(yg, ref, ny);
        check(bad < 0, "im2col 3-D f32 [%s, %s]: y[%td] = %g, expected %g", vc->name, simd,
              bad, bad < 0 ? 0.0 : (double)yg[bad], bad < 0 ? 0.0 : ref[bad]);
        check(guard_intact_f32(yg, ny) && guard_intact_f32(ws, nws) &&
                  guard_intact_f32(gp, ngp),
              "im2col 3-D f32 [%s, %s]: wrote past y, the workspace or wpack", vc->name, simd);
        free(x); free(w); free(ref); free(xf); free(wf); free(ws); free(yg); free(gp);
    }
}

/* The active level's stride-2 split (cc_split2_fn) against the definition, both dtypes:
 * every n up to a few vectors past the widest, from odd offsets of exactly 2n elements
 * (the sanitizer build catches a read past them), nothing written past n (the element
 * after each phase keeps its guard, a value no source element has). */
static void check_split2(void)
{
    const cc_direct_isa *isa = cc_isa_active()->direct;
    const char *simd = cc_simd_name(cc_simd_active());
    enum { MOST = 70 };
    float ev_f[MOST + 2], od_f[MOST + 2];
    double ev_d[MOST + 2], od_d[MOST + 2];
    for (ptrdiff_t n = 0; n <= MOST; n++) {
        float *src_f = malloc((size_t)(2 * n + 1) * sizeof *src_f);
        double *src_d = malloc((size_t)(2 * n + 1) * sizeof *src_d);
        for (ptrdiff_t i = 0; i < 2 * n + 1; i++)
            src_f[i] = (float)(src_d[i] = 1000.0 + 0.5 * (double)i);
        for (int i = 0; i < MOST + 2; i++) {
            ev_f[i] = od_f[i] = -1.0f;
            ev_d[i] = od_d[i] = -1.0;
        }
        isa->split2.f32(ev_f + 1, od_f + 1, src_f + 1, n);
        isa->split2.f64(ev_d + 1, od_d + 1, src_d + 1, n);
        int ok = 1;
        for (ptrdiff_t i = 0; i < MOST + 2; i++) {
            const int in = i >= 1 && i <= n;
            ok &= ev_f[i] == (in ? src_f[2 * i - 1] : -1.0f);
            ok &= od_f[i] == (in ? src_f[2 * i] : -1.0f);
            ok &= ev_d[i] == (in ? src_d[2 * i - 1] : -1.0);
            ok &= od_d[i] == (in ? src_d[2 * i] : -1.0);
        }
        check(ok, "split2 [%s], n = %td: wrong phases or a write past them", simd, n);
        free(src_f);
        free(src_d);
    }
}

/* Long single rows cut into stretches of output columns: C API 1-D geometries at
 * strides 1 and 2 (they run on the row as it is, so both are cut), stretches whose first
 * windows lie in a wide padding, and a 3-D layer of one row; exact against the
 * reference, the items in uneven chunks on 2 threads. */
typedef struct {
    const char *name;
    int nd;
    ptrdiff_t C, K, W, S, stride, dil, pad, pad_after;
} row_case;

static const row_case ROW_CASES[] = {
    {"1-D stride 1", 1, 2, 3, 5000, 9, 1, 1, 4, 4},
    {"1-D stride 2", 1, 2, 3, 9001, 7, 2, 1, 3, 3},
    {"1-D wide padding", 1, 1, 2, 3000, 3, 1, 1, 2500, 2500},
    {"3-D one row, dilation 2", 3, 2, 4, 4100, 11, 1, 2, 10, 10},
};

static void check_long_rows(void)
{
    const char *simd = cc_simd_name(cc_simd_active());
    for (size_t i = 0; i < sizeof ROW_CASES / sizeof ROW_CASES[0]; i++) {
        const row_case *rc = &ROW_CASES[i];
        cc_conv_geometry g;
        memset(&g, 0, sizeof g);
        g.nd = rc->nd; g.N = 1; g.C = rc->C; g.K = rc->K; g.groups = 1;
        for (int d = 0; d < 3; d++)
            g.in[d] = g.kernel[d] = g.out[d] = g.stride[d] = g.dilation[d] = 1;
        const int d = rc->nd - 1; /* the row's dimension */
        g.in[d] = rc->W; g.kernel[d] = rc->S; g.stride[d] = rc->stride;
        g.dilation[d] = rc->dil; g.pad[d] = rc->pad;
        g.out[d] = (rc->W + rc->pad + rc->pad_after - rc->dil * (rc->S - 1) - 1) / rc->stride + 1;
        const ptrdiff_t nx = g.C * rc->W, nw = g.K * g.C * rc->S, ny = g.K * g.out[d];
        double *x = rand_array(nx), *w = rand_array(nw), *ref = malloc((size_t)ny * sizeof *ref);
        conv3d_ref(&g, x, w, ref);
        float *xf = converted_f32(x, nx), *wf = converted_f32(w, nw);
        const ptrdiff_t items = check_direct_in_chunks(&g, xf, wf, ref, ny, "long row",
                                                       rc->name, simd);
        check(items >= 2, "direct long row [%s, %s]: %td items, not cut", rc->name, simd,
              items);
        free(x); free(w); free(ref); free(xf); free(wf);
    }
}

/* The affinity schedule (cc_omp.h): every item once, whatever the team; each thread's
 * first items are its own contiguous share, cut at whole runs; a thread whose share is
 * done takes the others' items. */
static void check_shares(void)
{
    static const ptrdiff_t cases[][3] = {{0, 0, 1}, {0, 1, 1}, {3, 40, 1}, {0, 37, 4},
                                         {5, 6, 3}, {0, 1000, 7}, {2, 130, 64}, {5, 5005, 7},
                                         {13, 2000, 16}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const ptrdiff_t lo = cases[c][0], hi = cases[c][1], run = cases[c][2];
        for (int n = 1; n <= 70; n += n < 4 ? 1 : 33) {
            /* takers: all n threads in turn, or a team of one that takes every share */
            for (int takers = 1; takers <= n; takers += n > 1 ? n - 1 : 1) {
                cc_shares s;
                cc_shares_init(&s, n, lo, hi, run);
                int *seen = calloc((size_t)(hi - lo + 1), sizeof *seen);
                int ok = 1, first_ok = s.n == n && s.share[0].next == lo;
                /* shares in order, covering [lo, hi), cut at multiples of run with at
                 * least 4 runs a share (else at items), each within a cut of its part */
                const ptrdiff_t cut = (hi - lo) / run >= 4 * (ptrdiff_t)n ? run : 1;
                for (int t = 0; t < s.n; t++) {
                    const ptrdiff_t b = s.share[t].end, size = b - s.share[t].next;
                    first_ok &= s.share[t].next <= b &&
                                b == (t + 1 < s.n ? s.share[t + 1].next : hi) &&
                                (b % cut == 0 || b == hi) &&
                                llabs((long long)(size - (hi - lo) / n)) <= 2 * cut;
                }
                ptrdiff_t got = 0;
                for (int t = 0; t < takers; t++) { /* each thread's first item: its own */
                    const int sh = t % s.n;
                    const ptrdiff_t want = s.share[sh].next < s.share[sh].end
                                               ? s.share[sh].next : -2;
                    const ptrdiff_t it = cc_shares_take(&s, t);
                    if (want != -2 && it != want)
                        first_ok = 0;
                    if (it >= 0) {
                        ok &= it >= lo && it < hi && !seen[it - lo];
                        if (it >= lo && it < hi)
                            seen[it - lo]++;
                        got++;
                    }
                }
                for (ptrdiff_t it; (it = cc_shares_take(&s, takers - 1)) >= 0; got++) {
                    ok &= it >= lo && it < hi && !seen[it - lo];
                    if (it >= lo && it < hi)
                        seen[it - lo]++;
                }
                check(ok && got == hi - lo && first_ok && cc_shares_take(&s, 0) == -1,
                      "cc_shares [%td, %td) runs of %td, %d shares, %d takers: %td items "
                      "taken, each once %d, own share first %d",
                      lo, hi, run, n, takers, got, ok, first_ok);
                cc_shares_free(&s);
                free(seen);
            }
        }
    }
#ifdef _OPENMP
    /* a real team: every item once */
    enum { ITEMS = 5000 };
    static int hits[ITEMS];
    memset(hits, 0, sizeof hits);
    cc_shares s;
    cc_shares_init(&s, 4, 0, ITEMS, 3);
#pragma omp parallel num_threads(4)
    {
        const int tid = CC_OMP_THREAD_ID();
        for (ptrdiff_t it; (it = cc_shares_take(&s, tid)) >= 0;) {
#pragma omp atomic
            hits[it]++;
        }
    }
    int once = 1;
    for (int i = 0; i < ITEMS; i++)
        once &= hits[i] == 1;
    check(once, "cc_shares in a team of 4: every item once");
    cc_shares_free(&s);
#endif
}

/* The driver called by every thread of the caller's own OpenMP team, one thread per call
 * (a 1-D layer: its items read the row table): each call reads and writes only the first
 * row table of the rows it is given, whatever the caller's thread number (a sentinel
 * past it stays), and computes the right result. */
static void check_inside_a_team(void)
{
#ifdef _OPENMP
    cc_conv_geometry g;
    memset(&g, 0, sizeof g);
    g.nd = 1; g.N = 2; g.C = 3; g.K = 5; g.groups = 1;
    for (int d = 0; d < 3; d++)
        g.in[d] = g.kernel[d] = g.out[d] = g.stride[d] = g.dilation[d] = 1;
    g.in[0] = 37; g.kernel[0] = 3; g.pad[0] = 1; g.out[0] = 37;
    const ptrdiff_t nx = g.N * g.C * g.in[0], nw = g.K * g.C * 3, ny = g.N * g.K * g.out[0];
    double *x = rand_array(nx), *w = rand_array(nw), *ref = malloc((size_t)ny * sizeof *ref);
    conv3d_ref(&g, x, w, ref);
    float *xf = converted_f32(x, nx), *wf = converted_f32(w, nw);
    int bad[4] = {0, 0, 0, 0};
#pragma omp parallel num_threads(4)
    {
        cc_conv_direct_plan plan;
        cc_conv_direct_plan_make(&g, (int)sizeof(float), &plan);
        const ptrdiff_t spare = 3 * plan.rows_size; /* the tables of 3 more threads */
        ptrdiff_t *rows = malloc((size_t)(plan.rows_size + spare) * sizeof *rows);
        for (ptrdiff_t i = plan.rows_size; i < plan.rows_size + spare; i++)
            rows[i] = -7;
        float *wpack = nan_buffer_f32(plan.pack_size), *y = nan_buffer_f32(ny);
        cc_conv_direct_pack_f32(&g, &plan, wf, wpack, 1);
        cc_conv_direct_run_f32(&g, &plan, xf, wpack, rows, NULL, y, 0, plan.items, 1);
        int ok = first_mismatch_f32(y, ref, ny) < 0 && guard_intact_f32(y, ny);
        for (ptrdiff_t i = plan.rows_size; i < plan.rows_size + spare; i++)
            ok &= rows[i] == -7;
        bad[omp_get_thread_num()] = !ok;
        free(rows); free(wpack); free(y);
    }
    for (int t = 0; t < 4; t++)
        check(!bad[t], "direct 1-D f32 called by thread %d of the caller's team: wrong result "
              "or a row table past the first written", t);
    free(x); free(w); free(ref); free(xf); free(wf);
#endif
}

int main(void)
{
    const cc_simd_level detected = cc_simd_detect();
#ifdef _OPENMP
    const int want_openmp = 1;
#else
    const int want_openmp = 0;
#endif
    printf("convcore C kernels: CPU %s, OpenMP %s (max threads %d)\n",
           cc_simd_name(detected), cc_openmp_enabled() ? "yes" : "no",
           cc_openmp_max_threads());
    check(cc_openmp_enabled() == want_openmp, "cc_openmp_enabled() = %d, built with %d",
          cc_openmp_enabled(), want_openmp);
    check(cc_openmp_max_threads() >= 1, "cc_openmp_max_threads() = %d",
          cc_openmp_max_threads());
    check(cc_simd_active() == detected, "default SIMD level %s, detected %s",
          cc_simd_name(cc_simd_active()), cc_simd_name(detected));
    /* the table of ISAs: x86-64 builds have the three levels, others the portable one */
#if defined(__x86_64__) || defined(__i386__)
    check(cc_simd_count() == 3 && !strcmp(cc_simd_name(CC_SIMD_GENERIC), "generic") &&
              !strcmp(cc_simd_name(CC_SIMD_AVX2), "avx2") &&
              !strcmp(cc_simd_name(CC_SIMD_AVX512), "avx512"),
          "cc_simd_count, cc_simd_name");
#else
    check(cc_simd_count() == 1 && !strcmp(cc_simd_name(CC_SIMD_GENERIC), "generic"),
          "cc_simd_count, cc_simd_name");
#endif
    check(!strcmp(cc_simd_name((cc_simd_level)cc_simd_count()), "unknown") &&
              (int)detected < cc_simd_count(),
          "cc_simd_name past the table, detected level %d", (int)detected);
    /* out-of-range levels are clamped, never read past the table */
    check(!strcmp(cc_simd_name((cc_simd_level)-1), "unknown") &&
              cc_isa_at((cc_simd_level)-1) == cc_isa_at(CC_SIMD_GENERIC) &&
              cc_isa_at((cc_simd_level)(cc_simd_count() + 5)) ==
                  cc_isa_at((cc_simd_level)(cc_simd_count() - 1)),
          "cc_simd_name and cc_isa_at out of range");
    cc_simd_force((cc_simd_level)-3);
    check(cc_simd_active() == CC_SIMD_GENERIC, "force -3: active %s",
          cc_simd_name(cc_simd_active()));
    cc_simd_force((cc_simd_level)(cc_simd_count() + 5));
    check(cc_simd_active() == detected, "force past the table: active %s",
          cc_simd_name(cc_simd_active()));

    /* every level of the table; those above the CPU's are clamped to it */
    for (int i = 0; i < cc_simd_count(); i++) {
        const cc_simd_level level = (cc_simd_level)i;
        cc_simd_force(level);
        const cc_simd_level want = level < detected ? level : detected;
        check(cc_simd_active() == want, "force %s: active %s, expected %s",
              cc_simd_name(level), cc_simd_name(cc_simd_active()), cc_simd_name(want));
        printf("  direct kernels at %s\n", cc_simd_name(cc_simd_active()));
        check_convolutions();
        check(CC_GEMM_PANEL_MAX % cc_direct_gemm_width(4) == 0 &&
                  CC_GEMM_PANEL_MAX % cc_direct_gemm_width(8) == 0 &&
                  cc_direct_gemm_tile()->kb <= CC_GEMM_ROWS_MAX,
              "GEMM tile %d rows, widths %td and %td: more rows than CC_GEMM_ROWS_MAX or "
              "widths not dividing CC_GEMM_PANEL_MAX, which size the im2col buffers",
              cc_direct_gemm_tile()->kb, cc_direct_gemm_width(4), cc_direct_gemm_width(8));
        check_weight_gradients();
        check_matmuls();
        check_volumes();
        check_long_rows();
        check_im2col();
        check_split2();
    }
    cc_simd_force(detected);
    check_inside_a_team();
    check_shares();

    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
