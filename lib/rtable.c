#include "rtable.h"

#include <string.h>

mcreg_repl_node *mcreg__rtable_node_new(mcreg_alloc *a, const char *id1, size_t len1,
                                        const char *id2, size_t len2)
{
    size_t key = len1 + 1 + (len2 ? len2 + 1 : 0);
    mcreg_repl_node *n = mcreg__alloc_malloc(a, sizeof(*n) + key);
    if (!n)
        return NULL;
    memset(n, 0, sizeof(*n));
    n->len1 = (uint16_t)len1; /* ids are at most MCREG_MAX_ID_LEN bytes */
    n->len2 = (uint16_t)len2;
    memcpy(n->key, id1, len1);
    n->key[len1] = '\0';
    if (len2) {
        memcpy(n->key + len1 + 1, id2, len2);
        n->key[len1 + 1 + len2] = '\0';
    }
    return n;
}

size_t mcreg__rtable_node_size(const mcreg_repl_node *n)
{
    return sizeof(*n) + n->len1 + 1 + (n->len2 ? n->len2 + 1u : 0u);
}

void mcreg__rtable_node_free(mcreg_alloc *a, mcreg_repl_node *n)
{
    if (n)
        mcreg__alloc_free(a, n, mcreg__rtable_node_size(n));
}

static size_t slot_of(const mcreg_rtable *t, uint64_t hash)
{
    return (size_t)hash & (t->cap - 1);
}

static void place(mcreg_rtable *t, mcreg_repl_node *n)
{
    size_t i = slot_of(t, n->hash);
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = n;
}

/* At most three quarters full, so that probes stay short. */
int mcreg__rtable_reserve(mcreg_alloc *a, mcreg_rtable *t, size_t extra)
{
    if (extra > SIZE_MAX / 8 - t->n)
        return MCREG_ERR_NOMEM;
    size_t need = t->n + extra;
    if (need <= t->cap / 4 * 3)
        return MCREG_OK;
    size_t cap = t->cap ? t->cap : 16;
    while (need > cap / 4 * 3)
        cap *= 2;
    mcreg_repl_node **slots = mcreg__alloc_malloc(a, cap * sizeof(*slots));
    if (!slots)
        return MCREG_ERR_NOMEM;
    memset(slots, 0, cap * sizeof(*slots));
    mcreg_rtable grown = {slots, cap, t->n};
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i])
            place(&grown, t->slots[i]);
    mcreg__alloc_free(a, t->slots, t->cap * sizeof(*t->slots));
    *t = grown;
    return MCREG_OK;
}

mcreg_repl_node *mcreg__rtable_find(const mcreg_rtable *t, uint64_t hash, const char *key,
                                    size_t key_len)
{
    if (!t->cap)
        return NULL;
    for (size_t i = slot_of(t, hash); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
        const mcreg_repl_node *n = t->slots[i];
        if (n->hash == hash && mcreg__rtable_key_len(n) == key_len &&
            memcmp(n->key, key, key_len) == 0)
            return t->slots[i];
    }
    return NULL;
}

void mcreg__rtable_insert(mcreg_rtable *t, mcreg_repl_node *n)
{
    place(t, n);
    t->n++;
}

/* Linear probing's deletion by backward shift: every node after the hole,
 * up to the next free slot, moves back if its home slot allows, so no
 * tombstone slots are needed. */
void mcreg__rtable_remove(mcreg_rtable *t, mcreg_repl_node *n)
{
    size_t mask = t->cap - 1, i = slot_of(t, n->hash);
    while (t->slots[i] != n)
        i = (i + 1) & mask;
    t->slots[i] = NULL;
    t->n--;
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = slot_of(t, t->slots[j]->hash);
        /* The node at j may fill the hole at i unless its home lies
         * cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
}

void mcreg__rtable_free(mcreg_alloc *a, mcreg_rtable *t)
{
    for (size_t i = 0; i < t->cap; i++)
        mcreg__rtable_node_free(a, t->slots[i]);
    mcreg__alloc_free(a, t->slots, t->cap * sizeof(*t->slots));
    memset(t, 0, sizeof(*t));
}
