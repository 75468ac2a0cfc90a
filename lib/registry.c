/* The registry: lifecycle and every mutating call.
 *
 * Each mutating call has two phases. First everything that can fail:
 * validation, allocation, hash-table inserts (each undone if a later step
 * fails). Then the change itself, made only of steps that cannot fail. So an
 * error, allocation failure included, always leaves the registry as it was. */
#include <string.h>

#include "events.h"
#include "heap.h"
#include "index.h"
#include "record.h"
#include "registry.h"
#include "repl.h"
#include "sort.h"
#include "state.h"
#include "validate.h"

/* ---- lifecycle ----------------------------------------------------------- */

static int valid_options(const struct mcreg_options *o)
{
    const mcreg_allocator *a = &o->allocator;
    return a->malloc && a->realloc && a->free &&
           (o->limit_policy == MCREG_LIMIT_REJECT || o->limit_policy == MCREG_LIMIT_EVICT_OLDEST ||
            o->limit_policy == MCREG_LIMIT_EVICT_SOONEST) &&
           (o->notify_logon == MCREG_NOTIFY_ALL || o->notify_logon == MCREG_NOTIFY_NEW_UE ||
            o->notify_logon == MCREG_NOTIFY_NONE) &&
           (o->node_id == 0 || o->max_expires != 0) && /* it bounds the tombstones */
           o->capacity <= MCREG_MAX_CAPACITY;
}

int mcreg_registry_new(mcreg_registry **out, const mcreg_options *o)
{
    if (!out)
        return MCREG_ERR_MISUSE;
    struct mcreg_options opt;
    if (o)
        opt = *o;
    else
        mcreg__options_defaults(&opt);
    if (!valid_options(&opt))
        return MCREG_ERR_INVALID;
    mcreg_alloc a = {opt.allocator, 0};
    mcreg_registry *reg = mcreg__alloc_malloc(&a, sizeof(*reg));
    if (!reg)
        return MCREG_ERR_NOMEM;
    memset(reg, 0, sizeof(*reg));
    reg->self = reg;
    reg->alloc = a; /* the registry's own bytes count from the start */
    reg->opt = opt;
    reg->record_layout = (opt.ue_exclusive ? 0u : MCREG_RECORD_HAS_UE_LINKS) |
                         (opt.node_id ? MCREG_RECORD_HAS_VERSIONS : 0u);
    /* No seed from the host: the registry's address, randomized by ASLR on
     * most hosts, is the only unpredictable value at hand. */
    uint64_t seed = opt.hash_seed;
    if (!opt.hash_seed_set)
        seed ^= (uint64_t)(uintptr_t)reg;
    reg->hash_key = mcreg__hash_key_from_seed(seed);
    if (opt.capacity && mcreg__state_reserve(reg, opt.capacity) != MCREG_OK) {
        mcreg__state_destroy(reg);
        return MCREG_ERR_NOMEM;
    }
    *out = reg;
    return MCREG_OK;
}

void mcreg_registry_free(mcreg_registry *reg)
{
    if (!reg)
        return;
    if (mcreg__events_busy(reg)) {
        /* done when the callback returns to us */
        atomic_store_explicit(&reg->free_pending, 1, memory_order_relaxed);
        return;
    }
    mcreg__state_destroy(reg);
}

/* ---- linking records ------------------------------------------------------ */

static uint64_t expiry_at(uint64_t now_ms, uint32_t expires_s)
{
    uint64_t span = (uint64_t)expires_s * 1000u;
    return now_ms > UINT64_MAX - span ? UINT64_MAX : now_ms + span;
}

/* Take r, already out of the UE index, out of the other indexes and queue
 * its removal event. Cannot fail. */
static void retire_record(mcreg_events_op *op, struct mcreg_record *r, mcreg_event_type why)
{
    mcreg_registry *reg = op->reg;
    mcreg__index_user_unlink(reg, r);
    mcreg__heap_remove(&reg->st.heap, r);
    reg->st.n_records--;
    mcreg__events_removed(op, r, why);
}

