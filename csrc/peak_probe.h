/* Peak probes: this machine's floating-point throughput and memory bandwidth, measured
 * where the benchmarks run, so that "fraction of peak" does not rest on a data sheet.
 *
 * Plain C99, no Python; the caller validates (n_threads >= 1, seconds > 0, a buffer of
 * at least 3 doubles).
 */
#ifndef CC_PEAK_PROBE_H
#define CC_PEAK_PROBE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* GFLOP/s of independent multiply-add chains on the widest vectors of the active SIMD
 * level (AVX-512: 16 zmm FMA chains; AVX2: 12 ymm FMA chains; generic: 8 chains of
 * 16-byte vectors, multiply then add), run by n_threads threads at once for at least
 * min_seconds each; the best of 3 runs.  An FMA counts 2 flops per lane. */
double cc_peak_fma_gflops_f32(int n_threads, double min_seconds);
double cc_peak_fma_gflops_f64(int n_threads, double min_seconds);

/* GB/s of the STREAM triad a[i] = b[i] + q * c[i] on the three thirds of buffer (n
 * doubles, allocated by the caller; make it several times the last-level cache), on
 * n_threads threads, the best of `repeats` passes.  Counts 24 bytes per element (two
 * reads and a write; write-allocate traffic is not counted, as in STREAM).  The buffer
 * is first written by the same static schedule, so each page is touched by the thread
 * that later uses it; its contents are overwritten. */
double cc_peak_triad_gbps(double *buffer, ptrdiff_t n, int n_threads, int repeats);

/* Nanoseconds for a cache line to go from one thread's core to another's and back:
 * two threads of an OpenMP team of two hand a counter to each other `trips` times, each
 * waiting (spinning) for the other's write, yielding now and then; the fastest of 5
 * runs.  Where the two cores share a cache this is a few tens of ns; where they do not
 * (other dies or sockets, or virtual CPUs the host placed on such cores), several
 * hundred, and work items that move between the threads cost as much more.  Threads 0
 * and 1 of the team only.  -1 without OpenMP or when OpenMP gives fewer than two
 * threads. */
double cc_peak_round_trip_ns(long trips);

#ifdef __cplusplus
}
#endif
#endif /* CC_PEAK_PROBE_H */
