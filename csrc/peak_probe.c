/* Peak probes: FMA throughput per SIMD level and STREAM-triad memory bandwidth.
 *
 * The FMA loops are the active level's (its row of the ISA table: kernels/<isa>.c
 * compiles kernels/peak_fma_impl.h with 16 zmm chains at AVX-512, 12 ymm chains at AVX2
 * and 8 chains of 16-byte vectors at the portable level); this file times them.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#endif
#include <stddef.h>
#include <time.h>

#include "cc_isa_table.h"
#include "cc_omp.h"
#include "convcore.h"
#include "peak_probe.h"
#ifdef _OPENMP
#include <sched.h>
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

/* Seconds for n_threads threads each running loop(iterations), started together after a
 * barrier and stopped when the last one ends; *flops = the flops of all threads. */
static double time_fma(cc_peak_fma_fn loop, long iterations, int n_threads, double *flops,
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

static double peak_gflops(cc_peak_fma_fn loop, int n_threads, double min_seconds)
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
    return peak_gflops(cc_isa_active()->peak_f32, n_threads, min_seconds);
}

double cc_peak_fma_gflops_f64(int n_threads, double min_seconds)
{
    return peak_gflops(cc_isa_active()->peak_f64, n_threads, min_seconds);
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

/* One run of cc_peak_round_trip_ns: seconds per round trip, or -1 without a team of 2. */
static double round_trips(long trips)
{
    double seconds = -1.0;
#ifdef _OPENMP
    struct {
        long v;
        char pad[64 - sizeof(long)];
    } CC_LINE_ALIGNED line = {0, {0}};
#pragma omp parallel num_threads(2)
    {
        if (omp_get_num_threads() == 2) {
            const int me = omp_get_thread_num();
#pragma omp barrier
            const double t0 = now_seconds();
            for (long i = 0; i < trips; i++) {
                const long mine = 2 * i + 1 + me; /* thread 0 writes odd, thread 1 even */
                const long want = me == 1 ? mine - 1 : mine + 1;
                if (me == 0)
                    __atomic_store_n(&line.v, mine, __ATOMIC_RELEASE);
                /* a yield now and then: two threads on one core still finish */
                for (unsigned spins = 1; __atomic_load_n(&line.v, __ATOMIC_ACQUIRE) != want;
                     spins++)
                    if (spins % 4096 == 0)
                        sched_yield();
                if (me == 1)
                    __atomic_store_n(&line.v, mine, __ATOMIC_RELEASE);
            }
            if (me == 0)
                seconds = (now_seconds() - t0) / (double)trips;
        }
    }
#else
    (void)trips;
#endif
    return seconds;
}

double cc_peak_round_trip_ns(long trips)
{
    double best = -1.0;
    if (trips < 1)
        trips = 1;
    for (int r = 0; r < 5; r++) { /* the fastest: being descheduled only adds time */
        const double t = round_trips(trips);
        if (t < 0)
            return -1.0;
        if (best < 0 || t < best)
            best = t;
    }
    return best * 1e9;
}