/* Take r out of every index and queue its removal event. Cannot fail. */
static void remove_record(mcreg_events_op *op, struct mcreg_record *r, mcreg_event_type why)
{
    mcreg__index_ue_remove(op->reg, r);
    retire_record(op, r, why);
}

/* ---- lapsed records --------------------------------------------------------- */

/* Whether any record at all is due at now_ms: O(1), and false whenever the
 * host expires on time, so that a register then walks no list. */
static int any_due(const mcreg_registry *reg, uint64_t now_ms)
{
    const struct mcreg_record *top = mcreg__heap_top(&reg->st.heap);
    return top && top->expires_at <= now_ms;
}

static int is_lapsed(const struct mcreg_record *r, uint64_t now_ms)
{
    return r->expires_at <= now_ms;
}

/* How many of u's records (u may be NULL) are past their expiry. */
static size_t lapsed_count(const mcreg_registry *reg, const mcreg_user *u, uint64_t now_ms)
{
    size_t n = 0;
    if (u && any_due(reg, now_ms))
        for (const struct mcreg_record *r = u->first; r; r = r->user_next)
            n += is_lapsed(r, now_ms);
    return n;
}

static int expiry_order(const void *a, const void *b)
{
    return mcreg__heap_expiry_cmp(a, b);
}

/* Remove u's records past their expiry (EXPIRED each, in mcreg_expire's
 * order), as if mcreg_expire had run just before the call: a lapsed UE
 * neither counts against a limit nor hears of, nor is named in, a
 * notification. `heir`, when not NULL, is the new record of the lapsed
 * `slot`'s pair (UE exclusive on): it takes over slot's place in the UE
 * table. The user's records fit in the scratch area (see mcreg_state).
 * Cannot fail. */
static void remove_lapsed(mcreg_events_op *op, mcreg_user *u, struct mcreg_record *slot,
                          struct mcreg_record *heir)
{
    mcreg_registry *reg = op->reg;
    if (!u || !any_due(reg, op->now))
        return;
    void **lapsed = reg->st.scratch;
    size_t n = 0;
    for (struct mcreg_record *r = u->first; r; r = r->user_next)
        if (is_lapsed(r, op->now))
            lapsed[n++] = r;
    if (n > 1)
        mcreg__sort(lapsed, n, expiry_order);
    for (size_t i = 0; i < n; i++) {
        struct mcreg_record *r = lapsed[i];
        if (r == slot && heir) {
            mcreg__index_ue_substitute(reg, r, heir);
            retire_record(op, r, MCREG_EV_EXPIRED);
        } else {
            remove_record(op, r, MCREG_EV_EXPIRED);
        }
    }
}

/* ---- preconditions ----------------------------------------------------------- */

/* Every mutating call starts here: no registry is a host bug, and a
 * callback or visitor running on it makes the registry busy. Neither
 * touches the detail: there is none without a registry, and while busy,
 * visitors on other threads may be reading it. Past these the detail is
 * reset, so that it is "" after a success. */
static int may_mutate(mcreg_registry *reg)
{
    if (!reg)
        return MCREG_ERR_MISUSE;
    if (mcreg__events_busy(reg))
        return MCREG_ERR_BUSY;
    mcreg__detail_clear(&reg->detail);
    return MCREG_OK;
}

/* Fail with `rc`, saying why in the detail: "field: rule". */
static int fail(mcreg_registry *reg, int rc, const char *field, const char *rule)
{
    mcreg__detail_set(&reg->detail, field, rule);
    return rc;
}

static int out_of_memory(mcreg_registry *reg)
{
    return fail(reg, MCREG_ERR_NOMEM, NULL, "out of memory: the allocator returned NULL");
}

/* A change that could not be staged: out of memory, or MCREG_ERR_CLOCK
 * (its detail set). */
