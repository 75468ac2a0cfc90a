/* mcreg_restore: a new state is built beside the current one from the
 * snapshot, checked whole, finished, and only then swapped in. Any error
 * discards the new state, so the registry stays exactly as it was. */
#include <string.h>

#include "events.h"
#include "heap.h"
#include "index.h"
#include "record.h"
#include "registry.h"
#include "repl.h"
#include "snapshot_decode.h"
#include "state.h"
#include "user.h"

/* Room for the records array: the heap and the (still empty) tables are
 * sized for `n` records when they have less, a count the decoder has
 * bounded by the bytes left. A hint only: if it fails, they grow as
 * records come. */
static void expect_records(mcreg_registry *target, size_t n)
{
    (void)mcreg__state_reserve(target, n);
}

/* The user called `id`, created (with no records, no limit) if new. */
static int user_of(mcreg_registry *target, const char *id, mcreg_user **out)
{
    mcreg_index_key k;
    mcreg__index_key_init(&k, id, strlen(id));
    /* A snapshot lists a user's records together: the user of the record
     * added last is most often this one, and needs no lookup. */
    const mcreg_heap *h = &target->st.heap;
    mcreg_user *u = h->n ? h->items[h->n - 1]->user : NULL;
    if (u && mcreg__record_text_is(u->id, id, k.len)) {
        *out = u;
        return MCREG_OK;
    }
    u = mcreg__index_user_get(target, &k);
    if (!u)
        return MCREG_ERR_NOMEM;
    *out = u;
    return MCREG_OK;
}

/* Add one record to a state under construction: the binding's ids,
 * contact, call-id, cseq and settings (which the decoder has validated as
 * mcreg_register does), with the given times. Records may come in any
 * order; the lists are sorted once at the end (finish). MCREG_ERR_FORMAT for
 * a UE already held while UE exclusive is on (with it off, a pair held
 * twice is found at the end). */
static void raise_clock(mcreg_registry *target, mcreg_change_version v)
{
    if (v.stamp > target->clock)
        target->clock = v.stamp;
}

/* 1.1's side tables, into a registry with a node id (one without ignores
 * them). MCREG_ERR_FORMAT for a key given twice. */
static int add_side(mcreg_registry *target, const mcreg_snapshot_decode_item *it)
{
    if (!mcreg__repl_on(target))
        return MCREG_OK;
    mcreg_rtable *t = it->kind == MCREG_SNAPSHOT_DECODE_TOMBSTONE ? &target->st.tombs
                      : it->kind == MCREG_SNAPSHOT_DECODE_UE_PUT  ? &target->st.ue_puts
                                                                  : &target->st.limits;
    const char *id1 = it->kind == MCREG_SNAPSHOT_DECODE_UE_PUT ? it->ue_id : it->user_id;
    const char *id2 = it->kind == MCREG_SNAPSHOT_DECODE_TOMBSTONE ? it->ue_id : NULL;
    mcreg_repl_node *n = mcreg__repl_node_new(target, id1, strlen(id1), id2, id2 ? strlen(id2) : 0);
    if (!n || mcreg__rtable_reserve(&target->alloc, t, 1) != MCREG_OK) {
        mcreg__rtable_node_free(&target->alloc, n);
        return MCREG_ERR_NOMEM;
    }
    if (mcreg__rtable_find(t, n->hash, n->key, mcreg__rtable_key_len(n))) {
        mcreg__rtable_node_free(&target->alloc, n);
        return MCREG_ERR_FORMAT;
    }
    n->v = it->version;
    n->logon = it->logon;
    n->newest = it->logon;
    n->has_max = (uint8_t)it->has_max;
    n->max_ues = it->max_ues;
    n->in_table = 1;
    mcreg__rtable_insert(t, n);
    if (t != &target->st.limits)
        mcreg__repl_note_horizon(target, it->version);
    raise_clock(target, it->version);
    return MCREG_OK;
}

