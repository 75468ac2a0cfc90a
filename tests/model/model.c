/* The reference model of the registry's rules: see model.h.
 *
 * Records live in slots; each user and each UE keeps the list of its
 * slots, unordered, sorted when an order is asked for (the lists are short:
 * a user's UEs, a UE's users). Expiry uses a lazy min-heap of (expires_at,
 * slot, generation): a refresh or a removal leaves the old entry behind,
 * and entries that no longer match their slot are dropped when they reach
 * the top. Events of removals are queued and delivered after the call's
 * whole change, as the library does. The model's own memory is not under
 * test: running out of it aborts. */
#include "model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    model_record r;
    uint32_t gen; /* matches the heap entry of the record's expiry */
    uint8_t used;
} slot;

typedef struct idlist {
    uint32_t *v;
    uint32_t n, cap;
} idlist;

/* The replicated part of a pair (user, UE): its winning entry and the
 * newest logon among its entries (see model.h). */
typedef struct mpair {
    uint32_t ue;
    uint8_t has_win, has_logon;
    model_entry win;
    model_version logon;
} mpair;

typedef struct muser {
    idlist recs; /* slots */
    uint8_t has_limit;
    uint32_t limit;
    uint8_t has_lim_v; /* a limit entry was received: its version */
    model_version lim_v;
    mpair *pairs;
    uint32_t n_pairs, cap_pairs;
} muser;

typedef struct mue {
    idlist recs; /* slots */
    uint8_t has_high; /* the UE's highest put */
    model_version high;
} mue;

typedef struct heap_ent {
    uint64_t exp;
    uint32_t slot, gen;
} heap_ent;

typedef struct removal {
    model_record r;
    mcreg_event_type why;
} removal;

struct model {
    model_options opt;
    model_values val;
    slot *slots;
    size_t n_slots, cap_slots;
    uint32_t *free_slots;
    size_t n_free, cap_free;
    muser *users;
    size_t n_users, cap_users;
    mue *ues;
    size_t n_ues, cap_ues;
    size_t n_records, n_active_users, n_limits;
    heap_ent *heap;
    size_t heap_n, heap_cap;
    uint32_t gen;
    model_event *ev;
    size_t ev_n, ev_cap;
    uint32_t *others;
    size_t others_n, others_cap;
    removal *rm;
    size_t rm_n, rm_cap;
    /* replication */
    uint64_t clock;
    model_version cur_v; /* the version of the local call's change */
    model_entry *cur;    /* the local call's change, being built */
    size_t cur_n, cur_cap;
    model_change *pend; /* changes not yet drained */
    size_t pend_n, pend_cap;
};

/* ---- memory ---------------------------------------------------------------- */

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(p, n * elem);
    if (!q)
        abort(); /* the model's own memory: nothing to compare against without it */
    memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return q;
}

#define GROW(p, cap, need) ((p) = grow((p), &(cap), (need), sizeof(*(p))))

static void list_add(idlist *l, uint32_t x)
{
    size_t cap = l->cap;
    GROW(l->v, cap, (size_t)l->n + 1);
    l->cap = (uint32_t)cap;
    l->v[l->n++] = x;
}

static void list_del(idlist *l, uint32_t x)
{
    for (uint32_t i = 0; i < l->n; i++) {
        if (l->v[i] == x) {
            l->v[i] = l->v[--l->n];
            return;
        }
    }
    abort(); /* the model is inconsistent with itself */
}

/* Entry i of one of the model's tables, which grows to hold it. */
#define TABLE_AT(tbl, n, cap, i)                                                              \
    ((i) >= (n) ? ((tbl) = grow((tbl), &(cap), (size_t)(i) + 1, sizeof(*(tbl))), (n) = (i) + 1) \
                : 0,                                                                          \
     &(tbl)[i])

static muser *user_at(model *m, uint32_t u)
{
    return TABLE_AT(m->users, m->n_users, m->cap_users, u);
}

static mue *ue_at(model *m, uint32_t x)
{
    return TABLE_AT(m->ues, m->n_ues, m->cap_ues, x);
}

/* ---- lifetime -------------------------------------------------------------- */

model *model_new(const model_options *o, const model_values *v)
{
    model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    if (o)
        m->opt = *o;
    m->val = *v;
    return m;
}

void model_free(model *m)
{
    if (!m)
        return;
    for (size_t u = 0; u < m->n_users; u++) {
        free(m->users[u].recs.v);
        free(m->users[u].pairs);
    }
    free(m->cur);
    for (size_t i = 0; i < m->pend_n; i++)
        free(m->pend[i].e);
    free(m->pend);
    for (size_t x = 0; x < m->n_ues; x++)
        free(m->ues[x].recs.v);
    free(m->users);
    free(m->ues);
    free(m->slots);
    free(m->free_slots);
    free(m->heap);
    free(m->ev);
    free(m->others);
    free(m->rm);
    free(m);
}

const model_options *model_get_options(const model *m)
{
    return &m->opt;
}

const model_values *model_get_values(const model *m)
{
    return &m->val;
}

void model_options_apply(const model_options *o, mcreg_options *to)
{
    mcreg_options_set_max_ues(to, o->max_ues);
    mcreg_options_set_limit_policy(to, o->policy);
    mcreg_options_set_notify_logon(to, o->notify);
    mcreg_options_set_notify_logoff(to, o->notify_logoff);
    mcreg_options_set_ue_exclusive(to, !o->shared_ues);
    if (o->node_id)
        mcreg_options_set_node_id(to, o->node_id);
    if (o->max_expires)
        mcreg_options_set_max_expires(to, o->max_expires);
}

/* ---- names and orders ------------------------------------------------------- */

static const char *user_name(const model *m, uint32_t u)
{
    return m->val.user_id(m->val.ud, u);
}

