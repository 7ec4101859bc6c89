/* Peak probes: FMA throughput per SIMD level and STREAM-triad memory bandwidth.
 *
 * The FMA loops keep more independent accumulator chains than (FMA latency x FMA
 * units): 4 cycles x 2 units = 8 chains saturate current x86 cores, so 16 zmm chains
 * (of 32 registers) and 12 ymm chains (of 16) leave the loop bound by throughput, not
 * latency.  Each chain is acc = acc * m + a with 0 < m < 1, which converges to a / (1 - m)
 * and so never overflows or turns subnormal (subnormals would be slow on some cores).
 * The per-ISA loops are compiled with a target attribute and chosen at run time by the
 * same dispatch as the kernels (cc_simd_active).
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#endif
#include <stddef.h>
#include <time.h>

#include "cc_omp.h"
#include "convcore.h"
#include "peak_probe.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CC_PEAK_X86 1
#endif

#ifdef _OPENMP
#define CC_PEAK_TEAM_SIZE() omp_get_num_threads()
#else
#define CC_PEAK_TEAM_SIZE() 1
#endif

static double now_seconds(void)
{
#ifdef _OPENMP
    return omp_get_wtime();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

/* One FMA loop: `iterations` steps of every chain; returns a value that depends on all
 * of them (so nothing is optimised away) and sets *flops to the flops done. */
typedef double (*fma_loop_fn)(long iterations, double *flops);

#define REPEAT4(X, o) X(o + 0) X(o + 1) X(o + 2) X(o + 3)
#define REPEAT8(X) REPEAT4(X, 0) REPEAT4(X, 4)
#define REPEAT12(X) REPEAT8(X) REPEAT4(X, 8)
#define REPEAT16(X) REPEAT12(X) REPEAT4(X, 12)

#ifdef CC_PEAK_X86
#define CC_FMA512_CHAINS 16
#define CC_FMA256_CHAINS 12

__attribute__((target("avx512f"))) static double fma_avx512_f32(long iterations,
                                                                 double *flops)
{
    __m512 acc[CC_FMA512_CHAINS];
    const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(1e-3f);
    for (int i = 0; i < CC_FMA512_CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
#define STEP(i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
        REPEAT16(STEP)
#undef STEP
    }
    __m512 sum = acc[0];
    for (int i = 1; i < CC_FMA512_CHAINS; i++)
        sum = _mm512_add_ps(sum, acc[i]);
    *flops = 2.0 * 16 * CC_FMA512_CHAINS * (double)iterations;
    return (double)_mm512_reduce_add_ps(sum);
}

__attribute__((target("avx512f"))) static double fma_avx512_f64(long iterations,
                                                                 double *flops)
{
    __m512d acc[CC_FMA512_CHAINS];
    const __m512d m = _mm512_set1_pd(0.999), a = _mm512_set1_pd(1e-3);
    for (int i = 0; i < CC_FMA512_CHAINS; i++)
        acc[i] = _mm512_set1_pd((double)i);
    for (long it = 0; it < iterations; it++) {
#define STEP(i) acc[i] = _mm512_fmadd_pd(acc[i], m, a);
        REPEAT16(STEP)
#undef STEP
    }
    __m512d sum = acc[0];
    for (int i = 1; i < CC_FMA512_CHAINS; i++)
        sum = _mm512_add_pd(sum, acc[i]);
    *flops = 2.0 * 8 * CC_FMA512_CHAINS * (double)iterations;
    return _mm512_reduce_add_pd(sum);
}

__attribute__((target("avx2,fma"))) static double fma_avx2_f32(long iterations, double *flops)
{
    __m256 acc[CC_FMA256_CHAINS];
    const __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(1e-3f);
    for (int i = 0; i < CC_FMA256_CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iterations; it++) {
#define STEP(i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
        REPEAT12(STEP)
#undef STEP
    }
    __m256 sum = acc[0];
    for (int i = 1; i < CC_FMA256_CHAINS; i++)
        sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    *flops = 2.0 * 8 * CC_FMA256_CHAINS * (double)iterations;
    return (double)lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] +
           lanes[7];
}