static int add_record(mcreg_registry *target, const mcreg_snapshot_decode_item *it)
{
    const mcreg_binding *b = &it->binding;
    uint64_t registered_at = it->registered_at, expires_at = it->expires_at;
    mcreg_alloc *a = &target->alloc;
    mcreg_state *st = &target->st;
    mcreg_index_key ue;
    mcreg__index_key_init(&ue, b->ue_id, strlen(b->ue_id));
    struct mcreg_record *first = mcreg__index_ue_first(target, &ue);
    /* With UE exclusive on, a UE held twice (by one user or two) is an
     * error. With it off, a pair held twice is looked for once every record
     * is in (finish): a check per record would walk lists. */
    if (first && target->opt.ue_exclusive)
        return MCREG_ERR_FORMAT;
    if (st->n_records >= UINT32_MAX - 1)
        return MCREG_ERR_NOMEM; /* heap positions and counts are 32-bit */
    if (mcreg__heap_reserve(a, &st->heap, st->n_records + 1) != MCREG_OK)
        return MCREG_ERR_NOMEM;
    mcreg_user *u;
    int rc = user_of(target, b->user_id, &u);
    if (rc != MCREG_OK)
        return rc;
    if (u->n_records >= UINT32_MAX - 1)
        return MCREG_ERR_NOMEM;
    struct mcreg_record *r = mcreg__record_new(a, u, b, ue.len, NULL, target->record_layout);
    if (!r || mcreg__index_ue_append(target, first, r, &ue) != MCREG_OK) {
        mcreg__record_free(a, r);
        return MCREG_ERR_NOMEM; /* u stays, empty: the whole state goes */
    }
    r->registered_at = registered_at;
    r->expires_at = expires_at;
    if (r->flags & MCREG_RECORD_HAS_VERSIONS) {
        mcreg_record_versions *v = mcreg__record_versions(r);
        v->write = it->version;
        v->logon = it->logon;
        v->newest = it->logon;
        raise_clock(target, it->version);
    }
    mcreg__index_user_append(target, u, r);
    /* The heap array owns the records from now on; it is put in heap order
     * once, at the end. The key goes in now: the passes of finish read
     * keys[], not the records. */
    st->heap.keys[st->heap.n] = expires_at;
    st->heap.items[st->heap.n++] = r;
    st->n_records++;
    return MCREG_OK;
}

/* Give a user of the state under construction its own limit.
 * MCREG_ERR_FORMAT if it already has one. */
static int add_limit(mcreg_registry *target, const char *user_id, uint32_t max)
{
    mcreg_user *u;
    int rc = user_of(target, user_id, &u);
    if (rc != MCREG_OK)
        return rc;
    if (u->has_max)
        return MCREG_ERR_FORMAT;
    target->st.n_limits++;
    u->has_max = 1;
    u->max_ues = max;
    return MCREG_OK;
}

/* The account of an error the decoder could not see: the item at `it`
 * does not fit the state built so far. */
static int refuse_item(mcreg_detail *why, const mcreg_snapshot_decode_item *it, const char *rule)
{
    mcreg__detail_set(why, NULL, "snapshot: byte ");
    mcreg__detail_add_uint(why, it->at);
    mcreg__detail_add(why, ": ");
    mcreg__detail_field(why, it->kind == MCREG_SNAPSHOT_DECODE_RECORD ? "records" : "limits",
                        it->index);
    mcreg__detail_add(why, rule);
    return MCREG_ERR_FORMAT;
}

/* Decode the snapshot item by item into `target`, a registry whose state is
 * empty. MCREG_ERR_FORMAT, MCREG_ERR_VERSION or MCREG_ERR_NOMEM, leaving a
 * partial state that the caller discards; why it failed in *why. */