static const char *ue_name(const model *m, uint32_t x)
{
    return m->val.ue_id(m->val.ud, x);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* (registered_at, ue_id): a user's UEs. */
static int cmp_logon(const model *m, const model_record *a, const model_record *b)
{
    int c = cmp_u64(a->registered_at, b->registered_at);
    return c ? c : strcmp(ue_name(m, a->ue), ue_name(m, b->ue));
}

/* (registered_at, ue_id, user_id): mcreg_foreach. */
static int cmp_all(const model *m, const model_record *a, const model_record *b)
{
    int c = cmp_logon(m, a, b);
    return c ? c : strcmp(user_name(m, a->user), user_name(m, b->user));
}

/* (expires_at, registered_at, ue_id): MCREG_LIMIT_EVICT_SOONEST. */
static int cmp_soonest(const model *m, const model_record *a, const model_record *b)
{
    int c = cmp_u64(a->expires_at, b->expires_at);
    return c ? c : cmp_logon(m, a, b);
}

/* (expires_at, registered_at, ue_id, user_id): mcreg_expire. */
static int cmp_expire(const model *m, const model_record *a, const model_record *b)
{
    int c = cmp_soonest(m, a, b);
    return c ? c : strcmp(user_name(m, a->user), user_name(m, b->user));
}

/* (registered_at, user_id): mcreg_find_ue among a UE's records. */
static int cmp_find_ue(const model *m, const model_record *a, const model_record *b)
{
    int c = cmp_u64(a->registered_at, b->registered_at);
    return c ? c : strcmp(user_name(m, a->user), user_name(m, b->user));
}

typedef int (*cmp_fn)(const model *m, const model_record *a, const model_record *b);

/* Insertion sort: a user's or a UE's records are a handful. */
static void sort_recs(const model *m, const model_record **v, size_t n, cmp_fn cmp)
{
    for (size_t i = 1; i < n; i++) {
        const model_record *x = v[i];
        size_t j = i;
        while (j > 0 && cmp(m, v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* qsort has no context argument: the model being sorted for, one at a
 * time (the tests are single-threaded). */
static const model *qsort_model;
static cmp_fn qsort_cmp;

static int qsort_thunk(const void *a, const void *b)
{
    return qsort_cmp(qsort_model, *(const model_record *const *)a,
                     *(const model_record *const *)b);
}

/* All records (model_records) or a drain's expiries: thousands. */
static void sort_many(const model *m, const model_record **v, size_t n, cmp_fn cmp)
{
    if (n < 16) {
        sort_recs(m, v, n, cmp);
        return;
    }
    qsort_model = m;
    qsort_cmp = cmp;
    qsort(v, n, sizeof(*v), qsort_thunk);
}

/* ---- queries ------------------------------------------------------------------ */

static const model_record *slot_rec(const model *m, uint32_t s)
{
    return &m->slots[s].r;
}

static int64_t find_slot(const model *m, uint32_t u, uint32_t x)
{
    if (u >= m->n_users)
        return -1;
    const idlist *l = &m->users[u].recs;
    for (uint32_t i = 0; i < l->n; i++)
        if (m->slots[l->v[i]].r.ue == x)
            return l->v[i];
    return -1;
}

const model_record *model_find(const model *m, uint32_t u, uint32_t x)
{
    int64_t s = find_slot(m, u, x);
    return s < 0 ? NULL : slot_rec(m, (uint32_t)s);
}

const model_record *model_find_ue(const model *m, uint32_t x)
{
    if (x >= m->n_ues)
        return NULL;
    const idlist *l = &m->ues[x].recs;
    const model_record *best = NULL;
    for (uint32_t i = 0; i < l->n; i++) {
        const model_record *r = slot_rec(m, l->v[i]);
        if (!best || cmp_find_ue(m, r, best) < 0)
            best = r;
    }
    return best;
}

size_t model_ue_record_count(const model *m, uint32_t x)
{
    return x < m->n_ues ? m->ues[x].recs.n : 0;
}

size_t model_user_ue_count(const model *m, uint32_t u)
{
    return u < m->n_users ? m->users[u].recs.n : 0;
}

size_t model_user_records(const model *m, uint32_t u, const model_record **out, size_t cap)
{
    size_t n = model_user_ue_count(m, u);
    if (n == 0)
        return 0;
    const model_record **v = malloc(n * sizeof(*v));
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++)
        v[i] = slot_rec(m, m->users[u].recs.v[i]);
    sort_recs(m, v, n, cmp_logon);
    memcpy(out, v, (n < cap ? n : cap) * sizeof(*v));
    free(v);
    return n;
}

int model_user_max_ues(const model *m, uint32_t u, uint32_t *max)
{
    if (u >= m->n_users || !m->users[u].has_limit)
        return MCREG_ERR_NOT_FOUND;
    *max = m->users[u].limit;
    return MCREG_OK;
}

int model_next_expiry(const model *m, uint64_t *at)
{
    /* every operation leaves a live entry at the top (heap_settle) */
    if (m->heap_n == 0)
        return MCREG_ERR_NOT_FOUND;
    *at = m->heap[0].exp;
    return MCREG_OK;
}

size_t model_record_count(const model *m)
{
    return m->n_records;
}

size_t model_user_count(const model *m)
{
    return m->n_active_users;
}

size_t model_limit_count(const model *m)
{
    return m->n_limits;
}

size_t model_records(const model *m, const model_record ***out)
{
    *out = NULL;
    if (m->n_records == 0)
        return 0;
    const model_record **v = malloc(m->n_records * sizeof(*v));
    if (!v)
        return (size_t)-1;
    size_t n = 0;
    for (size_t s = 0; s < m->n_slots; s++)
        if (m->slots[s].used)
            v[n++] = &m->slots[s].r;
    sort_many(m, v, n, cmp_all);
    *out = v;
    return n;
}

uint32_t model_user_span(const model *m)
{
    return (uint32_t)m->n_users;
}

uint32_t model_ue_span(const model *m)
{
    return (uint32_t)m->n_ues;
}

/* ---- expiry heap ------------------------------------------------------------- */

static void heap_push(model *m, uint32_t s)
{
    slot *sl = &m->slots[s];
    sl->gen = ++m->gen;
    GROW(m->heap, m->heap_cap, m->heap_n + 1);
    size_t i = m->heap_n++;
    heap_ent e = {sl->r.expires_at, s, sl->gen};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (m->heap[p].exp <= e.exp)
            break;
        m->heap[i] = m->heap[p];
        i = p;
    }
    m->heap[i] = e;
}

static void heap_pop(model *m)
{
    heap_ent last = m->heap[--m->heap_n];
    size_t i = 0, n = m->heap_n;
    if (n == 0)
        return;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && m->heap[c + 1].exp < m->heap[c].exp)
            c++;
        if (m->heap[c].exp >= last.exp)
            break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    m->heap[i] = last;
}

static int heap_live(const model *m, const heap_ent *e)
{
    const slot *s = &m->slots[e->slot];
    return s->used && s->gen == e->gen;
}

/* Drop stale entries from the top. */
static void heap_settle(model *m)
{
    while (m->heap_n && !heap_live(m, &m->heap[0]))
        heap_pop(m);
}

/* ---- events ------------------------------------------------------------------ */

static void ev_reset(model *m)
{
    m->ev_n = 0;
    m->others_n = 0;
}

static model_event *ev_push(model *m, mcreg_event_type t, const model_record *r)
{
    GROW(m->ev, m->ev_cap, m->ev_n + 1);
    model_event *e = &m->ev[m->ev_n++];
    memset(e, 0, sizeof(*e));
    e->type = t;
    e->rec = *r;
    e->origin = m->opt.node_id;
    return e;
}

/* A NOTIFY_* about r to `recipient`; the user's records are `ues` (n, in
 * registered_at order, the recipient among them). */
static void ev_notify(model *m, mcreg_event_type t, const model_record *r, uint32_t recipient,
                      const model_record *const *ues, size_t n)
{
    model_event *e = ev_push(m, t, r);
    e->recipient = recipient;
    e->other_at = m->others_n;
    for (size_t k = 0; k < n; k++) {
        if (ues[k]->ue == recipient)
            continue;
        GROW(m->others, m->others_cap, m->others_n + 1);
        m->others[m->others_n++] = ues[k]->ue;
        e->n_other++;
    }
}

void model_clear_events(model *m)
{
    ev_reset(m);
}

size_t model_event_count(const model *m)
{
    return m->ev_n;
}

const model_event *model_event_at(const model *m, size_t i)
{
    return i < m->ev_n ? &m->ev[i] : NULL;
}

uint32_t model_event_other(const model *m, const model_event *e, size_t k)
{
    return m->others[e->other_at + k];
}

int model_event_format(const model *m, const model_event *e, char *buf, size_t cap)
{
    const char *t = mcreg_event_name(e->type);
    const char *u = user_name(m, e->rec.user), *x = ue_name(m, e->rec.ue);
    if (e->type != MCREG_EV_NOTIFY_LOGON && e->type != MCREG_EV_NOTIFY_LOGOFF)
        return snprintf(buf, cap, "%s(%s,%s)", t, u, x);
    int n = snprintf(buf, cap, "%s(%s,%s>%s:[", t, u, x, ue_name(m, e->recipient));
    for (size_t k = 0; k < e->n_other && n >= 0; k++) {
        size_t at = (size_t)n < cap ? (size_t)n : cap;
        n += snprintf(buf + at, cap - at, "%s%s", k ? "," : "",
                      ue_name(m, model_event_other(m, e, k)));
    }
    size_t at = (size_t)n < cap ? (size_t)n : cap;
    return n + snprintf(buf + at, cap - at, "])");
}

/* ---- replication: versions, entries, the replicated state --------------------- */

int model_version_cmp(model_version a, model_version b)
{
    int c = cmp_u64(a.stamp, b.stamp);
    return c ? c : cmp_u64(a.node, b.node);
}

static int repl_on(const model *m)
{
    return m->opt.node_id != 0;
}

/* now >= stamp_ms + 1000 * max_expires: the entry is forgotten (never
 * without a max_expires, which a registry with a node id cannot have). */
static int past_horizon(const model *m, model_version v, uint64_t now)
{
    if (!m->opt.max_expires)
        return 0;
    uint64_t ms = v.stamp >> 16, d = (uint64_t)m->opt.max_expires * 1000u;
    return now >= (ms > UINT64_MAX - d ? UINT64_MAX : ms + d);
}

/* The hybrid logical clock: at least now_ms << 16 (a call without now_ms:
 * last + 1), above every stamp made or applied. */
static model_version next_version(model *m, uint64_t now, int has_now)
{
    uint64_t st = m->clock + 1;
    if (has_now) {
        uint64_t t = now > (UINT64_MAX >> 16) ? UINT64_MAX : now << 16;
        if (t > st)
            st = t;
    }
    m->clock = st;
    return (model_version){st, m->opt.node_id};
}

uint64_t model_clock(const model *m)
{
    return m->clock;
}

static mpair *pair_find(const model *m, uint32_t u, uint32_t x)
{
    if (u >= m->n_users)
        return NULL;
    const muser *us = &m->users[u];
    for (uint32_t i = 0; i < us->n_pairs; i++)
        if (us->pairs[i].ue == x)
            return &us->pairs[i];
    return NULL;
}

/* The pair's state, created empty; valid until the next pair_get. */
static mpair *pair_get(model *m, uint32_t u, uint32_t x)
{
    mpair *p = pair_find(m, u, x);
    if (p)
        return p;
    muser *us = user_at(m, u);
    ue_at(m, x);
    size_t cap = us->cap_pairs;
    GROW(us->pairs, cap, (size_t)us->n_pairs + 1);
    us->cap_pairs = (uint32_t)cap;
    p = &us->pairs[us->n_pairs++];
    memset(p, 0, sizeof(*p));
    p->ue = x;
    return p;
}

static int entry_is_removal(const model_entry *e)
{
    return e->kind == MODEL_REMOVAL || e->kind == MODEL_TOMBSTONE;
}

/* a wins over b at one pair: the higher version; at an equal version a
 * removal beats a put. */
static int entry_beats(const model_entry *a, const model_entry *b)
{
    int c = model_version_cmp(a->version, b->version);
    if (c)
        return c > 0;
    return entry_is_removal(a) && !entry_is_removal(b);
}

static void ue_raise(model *m, uint32_t x, model_version v)
{
    mue *ue = ue_at(m, x);
    if (!ue->has_high || model_version_cmp(v, ue->high) > 0) {
        ue->high = v;
        ue->has_high = 1;
    }
}

static void limit_merge(model *m, const model_entry *e)
{
    muser *us = user_at(m, e->user);
    if (us->has_lim_v && model_version_cmp(e->version, us->lim_v) <= 0)
        return;
    us->has_lim_v = 1;
    us->lim_v = e->version;
    if (e->has_limit && !us->has_limit)
        m->n_limits++;
    if (!e->has_limit && us->has_limit)
        m->n_limits--;
    us->has_limit = e->has_limit != 0;
    us->limit = e->has_limit ? e->limit : 0;
}

/* One entry into the replicated state: no record moves, no event. */
static void merge_entry(model *m, const model_entry *e)
{
    if (e->kind == MODEL_LIMIT) {
        limit_merge(m, e);
        return;
    }
    if (e->kind == MODEL_UE_HIGH) {
        ue_raise(m, e->ue, e->version);
        return;
    }
    mpair *p = pair_get(m, e->user, e->ue);
    if (!p->has_win || entry_beats(e, &p->win)) {
        p->win = *e;
        p->has_win = 1;
    }
    if (!p->has_logon || model_version_cmp(e->logon, p->logon) > 0) {
        p->logon = e->logon;
        p->has_logon = 1;
    }
    if (e->kind == MODEL_PUT)
        ue_raise(m, e->ue, e->version);
}

/* Forget what reached its horizon (mcreg_expire). */
static void forget(model *m, uint64_t now)
{
    for (size_t u = 0; u < m->n_users; u++) {
        muser *us = &m->users[u];
        for (uint32_t i = 0; i < us->n_pairs;) {
            mpair *p = &us->pairs[i];
            /* the newest logon lives as long as the pair's winner, the
             * entry with the latest horizon of all the pair's entries */
            if (p->has_win && past_horizon(m, p->win.version, now))
                p->has_win = p->has_logon = 0;
            if (!p->has_win && !p->has_logon)
                *p = us->pairs[--us->n_pairs];
            else
                i++;
        }
    }
    for (size_t x = 0; x < m->n_ues; x++)
        if (m->ues[x].has_high && past_horizon(m, m->ues[x].high, now))
            m->ues[x].has_high = 0;
}

/* ---- replication: the change of a local call ------------------------------------ */

/* Called once the call is known to succeed: its version. */
static void local_begin(model *m, uint64_t now, int has_now)
{
    m->cur_n = 0;
    if (repl_on(m))
        m->cur_v = next_version(m, now, has_now);
}

static void local_entry(model *m, const model_entry *e)
{
    merge_entry(m, e);
    GROW(m->cur, m->cur_cap, m->cur_n + 1);
    m->cur[m->cur_n++] = *e;
}

static void local_put(model *m, const model_record *r)
{
    if (!repl_on(m))
        return;
    model_entry e;
    memset(&e, 0, sizeof(e));
    e.kind = MODEL_PUT;
    e.user = r->user;
    e.ue = r->ue;
    e.version = r->version;
    e.logon = r->logon;
    e.rec = *r;
    local_entry(m, &e);
}

static void local_removal(model *m, const model_record *r, mcreg_event_type why)
{
    if (!repl_on(m))
        return;
    model_entry e;
    memset(&e, 0, sizeof(e));
    e.kind = MODEL_REMOVAL;
    e.user = r->user;
    e.ue = r->ue;
    e.version = m->cur_v;
    e.logon = r->logon;
    e.reason = why;
    local_entry(m, &e);
}

static void local_limit(model *m, uint32_t u, int has, uint32_t max)
{
    if (!repl_on(m))
        return;
    model_entry e;
    memset(&e, 0, sizeof(e));
    e.kind = MODEL_LIMIT;
    e.user = u;
    e.version = m->cur_v;
    e.has_limit = has;
    e.limit = max;
    local_entry(m, &e);
}

static model_change change_copy(const model_entry *e, size_t n)
{
    model_change c = {malloc((n ? n : 1) * sizeof(*e)), n};
    if (!c.e)
        abort();
    memcpy(c.e, e, n * sizeof(*e));
    return c;
}

/* The call's change joins the pending ones. */
static void local_commit(model *m)
{
    if (!repl_on(m) || m->cur_n == 0)
        return;
    GROW(m->pend, m->pend_cap, m->pend_n + 1);
    m->pend[m->pend_n++] = change_copy(m->cur, m->cur_n);
    m->cur_n = 0;
}

/* ---- changes ----------------------------------------------------------------- */

/* The user's records in registered_at order, into a malloc'd array. */
static const model_record **user_sorted(const model *m, uint32_t u, size_t *n)
{
    *n = model_user_ue_count(m, u);
    const model_record **v = malloc((*n ? *n : 1) * sizeof(*v));
    if (!v)
        abort();
    for (size_t i = 0; i < *n; i++)
        v[i] = slot_rec(m, m->users[u].recs.v[i]);
    sort_recs(m, v, *n, cmp_logon);
    return v;
}

/* Take the record at slot s out; its event comes with the call's other
 * removals (flush), after the whole change. */
static void rec_unlink(model *m, uint32_t s)
{
    slot *sl = &m->slots[s];
    muser *us = &m->users[sl->r.user];
    list_del(&us->recs, s);
    if (us->recs.n == 0)
        m->n_active_users--;
    list_del(&m->ues[sl->r.ue].recs, s);
    sl->used = 0;
    m->n_records--;
    GROW(m->free_slots, m->cap_free, m->n_free + 1);
    m->free_slots[m->n_free++] = s;
}

static void remove_slot(model *m, uint32_t s, mcreg_event_type why)
{
    GROW(m->rm, m->rm_cap, m->rm_n + 1);
    m->rm[m->rm_n].r = m->slots[s].r;
    m->rm[m->rm_n].why = why;
    m->rm_n++;
    rec_unlink(m, s);
}

/* A removal by a local call: also an entry of its change. */
static void remove_local(model *m, uint32_t s, mcreg_event_type why)
{
    local_removal(m, &m->slots[s].r, why);
    remove_slot(m, s, why);
}

/* The removal events, each followed by its NOTIFY_LOGOFFs (when enabled) to
 * the user's UEs that remain once the call's removals are done; a UE that
 * logs on in the same call is created after this and is not told. */
static void flush_removals(model *m)
{
    for (size_t i = 0; i < m->rm_n; i++) {
        const removal *rm = &m->rm[i];
        ev_push(m, rm->why, &rm->r);
        if (!m->opt.notify_logoff)
            continue;
        size_t n;
        const model_record **rest = user_sorted(m, rm->r.user, &n);
        for (size_t k = 0; k < n; k++)
            ev_notify(m, MCREG_EV_NOTIFY_LOGOFF, &rm->r, rest[k]->ue, rest, n);
        free(rest);
    }
    m->rm_n = 0;
}

static uint64_t expiry(const model *m, uint64_t now, uint32_t expires_s)
{
    if (m->opt.max_expires && expires_s > m->opt.max_expires)
        expires_s = m->opt.max_expires;
    uint64_t d = (uint64_t)expires_s * 1000u;
    return now > UINT64_MAX - d ? UINT64_MAX : now + d;
}

static uint32_t new_slot(model *m)
{
    if (m->n_free)
        return m->free_slots[--m->n_free];
    GROW(m->slots, m->cap_slots, m->n_slots + 1);
    return (uint32_t)m->n_slots++;
}

/* A record into the tables and the expiry heap: its slot. */
static uint32_t rec_insert(model *m, const model_record *r)
{
    uint32_t s = new_slot(m);
    slot *sl = &m->slots[s];
    memset(sl, 0, sizeof(*sl));
    sl->used = 1;
    sl->r = *r;
    heap_push(m, s);
    muser *us = user_at(m, r->user);
    if (us->recs.n == 0)
        m->n_active_users++;
    list_add(&us->recs, s);
    list_add(&ue_at(m, r->ue)->recs, s);
    m->n_records++;
    return s;
}

/* The user's records past their expiry at `now` (expires_at <= now), in
 * mcreg_expire's order: slots into a malloc'd array. */
static uint32_t *user_lapsed(const model *m, uint32_t u, uint64_t now, size_t *n)
{
    size_t have = model_user_ue_count(m, u);
    const model_record **v = malloc((have ? have : 1) * sizeof(*v));
    uint32_t *slots = malloc((have ? have : 1) * sizeof(*slots));
    if (!v || !slots)
        abort();
    *n = 0;
    for (size_t i = 0; i < have; i++) {
        const model_record *r = slot_rec(m, m->users[u].recs.v[i]);
        if (r->expires_at <= now)
            v[(*n)++] = r;
    }
    sort_many(m, v, *n, cmp_expire);
    for (size_t k = 0; k < *n; k++)
        slots[k] = (uint32_t)find_slot(m, v[k]->user, v[k]->ue);
    free(v);
    return slots;
}

/* mcreg_register's first step, once the call is known to succeed: the
 * user's lapsed records go (EXPIRED, in mcreg_expire's order), as if
 * mcreg_expire had just run for them. A call that fails leaves them. */
static void remove_lapsed(model *m, const uint32_t *lapsed, size_t n)
{
    for (size_t k = 0; k < n; k++)
        remove_slot(m, lapsed[k], MCREG_EV_EXPIRED);
}

/* The pair's record s has not lapsed: its own removal or refresh comes
 * after the user's lapsed records go. */
static int refresh(model *m, uint32_t s, const model_binding *b, uint64_t now,
                   const uint32_t *lapsed, size_t n_lapsed, mcreg_outcome *out)
{
    model_record *r = &m->slots[s].r;
    if (b->call_id && r->call_id == b->call_id && b->cseq <= r->cseq)
        return MCREG_ERR_STALE;
    local_begin(m, now, 1);
    remove_lapsed(m, lapsed, n_lapsed);
    if (b->expires_s == 0) {
        remove_local(m, s, MCREG_EV_DEREGISTERED);
        flush_removals(m);
        local_commit(m);
        *out = MCREG_REMOVED;
        return MCREG_OK;
    }
    flush_removals(m);
    uint64_t exp = expiry(m, now, b->expires_s);
    mcreg_event_type t = exp >= r->expires_at ? MCREG_EV_REFRESHED : MCREG_EV_SHORTENED;
    r->expires_at = exp;
    if (b->contact)
        r->contact = b->contact;
    r->call_id = b->call_id;
    r->cseq = b->cseq;
    r->settings = b->settings;
    r->version = m->cur_v;
    heap_push(m, s);
    local_put(m, r);
    local_commit(m);
    ev_push(m, t, r);
    *out = MCREG_REFRESHED;
    return MCREG_OK;
}

/* The UE logs on: the new UE hears of the others, and (NOTIFY_ALL) each
 * other UE of the new one, in registered_at order. */
static void notify_logon(model *m, const model_record *r)
{
    if (m->opt.notify == MCREG_NOTIFY_NONE || model_user_ue_count(m, r->user) < 2)
        return;
    size_t n;
    const model_record **ues = user_sorted(m, r->user, &n);
    ev_notify(m, MCREG_EV_NOTIFY_LOGON, r, r->ue, ues, n);
    if (m->opt.notify == MCREG_NOTIFY_ALL)
        for (size_t k = 0; k < n; k++)
            if (ues[k]->ue != r->ue)
                ev_notify(m, MCREG_EV_NOTIFY_LOGON, r, ues[k]->ue, ues, n);
    free(ues);
}

/* No record for the pair, or only a lapsed one (among `lapsed`): a new
 * logon, which keeps nothing of the lapsed record. */
static int create(model *m, const model_binding *b, uint64_t now, const uint32_t *lapsed,
                  size_t n_lapsed, mcreg_outcome *out)
{
    if (b->expires_s == 0)
        return MCREG_ERR_NOT_FOUND;
    muser *us = user_at(m, b->user);
    mue *ue = ue_at(m, b->ue);
    uint32_t lim = us->has_limit ? us->limit : m->opt.max_ues;
    /* Lapsed records do not count, and stay when the call is refused. */
    if (lim && us->recs.n - n_lapsed >= lim && m->opt.policy == MCREG_LIMIT_REJECT) {
        model_record r = {.user = b->user, .ue = b->ue};
        ev_push(m, MCREG_EV_REJECTED, &r);
        return MCREG_ERR_LIMIT;
    }
    local_begin(m, now, 1);
    remove_lapsed(m, lapsed, n_lapsed); /* the pair's own lapsed record too */
    if (!m->opt.shared_ues)
        while (ue->recs.n) /* another user's record: UE exclusive */
            remove_local(m, ue->recs.v[0], MCREG_EV_REPLACED);
    while (lim && us->recs.n >= lim) {
        size_t n;
        const model_record **v = user_sorted(m, b->user, &n);
        if (m->opt.policy == MCREG_LIMIT_EVICT_SOONEST)
            sort_recs(m, v, n, cmp_soonest);
        /* else already in (registered_at, ue_id) order */
        int64_t s = find_slot(m, v[0]->user, v[0]->ue);
        free(v);
        remove_local(m, (uint32_t)s, MCREG_EV_EVICTED);
    }
    flush_removals(m);

    model_record r = {.user = b->user, .ue = b->ue, .contact = b->contact,
                      .call_id = b->call_id, .settings = b->settings, .cseq = b->cseq,
                      .registered_at = now, .expires_at = expiry(m, now, b->expires_s),
                      .version = m->cur_v, .logon = m->cur_v};
    uint32_t s = rec_insert(m, &r);
    const slot *sl = &m->slots[s];
    local_put(m, &sl->r);
    local_commit(m);
    ev_push(m, MCREG_EV_CREATED, &sl->r);
    notify_logon(m, &sl->r);
    *out = MCREG_CREATED;
    return MCREG_OK;
}

int model_register(model *m, const model_binding *b, uint64_t now, mcreg_outcome *out)
{
    ev_reset(m);
    int64_t s = find_slot(m, b->user, b->ue);
    size_t n_lapsed = 0;
    uint32_t *lapsed = b->user < m->n_users ? user_lapsed(m, b->user, now, &n_lapsed) : NULL;
    /* A lapsed record is as good as expired: no ordering check against it,
     * and registering again is a new logon. */
    if (s >= 0 && m->slots[s].r.expires_at <= now)
        s = -1;
    mcreg_outcome o;
    int rc = s >= 0 ? refresh(m, (uint32_t)s, b, now, lapsed, n_lapsed, &o)
                    : create(m, b, now, lapsed, n_lapsed, &o);
    free(lapsed);
    heap_settle(m);
    if (rc == MCREG_OK && out)
        *out = o;
    return rc;
}

int model_deregister(model *m, uint32_t u, uint32_t x)
{
    return model_deregister_at(m, u, x, 0);
}

int model_deregister_at(model *m, uint32_t u, uint32_t x, uint64_t now)
{
    ev_reset(m);
    int64_t s = find_slot(m, u, x);
    if (s < 0)
        return MCREG_ERR_NOT_FOUND;
    local_begin(m, now, 1);
    remove_local(m, (uint32_t)s, MCREG_EV_DEREGISTERED);
    flush_removals(m);
    local_commit(m);
    heap_settle(m);
    return MCREG_OK;
}

int model_deregister_user(model *m, uint32_t u, size_t *removed)
{
    return model_deregister_user_at(m, u, 0, removed);
}

int model_deregister_user_at(model *m, uint32_t u, uint64_t now, size_t *removed)
{
    ev_reset(m);
    size_t n;
    const model_record **v = user_sorted(m, u, &n);
    if (n)
        local_begin(m, now, 1);
    for (size_t k = 0; k < n; k++) {
        int64_t s = find_slot(m, v[k]->user, v[k]->ue);
        remove_local(m, (uint32_t)s, MCREG_EV_DEREGISTERED);
    }
    free(v);
    if (n == 0)
        return MCREG_ERR_NOT_FOUND;
    flush_removals(m);
    local_commit(m);
    heap_settle(m);
    if (removed)
        *removed = n;
    return MCREG_OK;
}

int model_expire(model *m, uint64_t now, size_t *expired)
{
    ev_reset(m);
    size_t n = 0, cap = 0;
    const model_record **due = NULL;
    heap_settle(m);
    while (m->heap_n && m->heap[0].exp <= now) {
        GROW(due, cap, n + 1);
        due[n++] = slot_rec(m, m->heap[0].slot);
        heap_pop(m);
        heap_settle(m);
    }
    /* The heap gives expires_at order only; ties need the full order (and
     * a drain can make thousands of them). */
    sort_many(m, due, n, cmp_expire);
    for (size_t k = 0; k < n; k++) {
        int64_t s = find_slot(m, due[k]->user, due[k]->ue);
        remove_slot(m, (uint32_t)s, MCREG_EV_EXPIRED);
    }
    free(due);
    flush_removals(m);
    heap_settle(m);
    if (repl_on(m))
        forget(m, now);
    if (expired)
        *expired = n;
    return MCREG_OK;
}

int model_set_user_max_ues(model *m, uint32_t u, uint32_t max)
{
    ev_reset(m);
    muser *us = user_at(m, u);
    if (!us->has_limit)
        m->n_limits++;
    us->has_limit = 1;
    us->limit = max;
    local_begin(m, 0, 0);
    local_limit(m, u, 1, max);
    local_commit(m);
    return MCREG_OK;
}

int model_clear_user_max_ues(model *m, uint32_t u)
{
    ev_reset(m);
    if (u >= m->n_users || !m->users[u].has_limit)
        return MCREG_ERR_NOT_FOUND;
    m->users[u].has_limit = 0;
    m->users[u].limit = 0;
    m->n_limits--;
    local_begin(m, 0, 0);
    local_limit(m, u, 0, 0);
    local_commit(m);
    return MCREG_OK;
}

/* ---- replication: drain, apply, snapshot ------------------------------------------ */

int model_changes_drain(model *m, model_buffer *out)
{
    if (!repl_on(m))
        return MCREG_ERR_INVALID;
    if (m->pend_n == 0)
        return MCREG_ERR_NOT_FOUND;
    out->c = m->pend;
    out->n = m->pend_n;
    m->pend = NULL;
    m->pend_n = m->pend_cap = 0;
    return MCREG_OK;
}

void model_buffer_free(model_buffer *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->c[i].e);
    free(b->c);
    b->c = NULL;
    b->n = 0;
}

void model_buffer_flatten(const model_buffer *src, model_buffer *dst)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < src->n; i++)
        n += src->c[i].n;
    model_entry *e = malloc((n ? n : 1) * sizeof(*e));
    if (!e)
        abort();
    for (size_t i = 0; i < src->n; i++)
        for (size_t j = 0; j < src->c[i].n; j++)
            e[k++] = src->c[i].e[j];
    /* dst->c is NULL or grown by GROW alone: a power of two from 16 */
    size_t cap = 0;
    if (dst->n) {
        cap = 16;
        while (cap < dst->n)
            cap *= 2;
    }
    GROW(dst->c, cap, dst->n + 1);
    dst->c[dst->n++] = (model_change){e, n};
}