static int not_staged(mcreg_registry *reg, int rc)
{
    return rc == MCREG_ERR_CLOCK ? rc : out_of_memory(reg);
}

/* Heap positions and counts are 32-bit. */
#define MAX_RECORDS (UINT32_MAX - 1)

/* may_mutate, a valid user id, its key and the user (NULL if unknown). */
static int begin_user_change(mcreg_registry *reg, const char *user_id, mcreg_index_key *k,
                             mcreg_user **user)
{
    int rc = may_mutate(reg);
    if (rc != MCREG_OK)
        return rc;
    size_t len;
    if (!mcreg__validate_id(user_id, &len, "user_id", &reg->detail))
        return MCREG_ERR_INVALID;
    mcreg__index_key_init(k, user_id, len);
    *user = mcreg__index_user_find(reg, k);
    return MCREG_OK;
}

/* ---- register --------------------------------------------------------------- */

static int is_stale(const struct mcreg_record *r, const mcreg_binding *b)
{
    const char *stored = mcreg__record_call_id(r);
    return b->call_id && stored && strcmp(b->call_id, stored) == 0 && b->cseq <= r->cseq;
}

static int stale(mcreg_registry *reg, const struct mcreg_record *r, const mcreg_binding *b)
{
    mcreg_detail *d = &reg->detail;
    mcreg__detail_set(d, "cseq", "");
    mcreg__detail_add_uint(d, b->cseq);
    mcreg__detail_add(d, " is not greater than the stored ");
    mcreg__detail_add_uint(d, r->cseq);
    mcreg__detail_add(d, " of the same call_id");
    return MCREG_ERR_STALE;
}

/* ---- staging a change (with a node id) ----------------------------------- */

/* The bytes a put entry for binding b takes at most (with `old`'s contact
 * when b keeps it): every head at most HEAD_MAX bytes, then the strings. */
static size_t put_bound(const mcreg_binding *b, const struct mcreg_record *old)
{
    size_t heads = 48 + 3 * b->n_settings;
    size_t bytes = strlen(b->user_id) + strlen(b->ue_id) + (b->call_id ? strlen(b->call_id) : 0);
    bytes += b->contact ? strlen(b->contact) : (old ? old->contact_len : 0);
    for (size_t i = 0; i < b->n_settings; i++) {
        const mcreg_setting *st = &b->settings[i];
        bytes += strlen(st->key) + (st->type == MCREG_VAL_TEXT    ? st->v.text.len
                                    : st->type == MCREG_VAL_BYTES ? st->v.bytes.len
                                                                  : 0);
    }
    return heads * MCREG_CBOR_WRITER_HEAD_MAX + bytes;
}

/* Stage a change of `n` possible removals (records[]) and of every record
 * of `evicting`, plus, when b is given, a put of it (old: the record it
 * refreshes, or NULL). MCREG_ERR_NOMEM, with nothing staged. */
static int stage_change(mcreg_registry *reg, uint64_t now_ms, const mcreg_binding *b,
                        const struct mcreg_record *old, struct mcreg_record *const *records,
                        size_t n, const mcreg_user *evicting, const mcreg_user *lapsed_of)
{
    uint64_t stamp;
    int rc = mcreg__repl_next_stamp(reg, now_ms, &stamp);
    if (rc != MCREG_OK)
        return rc; /* nothing staged */
    rc = mcreg__repl_stage_begin(reg, stamp, b ? put_bound(b, old) : 0);
    for (size_t i = 0; rc == MCREG_OK && i < n; i++)
        rc = mcreg__repl_stage_removal(reg, records[i]);
    if (evicting)
        for (struct mcreg_record *r = evicting->first; rc == MCREG_OK && r; r = r->user_next)
            rc = mcreg__repl_stage_removal(reg, r);
    /* The user's lapsed records, which the call removes first (EXPIRED). */
    if (lapsed_of && lapsed_of != evicting && any_due(reg, now_ms))
        for (struct mcreg_record *r = lapsed_of->first; rc == MCREG_OK && r; r = r->user_next)
            if (is_lapsed(r, now_ms) && !(n && records[0] == r))
                rc = mcreg__repl_stage_removal(reg, r);
    if (rc == MCREG_OK)
        rc = mcreg__repl_stage_end(reg);
    if (rc != MCREG_OK)
        mcreg__repl_abort(reg);
    return rc;
}