static int build(mcreg_registry *target, const uint8_t *buf, size_t len, mcreg_detail *why)
{
    mcreg_snapshot_decoder d;
    int rc = mcreg__snapshot_decode_init(&d, &target->alloc, buf, len, why);
    if (rc != MCREG_OK)
        return rc;
    mcreg_snapshot_decode_item it;
    while ((rc = mcreg__snapshot_decode_next(&d, &it)) == MCREG_OK) {
        if (it.kind == MCREG_SNAPSHOT_DECODE_END)
            break;
        if (it.kind == MCREG_SNAPSHOT_DECODE_RECORDS)
            expect_records(target, it.expected);
        else if (it.kind == MCREG_SNAPSHOT_DECODE_RECORD)
            rc = add_record(target, &it);
        else if (it.kind == MCREG_SNAPSHOT_DECODE_LIMIT)
            rc = add_limit(target, it.user_id, it.max_ues);
        else
            rc = add_side(target, &it);
        if (rc == MCREG_ERR_FORMAT)
            refuse_item(why, &it,
                        it.kind == MCREG_SNAPSHOT_DECODE_RECORD
                            ? "ue_id: already held, and the registry is UE exclusive"
                        : it.kind == MCREG_SNAPSHOT_DECODE_LIMIT
                            ? "user_id: a second limit for this user"
                            : "a key given twice in the replicated state");
        if (rc != MCREG_OK)
            break;
    }
    mcreg__snapshot_decode_free(&d);
    return rc;
}

/* With a node id, a put that expired still counts until its horizon
 * (REPLICATION.md): each record expired at now_ms is staged as mcreg_expire
 * stages it, its pair's tombstone and its UE's node made ready, so that
 * dropping it cannot fail. MCREG_ERR_NOMEM leaves nothing staged. */
static int stage_expired(mcreg_registry *target, uint64_t now_ms)
{
    const mcreg_heap *h = &target->st.heap;
    int rc = mcreg__repl_stage_begin(target, 0, 0);
    for (size_t i = 0; rc == MCREG_OK && i < h->n; i++) {
        struct mcreg_record *r = h->items[i];
        if (h->keys[i] > now_ms)
            continue;
        rc = mcreg__repl_stage_removal(target, r);
    }
    if (rc == MCREG_OK)
        rc = mcreg__repl_stage_end(target);
    if (rc != MCREG_OK)
        mcreg__repl_abort(target);
    return rc;
}

/* A record and a tombstone for one pair: a state no set of entries gives
 * (the pair's winner is one or the other), which apply refuses too. */
static int check_tombstones(mcreg_registry *target, mcreg_detail *why)
{
    const mcreg_heap *h = &target->st.heap;
    for (size_t i = 0; target->st.tombs.n && i < h->n; i++) {
        const struct mcreg_record *r = h->items[i];
        if (mcreg__repl_tomb_find(target, r->user->id, mcreg__user_id_len(r->user), r->ue_id,
                                  mcreg__record_ue_len(r))) {
            mcreg__detail_set(why, "snapshot", "tombstones: a pair the records hold");
            return MCREG_ERR_FORMAT;
        }
    }
    return MCREG_OK;
}

/* Remove the records expired at now_ms, before any order is built, with
 * no event. With a node id, what stage_expired staged turns them into
 * tombstones as mcreg_expire's commit does, and entries past their horizon
 * are forgotten as mcreg_expire forgets them. Returns how many. */
static size_t drop_expired(mcreg_registry *target, uint64_t now_ms)
{
    mcreg_heap *h = &target->st.heap;
    mcreg_events_op op;
    mcreg__events_init(&op, target, now_ms);
    size_t kept = 0;
    for (size_t i = 0; i < h->n; i++) {
        struct mcreg_record *r = h->items[i];
        if (h->keys[i] > now_ms) {
            h->keys[kept] = h->keys[i];
            h->items[kept++] = r;
            continue;
        }
        mcreg__index_user_unlink(target, r);
        mcreg__index_ue_remove(target, r);
        target->st.n_records--;
        mcreg__events_removed(&op, r, MCREG_EV_EXPIRED);
    }
    size_t dropped = h->n - kept;
    h->n = kept;
    mcreg__repl_commit(&op); /* nothing staged without a node id */
    while (op.removed) {
        struct mcreg_record *r = op.removed;
        op.removed = r->user_next;
        mcreg__record_free(&target->alloc, r);
    }
    if (mcreg__repl_on(target))
        mcreg__repl_forget(target, now_ms);
    return dropped;
}

/* Check the whole input, drop what expired, and put the state in the
 * order every other call relies on: each user's and each UE's list sorted,
 * the heap built, and the scratch area as large as the largest user
 * (events never allocate). */
