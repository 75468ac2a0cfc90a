/* The registry allocator: every allocation of a registry goes through here. */
#ifndef MCREG_ALLOC_H
#define MCREG_ALLOC_H

#include <stddef.h>

#include "mcreg.h"

/* The C library's malloc, realloc and free behind the mcreg_allocator shape. */
mcreg_allocator mcreg__default_allocator(void);

static inline void *mcreg__malloc(const mcreg_allocator *a, size_t size)
{
    return a->malloc(size, a->ctx);
}

static inline void *mcreg__realloc(const mcreg_allocator *a, void *ptr, size_t size)
{
    return a->realloc(ptr, size, a->ctx);
}

static inline void mcreg__free(const mcreg_allocator *a, void *ptr)
{
    if (ptr)
        a->free(ptr, a->ctx);
}

/* Grow an array to hold at least `need` elements of `elem` bytes, doubling.
 * On failure the array and capacity are unchanged. Never shrinks. */
int mcreg__reserve(const mcreg_allocator *a, void **array, size_t *cap, size_t need, size_t elem);

#endif
