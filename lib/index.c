#include "index.h"

#include <string.h>

#include "record.h"
#include "sort.h"

/* A record's UE-list links, as lvalues. Only records of a registry with UE
 * exclusive off have them (see mcreg_record_ue_links): the list code runs only
 * for those, and says so where a record may have none. */
#define NEXT_AT_UE(r) (mcreg__record_ue_links(r)->next)
#define PREV_AT_UE(r) (mcreg__record_ue_links(r)->prev)

/* uthash's view of the registry: mcreg_uthash.h routes its allocations to
 * `uthash_alloc` and reports failed adds through `uthash_oom`. Every
 * function using a HASH_* macro starts with this. */
#define UTHASH_SCOPE(reg)                                  \
    mcreg_alloc *uthash_alloc = &(reg)->alloc;           \
    int uthash_oom = 0;                                    \
    (void)uthash_alloc;                                    \
    (void)uthash_oom

/* ---- tables kept and sized in advance ---------------------------------- */

/* The buckets `records` items need: one each, a power of two, at least
 * uthash's initial 32. 0 when more than a table can have (uthash counts
 * buckets in an unsigned). */
static size_t buckets_for(size_t records, unsigned *log2)
{
    unsigned l = HASH_INITIAL_NUM_BUCKETS_LOG2;
    while (((size_t)1 << l) < records) {
        if (++l > 31)
            return 0;
    }
    *log2 = l;
    return (size_t)1 << l;
}

/* An empty table of `records` buckets for items whose handle is at `hho`,
 * set up as uthash's HASH_MAKE_TABLE sets up its own (no tail until the
 * first item). Its buckets are written here, so their pages are the
 * process's now, not during an insert. NULL when out of memory. */
static UT_hash_table *table_new(mcreg_alloc *a, size_t records, ptrdiff_t hho)
{
    unsigned log2;
    size_t n = buckets_for(records, &log2);
    if (!n || n > SIZE_MAX / sizeof(UT_hash_bucket))
        return NULL;
    UT_hash_table *tbl = mcreg__alloc_malloc(a, sizeof(*tbl));
    UT_hash_bucket *buckets = tbl ? mcreg__alloc_malloc(a, n * sizeof(*buckets)) : NULL;
    if (!buckets) {
        mcreg__alloc_free(a, tbl, sizeof(*tbl));
        return NULL;
    }
    memset(tbl, 0, sizeof(*tbl));
    memset(buckets, 0, n * sizeof(*buckets));
    tbl->buckets = buckets;
    tbl->num_buckets = (unsigned)n;
    tbl->log2_num_buckets = log2;
    tbl->hho = hho;
    tbl->signature = HASH_SIGNATURE;
    return tbl;
}

/* The sizes uthash frees a table with (HASH_DELETE, HASH_CLEAR). */
static void table_free(mcreg_alloc *a, UT_hash_table *tbl)
{
    if (!tbl)
        return;
    mcreg__alloc_free(a, tbl->buckets, tbl->num_buckets * sizeof(*tbl->buckets));
    mcreg__alloc_free(a, tbl, sizeof(*tbl));
}

/* A spare sized for `records`, unless the table is in use or its spare
 * has the room already. The old spare goes only once the new one exists. */
static int spare_reserve(mcreg_alloc *a, const void *head, UT_hash_table **spare,
                         size_t records, ptrdiff_t hho)
{
    unsigned log2;
    if (head || (*spare && (*spare)->num_buckets >= buckets_for(records, &log2)))
        return MCREG_OK;
    UT_hash_table *tbl = table_new(a, records, hho);
    if (!tbl)
        return MCREG_ERR_NOMEM;
    table_free(a, *spare);
    *spare = tbl;
    return MCREG_OK;
}

int mcreg__index_reserve(mcreg_registry *reg, size_t records)
{
    mcreg_alloc *a = &reg->alloc;
    mcreg_state *st = &reg->st;
    if (spare_reserve(a, st->users, &st->users_spare, records, offsetof(mcreg_user, hh)))
        return MCREG_ERR_NOMEM;
    return spare_reserve(a, st->ues, &st->ues_spare, records, offsetof(struct mcreg_record, hh));
}

