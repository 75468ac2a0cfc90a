#include "index.h"

#include <string.h>

#include "record.h"
#include "sort.h"

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
    HASH_FIND_BYHASHVALUE(hh, reg->st.users, id, len, id_hash(reg, id, len), u);
    return u;
}

int mcreg__user_insert(mcreg_registry *reg, mcreg_user *u)
{
    UTHASH_SCOPE(reg);
    unsigned hv = id_hash(reg, u->id, u->id_len);
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, reg->st.users, u->id, u->id_len, hv, u);
    return uthash_oom ? MCREG_ERR_NOMEM : MCREG_OK;
}

mcreg_user *mcreg__user_add(mcreg_registry *reg, const char *id, size_t len)
{
    mcreg_user *u = mcreg__user_new(&reg->alloc, id, len);
    if (u && mcreg__user_insert(reg, u) != MCREG_OK) {
        mcreg__free(&reg->alloc, u);
        u = NULL;
    }
    return u;
}

void mcreg__user_remove(mcreg_registry *reg, mcreg_user *u)
{
    UTHASH_SCOPE(reg);
    HASH_DELETE(hh, reg->st.users, u);
}

struct mcreg_record *mcreg__ue_first(const mcreg_registry *reg, const char *ue_id, size_t len)
{
    struct mcreg_record *r;
    HASH_FIND_BYHASHVALUE(hh, reg->st.ues, ue_id, len, id_hash(reg, ue_id, len), r);
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
        reg->st.ues = to;
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

/* r starts the list of a UE that has none yet: it goes into the table. */
static int ue_table_add(mcreg_registry *reg, struct mcreg_record *r)
{
    UTHASH_SCOPE(reg);
    unsigned hv = id_hash(reg, r->ue_id, r->ue_len);
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, reg->st.ues, r->ue_id, r->ue_len, hv, r);
    if (uthash_oom)
        return MCREG_ERR_NOMEM;
    r->next_at_ue = NULL;
    r->prev_at_ue = r;
    return MCREG_OK;
}

/* Link r into the UE list that starts at `first`, right after `after`
 * (NULL: r becomes the first and takes the table slot). */
static void ue_link_after(mcreg_registry *reg, struct mcreg_record *first,
                          struct mcreg_record *after, struct mcreg_record *r)
{
    if (!after) {
        r->next_at_ue = first;
        r->prev_at_ue = first->prev_at_ue;
        first->prev_at_ue = r;
        ue_table_substitute(reg, first, r);
        return;
    }
    r->prev_at_ue = after;
    r->next_at_ue = after->next_at_ue;
    if (r->next_at_ue)
        r->next_at_ue->prev_at_ue = r;
    else
        first->prev_at_ue = r;
    after->next_at_ue = r;
}

/* Where r goes in the UE list that starts at `first`: the record it
 * follows, or NULL to go first. The search runs from both ends at once, so
 * it costs the distance to the nearer end: O(1) with a clock that moves
 * forward (r goes last) and with records from a clock ahead, restored from
 * a snapshot (r goes first). */
static struct mcreg_record *ue_position(struct mcreg_record *first, const struct mcreg_record *r)
{
    struct mcreg_record *lo = first, *hi = first->prev_at_ue;
    for (;;) {
        /* Those after hi sort after r, those before lo before it. */
        if (at_ue_cmp(hi, r) < 0)
            return hi;
        if (at_ue_cmp(lo, r) > 0)
            return lo == first ? NULL : lo->prev_at_ue;
        lo = lo->next_at_ue;
        hi = hi->prev_at_ue;
    }
}

int mcreg__ue_insert(mcreg_registry *reg, struct mcreg_record *r)
{
    struct mcreg_record *first = mcreg__ue_first(reg, r->ue_id, r->ue_len);
    if (!first)
        return ue_table_add(reg, r);
    ue_link_after(reg, first, ue_position(first, r), r);
    return MCREG_OK;
}

int mcreg__ue_append(mcreg_registry *reg, struct mcreg_record *first, struct mcreg_record *r)
{
    if (!first)
        return ue_table_add(reg, r);
    ue_link_after(reg, first, first->prev_at_ue, r);
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
        HASH_DELETE(hh, reg->st.ues, r);
    } else {
        r->prev_at_ue->next_at_ue = next;
        if (next)
            next->prev_at_ue = r->prev_at_ue;
        else
            mcreg__ue_first(reg, r->ue_id, r->ue_len)->prev_at_ue = r->prev_at_ue;
    }
    r->next_at_ue = r->prev_at_ue = NULL;
}

/* ---- a user's records ------------------------------------------------ */

/* Link r into u's list right after `after` (NULL: first). */
static void user_link_after(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *after,
                            struct mcreg_record *r)
{
    r->user_prev = after;
    r->user_next = after ? after->user_next : u->first;
    if (r->user_next)
        r->user_next->user_prev = r;
    else
        u->last = r;
    if (after)
        after->user_next = r;
    else
        u->first = r;
    if (u->n_records++ == 0)
        reg->st.n_active_users++;
}

/* Where r goes in u's list: the record it follows, or NULL to go first.
 * From both ends at once, as ue_position. */
static struct mcreg_record *user_position(const mcreg_user *u, const struct mcreg_record *r)
{
    struct mcreg_record *lo = u->first, *hi = u->last;
    if (!lo)
        return NULL;
    for (;;) {
        if (mcreg__logon_cmp(hi, r) < 0)
            return hi;
        if (mcreg__logon_cmp(lo, r) > 0)
            return lo->user_prev;
        lo = lo->user_next;
        hi = hi->user_prev;
    }
}

void mcreg__user_link(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *r)
{
    user_link_after(reg, u, user_position(u, r), r);
}