static int stage_put(mcreg_registry *reg, const mcreg_binding *b, const struct mcreg_record *old,
                     uint64_t now_ms)
{
    return stage_change(reg, now_ms, b, old, NULL, 0, NULL, old->user);
}

static int stage_removals(mcreg_registry *reg, uint64_t now_ms, struct mcreg_record *const *records,
                          size_t n, const mcreg_user *lapsed_of)
{
    return stage_change(reg, now_ms, NULL, NULL, records, n, NULL, lapsed_of);
}

/* A refresh that changes the contact, Call-ID or settings puts them in a
 * new block built beside the old one (the only step that can fail), which
 * then takes the old one's place everywhere; the old block is freed after
 * the events. Most refreshes resend what is stored: those change the CSeq
 * and the expiry in place, and cannot fail. */
static int refresh(mcreg_registry *reg, struct mcreg_record *old, const mcreg_binding *b,
                   size_t ue_len, uint64_t now_ms, mcreg_outcome *outcome)
{
    struct mcreg_record *r = old;
    struct mcreg_record *replaced = NULL;
    int staged = mcreg__repl_on(reg) ? stage_put(reg, b, old, now_ms) : MCREG_OK;
    if (staged != MCREG_OK)
        return not_staged(reg, staged);
    if (!mcreg__record_holds(old, b)) {
        r = mcreg__record_new(&reg->alloc, old->user, b, ue_len, old, old->flags);
        if (!r) {
            mcreg__repl_abort(reg);
            return out_of_memory(reg);
        }
        if (r->flags & MCREG_RECORD_HAS_VERSIONS)
            *mcreg__record_versions(r) = *mcreg__record_versions(old);
        r->registered_at = old->registered_at;
        r->expires_at = old->expires_at;
        mcreg__index_record_substitute(reg, old, r);
        mcreg__heap_substitute(&reg->st.heap, old, r);
        replaced = old;
    }
    r->cseq = b->cseq;
    mcreg_events_op op;
    mcreg__events_init(&op, reg, now_ms);
    remove_lapsed(&op, r->user, NULL, NULL); /* r itself is not lapsed */
    op.old_record = replaced;
    uint64_t expires_at = expiry_at(now_ms, b->expires_s);
    op.changed = r;
    op.changed_type = expires_at < r->expires_at ? MCREG_EV_SHORTENED : MCREG_EV_REFRESHED;
    r->expires_at = expires_at;
    mcreg__heap_update(&reg->st.heap, r);
    if (outcome)
        *outcome = MCREG_REFRESHED;
    mcreg__events_finish(&op);
    return MCREG_OK;
}

/* Remove r (DEREGISTERED); with `lapsed_too` (a register with expires 0),
 * its user's lapsed records first. */
static int remove_one(mcreg_registry *reg, struct mcreg_record *r, uint64_t now_ms,
                       int lapsed_too)
{
    int staged = mcreg__repl_on(reg)
                     ? stage_removals(reg, now_ms, &r, 1, lapsed_too ? r->user : NULL)
                     : MCREG_OK;
    if (staged != MCREG_OK)
        return not_staged(reg, staged);
    mcreg_events_op op;
    mcreg__events_init(&op, reg, now_ms);
    if (lapsed_too)
        remove_lapsed(&op, r->user, NULL, NULL); /* r itself is not lapsed */
    remove_record(&op, r, MCREG_EV_DEREGISTERED);
    mcreg__events_finish(&op);
    return MCREG_OK;
}

