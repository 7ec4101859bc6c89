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

/* An affinity schedule with stealing.  The items are shared out in contiguous shares,
 * one per thread (whole runs of `run` items that share one copy); each thread takes the
 * items of its own share in order, then, when its share is done, the items left in the
 * others' shares.  In a call where the threads keep pace, thread t runs the same items
 * in every call, so the inputs it reads and the outputs it writes stay in its core's
 * caches from one call to the next (measured: a dynamic schedule, handing items out from
 * one counter, moved them between the cores on every call, which doubled the time of
 * cache-resident calls on a machine whose two cores have caches of their own); a thread
 * slowed by another process still does not hold the call back.  Each share's counter has
 * a cache line of its own.  At most CC_SHARES shares; thread t starts at share t %
 * CC_SHARES.  A team smaller than asked for still runs every item (the others' shares). */
#define CC_SHARES 64
#if defined(__GNUC__)
#define CC_LINE_ALIGNED __attribute__((aligned(64)))
#else
#define CC_LINE_ALIGNED
#endif
typedef struct {
    ptrdiff_t next, end;
    char pad[64 - 2 * sizeof(ptrdiff_t)]; /* 64 bytes apart, also where not aligned */
} CC_LINE_ALIGNED cc_share;

typedef struct {
    cc_share share[CC_SHARES];
    int n;
} cc_shares;

static inline void cc_shares_init(cc_shares *s, int n_threads, ptrdiff_t lo, ptrdiff_t hi,
                                  ptrdiff_t run)
{
    const int n = n_threads < 1 ? 1 : n_threads > CC_SHARES ? CC_SHARES : n_threads;
    const ptrdiff_t runs = run > 0 ? (hi - lo + run - 1) / run : 0;
    s->n = n;
    for (int t = 0; t < n; t++) {
        const ptrdiff_t a = lo + runs * t / n * run, b = lo + runs * (t + 1) / n * run;
        s->share[t].next = a < hi ? a : hi;
        s->share[t].end = b < hi ? b : hi;
    }
}

/* Thread `tid`'s next item: from its own share, else from another's; -1 when none is
 * left. */
static inline ptrdiff_t cc_shares_take(cc_shares *s, int tid)
{
    for (int k = 0; k < s->n; k++) {
        cc_share *v = &s->share[(tid + k) % s->n];
        ptrdiff_t at;
#ifdef _OPENMP
#pragma omp atomic read
#endif
        at = v->next;
        if (at >= v->end) /* spent: no write, so its line stays where it is */
            continue;
#ifdef _OPENMP
#pragma omp atomic capture
#endif
        at = v->next++;
        if (at < v->end)
            return at;
    }
    return -1;
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
