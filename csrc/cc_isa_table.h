/* Per-ISA tables of kernels (internal to the C library).
 *
 * Each kernel family keeps one table of rows, one per ISA, each row a struct whose first
 * member is the row's cc_simd_level.  Adding an ISA is a kernel file that defines its
 * row and one entry in the family's table. */
#ifndef CC_ISA_TABLE_H
#define CC_ISA_TABLE_H
#include <stddef.h>

#include "convcore.h"

/* The row of the best level the kernels may use now (cc_simd_active); rows[0] must be
 * the portable one. */
const void *cc_isa_pick(const void *const *rows, size_t n);

#endif
