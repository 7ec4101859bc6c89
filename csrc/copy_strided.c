/* Strided copies between two arrays of the same shape: NumPy's `dst[...] = src` for
 * views of any layout, shared out among threads.  The transposed convolution writes each
 * stride phase of its result to the strided output positions the phase owns with it
 * (convcore/transpose.py).
 *
 * The rows along the last dimension are cut into one contiguous range per thread; a
 * thread finds the offsets of its first row by division, then steps from row to row like
 * an odometer, so a short row costs no more than its elements.
 */
#include <string.h>

#include "cc_omp.h"
#include "convcore.h"

/* Elements below which one thread copies (a parallel region costs microseconds). */
#define CC_COPY_PARALLEL_MIN 65536

#ifdef _OPENMP
#define CC_COPY_PRAGMA_(x) _Pragma(#x)
#define CC_COPY_PARALLEL(nt) CC_COPY_PRAGMA_(omp parallel num_threads(nt) if (nt > 1))
#define CC_COPY_TEAM(nt) omp_get_num_threads()
#else
#define CC_COPY_PARALLEL(nt)
#define CC_COPY_TEAM(nt) ((void)(nt), 1)
#endif

#define REAL float
#define CC_COPY_FN cc_copy_strided_f32
#include "copy_strided_impl.h"
#undef REAL
#undef CC_COPY_FN

#define REAL double
#define CC_COPY_FN cc_copy_strided_f64
#include "copy_strided_impl.h"