static int reject(mcreg_registry *reg, const mcreg_binding *b, uint32_t limit, uint64_t now_ms)
{
    /* Before the event: its callback may read the detail, or free reg. */
    mcreg__detail_set(&reg->detail, "user_id", "at its limit of ");
    mcreg__detail_add_uint(&reg->detail, limit);
    mcreg__detail_add(&reg->detail, limit == 1 ? " UE" : " UEs");
    mcreg_events_op op;
    mcreg__events_init(&op, reg, now_ms);
    op.rejected = b;
    mcreg__events_finish(&op);
    return MCREG_ERR_LIMIT;
}

/* The limit that applies to u (0: none). */
static uint32_t limit_of(const mcreg_registry *reg, const mcreg_user *u)
{
    return u && u->has_max ? u->max_ues : reg->opt.max_ues;
}

/* (expires_at, registered_at, ue_id): EVICT_SOONEST's order. */
static int soonest_cmp(const void *va, const void *vb)
{
    const struct mcreg_record *a = va, *b = vb;
    if (a->expires_at != b->expires_at)
        return a->expires_at < b->expires_at ? -1 : 1;
    return mcreg__record_logon_cmp(a, b);
}

/* All of u's records in the order its EVICT_* policy takes them, in the
 * scratch area (prepare_create made room). Sorting once keeps a large
 * eviction, after a limit was lowered, O(n log n). */
static void **eviction_order(mcreg_registry *reg, const mcreg_user *u)
{
    void **order = reg->st.scratch;
    size_t n = 0;
    for (struct mcreg_record *r = u->first; r; r = r->user_next)
        order[n++] = r; /* (registered_at, ue_id): EVICT_OLDEST's order */
    if (reg->opt.limit_policy == MCREG_LIMIT_EVICT_SOONEST)
        mcreg__sort(order, n, soonest_cmp);
    return order;
}

/* The binding's two ids as keys, and the UE's first record. */
typedef struct binding_target {
    mcreg_index_key user, ue;
    struct mcreg_record *at_ue;
} binding_target;

/* What a new record needs before the registry changes: room in the heap
 * and the notification buffer, the record, maybe its user, and its place
 * in the indexes. Undoes itself on failure. */
static int prepare_create(mcreg_registry *reg, const mcreg_binding *b, binding_target *t,
                          uint64_t now_ms, mcreg_user **user, struct mcreg_record **out)
{
    mcreg_alloc *a = &reg->alloc;
    mcreg_user *u = *user, *new_user = NULL;
    size_t user_records = u ? u->n_records : 0;
    if (reg->st.n_records >= MAX_RECORDS)
        return fail(reg, MCREG_ERR_NOMEM, NULL, "the registry holds 4294967294 records, its most");
    if (user_records >= MAX_RECORDS)
        return fail(reg, MCREG_ERR_NOMEM, "user_id", "holds 4294967294 records, the most");
    if (mcreg__heap_reserve(a, &reg->st.heap, reg->st.n_records + 1))
        return out_of_memory(reg);
    void *scratch = mcreg__alloc_grow(a, reg->st.scratch, &reg->st.scratch_cap, user_records + 1,
                                sizeof(void *));
    if (!scratch)
        return out_of_memory(reg);
    reg->st.scratch = scratch;
    if (!u) {
        u = new_user = mcreg__user_new(a, t->user.id, t->user.len);
        if (!u)
            return out_of_memory(reg);
    }
    struct mcreg_record *r = mcreg__record_new(a, u, b, t->ue.len, NULL, reg->record_layout);
    if (r) {
        r->registered_at = now_ms; /* the UE index orders by it */
        r->expires_at = expiry_at(now_ms, b->expires_s);
    }
    int rc = r ? MCREG_OK : MCREG_ERR_NOMEM;
    if (rc == MCREG_OK && new_user)
        rc = mcreg__index_user_insert(reg, u, &t->user);
    /* With UE exclusive on, a record held at the UE gives its table slot to
     * r when the change is made (create): nothing to insert now. */
    if (rc == MCREG_OK && !(t->at_ue && reg->opt.ue_exclusive)) {
        rc = mcreg__index_ue_insert(reg, t->at_ue, r, &t->ue);
        if (rc != MCREG_OK && new_user)
            mcreg__index_user_remove(reg, u);
    }
    if (rc != MCREG_OK) {
        mcreg__record_free(a, r);
        mcreg__user_free(a, new_user);
        return out_of_memory(reg);
    }
    *user = u;
    *out = r;
    return MCREG_OK;
}

