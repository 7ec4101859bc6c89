/* Winograd kernels against a naive direct convolution, at every SIMD level this CPU
 * has, float and double, F(4x4,3x3) and F(6x6,3x3), 2-D and one-row geometries, and
 * the planes of 3-D layers through the strided layout, and the weight gradient (its
 * products on the level's GEMM tile); and the stride-2 polyphase route. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

#include "driver/conv_s2w.h"
#include "winograd.h"

static double reference(const cc_conv2d_geometry *g, const double *x, const double *w,
                        const double *b, ptrdiff_t n, ptrdiff_t k, ptrdiff_t i, ptrdiff_t j)
{
    ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups, grp = k / Kg;
    double s = b ? b[k] : 0;
    for (ptrdiff_t c = 0; c < Cg; c++)
        for (ptrdiff_t r = 0; r < g->R; r++)
            for (ptrdiff_t q = 0; q < g->S; q++) {
                ptrdiff_t h = i - g->pad_top + r, v = j - g->pad_left + q;
                if (h < 0 || h >= g->H || v < 0 || v >= g->W)
                    continue;
                s += x[((n * g->C + grp * Cg + c) * g->H + h) * g->W + v] *
                     w[((k * Cg + c) * g->R + r) * g->S + q];
            }
    return s;
}

static int check(cc_conv2d_geometry g, int m, int n_threads)
{
    ptrdiff_t Cg = g.C / g.groups, Kg = g.K / g.groups;
    ptrdiff_t nx = g.N * g.C * g.H * g.W, nw = g.K * Cg * g.R * g.S;
    ptrdiff_t ny = g.N * g.K * g.Hout * g.Wout;
    ptrdiff_t aa = g.R == 1 ? m + 2 : (m + 2) * (m + 2);
    ptrdiff_t ws = cc_winograd_workspace_per_thread(&g, m, sizeof(double)) * n_threads;
    /* float64 with U packed for the GEMM tile, float32 with the plain rows (kb 1) */
    const ptrdiff_t kb = cc_winograd_u_block(), Kp = (Kg + kb - 1) / kb * kb;
    double *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc(g.K * sizeof *b);
    double *y = malloc(ny * sizeof *y), *u = malloc(g.groups * aa * Kp * Cg * sizeof *u);
    double *work = malloc(ws * sizeof *work);
    float *xf = malloc(nx * sizeof *xf), *wf = malloc(nw * sizeof *wf);
    float *bf = malloc(g.K * sizeof *bf);
    float *yf = malloc(ny * sizeof *yf), *uf = malloc(g.groups * aa * Kg * Cg * sizeof *uf);
    float *workf = malloc(cc_winograd_workspace_per_thread(&g, m, sizeof(float)) * n_threads *
                          sizeof *workf);
    for (ptrdiff_t i = 0; i < nx; i++)
        xf[i] = (float)(x[i] = (double)rand() / RAND_MAX - 0.5);
    for (ptrdiff_t i = 0; i < nw; i++)
        wf[i] = (float)(w[i] = (double)rand() / RAND_MAX - 0.5);
    for (ptrdiff_t i = 0; i < g.K; i++)
        bf[i] = (float)(b[i] = (double)rand() / RAND_MAX - 0.5);
    for (ptrdiff_t i = 0; i < ny; i++)
        y[i] = yf[i] = NAN;  /* an unwritten output fails */
    cc_winograd_weights_f64(m, g.K, Cg, g.groups, g.R, w, u, kb, n_threads);
    cc_winograd_weights_f32(m, g.K, Cg, g.groups, g.R, wf, uf, 1, n_threads);
    cc_conv2d_winograd_f64(&g, m, x, u, kb, b, y, work, n_threads);
    cc_conv2d_winograd_f32(&g, m, xf, uf, 1, bf, yf, workf, n_threads);
    double err64 = 0, err32 = 0, scale = 1e-300;
    for (ptrdiff_t n = 0; n < g.N; n++)
        for (ptrdiff_t k = 0; k < g.K; k++)
            for (ptrdiff_t i = 0; i < g.Hout; i++)
                for (ptrdiff_t j = 0; j < g.Wout; j++) {
                    ptrdiff_t o = ((n * g.K + k) * g.Hout + i) * g.Wout + j;
                    double r = reference(&g, x, w, b, n, k, i, j);
                    double e64 = fabs(y[o] - r), e32 = fabs((double)yf[o] - r);
                    if (!(e64 == e64) || !(e32 == e32))
                        e64 = e32 = INFINITY;
                    err64 = e64 > err64 ? e64 : err64;
                    err32 = e32 > err32 ? e32 : err32;
                    scale = fabs(r) > scale ? fabs(r) : scale;
                }
    int ok = err64 / scale < 1e-12 && err32 / scale < 1e-4;
    if (!ok)
        printf("FAIL m=%d N=%td C=%td H=%td W=%td K=%td R=%td groups=%td pad=%td,%td: "
               "rel err f64 %.3g f32 %.3g\n", m, g.N, g.C, g.H, g.W, g.K, g.R, g.groups,
               g.pad_top, g.pad_left, err64 / scale, err32 / scale);
    free(x); free(w); free(b); free(y); free(u); free(work);
    free(xf); free(wf); free(bf); free(yf); free(uf); free(workf);
    return ok;
}

