/* Fuzz target for the convcore C library: every kernel against a naive reference.
 *
 * The input bytes choose a kernel (direct and im2col + GEMM convolution, im2col, col2im,
 * the CSR matrix, max / avg pooling forward and backward, NCHW and channels-last,
 * adaptive pooling, the tiled product cc_matmul), a SIMD level, a thread count, a geometry (the
 * validity rules of the Python layer applied: groups divide the channels, outputs of at
 * least one pixel, pooling padding at most half the window) and a seed for the data.
 * Data are multiples of 1/16 in [-8, 8) with, when the input asks, NaN and +-inf mixed
 * in: every sum is then exact in float and double whatever its order, so outputs are
 * compared with the reference for equality (NaN matching NaN).  The harness also checks
 * that inputs are left untouched, that every output cell is written (outputs start as a
 * signalling pattern) and, without AddressSanitizer, that guard cells after each buffer
 * survive.  With AddressSanitizer every buffer is allocated at its exact size.
 *
 *   libFuzzer:  LLVMFuzzerTestOneInput (make -C csrc fuzz; scripts/fuzz.sh)
 *   replay:     built with -DCC_FUZZ_MAIN, `fuzz_replay FILE|DIR ...` runs saved inputs,
 *               `fuzz_replay --random N [SEED]` runs N pseudo-random inputs
 *               (make -C csrc fuzz-replay; the test suite runs it).
 *
 * A mismatch prints the case and aborts, so libFuzzer saves the input as a crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convcore.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CC_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CC_FUZZ_ASAN 1
#endif
#ifdef CC_FUZZ_ASAN
#define GUARD 0 /* exact sizes: AddressSanitizer reports the first byte past the end */
#else
#define GUARD 16
#endif

/* ---- reading the input ---------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned next_byte(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

/* A value in [lo, hi] from one byte. */
static ptrdiff_t pick(reader *r, ptrdiff_t lo, ptrdiff_t hi)
{
    return lo + (ptrdiff_t)(next_byte(r) % (unsigned)(hi - lo + 1));
}

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The data seed: a hash of the rest of the input, so short inputs still fill arrays. */
static int family;       /* the target family of the current input */
static long executed[9]; /* inputs that reached a kernel, per family */

static void seed_from(reader *r)
{
    executed[family]++; /* every target seeds its data once its geometry is valid */
    uint64_t h = 1469598103934665603ull;
    while (r->n)
        h = (h ^ next_byte(r)) * 1099511628211ull;
    rng_state = h | 1;
}

/* ---- buffers -------------------------------------------------------------------- */

static int specials; /* per mille of NaN / inf values in the inputs */

static double rand_value(void)
{
    uint64_t v = rng_next();
    if (specials && (int)(v % 1000) < specials) {
        switch ((v >> 10) % 3) {
        case 0: return NAN;
        case 1: return INFINITY;
        default: return -INFINITY;
        }
    }
    return (double)((int)((v >> 16) % 256) - 128) / 16.0;
}

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "convcore fuzz: %s: %s\n", what, detail);
    abort();
}

#define DEFINE_BUFFERS(T, SFX)                                                           \
    static T *input_##SFX(ptrdiff_t n)                                                   \
    {                                                                                    \
        T *a = malloc((size_t)(n + GUARD > 0 ? n + GUARD : 1) * sizeof *a);              \
        for (ptrdiff_t i = 0; i < n + GUARD; i++)                                        \
            a[i] = (T)rand_value();                                                      \
        return a;                                                                        \
    }                                                                                    \
    /* An output: every cell and the guard set to a value no kernel produces here. */   \
    static T *output_##SFX(ptrdiff_t n)                                                  \
    {                                                                                    \
        T *a = malloc((size_t)(n + GUARD > 0 ? n + GUARD : 1) * sizeof *a);              \
        for (ptrdiff_t i = 0; i < n + GUARD; i++)                                        \
            a[i] = (T)1e30;                                                              \
        return a;                                                                        \
    }                                                                                    \
    static T *copy_##SFX(const T *a, ptrdiff_t n)                                        \
    {                                                                                    \
        T *c = malloc((size_t)(n + GUARD > 0 ? n + GUARD : 1) * sizeof *c);              \
        memcpy(c, a, (size_t)(n + GUARD) * sizeof *c);                                   \
        return c;                                                                        \
    }                                                                                    \
    static int same_##SFX(T a, T b) { return a == b || (a != a && b != b); }             \
    /* The first index where got and ref differ, or -1; then the guard cells. */         \
    static void expect_equal_##SFX(const char *what, const T *got, const T *ref,         \
                                   ptrdiff_t n)                                          \
    {                                                                                    \
        char msg[160];                                                                   \
        for (ptrdiff_t i = 0; i < n; i++)                                                \
            if (!same_##SFX(got[i], ref[i])) {                                           \
                snprintf(msg, sizeof msg, "[%td] = %.17g, expected %.17g", i,             \
                         (double)got[i], (double)ref[i]);                                \
                fail(what, msg);                                                         \
            }                                                                            \
        for (ptrdiff_t i = n; i < n + GUARD; i++)                                        \
            if (got[i] != (T)1e30)                                                       \
                fail(what, "wrote past the end of its output");                          \
    }                                                                                    \
    static void expect_untouched_##SFX(const char *what, const T *a, const T *copy,      \
                                       ptrdiff_t n)                                      \
    {                                                                                    \
        if (memcmp(a, copy, (size_t)(n + GUARD) * sizeof *a))                            \
            fail(what, "modified an input");                                             \
    }
DEFINE_BUFFERS(float, f32)
DEFINE_BUFFERS(double, f64)

static int64_t *index_output(ptrdiff_t n)
{
    int64_t *a = malloc((size_t)(n + GUARD > 0 ? n + GUARD : 1) * sizeof *a);
    for (ptrdiff_t i = 0; i < n + GUARD; i++)
        a[i] = INT64_MIN;
    return a;
}

static void expect_equal_i64(const char *what, const int64_t *got, const int64_t *ref,
                             ptrdiff_t n)
{
    char msg[120];
    for (ptrdiff_t i = 0; i < n; i++)
        if (got[i] != ref[i]) {
            snprintf(msg, sizeof msg, "[%td] = %lld, expected %lld", i, (long long)got[i],
                     (long long)ref[i]);
            fail(what, msg);
        }
    for (ptrdiff_t i = n; i < n + GUARD; i++)
        if (got[i] != INT64_MIN)
            fail(what, "wrote past the end of its output");
}

