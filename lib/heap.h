/* The expiry heap (8-ary, keys beside the records: see mcreg_heap): O(1)
 * next deadline, O(log n) insert, remove and re-key.
 * Records are ordered by (expires_at, registered_at, ue_id, user_id), a
 * total order, so expiry order never depends on insertion history. */
#ifndef MCREG_HEAP_H
#define MCREG_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"

struct mcreg_record;

/* The expiry heap: an 8-ary min-heap of records, each record holding its
 * own position so that removal and re-keying are O(log n). Each record's
 * expires_at is copied into keys[], beside items[]: a sift compares the
 * children's keys without touching their records (cache misses, at a
 * million records), and reads a record only to break a tie. Eight
 * children per node (their keys fill one cache line) make the heap a third
 * as deep as a binary one: each level a record moves costs a cache miss (its
 * heap_index is written). */
typedef struct mcreg_heap {
    struct mcreg_record **items;
    uint64_t *keys; /* keys[i] == items[i]->expires_at */
    size_t n, cap;
    /* keys[]'s own capacity: at least cap, more after a failed growth of
     * items[] or a failed trim of keys[] (the sizes the allocator holds). */
    size_t keys_cap;
} mcreg_heap;

/* Make room for `n` records (growing by half, so that one record at a
 * time costs O(1) amortized). */
int mcreg__heap_reserve(mcreg_alloc *a, mcreg_heap *h, size_t n);
/* Make room for exactly `n` records when there is less: for a size known
 * in advance (a capacity, a snapshot's count). The reserve calls are the
 * only heap calls that can fail. */
int mcreg__heap_presize(mcreg_alloc *a, mcreg_heap *h, size_t n);
/* Needs room reserved beforehand: never allocates. */
void mcreg__heap_push(mcreg_heap *h, struct mcreg_record *r);
void mcreg__heap_remove(mcreg_heap *h, struct mcreg_record *r);
/* Restore the order after r->expires_at changed. */
void mcreg__heap_update(mcreg_heap *h, struct mcreg_record *r);
/* The record that expires first, or NULL. */
static inline struct mcreg_record *mcreg__heap_top(const mcreg_heap *h)
{
    return h->n ? h->items[0] : NULL;
}
/* Put `to` in `from`'s place: same expiry, same position. */
void mcreg__heap_substitute(mcreg_heap *h, const struct mcreg_record *from,
                            struct mcreg_record *to);
/* Put items[0..n) in heap order, whatever order they are in; keys[0..n)
 * must hold their expiries already. */
void mcreg__heap_build(mcreg_heap *h);
/* Give memory back once the heap holds under a quarter of its room:
 * down to twice its records, at least 64 and never below `floor` (the
 * registry's capacity). Never fails: if the allocator cannot, the room
 * stays. */
void mcreg__heap_trim(mcreg_alloc *a, mcreg_heap *h, size_t floor);
void mcreg__heap_free(mcreg_alloc *a, mcreg_heap *h);

/* Negative, zero or positive as a expires before, with, or after b. */
int mcreg__heap_expiry_cmp(const struct mcreg_record *a, const struct mcreg_record *b);

#endif
