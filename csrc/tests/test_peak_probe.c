/* Tests of the peak probes on their own: every SIMD level this CPU supports gives a
 * positive, finite FMA rate for both dtypes, the triad a positive, finite bandwidth
 * that leaves the expected values in the buffer, and the core-to-core round trip a
 * positive time where OpenMP gives a team of two (-1 where it does not; with both
 * threads on one CPU: tests/test_bench.py).
 *
 * Prints the rates and "peak probe: N passed, N failed"; exits 1 on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "convcore.h"
#include "peak_probe.h"

static int n_passed, n_failed;

static void check(int ok, const char *what, double value)
{
    if (ok) {
        n_passed++;
        return;
    }
    n_failed++;
    printf("FAIL: %s = %g\n", what, value);
}

static int positive_finite(double v)
{
    return isfinite(v) && v > 0.0;
}

int main(void)
{
    const cc_simd_level detected = cc_simd_detect();
    const int threads = cc_openmp_max_threads();
    for (int level = CC_SIMD_GENERIC; level <= (int)detected; level++) {
        cc_simd_force((cc_simd_level)level);
        const double f32 = cc_peak_fma_gflops_f32(threads, 0.01);
        const double f64 = cc_peak_fma_gflops_f64(1, 0.01);
        printf("  FMA peak at %s: f32 %.1f GFLOP/s (%d threads), f64 %.1f GFLOP/s (1 thread)\n",
               cc_simd_name(cc_simd_active()), f32, threads, f64);
        check(positive_finite(f32), "f32 GFLOP/s", f32);
        check(positive_finite(f64), "f64 GFLOP/s", f64);
    }
    cc_simd_force(detected);

    const ptrdiff_t n = 3 * 1000003; /* 24 MB: small, the test only checks the result */
    double *buffer = malloc((size_t)n * sizeof *buffer);
    if (!buffer) {
        puts("FAIL: no memory for the triad buffer");
        return 1;
    }
    const double gbps = cc_peak_triad_gbps(buffer, n, threads, 2);
    printf("  triad: %.1f GB/s (%d threads)\n", gbps, threads);
    check(positive_finite(gbps), "triad GB/s", gbps);
    const ptrdiff_t m = n / 3;
    int ok = 1;
    for (ptrdiff_t i = 0; i < m; i++)
        ok &= buffer[i] == 7.0 && buffer[m + i] == 1.0 && buffer[2 * m + i] == 2.0;
    check(ok, "triad result a = b + 3 c", buffer[0]);
    free(buffer);

    /* the round trip: a time with a team of two, else -1 */
    int team = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
#pragma omp single
    team = omp_get_num_threads();
#endif
    const double ns = cc_peak_round_trip_ns(2000);
    printf("  core-to-core round trip: %.0f ns (team of %d)\n", ns, team);
    check(team == 2 ? positive_finite(ns) : ns == -1.0, "round trip ns", ns);

    printf("peak probe: %d passed, %d failed\n", n_passed, n_failed);
    return n_failed ? 1 : 0;
}