/* ---- convolution geometry ------------------------------------------------------- */

/* floor((n + pads - d*(k-1) - 1) / s) + 1, or with ceil_mode pooling's rule; <= 0 when
 * the window does not fit (the Python layer refuses that). */
static ptrdiff_t out_length(ptrdiff_t n, ptrdiff_t k, ptrdiff_t s, ptrdiff_t before,
                            ptrdiff_t after, ptrdiff_t d, int ceil_mode)
{
    ptrdiff_t span = n + before + after - d * (k - 1) - 1;
    if (span < 0)
        return 0;
    if (!ceil_mode)
        return span / s + 1;
    ptrdiff_t out = (span + s - 1) / s + 1;
    if ((out - 1) * s >= n + before)
        out--;
    return out;
}

/* A convolution geometry from the input, or 0 when it is one Python would refuse. */
static int conv_geometry(reader *r, cc_conv2d_geometry *g)
{
    g->pad_mode = CC_PAD_ZEROS;
    g->groups = pick(r, 1, 3);
    g->C = g->groups * pick(r, 1, 3);
    g->K = g->groups * pick(r, 1, 4);
    g->N = pick(r, 1, 2);
    g->R = pick(r, 1, 5);
    g->S = pick(r, 1, 6);
    g->H = pick(r, 1, 12);
    g->W = pick(r, 1, 40);
    g->stride_h = pick(r, 1, 4);
    g->stride_w = pick(r, 1, 4);
    g->dil_h = pick(r, 1, 3);
    g->dil_w = pick(r, 1, 3);
    g->pad_top = pick(r, 0, 4);
    g->pad_left = pick(r, 0, 4);
    ptrdiff_t pb = pick(r, 0, 4), pr = pick(r, 0, 4);
    g->Hout = out_length(g->H, g->R, g->stride_h, g->pad_top, pb, g->dil_h, 0);
    g->Wout = out_length(g->W, g->S, g->stride_w, g->pad_left, pr, g->dil_w, 0);
    return g->Hout >= 1 && g->Wout >= 1;
}

static ptrdiff_t x_size(const cc_conv2d_geometry *g) { return g->N * g->C * g->H * g->W; }
static ptrdiff_t w_size(const cc_conv2d_geometry *g)
{
    return g->K * (g->C / g->groups) * g->R * g->S;
}
static ptrdiff_t y_size(const cc_conv2d_geometry *g) { return g->N * g->K * g->Hout * g->Wout; }

static void describe(const cc_conv2d_geometry *g, char *buf, size_t n)
{
    snprintf(buf, n,
             "N=%td C=%td H=%td W=%td K=%td R=%td S=%td groups=%td stride=(%td,%td) "
             "dilation=(%td,%td) pad=(%td,%td) out=(%td,%td)",
             g->N, g->C, g->H, g->W, g->K, g->R, g->S, g->groups, g->stride_h, g->stride_w,
             g->dil_h, g->dil_w, g->pad_top, g->pad_left, g->Hout, g->Wout);
}

/* ---- naive references (double; padding is a real zero input: 0 * inf = nan) ---- */

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
                                int in = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W;
                                double v = in ? x[((n * g->C + grp * Cg + c) * g->H + ih) *
                                                  g->W + iw] : 0.0;
                                acc += v * w[((k * Cg + c) * g->R + r) * g->S + s];
                            }
                    y[((n * g->K + k) * g->Hout + oh) * g->Wout + ow] = acc;
                }
}

static double cols_ref_at(const cc_conv2d_geometry *g, const double *x_image, ptrdiff_t row,
                          ptrdiff_t p)
{
    ptrdiff_t c = row / (g->R * g->S), r = (row / g->S) % g->R, s = row % g->S;
    ptrdiff_t ih = (p / g->Wout) * g->stride_h - g->pad_top + r * g->dil_h;
    ptrdiff_t iw = (p % g->Wout) * g->stride_w - g->pad_left + s * g->dil_w;
    int in = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W;
    return in ? x_image[(c * g->H + ih) * g->W + iw] : 0.0;
}

static void col2im_ref(const cc_conv2d_geometry *g, const double *cols, double *x)
{
    const ptrdiff_t rows = g->C * g->R * g->S, L = g->Hout * g->Wout;
    for (ptrdiff_t i = 0; i < x_size(g); i++)
        x[i] = 0.0;
    for (ptrdiff_t n = 0; n < g->N; n++)
        for (ptrdiff_t row = 0; row < rows; row++) {
            ptrdiff_t c = row / (g->R * g->S), r = (row / g->S) % g->R, s = row % g->S;
            for (ptrdiff_t p = 0; p < L; p++) {
                ptrdiff_t ih = (p / g->Wout) * g->stride_h - g->pad_top + r * g->dil_h;
                ptrdiff_t iw = (p % g->Wout) * g->stride_w - g->pad_left + s * g->dil_w;
                if (ih >= 0 && ih < g->H && iw >= 0 && iw < g->W)
                    x[((n * g->C + c) * g->H + ih) * g->W + iw] += cols[(n * rows + row) * L + p];
            }
        }
}


/* ---- convolution targets -------------------------------------------------------- */

