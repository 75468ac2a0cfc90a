/* The soak test's reference model: the rules of include/mcreg.h for a
 * registry with UE exclusivity on (the default), written the plain way.
 * Records live in an array indexed by UE (a UE holds at most one record),
 * each user keeps an unordered list of its UEs that is sorted when an order
 * is needed, and expiry uses a lazy min-heap. It predicts each call's
 * result and the exact sequence of events the call must deliver. */
#include <stdlib.h>
#include <string.h>

#include "soak.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static void oom(void)
{
    /* The model's own memory: nothing to compare against without it. */
    abort();
}

int m_init(soak_model *m, const soak_ids *ids)
{
    memset(m, 0, sizeof(*m));
    m->ids = ids;
    m->n_users = ids->n_users;
    m->n_ues = ids->n_ues;
    m->rec = calloc(m->n_ues, sizeof(*m->rec));
    m->user = calloc(m->n_users, sizeof(*m->user));
    if (!m->rec || !m->user) {
        m_free(m);
        return -1;
    }
    m->policy = MCREG_LIMIT_REJECT;
    m->notify = MCREG_NOTIFY_ALL;
    return 0;
}

void m_free(soak_model *m)
{
    free(m->rec);
    free(m->user);
    free(m->heap);
    free(m->ev);
    free(m->rm);
    free(m->due);
    memset(m, 0, sizeof(*m));
}

void m_ev_reset(soak_model *m)
{
    m->ev_n = 0;
}

uint64_t m_expiry(uint64_t now, uint32_t expires_s)
{
    uint64_t d = (uint64_t)expires_s * 1000u;
    return now > UINT64_MAX - d ? UINT64_MAX : now + d;
}

const m_rec *m_find(const soak_model *m, uint32_t u, uint32_t x)
{
    const m_rec *r = &m->rec[x];
    return r->used && r->user == u ? r : NULL;
}

uint32_t m_user_n(const soak_model *m, uint32_t u)
{
    return m->user[u].n;
}

/* ---- orders --------------------------------------------------------------- */

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* (registered_at, ue_id) */
static int cmp_logon(const soak_model *m, uint32_t a, uint32_t b)
{
    int c = cmp_u64(m->rec[a].reg_at, m->rec[b].reg_at);
    return c ? c : strcmp(soak_ue(m->ids, a), soak_ue(m->ids, b));
}

/* (expires_at, registered_at, ue_id) */
static int cmp_soonest(const soak_model *m, uint32_t a, uint32_t b)
{
    int c = cmp_u64(m->rec[a].exp_at, m->rec[b].exp_at);
    return c ? c : cmp_logon(m, a, b);
}

typedef int (*cmp_fn)(const soak_model *m, uint32_t a, uint32_t b);

static void sort_ues(const soak_model *m, uint32_t *v, size_t n, cmp_fn cmp)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        while (j > 0 && cmp(m, v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

size_t m_user_sorted(const soak_model *m, uint32_t u, uint32_t *out)
{
    const m_user *us = &m->user[u];
    memcpy(out, us->ue, us->n * sizeof(uint32_t));
    sort_ues(m, out, us->n, cmp_logon);
    return us->n;
}

/* ---- expiry heap ---------------------------------------------------------- */

static int heap_less(const m_heap_ent *a, const m_heap_ent *b)
{
    return a->exp < b->exp;
}

static void heap_push(soak_model *m, uint32_t x)
{
    m_rec *r = &m->rec[x];
    r->gen = ++m->gen;
    if (grow((void **)&m->heap, &m->heap_cap, m->heap_n + 1, sizeof(*m->heap)))
        oom();
    size_t i = m->heap_n++;
    m_heap_ent e = {r->exp_at, x, r->gen};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&e, &m->heap[p]))
            break;
        m->heap[i] = m->heap[p];
        i = p;
    }
    m->heap[i] = e;
}

static void heap_pop(soak_model *m)
{
    m_heap_ent last = m->heap[--m->heap_n];
    size_t i = 0, n = m->heap_n;
    if (n == 0)
        return;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_less(&m->heap[c + 1], &m->heap[c]))
            c++;
        if (!heap_less(&m->heap[c], &last))
            break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    m->heap[i] = last;
}