/* A pair touched by one change, as it was before. */
typedef struct touched {
    uint32_t user, ue;
    uint8_t had_rec, had_logon;
    model_record before;
    model_version held; /* the newest logon among the pair's entries */
} touched;

typedef struct touched_set {
    touched *v;
    size_t n, cap;
} touched_set;

/* The newest logon among the pair's entries, remembered until mcreg_expire
 * forgets the pair's winner. */
static int held_logon(const model *m, uint32_t u, uint32_t x, model_version *out)
{
    const mpair *p = pair_find(m, u, x);
    if (!p || !p->has_logon)
        return 0;
    *out = p->logon;
    return 1;
}

static void touch(const model *m, touched_set *t, uint32_t u, uint32_t x)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].user == u && t->v[i].ue == x)
            return;
    GROW(t->v, t->cap, t->n + 1);
    touched *a = &t->v[t->n++];
    memset(a, 0, sizeof(*a));
    a->user = u;
    a->ue = x;
    int64_t s = find_slot(m, u, x);
    if (s >= 0) {
        a->had_rec = 1;
        a->before = m->slots[s].r;
    }
    a->had_logon = (uint8_t)held_logon(m, u, x, &a->held);
}

/* The pairs one change can move: its entries' pairs and, under UE
 * exclusive, the records at the UEs it puts to. */