/* A 3-D layer (N, C, D, H, W) * (K, C, T, 3, 3), no depth padding, through
 * cc_conv_winograd_strided_f64: its planes as one 2-D layer of N Dout images and C T
 * channels, against a naive 3-D sum. */
static int check_planes(ptrdiff_t N, ptrdiff_t C, ptrdiff_t D, ptrdiff_t H, ptrdiff_t W,
                        ptrdiff_t K, ptrdiff_t T, ptrdiff_t pad, int m, int n_threads,
                        int tiles)
{
    const ptrdiff_t Dout = D - T + 1, Ho = H + 2 * pad - 2, Wo = W + 2 * pad - 2;
    const cc_conv2d_geometry g = {N * Dout, C * T, H, W, K, 3, 3, 1, 1, 1, 1, 1,
                                  pad, pad, Ho, Wo, CC_PAD_ZEROS};
    /* tiles: declare a reach beyond int32, which takes the tile-by-tile stages */
    const cc_wg_layout lay = {Dout, T, C * D * H * W, H * W, D * H * W, H * W,
                              K * Dout * Ho * Wo, Ho * Wo, Dout * Ho * Wo,
                              tiles ? INT32_MAX : N * C * D * H * W,
                              tiles ? INT32_MAX : N * K * Dout * Ho * Wo, Wo, 1, NULL};
    const ptrdiff_t nx = N * C * D * H * W, nw = K * C * T * 9, ny = N * K * Dout * Ho * Wo;
    const ptrdiff_t aa = (m + 2) * (m + 2);
    const ptrdiff_t ws = cc_winograd_workspace_per_thread(&g, m, sizeof(double)) * n_threads;
    double *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *y = malloc(ny * sizeof *y);
    const ptrdiff_t kb = cc_winograd_u_block(), Kp = (K + kb - 1) / kb * kb;
    double *u = malloc(aa * Kp * C * T * sizeof *u), *work = malloc(ws * sizeof *work);
    for (ptrdiff_t i = 0; i < nx; i++)
        x[i] = (double)rand() / RAND_MAX - 0.5;
    for (ptrdiff_t i = 0; i < nw; i++)
        w[i] = (double)rand() / RAND_MAX - 0.5;
    for (ptrdiff_t i = 0; i < ny; i++)
        y[i] = NAN;  /* an unwritten output fails */
    cc_winograd_weights_f64(m, K, C * T, 1, 3, w, u, kb, n_threads);
    cc_conv_winograd_strided_f64(&g, &lay, m, x, u, kb, NULL, y, work, 0, PTRDIFF_MAX,
                                 n_threads);
    double err = 0, scale = 1e-300;
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t k = 0; k < K; k++)
            for (ptrdiff_t d = 0; d < Dout; d++)
                for (ptrdiff_t i = 0; i < Ho; i++)
                    for (ptrdiff_t j = 0; j < Wo; j++) {
                        double r = 0;
                        for (ptrdiff_t c = 0; c < C; c++)
                            for (ptrdiff_t t = 0; t < T; t++)
                                for (ptrdiff_t a = 0; a < 3; a++)
                                    for (ptrdiff_t q = 0; q < 3; q++) {
                                        ptrdiff_t h = i - pad + a, v = j - pad + q;
                                        if (h < 0 || h >= H || v < 0 || v >= W)
                                            continue;
                                        r += x[(((n * C + c) * D + d + t) * H + h) * W + v] *
                                             w[(((k * C + c) * T + t) * 3 + a) * 3 + q];
                                    }
                        double got = y[(((n * K + k) * Dout + d) * Ho + i) * Wo + j];
                        double e = got == got ? fabs(got - r) : INFINITY;
                        err = e > err ? e : err;
                        scale = fabs(r) > scale ? fabs(r) : scale;
                    }
    int ok = err / scale < 1e-12;
    if (!ok)
        printf("FAIL planes m=%d N=%td C=%td D=%td H=%td W=%td K=%td T=%td pad=%td tiles=%d: "
               "rel err %.3g\n", m, N, C, D, H, W, K, T, pad, tiles, err / scale);
    free(x); free(w); free(y); free(u); free(work);
    return ok;
}

