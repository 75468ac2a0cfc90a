/* The registry allocator: every allocation of a registry goes through here. */
#ifndef MCREG_ALLOC_H
#define MCREG_ALLOC_H

#include <stddef.h>

#include "mcreg.h"

/* The C library's malloc, realloc and free behind the mcreg_allocator shape. */
mcreg_allocator mcreg__alloc_default(void);

static inline void *mcreg__alloc_malloc(const mcreg_allocator *a, size_t size)
{
    return a->malloc(size, a->ctx);
}

static inline void *mcreg__alloc_realloc(const mcreg_allocator *a, void *ptr, size_t size)
{
    return a->realloc(ptr, size, a->ctx);
}

static inline void mcreg__alloc_free(const mcreg_allocator *a, void *ptr)
{
    if (ptr)
        a->free(ptr, a->ctx);
}

/* An array of `elem`-byte elements with room for at least `need` (>= 1)
 * of them: `array` itself when it has room, else a larger one (the
 * capacity grows by half, from 8, until it is enough) with *cap updated. NULL on failure, with `array` and *cap as
 * they were. Never shrinks. */
void *mcreg__alloc_grow(const mcreg_allocator *a, void *array, size_t *cap, size_t need,
                        size_t elem);

#endif
