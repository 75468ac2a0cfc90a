/* mcreg_changes_apply: REPLICATION.md's state function over the entries
 * of one input (change buffers back to back, or a snapshot's bytes).
 *
 * Validate: the whole input is decoded first (changes_decode.c checks
 * each buffer's structure and checksum before giving out its entries),
 * each entry copied into a staged one, puts into record blocks.
 * Stage: the entries are reduced to their winners (per pair, per UE, per
 * user; the state is a function of the set of entries, so order inside the
 * input does not matter), and each pair's winner is set against what this
 * node holds, giving a plan: records that arrive, records that leave,
 * tombstones, UEs' highest puts, limits. Everything that can fail is done
 * next (nodes, room in the tables, users, inserts into the UE table), and
 * undone on failure. Commit: the plan, with steps that cannot fail.
 * Emit: the events of what changed, per pair, then the NOTIFY_LOGON rounds
 * of the cross-node rule. */
#include <string.h>

#include "changes_decode.h"
#include "events.h"
#include "heap.h"
#include "index.h"
#include "record.h"
#include "registry.h"
#include "repl.h"
#include "sort.h"

/* ---- staged entries ----------------------------------------------------- */

typedef struct entry {
    mcreg_change_version v, logon;
    uint64_t registered_at, expires_at;
    struct mcreg_record *rec; /* a put's record (its user set at commit) */
    uint32_t max_ues;
    uint16_t user_len, ue_len;
    uint8_t kind, reason, has_max;
    char key[]; /* user NUL [ue NUL] */
} entry;

/* A snapshot's UE highest put: an entry of its own, for the UE alone. */
#define KIND_UE_PUT 3u

static const char *entry_ue(const entry *e)
{
    return e->key + e->user_len + 1;
}

/* A departure: a present record that leaves (or whose block is replaced). */
typedef struct departure {
    struct mcreg_record *r;
    mcreg_repl_node *tomb;        /* the pair's new tombstone, or NULL */
    mcreg_repl_node *ue_node;     /* its UE's, should the UE be left empty */
    mcreg_change_version tv, tlogon, tnewest;
    uint64_t origin;
    uint8_t why;                  /* event type, or MCREG_EVENTS_NO_EVENT */
} departure;

/* An arrival: a put that becomes present. */
typedef struct arrival {
    entry *e;
    struct mcreg_record *n;
    struct mcreg_record *replaces; /* the record leaving its UE (or pair) for it */
    mcreg_repl_node *old_tomb;     /* the pair's tombstone, gone once present */
    mcreg_change_version newest;
    mcreg_user *user;
    uint8_t type;                  /* CREATED, REFRESHED or SHORTENED */
    uint8_t inserted, new_user, notify;
} arrival;

/* A tombstone written: a new node (inserted) or an existing one. */
typedef struct tomb_op {
    mcreg_repl_node *node;
    mcreg_change_version v, logon, newest;
    uint8_t is_new;
} tomb_op;

typedef struct plan {
    mcreg_registry *reg;
    mcreg_allocator fns; /* reg's allocator, copied: plan_free may outlive reg */
    uint64_t now;
    entry **entries;
    size_t n_entries, cap_entries;
    departure *dep;
    size_t n_dep;
    arrival *arr;
    size_t n_arr;
    tomb_op *tombs;
    size_t n_tombs;
    mcreg_repl_node **ue_nodes; /* new UE-put nodes, parallel to ue_new */
    entry **ue_new;             /* the UE's highest put of the input, raising it */
    size_t n_ue;
    entry **limits;             /* winning limit entries */
    mcreg_repl_node **limit_nodes;
    size_t n_limits;
    int from_snapshot;          /* the input is a snapshot's bytes */
    struct mcreg_record **newest_of; /* records whose newest logon rises */
    mcreg_change_version *newest_v;
    size_t n_newest;
    entry **puts;               /* the puts not forgotten, by (ue, version) */
    size_t n_puts;
    mcreg_events_item *items;
    size_t n_items, cap_items;
    uint64_t clock;
} plan;

#define DEPARTING 0xfeu /* r->removal of a present record in the plan's departures */
#define UE_DONE 0xfdu   /* ... whose place at its UE an arrival took */

static int version_gt(mcreg_change_version a, mcreg_change_version b)
{
    return mcreg__repl_version_cmp(a, b) > 0;
}

static mcreg_change_version version_max(mcreg_change_version a, mcreg_change_version b)
{
    return version_gt(a, b) ? a : b;
}

/* Whether an entry of version v is already past its horizon: it changes
 * nothing (anything it could beat is past it too). */
static int forgotten(const plan *p, mcreg_change_version v)
{
    return p->now >= mcreg__repl_horizon(p->reg, v);
}

static int push_entry(plan *p, entry *e)
{
    if (p->n_entries == p->cap_entries) {
        entry **grown = mcreg__alloc_temp_grow(&p->fns, p->entries, &p->cap_entries,
                                          p->n_entries + 1, sizeof(*grown));
        if (!grown)
            return MCREG_ERR_NOMEM;
        p->entries = grown;
    }
    p->entries[p->n_entries++] = e;
    return MCREG_OK;
}

static int stage_entry(plan *p, const mcreg_changes_decode_item *it)
{
    const mcreg_allocator *a = &p->fns;
    size_t user_len = strlen(it->user_id);
    size_t ue_len = it->ue_id ? strlen(it->ue_id) : 0;
    entry *e = mcreg__alloc_temp_malloc(a, sizeof(*e) + user_len + ue_len + 2);
    if (!e)
        return MCREG_ERR_NOMEM;
    memset(e, 0, sizeof(*e));
    e->kind = it->kind == MCREG_CHANGES_DECODE_PUT       ? MCREG_REPL_PUT
              : it->kind == MCREG_CHANGES_DECODE_REMOVAL ? MCREG_REPL_REMOVAL
              : it->kind == MCREG_CHANGES_DECODE_LIMIT   ? MCREG_REPL_LIMIT
                                                         : KIND_UE_PUT;
    e->v = it->version;
    e->logon = it->logon;
    e->reason = (uint8_t)it->reason;
    e->has_max = (uint8_t)it->has_max;
    e->max_ues = it->max_ues;
    e->registered_at = it->registered_at;
    e->expires_at = it->expires_at;
    e->user_len = (uint16_t)user_len;
    e->ue_len = (uint16_t)ue_len;
    memcpy(e->key, it->user_id, user_len + 1);
    if (ue_len)
        memcpy(e->key + user_len + 1, it->ue_id, ue_len + 1);
    if (e->kind == MCREG_REPL_PUT) {
        e->rec = mcreg__record_new(&p->reg->alloc, NULL, &it->binding, ue_len, NULL,
                                   p->reg->record_layout);
        if (!e->rec) {
            mcreg__alloc_temp_free(a, e);
            return MCREG_ERR_NOMEM;
        }
        e->rec->registered_at = e->registered_at;
        e->rec->expires_at = e->expires_at;
    }
    if (e->v.stamp > p->clock)
        p->clock = e->v.stamp;
    int rc = push_entry(p, e);
    if (rc != MCREG_OK) {
        mcreg__record_free(&p->reg->alloc, e->rec);
        mcreg__alloc_temp_free(a, e);
    }
    return rc;
}

