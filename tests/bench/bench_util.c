/* Small helpers shared by the backends and the driver: the counting
 * allocator, error messages, the clock. */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

/* The header in front of each block: its requested size, padded so the
 * caller's pointer keeps malloc's alignment. */
typedef union heap_hdr {
    size_t size;
    max_align_t align;
} heap_hdr;

void *bench_heap_malloc(size_t size, void *heap)
{
    bench_heap *h = heap;
    if (size > SIZE_MAX - sizeof(heap_hdr))
        return NULL;
    heap_hdr *p = malloc(sizeof(heap_hdr) + size);
    if (!p)
        return NULL;
    p->size = size;
    h->live_bytes += size;
    h->live_allocs++;
    h->n_allocs++;
    if (h->live_bytes > h->peak_bytes)
        h->peak_bytes = h->live_bytes;
    return p + 1;
}

void *bench_heap_realloc(void *ptr, size_t size, void *heap)
{
    bench_heap *h = heap;
    if (!ptr)
        return bench_heap_malloc(size, heap);
    if (size > SIZE_MAX - sizeof(heap_hdr))
        return NULL;
    heap_hdr *old = (heap_hdr *)ptr - 1;
    size_t old_size = old->size;
    heap_hdr *p = realloc(old, sizeof(heap_hdr) + size);
    if (!p)
        return NULL;
    p->size = size;
    h->live_bytes = h->live_bytes - old_size + size;
    if (size > old_size)
        h->n_allocs++;
    if (h->live_bytes > h->peak_bytes)
        h->peak_bytes = h->live_bytes;
    return p + 1;
}

void bench_heap_free(void *ptr, void *heap)
{
    bench_heap *h = heap;
    if (!ptr)
        return;
    heap_hdr *p = (heap_hdr *)ptr - 1;
    h->live_bytes -= p->size;
    h->live_allocs--;
    free(p);
}

int bench_fail(bench_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}