static void touch_change(const model *m, const model_change *c, touched_set *t)
{
    for (size_t i = 0; i < c->n; i++) {
        const model_entry *e = &c->e[i];
        if (e->kind == MODEL_PUT || e->kind == MODEL_REMOVAL || e->kind == MODEL_TOMBSTONE)
            touch(m, t, e->user, e->ue);
        if ((e->kind == MODEL_PUT || e->kind == MODEL_UE_HIGH) && !m->opt.shared_ues &&
            e->ue < m->n_ues) {
            const idlist *l = &m->ues[e->ue].recs;
            for (uint32_t k = 0; k < l->n; k++)
                touch(m, t, m->slots[l->v[k]].r.user, e->ue);
        }
    }
}

static void apply_removal(model *m, uint32_t s, mcreg_event_type why, uint64_t origin)
{
    model_event *e = ev_push(m, why, &m->slots[s].r);
    e->origin = origin;
    rec_unlink(m, s);
}

static void apply_create(model *m, const model_record *r, uint64_t origin)
{
    uint32_t s = rec_insert(m, r);
    ev_push(m, MCREG_EV_CREATED, &m->slots[s].r)->origin = origin;
}

/* The pair after the change's entries are in: the record it must hold and
 * the event of the move. Returns 1 when a logon was made present. */