#define DEFINE_CONV_TARGETS(T, SFX)                                                \
    static void fuzz_conv_##SFX(reader *r, int n_threads, int gemm)                      \
    {                                                                                    \
        cc_conv2d_geometry g;                                                            \
        int with_bias = (int)pick(r, 0, 1);                                              \
        if (!conv_geometry(r, &g))                                                       \
            return;                                                                      \
        seed_from(r);                                                                    \
        const ptrdiff_t nx = x_size(&g), nw = w_size(&g), ny = y_size(&g);               \
        T *x = input_##SFX(nx), *w = input_##SFX(nw);                                    \
        T *b = with_bias ? input_##SFX(g.K) : NULL;                                      \
        T *x0 = copy_##SFX(x, nx), *w0 = copy_##SFX(w, nw);                              \
        T *b0 = b ? copy_##SFX(b, g.K) : NULL;                                           \
        double *xd = malloc((size_t)nx * sizeof *xd), *wd = malloc((size_t)nw * sizeof *wd); \
        double *bd = b ? malloc((size_t)g.K * sizeof *bd) : NULL;                        \
        double *refd = malloc((size_t)ny * sizeof *refd);                                \
        for (ptrdiff_t i = 0; i < nx; i++) xd[i] = x[i];                                 \
        for (ptrdiff_t i = 0; i < nw; i++) wd[i] = w[i];                                 \
        for (ptrdiff_t i = 0; b && i < g.K; i++) bd[i] = b[i];                           \
        conv_ref(&g, xd, wd, bd, refd);                                                  \
        T *ref = malloc((size_t)(ny > 0 ? ny : 1) * sizeof *ref);                        \
        for (ptrdiff_t i = 0; i < ny; i++) ref[i] = (T)refd[i];                          \
        T *y = output_##SFX(ny);                                                         \
        char what[400];                                                                  \
        describe(&g, what, sizeof what);                                                 \
        cc_conv_geometry gn = cc_conv_geometry_from_2d(&g);                              \
        if (gemm) {                                                                      \
            ptrdiff_t items = cc_gemm_work_items(&gn);                                   \
            ptrdiff_t workers = n_threads < items ? n_threads : items;                   \
            ptrdiff_t nws = workers * cc_gemm_workspace_per_thread(&gn);                 \
            ptrdiff_t npack = cc_conv_im2col_pack_size(&gn);                             \
            T *ws = output_##SFX(nws), *wpack = output_##SFX(npack);                     \
            cc_conv_im2col_pack_##SFX(&gn, w, wpack, (int)workers);                      \
            /* the items in chunks of random sizes, as the bridge runs them */           \
            for (ptrdiff_t it0 = 0, it1; it0 < items; it0 = it1) {                       \
                it1 = it0 + pick(r, 1, items);                                           \
                if (it1 > items) it1 = items;                                            \
                cc_conv_im2col_range_##SFX(&gn, x, wpack, b, y, ws, it0, it1,            \
                                           (int)workers);                                \
            }                                                                            \
            for (ptrdiff_t i = nws; i < nws + GUARD; i++)                                \
                if (ws[i] != (T)1e30)                                                    \
                    fail(what, "im2col wrote past its workspace");                       \
            for (ptrdiff_t i = npack; i < npack + GUARD; i++)                            \
                if (wpack[i] != (T)1e30)                                                 \
                    fail(what, "im2col wrote past its packed weights");                  \
            free(ws);                                                                    \
            free(wpack);                                                                 \
        } else {                                                                         \
            ptrdiff_t npack = cc_conv2d_direct_pack_size_##SFX(&g);                      \
            T *wpack = output_##SFX(npack);                                              \
            cc_conv2d_direct_##SFX(&g, x, w, b, y, wpack, n_threads);                    \
            for (ptrdiff_t i = npack; i < npack + GUARD; i++)                            \
                if (wpack[i] != (T)1e30)                                                 \
                    fail(what, "direct wrote past its packed weights");                  \
            free(wpack);                                                                 \
        }                                                                                \
        expect_equal_##SFX(what, y, ref, ny);                                            \
        expect_untouched_##SFX(what, x, x0, nx);                                         \
        expect_untouched_##SFX(what, w, w0, nw);                                         \
        if (b)                                                                           \
            expect_untouched_##SFX(what, b, b0, g.K);                                    \
        free(x); free(w); free(b); free(x0); free(w0); free(b0); free(xd); free(wd);     \
        free(bd); free(refd); free(ref); free(y);                                        \
    }                                                                                    \
    /* im2col (whole batch, or one block of one image) and col2im. */                    \
    static void fuzz_unfold_##SFX(reader *r, int n_threads)                              \
    {                                                                                    \
        cc_conv2d_geometry g;                                                            \
        int mode = (int)pick(r, 0, 2);                                                   \
        if (!conv_geometry(r, &g))                                                       \
            return;                                                                      \
        g.K = g.C;                                                                       \
        g.groups = 1;                                                                    \
        const ptrdiff_t rows = g.C * g.R * g.S, L = g.Hout * g.Wout, nx = x_size(&g);    \
        const ptrdiff_t ncols = g.N * rows * L;                                          \
        ptrdiff_t row0 = pick(r, 0, rows - 1), p0 = pick(r, 0, L - 1);                    \
        ptrdiff_t nrows = pick(r, 1, rows - row0), np = pick(r, 1, L - p0);              \
        seed_from(r);                                                                    \
        char what[400];                                                                  \
        describe(&g, what, sizeof what);                                                 \
        cc_conv_geometry gn = cc_conv_geometry_from_2d(&g);                              \
        if (mode == 2) { /* col2im */                                                    \
            T *cols = input_##SFX(ncols), *c0 = copy_##SFX(cols, ncols);                 \
            double *cd = malloc((size_t)ncols * sizeof *cd);                             \
            double *xd = malloc((size_t)nx * sizeof *xd);                                \
            for (ptrdiff_t i = 0; i < ncols; i++) cd[i] = cols[i];                       \
            col2im_ref(&g, cd, xd);                                                      \
            T *ref = malloc((size_t)nx * sizeof *ref), *x = output_##SFX(nx);            \
            for (ptrdiff_t i = 0; i < nx; i++) ref[i] = (T)xd[i];                        \
            cc_col2im_batch_##SFX(&gn, cols, x, n_threads);                              \
            expect_equal_##SFX(what, x, ref, nx);                                        \
            expect_untouched_##SFX(what, cols, c0, ncols);                               \
            T *x1 = output_##SFX(nx / g.N); /* one image, the single-image entry */       \
            cc_col2im_##SFX(&gn, cols + (g.N - 1) * rows * L, x1);                        \
            expect_equal_##SFX(what, x1, ref + (g.N - 1) * (nx / g.N), nx / g.N);        \
            free(cols); free(c0); free(cd); free(xd); free(ref); free(x); free(x1);      \
            return;                                                                      \
        }                                                                                \
        T *x = input_##SFX(nx), *x0 = copy_##SFX(x, nx);                                 \
        double *xd = malloc((size_t)nx * sizeof *xd);                                    \
        for (ptrdiff_t i = 0; i < nx; i++) xd[i] = x[i];                                 \
        if (mode == 0) {                                                                 \
            T *cols = output_##SFX(ncols), *ref = malloc((size_t)ncols * sizeof *ref);   \
            for (ptrdiff_t n = 0; n < g.N; n++)                                          \
                for (ptrdiff_t row = 0; row < rows; row++)                               \
                    for (ptrdiff_t p = 0; p < L; p++)                                    \
                        ref[(n * rows + row) * L + p] =                                  \
                            (T)cols_ref_at(&g, xd + n * g.C * g.H * g.W, row, p);        \
            cc_im2col_batch_##SFX(&gn, x, cols, n_threads);                              \
            expect_equal_##SFX(what, cols, ref, ncols);                                  \
            free(cols); free(ref);                                                       \
        } else {                                                                         \
            const ptrdiff_t nb = nrows * np, img = g.N - 1;                              \
            T *block = output_##SFX(nb), *ref = malloc((size_t)nb * sizeof *ref);        \
            for (ptrdiff_t i = 0; i < nrows; i++)                                        \
                for (ptrdiff_t p = 0; p < np; p++)                                       \
                    ref[i * np + p] = (T)cols_ref_at(&g, xd + img * g.C * g.H * g.W,     \
                                                     row0 + i, p0 + p);                  \
            cc_im2col_##SFX(&gn, x + img * g.C * g.H * g.W, row0, nrows, p0, np, block); \
            expect_equal_##SFX(what, block, ref, nb);                                    \
            free(block); free(ref);                                                      \
        }                                                                                \
        expect_untouched_##SFX(what, x, x0, nx);                                         \
        free(x); free(x0); free(xd);                                                     \
    }