static int heap_live(const soak_model *m, const m_heap_ent *e)
{
    const m_rec *r = &m->rec[e->ue];
    return r->used && r->gen == e->gen;
}

/* Drop stale entries from the top; 1 if a live one is left there. */
static int heap_settle(soak_model *m)
{
    while (m->heap_n && !heap_live(m, &m->heap[0]))
        heap_pop(m);
    return m->heap_n != 0;
}

int m_next_expiry(soak_model *m, uint64_t *at)
{
    if (!heap_settle(m))
        return MCREG_ERR_NOT_FOUND;
    *at = m->heap[0].exp;
    return MCREG_OK;
}

/* ---- events ------------------------------------------------------------------ */

static m_event *ev_push(soak_model *m, mcreg_event_type t, uint32_t u, uint32_t ue)
{
    if (grow((void **)&m->ev, &m->ev_cap, m->ev_n + 1, sizeof(*m->ev)))
        oom();
    m_event *e = &m->ev[m->ev_n++];
    memset(e, 0, sizeof(*e));
    e->type = t;
    e->u = u;
    e->ue = ue;
    return e;
}

static void ev_record(soak_model *m, mcreg_event_type t, uint32_t x)
{
    const m_rec *r = &m->rec[x];
    m_event *e = ev_push(m, t, r->user, x);
    e->reg_at = r->reg_at;
    e->exp_at = r->exp_at;
    e->cseq = r->cseq;
}

/* A NOTIFY_* about `subject` (the record's fields as given) to `recip`; the
 * user's UEs are `ues` (n, in registered_at order, recip among them). */
static void ev_notify(soak_model *m, mcreg_event_type t, uint32_t u, uint32_t subject,
                      uint64_t reg_at, uint64_t exp_at, uint32_t cseq, uint32_t recip,
                      const uint32_t *ues, size_t n)
{
    m_event *e = ev_push(m, t, u, subject);
    e->reg_at = reg_at;
    e->exp_at = exp_at;
    e->cseq = cseq;
    e->recip = recip;
    for (size_t k = 0; k < n; k++)
        if (ues[k] != recip)
            e->other[e->n_other++] = ues[k];
}

/* ---- changes ------------------------------------------------------------------ */

static void user_unlink(soak_model *m, uint32_t u, uint32_t x)
{
    m_user *us = &m->user[u];
    for (uint8_t i = 0; i < us->n; i++) {
        if (us->ue[i] == x) {
            us->ue[i] = us->ue[--us->n];
            if (us->n == 0)
                m->n_active_users--;
            return;
        }
    }
    abort(); /* the model is inconsistent with itself */
}

/* Take the record at x out; its event comes with the call's other removals
 * (flush), after the whole change. */
static void m_remove(soak_model *m, uint32_t x, mcreg_event_type why)
{
    m_rec *r = &m->rec[x];
    if (grow((void **)&m->rm, &m->rm_cap, m->rm_n + 1, sizeof(*m->rm)))
        oom();
    m_removal *rm = &m->rm[m->rm_n++];
    rm->u = r->user;
    rm->ue = x;
    rm->why = why;
    rm->reg_at = r->reg_at;
    rm->exp_at = r->exp_at;
    rm->cseq = r->cseq;
    r->used = 0;
    m->n_records--;
    user_unlink(m, r->user, x);
}

/* The removal events, each followed by its NOTIFY_LOGOFFs (when enabled) to
 * the user's UEs that remain once the call's removals are done; a UE that
 * logs on in the same call is created after this and is not told. */
