#include "repl.h"

#include <string.h>

#include "index.h"
#include "record.h"
#include "user.h"

int mcreg__repl_version_cmp(mcreg_change_version a, mcreg_change_version b)
{
    if (a.stamp != b.stamp)
        return a.stamp < b.stamp ? -1 : 1;
    if (a.node_id != b.node_id)
        return a.node_id < b.node_id ? -1 : 1;
    return 0;
}

#define STAMP_MS_MAX ((UINT64_C(1) << 48) - 1)

int mcreg__repl_next_stamp(mcreg_registry *reg, uint64_t now_ms, uint64_t *stamp)
{
    uint64_t floor = (now_ms > STAMP_MS_MAX ? STAMP_MS_MAX : now_ms) << 16;
    if (floor <= reg->clock && reg->clock == UINT64_MAX) {
        /* Saturating would give two changes one version. */
        mcreg__detail_set(&reg->detail, NULL,
                          "clock: the next version stamp would pass 2^64 - 1");
        return MCREG_ERR_CLOCK;
    }
    uint64_t next = reg->clock + 1;
    *stamp = floor > next ? floor : next;
    return MCREG_OK;
}

int mcreg__repl_stamp_in_bound(const mcreg_registry *reg, uint64_t stamp, uint64_t now_ms)
{
    uint64_t skew = reg->opt.max_clock_skew;
    uint64_t bound = now_ms > UINT64_MAX - skew ? UINT64_MAX : now_ms + skew;
    return (stamp >> 16) <= bound;
}

uint64_t mcreg__repl_horizon(const mcreg_registry *reg, mcreg_change_version v)
{
    return (v.stamp >> 16) + 1000u * (uint64_t)reg->opt.max_expires;
}

void mcreg__repl_note_horizon(mcreg_registry *reg, mcreg_change_version v)
{
    uint64_t h = mcreg__repl_horizon(reg, v);
    if (reg->st.next_horizon == 0 || h < reg->st.next_horizon)
        reg->st.next_horizon = h;
}

/* ---- side-table keys -------------------------------------------------- */

uint64_t mcreg__repl_key_hash(const mcreg_registry *reg, const char *key, size_t len)
{
    return mcreg__hash_siphash13(&reg->hash_key, key, len);
}

/* "user NUL ue" in buf (room for two ids and a NUL); its length. */
static size_t pair_key(char *buf, const char *user, size_t user_len, const char *ue,
                       size_t ue_len)
{
    memcpy(buf, user, user_len);
    buf[user_len] = '\0';
    memcpy(buf + user_len + 1, ue, ue_len);
    return user_len + 1 + ue_len;
}

mcreg_repl_node *mcreg__repl_tomb_find(const mcreg_registry *reg, const char *user,
                                       size_t user_len, const char *ue, size_t ue_len)
{
    if (!reg->st.tombs.n)
        return NULL;
    char key[2 * MCREG_MAX_ID_LEN + 1];
    size_t len = pair_key(key, user, user_len, ue, ue_len);
    return mcreg__rtable_find(&reg->st.tombs, mcreg__repl_key_hash(reg, key, len), key, len);
}

mcreg_repl_node *mcreg__repl_ue_find(const mcreg_registry *reg, const char *ue, size_t ue_len)
{
    return mcreg__rtable_find(&reg->st.ue_puts, mcreg__repl_key_hash(reg, ue, ue_len), ue, ue_len);
}

mcreg_repl_node *mcreg__repl_limit_find(const mcreg_registry *reg, const char *user,
                                        size_t user_len)
{
    return mcreg__rtable_find(&reg->st.limits, mcreg__repl_key_hash(reg, user, user_len), user,
                              user_len);
}

mcreg_repl_node *mcreg__repl_node_new(mcreg_registry *reg, const char *id1, size_t len1,
                                      const char *ue, size_t ue_len)
{
    mcreg_repl_node *n = mcreg__rtable_node_new(&reg->alloc, id1, len1, ue, ue ? ue_len : 0);
    if (n)
        n->hash = mcreg__repl_key_hash(reg, n->key, mcreg__rtable_key_len(n));
    return n;
}

/* ---- entries ---------------------------------------------------------- */

void mcreg__repl_put_entry(mcreg_cbor_writer *w, const struct mcreg_record *r)
{
    const mcreg_record_versions *v = mcreg__record_versions(r);
    mcreg__cbor_writer_array(w, 4);
    mcreg__cbor_writer_uint(w, MCREG_REPL_PUT);
    mcreg__cbor_writer_version(w, v->write);
    mcreg__cbor_writer_version(w, v->logon);
    mcreg__cbor_writer_record(w, r, 0);
}

