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

mcreg_allocator mcreg__default_allocator(void)
{
    mcreg_allocator a = {libc_malloc, libc_realloc, libc_free, NULL};
    return a;
}

int mcreg__reserve(const mcreg_allocator *a, void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return MCREG_OK;
    size_t new_cap = *cap ? *cap : 8;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2)
            return MCREG_ERR_NOMEM;
        new_cap *= 2;
    }
    if (new_cap > SIZE_MAX / elem)
        return MCREG_ERR_NOMEM;
    void *grown = mcreg__realloc(a, *array, new_cap * elem);
    if (!grown)
        return MCREG_ERR_NOMEM;
    *array = grown;
    *cap = new_cap;
    return MCREG_OK;
}
