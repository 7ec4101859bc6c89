/* OpenMP build facts, queried by the Python layer. */
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
