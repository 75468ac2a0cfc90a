/* What the libFuzzer targets share: the entry point's prototype, an
 * assertion that survives NDEBUG and aborts, so that libFuzzer keeps the
 * input, and a counting allocator that fails one call on demand. */
#ifndef MCREG_FUZZ_H
#define MCREG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* An allocator that counts malloc and realloc calls, keeps the largest
 * size asked for, and fails call number fail_at (0: none). Static, so that
 * each target gets its own copy. */
typedef struct fz_alloc {
    size_t calls;       /* malloc and realloc calls */
    size_t fail_at;     /* the call to fail; 0 = none */
    size_t max_request; /* the largest size asked for */
} fz_alloc;

static inline int fz_note(fz_alloc *a, size_t n)
{
    a->calls++;
    if (n > a->max_request)
        a->max_request = n;
    return a->fail_at != 0 && a->calls == a->fail_at;
}

static inline void *fz_malloc(size_t n, void *ctx)
{
    return fz_note(ctx, n) ? NULL : malloc(n);
}

static inline void *fz_realloc(void *p, size_t n, void *ctx)
{
    return fz_note(ctx, n) ? NULL : realloc(p, n);
}

static inline void fz_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

#endif