void mcreg__user_append(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *r)
{
    user_link_after(reg, u, u->last, r);
}

void mcreg__user_unlink(mcreg_registry *reg, struct mcreg_record *r)
{
    mcreg_user *u = r->user;
    if (r->user_prev)
        r->user_prev->user_next = r->user_next;
    else
        u->first = r->user_next;
    if (r->user_next)
        r->user_next->user_prev = r->user_prev;
    else
        u->last = r->user_prev;
    r->user_prev = r->user_next = NULL;
    if (--u->n_records == 0)
        reg->st.n_active_users--;
}

/* ---- pairs ------------------------------------------------------------- */

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
    mcreg_user *u = reg->st.users;
    HASH_CLEAR(hh, reg->st.ues);
    HASH_CLEAR(hh, reg->st.users);
    /* HASH_CLEAR frees the table, not the items; their app-order links
     * are intact. */
    while (u) {
        mcreg_user *next = u->hh.next;
        mcreg__free(&reg->alloc, u);
        u = next;
    }
}

/* ---- whole-table walks ---------------------------------------------------- */

size_t mcreg__user_total(const mcreg_registry *reg)
{
    return HASH_COUNT(reg->st.users);
}

mcreg_user *mcreg__user_iter(const mcreg_registry *reg, const mcreg_user *prev)
{
    return prev ? prev->hh.next : reg->st.users;
}

void mcreg__users_prune(mcreg_registry *reg)
{
    mcreg_user *u, *tmp;
    UTHASH_SCOPE(reg);
    HASH_ITER(hh, reg->st.users, u, tmp) {
        if (u->n_records == 0 && !u->has_max) {
            HASH_DELETE(hh, reg->st.users, u);
            mcreg__free(&reg->alloc, u);
        }
    }
}

size_t mcreg__largest_user(const mcreg_registry *reg)
{
    size_t largest = 0;
    for (const mcreg_user *u = reg->st.users; u; u = u->hh.next)
        if (u->n_records > largest)
            largest = u->n_records;
    return largest;
}

size_t mcreg__longest_ue_list(const mcreg_registry *reg)
{
    size_t longest = 0;
    for (const struct mcreg_record *first = reg->st.ues; first; first = first->hh.next) {
        size_t n = 0;
        for (const struct mcreg_record *r = first; r; r = r->next_at_ue)
            n++;
        if (n > longest)
            longest = n;
    }
    return longest;
}

static int ue_id_order(const void *a, const void *b)
{
    const struct mcreg_record *x = a, *y = b;
    return strcmp(x->ue_id, y->ue_id);
}

int mcreg__has_duplicate_pair(const mcreg_registry *reg, void **scratch)
{
    for (const mcreg_user *u = reg->st.users; u; u = u->hh.next) {
        size_t n = 0;
        for (struct mcreg_record *r = u->first; r; r = r->user_next)
            scratch[n++] = r;
        mcreg__sort(scratch, n, ue_id_order);
        for (size_t i = 1; i < n; i++)
            if (ue_id_order(scratch[i - 1], scratch[i]) == 0)
                return 1;
    }
    return 0;
}

static int logon_cmp_v(const void *a, const void *b)
{
    return mcreg__logon_cmp(a, b);
}

static int at_ue_cmp_v(const void *a, const void *b)
{
    return at_ue_cmp(a, b);
}

/* Sort u's list by (registered_at, ue_id), unless it already is. */
static void user_list_sort(mcreg_user *u, void **scratch)
{
    size_t n = 0;
    int sorted = 1;
    for (struct mcreg_record *r = u->first; r; r = r->user_next) {
        if (r->user_next && mcreg__logon_cmp(r, r->user_next) > 0)
            sorted = 0;
        scratch[n++] = r;
    }
    if (sorted)
        return;
    mcreg__sort(scratch, n, logon_cmp_v);
    for (size_t i = 0; i < n; i++) {
        struct mcreg_record *r = scratch[i];
        r->user_prev = i ? scratch[i - 1] : NULL;
        r->user_next = i + 1 < n ? scratch[i + 1] : NULL;
    }
    u->first = scratch[0];
    u->last = scratch[n - 1];
}

/* Sort the list of the UE that `first` starts by (registered_at, user_id),
 * unless it already is; the new first record takes the table slot. */
static void ue_list_sort(mcreg_registry *reg, struct mcreg_record *first, void **scratch)
{
    size_t n = 0;
    int sorted = 1;
    for (struct mcreg_record *r = first; r; r = r->next_at_ue) {
        if (r->next_at_ue && at_ue_cmp(r, r->next_at_ue) > 0)
            sorted = 0;
        scratch[n++] = r;
    }
    if (sorted)
        return;
    mcreg__sort(scratch, n, at_ue_cmp_v);
    for (size_t i = 0; i < n; i++) {
        struct mcreg_record *r = scratch[i];
        r->prev_at_ue = scratch[i ? i - 1 : n - 1]; /* the first's prev is the last */
        r->next_at_ue = i + 1 < n ? scratch[i + 1] : NULL;
    }
    if (scratch[0] != first)
        ue_table_substitute(reg, first, scratch[0]);
}

void mcreg__lists_sort(mcreg_registry *reg, void **scratch)
{
    for (mcreg_user *u = reg->st.users; u; u = u->hh.next)
        if (u->n_records > 1)
            user_list_sort(u, scratch);
    struct mcreg_record *first = reg->st.ues, *next;
    for (; first; first = next) {
        /* Taken now: a substitution puts another record in first's place. */
        next = first->hh.next;
        if (first->next_at_ue)
            ue_list_sort(reg, first, scratch);
    }
}