static void m_flush(soak_model *m)
{
    for (size_t i = 0; i < m->rm_n; i++) {
        const m_removal *rm = &m->rm[i];
        m_event *e = ev_push(m, rm->why, rm->u, rm->ue);
        e->reg_at = rm->reg_at;
        e->exp_at = rm->exp_at;
        e->cseq = rm->cseq;
        if (!m->logoff)
            continue;
        uint32_t rest[SOAK_MAXPER];
        size_t n = m_user_sorted(m, rm->u, rest);
        for (size_t k = 0; k < n; k++)
            ev_notify(m, MCREG_EV_NOTIFY_LOGOFF, rm->u, rm->ue, rm->reg_at, rm->exp_at, rm->cseq,
                      rest[k], rest, n);
    }
    m->rm_n = 0;
}

/* One due record, with the keys of the expire order. */
typedef struct due_ent {
    uint64_t exp, reg;
    const char *ue, *user;
    uint32_t x;
} due_ent;

/* (expires_at, registered_at, ue_id, user_id) */
static int due_cmp(const void *pa, const void *pb)
{
    const due_ent *a = pa, *b = pb;
    int c = cmp_u64(a->exp, b->exp);
    if (!c)
        c = cmp_u64(a->reg, b->reg);
    if (!c)
        c = strcmp(a->ue, b->ue);
    return c ? c : strcmp(a->user, b->user);
}

/* A register first removes its user's records lapsed at now (EXPIRED, in
 * the expire order), as if mcreg_expire had run; a register that fails
 * leaves them. Returns how many there are; removes them when `remove`. */
static size_t user_lapsed(soak_model *m, uint32_t u, uint64_t now, int remove)
{
    const m_user *us = &m->user[u];
    due_ent d[SOAK_MAXPER];
    size_t n = 0;
    for (uint8_t i = 0; i < us->n; i++) {
        const m_rec *r = &m->rec[us->ue[i]];
        if (r->exp_at <= now)
            d[n++] = (due_ent){r->exp_at, r->reg_at, soak_ue(m->ids, us->ue[i]),
                               soak_user(m->ids, u), us->ue[i]};
    }
    if (!remove)
        return n;
    if (n > 1)
        qsort(d, n, sizeof(due_ent), due_cmp);
    for (size_t k = 0; k < n; k++)
        m_remove(m, d[k].x, MCREG_EV_EXPIRED);
    return n;
}

int m_register(soak_model *m, const m_bind *b, uint64_t now, mcreg_outcome *out)
{
    m_rec *r = &m->rec[b->x];
    m_user *us = &m->user[b->u];
    if (r->used && r->user == b->u && r->exp_at > now) {
        if (b->call && r->call == b->call && b->cseq <= r->cseq)
            return MCREG_ERR_STALE;
        user_lapsed(m, b->u, now, 1);
        if (b->expires_s == 0) {
            m_remove(m, b->x, MCREG_EV_DEREGISTERED);
            m_flush(m);
            *out = MCREG_REMOVED;
            return MCREG_OK;
        }
        uint64_t exp = m_expiry(now, b->expires_s);
        mcreg_event_type t = exp >= r->exp_at ? MCREG_EV_REFRESHED : MCREG_EV_SHORTENED;
        r->exp_at = exp;
        if (b->contact)
            r->contact = b->contact;
        r->call = b->call;
        r->cseq = b->cseq;
        r->set_seed = b->set_seed;
        heap_push(m, b->x);
        m_flush(m);
        ev_record(m, t, b->x);
        *out = MCREG_REFRESHED;
        return MCREG_OK;
    }
    if (b->expires_s == 0)
        return MCREG_ERR_NOT_FOUND;

    uint32_t lim = us->has_limit ? us->limit : m->max_ues;
    if (lim && us->n - user_lapsed(m, b->u, now, 0) >= lim &&
        m->policy == MCREG_LIMIT_REJECT) {
        ev_push(m, MCREG_EV_REJECTED, b->u, b->x);
        return MCREG_ERR_LIMIT;
    }
    user_lapsed(m, b->u, now, 1); /* this pair's own lapsed record too */
    if (r->used) /* another user's record: UE exclusive */
        m_remove(m, b->x, MCREG_EV_REPLACED);
    while (lim && us->n >= lim) {
        uint32_t v[SOAK_MAXPER];
        size_t n = us->n;
        memcpy(v, us->ue, n * sizeof(uint32_t));
        sort_ues(m, v, n, m->policy == MCREG_LIMIT_EVICT_SOONEST ? cmp_soonest : cmp_logon);
        m_remove(m, v[0], MCREG_EV_EVICTED);
    }
    m_flush(m);

    if (us->n >= SOAK_MAXPER)
        abort(); /* the driver keeps users below this */
    memset(r, 0, sizeof(*r));
    r->used = 1;
    r->user = b->u;
    r->contact = b->contact;
    r->call = b->call;
    r->cseq = b->cseq;
    r->set_seed = b->set_seed;
    r->reg_at = now;
    r->exp_at = m_expiry(now, b->expires_s);
    heap_push(m, b->x);
    us->ue[us->n++] = b->x;
    if (us->n == 1)
        m->n_active_users++;
    m->n_records++;
    ev_record(m, MCREG_EV_CREATED, b->x);

    if (us->n >= 2 && m->notify != MCREG_NOTIFY_NONE) {
        uint32_t ues[SOAK_MAXPER];
        size_t n = m_user_sorted(m, b->u, ues);
        ev_notify(m, MCREG_EV_NOTIFY_LOGON, b->u, b->x, r->reg_at, r->exp_at, r->cseq, b->x, ues,
                  n);
        if (m->notify == MCREG_NOTIFY_ALL)
            for (size_t k = 0; k < n; k++)
                if (ues[k] != b->x)
                    ev_notify(m, MCREG_EV_NOTIFY_LOGON, b->u, b->x, r->reg_at, r->exp_at,
                              r->cseq, ues[k], ues, n);
    }
    *out = MCREG_CREATED;
    return MCREG_OK;
}