__attribute__((target("avx2,fma"))) static double fma_avx2_f64(long iterations, double *flops)
{
    __m256d acc[CC_FMA256_CHAINS];
    const __m256d m = _mm256_set1_pd(0.999), a = _mm256_set1_pd(1e-3);
    for (int i = 0; i < CC_FMA256_CHAINS; i++)
        acc[i] = _mm256_set1_pd((double)i);
    for (long it = 0; it < iterations; it++) {
#define STEP(i) acc[i] = _mm256_fmadd_pd(acc[i], m, a);
        REPEAT12(STEP)
#undef STEP
    }
    __m256d sum = acc[0];
    for (int i = 1; i < CC_FMA256_CHAINS; i++)
        sum = _mm256_add_pd(sum, acc[i]);
    double lanes[4];
    _mm256_storeu_pd(lanes, sum);
    *flops = 2.0 * 4 * CC_FMA256_CHAINS * (double)iterations;
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif /* CC_PEAK_X86 */

/* Portable: 16-byte GNU vectors (SSE2 on x86-64), a multiply and an add per step (one
 * FMA where the compiler contracts them); 2 flops per lane either way. */
#define CC_GENERIC_CHAINS 8
typedef float cc_peak_v4sf __attribute__((vector_size(16)));
typedef double cc_peak_v2df __attribute__((vector_size(16)));

#define CC_GENERIC_FMA(name, VT, T, LANES)                                           \
    static double name(long iterations, double *flops)                               \
    {                                                                                \
        VT acc[CC_GENERIC_CHAINS];                                                   \
        const VT zero = {0};                                                         \
        const VT m = zero + (T)0.999, a = zero + (T)1e-3;                            \
        for (int i = 0; i < CC_GENERIC_CHAINS; i++)                                  \
            acc[i] = zero + (T)i;                                                    \
        for (long it = 0; it < iterations; it++) {                                   \
            REPEAT8(STEP)                                                            \
        }                                                                            \
        double s = 0;                                                                \
        for (int i = 0; i < CC_GENERIC_CHAINS; i++)                                  \
            for (int l = 0; l < LANES; l++)                                          \
                s += (double)acc[i][l];                                              \
        *flops = 2.0 * LANES * CC_GENERIC_CHAINS * (double)iterations;               \
        return s;                                                                    \
    }
#define STEP(i) acc[i] = acc[i] * m + a;
CC_GENERIC_FMA(fma_generic_f32, cc_peak_v4sf, float, 4)
CC_GENERIC_FMA(fma_generic_f64, cc_peak_v2df, double, 2)
#undef STEP

/* Seconds for n_threads threads each running loop(iterations), started together after a
 * barrier and stopped when the last one ends; *flops = the flops of all threads. */
static double time_fma(fma_loop_fn loop, long iterations, int n_threads, double *flops,
                       volatile double *sink)
{
    double t0 = 0.0, t1 = 0.0, total = 0.0, one = 0.0;
#ifdef _OPENMP
    int team = 1;
#pragma omp parallel num_threads(n_threads) reduction(+ : total)
    {
#pragma omp single
        t0 = now_seconds(); /* the barrier after `single` starts every thread together */
        double f;
        total += loop(iterations, &f);
#pragma omp barrier
#pragma omp single
        t1 = now_seconds();
#pragma omp master
        {
            one = f;
            team = omp_get_num_threads();
        }
    }
    *flops = one * (double)team;
#else
    (void)n_threads;
    t0 = now_seconds();
    total = loop(iterations, &one);
    t1 = now_seconds();
    *flops = one;
#endif
    *sink += total;
    return t1 - t0;
}

static double peak_gflops(fma_loop_fn loop, int n_threads, double min_seconds)
{
    volatile double sink = 0.0;
    double flops = 0.0, seconds;
    long iterations = 1 << 12;
    /* Size the loop on one thread (each thread does the same work, and a team's start-up
     * on a busy machine would distort a short run): grow it until a run takes a quarter
     * of min_seconds, then scale it to min_seconds. */
    while ((seconds = time_fma(loop, iterations, 1, &flops, &sink)) < 0.25 * min_seconds &&
           iterations < (1L << 30))
        iterations *= 2;
    if (seconds < min_seconds) {
        double scale = min_seconds / (seconds > 1e-9 ? seconds : 1e-9);
        iterations = (long)((double)iterations * (scale < 64.0 ? scale : 64.0)) + 1;
    }
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        seconds = time_fma(loop, iterations, n_threads, &flops, &sink);
        double rate = flops / (seconds > 1e-12 ? seconds : 1e-12) / 1e9;
        if (rate > best)
            best = rate;
    }
    return best;
}