static int create(mcreg_registry *reg, const mcreg_binding *b, binding_target *t, uint64_t now_ms,
                  mcreg_outcome *outcome)
{
    mcreg_user *u = mcreg__index_user_find(reg, &t->user);
    uint32_t limit = limit_of(reg, u);
    /* The records the user keeps: its lapsed ones go first (but stay if
     * the call fails: it then changes nothing). */
    uint32_t have = u ? u->n_records - (uint32_t)lapsed_count(reg, u, now_ms) : 0;
    size_t evictions = 0;
    if (limit && have >= limit) {
        if (reg->opt.limit_policy == MCREG_LIMIT_REJECT)
            return reject(reg, b, limit, now_ms);
        evictions = (size_t)have - limit + 1;
    }
    /* With UE exclusive on, a record at this UE belongs to another user,
     * or is this user's own, lapsed (else it would be a refresh). Either
     * way r takes its table slot. */
    struct mcreg_record *held = reg->opt.ue_exclusive ? t->at_ue : NULL;

    struct mcreg_record *r = NULL;
    int staged = mcreg__repl_on(reg) ? stage_change(reg, now_ms, b, NULL, &held, held != NULL,
                                                    evictions ? u : NULL, u)
                                     : MCREG_OK;
    if (staged != MCREG_OK)
        return not_staged(reg, staged);
    int rc = prepare_create(reg, b, t, now_ms, &u, &r);
    if (rc != MCREG_OK) {
        mcreg__repl_abort(reg);
        return rc;
    }

    mcreg_events_op op;
    mcreg__events_init(&op, reg, now_ms);
    remove_lapsed(&op, u, held, r);
    if (held && held->user != u) {
        mcreg__index_ue_substitute(reg, held, r);
        retire_record(&op, held, MCREG_EV_REPLACED);
    }
    if (evictions) {
        void **victims = eviction_order(reg, u);
        for (size_t i = 0; i < evictions; i++)
            remove_record(&op, victims[i], MCREG_EV_EVICTED);
    }
    mcreg__index_user_link(reg, u, r);
    mcreg__heap_push(&reg->st.heap, r);
    reg->st.n_records++;
    op.changed = r;
    op.changed_type = MCREG_EV_CREATED;
    if (outcome)
        *outcome = MCREG_CREATED;
    mcreg__events_finish(&op);
    return MCREG_OK;
}