/* A 2-D layer of P * P * Kc output channels written interleaved (y_row, y_col, y_koff):
 * channel (p, q, k) of output (i, j) lands at row i * P + p, column j * P + q of channel
 * k of a (N, Kc, Ho * P, Wo * P) array, as a strided transposed convolution's phases
 * do.  Every element is written once (the array starts NaN), against a naive sum. */
static int check_interleaved(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t Kc,
                             ptrdiff_t P, ptrdiff_t pad, int m, int n_threads, int tiles)
{
    const ptrdiff_t K = P * P * Kc, Ho = H + 2 * pad - 2, Wo = W + 2 * pad - 2;
    const ptrdiff_t Yh = Ho * P, Yw = Wo * P;
    const cc_conv2d_geometry g = {N, C, H, W, K, 3, 3, 1, 1, 1, 1, 1,
                                  pad, pad, Ho, Wo, CC_PAD_ZEROS};
    ptrdiff_t *koff = malloc(K * sizeof *koff);
    for (ptrdiff_t k = 0; k < K; k++) {
        const ptrdiff_t ph = k / Kc, kc = k % Kc;
        koff[k] = kc * Yh * Yw + ph / P * Yw + ph % P;
    }
    const cc_wg_layout lay = {1, 1, C * H * W, 0, H * W, 0, Kc * Yh * Yw, 0, 0,
                              tiles ? INT32_MAX : N * C * H * W,
                              tiles ? INT32_MAX : N * Kc * Yh * Yw, P * Yw, P, koff};
    const ptrdiff_t nx = N * C * H * W, nw = K * C * 9, ny = N * Kc * Yh * Yw;
    const ptrdiff_t aa = (m + 2) * (m + 2);
    const ptrdiff_t ws = cc_winograd_workspace_per_thread(&g, m, sizeof(double)) * n_threads;
    double *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *y = malloc(ny * sizeof *y);
    const ptrdiff_t kb = cc_winograd_u_block(), Kp = (K + kb - 1) / kb * kb;
    double *u = malloc(aa * Kp * C * sizeof *u), *work = malloc(ws * sizeof *work);
    double bias[64];
    for (ptrdiff_t i = 0; i < nx; i++)
        x[i] = (double)rand() / RAND_MAX - 0.5;
    for (ptrdiff_t i = 0; i < nw; i++)
        w[i] = (double)rand() / RAND_MAX - 0.5;
    for (ptrdiff_t k = 0; k < K && k < 64; k++)
        bias[k] = k;
    for (ptrdiff_t i = 0; i < ny; i++)
        y[i] = NAN;
    cc_winograd_weights_f64(m, K, C, 1, 3, w, u, kb, n_threads);
    /* in two ranges of work items, as the Python bridge runs them between Ctrl-C checks */
    const ptrdiff_t items = cc_winograd_work_items(&g, m, sizeof(double));
    cc_conv_winograd_strided_f64(&g, &lay, m, x, u, kb, bias, y, work, 0, items / 2,
                                 n_threads);
    cc_conv_winograd_strided_f64(&g, &lay, m, x, u, kb, bias, y, work, items / 2, items,
                                 n_threads);
    double err = 0, scale = 1e-300;
    for (ptrdiff_t n = 0; n < N; n++)
        for (ptrdiff_t k = 0; k < K; k++)
            for (ptrdiff_t i = 0; i < Ho; i++)
                for (ptrdiff_t j = 0; j < Wo; j++) {
                    double r = bias[k];
                    for (ptrdiff_t c = 0; c < C; c++)
                        for (ptrdiff_t a = 0; a < 3; a++)
                            for (ptrdiff_t q = 0; q < 3; q++) {
                                ptrdiff_t h = i - pad + a, v = j - pad + q;
                                if (h >= 0 && h < H && v >= 0 && v < W)
                                    r += x[((n * C + c) * H + h) * W + v] *
                                         w[((k * C + c) * 3 + a) * 3 + q];
                            }
                    const ptrdiff_t ph = k / Kc, kc = k % Kc;
                    double got = y[((n * Kc + kc) * Yh + i * P + ph / P) * Yw + j * P + ph % P];
                    double e = got == got ? fabs(got - r) : INFINITY;
                    err = e > err ? e : err;
                    scale = fabs(r) > scale ? fabs(r) : scale;
                }
    int ok = err / scale < 1e-12;
    if (!ok)
        printf("FAIL interleaved m=%d N=%td C=%td H=%td W=%td Kc=%td P=%td pad=%td tiles=%d: "
               "rel err %.3g\n", m, N, C, H, W, Kc, P, pad, tiles, err / scale);
    free(x); free(w); free(y); free(u); free(work); free(koff);
    return ok;
}

