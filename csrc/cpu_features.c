/* The table of ISAs and the run-time choice of a level: the best row this CPU runs, or
 * one below it forced for testing and measuring. */
#include "cc_isa_table.h"
#include "convcore.h"

/* The ISAs, from the portable one up (a level is its row's index): adding one is its
 * file kernels/<isa>.c and a row here. */
extern const cc_isa cc_isa_generic;
#if defined(__x86_64__) || defined(__i386__)
extern const cc_isa cc_isa_avx2;
extern const cc_isa cc_isa_avx512;
#endif
static const cc_isa *const ISAS[] = {
    &cc_isa_generic,
#if defined(__x86_64__) || defined(__i386__)
    &cc_isa_avx2,
    &cc_isa_avx512,
#endif
};
#define N_ISAS ((int)(sizeof ISAS / sizeof ISAS[0]))

static int active_level = -1;

int cc_simd_count(void)
{
    return N_ISAS;
}

cc_simd_level cc_simd_detect(void)
{
    int level = N_ISAS - 1;
    while (level > 0 && !ISAS[level]->runs_here())
        level--;
    return (cc_simd_level)level;
}

cc_simd_level cc_simd_active(void)
{
    if (active_level < 0)
        active_level = (int)cc_simd_detect();
    return (cc_simd_level)active_level;
}

void cc_simd_force(cc_simd_level level)
{
    const int best = (int)cc_simd_detect();
    active_level = (int)level < 0 ? 0 : (int)level < best ? (int)level : best;
}

const char *cc_simd_name(cc_simd_level level)
{
    return (int)level >= 0 && (int)level < N_ISAS ? ISAS[level]->name : "unknown";
}

const cc_isa *cc_isa_at(cc_simd_level level)
{
    return ISAS[(int)level < 0 ? 0 : (int)level < N_ISAS ? (int)level : N_ISAS - 1];
}

const cc_isa *cc_isa_active(void)
{
    return ISAS[cc_simd_active()];
}