void mcreg__repl_removal_entry(mcreg_cbor_writer *w, const char *user, size_t user_len,
                               const char *ue, size_t ue_len, mcreg_change_version v,
                               mcreg_change_version logon, unsigned reason)
{
    mcreg__cbor_writer_array(w, 6);
    mcreg__cbor_writer_uint(w, MCREG_REPL_REMOVAL);
    mcreg__cbor_writer_text(w, user, user_len);
    mcreg__cbor_writer_text(w, ue, ue_len);
    mcreg__cbor_writer_version(w, v);
    mcreg__cbor_writer_version(w, logon);
    mcreg__cbor_writer_uint(w, reason);
}

void mcreg__repl_limit_entry(mcreg_cbor_writer *w, const char *user, size_t user_len,
                             mcreg_change_version v, int has_max, uint32_t max)
{
    mcreg__cbor_writer_array(w, 4);
    mcreg__cbor_writer_uint(w, MCREG_REPL_LIMIT);
    mcreg__cbor_writer_text(w, user, user_len);
    mcreg__cbor_writer_version(w, v);
    if (has_max)
        mcreg__cbor_writer_uint(w, max);
    else
        mcreg__cbor_writer_null(w);
}

size_t mcreg__repl_removal_bound(size_t user_len, size_t ue_len)
{
    return 12 * MCREG_CBOR_WRITER_HEAD_MAX + user_len + ue_len;
}

/* ---- staging a local call --------------------------------------------- */

int mcreg__repl_stage_begin(mcreg_registry *reg, uint64_t stamp, size_t bytes)
{
    mcreg_repl_stage *s = &reg->stage;
    s->n = 0;
    s->v.stamp = stamp;
    s->v.node_id = reg->opt.node_id;
    reg->pending.counted = &reg->alloc; /* the state holds it */
    reg->pending.failed = 0;
    if (!mcreg__cbor_writer_room(&reg->pending, bytes)) {
        reg->pending.failed = 0;
        return MCREG_ERR_NOMEM;
    }
    reg->pending.len += bytes; /* reserved: written or given back at the end */
    s->reserved = bytes;
    s->active = 1;
    return MCREG_OK;
}

int mcreg__repl_stage_removal(mcreg_registry *reg, struct mcreg_record *r)
{
    mcreg_repl_stage *s = &reg->stage;
    if (s->n == s->cap) {
        mcreg_repl_staged *items =
            mcreg__alloc_grow(&reg->alloc, s->items, &s->cap, s->n + 1, sizeof(*items));
        if (!items)
            return MCREG_ERR_NOMEM;
        s->items = items;
    }
    /* Room in the pending buffer for the removal entry too. */
    size_t bytes = mcreg__repl_removal_bound(mcreg__user_id_len(r->user), mcreg__record_ue_len(r));
    if (!mcreg__cbor_writer_room(&reg->pending, bytes)) {
        reg->pending.failed = 0;
        return MCREG_ERR_NOMEM;
    }
    reg->pending.len += bytes;
    s->reserved += bytes;
    mcreg_repl_node *n = mcreg__repl_node_new(reg, r->user->id, mcreg__user_id_len(r->user),
                                              r->ue_id, mcreg__record_ue_len(r));
    mcreg_repl_node *u = NULL;
    if (n && (u = mcreg__repl_ue_spare(reg, r)) == NULL && reg->opt.ue_exclusive &&
        !mcreg__repl_ue_find(reg, r->ue_id, mcreg__record_ue_len(r))) {
        mcreg__rtable_node_free(&reg->alloc, n);
        return MCREG_ERR_NOMEM;
    }
    if (!n)
        return MCREG_ERR_NOMEM;
    n->staged = 1;
    s->items[s->n++] = (mcreg_repl_staged){r, n, u};
    mcreg__record_versions(r)->tomb = n;
    return MCREG_OK;
}

mcreg_repl_node *mcreg__repl_ue_spare(mcreg_registry *reg, const struct mcreg_record *r)
{
    if (!reg->opt.ue_exclusive || mcreg__repl_ue_find(reg, r->ue_id, mcreg__record_ue_len(r)))
        return NULL;
    return mcreg__repl_node_new(reg, r->ue_id, mcreg__record_ue_len(r), NULL, 0);
}

void mcreg__repl_ue_keep(mcreg_registry *reg, const struct mcreg_record *r, mcreg_repl_node *spare)
{
    mcreg_index_key k;
    mcreg__index_key_init(&k, r->ue_id, mcreg__record_ue_len(r));
    if (!reg->opt.ue_exclusive || mcreg__index_ue_first(reg, &k))
        return; /* another record holds the UE: it is the UE's highest put */
    mcreg_change_version v = mcreg__record_versions(r)->write;
    mcreg_repl_node *u = mcreg__repl_ue_find(reg, r->ue_id, mcreg__record_ue_len(r));
    if (!u) {
        if (!spare)
            return; /* cannot happen: staged when the UE had no node */
        u = spare;
        u->v = v;
        u->in_table = 1;
        mcreg__rtable_insert(&reg->st.ue_puts, u);
    } else if (mcreg__repl_version_cmp(v, u->v) > 0) {
        u->v = v;
    }
    mcreg__repl_note_horizon(reg, u->v);
}