/* The first item of an empty table goes into its spare: what
 * HASH_ADD_KEYPTR_BYHASHVALUE does for a first item, with this table in
 * place of the one HASH_MAKE_TABLE would allocate. Cannot fail. */
static void table_adopt(UT_hash_table **spare, UT_hash_handle *hh, const void *key,
                        size_t keylen, unsigned hv)
{
    UT_hash_table *tbl = *spare;
    *spare = NULL;
    hh->tbl = tbl;
    hh->prev = hh->next = NULL;
    hh->hh_prev = hh->hh_next = NULL;
    hh->key = key;
    hh->keylen = (unsigned)keylen;
    hh->hashv = hv;
    tbl->tail = hh;
    tbl->num_items = 1;
    unsigned bkt;
    HASH_TO_BKT(hv, tbl->num_buckets, bkt);
    tbl->buckets[bkt].hh_head = hh;
    tbl->buckets[bkt].count = 1;
}

/* Take `only`, a table's last item, out, keeping the table as its spare
 * (what HASH_DELETE does for a last item, less freeing the table). */
static void table_keep_empty(UT_hash_table **spare, UT_hash_handle *only)
{
    UT_hash_table *tbl = only->tbl;
    unsigned bkt;
    HASH_TO_BKT(only->hashv, tbl->num_buckets, bkt);
    tbl->buckets[bkt].hh_head = NULL;
    tbl->buckets[bkt].count = 0;
    tbl->num_items = 0;
    tbl->tail = NULL;
    *spare = tbl;
}

/* Below the capacity, a table sized for it never expands (uthash expands a
 * table whenever one chain reaches 10 items, by chance too). Beyond it,
 * uthash's own rule applies, down to its choice to stop expanding after
 * two ineffective expansions in a row. */
static void table_guard(UT_hash_table *tbl, size_t capacity)
{
    int sized = tbl->num_items < capacity && tbl->num_buckets >= capacity;
    tbl->noexpand = sized || tbl->ineff_expands > 1;
}

/* HASH_ADD_KEYPTR_BYHASHVALUE through the spare and the guard above. Needs
 * UTHASH_SCOPE. */
#define TABLE_ADD(reg, head, spare, item, keyptr, keylen, hv)                      \
    do {                                                                           \
        if (!(head) && (spare)) {                                                  \
            table_adopt(&(spare), &(item)->hh, (keyptr), (keylen), (hv));          \
            (head) = (item);                                                       \
        } else {                                                                   \
            if (head)                                                              \
                table_guard((head)->hh.tbl, (reg)->opt.capacity);                  \
            HASH_ADD_KEYPTR_BYHASHVALUE(hh, head, (keyptr), (keylen), (hv), item); \
        }                                                                          \
    } while (0)

/* HASH_DELETE, except that under a capacity the last item leaves the table
 * behind as the spare: refilled, it starts with all its buckets instead of
 * uthash's 32 (and the expansions that stall inserts). Needs UTHASH_SCOPE. */
#define TABLE_DELETE(reg, head, spare, item)                               \
    do {                                                                   \
        if ((reg)->opt.capacity && !(item)->hh.prev && !(item)->hh.next) { \
            table_keep_empty(&(spare), &(item)->hh);                       \
            (head) = NULL;                                                 \
        } else {                                                           \
            HASH_DELETE(hh, head, item);                                   \
        }                                                                  \
    } while (0)

/* ---- ids ------------------------------------------------------------------ */

static unsigned id_hash(const mcreg_registry *reg, const char *id, size_t len)
{
    /* uthash keeps 32 bits; its bucket index is the low bits. */
    return (unsigned)mcreg__hash_siphash13(&reg->hash_key, id, len);
}

void mcreg__index_key_init(mcreg_index_key *k, const char *id, size_t len)
{
    k->id = id;
    k->len = len;
    k->hashed = 0;
}

/* The key's hash, computed on first use: a call that hashes an id once
 * uses that hash for every lookup and insert it makes. (uthash's FIND
 * macro also evaluates its hash argument once per entry it compares.) */
static unsigned key_hash(const mcreg_registry *reg, mcreg_index_key *k)
{
    if (!k->hashed) {
        k->hv = id_hash(reg, k->id, k->len);
        k->hashed = 1;
    }
    return k->hv;
}