/* A snapshot's bytes count as every entry they hold: its records as puts,
 * its tombstones as removals, its UEs' highest puts and its limit entries
 * (the limits in effect, key 2, say nothing of versions: skipped). */
static int decode_snapshot(plan *p, const uint8_t *buf, size_t len)
{
    mcreg_snapshot_decoder d;
    int rc = mcreg__snapshot_decode_init(&d, &p->reg->alloc, buf, len, &p->reg->detail);
    if (rc != MCREG_OK)
        return rc;
    mcreg_snapshot_decode_item it;
    while ((rc = mcreg__snapshot_decode_next(&d, &it)) == MCREG_OK &&
           it.kind != MCREG_SNAPSHOT_DECODE_END) {
        /* Without versions (1.0, or a record lacking keys 16 and 17) a
         * snapshot says nothing to merge by. */
        if (d.minor < 1 || (it.kind == MCREG_SNAPSHOT_DECODE_RECORD && !it.has_versions)) {
            mcreg__detail_set(&p->reg->detail, "snapshot",
                              d.minor < 1 ? "format 1.0 has no versions: apply merges 1.1"
                                          : "a record without its version and logon");
            rc = MCREG_ERR_FORMAT;
            break;
        }
        mcreg_changes_decode_item e;
        memset(&e, 0, sizeof(e));
        e.version = it.version;
        e.logon = it.logon;
        switch (it.kind) {
        case MCREG_SNAPSHOT_DECODE_RECORD:
            e.kind = MCREG_CHANGES_DECODE_PUT;
            e.binding = it.binding;
            e.user_id = it.binding.user_id;
            e.ue_id = it.binding.ue_id;
            e.registered_at = it.registered_at;
            e.expires_at = it.expires_at;
            break;
        case MCREG_SNAPSHOT_DECODE_TOMBSTONE:
            e.kind = MCREG_CHANGES_DECODE_REMOVAL;
            e.reason = MCREG_EV_DEREGISTERED;
            e.user_id = it.user_id;
            e.ue_id = it.ue_id;
            break;
        case MCREG_SNAPSHOT_DECODE_UE_PUT:
            e.kind = MCREG_CHANGES_DECODE_END; /* staged as KIND_UE_PUT */
            e.user_id = "";
            e.ue_id = it.ue_id;
            break;
        case MCREG_SNAPSHOT_DECODE_LIMIT_ENTRY:
            e.kind = MCREG_CHANGES_DECODE_LIMIT;
            e.user_id = it.user_id;
            e.has_max = it.has_max;
            e.max_ues = it.max_ues;
            break;
        default:
            continue; /* the records' head, a limit in effect */
        }
        if ((rc = stage_entry(p, &e)) != MCREG_OK)
            break;
    }
    mcreg__snapshot_decode_free(&d);
    return rc;
}

/* The clock's bound (mcreg_options_set_max_clock_skew), once the whole
 * input decoded (its checksums verified: a flipped bit is a format error):
 * an entry stamped too far ahead of now_ms would carry this node's clock,
 * and every later version and horizon, with it. The whole input is
 * refused. */
static int within_skew(plan *p)
{
    for (size_t i = 0; i < p->n_entries; i++) {
        const entry *e = p->entries[i];
        if (!mcreg__repl_stamp_in_bound(p->reg, e->v.stamp, p->now) ||
            !mcreg__repl_stamp_in_bound(p->reg, e->logon.stamp, p->now)) {
            mcreg__detail_set(&p->reg->detail, NULL,
                              "change buffer: a version stamp ahead of now_ms by more "
                              "than max_clock_skew");
            return MCREG_ERR_CLOCK;
        }
    }
    return MCREG_OK;
}

static int decode_all(plan *p, const uint8_t *buf, size_t len)
{
    if (mcreg__changes_decode_is_snapshot(buf, len)) {
        p->from_snapshot = 1;
        return decode_snapshot(p, buf, len);
    }
    mcreg_changes_decoder c;
    int rc = mcreg__changes_decode_init(&c, &p->reg->alloc, buf, len, &p->reg->detail);
    if (rc != MCREG_OK)
        return rc;
    mcreg_changes_decode_item it;
    while ((rc = mcreg__changes_decode_next(&c, &it)) == MCREG_OK &&
           it.kind != MCREG_CHANGES_DECODE_END)
        if ((rc = stage_entry(p, &it)) != MCREG_OK)
            break;
    mcreg__changes_decode_free(&c);
    return rc;
}

/* ---- reducing ---------------------------------------------------------- */

static int bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen < blen ? -1 : alen > blen);
}

/* Limits first, by user; then pair entries by (user, ue); in each, by
 * version, a removal after a put of the same version (it beats it): the
 * winner is the last of its run. */
static int entry_class(const entry *e)
{
    return e->kind == MCREG_REPL_LIMIT ? 0 : e->kind == KIND_UE_PUT ? 2 : 1;
}