static int settle_pair(model *m, const touched *a, uint64_t now)
{
    const mpair *p = pair_find(m, a->user, a->ue);
    const model_entry *w = p && p->has_win ? &p->win : NULL;
    const mue *ue = a->ue < m->n_ues ? &m->ues[a->ue] : NULL;
    int shared = m->opt.shared_ues;
    int put_w = w && w->kind == MODEL_PUT;
    int ue_ok = put_w && (shared || (ue && ue->has_high && model_version_cmp(ue->high, w->version) == 0));
    if (!a->had_rec) {
        if (ue_ok && w->rec.expires_at > now) {
            apply_create(m, &w->rec, w->version.node);
            return 1;
        }
        return 0;
    }
    const model_record *r = &a->before;
    if (!w)
        abort(); /* a record's put is its pair's winner until it expires */
    int newer = model_version_cmp(w->version, r->version) > 0;
    if (ue_ok && !newer)
        return 0; /* unchanged, even lapsed: applying never sweeps */
    uint32_t s = (uint32_t)find_slot(m, a->user, a->ue);
    int ue_over = !shared && ue && ue->has_high && model_version_cmp(ue->high, r->version) > 0 &&
                  !(put_w && model_version_cmp(w->version, ue->high) == 0);
    if (put_w && newer && w->rec.expires_at <= now) {
        apply_removal(m, s, MCREG_EV_EXPIRED, w->version.node);
    } else if (ue_over) {
        apply_removal(m, s, MCREG_EV_REPLACED, ue->high.node);
    } else if (!put_w) {
        apply_removal(m, s, w->kind == MODEL_REMOVAL ? w->reason : MCREG_EV_DEREGISTERED,
                      w->version.node);
    } else if (model_version_cmp(w->rec.logon, r->logon) != 0) {
        apply_removal(m, s, MCREG_EV_DEREGISTERED, w->version.node);
        apply_create(m, &w->rec, w->version.node);
        return 1;
    } else {
        slot *sl = &m->slots[s];
        mcreg_event_type t = w->rec.expires_at >= sl->r.expires_at ? MCREG_EV_REFRESHED
                                                                   : MCREG_EV_SHORTENED;
        sl->r = w->rec;
        heap_push(m, s);
        ev_push(m, t, &sl->r)->origin = w->version.node;
    }
    return 0;
}