static int finish(mcreg_registry *target, uint64_t now_ms, mcreg_detail *why)
{
    mcreg_alloc *a = &target->alloc;
    mcreg_state *st = &target->st;
    /* With UE exclusive on, every UE's list has one record. */
    size_t largest = mcreg__index_largest_user(target), longest = largest;
    if (!target->opt.ue_exclusive) {
        size_t ue_list = mcreg__index_longest_ue_list(target);
        if (ue_list > longest)
            longest = ue_list;
    }
    void **sorting = NULL;
    if (longest && !(sorting = mcreg__alloc_malloc(a, longest * sizeof(void *))))
        return MCREG_ERR_NOMEM;
    int rc = MCREG_OK;
    if (!target->opt.ue_exclusive && mcreg__index_has_duplicate_pair(target, sorting)) {
        mcreg__detail_set(why, "snapshot", "records: a (user_id, ue_id) pair appears twice");
        rc = MCREG_ERR_FORMAT;
    }
    if (rc == MCREG_OK && mcreg__repl_on(target))
        rc = check_tombstones(target, why);
    if (rc == MCREG_OK && mcreg__repl_on(target))
        rc = stage_expired(target, now_ms);
    if (rc == MCREG_OK) {
        /* Only a drop can leave a user with neither records nor limit. */
        if (drop_expired(target, now_ms))
            mcreg__index_users_prune(target);
        mcreg__index_lists_sort(target, sorting);
        /* Sized before the drop: at most a little too large. */
        if (largest) {
            void *scratch =
                mcreg__alloc_grow(a, st->scratch, &st->scratch_cap, largest, sizeof(void *));
            if (scratch)
                st->scratch = scratch;
            else
                rc = MCREG_ERR_NOMEM;
        }
    }
    mcreg__alloc_free(a, sorting, longest * sizeof(void *));
    if (rc == MCREG_OK)
        mcreg__heap_build(&st->heap);
    return rc;
}

/* Free the change buffer and stage that the new state used for staging
 * (nothing is left in them). */
static void release_staging(mcreg_registry *next)
{
    mcreg__alloc_free(&next->alloc, next->pending.out, next->pending.cap);
    mcreg__alloc_free(&next->alloc, next->stage.items,
                      next->stage.cap * sizeof(*next->stage.items));
}

int mcreg_restore(mcreg_registry *reg, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    static const uint8_t no_bytes[1];
    if (!reg)
        return MCREG_ERR_MISUSE;
    if (mcreg__events_busy(reg))
        return MCREG_ERR_BUSY; /* the detail stays: see may_mutate in registry.c */
    mcreg_detail *why = &reg->detail;
    mcreg__detail_clear(why);
    /* NULL with a length is a host bug; no bytes at all is a snapshot too
     * short to be one. */
    if (!buf && len) {
        mcreg__detail_set(why, "buf", "NULL with a non-zero len");
        return MCREG_ERR_MISUSE;
    }
    if (!buf)
        buf = no_bytes;
    /* Same allocator, options and hash key; an empty state. */
    mcreg_registry next = *reg;
    memset(&next.st, 0, sizeof(next.st));
    next.alloc.held = 0; /* what the new state takes */
    /* Its own (empty) change buffer and stage, for staging the tombstones
     * of expired records: growing reg's would free them under reg. */
    memset(&next.pending, 0, sizeof(next.pending));
    memset(&next.stage, 0, sizeof(next.stage));
    /* The new state has the capacity too, or the swap would lose it. */
    int rc = reg->opt.capacity ? mcreg__state_reserve(&next, reg->opt.capacity) : MCREG_OK;
    if (rc == MCREG_OK)
        rc = build(&next, buf, len, why);
    if (rc == MCREG_OK)
        rc = finish(&next, now_ms, why);
    release_staging(&next);
    if (rc != MCREG_OK) {
        if (rc == MCREG_ERR_NOMEM)
            mcreg__detail_set(why, NULL, "out of memory: the allocator returned NULL");
        mcreg__state_clear(&next);
        return rc;
    }
    mcreg__state_clear(reg);
    reg->st = next.st;
    reg->clock = next.clock; /* past every stamp restored */
    reg->alloc.held += next.alloc.held;
    return MCREG_OK;
}
