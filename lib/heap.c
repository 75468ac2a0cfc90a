#include "heap.h"

#include <string.h>

#include "record.h"

int mcreg__expiry_cmp(const struct mcreg_record *a, const struct mcreg_record *b)
{
    if (a->expires_at != b->expires_at)
        return a->expires_at < b->expires_at ? -1 : 1;
    int c = mcreg__logon_cmp(a, b);
    if (c)
        return c;
    return mcreg__user_cmp(a->user, b->user);
}

int mcreg__heap_reserve(const mcreg_allocator *a, mcreg_heap *h, size_t n)
{
    if (n <= h->cap)
        return MCREG_OK;
    struct mcreg_record **items = mcreg__grow(a, h->items, &h->cap, n, sizeof(*items));
    if (!items)
        return MCREG_ERR_NOMEM;
    h->items = items;
    return MCREG_OK;
}

static void heap_place(mcreg_heap *h, size_t i, struct mcreg_record *r)
{
    h->items[i] = r;
    r->heap_index = (uint32_t)i;
}

void mcreg__heap_substitute(mcreg_heap *h, const struct mcreg_record *from,
                            struct mcreg_record *to)
{
    heap_place(h, from->heap_index, to);
}

static void sift_up(mcreg_heap *h, size_t i)
{
    struct mcreg_record *r = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (mcreg__expiry_cmp(h->items[parent], r) <= 0)
            break;
        heap_place(h, i, h->items[parent]);
        i = parent;
    }
    heap_place(h, i, r);
}

static void sift_down(mcreg_heap *h, size_t i)
{
    struct mcreg_record *r = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && mcreg__expiry_cmp(h->items[child + 1], h->items[child]) < 0)
            child++;
        if (mcreg__expiry_cmp(r, h->items[child]) <= 0)
            break;
        heap_place(h, i, h->items[child]);
        i = child;
    }
    heap_place(h, i, r);
}

void mcreg__heap_push(mcreg_heap *h, struct mcreg_record *r)
{
    heap_place(h, h->n++, r);
    sift_up(h, h->n - 1);
}

void mcreg__heap_update(mcreg_heap *h, struct mcreg_record *r)
{
    /* At most one of the two moves r: if it rises, it ends above records
     * that are all later than it, so sifting down from there is a no-op. */
    sift_up(h, r->heap_index);
    sift_down(h, r->heap_index);
}

void mcreg__heap_remove(mcreg_heap *h, struct mcreg_record *r)
{
    size_t i = r->heap_index;
    struct mcreg_record *last = h->items[--h->n];
    if (last == r)
        return;
    heap_place(h, i, last);
    mcreg__heap_update(h, last);
}

void mcreg__heap_free(const mcreg_allocator *a, mcreg_heap *h)
{
    mcreg__free(a, h->items);
    memset(h, 0, sizeof(*h));
}

void mcreg__heap_build(mcreg_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->items[i]->heap_index = (uint32_t)i;
    /* Floyd's construction: O(n), against O(n log n) for n pushes. */
    for (size_t i = h->n / 2; i-- > 0;)
        sift_down(h, i);
}