static int entry_cmp(const void *va, const void *vb)
{
    const entry *a = va, *b = vb;
    int la = a->kind == MCREG_REPL_LIMIT;
    if (entry_class(a) != entry_class(b))
        return entry_class(a) - entry_class(b);
    int c = bytes_cmp(a->key, a->user_len, b->key, b->user_len);
    if (!c && !la)
        c = bytes_cmp(entry_ue(a), a->ue_len, entry_ue(b), b->ue_len);
    if (!c)
        c = mcreg__repl_version_cmp(a->v, b->v);
    if (!c)
        c = (int)a->kind - (int)b->kind;
    return c;
}

/* Puts by (ue, version). */
static int put_ue_cmp(const void *va, const void *vb)
{
    const entry *a = va, *b = vb;
    int c = bytes_cmp(entry_ue(a), a->ue_len, entry_ue(b), b->ue_len);
    return c ? c : mcreg__repl_version_cmp(a->v, b->v);
}

static int same_pair(const entry *a, const entry *b)
{
    return entry_class(a) == 1 && entry_class(b) == 1 &&
           !bytes_cmp(a->key, a->user_len, b->key, b->user_len) &&
           !bytes_cmp(entry_ue(a), a->ue_len, entry_ue(b), b->ue_len);
}

/* The input's highest put at that UE (not forgotten), or NULL: the last of
 * its run in p->puts. */
static entry *input_high(const plan *p, const char *ue, size_t ue_len)
{
    size_t lo = 0, hi = p->n_puts; /* first index whose ue is greater */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const entry *m = p->puts[mid];
        if (bytes_cmp(entry_ue(m), m->ue_len, ue, ue_len) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo)
        return NULL;
    entry *e = p->puts[lo - 1];
    return bytes_cmp(entry_ue(e), e->ue_len, ue, ue_len) == 0 ? e : NULL;
}

/* The UE's highest put once the input is applied: {0, 0} and 0 when none. */
static int ue_high(const plan *p, const char *ue, size_t ue_len, mcreg_change_version *v,
                   uint64_t *origin)
{
    const mcreg_repl_node *n = mcreg__repl_ue_find(p->reg, ue, ue_len);
    const entry *e = input_high(p, ue, ue_len);
    int any = n || e;
    mcreg_change_version best = {0, 0};
    if (n)
        best = n->v;
    if (e && (!n || version_gt(e->v, n->v)))
        best = e->v;
    /* A present record is its UE's highest put, even one whose node was
     * forgotten (an expiry past its horizon, from a hostile peer). */
    mcreg_index_key k;
    mcreg__index_key_init(&k, ue, ue_len);
    const struct mcreg_record *r0 = mcreg__index_ue_first(p->reg, &k);
    if (r0 && version_gt(mcreg__record_versions(r0)->write, best)) {
        best = mcreg__record_versions(r0)->write;
        any = 1;
    }
    *v = best;
    *origin = best.node_id;
    return any;
}

static int sort_puts(plan *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_entries; i++)
        n += (p->entries[i]->kind == MCREG_REPL_PUT || p->entries[i]->kind == KIND_UE_PUT) &&
             !forgotten(p, p->entries[i]->v);
    if (!n)
        return MCREG_OK;
    p->puts = mcreg__alloc_temp_malloc(&p->fns, n * sizeof(*p->puts));
    if (!p->puts)
        return MCREG_ERR_NOMEM;
    for (size_t i = 0; i < p->n_entries; i++)
        if ((p->entries[i]->kind == MCREG_REPL_PUT || p->entries[i]->kind == KIND_UE_PUT) &&
            !forgotten(p, p->entries[i]->v))
            p->puts[p->n_puts++] = p->entries[i];
    mcreg__sort((void **)p->puts, p->n_puts, put_ue_cmp);
    return MCREG_OK;
}

/* ---- planning ------------------------------------------------------------ */

/* Room for the plan's arrays: each entry gives at most one arrival, two
 * departures (its pair's, another user's at its UE), one tombstone, one
 * newest-logon rise, one UE and one limit. */
static int plan_alloc(plan *p)
{
    const mcreg_allocator *a = &p->fns;
    size_t n = p->n_entries ? p->n_entries : 1;
    if (n > SIZE_MAX / (2 * sizeof(departure) + sizeof(arrival) + sizeof(tomb_op) + 64))
        return MCREG_ERR_NOMEM;
    p->dep = mcreg__alloc_temp_malloc(a, 2 * n * sizeof(*p->dep));
    p->arr = mcreg__alloc_temp_malloc(a, n * sizeof(*p->arr));
    p->tombs = mcreg__alloc_temp_malloc(a, 2 * n * sizeof(*p->tombs));
    p->ue_nodes = mcreg__alloc_temp_malloc(a, n * sizeof(*p->ue_nodes));
    p->ue_new = mcreg__alloc_temp_malloc(a, n * sizeof(*p->ue_new));
    p->limits = mcreg__alloc_temp_malloc(a, n * sizeof(*p->limits));
    p->limit_nodes = mcreg__alloc_temp_malloc(a, n * sizeof(*p->limit_nodes));
    p->newest_of = mcreg__alloc_temp_malloc(a, n * sizeof(*p->newest_of));
    p->newest_v = mcreg__alloc_temp_malloc(a, n * sizeof(*p->newest_v));
    if (!p->dep || !p->arr || !p->tombs || !p->ue_nodes || !p->ue_new || !p->limits ||
        !p->limit_nodes || !p->newest_of || !p->newest_v)
        return MCREG_ERR_NOMEM;
    return MCREG_OK;
}

static mcreg_repl_node *new_pair_node(plan *p, const char *user, size_t user_len, const char *ue,
                                      size_t ue_len)
{
    return mcreg__repl_node_new(p->reg, user, user_len, ue, ue_len);
}

/* A tombstone for the pair: the existing node t, or a new one. */
static int plan_tomb(plan *p, mcreg_repl_node *t, const char *user, size_t user_len,
                     const char *ue, size_t ue_len, mcreg_change_version v,
                     mcreg_change_version logon, mcreg_change_version newest,
                     mcreg_repl_node **out)
{
    tomb_op *op = &p->tombs[p->n_tombs];
    op->is_new = t == NULL;
    if (!t && !(t = new_pair_node(p, user, user_len, ue, ue_len)))
        return MCREG_ERR_NOMEM;
    op->node = t;
    op->v = v;
    op->logon = logon;
    op->newest = newest;
    p->n_tombs++;
    if (out)
        *out = t;
    return MCREG_OK;
}