/* Whether the pair's logon X is now present and newer than every logon
 * the pair held: it notifies by the cross-node rule. */
static int notifies(const model *m, const touched *a)
{
    int64_t sx = find_slot(m, a->user, a->ue);
    if (sx < 0)
        return 0;
    return !a->had_logon || model_version_cmp(m->slots[sx].r.logon, a->held) > 0;
}

/* Whether the user's UE ue is among the call's notifying logons X. */
static int is_x(const model *m, const touched *t, const uint8_t *made, size_t n, uint32_t user,
                uint32_t ue)
{
    for (size_t i = 0; i < n; i++)
        if (made[i] && t[i].user == user && t[i].ue == ue && notifies(m, &t[i]))
            return 1;
    return 0;
}

/* Notifications across nodes, merged over one apply (at most one
 * NOTIFY_LOGON per recipient): each present record Y of this node's logon,
 * later than some X of the call (another UE), hears its logon again (to
 * Y, origin the earliest such X's node); under ALL each X not told so
 * hears (ue_id) of the latest present logon of this node, when later than
 * X's (origin X's node). other_ue_ids: every UE but the recipient. */
static void cross_notify_user(model *m, uint32_t user, const touched *t, const uint8_t *made,
                              size_t nt)
{
    size_t n;
    const model_record **ues = user_sorted(m, user, &n);
    uint8_t *told = calloc(n ? n : 1, 1);
    if (!told)
        abort();
    for (size_t k = 0; k < n; k++) {
        const model_record *y = ues[k], *low = NULL;
        for (size_t j = 0; j < n; j++)
            if (j != k && is_x(m, t, made, nt, user, ues[j]->ue) &&
                (!low || model_version_cmp(ues[j]->logon, low->logon) < 0))
                low = ues[j];
        if (!low || y->logon.node != m->opt.node_id ||
            model_version_cmp(y->logon, low->logon) <= 0)
            continue;
        told[k] = 1;
        ev_notify(m, MCREG_EV_NOTIFY_LOGON, y, y->ue, ues, n);
        m->ev[m->ev_n - 1].origin = low->version.node;
    }
    for (size_t k = 0; k < n && m->opt.notify == MCREG_NOTIFY_ALL; k++) {
        const model_record *x = ues[k], *high = NULL;
        if (told[k] || !is_x(m, t, made, nt, user, x->ue))
            continue;
        for (size_t j = 0; j < n; j++)
            if (j != k && ues[j]->logon.node == m->opt.node_id &&
                (!high || model_version_cmp(ues[j]->logon, high->logon) > 0))
                high = ues[j];
        if (!high || model_version_cmp(high->logon, x->logon) <= 0)
            continue;
        ev_notify(m, MCREG_EV_NOTIFY_LOGON, high, x->ue, ues, n);
        m->ev[m->ev_n - 1].origin = x->version.node;
    }
    free(told);
    free(ues);
}