/* The weight gradient of a 3x3 stride-1 layer (groups, padding) in nparts parts run in
 * two calls (parts [0, split) then the rest), against a naive double sum of grad_output
 * times the input windows. */
static int check_grad_weight(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t K,
                             ptrdiff_t groups, ptrdiff_t pad, ptrdiff_t nparts, int n_threads)
{
    const ptrdiff_t Ho = H + 2 * pad - 2, Wo = W + 2 * pad - 2, Cg = C / groups, Kg = K / groups;
    const cc_conv2d_geometry g = {N, C, H, W, K, 3, 3, groups, 1, 1, 1, 1,
                                  pad, pad, Ho, Wo, CC_PAD_ZEROS};
    const ptrdiff_t nx = N * C * H * W, ny = N * K * Ho * Wo, nparts_all = groups * nparts;
    const ptrdiff_t ws = cc_winograd_grad_workspace_per_thread(&g, sizeof(double)) * n_threads;
    double *x = malloc(nx * sizeof *x), *go = malloc(ny * sizeof *go);
    double *parts = malloc(nparts_all * 36 * Kg * Cg * sizeof *parts);
    double *dw = malloc(K * Cg * 9 * sizeof *dw), *work = malloc(ws * sizeof *work);
    for (ptrdiff_t i = 0; i < nx; i++)
        x[i] = (double)rand() / RAND_MAX - 0.5;
    for (ptrdiff_t i = 0; i < ny; i++)
        go[i] = (double)rand() / RAND_MAX - 0.5;
    for (ptrdiff_t i = 0; i < nparts_all * 36 * Kg * Cg; i++)
        parts[i] = NAN; /* a part left unwritten fails */
    for (ptrdiff_t i = 0; i < K * Cg * 9; i++)
        dw[i] = NAN;
    const ptrdiff_t split = nparts_all / 2;
    cc_winograd_grad_weight_parts_f64(&g, x, go, parts, nparts, 0, split, work, n_threads);
    cc_winograd_grad_weight_parts_f64(&g, x, go, parts, nparts, split, nparts_all, work,
                                      n_threads);
    double *acc = malloc(n_threads * 36 * Cg * sizeof *acc);
    cc_winograd_grad_weight_finish_f64(K, Cg, groups, nparts, parts, dw, acc, n_threads);
    double err = 0, scale = 1e-300;
    for (ptrdiff_t k = 0; k < K; k++)
        for (ptrdiff_t c = 0; c < Cg; c++)
            for (ptrdiff_t a = 0; a < 3; a++)
                for (ptrdiff_t q = 0; q < 3; q++) {
                    double r = 0;
                    const ptrdiff_t ci = k / Kg * Cg + c;
                    for (ptrdiff_t n = 0; n < N; n++)
                        for (ptrdiff_t i = 0; i < Ho; i++)
                            for (ptrdiff_t j = 0; j < Wo; j++) {
                                ptrdiff_t h = i - pad + a, v = j - pad + q;
                                if (h >= 0 && h < H && v >= 0 && v < W)
                                    r += go[((n * K + k) * Ho + i) * Wo + j] *
                                         x[((n * C + ci) * H + h) * W + v];
                            }
                    double got = dw[((k * Cg + c) * 3 + a) * 3 + q];
                    double e = got == got ? fabs(got - r) : INFINITY;
                    err = e > err ? e : err;
                    scale = fabs(r) > scale ? fabs(r) : scale;
                }
    const int ok = err / scale < 1e-12;
    if (!ok)
        printf("FAIL grad_weight N=%td C=%td H=%td W=%td K=%td groups=%td pad=%td parts=%td "
               "threads=%d: rel err %.3g\n", N, C, H, W, K, groups, pad, nparts, n_threads,
               err / scale);
    free(x); free(go); free(parts); free(dw); free(work); free(acc);
    return ok;
}