DEFINE_CONV_TARGETS(float, f32)
DEFINE_CONV_TARGETS(double, f64)

/* ---- the convolution matrix ----------------------------------------------------- */

static void fuzz_conv_matrix(reader *r, int n_threads, int f64)
{
    cc_conv2d_geometry g;
    if (!conv_geometry(r, &g))
        return;
    g.N = 1;
    seed_from(r);
    const ptrdiff_t Cg = g.C / g.groups, Kg = g.K / g.groups, rows = g.K * g.Hout * g.Wout;
    const ptrdiff_t nw = w_size(&g);
    char what[400];
    describe(&g, what, sizeof what);
    int64_t *indptr = index_output(rows + 1);
    int64_t nnz = cc_conv_matrix_indptr(&g, indptr);
    /* the reference: rows (k, oh, ow), entries (c, r, s) whose pixel is in the image */
    int64_t *ref_ptr = malloc((size_t)(rows + 1) * sizeof *ref_ptr);
    ptrdiff_t cap = rows * Cg * g.R * g.S;
    int64_t *ref_idx = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *ref_idx);
    ptrdiff_t *ref_w = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *ref_w);
    int64_t count = 0;
    ref_ptr[0] = 0;
    for (ptrdiff_t k = 0, row = 0; k < g.K; k++)
        for (ptrdiff_t oh = 0; oh < g.Hout; oh++)
            for (ptrdiff_t ow = 0; ow < g.Wout; ow++, row++) {
                for (ptrdiff_t c = 0; c < Cg; c++)
                    for (ptrdiff_t rr = 0; rr < g.R; rr++)
                        for (ptrdiff_t s = 0; s < g.S; s++) {
                            ptrdiff_t ih = oh * g.stride_h - g.pad_top + rr * g.dil_h;
                            ptrdiff_t iw = ow * g.stride_w - g.pad_left + s * g.dil_w;
                            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W)
                                continue;
                            ref_idx[count] = ((k / Kg) * Cg + c) * g.H * g.W + ih * g.W + iw;
                            ref_w[count++] = ((k * Cg + c) * g.R + rr) * g.S + s;
                        }
                ref_ptr[row + 1] = count;
            }
    if (nnz != count)
        fail(what, "conv_matrix: wrong number of entries");
    expect_equal_i64(what, indptr, ref_ptr, rows + 1);
    int64_t *indices = index_output(nnz);
    if (f64) {
        double *w = input_f64(nw), *w0 = copy_f64(w, nw), *data = output_f64(nnz);
        double *ref = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *ref);
        for (int64_t i = 0; i < nnz; i++) ref[i] = w[ref_w[i]];
        cc_conv_matrix_fill_f64(&g, w, indptr, indices, data, n_threads);
        expect_equal_f64(what, data, ref, nnz);
        expect_untouched_f64(what, w, w0, nw);
        free(w); free(w0); free(data); free(ref);
    } else {
        float *w = input_f32(nw), *w0 = copy_f32(w, nw), *data = output_f32(nnz);
        float *ref = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof *ref);
        for (int64_t i = 0; i < nnz; i++) ref[i] = w[ref_w[i]];
        cc_conv_matrix_fill_f32(&g, w, indptr, indices, data, n_threads);
        expect_equal_f32(what, data, ref, nnz);
        expect_untouched_f32(what, w, w0, nw);
        free(w); free(w0); free(data); free(ref);
    }
    expect_equal_i64(what, indices, ref_idx, nnz);
    free(indptr); free(ref_ptr); free(ref_idx); free(ref_w); free(indices);
}

/* ---- pooling -------------------------------------------------------------------- */

static int pool_geometry(reader *r, cc_pool2d_geometry *g, int with_dilation, int *ceil_mode)
{
    g->planes = pick(r, 1, 5);
    g->H = pick(r, 1, 14);
    g->W = pick(r, 1, 48);
    g->kh = pick(r, 1, 6);
    g->kw = pick(r, 1, 7);
    g->sh = pick(r, 1, 4);
    g->sw = pick(r, 1, 4);
    g->ph = pick(r, 0, g->kh / 2);
    g->pw = pick(r, 0, g->kw / 2);
    g->D = g->Dout = g->kd = g->sd = g->dd = 1; /* 2-D; depth in the C tests */
    g->pd = 0;
    g->dh = with_dilation ? pick(r, 1, 3) : 1;
    g->dw = with_dilation ? pick(r, 1, 3) : 1;
    *ceil_mode = (int)pick(r, 0, 1);
    if (pick(r, 0, 3) == 0) { /* a 1-D pool: one row */
        g->H = 1; g->kh = 1; g->sh = 1; g->ph = 0; g->dh = 1;
    }
    if (pick(r, 0, 7) == 0) { /* the fast paths: 2x2/2, 3x3/2 p1, 3x3/1 p1 */
        static const ptrdiff_t shapes[3][3] = {{2, 2, 0}, {3, 2, 1}, {3, 1, 1}};
        const ptrdiff_t *s = shapes[pick(r, 0, 2)];
        g->kh = g->kw = s[0]; g->sh = g->sw = s[1]; g->ph = g->pw = s[2];
        g->dh = g->dw = 1;
        if (g->H < 3) g->H = 3;
    }
    g->Hout = out_length(g->H, g->kh, g->sh, g->ph, g->ph, g->dh, *ceil_mode);
    g->Wout = out_length(g->W, g->kw, g->sw, g->pw, g->pw, g->dw, *ceil_mode);
    return g->Hout >= 1 && g->Wout >= 1;
}

