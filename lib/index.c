#include "index.h"

#include <string.h>

#include "record.h"

/* uthash's view of the registry: mcreg_uthash.h routes its allocations to
 * `uthash_alloc` and reports failed adds through `uthash_oom`. Every
 * function using a HASH_* macro starts with this. */
#define UTHASH_SCOPE(reg)                                  \
    const mcreg_allocator *uthash_alloc = &(reg)->alloc; \
    int uthash_oom = 0;                                    \
    (void)uthash_alloc;                                    \
    (void)uthash_oom

static unsigned id_hash(const mcreg_registry *reg, const char *id, size_t len)
{
    /* uthash keeps 32 bits; its bucket index is the low bits. */
    return (unsigned)mcreg__siphash13(&reg->hash_key, id, len);
}

mcreg_user *mcreg__user_find(const mcreg_registry *reg, const char *id, size_t len)
{
    mcreg_user *u;
    HASH_FIND_BYHASHVALUE(hh, reg->users, id, len, id_hash(reg, id, len), u);
    return u;
}

int mcreg__user_insert(mcreg_registry *reg, mcreg_user *u)
{
    UTHASH_SCOPE(reg);
    unsigned hv = id_hash(reg, u->id, u->id_len);
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, reg->users, u->id, u->id_len, hv, u);
    return uthash_oom ? MCREG_ERR_NOMEM : MCREG_OK;
}

void mcreg__user_remove(mcreg_registry *reg, mcreg_user *u)
{
    UTHASH_SCOPE(reg);
    HASH_DELETE(hh, reg->users, u);
}

struct mcreg_record *mcreg__ue_first(const mcreg_registry *reg, const char *ue_id, size_t len)
{
    struct mcreg_record *r;
    HASH_FIND_BYHASHVALUE(hh, reg->ues, ue_id, len, id_hash(reg, ue_id, len), r);
    return r;
}

/* Put `to` where `from` stands in the UE table, without a delete and an
 * add: an add may need memory, and removing a record must never fail.
 * Both hold the same key, so `to` takes over `from`'s bucket and place. */
static void ue_table_substitute(mcreg_registry *reg, struct mcreg_record *from,
                                struct mcreg_record *to)
{
    UT_hash_handle *f = &from->hh, *t = &to->hh;
    UT_hash_table *tbl = f->tbl;
    *t = *f;
    t->key = to->ue_id;
    if (f->prev)
        HH_FROM_ELMT(tbl, f->prev)->next = to;
    else
        reg->ues = to;
    if (f->next)
        HH_FROM_ELMT(tbl, f->next)->prev = to;
    if (tbl->tail == f)
        tbl->tail = t;
    if (f->hh_prev) {
        f->hh_prev->hh_next = t;
    } else {
        unsigned bkt;
        HASH_TO_BKT(f->hashv, tbl->num_buckets, bkt);
        tbl->buckets[bkt].hh_head = t;
    }
    if (f->hh_next)
        f->hh_next->hh_prev = t;
}

/* (registered_at, user_id): the order of the records at one UE. */
static int at_ue_cmp(const struct mcreg_record *a, const struct mcreg_record *b)
{
    if (a->registered_at != b->registered_at)
        return a->registered_at < b->registered_at ? -1 : 1;
    return mcreg__user_cmp(a->user, b->user);
}

int mcreg__ue_insert(mcreg_registry *reg, struct mcreg_record *r)
{
    UTHASH_SCOPE(reg);
    struct mcreg_record *first = mcreg__ue_first(reg, r->ue_id, r->ue_len);
    if (!first) {
        unsigned hv = id_hash(reg, r->ue_id, r->ue_len);
        HASH_ADD_KEYPTR_BYHASHVALUE(hh, reg->ues, r->ue_id, r->ue_len, hv, r);
        if (uthash_oom)
            return MCREG_ERR_NOMEM;
        r->next_at_ue = NULL;
        r->prev_at_ue = r;
        return MCREG_OK;
    }
    /* Search from the end: with a clock that moves forward, r goes last. */
    struct mcreg_record *after = first->prev_at_ue;
    while (after && at_ue_cmp(after, r) > 0)
        after = after == first ? NULL : after->prev_at_ue;
    if (!after) { /* r comes first and takes the table slot */
        r->next_at_ue = first;
        r->prev_at_ue = first->prev_at_ue;
        first->prev_at_ue = r;
        ue_table_substitute(reg, first, r);
        return MCREG_OK;
    }
    r->prev_at_ue = after;
    r->next_at_ue = after->next_at_ue;
    if (r->next_at_ue)
        r->next_at_ue->prev_at_ue = r;
    else
        first->prev_at_ue = r;
    after->next_at_ue = r;
    return MCREG_OK;
}

void mcreg__ue_remove(mcreg_registry *reg, struct mcreg_record *r)
{
    UTHASH_SCOPE(reg);
    struct mcreg_record *next = r->next_at_ue;
    /* The first record's prev is the last, whose next is NULL. */
    int is_first = r->prev_at_ue->next_at_ue != r;
    if (is_first && next) {
        next->prev_at_ue = r->prev_at_ue;
        ue_table_substitute(reg, r, next);
    } else if (is_first) {
        HASH_DELETE(hh, reg->ues, r);
    } else {
        r->prev_at_ue->next_at_ue = next;
        if (next)
            next->prev_at_ue = r->prev_at_ue;
        else
            mcreg__ue_first(reg, r->ue_id, r->ue_len)->prev_at_ue = r->prev_at_ue;
    }
    r->next_at_ue = r->prev_at_ue = NULL;
}

static int user_is(const mcreg_user *u, const char *id, size_t len)
{
    return u->id_len == len && memcmp(u->id, id, len) == 0;
}

struct mcreg_record *mcreg__pair_find(const mcreg_registry *reg, const char *user_id,
                                      size_t user_len, const char *ue_id, size_t ue_len)
{
    struct mcreg_record *at_ue = mcreg__ue_first(reg, ue_id, ue_len);
    if (!at_ue)
        return NULL;
    if (!at_ue->next_at_ue) /* always so with UE exclusive on */
        return user_is(at_ue->user, user_id, user_len) ? at_ue : NULL;

    mcreg_user *u = mcreg__user_find(reg, user_id, user_len);
    if (!u)
        return NULL;
    /* The pair is on both lists or on neither: walk the two in step, so the
     * cost is that of the shorter one however an attacker shapes them. */
    struct mcreg_record *a = at_ue, *b = u->first;
    while (a && b) {
        if (a->user == u)
            return a;
        if (b->ue_len == ue_len && memcmp(b->ue_id, ue_id, ue_len) == 0)
            return b;
        a = a->next_at_ue;
        b = b->user_next;
    }
    return NULL;
}

void mcreg__index_clear(mcreg_registry *reg)
{
    UTHASH_SCOPE(reg);
    mcreg_user *u = reg->users;
    HASH_CLEAR(hh, reg->ues);
    HASH_CLEAR(hh, reg->users);
    /* HASH_CLEAR frees the table, not the items; their app-order links
     * are intact. */
    while (u) {
        mcreg_user *next = u->hh.next;
        mcreg__free(&reg->alloc, u);
        u = next;
    }
}