static int plan_departure(plan *p, struct mcreg_record *r, uint8_t why, uint64_t origin,
                          mcreg_repl_node *tomb)
{
    mcreg_repl_node *u = mcreg__repl_ue_spare(p->reg, r);
    if (!u && p->reg->opt.ue_exclusive && !mcreg__repl_ue_find(p->reg, r->ue_id, mcreg__record_ue_len(r)))
        return MCREG_ERR_NOMEM;
    departure *d = &p->dep[p->n_dep++];
    d->ue_node = u;
    d->r = r;
    d->why = why;
    d->origin = origin;
    d->tomb = tomb;
    r->removal = DEPARTING;
    return MCREG_OK;
}

/* One pair's run of entries [first, last]: its winner against what this
 * node holds. */
static int plan_pair(plan *p, entry *const *run, size_t n)
{
    mcreg_registry *reg = p->reg;
    entry *w = NULL;
    mcreg_change_version run_newest = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (forgotten(p, run[i]->v))
            continue;
        w = run[i]; /* the last one not forgotten: the run is sorted */
        run_newest = version_max(run_newest, run[i]->logon);
    }
    if (!w)
        return MCREG_OK;
    const char *user = w->key, *ue = entry_ue(w);
    mcreg_index_key uk, ek;
    mcreg__index_key_init(&uk, user, w->user_len);
    mcreg__index_key_init(&ek, ue, w->ue_len);
    struct mcreg_record *r = mcreg__index_pair_find(reg, &uk, &ek);
    mcreg_repl_node *t = r ? NULL : mcreg__repl_tomb_find(reg, user, w->user_len, ue, w->ue_len);
    const mcreg_record_versions *rv = r ? mcreg__record_versions(r) : NULL;
    mcreg_change_version old_newest = rv ? rv->newest : t ? t->newest : (mcreg_change_version){0, 0};
    mcreg_change_version newest = version_max(old_newest, run_newest);
    int beats = 1;
    if (r || t) {
        int c = mcreg__repl_version_cmp(w->v, r ? rv->write : t->v);
        /* At an equal version a removal beats a put; a tombstone is a
         * removal's class. */
        beats = c > 0 || (c == 0 && r && w->kind == MCREG_REPL_REMOVAL);
    }
    if (!beats) {
        if (r && version_gt(newest, rv->newest)) {
            p->newest_of[p->n_newest] = r;
            p->newest_v[p->n_newest++] = newest;
        } else if (t && version_gt(newest, t->newest)) {
            return plan_tomb(p, t, user, w->user_len, ue, w->ue_len, t->v, t->logon, newest, NULL);
        }
        return MCREG_OK;
    }
    mcreg_change_version high = {0, 0};
    uint64_t high_origin = 0;
    if (reg->opt.ue_exclusive)
        (void)ue_high(p, ue, w->ue_len, &high, &high_origin);
    int is_put = w->kind == MCREG_REPL_PUT;
    int expired = is_put && w->expires_at <= p->now;
    int overridden = reg->opt.ue_exclusive && mcreg__repl_version_cmp(w->v, high) != 0 && is_put;
    if (is_put && !expired && !overridden) {
        arrival *a = &p->arr[p->n_arr++];
        memset(a, 0, sizeof(*a));
        a->e = w;
        a->n = w->rec;
        a->old_tomb = t;
        a->newest = newest;
        a->type = MCREG_EV_CREATED;
        a->notify = version_gt(w->logon, old_newest) || (!r && !t);
        if (r) {
            int same_logon = !mcreg__repl_version_cmp(rv->logon, w->logon);
            if (same_logon)
                a->type = w->expires_at < r->expires_at ? MCREG_EV_SHORTENED : MCREG_EV_REFRESHED;
            a->notify = a->notify && !same_logon;
            a->replaces = r;
            return plan_departure(p, r, same_logon ? MCREG_EVENTS_NO_EVENT : MCREG_EV_DEREGISTERED,
                                  w->v.node_id, NULL);
        }
        return MCREG_OK;
    }
    mcreg_repl_node *tomb;
    int rc = plan_tomb(p, t, user, w->user_len, ue, w->ue_len, w->v, w->logon, newest, &tomb);
    if (rc != MCREG_OK || !r)
        return rc;
    uint8_t why;
    uint64_t origin = w->v.node_id;
    if (expired) {
        why = MCREG_EV_EXPIRED;
    } else if (overridden || (reg->opt.ue_exclusive && version_gt(high, rv->write))) {
        why = MCREG_EV_REPLACED;
        origin = overridden ? high_origin : high.node_id;
    } else {
        why = w->reason;
    }
    return plan_departure(p, r, why, origin, tomb);
}

/* UE exclusive: each UE whose highest put the input raises, and the
 * present record there that it overrides (REPLACED). */
static int plan_ues(plan *p)
{
    mcreg_registry *reg = p->reg;
    for (size_t i = 0; i < p->n_puts; i++) {
        entry *e = p->puts[i];
        if (i + 1 < p->n_puts && !put_ue_cmp(p->puts[i + 1], e) && e->kind != KIND_UE_PUT &&
            p->puts[i + 1]->kind != KIND_UE_PUT &&
            bytes_cmp(p->puts[i + 1]->key, p->puts[i + 1]->user_len, e->key, e->user_len))
            return MCREG_ERR_FORMAT; /* two users' puts of one version at one UE */
        if (i + 1 < p->n_puts &&
            !bytes_cmp(entry_ue(p->puts[i + 1]), p->puts[i + 1]->ue_len, entry_ue(e), e->ue_len))
            continue; /* not the UE's highest */
        mcreg_repl_node *n = mcreg__repl_ue_find(reg, entry_ue(e), e->ue_len);
        if (n && !version_gt(e->v, n->v))
            continue;
        p->ue_nodes[p->n_ue] = n ? NULL : mcreg__repl_node_new(reg, entry_ue(e), e->ue_len, NULL, 0);
        if (!n && !p->ue_nodes[p->n_ue])
            return MCREG_ERR_NOMEM;
        p->ue_new[p->n_ue++] = e;
        mcreg_index_key k;
        mcreg__index_key_init(&k, entry_ue(e), e->ue_len);
        struct mcreg_record *r0 = mcreg__index_ue_first(reg, &k);
        if (!r0 || r0->removal == DEPARTING)
            continue;
        const mcreg_record_versions *rv = mcreg__record_versions(r0);
        if (!version_gt(e->v, rv->write))
            continue;
        mcreg_repl_node *tomb;
        int rc = plan_tomb(p, NULL, r0->user->id, mcreg__user_id_len(r0->user), r0->ue_id,
                           mcreg__record_ue_len(r0), rv->write, rv->logon, rv->newest, &tomb);
        if (rc != MCREG_OK)
            return rc;
        rc = plan_departure(p, r0, MCREG_EV_REPLACED, e->v.node_id, tomb);
        if (rc != MCREG_OK)
            return rc;
    }
    return MCREG_OK;
}