/* The stride-2 polyphase route (driver/conv_s2w.h) against a naive stride-2 sum, in
 * float and double, any padding mode (the padding read through cc_pad_index), with the
 * output poisoned with NaN first. */
static double reference_s2(const cc_conv2d_geometry *g, const double *x, const double *w,
                           const double *b, ptrdiff_t n, ptrdiff_t k, ptrdiff_t i, ptrdiff_t j)
{
    ptrdiff_t Cg = g->C / g->groups, Kg = g->K / g->groups, grp = k / Kg;
    double s = b[k];
    for (ptrdiff_t c = 0; c < Cg; c++)
        for (ptrdiff_t r = 0; r < 3; r++)
            for (ptrdiff_t q = 0; q < 3; q++) {
                ptrdiff_t h = cc_pad_index(2 * i - g->pad_top + r, g->H, g->pad_mode);
                ptrdiff_t v = cc_pad_index(2 * j - g->pad_left + q, g->W, g->pad_mode);
                if (h < 0 || v < 0)
                    continue;
                s += x[((n * g->C + grp * Cg + c) * g->H + h) * g->W + v] *
                     w[((k * Cg + c) * 3 + r) * 3 + q];
            }
    return s;
}

static int check_s2w(cc_conv2d_geometry g, int n_threads)
{
    const ptrdiff_t Cg = g.C / g.groups, nx = g.N * g.C * g.H * g.W, nw = g.K * Cg * 9;
    const ptrdiff_t ny = g.N * g.K * g.Hout * g.Wout, kb = cc_s2w_kb();
    const ptrdiff_t items = cc_s2w_items(&g, sizeof(double));
    const ptrdiff_t ws = cc_s2w_workspace_per_thread(&g) * n_threads;
    double *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc(g.K * sizeof *b);
    double *y = malloc(ny * sizeof *y), *wt = malloc(cc_s2w_weights_size(&g, kb) * sizeof *wt);
    double *work = malloc(ws * sizeof *work);
    float *xf = malloc(nx * sizeof *xf), *wf = malloc(nw * sizeof *wf);
    float *bf = malloc(g.K * sizeof *bf), *yf = malloc(ny * sizeof *yf);
    float *wtf = malloc(cc_s2w_weights_size(&g, kb) * sizeof *wtf);
    float *workf = malloc(ws * sizeof *workf);
    for (ptrdiff_t i = 0; i < nx; i++)
        xf[i] = (float)(x[i] = (double)((i * 7919) % 23) / 11.0 - 1.0);
    for (ptrdiff_t i = 0; i < nw; i++)
        wf[i] = (float)(w[i] = (double)((i * 104729) % 19) / 9.0 - 1.0);
    for (ptrdiff_t k = 0; k < g.K; k++)
        bf[k] = (float)(b[k] = 0.25 * (double)(k % 5));
    for (ptrdiff_t i = 0; i < ny; i++)
        yf[i] = (float)(y[i] = NAN);
    cc_s2w_weights_f64(&g, w, wt, kb);
    cc_s2w_weights_f32(&g, wf, wtf, kb);
    int ok = cc_conv_s2w_f64(&g, x, wt, kb, b, y, work, 0, items, n_threads) == 0 &&
             cc_conv_s2w_f32(&g, xf, wtf, kb, bf, yf, workf, 0,
                             cc_s2w_items(&g, sizeof(float)), n_threads) == 0;
    double err = 0, errf = 0, scale = 1;
    for (ptrdiff_t n = 0; n < g.N && ok; n++)
        for (ptrdiff_t k = 0; k < g.K; k++)
            for (ptrdiff_t i = 0; i < g.Hout; i++)
                for (ptrdiff_t j = 0; j < g.Wout; j++) {
                    const double r = reference_s2(&g, x, w, b, n, k, i, j);
                    const ptrdiff_t at = ((n * g.K + k) * g.Hout + i) * g.Wout + j;
                    err = fmax(err, isfinite(y[at]) ? fabs(y[at] - r) : INFINITY);
                    errf = fmax(errf, isfinite(yf[at]) ? fabs(yf[at] - r) : INFINITY);
                    scale = fmax(scale, fabs(r));
                }
    ok = ok && err <= 1e-13 * scale && errf <= 1e-5 * scale;
    if (!ok)
        printf("stride-2 winograd FAILED: N%td C%td K%td %tdx%td groups %td mode %d, %s, %d "
               "threads: error %g / %g of %g\n", g.N, g.C, g.K, g.H, g.W, g.groups, g.pad_mode,
               cc_simd_name(cc_simd_active()), n_threads, err, errf, scale);
    free(x), free(w), free(b), free(y), free(wt), free(work);
    free(xf), free(wf), free(bf), free(yf), free(wtf), free(workf);
    return ok;
}

