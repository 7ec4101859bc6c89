/* OpenMP shim: the library builds with or without OpenMP. */
#ifndef CC_OMP_H
#define CC_OMP_H
#ifdef _OPENMP
#include <omp.h>
#define CC_OMP_THREAD_ID() omp_get_thread_num()
#else
#define CC_OMP_THREAD_ID() 0
#endif

#include <stddef.h>

/* Items per grab of OpenMP's dynamic schedule over `count` items that come in runs of
 * `run` consecutive items sharing one copy (a band's or a column tile's channel blocks):
 * whole runs when there are at least four per thread, so that the threads still balance
 * at the end while each copy is made once; with fewer, one contiguous share per thread
 * (grabs of single items would have both threads make every copy). */
static inline ptrdiff_t cc_omp_grab(ptrdiff_t count, ptrdiff_t run, int n_threads)
{
    const ptrdiff_t grab = count / run >= 4 * (ptrdiff_t)n_threads
                               ? run
                               : (count + n_threads - 1) / n_threads;
    return grab > 0 ? grab : 1;
}

/* A dynamic schedule under which each thread knows the item it runs next before it
 * starts its current one, to prefetch its input: items taken one by one from a counter
 * shared by the team, each thread taking its next item as it starts one. */
static inline ptrdiff_t cc_take(ptrdiff_t *counter)
{
    ptrdiff_t at;
#ifdef _OPENMP
#pragma omp atomic capture
#endif
    at = (*counter)++;
    return at;
}

/* Threads for `items` work items of `macs` multiply-adds in all: no more than items
 * (a workspace holds one tile per working thread), one for a small call. */
static inline int cc_gemm_team(ptrdiff_t items, double macs, int n_threads)
{
    if (items < n_threads)
        n_threads = (int)items;
    return 2.0 * macs < 2e5 && n_threads > 1 ? 1 : n_threads;
}
#endif