mcreg_user *mcreg__index_user_find(const mcreg_registry *reg, mcreg_index_key *k)
{
    mcreg_user *u;
    unsigned hv = key_hash(reg, k);
    HASH_FIND_BYHASHVALUE(hh, reg->st.users, k->id, k->len, hv, u);
    return u;
}

int mcreg__index_user_insert(mcreg_registry *reg, mcreg_user *u, mcreg_index_key *k)
{
    UTHASH_SCOPE(reg);
    unsigned hv = key_hash(reg, k);
    TABLE_ADD(reg, reg->st.users, reg->st.users_spare, u, u->id, mcreg__user_id_len(u), hv);
    return uthash_oom ? MCREG_ERR_NOMEM : MCREG_OK;
}

mcreg_user *mcreg__index_user_get(mcreg_registry *reg, mcreg_index_key *k)
{
    mcreg_user *u = mcreg__index_user_find(reg, k);
    if (u)
        return u;
    u = mcreg__user_new(&reg->alloc, k->id, k->len);
    if (u && mcreg__index_user_insert(reg, u, k) != MCREG_OK) {
        mcreg__user_free(&reg->alloc, u);
        u = NULL;
    }
    return u;
}

void mcreg__index_user_remove(mcreg_registry *reg, mcreg_user *u)
{
    UTHASH_SCOPE(reg);
    TABLE_DELETE(reg, reg->st.users, reg->st.users_spare, u);
}

struct mcreg_record *mcreg__index_ue_first(const mcreg_registry *reg, mcreg_index_key *k)
{
    struct mcreg_record *r;
    unsigned hv = key_hash(reg, k);
    HASH_FIND_BYHASHVALUE(hh, reg->st.ues, k->id, k->len, hv, r);
    return r;
}