int main(void)
{
    /* N, C, H, W, K, R, S, groups, sh, sw, dh, dw, pad_top, pad_left, Hout, Wout, mode */
    const cc_conv2d_geometry cases[] = {
        {2, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 9, 11, CC_PAD_ZEROS},
        {1, 4, 7, 70, 6, 3, 3, 2, 1, 1, 1, 1, 0, 2, 5, 72, CC_PAD_ZEROS},
        {3, 2, 20, 37, 2, 3, 3, 1, 1, 1, 1, 1, 2, 0, 20, 35, CC_PAD_ZEROS},
        {1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, CC_PAD_ZEROS},
        {2, 6, 1, 100, 3, 1, 3, 3, 1, 1, 1, 1, 0, 1, 1, 100, CC_PAD_ZEROS},
    };
    int failures = 0, total = 0;
    cc_simd_level best = cc_simd_detect();
    for (int level = CC_SIMD_GENERIC; level <= (int)best; level++) {
        cc_simd_force((cc_simd_level)level);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            for (int m = 4; m <= 6; m += 2)
                for (int t = 1; t <= 2; t++) {
                    total++;
                    failures += !check(cases[c], m, t);
                }
    }
    for (int level = CC_SIMD_GENERIC; level <= (int)best; level++) {
        cc_simd_force((cc_simd_level)level);
        for (int t = 1; t <= 2; t++)  /* planes across images, taps, and row groups */
            for (int tiles = 0; tiles <= 1; tiles++) {
                total += 6;
                failures += !check_planes(2, 3, 5, 9, 13, 4, 3, 1, 4, t, tiles);
                failures += !check_planes(1, 2, 4, 6, 75, 3, 2, 0, 4, t, tiles);
                failures += !check_planes(1, 2, 3, 7, 8, 5, 1, 1, 6, t, tiles);
                failures += !check_interleaved(2, 3, 9, 13, 3, 2, 1, 4, t, tiles);
                failures += !check_interleaved(1, 2, 8, 70, 2, 2, 1, 4, t, tiles);
                failures += !check_interleaved(1, 4, 6, 7, 2, 3, 0, 6, t, tiles);
            }
    }
    for (int level = CC_SIMD_GENERIC; level <= (int)best; level++) {
        cc_simd_force((cc_simd_level)level);
        for (int t = 1; t <= 3; t += 2) { /* blocks across images and tile rows, edges */
            total += 6;
            failures += !check_grad_weight(2, 3, 9, 13, 4, 1, 1, 1, t);
            failures += !check_grad_weight(2, 64, 40, 40, 64, 1, 1, 2, t); /* 7 blocks */
            failures += !check_grad_weight(3, 4, 23, 70, 6, 2, 0, 3, t);
            failures += !check_grad_weight(1, 2, 5, 6, 3, 1, 2, 2, t);
            failures += !check_grad_weight(2, 6, 31, 17, 6, 3, 1, 4, t);
            /* products of more than one block of rows and of columns */
            failures += !check_grad_weight(1, 260, 6, 7, 280, 1, 1, 1, t);
        }
    }
    /* N, C, H, W, K, R, S, groups, sh, sw, dh, dw, pad_top, pad_left, Hout, Wout, mode */
    const cc_conv2d_geometry s2[] = {
        {2, 3, 30, 47, 5, 3, 3, 1, 2, 2, 1, 1, 1, 1, 15, 24, CC_PAD_ZEROS},
        {1, 4, 9, 600, 6, 3, 3, 2, 2, 2, 1, 1, 0, 2, 4, 300, CC_PAD_ZEROS},
        {3, 2, 5, 5, 7, 3, 3, 1, 2, 2, 1, 1, 1, 1, 3, 3, CC_PAD_REFLECT},
        {1, 3, 17, 21, 6, 3, 3, 3, 2, 2, 1, 1, 2, 1, 9, 11, CC_PAD_CIRCULAR},
        {2, 2, 12, 13, 3, 3, 3, 1, 2, 2, 1, 1, 1, 0, 6, 6, CC_PAD_REPLICATE},
        {1, 1, 1, 1, 1, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, CC_PAD_ZEROS},
    };
    for (int level = CC_SIMD_GENERIC; level <= (int)best; level++) {
        cc_simd_force((cc_simd_level)level);
        for (size_t c = 0; c < sizeof s2 / sizeof s2[0]; c++)
            for (int t = 1; t <= 2; t++) {
                total++;
                failures += !check_s2w(s2[c], t);
            }
    }
    printf("winograd: %d of %d checks passed (SIMD levels up to %s)\n", total - failures, total,
           cc_simd_name(best));
    return failures != 0;
}
