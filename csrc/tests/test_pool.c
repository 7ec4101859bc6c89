/* Tests of the pooling kernels over (D, H, W) volumes on their own (no Python): max and
 * average pooling, their gradients, adaptive pooling and max unpooling against naive
 * loop references, at every SIMD level this CPU supports and 1 or 3 threads.
 *
 * Inputs are multiples of 1/64 in [-1, 1] with some NaN and +-inf, so every window sum
 * of finite values is exact in float: results are compared for equality (NaN equal to
 * NaN).  Outputs are filled with NaN before each call (an unwritten cell fails) and
 * followed by guard cells that must stay untouched.
 *
 * Prints "pool: N passed, N failed"; exits 1 on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convcore.h"
#include "test_buffers.h"

#define GUARD 16
#define GUARD_VALUE 12345.0

static int n_passed, n_failed;

static void check(int ok, const char *what, const char *simd, int nt)
{
    if (ok) {
        n_passed++;
        return;
    }
    n_failed++;
    printf("FAIL: %s [%s, %d threads]\n", what, simd, nt);
}

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;

static unsigned long long next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static ptrdiff_t pick(ptrdiff_t lo, ptrdiff_t hi)
{
    return lo + (ptrdiff_t)(next() % (unsigned long long)(hi - lo + 1));
}

static double value(void)
{
    unsigned long long r = next() % 200;
    if (r == 0)
        return NAN;
    if (r == 1)
        return INFINITY;
    if (r == 2)
        return -INFINITY;
    return (double)((int)(next() % 129) - 64) / 64.0;
}

static ptrdiff_t out_len(ptrdiff_t n, ptrdiff_t k, ptrdiff_t s, ptrdiff_t p, ptrdiff_t d,
                         int ceil_mode)
{
    ptrdiff_t span = n + 2 * p - d * (k - 1) - 1;
    if (span < 0)
        return 0;
    if (!ceil_mode)
        return span / s + 1;
    ptrdiff_t out = (span + s - 1) / s + 1;
    if ((out - 1) * s >= n + p)
        out--;
    return out;
}

static int same(double a, double b) { return (a != a && b != b) || a == b; }

/* ---- naive references (double) ---------------------------------------------------- */

static void max_ref(const cc_pool2d_geometry *g, const double *x, double *y, int64_t *idx)
{
    const ptrdiff_t in = g->D * g->H * g->W, out = g->Dout * g->Hout * g->Wout;
    for (ptrdiff_t p = 0; p < g->planes; p++)
        for (ptrdiff_t od = 0; od < g->Dout; od++)
            for (ptrdiff_t oh = 0; oh < g->Hout; oh++)
                for (ptrdiff_t ow = 0; ow < g->Wout; ow++) {
                    double best = -INFINITY;
                    int64_t at = -1;
                    for (ptrdiff_t t = 0; t < g->kd; t++)
                        for (ptrdiff_t i = 0; i < g->kh; i++)
                            for (ptrdiff_t j = 0; j < g->kw; j++) {
                                ptrdiff_t id = od * g->sd - g->pd + t * g->dd;
                                ptrdiff_t ih = oh * g->sh - g->ph + i * g->dh;
                                ptrdiff_t iw = ow * g->sw - g->pw + j * g->dw;
                                if (id < 0 || id >= g->D || ih < 0 || ih >= g->H || iw < 0
                                    || iw >= g->W)
                                    continue;
                                ptrdiff_t f = (id * g->H + ih) * g->W + iw;
                                double v = x[p * in + f];
                                if (at < 0)
                                    at = f;
                                if (v > best || v != v) {
                                    best = v;
                                    at = f;
                                }
                            }
                    ptrdiff_t o = p * out + (od * g->Hout + oh) * g->Wout + ow;
                    y[o] = best;
                    idx[o] = at;
                }
}

static ptrdiff_t clip_window(ptrdiff_t o, ptrdiff_t k, ptrdiff_t s, ptrdiff_t p, ptrdiff_t n,
                             ptrdiff_t *a, ptrdiff_t *b)
{
    ptrdiff_t start = o * s - p, end = start + k < n + p ? start + k : n + p;
    *a = start > 0 ? start : 0;
    *b = end < n ? end : n;
    return end - start;
}