static void cross_notify(model *m, const touched *t, const uint8_t *made, size_t n)
{
    if (m->opt.notify == MCREG_NOTIFY_NONE)
        return;
    for (size_t i = 0; i < n; i++) {
        int first = 1; /* each user once: at its first touched pair */
        for (size_t j = 0; j < i && first; j++)
            first = t[j].user != t[i].user;
        if (first)
            cross_notify_user(m, t[i].user, t, made, n);
    }
}

static void apply_change(model *m, const model_change *c, uint64_t now)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].version.stamp > m->clock)
            m->clock = c->e[i].version.stamp;
    touched_set t = {NULL, 0, 0};
    touch_change(m, c, &t);
    for (size_t i = 0; i < c->n; i++)
        if (c->e[i].kind == MODEL_LIMIT || !past_horizon(m, c->e[i].version, now))
            merge_entry(m, &c->e[i]);
    uint8_t *made = calloc(t.n ? t.n : 1, 1);
    if (!made)
        abort();
    for (size_t i = 0; i < t.n; i++)
        made[i] = (uint8_t)settle_pair(m, &t.v[i], now);
    cross_notify(m, t.v, made, t.n);
    free(made);
    free(t.v);
}

int model_changes_apply(model *m, const model_buffer *b, uint64_t now)
{
    ev_reset(m);
    if (!repl_on(m))
        return MCREG_ERR_INVALID;
    /* all or nothing per call, and its events are the net change of each
     * pair over the whole call: every change of the buffer as one unit */
    model_buffer one = {NULL, 0};
    model_buffer_flatten(b, &one);
    apply_change(m, &one.c[0], now);
    model_buffer_free(&one);
    heap_settle(m);
    return MCREG_OK;
}

