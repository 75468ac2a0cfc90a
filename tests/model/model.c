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

typedef struct muser {
    idlist recs; /* slots */
    uint8_t has_limit;
    uint32_t limit;
} muser;

typedef struct mue {
    idlist recs; /* slots */
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
    for (size_t u = 0; u < m->n_users; u++)
        free(m->users[u].recs.v);
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
static void remove_slot(model *m, uint32_t s, mcreg_event_type why)
{
    slot *sl = &m->slots[s];
    GROW(m->rm, m->rm_cap, m->rm_n + 1);
    m->rm[m->rm_n].r = sl->r;
    m->rm[m->rm_n].why = why;
    m->rm_n++;
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

static uint64_t expiry(uint64_t now, uint32_t expires_s)
{
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
    remove_lapsed(m, lapsed, n_lapsed);
    if (b->expires_s == 0) {
        remove_slot(m, s, MCREG_EV_DEREGISTERED);
        flush_removals(m);
        *out = MCREG_REMOVED;
        return MCREG_OK;
    }
    flush_removals(m);
    uint64_t exp = expiry(now, b->expires_s);
    mcreg_event_type t = exp >= r->expires_at ? MCREG_EV_REFRESHED : MCREG_EV_SHORTENED;
    r->expires_at = exp;
    if (b->contact)
        r->contact = b->contact;
    r->call_id = b->call_id;
    r->cseq = b->cseq;
    r->settings = b->settings;
    heap_push(m, s);
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
    remove_lapsed(m, lapsed, n_lapsed); /* the pair's own lapsed record too */
    if (!m->opt.shared_ues)
        while (ue->recs.n) /* another user's record: UE exclusive */
            remove_slot(m, ue->recs.v[0], MCREG_EV_REPLACED);
    while (lim && us->recs.n >= lim) {
        size_t n;
        const model_record **v = user_sorted(m, b->user, &n);
        if (m->opt.policy == MCREG_LIMIT_EVICT_SOONEST)
            sort_recs(m, v, n, cmp_soonest);
        /* else already in (registered_at, ue_id) order */
        int64_t s = find_slot(m, v[0]->user, v[0]->ue);
        free(v);
        remove_slot(m, (uint32_t)s, MCREG_EV_EVICTED);
    }
    flush_removals(m);

    uint32_t s = new_slot(m);
    slot *sl = &m->slots[s];
    memset(sl, 0, sizeof(*sl));
    sl->used = 1;
    sl->r = (model_record){.user = b->user, .ue = b->ue, .contact = b->contact,
                           .call_id = b->call_id, .settings = b->settings, .cseq = b->cseq,
                           .registered_at = now, .expires_at = expiry(now, b->expires_s)};
    heap_push(m, s);
    if (us->recs.n == 0)
        m->n_active_users++;
    list_add(&us->recs, s);
    list_add(&ue->recs, s);
    m->n_records++;
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
    ev_reset(m);
    int64_t s = find_slot(m, u, x);
    if (s < 0)
        return MCREG_ERR_NOT_FOUND;
    remove_slot(m, (uint32_t)s, MCREG_EV_DEREGISTERED);
    flush_removals(m);
    heap_settle(m);
    return MCREG_OK;
}

int model_deregister_user(model *m, uint32_t u, size_t *removed)
{
    ev_reset(m);
    size_t n;
    const model_record **v = user_sorted(m, u, &n);
    for (size_t k = 0; k < n; k++) {
        int64_t s = find_slot(m, v[k]->user, v[k]->ue);
        remove_slot(m, (uint32_t)s, MCREG_EV_DEREGISTERED);
    }
    free(v);
    if (n == 0)
        return MCREG_ERR_NOT_FOUND;
    flush_removals(m);
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
    return MCREG_OK;
}