static void describe_pool(const cc_pool2d_geometry *g, int ceil_mode, char *buf, size_t n)
{
    snprintf(buf, n,
             "planes=%td H=%td W=%td k=(%td,%td) s=(%td,%td) p=(%td,%td) d=(%td,%td) "
             "out=(%td,%td) ceil=%d",
             g->planes, g->H, g->W, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw,
             g->Hout, g->Wout, ceil_mode);
}

/* Max over a window, PyTorch's rule: start at -inf with the index of the window's first
 * cell inside the input (-1 if none); a cell wins if greater or NaN. */
static void max_ref(const cc_pool2d_geometry *g, const double *x, double *y, int64_t *idx)
{
    for (ptrdiff_t p = 0; p < g->planes; p++)
        for (ptrdiff_t oh = 0; oh < g->Hout; oh++)
            for (ptrdiff_t ow = 0; ow < g->Wout; ow++) {
                double best = -INFINITY;
                int64_t arg = -1;
                for (ptrdiff_t i = 0; i < g->kh; i++)
                    for (ptrdiff_t j = 0; j < g->kw; j++) {
                        ptrdiff_t ih = oh * g->sh - g->ph + i * g->dh;
                        ptrdiff_t iw = ow * g->sw - g->pw + j * g->dw;
                        if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                            continue;
                        double v = x[(p * g->H + ih) * g->W + iw];
                        if (arg < 0)
                            arg = ih * g->W + iw;
                        if (v > best || v != v) {
                            best = v;
                            arg = ih * g->W + iw;
                        }
                    }
                ptrdiff_t o = (p * g->Hout + oh) * g->Wout + ow;
                y[o] = best;
                idx[o] = arg;
            }
}

/* (first, stop) of a window along one axis inside the input, and its size inside the
 * padded input (the count_include_pad divisor). */
static void avg_window(ptrdiff_t o, ptrdiff_t k, ptrdiff_t s, ptrdiff_t pad, ptrdiff_t n,
                       ptrdiff_t *a, ptrdiff_t *b, ptrdiff_t *padded)
{
    ptrdiff_t start = o * s - pad, end = start + k < n + pad ? start + k : n + pad;
    *padded = end - start;
    *a = start > 0 ? start : 0;
    *b = end < n ? end : n;
}

static ptrdiff_t avg_divisor(const cc_pool2d_geometry *g, ptrdiff_t oh, ptrdiff_t ow,
                             int cip, ptrdiff_t div, ptrdiff_t *h0, ptrdiff_t *h1,
                             ptrdiff_t *w0, ptrdiff_t *w1)
{
    ptrdiff_t hp, wp;
    avg_window(oh, g->kh, g->sh, g->ph, g->H, h0, h1, &hp);
    avg_window(ow, g->kw, g->sw, g->pw, g->W, w0, w1, &wp);
    if (div)
        return div;
    return cip ? hp * wp : (*h1 - *h0) * (*w1 - *w0);
}

