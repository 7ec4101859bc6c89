/* OpenMP shim: the library builds with or without OpenMP. */
#ifndef CC_OMP_H
#define CC_OMP_H
#ifdef _OPENMP
#include <omp.h>
#define CC_OMP_THREAD_ID() omp_get_thread_num()
#else
#define CC_OMP_THREAD_ID() 0
#endif
#endif
