/* The peak probe's FMA loops for one ISA (peak_probe.c times them): included by
 * kernels/<isa>.c after it defines CC_ISA, CC_VBYTES (its vector width) and
 * CC_PEAK_CHAINS (8, 12 or 16), under its `#pragma GCC target`.
 *
 * Each chain is acc = acc * m + a with 0 < m < 1, which converges to a / (1 - m) and so
 * never overflows or turns subnormal (subnormals would be slow on some cores).  Where the
 * ISA has FMA the compiler contracts each step into one (-ffp-contract=fast, which both
 * builds pass, as the micro-kernels need too; tests/test_csrc.py checks the FMAs in the
 * object code); the portable level's SSE2 does a multiply and an add, 2 flops per lane
 * either way.  The chains outnumber FMA latency x FMA units (4 cycles x 2 units = 8
 * on current x86 cores), so the loop is bound by throughput, not latency. */
#define PK_CAT_(a, b, c) a##_##b##_##c
#define PK_CAT(a, b, c) PK_CAT_(a, b, c)

#define PK_STEP(i) acc[i] = acc[i] * m + a;
#define PK_STEPS4(o) PK_STEP(o + 0) PK_STEP(o + 1) PK_STEP(o + 2) PK_STEP(o + 3)
#if CC_PEAK_CHAINS == 16
#define PK_STEPS PK_STEPS4(0) PK_STEPS4(4) PK_STEPS4(8) PK_STEPS4(12)
#elif CC_PEAK_CHAINS == 12
#define PK_STEPS PK_STEPS4(0) PK_STEPS4(4) PK_STEPS4(8)
#elif CC_PEAK_CHAINS == 8
#define PK_STEPS PK_STEPS4(0) PK_STEPS4(4)
#else
#error "CC_PEAK_CHAINS must be 8, 12 or 16"
#endif

#define PK_LOOP(T, sfx)                                                                     \
    typedef T PK_CAT(pk_vec, sfx, CC_ISA) __attribute__((vector_size(CC_VBYTES)));        \
    static double PK_CAT(cc_peak_fma, sfx, CC_ISA)(long iterations, double *flops)          \
    {                                                                                       \
        enum { LANES = CC_VBYTES / sizeof(T) };                                             \
        PK_CAT(pk_vec, sfx, CC_ISA) acc[CC_PEAK_CHAINS], zero = {0};                        \
        const PK_CAT(pk_vec, sfx, CC_ISA) m = zero + (T)0.999, a = zero + (T)1e-3;          \
        for (int i = 0; i < CC_PEAK_CHAINS; i++)                                            \
            acc[i] = zero + (T)i;                                                           \
        for (long it = 0; it < iterations; it++) {                                          \
            PK_STEPS                                                                        \
        }                                                                                   \
        double s = 0;                                                                       \
        for (int i = 0; i < CC_PEAK_CHAINS; i++)                                            \
            for (int l = 0; l < LANES; l++)                                                 \
                s += (double)acc[i][l];                                                     \
        *flops = 2.0 * LANES * CC_PEAK_CHAINS * (double)iterations;                         \
        return s;                                                                           \
    }
PK_LOOP(float, f32)
PK_LOOP(double, f64)

#undef PK_LOOP
#undef PK_STEPS
#undef PK_STEPS4
#undef PK_STEP
#undef PK_CAT
#undef PK_CAT_