int mcreg_register(mcreg_registry *reg, const mcreg_binding *b, uint64_t now_ms,
                   mcreg_outcome *outcome)
{
    int rc = may_mutate(reg);
    if (rc != MCREG_OK)
        return rc;
    if (!b)
        return fail(reg, MCREG_ERR_MISUSE, "binding", "NULL");
    size_t user_len, ue_len;
    if (!mcreg__validate_binding(b, &user_len, &ue_len, &reg->detail))
        return MCREG_ERR_INVALID;
    mcreg_binding capped;
    if (reg->opt.max_expires && b->expires_s > reg->opt.max_expires) {
        capped = *b;
        capped.expires_s = reg->opt.max_expires;
        b = &capped;
    }
    binding_target t;
    mcreg__index_key_init(&t.user, b->user_id, user_len);
    mcreg__index_key_init(&t.ue, b->ue_id, ue_len);
    t.at_ue = mcreg__index_ue_first(reg, &t.ue);
    struct mcreg_record *r = mcreg__index_pair_at(reg, t.at_ue, &t.user, &t.ue);
    /* A lapsed record is as good as expired: no ordering check against
     * it, and registering again is a new logon. */
    int lapsed = r && is_lapsed(r, now_ms);
    if ((!r || lapsed) && b->expires_s)
        return create(reg, b, &t, now_ms, outcome);
    if (lapsed)
        return fail(reg, MCREG_ERR_NOT_FOUND, NULL,
                    "the record for this user_id and ue_id is past its expiry");
    if (!r)
        return fail(reg, MCREG_ERR_NOT_FOUND, NULL, "no record for this user_id and ue_id");
    if (is_stale(r, b))
        return stale(reg, r, b);
    if (b->expires_s)
        return refresh(reg, r, b, ue_len, now_ms, outcome);
    rc = remove_one(reg, r, now_ms, 1);
    if (rc == MCREG_OK && outcome)
        *outcome = MCREG_REMOVED;
    return rc;
}

/* ---- other mutations ------------------------------------------------------ */

int mcreg_deregister(mcreg_registry *reg, const char *user_id, const char *ue_id,
                     uint64_t now_ms)
{
    size_t user_len, ue_len;
    int rc = may_mutate(reg);
    if (rc != MCREG_OK)
        return rc;
    if (!mcreg__validate_id(user_id, &user_len, "user_id", &reg->detail) ||
        !mcreg__validate_id(ue_id, &ue_len, "ue_id", &reg->detail))
        return MCREG_ERR_INVALID;
    mcreg_index_key user, ue;
    mcreg__index_key_init(&user, user_id, user_len);
    mcreg__index_key_init(&ue, ue_id, ue_len);
    struct mcreg_record *r = mcreg__index_pair_find(reg, &user, &ue);
    if (!r)
        return fail(reg, MCREG_ERR_NOT_FOUND, NULL, "no record for this user_id and ue_id");
    return remove_one(reg, r, now_ms, 0);
}

int mcreg_deregister_user(mcreg_registry *reg, const char *user_id, uint64_t now_ms,
                          size_t *removed)
{
    mcreg_index_key k;
    mcreg_user *u;
    int rc = begin_user_change(reg, user_id, &k, &u);
    if (rc != MCREG_OK)
        return rc;
    if (!u || !u->n_records)
        return fail(reg, MCREG_ERR_NOT_FOUND, "user_id", "has no records");
    int staged =
        mcreg__repl_on(reg) ? stage_change(reg, now_ms, NULL, NULL, NULL, 0, u, NULL) : MCREG_OK;
    if (staged != MCREG_OK)
        return not_staged(reg, staged);
    mcreg_events_op op;
    mcreg__events_init(&op, reg, now_ms);
    size_t n = 0;
    for (; u->first; n++)
        remove_record(&op, u->first, MCREG_EV_DEREGISTERED);
    if (removed)
        *removed = n;
    mcreg__events_finish(&op);
    return MCREG_OK;
}

/* Stage a tombstone for each record due at now_ms: the heap's nodes with
 * keys <= now_ms, found without visiting the children of a later one. */
static int stage_due(mcreg_registry *reg, uint64_t now_ms)
{
    const mcreg_heap *h = &reg->st.heap;
    int rc = mcreg__repl_stage_begin(reg, 0, 0);
    if (rc != MCREG_OK)
        return rc;
    /* Depth first, with a stack of the due nodes still to visit: each
     * visit pushes at most 8 children, and the heap of at most 2^32
     * records is at most 11 levels deep. */
    size_t stack[128], depth = 0;
    if (h->n && h->keys[0] <= now_ms)
        stack[depth++] = 0;
    while (rc == MCREG_OK && depth) {
        size_t i = stack[--depth];
        rc = mcreg__repl_stage_removal(reg, h->items[i]);
        for (size_t c = 8 * i + 1; c <= 8 * i + 8 && c < h->n; c++)
            if (h->keys[c] <= now_ms)
                stack[depth++] = c;
    }
    if (rc == MCREG_OK)
        rc = mcreg__repl_stage_end(reg);
    if (rc != MCREG_OK)
        mcreg__repl_abort(reg);
    return rc;
}

