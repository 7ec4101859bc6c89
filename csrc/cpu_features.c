/* Run-time CPU feature detection: which SIMD kernels to use. */
#include "cc_isa_table.h"
#include "convcore.h"

static int active_level = -1;

cc_simd_level cc_simd_detect(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        return CC_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return CC_SIMD_AVX2;
#endif
    return CC_SIMD_GENERIC;
}

cc_simd_level cc_simd_active(void)
{
    if (active_level < 0)
        active_level = (int)cc_simd_detect();
    return (cc_simd_level)active_level;
}

void cc_simd_force(cc_simd_level level)
{
    cc_simd_level best = cc_simd_detect();
    active_level = (int)(level < best ? level : best);
}

const char *cc_simd_name(cc_simd_level level)
{
    switch (level) {
    case CC_SIMD_AVX512: return "avx512";
    case CC_SIMD_AVX2: return "avx2";
    default: return "generic";
    }
}

const void *cc_isa_pick(const void *const *rows, size_t n)
{
    const cc_simd_level active = cc_simd_active();
    const void *best = rows[0];
    cc_simd_level best_level = *(const cc_simd_level *)best;
    for (size_t i = 1; i < n; i++) {
        const cc_simd_level level = *(const cc_simd_level *)rows[i];
        if (level <= active && level > best_level) {
            best = rows[i];
            best_level = level;
        }
    }
    return best;
}
