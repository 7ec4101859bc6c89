/* A thread's buffer, kept from use to use and grown when a use needs more: the direct
 * driver's band buffers (a malloc and free per band were 7% of a depthwise layer's
 * time). */
#ifndef CC_SCRATCH_H
#define CC_SCRATCH_H

#include <stddef.h>
#include <stdlib.h>

typedef struct {
    void *p;
    size_t bytes;
} cc_scratch;

/* At least `bytes` bytes (their contents undefined), or NULL without memory. */
static inline void *cc_scratch_get(cc_scratch *s, size_t bytes)
{
    if (bytes > s->bytes) {
        free(s->p);
        s->p = malloc(bytes);
        s->bytes = s->p ? bytes : 0;
    }
    return s->p;
}

#endif