int mcreg_expire_max(mcreg_registry *reg, uint64_t now_ms, size_t max, size_t *expired)
{
    int rc = may_mutate(reg);
    if (rc != MCREG_OK)
        return rc;
    if (mcreg__repl_on(reg) && stage_due(reg, now_ms) != MCREG_OK)
        return out_of_memory(reg);
    mcreg_events_op op;
    mcreg__events_init(&op, reg, now_ms);
    size_t n = 0;
    struct mcreg_record *top;
    for (; n < max && (top = mcreg__heap_top(&reg->st.heap)) && top->expires_at <= now_ms; n++)
        remove_record(&op, top, MCREG_EV_EXPIRED);
    if (expired)
        *expired = n;
    if (mcreg__events_finish(&op))
        return MCREG_OK; /* a callback freed the registry */
    if (mcreg__repl_on(reg))
        mcreg__repl_forget(reg, now_ms);
    return MCREG_OK;
}

/* Stage a limit entry for the user of key k: room for it, and a node for
 * the user when it has none yet (*fresh, which mcreg__repl_commit_limit
 * takes or frees). MCREG_ERR_NOMEM with nothing staged. */
static int stage_limit(mcreg_registry *reg, const mcreg_index_key *k, mcreg_repl_node **fresh)
{
    return mcreg__repl_stage_limit(reg, k->id, k->len, fresh);
}

int mcreg_expire(mcreg_registry *reg, uint64_t now_ms, size_t *expired)
{
    return mcreg_expire_max(reg, now_ms, SIZE_MAX, expired);
}

int mcreg_set_user_max_ues(mcreg_registry *reg, const char *user_id, uint32_t max)
{
    mcreg_index_key k;
    mcreg_user *u;
    int rc = begin_user_change(reg, user_id, &k, &u);
    if (rc != MCREG_OK)
        return rc;
    mcreg_repl_node *fresh = NULL;
    int staged = mcreg__repl_on(reg) ? stage_limit(reg, &k, &fresh) : MCREG_OK;
    if (staged != MCREG_OK)
        return not_staged(reg, staged);
    if (!u && !(u = mcreg__index_user_get(reg, &k))) {
        if (mcreg__repl_on(reg))
            mcreg__repl_abort_limit(reg, fresh);
        return out_of_memory(reg);
    }
    reg->st.n_limits += !u->has_max;
    u->has_max = 1;
    u->max_ues = max;
    if (mcreg__repl_on(reg))
        mcreg__repl_commit_limit(reg, k.id, k.len, 1, max, fresh);
    return MCREG_OK;
}

int mcreg_clear_user_max_ues(mcreg_registry *reg, const char *user_id)
{
    mcreg_index_key k;
    mcreg_user *u;
    int rc = begin_user_change(reg, user_id, &k, &u);
    if (rc != MCREG_OK)
        return rc;
    if (!u || !u->has_max)
        return fail(reg, MCREG_ERR_NOT_FOUND, "user_id", "has no UE limit of its own");
    mcreg_repl_node *fresh = NULL;
    int staged = mcreg__repl_on(reg) ? stage_limit(reg, &k, &fresh) : MCREG_OK;
    if (staged != MCREG_OK)
        return not_staged(reg, staged);
    if (mcreg__repl_on(reg))
        mcreg__repl_commit_limit(reg, k.id, k.len, 0, 0, fresh);
    u->has_max = 0;
    reg->st.n_limits--;
    if (u->n_records == 0) {
        mcreg__index_user_remove(reg, u);
        mcreg__user_free(&reg->alloc, u);
    }
    return MCREG_OK;
}
