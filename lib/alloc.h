/* The registry allocator: every allocation of a registry goes through here.
 *
 * mcreg_stat(MCREG_STAT_BYTES) is exact: the registry counts the bytes of
 * every block its state holds. The host's mcreg_allocator.free gets no
 * size, and a size header on every block would cost memory per record, so
 * every call site passes the size of the block it frees or reallocates, as
 * uthash passes it to uthash_free: each block's size can be recomputed
 * from what it holds (a record's from its fields, an array's from its
 * capacity).
 *
 * Queries take a const registry and may run on several threads at once:
 * they may not touch the count. Their own blocks (the ordering arrays of
 * the foreach calls, the snapshot's work array) are freed before they
 * return, and the snapshot buffer they hand out is the host's, which knows
 * its length. So queries allocate through the uncounted mcreg__alloc_temp_*
 * calls, on the registry's mcreg_allocator alone. */
#ifndef MCREG_ALLOC_H
#define MCREG_ALLOC_H

#include <stddef.h>

#include "mcreg.h"

/* The registry's allocator and the bytes its state holds through it. */
typedef struct mcreg_alloc {
    mcreg_allocator fns;
    size_t held;
} mcreg_alloc;

/* The C library's malloc, realloc and free behind the mcreg_allocator shape. */
mcreg_allocator mcreg__alloc_default(void);

static inline void *mcreg__alloc_malloc(mcreg_alloc *a, size_t size)
{
    void *p = a->fns.malloc(size, a->fns.ctx);
    if (p)
        a->held += size;
    return p;
}

/* ptr holds old_size bytes (0 when ptr is NULL). */
static inline void *mcreg__alloc_realloc(mcreg_alloc *a, void *ptr, size_t old_size, size_t size)
{
    void *p = a->fns.realloc(ptr, size, a->fns.ctx);
    if (p)
        a->held = a->held - old_size + size;
    return p;
}

/* ptr holds `size` bytes. */
static inline void mcreg__alloc_free(mcreg_alloc *a, void *ptr, size_t size)
{
    if (!ptr)
        return;
    a->fns.free(ptr, a->fns.ctx);
    a->held -= size;
}

/* An array of `elem`-byte elements with room for at least `need` (>= 1)
 * of them: `array` itself when it has room, else a larger one (the
 * capacity grows by half, from 8, until it is enough) with *cap updated. NULL on failure, with `array` and *cap as
 * they were. Never shrinks. */
void *mcreg__alloc_grow(mcreg_alloc *a, void *array, size_t *cap, size_t need, size_t elem);

/* The same calls, uncounted, for a query's own blocks (see above). */
static inline void *mcreg__alloc_temp_malloc(const mcreg_allocator *a, size_t size)
{
    return a->malloc(size, a->ctx);
}

static inline void *mcreg__alloc_temp_realloc(const mcreg_allocator *a, void *ptr, size_t size)
{
    return a->realloc(ptr, size, a->ctx);
}

static inline void mcreg__alloc_temp_free(const mcreg_allocator *a, void *ptr)
{
    if (ptr)
        a->free(ptr, a->ctx);
}

void *mcreg__alloc_temp_grow(const mcreg_allocator *a, void *array, size_t *cap, size_t need,
                             size_t elem);

#endif
