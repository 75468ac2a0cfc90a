#include "heap.h"

#include <string.h>

#include "record.h"

int mcreg__heap_expiry_cmp(const struct mcreg_record *a, const struct mcreg_record *b)
{
    if (a->expires_at != b->expires_at)
        return a->expires_at < b->expires_at ? -1 : 1;
    int c = mcreg__record_logon_cmp(a, b);
    if (c)
        return c;
    return mcreg__user_cmp(a->user, b->user);
}

int mcreg__heap_reserve(mcreg_alloc *a, mcreg_heap *h, size_t n)
{
    if (n <= h->cap)
        return MCREG_OK;
    /* keys[] first: if items[] then fails, keys[] is merely larger than
     * cap says (keys_cap keeps its size), and the next call grows items[]. */
    size_t items_cap = h->cap;
    uint64_t *keys = mcreg__alloc_grow(a, h->keys, &h->keys_cap, n, sizeof(*keys));
    if (!keys)
        return MCREG_ERR_NOMEM;
    h->keys = keys;
    struct mcreg_record **items = mcreg__alloc_grow(a, h->items, &items_cap, n, sizeof(*items));
    if (!items)
        return MCREG_ERR_NOMEM;
    h->items = items;
    h->cap = items_cap;
    return MCREG_OK;
}

/* One array to exactly `n` elements when it has fewer. */
static void *array_presize(mcreg_alloc *a, void *array, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap)
        return array;
    if (n > SIZE_MAX / elem)
        return NULL;
    void *sized = mcreg__alloc_realloc(a, array, *cap * elem, n * elem);
    if (sized)
        *cap = n;
    return sized;
}

int mcreg__heap_presize(mcreg_alloc *a, mcreg_heap *h, size_t n)
{
    /* keys[] first, as in mcreg__heap_reserve: a failure on items[] leaves
     * keys[] merely larger than cap says. */
    uint64_t *keys = array_presize(a, h->keys, &h->keys_cap, n, sizeof(*keys));
    if (!keys)
        return MCREG_ERR_NOMEM;
    h->keys = keys;
    struct mcreg_record **items = array_presize(a, h->items, &h->cap, n, sizeof(*items));
    if (!items)
        return MCREG_ERR_NOMEM;
    h->items = items;
    return MCREG_OK;
}

#define ARITY 8u

static void heap_place(mcreg_heap *h, size_t i, struct mcreg_record *r, uint64_t key)
{
    h->items[i] = r;
    h->keys[i] = key;
    r->heap_index = (uint32_t)i;
}

/* items[i] against items[j]: the keys decide, unless they are equal. */
static int slot_cmp(const mcreg_heap *h, size_t i, size_t j)
{
    if (h->keys[i] != h->keys[j])
        return h->keys[i] < h->keys[j] ? -1 : 1;
    return mcreg__heap_expiry_cmp(h->items[i], h->items[j]);
}

/* r (key k) against items[j]. */
static int record_cmp(const mcreg_heap *h, const struct mcreg_record *r, uint64_t k, size_t j)
{
    if (k != h->keys[j])
        return k < h->keys[j] ? -1 : 1;
    return mcreg__heap_expiry_cmp(r, h->items[j]);
}

static void sift_up(mcreg_heap *h, size_t i)
{
    struct mcreg_record *r = h->items[i];
    uint64_t k = h->keys[i];
    while (i > 0) {
        size_t parent = (i - 1) / ARITY;
        if (record_cmp(h, r, k, parent) >= 0)
            break;
        heap_place(h, i, h->items[parent], h->keys[parent]);
        i = parent;
    }
    heap_place(h, i, r, k);
}

/* The first of i's children in heap order, or n if it has none. */
static size_t least_child(const mcreg_heap *h, size_t i)
{
    size_t first = ARITY * i + 1;
    if (first >= h->n)
        return h->n;
    size_t end = first + ARITY < h->n ? first + ARITY : h->n;
    size_t least = first;
    for (size_t c = first + 1; c < end; c++)
        if (slot_cmp(h, c, least) < 0)
            least = c;
    return least;
}

static void sift_down(mcreg_heap *h, size_t i)
{
    struct mcreg_record *r = h->items[i];
    uint64_t k = h->keys[i];
    for (;;) {
        size_t child = least_child(h, i);
        if (child == h->n || record_cmp(h, r, k, child) <= 0)
            break;
        heap_place(h, i, h->items[child], h->keys[child]);
        i = child;
    }
    heap_place(h, i, r, k);
}

void mcreg__heap_substitute(mcreg_heap *h, const struct mcreg_record *from,
                            struct mcreg_record *to)
{
    heap_place(h, from->heap_index, to, h->keys[from->heap_index]);
}

void mcreg__heap_push(mcreg_heap *h, struct mcreg_record *r)
{
    heap_place(h, h->n++, r, r->expires_at);
    sift_up(h, h->n - 1);
}

void mcreg__heap_update(mcreg_heap *h, struct mcreg_record *r)
{
    h->keys[r->heap_index] = r->expires_at;
    /* At most one of the two moves r: if it rises, it ends above records
     * that are all later than it, so sifting down from there is a no-op. */
    sift_up(h, r->heap_index);
    sift_down(h, r->heap_index);
}

void mcreg__heap_remove(mcreg_heap *h, struct mcreg_record *r)
{
    size_t i = r->heap_index;
    size_t last = --h->n;
    if (i == last)
        return;
    struct mcreg_record *moved = h->items[last];
    heap_place(h, i, moved, h->keys[last]);
    sift_up(h, i);
    sift_down(h, moved->heap_index); /* at most one moves it: see heap_update */
}

void mcreg__heap_trim(mcreg_alloc *a, mcreg_heap *h, size_t floor)
{
    /* Down to twice the records (at least 64), so a call that removed
     * nearly everything gives nearly everything back, and the heap can
     * still double before it grows again: no reallocating back and forth
     * near the threshold. Never below the capacity: room the host asked
     * for stays, so refilling it never reallocates. */
    if (h->cap <= 64 || h->n >= h->cap / 4)
        return;
    size_t cap = h->n * 2 > 64 ? h->n * 2 : 64;
    if (cap < floor)
        cap = floor;
    if (cap >= h->cap)
        return; /* the capacity's room stays */
    struct mcreg_record **items =
        mcreg__alloc_realloc(a, h->items, h->cap * sizeof(*items), cap * sizeof(*items));
    if (!items)
        return;
    h->items = items;
    h->cap = cap; /* keys[] is at least this large whether or not it shrinks */
    uint64_t *keys = mcreg__alloc_realloc(a, h->keys, h->keys_cap * sizeof(*keys),
                                          cap * sizeof(*keys));
    if (keys) {
        h->keys = keys;
        h->keys_cap = cap;
    }
}

void mcreg__heap_free(mcreg_alloc *a, mcreg_heap *h)
{
    mcreg__alloc_free(a, h->items, h->cap * sizeof(*h->items));
    mcreg__alloc_free(a, h->keys, h->keys_cap * sizeof(*h->keys));
    memset(h, 0, sizeof(*h));
}

void mcreg__heap_build(mcreg_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->items[i]->heap_index = (uint32_t)i;
    /* Floyd's construction: O(n), against O(n log n) for n pushes. */
    if (h->n > 1)
        for (size_t i = (h->n - 2) / ARITY + 1; i-- > 0;)
            sift_down(h, i);
}