static int plan_limit(plan *p, entry *w)
{
    mcreg_repl_node *n = mcreg__repl_limit_find(p->reg, w->key, w->user_len);
    if (n && !version_gt(w->v, n->v))
        return MCREG_OK;
    p->limit_nodes[p->n_limits] = n ? NULL : mcreg__repl_node_new(p->reg, w->key, w->user_len, NULL, 0);
    if (!n && !p->limit_nodes[p->n_limits])
        return MCREG_ERR_NOMEM;
    p->limits[p->n_limits++] = w;
    return MCREG_OK;
}

static int make_plan(plan *p)
{
    mcreg__sort((void **)p->entries, p->n_entries, entry_cmp);
    int rc = sort_puts(p);
    if (rc == MCREG_OK)
        rc = plan_alloc(p);
    for (size_t i = 0; rc == MCREG_OK && i < p->n_entries;) {
        size_t j = i + 1;
        entry *e = p->entries[i];
        if (e->kind == KIND_UE_PUT) {
            i = j; /* plan_ues */
            continue;
        }
        if (e->kind == MCREG_REPL_LIMIT) {
            while (j < p->n_entries && p->entries[j]->kind == MCREG_REPL_LIMIT &&
                   !bytes_cmp(p->entries[j]->key, p->entries[j]->user_len, e->key, e->user_len))
                j++;
            rc = plan_limit(p, p->entries[j - 1]);
        } else {
            while (j < p->n_entries && same_pair(p->entries[j], e))
                j++;
            /* A snapshot lists a pair once: as a record or as a tombstone
             * (mcreg_restore's rule). */
            if (p->from_snapshot && j - i > 1) {
                mcreg__detail_set(&p->reg->detail, "snapshot",
                                  "tombstones: a pair the records hold");
                return MCREG_ERR_FORMAT;
            }
            rc = plan_pair(p, p->entries + i, j - i);
        }
        i = j;
    }
    if (rc == MCREG_OK && p->reg->opt.ue_exclusive)
        rc = plan_ues(p);
    return rc;
}

/* ---- what can fail ------------------------------------------------------- */

static void undo_arrivals(plan *p, size_t upto)
{
    mcreg_registry *reg = p->reg;
    for (size_t i = upto; i-- > 0;) {
        arrival *a = &p->arr[i];
        if (a->inserted)
            mcreg__index_ue_remove(reg, a->n);
        a->inserted = 0;
        if (a->new_user && a->user->n_records == 0 && !a->user->has_max &&
            !a->user->doomed) {
            mcreg__index_user_remove(reg, a->user);
            mcreg__user_free(&reg->alloc, a->user);
        }
        a->new_user = 0;
        a->n->user = NULL;
    }
}

/* The user of an arrival, created (empty) if new. */
static int arrival_user(plan *p, arrival *a)
{
    mcreg_index_key k;
    mcreg__index_key_init(&k, a->e->key, a->e->user_len);
    a->user = mcreg__index_user_find(p->reg, &k);
    if (!a->user) {
        a->user = mcreg__index_user_get(p->reg, &k);
        if (!a->user)
            return MCREG_ERR_NOMEM;
        a->new_user = 1;
    }
    a->n->user = a->user;
    return MCREG_OK;
}

/* Put an arrival into its UE's index where nothing leaves it for it: the
 * one step of an arrival that can fail. */
static int arrival_ue(plan *p, arrival *a)
{
    mcreg_registry *reg = p->reg;
    mcreg_index_key k;
    mcreg__index_key_init(&k, a->n->ue_id, mcreg__record_ue_len(a->n));
    struct mcreg_record *first = mcreg__index_ue_first(reg, &k);
    if (reg->opt.ue_exclusive && first) {
        if (first->removal != DEPARTING && first->removal != UE_DONE)
            return MCREG_ERR_FORMAT; /* two puts of one version at one UE */
        a->replaces = first;
        return MCREG_OK;
    }
    if (a->replaces)
        return MCREG_OK; /* UE exclusive off: inserted beside it at commit */
    int rc = mcreg__index_ue_insert(reg, first, a->n, &k);
    if (rc == MCREG_OK)
        a->inserted = 1;
    return rc;
}

/* A limit set for a user this node does not know yet: the user, made now
 * (empty; a user with neither records nor a limit is freed on undo). */
static int limit_user(plan *p, entry *w)
{
    if (!w->has_max)
        return MCREG_OK;
    mcreg_index_key k;
    mcreg__index_key_init(&k, w->key, w->user_len);
    return mcreg__index_user_get(p->reg, &k) ? MCREG_OK : MCREG_ERR_NOMEM;
}

static void drop_if_empty(mcreg_registry *reg, const char *id, size_t len)
{
    mcreg_index_key k;
    mcreg__index_key_init(&k, id, len);
    mcreg_user *u = mcreg__index_user_find(reg, &k);
    if (u && !u->n_records && !u->has_max && !u->doomed) {
        mcreg__index_user_remove(reg, u);
        mcreg__user_free(&reg->alloc, u);
    }
}

static void undo_limit_users(plan *p, size_t upto)
{
    for (size_t i = 0; i < upto; i++)
        drop_if_empty(p->reg, p->limits[i]->key, p->limits[i]->user_len);
}

