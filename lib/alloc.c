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

void *mcreg__alloc_grow(const mcreg_allocator *a, void *array, size_t *cap, size_t need,
                        size_t elem)
{
    if (need <= *cap)
        return array;
    /* Growing by half keeps the unused tail of the heap array, one
     * pointer per record, at a quarter of it on average (a third at most),
     * for a copy cost still linear overall. */
    size_t new_cap = *cap > 8 ? *cap : 8; /* a presized array may be smaller */
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 3 * 2)
            return NULL;
        new_cap += new_cap / 2;
    }
    if (new_cap > SIZE_MAX / elem)
        return NULL;
    void *grown = mcreg__alloc_realloc(a, array, new_cap * elem);
    if (grown)
        *cap = new_cap;
    return grown;
}