#define DEFINE_POOL_TARGETS(T, SFX)                                                      \
    static void fuzz_pool_##SFX(reader *r, int n_threads, int op)                        \
    {                                                                                    \
        cc_pool2d_geometry g;                                                            \
        int ceil_mode, cip = (int)pick(r, 0, 1);                                         \
        ptrdiff_t div = pick(r, 0, 3) == 0 ? pick(r, 1, 40) : 0;                         \
        int with_idx = (int)pick(r, 0, 1);                                               \
        if (!pool_geometry(r, &g, op == 0 || op == 2, &ceil_mode))                        \
            return;                                                                      \
        seed_from(r);                                                                    \
        char what[300];                                                                  \
        describe_pool(&g, ceil_mode, what, sizeof what);                                 \
        const ptrdiff_t nx = g.planes * g.H * g.W, ny = g.planes * g.Hout * g.Wout;      \
        T *x = input_##SFX(nx), *x0 = copy_##SFX(x, nx);                                 \
        double *xd = malloc((size_t)nx * sizeof *xd), *yd = malloc((size_t)ny * sizeof *yd); \
        int64_t *ridx = malloc((size_t)ny * sizeof *ridx);                               \
        T *ref = calloc((size_t)ny, sizeof *ref);                                        \
        for (ptrdiff_t i = 0; i < nx; i++) xd[i] = x[i];                                 \
        max_ref(&g, xd, yd, ridx);                                                       \
        if (op == 0) { /* max forward, with or without indices */                        \
            T *y = output_##SFX(ny);                                                     \
            int64_t *idx = with_idx ? index_output(ny) : NULL;                           \
            for (ptrdiff_t i = 0; i < ny; i++) ref[i] = (T)yd[i];                        \
            cc_max_pool2d_##SFX(&g, x, y, idx, n_threads);                               \
            expect_equal_##SFX(what, y, ref, ny);                                        \
            if (idx)                                                                     \
                expect_equal_i64(what, idx, ridx, ny);                                   \
            free(y); free(idx);                                                          \
        } else if (op == 1) { /* avg forward */                                          \
            T *y = output_##SFX(ny);                                                     \
            for (ptrdiff_t oh = 0, o = 0; oh < g.Hout; oh++)                             \
                for (ptrdiff_t ow = 0; ow < g.Wout; ow++, o++) {                         \
                    ptrdiff_t h0, h1, w0, w1;                                            \
                    ptrdiff_t d = avg_divisor(&g, oh, ow, cip, div, &h0, &h1, &w0, &w1); \
                    for (ptrdiff_t p = 0; p < g.planes; p++) {                           \
                        double sum = 0;                                                  \
                        for (ptrdiff_t ih = h0; ih < h1; ih++)                           \
                            for (ptrdiff_t iw = w0; iw < w1; iw++)                       \
                                sum += xd[(p * g.H + ih) * g.W + iw];                    \
                        ref[p * g.Hout * g.Wout + o] = (T)((T)sum / (T)d);               \
                    }                                                                    \
                }                                                                        \
            cc_avg_pool2d_##SFX(&g, x, y, cip, div, n_threads);                          \
            expect_equal_##SFX(what, y, ref, ny);                                        \
            free(y);                                                                     \
        } else { /* backward: op 2 max (from the reference argmax), op 3 avg */          \
            T *go = input_##SFX(ny), *go0 = copy_##SFX(go, ny), *gi = output_##SFX(nx);  \
            T *gref = calloc((size_t)(nx > 0 ? nx : 1), sizeof *gref);                   \
            for (ptrdiff_t p = 0; p < g.planes; p++)                                     \
                for (ptrdiff_t oh = 0; oh < g.Hout; oh++)                                \
                    for (ptrdiff_t ow = 0; ow < g.Wout; ow++) {                          \
                        ptrdiff_t o = (p * g.Hout + oh) * g.Wout + ow;                   \
                        if (op == 2) {                                                   \
                            if (ridx[o] >= 0)                                            \
                                gref[p * g.H * g.W + ridx[o]] += go[o];                  \
                            continue;                                                    \
                        }                                                                \
                        ptrdiff_t h0, h1, w0, w1;                                        \
                        ptrdiff_t d = avg_divisor(&g, oh, ow, cip, div, &h0, &h1, &w0, &w1); \
                        T delta = go[o] / (T)d;                                          \
                        for (ptrdiff_t ih = h0; ih < h1; ih++)                           \
                            for (ptrdiff_t iw = w0; iw < w1; iw++)                       \
                                gref[(p * g.H + ih) * g.W + iw] += delta;                \
                    }                                                                    \
            if (op == 2)                                                                 \
                cc_max_pool2d_backward_##SFX(&g, go, ridx, gi, n_threads);               \
            else                                                                         \
                cc_avg_pool2d_backward_##SFX(&g, go, gi, cip, div, n_threads);           \
            expect_equal_##SFX(what, gi, gref, nx);                                      \
            expect_untouched_##SFX(what, go, go0, ny);                                   \
            free(go); free(go0); free(gi); free(gref);                                   \
        }                                                                                \
        expect_untouched_##SFX(what, x, x0, nx);                                         \
        free(x); free(x0); free(xd); free(yd); free(ridx); free(ref);                    \
    }                                                                                    \
    static void fuzz_adaptive_##SFX(reader *r, int n_threads, int op)                    \
    {                                                                                    \
        ptrdiff_t planes = pick(r, 1, 5), H = pick(r, 1, 16), W = pick(r, 1, 40);         \
        ptrdiff_t Hout = pick(r, 1, H + 4), Wout = pick(r, 1, W + 4);                     \
        int with_idx = (int)pick(r, 0, 1);                                               \
        seed_from(r);                                                                    \
        char what[200];                                                                  \
        snprintf(what, sizeof what, "adaptive %s planes=%td H=%td W=%td out=(%td,%td)",  \
                 op ? "max" : "avg", planes, H, W, Hout, Wout);                          \
        const ptrdiff_t nx = planes * H * W, ny = planes * Hout * Wout;                  \
        T *x = input_##SFX(nx), *x0 = copy_##SFX(x, nx), *y = output_##SFX(ny);         \
        T *ref = malloc((size_t)ny * sizeof *ref);                                       \
        int64_t *idx = op && with_idx ? index_output(ny) : NULL;                         \
        int64_t *ridx = malloc((size_t)ny * sizeof *ridx);                               \
        for (ptrdiff_t p = 0, o = 0; p < planes; p++)                                    \
            for (ptrdiff_t oh = 0; oh < Hout; oh++)                                      \
                for (ptrdiff_t ow = 0; ow < Wout; ow++, o++) {                           \
                    ptrdiff_t h0 = oh * H / Hout, h1 = ((oh + 1) * H + Hout - 1) / Hout; \
                    ptrdiff_t w0 = ow * W / Wout, w1 = ((ow + 1) * W + Wout - 1) / Wout; \
                    double sum = 0, best = -INFINITY;                                    \
                    int64_t arg = h0 * W + w0;                                           \
                    for (ptrdiff_t ih = h0; ih < h1; ih++)                               \
                        for (ptrdiff_t iw = w0; iw < w1; iw++) {                         \
                            double v = x[(p * H + ih) * W + iw];                         \
                            sum += v;                                                    \
                            if (v > best || v != v) {                                    \
                                best = v;                                                \
                                arg = ih * W + iw;                                       \
                            }                                                            \
                        }                                                                \
                    ref[o] = op ? (T)best : (T)((T)sum / (T)((h1 - h0) * (w1 - w0)));    \
                    ridx[o] = arg;                                                       \
                }                                                                        \
        if (op)                                                                          \
            cc_adaptive_max_pool2d_##SFX(planes, H, W, Hout, Wout, x, y, idx, n_threads); \
        else                                                                             \
            cc_adaptive_avg_pool2d_##SFX(planes, H, W, Hout, Wout, x, y, n_threads);     \
        expect_equal_##SFX(what, y, ref, ny);                                            \
        if (idx)                                                                         \
            expect_equal_i64(what, idx, ridx, ny);                                       \
        expect_untouched_##SFX(what, x, x0, nx);                                         \
        free(x); free(x0); free(y); free(ref); free(idx); free(ridx);                    \
    }
DEFINE_POOL_TARGETS(float, f32)
DEFINE_POOL_TARGETS(double, f64)

