/* Compiler portability for the per-ISA kernel files (GCC >= 8 and clang). */
#ifndef CC_ISA_H
#define CC_ISA_H

/* Even lanes of the concatenation (lo, hi) of two 64-byte vectors: a stride-2 load. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define CC_EVEN_F32(lo, hi) \
    __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define CC_EVEN_F64(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14)
#else
typedef int cc_v16si __attribute__((vector_size(64)));
typedef long long cc_v8di __attribute__((vector_size(64)));
#define CC_EVEN_F32(lo, hi)                                                              \
    __builtin_shuffle(lo, hi, (cc_v16si){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, \
                                         28, 30})
#define CC_EVEN_F64(lo, hi) __builtin_shuffle(lo, hi, (cc_v8di){0, 2, 4, 6, 8, 10, 12, 14})
#endif

#endif