double cc_peak_fma_gflops_f32(int n_threads, double min_seconds)
{
    fma_loop_fn loop = fma_generic_f32;
#ifdef CC_PEAK_X86
    switch (cc_simd_active()) {
    case CC_SIMD_AVX512: loop = fma_avx512_f32; break;
    case CC_SIMD_AVX2: loop = fma_avx2_f32; break;
    default: break;
    }
#endif
    return peak_gflops(loop, n_threads, min_seconds);
}

double cc_peak_fma_gflops_f64(int n_threads, double min_seconds)
{
    fma_loop_fn loop = fma_generic_f64;
#ifdef CC_PEAK_X86
    switch (cc_simd_active()) {
    case CC_SIMD_AVX512: loop = fma_avx512_f64; break;
    case CC_SIMD_AVX2: loop = fma_avx2_f64; break;
    default: break;
    }
#endif
    return peak_gflops(loop, n_threads, min_seconds);
}

/* The elements [lo, hi) of the triad; restrict lets the compiler vectorise without
 * run-time overlap checks (the three thirds of the buffer never overlap). */
static void triad_range(double *restrict a, const double *restrict b, const double *restrict c,
                        double q, ptrdiff_t lo, ptrdiff_t hi)
{
    for (ptrdiff_t i = lo; i < hi; i++)
        a[i] = b[i] + q * c[i];
}

/* Thread `thread` of n_threads works on [lo, hi): the same split when the buffer is
 * first written as in the timed passes (first touch). */
static void thread_range(ptrdiff_t n, int thread, int n_threads, ptrdiff_t *lo, ptrdiff_t *hi)
{
    *lo = n * thread / n_threads;
    *hi = n * (thread + 1) / n_threads;
}

double cc_peak_triad_gbps(double *buffer, ptrdiff_t n, int n_threads, int repeats)
{
    const ptrdiff_t m = n / 3;
    double *a = buffer, *b = buffer + m, *c = buffer + 2 * m;
    double best = 0.0;
    (void)n_threads; /* unused without OpenMP */
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
    {
        ptrdiff_t lo, hi;
        thread_range(m, CC_OMP_THREAD_ID(), CC_PEAK_TEAM_SIZE(), &lo, &hi);
        for (ptrdiff_t i = lo; i < hi; i++) {
            a[i] = 0.0;
            b[i] = 1.0;
            c[i] = 2.0;
        }
    }
    for (int rep = 0; rep < repeats; rep++) {
        const double t0 = now_seconds();
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
#endif
        {
            ptrdiff_t lo, hi;
            thread_range(m, CC_OMP_THREAD_ID(), CC_PEAK_TEAM_SIZE(), &lo, &hi);
            triad_range(a, b, c, 3.0, lo, hi);
        }
        const double seconds = now_seconds() - t0;
        const double rate = 24.0 * (double)m / (seconds > 1e-12 ? seconds : 1e-12) / 1e9;
        if (rate > best)
            best = rate;
    }
    return best;
}