int m_deregister(soak_model *m, uint32_t u, uint32_t x)
{
    if (!m_find(m, u, x))
        return MCREG_ERR_NOT_FOUND;
    m_remove(m, x, MCREG_EV_DEREGISTERED);
    m_flush(m);
    return MCREG_OK;
}

int m_deregister_user(soak_model *m, uint32_t u, size_t *removed)
{
    uint32_t ues[SOAK_MAXPER];
    size_t n = m_user_sorted(m, u, ues);
    if (n == 0)
        return MCREG_ERR_NOT_FOUND;
    for (size_t k = 0; k < n; k++)
        m_remove(m, ues[k], MCREG_EV_DEREGISTERED);
    m_flush(m);
    *removed = n;
    return MCREG_OK;
}

int m_expire(soak_model *m, uint64_t now, size_t *expired)
{
    size_t n = 0;
    while (heap_settle(m) && m->heap[0].exp <= now) {
        if (grow(&m->due, &m->due_cap, n + 1, sizeof(due_ent)))
            oom();
        const m_rec *r = &m->rec[m->heap[0].ue];
        due_ent *d = &((due_ent *)m->due)[n++];
        d->exp = r->exp_at;
        d->reg = r->reg_at;
        d->ue = soak_ue(m->ids, m->heap[0].ue);
        d->user = soak_user(m->ids, r->user);
        d->x = m->heap[0].ue;
        heap_pop(m);
    }
    /* The heap gives expires_at order only; ties need the full order (and
     * a drain can make thousands of them). */
    if (n > 1)
        qsort(m->due, n, sizeof(due_ent), due_cmp);
    for (size_t k = 0; k < n; k++)
        m_remove(m, ((due_ent *)m->due)[k].x, MCREG_EV_EXPIRED);
    m_flush(m);
    *expired = n;
    return MCREG_OK;
}

int m_set_limit(soak_model *m, uint32_t u, uint32_t max)
{
    m_user *us = &m->user[u];
    if (!us->has_limit)
        m->n_limits++;
    us->has_limit = 1;
    us->limit = max;
    return MCREG_OK;
}

int m_clear_limit(soak_model *m, uint32_t u)
{
    m_user *us = &m->user[u];
    if (!us->has_limit)
        return MCREG_ERR_NOT_FOUND;
    us->has_limit = 0;
    us->limit = 0;
    m->n_limits--;
    return MCREG_OK;
}
