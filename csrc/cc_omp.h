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
#include <stdint.h>
#include <stdlib.h>

/* An affinity schedule with stealing.  The items are shared out in contiguous shares,
 * one per thread, cut at whole runs of `run` items that share one copy (multiples of
 * `run` from item 0, also where a call runs a range of the items), or at single items
 * when there are fewer than four runs per thread; each thread takes the items of its
 * own share in order, then, when its share is done, the items left in the others'
 * shares, from their fronts.  In a call where the threads keep pace, thread t runs the
 * same items in every call, so what it reads and writes can stay in its core's caches
 * from one call to the next, where the threads stay on their cores (a dynamic schedule,
 * handing items out from one counter, moved them between the caches on every call:
 * docs/algorithms.md, "Threads: own shares first"); a thread slowed by another process
 * still does not hold the call back.  Each share's counter has a cache line of its own.
 * A team smaller than asked for still runs every item (the others' shares).  Shares past
 * CC_SHARES are allocated (cc_shares_free); without the memory, threads from CC_SHARES
 * on start in share tid % CC_SHARES. */
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
    cc_share local[CC_SHARES];
    cc_share *share; /* local, or the aligned start of heap */
    void *heap;
    int n;
} cc_shares;

/* Items [*lo, *hi) clamped to [0, items), and the threads worth starting for them (at
 * most one per item, at least one). */
static inline int cc_team(ptrdiff_t *lo, ptrdiff_t *hi, ptrdiff_t items, int n_threads)
{
    if (*hi > items)
        *hi = items;
    if (*lo < 0)
        *lo = 0;
    if (*hi < *lo)
        *hi = *lo;
    return n_threads > *hi - *lo ? (*hi > *lo ? (int)(*hi - *lo) : 1) : n_threads;
}

static inline ptrdiff_t cc_shares_cut(ptrdiff_t at, ptrdiff_t run, ptrdiff_t lo, ptrdiff_t hi)
{
    at = (at + run / 2) / run * run; /* the nearest multiple of run */
    return at < lo ? lo : at > hi ? hi : at;
}

static inline void cc_shares_init(cc_shares *s, int n_threads, ptrdiff_t lo, ptrdiff_t hi,
                                  ptrdiff_t run)
{
    int n = n_threads < 1 ? 1 : n_threads;
    s->share = s->local;
    s->heap = NULL;
    if (n > CC_SHARES) {
        s->heap = malloc((size_t)n * sizeof(cc_share) + 64);
        if (s->heap)
            s->share = (cc_share *)(((uintptr_t)s->heap + 63) / 64 * 64);
        else
            n = CC_SHARES;
    }
    s->n = n;
    if (run < 1 || (hi - lo) / run < 4 * (ptrdiff_t)n)
        run = 1;
    ptrdiff_t a = lo;
    for (int t = 0; t < n; t++) {
        const ptrdiff_t b =
            t + 1 < n ? cc_shares_cut(lo + (hi - lo) * (t + 1) / n, run, a, hi) : hi;
        s->share[t].next = a;
        s->share[t].end = b;
        a = b;
    }
}

static inline void cc_shares_free(cc_shares *s)
{
    free(s->heap);
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