/* The divisor of an average window and its input cells [d0, d1) x [h0, h1) x [w0, w1). */
static ptrdiff_t avg_window(const cc_pool2d_geometry *g, ptrdiff_t od, ptrdiff_t oh,
                            ptrdiff_t ow, int cip, ptrdiff_t dov, ptrdiff_t *c)
{
    ptrdiff_t ed = clip_window(od, g->kd, g->sd, g->pd, g->D, &c[0], &c[1]);
    ptrdiff_t eh = clip_window(oh, g->kh, g->sh, g->ph, g->H, &c[2], &c[3]);
    ptrdiff_t ew = clip_window(ow, g->kw, g->sw, g->pw, g->W, &c[4], &c[5]);
    if (dov)
        return dov;
    return cip ? ed * eh * ew : (c[1] - c[0]) * (c[3] - c[2]) * (c[5] - c[4]);
}

/* ---- the checks ------------------------------------------------------------------- */

#define DEFINE_CHECKS(T, SFX)                                                            \
    /* A 2-D case's planes as the channels of one channels-last image: max against the  \
     * reference (values and indices), average against the NCHW kernel, bit for bit */  \
    static void check_nhwc_##SFX(const cc_pool2d_geometry *g, const T *x, const double *ref, \
                                 const int64_t *ridx, int cip, ptrdiff_t dov,           \
                                 const char *simd, int nt)                               \
    {                                                                                    \
        const ptrdiff_t C = g->planes, in = g->H * g->W, out = g->Hout * g->Wout;        \
        cc_pool2d_geometry gn = *g;                                                      \
        gn.planes = 1;                                                                   \
        T *xh = calloc((size_t)(C * in), sizeof *xh), *yh = nan_buffer_##SFX(C * out);   \
        T *ya = nan_buffer_##SFX(C * out);                                               \
        int64_t *ih = malloc((size_t)(C * out) * sizeof *ih);                            \
        for (ptrdiff_t c = 0; c < C; c++)                                                \
            for (ptrdiff_t i = 0; i < in; i++)                                           \
                xh[i * C + c] = x[c * in + i];                                           \
        cc_max_pool2d_nhwc_##SFX(&gn, C, xh, yh, ih, nt);                                \
        int ok = guard_intact_##SFX(yh, C * out);                                        \
        for (ptrdiff_t c = 0; c < C && ok; c++)                                          \
            for (ptrdiff_t o = 0; o < out && ok; o++)                                    \
                ok = same((double)yh[o * C + c], ref[c * out + o]) &&                    \
                     ih[o * C + c] == ridx[c * out + o];                                 \
        check(ok, "max pool NHWC " #SFX, simd, nt);                                      \
        if (g->dh == 1 && g->dw == 1) {                                                  \
            free(yh);                                                                    \
            yh = nan_buffer_##SFX(C * out);                                              \
            cc_avg_pool2d_nhwc_##SFX(&gn, C, xh, yh, cip, dov, nt);                      \
            cc_avg_pool2d_##SFX(g, x, ya, cip, dov, nt);                                 \
            ok = guard_intact_##SFX(yh, C * out);                                        \
            for (ptrdiff_t c = 0; c < C && ok; c++)                                      \
                for (ptrdiff_t o = 0; o < out && ok; o++)                                \
                    ok = same((double)yh[o * C + c], (double)ya[c * out + o]);           \
            check(ok, "avg pool NHWC " #SFX, simd, nt);                                  \
        }                                                                                \
        free(xh); free(yh); free(ya); free(ih);                                          \
    }                                                                                    \
    static void check_case_##SFX(const cc_pool2d_geometry *g, const double *xd, int cip, \
                                 ptrdiff_t dov, const char *simd, int nt)                \
    {                                                                                    \
        const ptrdiff_t in = g->D * g->H * g->W, out = g->Dout * g->Hout * g->Wout;      \
        const ptrdiff_t nx = g->planes * in, ny = g->planes * out;                       \
        T *x = malloc((size_t)nx * sizeof *x), *y = nan_buffer_##SFX(ny);                    \
        double *ref = malloc((size_t)ny * sizeof *ref);                                  \
        int64_t *idx = malloc((size_t)(ny + GUARD) * sizeof *idx);                       \
        int64_t *ridx = malloc((size_t)ny * sizeof *ridx);                               \
        for (ptrdiff_t i = 0; i < nx; i++)                                               \
            x[i] = (T)xd[i];                                                             \
        for (ptrdiff_t i = 0; i < ny + GUARD; i++)                                       \
            idx[i] = -7;                                                                 \
        max_ref(g, xd, ref, ridx);                                                       \
        cc_max_pool2d_##SFX(g, x, y, idx, nt);                                           \
        int ok = guard_intact_##SFX(y, ny) && idx[ny] == -7;                                   \
        for (ptrdiff_t i = 0; i < ny && ok; i++)                                         \
            ok = same((double)y[i], ref[i]) && idx[i] == ridx[i];                        \
        check(ok, "max pool " #SFX, simd, nt);                                           \
        free(y); /* without indices: the separable path (most windows) */     \
        y = nan_buffer_##SFX(ny);                                                        \
        cc_max_pool2d_##SFX(g, x, y, NULL, nt);                                          \
        ok = guard_intact_##SFX(y, ny);                                                  \
        for (ptrdiff_t i = 0; i < ny && ok; i++)                                         \
            ok = same((double)y[i], ref[i]);                                             \
        check(ok, "max pool without indices " #SFX, simd, nt);                           \
                                                                                         \
        /* max backward: the scatter of a gradient of ones at the reference indices */   \
        T *go = malloc((size_t)ny * sizeof *go), *gi = nan_buffer_##SFX(nx);                 \
        for (ptrdiff_t i = 0; i < ny; i++)                                               \
            go[i] = (T)(1 + i % 3);                                                      \
        cc_max_pool2d_backward_##SFX(g, go, ridx, gi, nt);                               \
        double *gref = calloc((size_t)nx, sizeof *gref);                                 \
        for (ptrdiff_t p = 0; p < g->planes; p++)                                        \
            for (ptrdiff_t o = 0; o < out; o++)                                          \
                if (ridx[p * out + o] >= 0)                                              \
                    gref[p * in + ridx[p * out + o]] += (double)go[p * out + o];         \
        ok = guard_intact_##SFX(gi, nx);                                                       \
        for (ptrdiff_t i = 0; i < nx && ok; i++)                                         \
            ok = (double)gi[i] == gref[i];                                               \
        check(ok, "max pool backward " #SFX, simd, nt);                                  \
                                                                                         \
        if (g->dd == 1 && g->dh == 1 && g->dw == 1) {                                    \
            free(y);                                                                     \
            y = nan_buffer_##SFX(ny);                                                        \
            cc_avg_pool2d_##SFX(g, x, y, cip, dov, nt);                                  \
            ok = guard_intact_##SFX(y, ny);                                                    \
            memset(gref, 0, (size_t)nx * sizeof *gref);                                  \
            for (ptrdiff_t p = 0; p < g->planes && ok; p++)                              \
                for (ptrdiff_t od = 0, o = 0; od < g->Dout; od++)                        \
                    for (ptrdiff_t oh = 0; oh < g->Hout; oh++)                           \
                        for (ptrdiff_t ow = 0; ow < g->Wout; ow++, o++) {                \
                            ptrdiff_t c[6];                                              \
                            ptrdiff_t dv = avg_window(g, od, oh, ow, cip, dov, c);       \
                            double sum = 0;                                              \
                            for (ptrdiff_t id = c[0]; id < c[1]; id++)                   \
                                for (ptrdiff_t ih = c[2]; ih < c[3]; ih++)               \
                                    for (ptrdiff_t iw = c[4]; iw < c[5]; iw++) {         \
                                        ptrdiff_t f = p * in + (id * g->H + ih) * g->W + iw; \
                                        sum += xd[f];                                    \
                                        gref[f] += (double)((T)go[p * out + o] / (T)dv); \
                                    }                                                    \
                            ok = ok && same((double)y[p * out + o], (double)((T)sum / (T)dv)); \
                        }                                                                \
            check(ok, "avg pool " #SFX, simd, nt);                                       \
            free(gi);                                                                    \
            gi = nan_buffer_##SFX(nx);                                                       \
            cc_avg_pool2d_backward_##SFX(g, go, gi, cip, dov, nt);                       \
            ok = guard_intact_##SFX(gi, nx);                                                   \
            for (ptrdiff_t i = 0; i < nx && ok; i++)                                     \
                ok = fabs((double)gi[i] - gref[i]) <= 1e-5 * (1 + fabs(gref[i]));        \
            check(ok, "avg pool backward " #SFX, simd, nt);                              \
        }                                                                                \
        if (g->D == 1 && g->kd == 1 && g->pd == 0)                                       \
            check_nhwc_##SFX(g, x, ref, ridx, cip, dov, simd, nt);                       \
        free(x); free(y); free(ref); free(idx); free(ridx); free(go); free(gi); free(gref); \
    }                                                                                    \
    static void check_adaptive_unpool_##SFX(const char *simd, int nt)                    \
    {                                                                                    \
        const ptrdiff_t P = pick(1, 5), D = pick(1, 7), H = pick(1, 9), W = pick(1, 12); \
        const ptrdiff_t Do = pick(1, 8), Ho = pick(1, 9), Wo = pick(1, 13);              \
        const ptrdiff_t in = D * H * W, out = Do * Ho * Wo;                              \
        T *x = malloc((size_t)(P * in) * sizeof *x), *y = nan_buffer_##SFX(P * out);         \
        int64_t *idx = malloc((size_t)(P * out) * sizeof *idx);                          \
        for (ptrdiff_t i = 0; i < P * in; i++)                                           \
            x[i] = (T)value();                                                           \
        cc_adaptive_max_pool3d_##SFX(P, D, H, W, Do, Ho, Wo, x, y, idx, nt);             \
        int okm = guard_intact_##SFX(y, P * out), oka = 1;                                     \
        T *ya = nan_buffer_##SFX(P * out);                                                   \
        cc_adaptive_avg_pool3d_##SFX(P, D, H, W, Do, Ho, Wo, x, ya, nt);                 \
        oka = guard_intact_##SFX(ya, P * out);                                                 \
        for (ptrdiff_t p = 0, o = 0; p < P; p++)                                         \
            for (ptrdiff_t od = 0; od < Do; od++)                                        \
                for (ptrdiff_t oh = 0; oh < Ho; oh++)                                    \
                    for (ptrdiff_t ow = 0; ow < Wo; ow++, o++) {                         \
                        ptrdiff_t d0 = od * D / Do, d1 = ((od + 1) * D + Do - 1) / Do;   \
                        ptrdiff_t h0 = oh * H / Ho, h1 = ((oh + 1) * H + Ho - 1) / Ho;   \
                        ptrdiff_t w0 = ow * W / Wo, w1 = ((ow + 1) * W + Wo - 1) / Wo;   \
                        double best = -INFINITY, sum = 0;                                \
                        int64_t at = (d0 * H + h0) * W + w0;                             \
                        for (ptrdiff_t id = d0; id < d1; id++)                           \
                            for (ptrdiff_t ih = h0; ih < h1; ih++)                       \
                                for (ptrdiff_t iw = w0; iw < w1; iw++) {                 \
                                    ptrdiff_t f = (id * H + ih) * W + iw;                \
                                    double v = (double)x[p * in + f];                    \
                                    sum += v;                                            \
                                    if (v > best || v != v) {                            \
                                        best = v;                                        \
                                        at = f;                                          \
                                    }                                                    \
                                }                                                        \
                        okm = okm && same((double)y[o], best) && idx[o] == at;           \
                        T want = (T)sum / (T)((d1 - d0) * (h1 - h0) * (w1 - w0));        \
                        oka = oka && same((double)ya[o], (double)want);                  \
                    }                                                                    \
        check(okm, "adaptive max pool 3-D " #SFX, simd, nt);                             \
        check(oka, "adaptive avg pool 3-D " #SFX, simd, nt);                             \
        /* unpool the maxima back into an (in)-sized plane at the indices */             \
        T *u = nan_buffer_##SFX(P * in);                                                     \
        cc_max_unpool_##SFX(P, out, in, y, idx, u, nt);                                  \
        int oku = guard_intact_##SFX(u, P * in);                                               \
        for (ptrdiff_t p = 0; p < P && oku; p++) {                                       \
            double *want = calloc((size_t)in, sizeof *want);                             \
            for (ptrdiff_t o = 0; o < out; o++)                                          \
                want[idx[p * out + o]] = (double)y[p * out + o];                         \
            for (ptrdiff_t f = 0; f < in; f++)                                           \
                oku = oku && same((double)u[p * in + f], want[f]);                       \
            free(want);                                                                  \
        }                                                                                \
        check(oku, "max unpool " #SFX, simd, nt);                                        \
        free(x); free(y); free(ya); free(idx); free(u);                                  \
    }

DEFINE_BUFFERS(float, f32)
DEFINE_BUFFERS(double, f64)
DEFINE_CHECKS(float, f32)
DEFINE_CHECKS(double, f64)

/* A random 3-D geometry with a non-empty output and no window wholly in the padding;
 * one case in three is one of the compiled-in windows (2x2x2/2, 3x3x3/2 p0/p1, and in
 * 2-D 2x2/2, 3x3/2 and 3x3/1), wide enough for vector loops over the row interiors. */
static void random_geometry(cc_pool2d_geometry *g, int *ceil_mode)
{
    for (;;) {
        /* one case in four has 17 or 33 planes: channels-last rows then run the vector
         * loops of every level (up to AVX-512's 16 floats) and a remainder */
        g->planes = pick(0, 3) == 0 ? (pick(0, 1) ? 17 : 33) : pick(1, 4);
        g->D = pick(1, 7);
        g->H = pick(1, 9);
        g->W = pick(1, 40);
        g->kd = pick(1, 4); g->kh = pick(1, 5); g->kw = pick(1, 5);
        g->sd = pick(1, 3); g->sh = pick(1, 3); g->sw = pick(1, 3);
        g->dd = pick(1, 2); g->dh = pick(1, 2); g->dw = pick(1, 2);
        if (pick(0, 2) == 0) {
            ptrdiff_t k = pick(2, 3);
            g->kd = g->kh = g->kw = k;
            g->sd = g->sh = g->sw = 2;
            g->dd = g->dh = g->dw = 1;
            g->D += 3; g->H += 3; g->W += pick(16, 70);
            if (pick(0, 2) == 0) {  /* 2-D, and 3x3/1 */
                g->D = g->kd = g->sd = 1;
                if (k == 3 && pick(0, 1))
                    g->sh = g->sw = 1;
            }
        }
        g->pd = pick(0, g->kd / 2); g->ph = pick(0, g->kh / 2); g->pw = pick(0, g->kw / 2);
        *ceil_mode = (int)pick(0, 1);
        g->Dout = out_len(g->D, g->kd, g->sd, g->pd, g->dd, *ceil_mode);
        g->Hout = out_len(g->H, g->kh, g->sh, g->ph, g->dh, *ceil_mode);
        g->Wout = out_len(g->W, g->kw, g->sw, g->pw, g->dw, *ceil_mode);
        if (g->Dout >= 1 && g->Hout >= 1 && g->Wout >= 1)
            return;
    }
}

/* A depth window wholly in the padding (kd = 1, pd = 1: beyond what the Python layer
 * accepts, but the C API takes it): those outputs are -inf, the others the 2-D maxima. */
static void check_depth_window_in_padding(const char *simd, int nt)
{
    cc_pool2d_geometry g;
    memset(&g, 0, sizeof g);
    g.planes = 2; g.D = 2; g.H = 6; g.W = 7;
    g.kd = 1; g.kh = 3; g.kw = 3; g.sd = g.sh = g.sw = 1; g.dd = g.dh = g.dw = 1;
    g.pd = 1;
    g.Dout = 4; g.Hout = 4; g.Wout = 5;
    float x[2 * 2 * 6 * 7], y[2 * 4 * 4 * 5];
    for (int i = 0; i < 2 * 2 * 6 * 7; i++)
        x[i] = (float)value();
    for (int i = 0; i < 2 * 4 * 4 * 5; i++)
        y[i] = NAN;
    cc_max_pool2d_f32(&g, x, y, NULL, nt);
    int ok = 1;
    for (int p = 0; p < 2; p++)
        for (int od = 0; od < 4; od++)
            for (int oh = 0; oh < 4; oh++)
                for (int ow = 0; ow < 5; ow++) {
                    double want = -INFINITY;
                    if (od == 1 || od == 2)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                double v = x[((p * 2 + od - 1) * 6 + oh + i) * 7 + ow + j];
                                if (v > want || v != v)
                                    want = v;
                            }
                    ok = ok && same((double)y[((p * 4 + od) * 4 + oh) * 5 + ow], want);
                }
    check(ok, "max pool, depth window in the padding", simd, nt);
}

int main(void)
{
    const cc_simd_level detected = cc_simd_detect();
    const int threads[] = {1, 3};
    for (int l = 0; l <= (int)detected; l++) {
        cc_simd_force((cc_simd_level)l);
        const char *simd = cc_simd_name(cc_simd_active());
        for (int c = 0; c < 60; c++) {
            cc_pool2d_geometry g;
            int ceil_mode;
            random_geometry(&g, &ceil_mode);
            const ptrdiff_t nx = g.planes * g.D * g.H * g.W;
            double *xd = malloc((size_t)nx * sizeof *xd);
            for (ptrdiff_t i = 0; i < nx; i++)
                xd[i] = value();
            int cip = (int)pick(0, 1);
            ptrdiff_t dov = pick(0, 3) == 0 ? pick(1, 30) : 0;
            for (int t = 0; t < 2; t++) {
                check_case_f32(&g, xd, cip, dov, simd, threads[t]);
                check_case_f64(&g, xd, cip, dov, simd, threads[t]);
            }
            free(xd);
        }
        for (int t = 0; t < 2; t++)
            check_depth_window_in_padding(simd, threads[t]);
        for (int c = 0; c < 20; c++)
            for (int t = 0; t < 2; t++) {
                check_adaptive_unpool_f32(simd, threads[t]);
                check_adaptive_unpool_f64(simd, threads[t]);
            }
    }
    cc_simd_force(detected);
    printf("pool: %d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