mcreg_change_version mcreg__repl_ue_high(const mcreg_registry *reg, const char *ue, size_t len)
{
    mcreg_change_version v = {0, 0};
    const mcreg_repl_node *n = mcreg__repl_ue_find(reg, ue, len);
    if (n)
        v = n->v;
    mcreg_index_key k;
    mcreg__index_key_init(&k, ue, len);
    const struct mcreg_record *r = reg->opt.ue_exclusive ? mcreg__index_ue_first(reg, &k) : NULL;
    if (r && mcreg__repl_version_cmp(mcreg__record_versions(r)->write, v) > 0)
        v = mcreg__record_versions(r)->write;
    return v;
}

void mcreg__repl_ue_drop(mcreg_registry *reg, const struct mcreg_record *r)
{
    mcreg_repl_node *u = mcreg__repl_ue_find(reg, r->ue_id, mcreg__record_ue_len(r));
    if (u) {
        mcreg__rtable_remove(&reg->st.ue_puts, u);
        mcreg__rtable_node_free(&reg->alloc, u);
    }
}

int mcreg__repl_stage_end(mcreg_registry *reg)
{
    mcreg_alloc *a = &reg->alloc;
    size_t ues = 0;
    for (size_t i = 0; i < reg->stage.n; i++)
        ues += reg->stage.items[i].ue_node != NULL;
    if (mcreg__rtable_reserve(a, &reg->st.tombs, reg->stage.n) != MCREG_OK ||
        mcreg__rtable_reserve(a, &reg->st.ue_puts, ues) != MCREG_OK)
        return MCREG_ERR_NOMEM;
    return MCREG_OK;
}

/* Free what was staged and not used; give the room reserved back. */
static void stage_release(mcreg_registry *reg)
{
    mcreg_repl_stage *s = &reg->stage;
    for (size_t i = 0; i < s->n; i++) {
        mcreg_repl_node *u = s->items[i].ue_node;
        if (u && !u->in_table)
            mcreg__rtable_node_free(&reg->alloc, u);
        mcreg_repl_node *n = s->items[i].tomb;
        n->staged = 0;
        if (n->in_table)
            continue;
        mcreg__record_versions(s->items[i].record)->tomb = NULL;
        mcreg__rtable_node_free(&reg->alloc, n);
    }
    s->n = 0;
    s->active = 0;
}

void mcreg__repl_abort(mcreg_registry *reg)
{
    if (!reg->stage.active)
        return;
    reg->pending.len -= reg->stage.reserved;
    stage_release(reg);
}

/* A present pair becomes a tombstone: winning entry v, with r's logon. */
static void make_tomb(mcreg_registry *reg, struct mcreg_record *r, mcreg_change_version v)
{
    mcreg_record_versions *rv = mcreg__record_versions(r);
    mcreg_repl_node *n = rv->tomb;
    n->v = v;
    n->logon = rv->logon;
    n->newest = rv->newest;
    n->in_table = 1;
    mcreg__rtable_insert(&reg->st.tombs, n);
    mcreg__repl_note_horizon(reg, v);
}

/* The pair of r, created or refreshed by a change of version v: its
 * versions, its UE's highest put, and no tombstone left. */
static void record_put(mcreg_registry *reg, struct mcreg_record *r, int created, mcreg_change_version v)
{
    mcreg_record_versions *rv = mcreg__record_versions(r);
    rv->write = v;
    if (created) {
        rv->logon = v;
        rv->newest = v;
        mcreg_repl_node *t = mcreg__repl_tomb_find(reg, r->user->id, mcreg__user_id_len(r->user),
                                                   r->ue_id, mcreg__record_ue_len(r));
        if (t) {
            if (mcreg__repl_version_cmp(t->newest, rv->newest) > 0)
                rv->newest = t->newest;
            mcreg__rtable_remove(&reg->st.tombs, t);
            /* The tombstone this very call made (a new logon at the pair's
             * lapsed record): the stage still holds it, and frees it. */
            if (t->staged)
                t->in_table = 0;
            else
                mcreg__rtable_node_free(&reg->alloc, t);
        }
    }
    /* Present, the record is its UE's highest put: the UE needs no node. */
    if (reg->opt.ue_exclusive)
        mcreg__repl_ue_drop(reg, r);
}