/* Channels-last pooling: (N, H, W, C) against the NCHW reference of the same data. */
#define DEFINE_NHWC_TARGET(T, SFX)                                                       \
    static void fuzz_pool_nhwc_##SFX(reader *r, int n_threads, int op)                   \
    {                                                                                    \
        cc_pool2d_geometry g, gp;                                                        \
        int ceil_mode, cip = (int)pick(r, 0, 1), with_idx = (int)pick(r, 0, 1);          \
        ptrdiff_t div = pick(r, 0, 3) == 0 ? pick(r, 1, 40) : 0, C = pick(r, 1, 9);      \
        if (!pool_geometry(r, &g, op == 0, &ceil_mode))                                  \
            return;                                                                      \
        g.planes = 1 + g.planes % 3; /* N */                                             \
        seed_from(r);                                                                    \
        char what[300];                                                                  \
        describe_pool(&g, ceil_mode, what, sizeof what);                                 \
        const ptrdiff_t N = g.planes, HW = g.H * g.W, HWo = g.Hout * g.Wout;             \
        const ptrdiff_t nx = N * HW * C, ny = N * HWo * C;                               \
        T *x = input_##SFX(nx), *x0 = copy_##SFX(x, nx), *y = output_##SFX(ny);          \
        T *ref = malloc((size_t)ny * sizeof *ref);                                       \
        int64_t *idx = op == 0 && with_idx ? index_output(ny) : NULL;                    \
        int64_t *ridx_nhwc = malloc((size_t)ny * sizeof *ridx_nhwc);                     \
        double *xd = calloc((size_t)nx, sizeof *xd), *yd = malloc((size_t)ny * sizeof *yd); \
        int64_t *ridx = malloc((size_t)ny * sizeof *ridx);                               \
        for (ptrdiff_t n = 0; n < N; n++) /* the NCHW planes (n, c) of the same data */  \
            for (ptrdiff_t c = 0; c < C; c++)                                            \
                for (ptrdiff_t i = 0; i < HW; i++)                                       \
                    xd[(n * C + c) * HW + i] = x[(n * HW + i) * C + c];                  \
        gp = g;                                                                          \
        gp.planes = N * C;                                                               \
        max_ref(&gp, xd, yd, ridx);                                                      \
        for (ptrdiff_t n = 0; n < N; n++)                                                \
            for (ptrdiff_t c = 0; c < C; c++)                                            \
                for (ptrdiff_t oh = 0, o = 0; oh < g.Hout; oh++)                         \
                    for (ptrdiff_t ow = 0; ow < g.Wout; ow++, o++) {                     \
                        ptrdiff_t at = (n * HWo + o) * C + c, pl = n * C + c;            \
                        if (op == 0) {                                                   \
                            ref[at] = (T)yd[pl * HWo + o];                               \
                            ridx_nhwc[at] = ridx[pl * HWo + o];                          \
                            continue;                                                    \
                        }                                                                \
                        ptrdiff_t h0, h1, w0, w1;                                        \
                        ptrdiff_t d = avg_divisor(&g, oh, ow, cip, div, &h0, &h1, &w0, &w1); \
                        double sum = 0;                                                  \
                        for (ptrdiff_t ih = h0; ih < h1; ih++)                           \
                            for (ptrdiff_t iw = w0; iw < w1; iw++)                       \
                                sum += xd[pl * HW + ih * g.W + iw];                      \
                        ref[at] = (T)((T)sum / (T)d);                                    \
                    }                                                                    \
        if (op == 0)                                                                     \
            cc_max_pool2d_nhwc_##SFX(&g, C, x, y, idx, n_threads);                       \
        else                                                                             \
            cc_avg_pool2d_nhwc_##SFX(&g, C, x, y, cip, div, n_threads);                  \
        expect_equal_##SFX(what, y, ref, ny);                                            \
        if (idx)                                                                         \
            expect_equal_i64(what, idx, ridx_nhwc, ny);                                  \
        expect_untouched_##SFX(what, x, x0, nx);                                         \
        free(x); free(x0); free(y); free(ref); free(idx); free(ridx_nhwc); free(xd);     \
        free(yd); free(ridx);                                                            \
    }
DEFINE_NHWC_TARGET(float, f32)
DEFINE_NHWC_TARGET(double, f64)

/* ---- the tiled product (cc_matmul) ------------------------------------------------ */

#define DEFINE_MATMUL_TARGET(T, SFX)                                                     \
    static void fuzz_matmul_##SFX(reader *r, int n_threads)                              \
    {                                                                                    \
        cc_matmul p;                                                                     \
        /* a byte picks at most 256 values: sums of picks cross the blocks of rows and  \
         * columns (CC_MATMUL_ROWS, CC_MATMUL_COLS) and every level's reduction slice */ \
        p.m = pick(r, 1, 100) + pick(r, 0, 1) * (pick(r, 0, 250) + pick(r, 0, 50));     \
        p.n = pick(r, 1, 150) + pick(r, 0, 1) * pick(r, 100, 250);                       \
        p.k = pick(r, 0, 2) ? pick(r, 0, 40)                                             \
                            : pick(r, 0, 250) + pick(r, 0, 250) + pick(r, 0, 150);       \
        p.batch = pick(r, 1, 3);                                                         \
        const int a_rows = pick(r, 0, 1), b_rows = pick(r, 0, 1); /* else by columns */  \
        const ptrdiff_t k1 = p.k > 0 ? p.k : 1;                                          \
        p.a_cs = a_rows ? 1 : p.m + pick(r, 0, 3);                                       \
        p.a_rs = a_rows ? k1 + pick(r, 0, 3) : 1;                                        \
        p.b_cs = b_rows ? 1 : k1 + pick(r, 0, 3);                                        \
        p.b_rs = b_rows ? p.n + pick(r, 0, 3) : 1;                                       \
        const ptrdiff_t one_a = (p.m - 1) * p.a_rs + (k1 - 1) * p.a_cs + 1;              \
        const ptrdiff_t one_b = (k1 - 1) * p.b_rs + (p.n - 1) * p.b_cs + 1;              \
        p.a_bs = pick(r, 0, 1) ? one_a : 0; /* 0: one matrix for the batch */            \
        p.b_bs = pick(r, 0, 1) ? one_b : 0;                                              \
        p.c_rs = p.n + pick(r, 0, 3);                                                    \
        p.c_bs = p.c_rs * p.m;                                                           \
        p.accumulate = pick(r, 0, 1);                                                    \
        const int with_bias = pick(r, 0, 1);                                             \
        cc_matmul_plan(&p, n_threads);                                                   \
        seed_from(r);                                                                    \
        ptrdiff_t na = one_a + p.a_bs * (p.batch - 1);                                   \
        ptrdiff_t nb = one_b + p.b_bs * (p.batch - 1);                                   \
        ptrdiff_t nc = p.c_bs * p.batch;                                                 \
        T *a = input_##SFX(na), *b = input_##SFX(nb), *c0 = input_##SFX(nc);             \
        T *c = output_##SFX(nc); /* guard cells after it */                              \
        T *bias = with_bias ? input_##SFX(p.n) : NULL;                                   \
        memcpy(c, c0, (size_t)nc * sizeof *c);                                           \
        T *a0 = copy_##SFX(a, na), *b0 = copy_##SFX(b, nb), *ref = copy_##SFX(c0, nc);   \
        for (ptrdiff_t bt = 0; bt < p.batch; bt++)                                       \
            for (ptrdiff_t i = 0; i < p.m; i++)                                          \
                for (ptrdiff_t j = 0; j < p.n; j++) {                                    \
                    T *cij = ref + bt * p.c_bs + i * p.c_rs + j;                         \
                    T acc = p.accumulate ? *cij : bias ? bias[j] : (T)0;                 \
                    for (ptrdiff_t l = 0; l < p.k; l++)                                  \
                        acc += a0[bt * p.a_bs + i * p.a_rs + l * p.a_cs] *               \
                               b0[bt * p.b_bs + l * p.b_rs + j * p.b_cs];                \
                    *cij = acc;                                                          \
                }                                                                        \
        const ptrdiff_t items = cc_matmul_items(&p);                                     \
        const ptrdiff_t per = cc_matmul_workspace_per_thread();                        \
        T *work = malloc((size_t)(per * (n_threads > 1 ? n_threads : 1)) * sizeof *work);\
        for (ptrdiff_t it0 = 0, it1; it0 < items; it0 = it1) {                           \
            it1 = it0 + pick(r, 1, items);                                               \
            if (it1 > items) it1 = items;                                                \
            cc_matmul_range_##SFX(&p, a, b, bias, c, work, it0, it1, n_threads);               \
        }                                                                                \
        char what[200];                                                                  \
        snprintf(what, sizeof what, "matmul A %s B %s m=%td n=%td k=%td batch=%td "      \
                 "accumulate=%d bias=%d", a_rows ? "rows" : "columns",                   \
                 b_rows ? "rows" : "columns", p.m, p.n, p.k, p.batch, p.accumulate,      \
                 with_bias);                                                             \
        expect_equal_##SFX(what, c, ref, nc);                                            \
        expect_untouched_##SFX(what, a, a0, na);                                         \
        expect_untouched_##SFX(what, b, b0, nb);                                         \
        free(a); free(b); free(c); free(c0); free(a0); free(b0); free(ref); free(work);  \
        free(bias);                                                                      \
    }