static int reserve_items(plan *p)
{
    mcreg_registry *reg = p->reg;
    /* Arrivals come in (user, ue) order: a user's are one run. A user
     * ends with at most its records plus its run's arrivals, and each of
     * them gets at most one NOTIFY_LOGON of the call (plan_notifications):
     * linear in what the call touches, whatever the input. */
    size_t n = p->n_dep + p->n_arr, largest = 0;
    int notifies = reg->opt.notify_logon != MCREG_NOTIFY_NONE;
    for (size_t i = 0, j; i < p->n_arr; i = j) {
        size_t notifying = 0;
        for (j = i; j < p->n_arr && p->arr[j].user == p->arr[i].user; j++)
            notifying += p->arr[j].notify;
        size_t after = p->arr[i].user->n_records + (j - i);
        if (after > largest)
            largest = after;
        if (notifies && notifying)
            n += after;
    }
    if (n) {
        p->items = mcreg__alloc_temp_malloc(&p->fns, n * sizeof(*p->items));
        if (!p->items)
            return MCREG_ERR_NOMEM;
        p->cap_items = n;
    }
    if (largest) {
        void *scratch = mcreg__alloc_grow(&reg->alloc, reg->st.scratch, &reg->st.scratch_cap,
                                          largest, sizeof(void *));
        if (!scratch)
            return MCREG_ERR_NOMEM;
        reg->st.scratch = scratch;
    }
    return MCREG_OK;
}

static int prepare(plan *p)
{
    mcreg_registry *reg = p->reg;
    mcreg_alloc *a = &reg->alloc;
    size_t new_tombs = 0;
    for (size_t i = 0; i < p->n_tombs; i++)
        new_tombs += p->tombs[i].is_new;
    size_t new_ues = 0, new_limits = 0;
    for (size_t i = 0; i < p->n_ue; i++)
        new_ues += p->ue_nodes[i] != NULL;
    for (size_t i = 0; i < p->n_dep; i++)
        new_ues += p->dep[i].ue_node != NULL;
    for (size_t i = 0; i < p->n_limits; i++)
        new_limits += p->limit_nodes[i] != NULL;
    if (mcreg__rtable_reserve(a, &reg->st.tombs, new_tombs) != MCREG_OK ||
        mcreg__rtable_reserve(a, &reg->st.ue_puts, new_ues) != MCREG_OK ||
        mcreg__rtable_reserve(a, &reg->st.limits, new_limits) != MCREG_OK ||
        mcreg__heap_reserve(a, &reg->st.heap, reg->st.n_records + p->n_arr) != MCREG_OK)
        return MCREG_ERR_NOMEM;
    if (reg->st.n_records + p->n_arr >= UINT32_MAX - 1)
        return MCREG_ERR_NOMEM;
    size_t i = 0;
    int rc = MCREG_OK;
    for (; rc == MCREG_OK && i < p->n_arr; i++) {
        rc = arrival_user(p, &p->arr[i]);
        if (rc == MCREG_OK)
            rc = arrival_ue(p, &p->arr[i]);
    } /* on failure, i is past the failed one: it is undone too */
    size_t j = 0;
    for (; rc == MCREG_OK && j < p->n_limits; j++)
        rc = limit_user(p, p->limits[j]);
    if (rc == MCREG_OK)
        rc = reserve_items(p);
    if (rc != MCREG_OK) {
        undo_arrivals(p, i); /* its users first: a limit's may be one of them */
        undo_limit_users(p, j);
    }
    return rc;
}

/* The registry's blocks the plan still holds and did not give it: put
 * records that did not arrive, nodes not inserted (with `failed`, every
 * new tombstone too, and the marks on the records in the plan). Before any
 * event: a callback may free the registry. */
static void plan_release(plan *p, int failed)
{
    mcreg_alloc *a = &p->reg->alloc;
    if (failed) {
        for (size_t i = 0; p->dep && i < p->n_dep; i++)
            p->dep[i].r->removal = 0;
        for (size_t i = 0; p->tombs && i < p->n_tombs; i++)
            if (p->tombs[i].is_new)
                mcreg__rtable_node_free(a, p->tombs[i].node);
    }
    for (size_t i = 0; i < p->n_entries; i++) {
        mcreg__record_free(a, p->entries[i]->rec);
        p->entries[i]->rec = NULL;
    }
    for (size_t i = 0; p->ue_nodes && i < p->n_ue; i++)
        mcreg__rtable_node_free(a, p->ue_nodes[i]);
    for (size_t i = 0; p->dep && i < p->n_dep; i++)
        if (p->dep[i].ue_node && !p->dep[i].ue_node->in_table)
            mcreg__rtable_node_free(a, p->dep[i].ue_node);
    for (size_t i = 0; p->limit_nodes && i < p->n_limits; i++)
        mcreg__rtable_node_free(a, p->limit_nodes[i]);
    p->n_ue = p->n_limits = 0;
}

/* ---- commit ---------------------------------------------------------------- */

static void add_item(plan *p, mcreg_event_type type, struct mcreg_record *r,
                     const struct mcreg_record *recipient, uint64_t origin)
{
    if (p->n_items < p->cap_items)
        p->items[p->n_items++] = (mcreg_events_item){type, r, recipient, origin};
}

/* An arrival takes its place at its UE: in the place of the record it
 * replaces there (which leaves with its departure), or beside it (UE
 * exclusive off: the same pair's old block), or where prepare put it. */
static void place_arrival(plan *p, arrival *a)
{
    mcreg_registry *reg = p->reg;
    struct mcreg_record *n = a->n;
    mcreg_record_versions *nv = mcreg__record_versions(n);
    nv->write = a->e->v;
    nv->logon = a->e->logon;
    nv->newest = a->newest;
    if (a->replaces && reg->opt.ue_exclusive) {
        mcreg__index_ue_substitute(reg, a->replaces, n);
        a->replaces->removal = UE_DONE; /* out of the UE index already */
    } else if (a->replaces) {
        /* UE exclusive off: the same pair's old block. Alone at its UE, its
         * place in the table goes to n; else it leaves the UE's list, and n
         * joins the list, which is not empty: neither can fail. (Both at
         * once in one list would compare equal.) */
        struct mcreg_record *old = a->replaces;
        mcreg_index_key k;
        mcreg__index_key_init(&k, n->ue_id, mcreg__record_ue_len(n));
        struct mcreg_record *first = mcreg__index_ue_first(reg, &k);
        if (first == old && !mcreg__record_next_at_ue(old)) {
            mcreg__index_ue_substitute(reg, old, n);
        } else {
            mcreg__index_ue_remove(reg, old);
            (void)mcreg__index_ue_insert(reg, mcreg__index_ue_first(reg, &k), n, &k);
        }
        old->removal = UE_DONE;
    }
    a->e->rec = NULL; /* the registry owns it now */
    if (a->old_tomb) {
        mcreg__rtable_remove(&reg->st.tombs, a->old_tomb);
        mcreg__rtable_node_free(&reg->alloc, a->old_tomb);
    }
}