void mcreg__repl_commit(mcreg_events_op *op)
{
    mcreg_registry *reg = op->reg;
    mcreg_repl_stage *s = &reg->stage;
    if (!s->active)
        return;
    mcreg_cbor_writer *w = &reg->pending;
    w->len -= s->reserved; /* the room reserved is written into now */
    size_t recorded = 0;
    for (struct mcreg_record *r = op->removed; r; r = r->user_next) {
        mcreg_record_versions *rv = mcreg__record_versions(r);
        if (r->removal == MCREG_EV_EXPIRED) {
            make_tomb(reg, r, rv->write); /* no change: the put itself wins */
            continue;
        }
        make_tomb(reg, r, s->v);
        mcreg__repl_removal_entry(w, r->user->id, mcreg__user_id_len(r->user), r->ue_id,
                                  mcreg__record_ue_len(r), s->v, rv->logon, r->removal);
        recorded++;
    }
    if (op->changed) {
        record_put(reg, op->changed, op->changed_type == MCREG_EV_CREATED, s->v);
        mcreg__repl_put_entry(w, op->changed);
        recorded++;
    }
    for (size_t i = 0; i < s->n; i++) /* a UE left empty keeps its put */
        if (s->items[i].tomb->in_table)
            mcreg__repl_ue_keep(reg, s->items[i].record, s->items[i].ue_node);
    stage_release(reg);
    if (recorded) {
        reg->clock = s->v.stamp;
        reg->pending_n += recorded;
    }
}

int mcreg__repl_stage_limit(mcreg_registry *reg, const char *user, size_t user_len,
                            mcreg_repl_node **fresh)
{
    uint64_t stamp;
    int rc = mcreg__repl_next_stamp(reg, 0, &stamp);
    if (rc == MCREG_OK)
        rc = mcreg__repl_stage_begin(reg, stamp, MCREG_REPL_LIMIT_BOUND(user_len));
    if (rc != MCREG_OK)
        return rc;
    reg->stage.active = 0; /* nothing for mcreg__repl_commit */
    *fresh = NULL;
    if (mcreg__repl_limit_find(reg, user, user_len))
        return MCREG_OK;
    if (mcreg__rtable_reserve(&reg->alloc, &reg->st.limits, 1) != MCREG_OK ||
        !(*fresh = mcreg__repl_node_new(reg, user, user_len, NULL, 0))) {
        reg->pending.len -= reg->stage.reserved;
        return MCREG_ERR_NOMEM;
    }
    return MCREG_OK;
}

void mcreg__repl_abort_limit(mcreg_registry *reg, mcreg_repl_node *fresh)
{
    reg->pending.len -= reg->stage.reserved;
    mcreg__rtable_node_free(&reg->alloc, fresh);
}

void mcreg__repl_commit_limit(mcreg_registry *reg, const char *user, size_t user_len,
                              int has_max, uint32_t max, mcreg_repl_node *fresh)
{
    mcreg_repl_stage *s = &reg->stage;
    mcreg_repl_node *n = mcreg__repl_limit_find(reg, user, user_len);
    if (!n) {
        n = fresh;
        n->in_table = 1;
        mcreg__rtable_insert(&reg->st.limits, n);
    } else {
        mcreg__rtable_node_free(&reg->alloc, fresh);
    }
    n->v = s->v;
    n->has_max = (uint8_t)(has_max != 0);
    n->max_ues = has_max ? max : 0;
    reg->pending.len -= s->reserved;
    mcreg__repl_limit_entry(&reg->pending, user, user_len, s->v, has_max, max);
    reg->clock = s->v.stamp;
    reg->pending_n++;
    s->active = 0;
}

/* ---- forgetting ------------------------------------------------------- */

static uint64_t forget_in(mcreg_registry *reg, mcreg_rtable *t, uint64_t now_ms)
{
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < t->cap;) {
        mcreg_repl_node *n = t->slots[i];
        if (!n) {
            i++;
            continue;
        }
        uint64_t h = mcreg__repl_horizon(reg, n->v);
        if (now_ms >= h) {
            mcreg__rtable_remove(t, n); /* may move a later node into slot i */
            mcreg__rtable_node_free(&reg->alloc, n);
            continue;
        }
        if (h < next)
            next = h;
        i++;
    }
    return next;
}

void mcreg__repl_forget(mcreg_registry *reg, uint64_t now_ms)
{
    if (reg->st.next_horizon > now_ms)
        return;
    uint64_t a = forget_in(reg, &reg->st.tombs, now_ms);
    uint64_t b = forget_in(reg, &reg->st.ue_puts, now_ms);
    uint64_t next = a < b ? a : b;
    reg->st.next_horizon = next; /* UINT64_MAX: none left */
}
