#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>

static void *libc_malloc(size_t size, void *ctx)
{
    (void)ctx;
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *ctx)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ctx)
{
    (void)ctx;
    free(ptr);
}

mcreg_allocator mcreg__alloc_default(void)
{
    mcreg_allocator a = {libc_malloc, libc_realloc, libc_free, NULL};
    return a;
}

/* The capacity mcreg__alloc_grow gives an array of `cap` for `need`
 * elements of `elem` bytes: 0 when it cannot (size_t would overflow). */
static size_t grown_cap(size_t cap, size_t need, size_t elem)
{
    /* Growing by half keeps the unused tail of the heap array, one
     * pointer per record, at a quarter of it on average (a third at most),
     * for a copy cost still linear overall. */
    size_t new_cap = cap > 8 ? cap : 8; /* a presized array may be smaller */
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 3 * 2)
            return 0;
        new_cap += new_cap / 2;
    }
    return new_cap > SIZE_MAX / elem ? 0 : new_cap;
}

void *mcreg__alloc_grow(mcreg_alloc *a, void *array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return array;
    size_t new_cap = grown_cap(*cap, need, elem);
    if (!new_cap)
        return NULL;
    void *grown = mcreg__alloc_realloc(a, array, *cap * elem, new_cap * elem);
    if (grown)
        *cap = new_cap;
    return grown;
}

void *mcreg__alloc_temp_grow(const mcreg_allocator *a, void *array, size_t *cap, size_t need,
                             size_t elem)
{
    if (need <= *cap)
        return array;
    size_t new_cap = grown_cap(*cap, need, elem);
    if (!new_cap)
        return NULL;
    void *grown = mcreg__alloc_temp_realloc(a, array, new_cap * elem);
    if (grown)
        *cap = new_cap;
    return grown;
}
