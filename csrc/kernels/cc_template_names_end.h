/* Drops the names of cc_template_names.h at the end of a micro-kernel template. */
#undef FN
#undef ARGS
#undef VEC
#undef LANES
#undef CC_CAT3
#undef CC_CAT3_