DEFINE_MATMUL_TARGET(float, f32)
DEFINE_MATMUL_TARGET(double, f64)

/* ---- entry points --------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    const unsigned target = next_byte(&r) % 16;
    const int f64 = (int)(target & 1);
    /* a row of the table of ISAs, clamped to what the CPU has */
    cc_simd_force((cc_simd_level)(next_byte(&r) % (unsigned)cc_simd_count()));
    const int n_threads = (int)pick(&r, 1, 4);
    const unsigned special = next_byte(&r);
    specials = special < 192 ? 0 : (int)(special - 191) * 4; /* up to ~25% NaN / inf */
    family = (int)(target >> 1);
    switch (target >> 1) {
    case 0: f64 ? fuzz_conv_f64(&r, n_threads, 0) : fuzz_conv_f32(&r, n_threads, 0); break;
    case 1: f64 ? fuzz_conv_f64(&r, n_threads, 1) : fuzz_conv_f32(&r, n_threads, 1); break;
    case 2: f64 ? fuzz_unfold_f64(&r, n_threads) : fuzz_unfold_f32(&r, n_threads); break;
    case 3: fuzz_conv_matrix(&r, n_threads, f64); break;
    case 4: /* max and avg forward */
    case 5: /* max and avg backward */ {
        int op = (int)((target >> 1) - 4) * 2 + (int)(next_byte(&r) & 1);
        f64 ? fuzz_pool_f64(&r, n_threads, op) : fuzz_pool_f32(&r, n_threads, op);
        break;
    }
    case 6: {
        int op = (int)(next_byte(&r) & 1);
        f64 ? fuzz_adaptive_f64(&r, n_threads, op) : fuzz_adaptive_f32(&r, n_threads, op);
        break;
    }
    default: {
        int op = (int)(next_byte(&r) & 3);
        if (op >= 2) { /* the tiled product shares the last family's slot, counted apart */
            family = 8;
            f64 ? fuzz_matmul_f64(&r, n_threads) : fuzz_matmul_f32(&r, n_threads);
        }
        else
            f64 ? fuzz_pool_nhwc_f64(&r, n_threads, op) : fuzz_pool_nhwc_f32(&r, n_threads, op);
    }
    }
    cc_simd_force(cc_simd_detect());
    return 0;
}

#ifdef CC_FUZZ_MAIN
/* Replays files (or every file of the directories) given, or --random N [SEED]. */
#include <dirent.h>
#include <sys/stat.h>

static long replay_file(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        long n = 0;
        char sub[4096];
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            n += replay_file(sub);
        }
        if (d)
            closedir(d);
        return n;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, got);
    free(buf);
    return 1;
}

int main(int argc, char **argv)
{
    long runs = 0;
    if (argc >= 3 && !strcmp(argv[1], "--random")) {
        long n = atol(argv[2]);
        uint64_t s = argc >= 4 ? strtoull(argv[3], NULL, 10) : 1;
        uint8_t buf[64];
        for (long i = 0; i < n; i++, runs++) {
            for (size_t j = 0; j < sizeof buf; j++) {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                buf[j] = (uint8_t)(s >> 24);
            }
            buf[0] = (uint8_t)(i % 16); /* every target in turn */
            LLVMFuzzerTestOneInput(buf, 8 + (size_t)(s % (sizeof buf - 8)));
        }
    } else {
        for (int i = 1; i < argc; i++)
            runs += replay_file(argv[i]);
    }
    static const char *names[9] = {"direct",       "gemm",          "im2col/col2im",
                                   "conv_matrix",  "pool forward",  "pool backward",
                                   "adaptive",     "pool nhwc",     "matmul"};
    printf("convcore fuzz replay: %ld inputs, no mismatch; kernels run:", runs);
    for (int i = 0; i < 9; i++)
        printf(" %s %ld%s", names[i], executed[i], i < 8 ? "," : "\n");
    return 0;
}
#endif