/* Then, once the records leaving are out of the lists (the same pair's
 * old block compares equal to the new one), into its user's list. */
static void link_arrival(plan *p, arrival *a)
{
    mcreg_registry *reg = p->reg;
    mcreg__index_user_link(reg, a->user, a->n);
    mcreg__heap_push(&reg->st.heap, a->n);
    reg->st.n_records++;
}

static void retire(plan *p, mcreg_events_op *op, departure *d)
{
    mcreg_registry *reg = p->reg;
    struct mcreg_record *r = d->r;
    if (r->removal != UE_DONE)
        mcreg__index_ue_remove(reg, r);
    mcreg__index_user_unlink(reg, r);
    mcreg__heap_remove(&reg->st.heap, r);
    reg->st.n_records--;
    mcreg__events_removed(op, r, (mcreg_event_type)d->why);
    if (d->why != MCREG_EVENTS_NO_EVENT)
        add_item(p, (mcreg_event_type)d->why, r, NULL, d->origin);
}

static void commit_tombs(plan *p)
{
    mcreg_registry *reg = p->reg;
    for (size_t i = 0; i < p->n_tombs; i++) {
        tomb_op *t = &p->tombs[i];
        t->node->v = t->v;
        t->node->logon = t->logon;
        t->node->newest = t->newest;
        if (t->is_new) {
            t->node->in_table = 1;
            mcreg__rtable_insert(&reg->st.tombs, t->node);
        }
        mcreg__repl_note_horizon(reg, t->v);
    }
    for (size_t i = 0; i < p->n_newest; i++)
        mcreg__record_versions(p->newest_of[i])->newest = p->newest_v[i];
}

static void commit_ues(plan *p)
{
    mcreg_registry *reg = p->reg;
    for (size_t i = 0; i < p->n_ue; i++) {
        entry *e = p->ue_new[i];
        mcreg_index_key k;
        mcreg__index_key_init(&k, entry_ue(e), e->ue_len);
        if (mcreg__index_ue_first(reg, &k))
            continue; /* held: its record is the UE's highest put */
        mcreg_repl_node *n = mcreg__repl_ue_find(reg, entry_ue(e), e->ue_len);
        if (!n) {
            n = p->ue_nodes[i];
            n->in_table = 1;
            mcreg__rtable_insert(&reg->st.ue_puts, n);
            p->ue_nodes[i] = NULL;
            n->v = e->v;
        } else if (version_gt(e->v, n->v)) {
            n->v = e->v;
        }
        mcreg__repl_note_horizon(reg, n->v);
    }
}

static void commit_limits(plan *p)
{
    mcreg_registry *reg = p->reg;
    for (size_t i = 0; i < p->n_limits; i++) {
        entry *w = p->limits[i];
        mcreg_repl_node *n = p->limit_nodes[i];
        if (n) {
            n->in_table = 1;
            mcreg__rtable_insert(&reg->st.limits, n);
            p->limit_nodes[i] = NULL;
        } else {
            n = mcreg__repl_limit_find(reg, w->key, w->user_len);
        }
        n->v = w->v;
        n->has_max = w->has_max;
        n->max_ues = w->has_max ? w->max_ues : 0;
        mcreg_index_key k;
        mcreg__index_key_init(&k, w->key, w->user_len);
        mcreg_user *u = mcreg__index_user_find(reg, &k); /* made by prepare if set */
        if (!u)
            continue;
        reg->st.n_limits = reg->st.n_limits - u->has_max + w->has_max;
        u->has_max = w->has_max;
        u->max_ues = w->max_ues;
        /* A user whose last record left is freed after the events
         * (events.c); one with nothing to do with them goes now. */
        int leaving = 0;
        for (size_t j = 0; j < p->n_dep && !leaving; j++)
            leaving = p->dep[j].r->user == u;
        if (!leaving)
            drop_if_empty(reg, w->key, w->user_len);
    }
}

/* The two lowest logons of a user's notifying arrivals, or the two
 * highest of its present records whose logon this node made: each with
 * its record, so that "the best other than r" is O(1). */
typedef struct two_best {
    struct mcreg_record *rec[2];
    mcreg_change_version v[2];
    uint64_t origin[2];
} two_best;

static void best_add(two_best *b, int lowest, struct mcreg_record *r,
                     mcreg_change_version v, uint64_t origin)
{
    for (int i = 0; i < 2; i++) {
        int better = !b->rec[i] || (lowest ? version_gt(b->v[i], v) : version_gt(v, b->v[i]));
        if (!better)
            continue;
        if (i == 0) {
            b->rec[1] = b->rec[0];
            b->v[1] = b->v[0];
            b->origin[1] = b->origin[0];
        }
        b->rec[i] = r;
        b->v[i] = v;
        b->origin[i] = origin;
        return;
    }
}

/* The best of b other than r (NULL: none). */
static int best_other(const two_best *b, const struct mcreg_record *r)
{
    return b->rec[0] && b->rec[0] != r ? 0 : b->rec[1] && b->rec[1] != r ? 1 : -1;
}

#define NOTIFYING 0xfcu /* r->removal of an arrival that notifies, meanwhile */

/* The cross-node rule (REPLICATION.md), merged over the call for the
 * user of the arrivals [first, end): each notifying arrival made present a
 * logon X newer than any this node held for its pair; each present record
 * Y of the user whose logon this node made, later than some such X, hears
 * its logon round again (to Y; other_ue_ids name every X), and under ALL
 * each such X hears of the latest such Y. One NOTIFY_LOGON per recipient
 * per call, whatever the number of arrivals: the Ys in the user's order,
 * then the Xs in that order (events.c delivers a run in list order in
 * O(1) each). */
