/* The names a micro-kernel template (conv_direct_ukernel.h and the templates included
 * after it) gives its functions and types, per dtype (REAL, SFX) and ISA (CC_ISA,
 * CC_VBYTES): FN(name) is name_<sfx>_<isa>, ARGS the row arguments of the dtype, VEC the
 * native vector of REAL, LANES its elements.  Each template includes this at its top and
 * cc_template_names_end.h at its end. */
#define CC_CAT3_(a, b, c) a##_##b##_##c
#define CC_CAT3(a, b, c) CC_CAT3_(a, b, c)
#define FN(name) CC_CAT3(name, SFX, CC_ISA)
#define ARGS CC_CAT3(cc_direct, row, SFX)
#define VEC FN(vec)
#define LANES ((int)(CC_VBYTES / sizeof(REAL)))