void model_snapshot_entries(const model *m, model_buffer *out)
{
    size_t n = 0, cap = 0;
    model_entry *v = NULL;
    for (uint32_t u = 0; u < m->n_users; u++) {
        const muser *us = &m->users[u];
        for (uint32_t i = 0; i < us->n_pairs; i++) {
            const mpair *p = &us->pairs[i];
            if (!p->has_win)
                continue;
            GROW(v, cap, n + 1);
            model_entry *e = &v[n++];
            memset(e, 0, sizeof(*e));
            e->user = u;
            e->ue = p->ue;
            int64_t s = find_slot(m, u, p->ue);
            if (s >= 0) {
                e->kind = MODEL_PUT;
                e->rec = m->slots[s].r;
                e->version = e->rec.version;
                e->logon = e->rec.logon;
            } else {
                e->kind = MODEL_TOMBSTONE;
                e->version = p->win.version;
                e->logon = p->win.logon;
            }
        }
        if (us->has_lim_v) {
            GROW(v, cap, n + 1);
            model_entry *e = &v[n++];
            memset(e, 0, sizeof(*e));
            e->kind = MODEL_LIMIT;
            e->user = u;
            e->version = us->lim_v;
            e->has_limit = us->has_limit;
            e->limit = us->limit;
        }
    }
    for (uint32_t x = 0; x < m->n_ues; x++) {
        if (!m->ues[x].has_high)
            continue;
        GROW(v, cap, n + 1);
        model_entry *e = &v[n++];
        memset(e, 0, sizeof(*e));
        e->kind = MODEL_UE_HIGH;
        e->ue = x;
        e->version = m->ues[x].high;
    }
    out->c = malloc(sizeof(*out->c));
    if (!out->c)
        abort();
    out->c[0] = (model_change){v, n};
    out->n = 1;
}

size_t model_tombstone_count(const model *m)
{
    size_t n = 0;
    for (uint32_t u = 0; u < m->n_users; u++)
        for (uint32_t i = 0; i < m->users[u].n_pairs; i++)
            if (m->users[u].pairs[i].has_win && find_slot(m, u, m->users[u].pairs[i].ue) < 0)
                n++;
    return n;
}

int model_event_line(const model *m, const model_event *e, char *buf, size_t cap)
{
    int n = model_event_format(m, e, buf, cap);
    if (n < 0)
        return n;
    size_t at = (size_t)n < cap ? (size_t)n : cap;
    if (e->type == MCREG_EV_REJECTED)
        return n + snprintf(buf + at, cap - at, " o=%" PRIu64, e->origin);
    const model_record *r = &e->rec;
    return n + snprintf(buf + at, cap - at,
                        " o=%" PRIu64 " reg=%" PRIu64 " exp=%" PRIu64 " cseq=%" PRIu32
                        " v=%" PRIx64 "/%" PRIu64 " l=%" PRIx64 "/%" PRIu64,
                        e->origin, r->registered_at, r->expires_at, r->cseq, r->version.stamp,
                        r->version.node, r->logon.stamp, r->logon.node);
}
