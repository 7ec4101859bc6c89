# SIMD level of the kernels in this extension module (each module dispatches on its own).
# Included by the bridges whose kernels have per-ISA builds.


def simd_levels():
    """The levels of the C library's table of ISAs, from the portable one up (x86-64:
    'generic', 'avx2', 'avx512'; other CPUs: 'generic')."""
    return tuple(cc_simd_name(<cc_simd_level>i).decode() for i in range(cc_simd_count()))


def simd_level():
    """SIMD level this module's kernels use now ('avx512', 'avx2' or 'generic')."""
    return cc_simd_name(cc_simd_active()).decode()


def simd_detected():
    """Best SIMD level this CPU supports."""
    return cc_simd_name(cc_simd_detect()).decode()


def force_simd(str level):
    """Use at most ``level`` (for testing the other kernels on this CPU); the C library
    clamps it to the best level the CPU supports."""
    levels = simd_levels()
    if level not in levels:
        raise ValueError(f"unknown SIMD level {level!r}: this build has {', '.join(levels)}")
    cc_simd_force(<cc_simd_level>levels.index(level))


cc_simd_active()  # detect once, at import, before any kernel runs without the GIL