/* The first record of r's UE, when r is known to have one. */
static struct mcreg_record *ue_first_of(const mcreg_registry *reg, const struct mcreg_record *r)
{
    mcreg_index_key k;
    mcreg__index_key_init(&k, r->ue_id, mcreg__record_ue_len(r));
    return mcreg__index_ue_first(reg, &k);
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
    t->key = to->ue_id; /* the same bytes, in to's own block */
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
static int ue_table_add(mcreg_registry *reg, struct mcreg_record *r, mcreg_index_key *k)
{
    UTHASH_SCOPE(reg);
    unsigned hv = key_hash(reg, k);
    TABLE_ADD(reg, reg->st.ues, reg->st.ues_spare, r, r->ue_id, mcreg__record_ue_len(r), hv);
    if (uthash_oom)
        return MCREG_ERR_NOMEM;
    if (r->flags & MCREG_RECORD_HAS_UE_LINKS) {
        NEXT_AT_UE(r) = NULL;
        PREV_AT_UE(r) = r; /* alone: its own last */
    }
    return MCREG_OK;
}

/* Link r into the UE list that starts at `first`, right after `after`
 * (NULL: r becomes the first and takes the table slot). With links. */
static void ue_link_after(mcreg_registry *reg, struct mcreg_record *first,
                          struct mcreg_record *after, struct mcreg_record *r)
{
    if (!after) {
        NEXT_AT_UE(r) = first;
        PREV_AT_UE(r) = PREV_AT_UE(first);
        PREV_AT_UE(first) = r;
        ue_table_substitute(reg, first, r);
        return;
    }
    PREV_AT_UE(r) = after;
    NEXT_AT_UE(r) = NEXT_AT_UE(after);
    if (NEXT_AT_UE(r))
        PREV_AT_UE(NEXT_AT_UE(r)) = r;
    else
        PREV_AT_UE(first) = r;
    NEXT_AT_UE(after) = r;
}

/* Where r goes in the UE list that starts at `first`: the record it
 * follows, or NULL to go first. The search runs from both ends at once, so
 * it costs the distance to the nearer end: O(1) with a clock that moves
 * forward (r goes last) and with records from a clock ahead, restored from
 * a snapshot (r goes first). */
static struct mcreg_record *ue_position(struct mcreg_record *first, const struct mcreg_record *r)
{
    struct mcreg_record *lo = first, *hi = PREV_AT_UE(first);
    for (;;) {
        /* Those after hi sort after r, those before lo before it. A
         * record equal to r (the same user's lapsed record at this UE,
         * which the call removes next: registry.c) counts as before it, so
         * that the walk ends whatever the list holds. */
        if (at_ue_cmp(hi, r) <= 0)
            return hi;
        if (at_ue_cmp(lo, r) > 0)
            return lo == first ? NULL : PREV_AT_UE(lo);
        lo = NEXT_AT_UE(lo);
        hi = PREV_AT_UE(hi);
    }
}

/* A UE with a record already: only with UE exclusive off, so both have
 * links. */
int mcreg__index_ue_insert(mcreg_registry *reg, struct mcreg_record *first, struct mcreg_record *r,
                     mcreg_index_key *k)
{
    if (!first)
        return ue_table_add(reg, r, k);
    ue_link_after(reg, first, ue_position(first, r), r);
    return MCREG_OK;
}

int mcreg__index_ue_append(mcreg_registry *reg, struct mcreg_record *first, struct mcreg_record *r,
                     mcreg_index_key *k)
{
    if (!first)
        return ue_table_add(reg, r, k);
    ue_link_after(reg, first, PREV_AT_UE(first), r);
    return MCREG_OK;
}

/* Whether r, which has links, is its UE's first record: the first's prev
 * is the last, whose next is NULL. */
static int is_first_at_ue(const struct mcreg_record *r)
{
    return NEXT_AT_UE(PREV_AT_UE(r)) != r;
}

void mcreg__index_ue_remove(mcreg_registry *reg, struct mcreg_record *r)
{
    UTHASH_SCOPE(reg);
    if (!(r->flags & MCREG_RECORD_HAS_UE_LINKS)) { /* alone at its UE */
        TABLE_DELETE(reg, reg->st.ues, reg->st.ues_spare, r);
        return;
    }
    struct mcreg_record *next = NEXT_AT_UE(r), *prev = PREV_AT_UE(r);
    int is_first = is_first_at_ue(r);
    if (is_first && next) {
        PREV_AT_UE(next) = prev;
        ue_table_substitute(reg, r, next);
    } else if (is_first) {
        TABLE_DELETE(reg, reg->st.ues, reg->st.ues_spare, r);
    } else {
        NEXT_AT_UE(prev) = next;
        if (next)
            PREV_AT_UE(next) = prev;
        else
            PREV_AT_UE(ue_first_of(reg, r)) = prev;
    }
    NEXT_AT_UE(r) = PREV_AT_UE(r) = NULL;
}

/* ---- a user's records ------------------------------------------------ */

/* A user's list is linked both ways, and backwards it is a ring: the
 * first record's user_prev is the last (as at a UE), so the user needs no
 * pointer of its own to the last. */
static struct mcreg_record *user_last(const mcreg_user *u)
{
    return u->first ? u->first->user_prev : NULL;
}

/* Link r into u's list right after `after` (NULL: first). */
static void user_link_after(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *after,
                            struct mcreg_record *r)
{
    struct mcreg_record *first = u->first;
    if (!first) {
        r->user_prev = r;
        r->user_next = NULL;
        u->first = r;
    } else if (!after) {
        r->user_prev = first->user_prev;
        r->user_next = first;
        first->user_prev = r;
        u->first = r;
    } else {
        r->user_prev = after;
        r->user_next = after->user_next;
        if (r->user_next)
            r->user_next->user_prev = r;
        else
            first->user_prev = r;
        after->user_next = r;
    }
    if (u->n_records++ == 0)
        reg->st.n_active_users++;
}

/* Where r goes in u's list: the record it follows, or NULL to go first.
 * From both ends at once, as ue_position. */
static struct mcreg_record *user_position(const mcreg_user *u, const struct mcreg_record *r)
{
    struct mcreg_record *lo = u->first;
    if (!lo)
        return NULL;
    struct mcreg_record *hi = lo->user_prev;
    for (;;) {
        if (mcreg__record_logon_cmp(hi, r) < 0)
            return hi;
        if (mcreg__record_logon_cmp(lo, r) > 0)
            return lo == u->first ? NULL : lo->user_prev;
        lo = lo->user_next;
        hi = hi->user_prev;
    }
}

void mcreg__index_user_link(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *r)
{
    user_link_after(reg, u, user_position(u, r), r);
}

void mcreg__index_user_append(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *r)
{
    user_link_after(reg, u, user_last(u), r);
}

void mcreg__index_user_unlink(mcreg_registry *reg, struct mcreg_record *r)
{
    mcreg_user *u = r->user;
    struct mcreg_record *prev = r->user_prev, *next = r->user_next;
    if (r == u->first)
        u->first = next; /* prev is the last, or r itself */
    else
        prev->user_next = next;
    if (next)
        next->user_prev = prev;
    else if (u->first)
        u->first->user_prev = prev; /* r was the last */
    r->user_prev = r->user_next = NULL;
    if (--u->n_records == 0)
        reg->st.n_active_users--;
}

/* ---- both lists -------------------------------------------------------- */

void mcreg__index_ue_substitute(mcreg_registry *reg, struct mcreg_record *from,
                          struct mcreg_record *to)
{
    if (!(from->flags & MCREG_RECORD_HAS_UE_LINKS)) { /* alone at its UE */
        ue_table_substitute(reg, from, to);
        return;
    }
    struct mcreg_record *next = NEXT_AT_UE(from), *prev = PREV_AT_UE(from);
    int is_first = is_first_at_ue(from);
    NEXT_AT_UE(to) = next;
    PREV_AT_UE(to) = prev == from ? to : prev; /* alone: its own last */
    if (is_first)
        ue_table_substitute(reg, from, to);
    else
        NEXT_AT_UE(prev) = to;
    if (next)
        PREV_AT_UE(next) = to;
    else if (!is_first)
        PREV_AT_UE(ue_first_of(reg, from)) = to; /* from was the last */
}

static void user_list_substitute(struct mcreg_record *from, struct mcreg_record *to)
{
    mcreg_user *u = from->user;
    struct mcreg_record *prev = from->user_prev, *next = from->user_next;
    int is_first = from == u->first;
    to->user_prev = prev == from ? to : prev; /* alone: its own last */
    to->user_next = next;
    if (is_first)
        u->first = to;
    else
        prev->user_next = to;
    if (next)
        next->user_prev = to;
    else if (!is_first)
        u->first->user_prev = to; /* from was the last */
}

void mcreg__index_record_substitute(mcreg_registry *reg, struct mcreg_record *from,
                              struct mcreg_record *to)
{
    mcreg__index_ue_substitute(reg, from, to);
    user_list_substitute(from, to);
}

/* ---- pairs ------------------------------------------------------------- */

/* The id's bytes only, not the length in the hash handle: one cache line
 * fewer on every lookup by pair. */
static int user_is(const mcreg_user *u, const mcreg_index_key *k)
{
    return mcreg__record_text_is(u->id, k->id, k->len);
}

struct mcreg_record *mcreg__index_pair_at(const mcreg_registry *reg, struct mcreg_record *at_ue,
                                    mcreg_index_key *user, const mcreg_index_key *ue)
{
    if (!at_ue)
        return NULL;
    if (!mcreg__record_next_at_ue(at_ue)) /* always so with UE exclusive on */
        return user_is(at_ue->user, user) ? at_ue : NULL;

    mcreg_user *u = mcreg__index_user_find(reg, user);
    if (!u)
        return NULL;
    /* The pair is on both lists or on neither: walk the two in step, so the
     * cost is that of the shorter one however an attacker shapes them. */
    struct mcreg_record *a = at_ue, *b = u->first;
    while (a && b) {
        if (a->user == u)
            return a;
        if (mcreg__record_ue_len(b) == ue->len && memcmp(b->ue_id, ue->id, ue->len) == 0)
            return b;
        a = mcreg__record_next_at_ue(a);
        b = b->user_next;
    }
    return NULL;
}

struct mcreg_record *mcreg__index_pair_find(const mcreg_registry *reg, mcreg_index_key *user,
                                            mcreg_index_key *ue)
{
    return mcreg__index_pair_at(reg, mcreg__index_ue_first(reg, ue), user, ue);
}

void mcreg__index_clear(mcreg_registry *reg)
{
    UTHASH_SCOPE(reg);
    mcreg_user *u = reg->st.users;
    HASH_CLEAR(hh, reg->st.ues);
    HASH_CLEAR(hh, reg->st.users);
    table_free(&reg->alloc, reg->st.ues_spare);
    table_free(&reg->alloc, reg->st.users_spare);
    reg->st.ues_spare = reg->st.users_spare = NULL;
    /* HASH_CLEAR frees the table, not the items; their app-order links
     * are intact. */
    while (u) {
        mcreg_user *next = u->hh.next;
        mcreg__user_free(&reg->alloc, u);
        u = next;
    }
}

/* ---- whole-table walks ---------------------------------------------------- */

size_t mcreg__index_user_total(const mcreg_registry *reg)
{
    return HASH_COUNT(reg->st.users);
}

mcreg_user *mcreg__index_user_iter(const mcreg_registry *reg, const mcreg_user *prev)
{
    return prev ? prev->hh.next : reg->st.users;
}

void mcreg__index_users_prune(mcreg_registry *reg)
{
    mcreg_user *u, *tmp;
    UTHASH_SCOPE(reg);
    HASH_ITER(hh, reg->st.users, u, tmp) {
        if (u->n_records == 0 && !u->has_max) {
            TABLE_DELETE(reg, reg->st.users, reg->st.users_spare, u);
            mcreg__user_free(&reg->alloc, u);
        }
    }
}

size_t mcreg__index_largest_user(const mcreg_registry *reg)
{
    size_t largest = 0;
    for (const mcreg_user *u = reg->st.users; u; u = u->hh.next)
        if (u->n_records > largest)
            largest = u->n_records;
    return largest;
}

size_t mcreg__index_longest_ue_list(const mcreg_registry *reg)
{
    size_t longest = 0;
    for (const struct mcreg_record *first = reg->st.ues; first; first = first->hh.next) {
        size_t n = 0;
        for (const struct mcreg_record *r = first; r; r = mcreg__record_next_at_ue(r))
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

int mcreg__index_has_duplicate_pair(const mcreg_registry *reg, void **scratch)
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
    return mcreg__record_logon_cmp(a, b);
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
        if (r->user_next && mcreg__record_logon_cmp(r, r->user_next) > 0)
            sorted = 0;
        scratch[n++] = r;
    }
    if (sorted)
        return;
    mcreg__sort(scratch, n, logon_cmp_v);
    for (size_t i = 0; i < n; i++) {
        struct mcreg_record *r = scratch[i];
        r->user_prev = scratch[i ? i - 1 : n - 1]; /* the first's prev is the last */
        r->user_next = i + 1 < n ? scratch[i + 1] : NULL;
    }
    u->first = scratch[0];
}

/* Sort the list of the UE that `first` starts by (registered_at, user_id),
 * unless it already is; the new first record takes the table slot. */
static void ue_list_sort(mcreg_registry *reg, struct mcreg_record *first, void **scratch)
{
    size_t n = 0;
    int sorted = 1;
    for (struct mcreg_record *r = first; r; r = NEXT_AT_UE(r)) {
        if (NEXT_AT_UE(r) && at_ue_cmp(r, NEXT_AT_UE(r)) > 0)
            sorted = 0;
        scratch[n++] = r;
    }
    if (sorted)
        return;
    mcreg__sort(scratch, n, at_ue_cmp_v);
    for (size_t i = 0; i < n; i++) {
        struct mcreg_record *r = scratch[i];
        PREV_AT_UE(r) = scratch[i ? i - 1 : n - 1]; /* the first's prev is the last */
        NEXT_AT_UE(r) = i + 1 < n ? scratch[i + 1] : NULL;
    }
    if (scratch[0] != first)
        ue_table_substitute(reg, first, scratch[0]);
}

void mcreg__index_lists_sort(mcreg_registry *reg, void **scratch)
{
    for (mcreg_user *u = reg->st.users; u; u = u->hh.next)
        if (u->n_records > 1)
            user_list_sort(u, scratch);
    if (reg->opt.ue_exclusive)
        return; /* every UE's list has one record */
    struct mcreg_record *first = reg->st.ues, *next;
    for (; first; first = next) {
        /* Taken now: a substitution puts another record in first's place. */
        next = first->hh.next;
        if (mcreg__record_next_at_ue(first))
            ue_list_sort(reg, first, scratch);
    }
}
