/* OpenMP build facts, queried by the Python layer, and a probe of how many threads the
 * system lets this process start. */
#include <pthread.h>

#include "convcore.h"
#include "cc_omp.h"

int cc_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int cc_openmp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Shut down the calling thread's OpenMP thread pool (libgomp keeps one per thread that
 * started a team).  Called before fork(): the child inherits the pool's bookkeeping but
 * not its threads, and libgomp would wait for them forever at its next team.  With the
 * pool gone, the child (and the parent, at its next team) starts fresh threads.
 * Returns 1 when the pool was released, 0 when this OpenMP cannot do it. */
int cc_openmp_release(void)
{
#if defined(_OPENMP) && _OPENMP >= 201811
    return omp_pause_resource_all(omp_pause_hard) == 0;
#else
    return 0;
#endif
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int release;
} cc_probe_gate;

static void *cc_probe_wait(void *arg)
{
    cc_probe_gate *gate = arg;
    pthread_mutex_lock(&gate->lock);
    while (!gate->release)
        pthread_cond_wait(&gate->done, &gate->lock);
    pthread_mutex_unlock(&gate->lock);
    return NULL;
}

#define CC_PROBE_MAX 1024  /* the largest count the Python layer accepts */

int cc_threads_probe(int n)
{
    pthread_t ids[CC_PROBE_MAX];  /* 8 KiB: no heap allocation in the C library */
    if (n <= 1)
        return 0;
    if (n > CC_PROBE_MAX)
        n = CC_PROBE_MAX;
    cc_probe_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int started = 0;  /* default attributes: the stack size OpenMP's threads get too */
    while (started < n - 1 && pthread_create(&ids[started], NULL, cc_probe_wait, &gate) == 0)
        started++;
    pthread_mutex_lock(&gate.lock);
    gate.release = 1;
    pthread_cond_broadcast(&gate.done);
    pthread_mutex_unlock(&gate.lock);
    for (int i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
    return started;
}
