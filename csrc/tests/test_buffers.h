/* Test buffers shared by the C tests: outputs filled with NaN (an unwritten cell fails)
 * and followed by GUARD cells of GUARD_VALUE that a kernel must leave untouched.  The
 * including file defines GUARD and GUARD_VALUE, then DEFINE_BUFFERS(T, SFX) per dtype. */
#ifndef CC_TEST_BUFFERS_H
#define CC_TEST_BUFFERS_H
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

/* static inline: a test that uses only some of them compiles without warnings */
#define DEFINE_BUFFERS(T, SFX)                                                           \
    static inline T *nan_buffer_##SFX(ptrdiff_t n)                                              \
    {                                                                                    \
        T *a = malloc((size_t)(n + GUARD) * sizeof *a);                                  \
        for (ptrdiff_t i = 0; i < n; i++)                                                \
            a[i] = (T)NAN;                                                               \
        for (ptrdiff_t i = n; i < n + GUARD; i++)                                        \
            a[i] = (T)GUARD_VALUE;                                                       \
        return a;                                                                        \
    }                                                                                    \
    static inline int guard_intact_##SFX(const T *a, ptrdiff_t n)                               \
    {                                                                                    \
        for (ptrdiff_t i = n; i < n + GUARD; i++)                                        \
            if (a[i] != (T)GUARD_VALUE)                                                  \
                return 0;                                                                \
        return 1;                                                                        \
    }                                                                                    \
    static inline T *converted_##SFX(const double *src, ptrdiff_t n)                            \
    {                                                                                    \
        T *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a);                              \
        for (ptrdiff_t i = 0; i < n; i++)                                                \
            a[i] = (T)src[i];                                                            \
        return a;                                                                        \
    }                                                                                    \
    /* index of the first element of got that differs from ref, or -1 */                \
    static inline ptrdiff_t first_mismatch_##SFX(const T *got, const double *ref, ptrdiff_t n)   \
    {                                                                                    \
        for (ptrdiff_t i = 0; i < n; i++)                                                \
            if (!((double)got[i] == ref[i]))                                             \
                return i;                                                                \
        return -1;                                                                       \
    }
#endif