static void plan_notifications(plan *p, size_t first, size_t end)
{
    mcreg_registry *reg = p->reg;
    int policy = reg->opt.notify_logon;
    if (policy == MCREG_NOTIFY_NONE)
        return;
    two_best low, high;
    memset(&low, 0, sizeof(low));
    memset(&high, 0, sizeof(high));
    for (size_t i = first; i < end; i++)
        if (p->arr[i].notify) {
            best_add(&low, 1, p->arr[i].n, p->arr[i].e->logon, p->arr[i].e->v.node_id);
            p->arr[i].n->removal = NOTIFYING;
        }
    if (!low.rec[0])
        return;
    mcreg_user *u = p->arr[first].user;
    for (struct mcreg_record *y = u->first; y; y = y->user_next) {
        const mcreg_record_versions *yv = mcreg__record_versions(y);
        if (yv->logon.node_id == reg->opt.node_id)
            best_add(&high, 0, y, yv->logon, 0);
    }
    for (int pass = 0; pass < 2; pass++)
        for (struct mcreg_record *r = u->first; r; r = r->user_next) {
            const mcreg_record_versions *rv = mcreg__record_versions(r);
            int x = best_other(&low, r);
            int told = rv->logon.node_id == reg->opt.node_id && x >= 0 &&
                       version_gt(rv->logon, low.v[x]);
            if (pass == 0 && told)
                add_item(p, MCREG_EV_NOTIFY_LOGON, r, r, low.origin[x]);
            if (pass == 0 || told || policy != MCREG_NOTIFY_ALL || r->removal != NOTIFYING)
                continue;
            int y = best_other(&high, r);
            if (y >= 0 && version_gt(high.v[y], rv->logon))
                add_item(p, MCREG_EV_NOTIFY_LOGON, high.rec[y], r,
                         rv->write.node_id);
        }
    for (size_t i = first; i < end; i++)
        p->arr[i].n->removal = 0;
}

static int commit(plan *p)
{
    mcreg_registry *reg = p->reg;
    mcreg_events_op op;
    mcreg__events_init(&op, reg, p->now);
    for (size_t i = 0; i < p->n_arr; i++)
        place_arrival(p, &p->arr[i]);
    for (size_t i = 0; i < p->n_dep; i++)
        retire(p, &op, &p->dep[i]);
    for (size_t i = 0; i < p->n_arr; i++)
        link_arrival(p, &p->arr[i]);
    commit_limits(p);
    commit_tombs(p);
    commit_ues(p);
    for (size_t i = 0; i < p->n_dep; i++)
        mcreg__repl_ue_keep(reg, p->dep[i].r, p->dep[i].ue_node);
    if (reg->opt.ue_exclusive)
        for (size_t i = 0; i < p->n_arr; i++)
            mcreg__repl_ue_drop(reg, p->arr[i].n);
    for (size_t i = 0; i < p->n_arr; i++)
        add_item(p, (mcreg_event_type)p->arr[i].type, p->arr[i].n, NULL, p->arr[i].e->v.node_id);
    for (size_t i = 0, j; i < p->n_arr; i = j) {
        for (j = i; j < p->n_arr && p->arr[j].user == p->arr[i].user; j++)
            ;
        plan_notifications(p, i, j);
    }
    if (p->clock > reg->clock)
        reg->clock = p->clock;
    plan_release(p, 0);
    static const mcreg_events_item none;
    op.items = p->n_items ? p->items : &none; /* this op's events are the items */
    op.n_items = p->n_items;
    return mcreg__events_finish(&op);
}

/* ---- the call -------------------------------------------------------------- */

/* The plan's own blocks, through the allocator's copy. */
static void plan_free(plan *p)
{
    const mcreg_allocator *a = &p->fns;
    for (size_t i = 0; i < p->n_entries; i++)
        mcreg__alloc_temp_free(a, p->entries[i]);
    void *arrays[] = {p->entries, p->puts, p->dep, p->arr, p->tombs, p->ue_nodes, p->ue_new,
                      p->limits, p->limit_nodes, p->newest_of, p->newest_v, p->items};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        mcreg__alloc_temp_free(a, arrays[i]);
}

/* The detail of a failed apply: the decoder's account when it gave one. */
static int explain(mcreg_registry *reg, int rc)
{
    if (rc == MCREG_ERR_NOMEM)
        mcreg__detail_set(&reg->detail, NULL, "out of memory: the allocator returned NULL");
    else if (!reg->detail.text[0])
        mcreg__detail_set(&reg->detail, NULL,
                          rc == MCREG_ERR_VERSION ? "change buffer: unknown major format version"
                                                  : "change buffer: malformed or checksum wrong");
    return rc;
}

int mcreg_changes_apply(mcreg_registry *reg, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    if (!reg)
        return MCREG_ERR_MISUSE;
    if (mcreg__events_busy(reg))
        return MCREG_ERR_BUSY;
    mcreg__detail_clear(&reg->detail);
    if (!buf) {
        mcreg__detail_set(&reg->detail, "buf", "NULL");
        return MCREG_ERR_MISUSE;
    }
    if (!mcreg__repl_on(reg)) {
        mcreg__detail_set(&reg->detail, NULL, "the registry has no node id");
        return MCREG_ERR_INVALID;
    }
    if (len == 0) { /* a truncation too */
        mcreg__detail_set(&reg->detail, NULL, "change buffer: empty");
        return MCREG_ERR_FORMAT;
    }
    plan p;
    memset(&p, 0, sizeof(p));
    p.reg = reg;
    p.fns = reg->alloc.fns;
    p.now = now_ms;
    int rc = decode_all(&p, buf, len);
    if (rc == MCREG_OK)
        rc = within_skew(&p);
    if (rc == MCREG_OK)
        rc = make_plan(&p);
    if (rc == MCREG_OK)
        rc = prepare(&p);
    if (rc != MCREG_OK) {
        plan_release(&p, 1);
        plan_free(&p);
        return explain(reg, rc);
    }
    /* The events read the plan's items: it is freed after them, with the
     * allocator's copy (a callback may free the registry). */
    commit(&p);
    plan_free(&p);
    return MCREG_OK;
}
