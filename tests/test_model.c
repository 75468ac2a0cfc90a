/* Randomized model-based test.
 *
 * A plain reference model (fixed arrays, linear scans) of the rules that
 * include/mcreg.h states is driven side by side with the library through
 * long random sequences of calls over a small id space, so that refreshes,
 * stale requests, limits, evictions, replacements and expiries happen
 * often. After every step everything observable is compared: return code,
 * outcome and counts, the events of the step (as text), and the whole
 * state through every query.
 *
 * Reproduce a failure with MCREG_SEED=<seed> (the seed is in the message;
 * it selects the same sequence for the failing run). MCREG_MODEL_STEPS
 * sets the steps per run (default 3000), e.g. lower under valgrind;
 * MCREG_MODEL_VERBOSE=1 prints how many events of each type a run saw.
 */
#include <check.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

/* ---- PRNG: splitmix64 -------------------------------------------------- */

typedef struct m_rng {
    uint64_t s;
} m_rng;

static uint64_t m_next(m_rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (the bias of % is irrelevant here). */
static uint64_t m_below(m_rng *r, uint64_t n)
{
    return m_next(r) % n;
}

/* ---- the id space -------------------------------------------------------- */

/* Byte order of these is not index order: ties of registered_at must be
 * broken by the bytes. */
#define M_USERS 4
#define M_UES 5
static const char *const m_users[M_USERS] = {"alice", "al", "sip:carol@example.org", "Bob"};
static const char *const m_ues[M_UES] = {"ue-9", "ue-10", "UE", "\xc3\xa9-ue", "ue"};

#define M_CONTACTS 3
static const char *const m_contacts[M_CONTACTS] = {
    "sip:alice@192.0.2.1:5060", "<sip:b@[2001:db8::1]>;expires=60", "tel:+1-555-0100"};
#define M_CALLS 3
static const char *const m_calls[M_CALLS] = {"cid-1@host", "cid-2@host", "a84b4c76e66710"};

#define M_KEYS 5
static const char *const m_keys[M_KEYS] = {"prio", "display", "blob", "emergency", "k"};
static const char *const m_texts[] = {"", "x", "hello w\xc3\xb6rld", "MCPTT client 7"};
#define M_MAX_SET 4

/* ---- the model ----------------------------------------------------------- */

typedef struct m_set {
    const char *key;
    mcreg_value_type type;
    int64_t i;
    int b;          /* as stored: 0 or 1 */
    uint8_t data[16]; /* text or bytes */
    size_t len;
} m_set;

typedef struct m_rec {
    int used;
    int contact; /* index into m_contacts, -1 = none */
    int call;    /* index into m_calls, -1 = none */
    uint32_t cseq;
    uint64_t reg_at, exp_at;
    size_t n_set;
    m_set set[M_MAX_SET];
} m_rec;

typedef struct m_cfg {
    uint32_t max_ues;
    mcreg_limit_policy policy;
    mcreg_notify_policy notify;
    int logoff;
    int exclusive;
    uint64_t start; /* clock at step 0 */
} m_cfg;

typedef struct m_model {
    m_cfg cfg;
    m_rec rec[M_USERS][M_UES];
    int has_limit[M_USERS];
    uint32_t limit[M_USERS];
    tu_events ev; /* the expected events of the current step */
    struct {
        int u, e;
    } removed[M_USERS * M_UES];
    mcreg_event_type removed_why[M_USERS * M_UES];
    size_t n_removed;
} m_model;

typedef struct m_pair {
    int u, e;
} m_pair;

static int m_cmp_str(const char *a, const char *b)
{
    return strcmp(a, b); /* byte order: strcmp compares as unsigned char */
}

static int m_cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* (registered_at, ue_id): a user's UEs. */
static int m_cmp_logon(const m_model *m, m_pair a, m_pair b)
{
    int c = m_cmp_u64(m->rec[a.u][a.e].reg_at, m->rec[b.u][b.e].reg_at);
    return c ? c : m_cmp_str(m_ues[a.e], m_ues[b.e]);
}

/* (registered_at, ue_id, user_id): mcreg_foreach. */
static int m_cmp_all(const m_model *m, m_pair a, m_pair b)
{
    int c = m_cmp_logon(m, a, b);
    return c ? c : m_cmp_str(m_users[a.u], m_users[b.u]);
}

/* (expires_at, registered_at, ue_id): EVICT_SOONEST. */
static int m_cmp_soonest(const m_model *m, m_pair a, m_pair b)
{
    int c = m_cmp_u64(m->rec[a.u][a.e].exp_at, m->rec[b.u][b.e].exp_at);
    return c ? c : m_cmp_logon(m, a, b);
}

/* (expires_at, registered_at, ue_id, user_id): mcreg_expire. */
static int m_cmp_expire(const m_model *m, m_pair a, m_pair b)
{
    int c = m_cmp_soonest(m, a, b);
    return c ? c : m_cmp_str(m_users[a.u], m_users[b.u]);
}

typedef int (*m_cmp_fn)(const m_model *m, m_pair a, m_pair b);

/* Insertion sort: plain and good enough for 20 elements. */
static void m_sort(const m_model *m, m_pair *p, size_t n, m_cmp_fn cmp)
{
    for (size_t i = 1; i < n; i++) {
        m_pair x = p[i];
        size_t j = i;
        while (j > 0 && cmp(m, p[j - 1], x) > 0) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
}

/* The user's records in (registered_at, ue_id) order. */
static size_t m_user_recs(const m_model *m, int u, m_pair *out)
{
    size_t n = 0;
    for (int e = 0; e < M_UES; e++)
        if (m->rec[u][e].used)
            out[n++] = (m_pair){u, e};
    m_sort(m, out, n, m_cmp_logon);
    return n;
}

static size_t m_all_recs(const m_model *m, m_pair *out, m_cmp_fn cmp)
{
    size_t n = 0;
    for (int u = 0; u < M_USERS; u++)
        for (int e = 0; e < M_UES; e++)
            if (m->rec[u][e].used)
                out[n++] = (m_pair){u, e};
    m_sort(m, out, n, cmp);
    return n;
}

static size_t m_user_count_recs(const m_model *m, int u)
{
    size_t n = 0;
    for (int e = 0; e < M_UES; e++)
        n += m->rec[u][e].used != 0;
    return n;
}

static const char *const m_event_names[] = {
    "CREATED", "REFRESHED", "SHORTENED", "DEREGISTERED", "EXPIRED",
    "EVICTED", "REPLACED", "REJECTED", "NOTIFY_LOGON", "NOTIFY_LOGOFF"};

static void m_emit(m_model *m, mcreg_event_type t, int u, int e)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s%s(%s,%s)", m->ev.len ? ";" : "", m_event_names[t], m_users[u],
             m_ues[e]);
    tu_events_append(&m->ev, buf);
}

/* A NOTIFY_* event to `to`, the user's UEs being `ues` (n of them, in
 * registered_at order; `to` among them), about UE `e`. */
static void m_emit_notify(m_model *m, mcreg_event_type t, int u, int e, int to,
                          const m_pair *ues, size_t n)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s%s(%s,%s>%s:[", m->ev.len ? ";" : "", m_event_names[t],
             m_users[u], m_ues[e], m_ues[to]);
    tu_events_append(&m->ev, buf);
    int first = 1;
    for (size_t k = 0; k < n; k++) {
        if (ues[k].e == to)
            continue;
        if (!first)
            tu_events_append(&m->ev, ",");
        tu_events_append(&m->ev, m_ues[ues[k].e]);
        first = 0;
    }
    tu_events_append(&m->ev, "])");
}

/* Removals of the current call. Every event of a call is delivered after
 * the call's whole change: a removal's NOTIFY_LOGOFFs go to the user's UEs
 * that remain after the call's removals, not counting a UE that logs on in
 * the same call (which is why they are rendered before the model creates
 * it). So deregister_user sends none: none of the user's UEs remains. */
static void m_remove(m_model *m, int u, int e, mcreg_event_type why)
{
    m->rec[u][e].used = 0;
    m->removed[m->n_removed].u = u;
    m->removed[m->n_removed].e = e;
    m->removed_why[m->n_removed] = why;
    m->n_removed++;
}

/* The removal events, each followed by its NOTIFY_LOGOFFs when enabled. */
static void m_flush_removals(m_model *m)
{
    for (size_t i = 0; i < m->n_removed; i++) {
        int u = m->removed[i].u, e = m->removed[i].e;
        m_emit(m, m->removed_why[i], u, e);
        if (!m->cfg.logoff)
            continue;
        m_pair rest[M_UES];
        size_t n = m_user_recs(m, u, rest);
        for (size_t k = 0; k < n; k++)
            m_emit_notify(m, MCREG_EV_NOTIFY_LOGOFF, u, e, rest[k].e, rest, n);
    }
    m->n_removed = 0;
}

static uint64_t m_expiry(uint64_t now, uint32_t expires_s)
{
    uint64_t d = (uint64_t)expires_s * 1000u;
    return now > UINT64_MAX - d ? UINT64_MAX : now + d;
}

/* A binding as the model sees it. */
typedef struct m_bind {
    int u, e;
    int contact, call; /* -1 = NULL */
    uint32_t cseq, expires_s;
    size_t n_set;
    m_set set[M_MAX_SET];
} m_bind;

/* The user's records past their expiry at `now`, in mcreg_expire's order. */
static size_t m_user_lapsed(const m_model *m, int u, uint64_t now, m_pair *out)
{
    size_t n = 0;
    for (int e = 0; e < M_UES; e++)
        if (m->rec[u][e].used && m->rec[u][e].exp_at <= now)
            out[n++] = (m_pair){u, e};
    m_sort(m, out, n, m_cmp_expire);
    return n;
}

/* A register that succeeds first removes the user's lapsed records
 * (EXPIRED), as if mcreg_expire had run; one that fails leaves them. */
static void m_remove_lapsed(m_model *m, const m_pair *lapsed, size_t n)
{
    for (size_t k = 0; k < n; k++)
        m_remove(m, lapsed[k].u, lapsed[k].e, MCREG_EV_EXPIRED);
}

static int m_register(m_model *m, const m_bind *b, uint64_t now, mcreg_outcome *out)
{
    m_rec *r = &m->rec[b->u][b->e];
    m_pair lapsed[M_UES];
    size_t n_lapsed = m_user_lapsed(m, b->u, now, lapsed);
    if (r->used && r->exp_at > now) {
        if (b->call >= 0 && r->call == b->call && b->cseq <= r->cseq)
            return MCREG_ERR_STALE;
        m_remove_lapsed(m, lapsed, n_lapsed);
        if (b->expires_s == 0) {
            m_remove(m, b->u, b->e, MCREG_EV_DEREGISTERED);
            m_flush_removals(m);
            *out = MCREG_REMOVED;
            return MCREG_OK;
        }
        m_flush_removals(m);
        uint64_t exp = m_expiry(now, b->expires_s);
        mcreg_event_type t = exp >= r->exp_at ? MCREG_EV_REFRESHED : MCREG_EV_SHORTENED;
        r->exp_at = exp;
        if (b->contact >= 0)
            r->contact = b->contact;
        r->call = b->call;
        r->cseq = b->cseq;
        r->n_set = b->n_set;
        memcpy(r->set, b->set, sizeof(r->set));
        m_emit(m, t, b->u, b->e);
        *out = MCREG_REFRESHED;
        return MCREG_OK;
    }
    if (b->expires_s == 0)
        return MCREG_ERR_NOT_FOUND;

    uint32_t lim = m->has_limit[b->u] ? m->limit[b->u] : m->cfg.max_ues;
    if (lim != 0 && m_user_count_recs(m, b->u) - n_lapsed >= lim &&
        m->cfg.policy == MCREG_LIMIT_REJECT) {
        m_emit(m, MCREG_EV_REJECTED, b->u, b->e);
        return MCREG_ERR_LIMIT;
    }
    m_remove_lapsed(m, lapsed, n_lapsed);
    if (m->cfg.exclusive) {
        for (int v = 0; v < M_USERS; v++) {
            if (v != b->u && m->rec[v][b->e].used)
                m_remove(m, v, b->e, MCREG_EV_REPLACED);
        }
    }
    while (lim != 0 && m_user_count_recs(m, b->u) >= lim) {
        m_pair ues[M_UES];
        size_t n = m_user_recs(m, b->u, ues);
        if (m->cfg.policy == MCREG_LIMIT_EVICT_SOONEST)
            m_sort(m, ues, n, m_cmp_soonest);
        /* else already in (registered_at, ue_id) order */
        m_remove(m, b->u, ues[0].e, MCREG_EV_EVICTED);
    }
    m_flush_removals(m);
    memset(r, 0, sizeof(*r));
    r->used = 1;
    r->contact = b->contact;
    r->call = b->call;
    r->cseq = b->cseq;
    r->reg_at = now;
    r->exp_at = m_expiry(now, b->expires_s);
    r->n_set = b->n_set;
    memcpy(r->set, b->set, sizeof(r->set));
    m_emit(m, MCREG_EV_CREATED, b->u, b->e);
    m_pair ues[M_UES];
    size_t n = m_user_recs(m, b->u, ues);
    if (n >= 2 && m->cfg.notify != MCREG_NOTIFY_NONE) {
        m_emit_notify(m, MCREG_EV_NOTIFY_LOGON, b->u, b->e, b->e, ues, n);
        if (m->cfg.notify == MCREG_NOTIFY_ALL)
            for (size_t k = 0; k < n; k++)
                if (ues[k].e != b->e)
                    m_emit_notify(m, MCREG_EV_NOTIFY_LOGON, b->u, b->e, ues[k].e, ues, n);
    }
    *out = MCREG_CREATED;
    return MCREG_OK;
}

static int m_deregister(m_model *m, int u, int e)
{
    if (!m->rec[u][e].used)
        return MCREG_ERR_NOT_FOUND;
    m_remove(m, u, e, MCREG_EV_DEREGISTERED);
    m_flush_removals(m);
    return MCREG_OK;
}

static int m_deregister_user(m_model *m, int u, size_t *removed)
{
    m_pair ues[M_UES];
    size_t n = m_user_recs(m, u, ues);
    if (n == 0)
        return MCREG_ERR_NOT_FOUND;
    for (size_t k = 0; k < n; k++)
        m_remove(m, u, ues[k].e, MCREG_EV_DEREGISTERED);
    m_flush_removals(m);
    *removed = n;
    return MCREG_OK;
}

static int m_expire(m_model *m, uint64_t now, size_t *expired)
{
    m_pair all[M_USERS * M_UES];
    size_t n = m_all_recs(m, all, m_cmp_expire);
    size_t k = 0;
    for (; k < n && m->rec[all[k].u][all[k].e].exp_at <= now; k++)
        m_remove(m, all[k].u, all[k].e, MCREG_EV_EXPIRED);
    m_flush_removals(m);
    *expired = k;
    return MCREG_OK;
}

/* ---- rendering and comparing --------------------------------------------- */

static void m_printf(tu_events *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    tu_events_append(t, buf);
}

static void m_render_setting(tu_events *t, const m_set *s)
{
    m_printf(t, " [%s:%d:", s->key, (int)s->type);
    switch (s->type) {
    case MCREG_VAL_INT:
        m_printf(t, "%" PRId64, s->i);
        break;
    case MCREG_VAL_BOOL:
        m_printf(t, "%d", s->b);
        break;
    case MCREG_VAL_TEXT:
        m_printf(t, "%zu:%.*s", s->len, (int)s->len, (const char *)s->data);
        break;
    case MCREG_VAL_BYTES:
        m_printf(t, "%zu:", s->len);
        for (size_t j = 0; j < s->len; j++)
            m_printf(t, "%02x", s->data[j]);
        break;
    }
    tu_events_append(t, "]");
}

/* The model's state in the form of tu_state_dump(). */
static char *m_render_state(const m_model *m)
{
    tu_events t;
    tu_events_init(&t);
    m_pair all[M_USERS * M_UES];
    size_t n = m_all_recs(m, all, m_cmp_all);
    size_t users = 0;
    for (int u = 0; u < M_USERS; u++)
        users += m_user_count_recs(m, u) > 0;
    uint64_t next = UINT64_MAX;
    for (size_t k = 0; k < n; k++)
        if (m->rec[all[k].u][all[k].e].exp_at < next)
            next = m->rec[all[k].u][all[k].e].exp_at;
    m_printf(&t, "records=%zu users=%zu next=%d:%" PRIu64 "\n", n, users,
             n ? MCREG_OK : MCREG_ERR_NOT_FOUND, n ? next : 0);
    for (size_t k = 0; k < n; k++) {
        const m_rec *r = &m->rec[all[k].u][all[k].e];
        m_printf(&t,
                 "rec user=%s ue=%s contact=%s call_id=%s cseq=%" PRIu32 " reg=%" PRIu64
                 " exp=%" PRIu64,
                 m_users[all[k].u], m_ues[all[k].e],
                 r->contact >= 0 ? m_contacts[r->contact] : "(null)",
                 r->call >= 0 ? m_calls[r->call] : "(null)", r->cseq, r->reg_at, r->exp_at);
        for (size_t s = 0; s < r->n_set; s++)
            m_render_setting(&t, &r->set[s]);
        tu_events_append(&t, "\n");
    }
    return t.log;
}

/* The first line where two texts differ, for messages. */
static void m_first_diff(const char *a, const char *b, char *out, size_t cap)
{
    size_t line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    int na = (int)strcspn(la, "\n"), nb = (int)strcspn(lb, "\n");
    snprintf(out, cap, "line %zu:\n  library: %.*s\n  model:   %.*s", line, na, la, nb, lb);
}

/* ---- the driver ------------------------------------------------------------ */

typedef struct m_run {
    uint64_t seed;
    int run;
    int step;
    char op[512];
    m_rng rng;
    uint64_t now;
    m_model m;
    tu_alloc alloc;
    mcreg_allocator allocator;
    tu_events ev; /* the library's events */
    mcreg_registry *reg;
    char cb_error[512]; /* the first inconsistency seen inside a callback */
} m_run;

/* The recorder, plus what can only be checked while an event is being
 * delivered: its time, its record, and that the change is complete (a
 * removed pair is gone, a created one findable, every recipient of a
 * notification findable so that its contact can be read). */
static void m_event_cb(const mcreg_event *ev, void *ud)
{
    m_run *R = ud;
    tu_events_cb(ev, &R->ev);
    if (R->cb_error[0])
        return;
    const char *name = mcreg_event_name(ev->type);
    const mcreg_record *now = mcreg_find(R->reg, ev->user_id, ev->ue_id);
    int removal = ev->type == MCREG_EV_DEREGISTERED || ev->type == MCREG_EV_EXPIRED ||
                  ev->type == MCREG_EV_EVICTED || ev->type == MCREG_EV_REPLACED ||
                  ev->type == MCREG_EV_NOTIFY_LOGOFF;
    int notify = ev->type == MCREG_EV_NOTIFY_LOGON || ev->type == MCREG_EV_NOTIFY_LOGOFF;
    if (ev->at_ms != R->now)
        snprintf(R->cb_error, sizeof(R->cb_error), "%s at_ms %" PRIu64 ", call's now %" PRIu64,
                 name, ev->at_ms, R->now);
    else if (ev->type == MCREG_EV_REJECTED ? ev->record != NULL : ev->record == NULL)
        snprintf(R->cb_error, sizeof(R->cb_error), "%s(%s,%s): record %s", name, ev->user_id,
                 ev->ue_id, ev->record ? "set" : "NULL");
    else if (ev->record && (strcmp(mcreg_record_user_id(ev->record), ev->user_id) != 0 ||
                            strcmp(mcreg_record_ue_id(ev->record), ev->ue_id) != 0))
        snprintf(R->cb_error, sizeof(R->cb_error), "%s(%s,%s): record is (%s,%s)", name,
                 ev->user_id, ev->ue_id, mcreg_record_user_id(ev->record),
                 mcreg_record_ue_id(ev->record));
    else if (removal && now != NULL &&
             !(ev->type == MCREG_EV_EXPIRED || ev->type == MCREG_EV_NOTIFY_LOGOFF))
        snprintf(R->cb_error, sizeof(R->cb_error), "%s(%s,%s): the pair is still findable",
                 name, ev->user_id, ev->ue_id);
    else if (removal && now != NULL &&
             (now == ev->record || mcreg_record_registered_at(now) != R->now))
        /* A lapsed pair that registers again: its EXPIRED record is gone,
         * the pair is findable as the record this call created. */
        snprintf(R->cb_error, sizeof(R->cb_error),
                 "%s(%s,%s): the pair is still findable, not as a new record", name,
                 ev->user_id, ev->ue_id);
    else if (!removal && ev->type != MCREG_EV_REJECTED && now != ev->record)
        snprintf(R->cb_error, sizeof(R->cb_error), "%s(%s,%s): record is not mcreg_find's", name,
                 ev->user_id, ev->ue_id);
    else if (notify && (ev->recipient_ue_id == NULL ||
                        mcreg_find(R->reg, ev->user_id, ev->recipient_ue_id) == NULL))
        snprintf(R->cb_error, sizeof(R->cb_error), "%s(%s,%s>%s): recipient not findable", name,
                 ev->user_id, ev->ue_id, ev->recipient_ue_id ? ev->recipient_ue_id : "(null)");
    else if (!notify && (ev->recipient_ue_id != NULL || ev->other_ue_ids != NULL ||
                         ev->n_other != 0))
        snprintf(R->cb_error, sizeof(R->cb_error), "%s(%s,%s): notification fields set", name,
                 ev->user_id, ev->ue_id);
}

#define M_FAIL(R, ...)                                                                        \
    do {                                                                                      \
        char m_fail_buf_[2048];                                                               \
        snprintf(m_fail_buf_, sizeof(m_fail_buf_), __VA_ARGS__);                              \
        ck_abort_msg("MCREG_SEED=%" PRIu64 " run %d step %d (%s): %s", (R)->seed, (R)->run,   \
                     (R)->step, (R)->op, m_fail_buf_);                                        \
    } while (0)

#define M_CHECK(R, cond, ...)                                                                 \
    do {                                                                                      \
        if (!(cond))                                                                          \
            M_FAIL(R, __VA_ARGS__);                                                           \
    } while (0)

static void m_check_setting(m_run *R, int u, int e, size_t i, const mcreg_setting *got,
                            const m_set *want)
{
    M_CHECK(R, got != NULL, "find(%s,%s) setting %zu missing", m_users[u], m_ues[e], i);
    M_CHECK(R, got->key && strcmp(got->key, want->key) == 0,
            "find(%s,%s) setting %zu key '%s', model '%s'", m_users[u], m_ues[e], i,
            got->key ? got->key : "(null)", want->key);
    M_CHECK(R, got->type == want->type, "find(%s,%s) setting %s type %d, model %d", m_users[u],
            m_ues[e], want->key, (int)got->type, (int)want->type);
    switch (want->type) {
    case MCREG_VAL_INT:
        M_CHECK(R, got->v.i == want->i, "find(%s,%s) setting %s = %" PRId64 ", model %" PRId64,
                m_users[u], m_ues[e], want->key, got->v.i, want->i);
        break;
    case MCREG_VAL_BOOL:
        M_CHECK(R, got->v.b == want->b, "find(%s,%s) setting %s = %d, model %d", m_users[u],
                m_ues[e], want->key, got->v.b, want->b);
        break;
    case MCREG_VAL_TEXT:
        M_CHECK(R,
                got->v.text.len == want->len &&
                    (want->len == 0 || memcmp(got->v.text.ptr, want->data, want->len) == 0) &&
                    got->v.text.ptr != NULL && got->v.text.ptr[want->len] == '\0',
                "find(%s,%s) text setting %s differs (len %zu, model %zu) or is not "
                "NUL-terminated",
                m_users[u], m_ues[e], want->key, got->v.text.len, want->len);
        break;
    case MCREG_VAL_BYTES:
        M_CHECK(R,
                got->v.bytes.len == want->len &&
                    (want->len == 0 || memcmp(got->v.bytes.ptr, want->data, want->len) == 0),
                "find(%s,%s) bytes setting %s differs (len %zu, model %zu)", m_users[u],
                m_ues[e], want->key, got->v.bytes.len, want->len);
        break;
    }
}

static void m_check_record(m_run *R, int u, int e, const mcreg_record *r, const char *via)
{
    const m_rec *w = &R->m.rec[u][e];
    const char *s;
    M_CHECK(R, r != NULL, "%s: no record, model has (%s,%s)", via, m_users[u], m_ues[e]);
    s = mcreg_record_user_id(r);
    M_CHECK(R, s && strcmp(s, m_users[u]) == 0, "%s: user_id '%s', model '%s'", via,
            s ? s : "(null)", m_users[u]);
    s = mcreg_record_ue_id(r);
    M_CHECK(R, s && strcmp(s, m_ues[e]) == 0, "%s: ue_id '%s', model '%s'", via,
            s ? s : "(null)", m_ues[e]);
    s = mcreg_record_contact(r);
    const char *wc = w->contact >= 0 ? m_contacts[w->contact] : NULL;
    M_CHECK(R, (s == NULL && wc == NULL) || (s && wc && strcmp(s, wc) == 0),
            "%s: contact '%s', model '%s'", via, s ? s : "(null)", wc ? wc : "(null)");
    s = mcreg_record_call_id(r);
    const char *wk = w->call >= 0 ? m_calls[w->call] : NULL;
    M_CHECK(R, (s == NULL && wk == NULL) || (s && wk && strcmp(s, wk) == 0),
            "%s: call_id '%s', model '%s'", via, s ? s : "(null)", wk ? wk : "(null)");
    M_CHECK(R, mcreg_record_cseq(r) == w->cseq, "%s: cseq %" PRIu32 ", model %" PRIu32, via,
            mcreg_record_cseq(r), w->cseq);
    M_CHECK(R, mcreg_record_registered_at(r) == w->reg_at,
            "%s: registered_at %" PRIu64 ", model %" PRIu64, via, mcreg_record_registered_at(r),
            w->reg_at);
    M_CHECK(R, mcreg_record_expires_at(r) == w->exp_at,
            "%s: expires_at %" PRIu64 ", model %" PRIu64, via, mcreg_record_expires_at(r),
            w->exp_at);
    M_CHECK(R, mcreg_record_setting_count(r) == w->n_set, "%s: %zu settings, model %zu", via,
            mcreg_record_setting_count(r), w->n_set);
    for (size_t i = 0; i < w->n_set; i++) {
        m_check_setting(R, u, e, i, mcreg_record_setting_at(r, i), &w->set[i]);
        const mcreg_setting *f = mcreg_record_setting_find(r, w->set[i].key);
        M_CHECK(R, f == mcreg_record_setting_at(r, i),
                "%s: setting_find(%s) is not setting_at(%zu)", via, w->set[i].key, i);
    }
    M_CHECK(R, mcreg_record_setting_at(r, w->n_set) == NULL, "%s: setting_at(%zu) not NULL",
            via, w->n_set);
    for (int k = 0; k < M_KEYS; k++) {
        int has = 0;
        for (size_t i = 0; i < w->n_set; i++)
            has |= strcmp(w->set[i].key, m_keys[k]) == 0;
        if (!has)
            M_CHECK(R, mcreg_record_setting_find(r, m_keys[k]) == NULL,
                    "%s: setting_find(%s) found a setting the model does not have", via,
                    m_keys[k]);
    }
}

typedef struct m_visit {
    const char *ids[M_USERS * M_UES];
    size_t n;
} m_visit;

static int m_visitor(const mcreg_record *r, void *ud)
{
    m_visit *v = ud;
    if (v->n < M_USERS * M_UES)
        v->ids[v->n] = mcreg_record_ue_id(r);
    v->n++;
    return 0;
}

/* Everything observable against the model. */
static void m_check_state(m_run *R)
{
    const m_model *m = &R->m;
    /* Counts, next expiry, foreach order and every field, in one text. */
    char *got = tu_state_dump(R->reg);
    M_CHECK(R, got != NULL, "tu_state_dump failed");
    char *want = m_render_state(m);
    if (strcmp(got, want) != 0) {
        char diff[1024];
        m_first_diff(got, want, diff, sizeof(diff));
        free(got);
        free(want);
        M_FAIL(R, "state differs at %s", diff);
    }
    free(got);
    free(want);

    size_t total = 0, users = 0;
    for (int u = 0; u < M_USERS; u++) {
        size_t n = m_user_count_recs(m, u);
        total += n;
        users += n > 0;
        M_CHECK(R, mcreg_user_ue_count(R->reg, m_users[u]) == n,
                "user_ue_count(%s) = %zu, model %zu", m_users[u],
                mcreg_user_ue_count(R->reg, m_users[u]), n);
        uint32_t max = 12345;
        int rc = mcreg_user_max_ues(R->reg, m_users[u], &max);
        if (m->has_limit[u])
            M_CHECK(R, rc == MCREG_OK && max == m->limit[u],
                    "user_max_ues(%s) = %d/%" PRIu32 ", model %" PRIu32, m_users[u], rc, max,
                    m->limit[u]);
        else
            M_CHECK(R, rc == MCREG_ERR_NOT_FOUND, "user_max_ues(%s) = %d/%" PRIu32
                    ", model has none", m_users[u], rc, max);

        /* mcreg_user_foreach: (registered_at, ue_id) order. */
        m_pair ues[M_UES];
        size_t k = m_user_recs(m, u, ues);
        m_visit v;
        memset(&v, 0, sizeof(v));
        rc = mcreg_user_foreach(R->reg, m_users[u], m_visitor, &v);
        M_CHECK(R, rc == (k ? MCREG_OK : MCREG_ERR_NOT_FOUND), "user_foreach(%s) = %d",
                m_users[u], rc);
        M_CHECK(R, v.n == k, "user_foreach(%s) visited %zu, model %zu", m_users[u], v.n, k);
        for (size_t i = 0; i < k; i++)
            M_CHECK(R, v.ids[i] && strcmp(v.ids[i], m_ues[ues[i].e]) == 0,
                    "user_foreach(%s) item %zu is %s, model %s", m_users[u], i,
                    v.ids[i] ? v.ids[i] : "(null)", m_ues[ues[i].e]);

        for (int e = 0; e < M_UES; e++) {
            const mcreg_record *r = mcreg_find(R->reg, m_users[u], m_ues[e]);
            if (m->rec[u][e].used) {
                char via[128];
                snprintf(via, sizeof(via), "find(%s,%s)", m_users[u], m_ues[e]);
                m_check_record(R, u, e, r, via);
            } else {
                M_CHECK(R, r == NULL, "find(%s,%s) found a record the model does not have",
                        m_users[u], m_ues[e]);
            }
        }
    }
    M_CHECK(R, mcreg_record_count(R->reg) == total, "record_count %zu, model %zu",
            mcreg_record_count(R->reg), total);
    M_CHECK(R, mcreg_user_count(R->reg) == users, "user_count %zu, model %zu",
            mcreg_user_count(R->reg), users);
    M_CHECK(R, mcreg_user_ue_count(R->reg, "nobody") == 0, "user_ue_count(nobody) != 0");
    M_CHECK(R, mcreg_find(R->reg, "nobody", m_ues[0]) == NULL, "find(nobody, ...) found one");
    M_CHECK(R, mcreg_find_ue(R->reg, "no-such-ue") == NULL, "find_ue(no-such-ue) found one");

    /* find_ue: the earliest (registered_at, user_id) at the UE. */
    for (int e = 0; e < M_UES; e++) {
        int best = -1;
        for (int u = 0; u < M_USERS; u++) {
            if (!m->rec[u][e].used)
                continue;
            if (best < 0) {
                best = u;
                continue;
            }
            int c = m_cmp_u64(m->rec[u][e].reg_at, m->rec[best][e].reg_at);
            if (c < 0 || (c == 0 && m_cmp_str(m_users[u], m_users[best]) < 0))
                best = u;
        }
        const mcreg_record *r = mcreg_find_ue(R->reg, m_ues[e]);
        if (best < 0) {
            M_CHECK(R, r == NULL, "find_ue(%s) found %s, model has none", m_ues[e],
                    mcreg_record_user_id(r));
        } else {
            M_CHECK(R, r != NULL, "find_ue(%s) found none, model has %s", m_ues[e],
                    m_users[best]);
            M_CHECK(R, strcmp(mcreg_record_user_id(r), m_users[best]) == 0,
                    "find_ue(%s) found %s, model %s", m_ues[e], mcreg_record_user_id(r),
                    m_users[best]);
            char via[128];
            snprintf(via, sizeof(via), "find_ue(%s)", m_ues[e]);
            m_check_record(R, best, e, r, via);
        }
    }

    uint64_t at = 0;
    int rc = mcreg_next_expiry(R->reg, &at);
    M_CHECK(R, rc == (total ? MCREG_OK : MCREG_ERR_NOT_FOUND), "next_expiry rc %d with %zu records",
            rc, total);
}

/* ---- random inputs ------------------------------------------------------- */

static void m_random_settings(m_rng *g, m_bind *b)
{
    b->n_set = (size_t)m_below(g, M_MAX_SET + 1);
    if (m_below(g, 3) == 0)
        b->n_set = 0;
    int used[M_KEYS] = {0};
    for (size_t i = 0; i < b->n_set; i++) {
        m_set *s = &b->set[i];
        int k;
        do
            k = (int)m_below(g, M_KEYS);
        while (used[k]);
        used[k] = 1;
        s->key = m_keys[k];
        s->type = (mcreg_value_type)m_below(g, 4);
        switch (s->type) {
        case MCREG_VAL_INT: {
            static const int64_t vals[] = {0, 1, -1, 7, INT64_MAX, INT64_MIN};
            s->i = m_below(g, 2) ? vals[m_below(g, 6)] : (int64_t)m_next(g);
            break;
        }
        case MCREG_VAL_BOOL:
            s->b = (int)m_below(g, 4) - 1; /* -1, 0, 1, 2: non-zero is stored as 1 */
            break;
        case MCREG_VAL_TEXT: {
            const char *t = m_texts[m_below(g, sizeof(m_texts) / sizeof(m_texts[0]))];
            s->len = strlen(t); /* all fit in data[] */
            memcpy(s->data, t, s->len);
            break;
        }
        case MCREG_VAL_BYTES:
            s->len = (size_t)m_below(g, 6);
            for (size_t j = 0; j < s->len; j++)
                s->data[j] = (uint8_t)m_next(g);
            break;
        }
    }
}

/* The library's view of a binding: values point into the model's copy. */
static mcreg_binding m_to_binding(const m_bind *b, mcreg_setting *out)
{
    mcreg_binding lb;
    memset(&lb, 0, sizeof(lb));
    lb.user_id = m_users[b->u];
    lb.ue_id = m_ues[b->e];
    lb.contact = b->contact >= 0 ? m_contacts[b->contact] : NULL;
    lb.call_id = b->call >= 0 ? m_calls[b->call] : NULL;
    lb.cseq = b->cseq;
    lb.expires_s = b->expires_s;
    for (size_t i = 0; i < b->n_set; i++) {
        const m_set *s = &b->set[i];
        memset(&out[i], 0, sizeof(out[i]));
        out[i].key = s->key;
        out[i].type = s->type;
        switch (s->type) {
        case MCREG_VAL_INT:
            out[i].v.i = s->i;
            break;
        case MCREG_VAL_BOOL:
            out[i].v.b = s->b;
            break;
        case MCREG_VAL_TEXT:
            out[i].v.text.ptr = s->len ? (const char *)s->data : NULL;
            out[i].v.text.len = s->len;
            break;
        case MCREG_VAL_BYTES:
            out[i].v.bytes.ptr = s->len ? s->data : NULL;
            out[i].v.bytes.len = s->len;
            break;
        }
    }
    lb.settings = b->n_set ? out : NULL;
    lb.n_settings = b->n_set;
    return lb;
}

static uint32_t m_random_expires(m_rng *g)
{
    uint64_t r = m_below(g, 100);
    if (r < 8)
        return 0;
    if (r < 88)
        return (uint32_t)(1 + m_below(g, 60));
    if (r < 93)
        return 86400;
    if (r < 97)
        return UINT32_MAX;
    return (uint32_t)m_next(g);
}

static void m_advance_clock(m_run *R)
{
    m_rng *g = &R->rng;
    uint64_t r = m_below(g, 100);
    uint64_t d;
    if (r < 55)
        d = m_below(g, 5000);
    else if (r < 80)
        d = 0;
    else if (r < 97)
        d = m_below(g, 60000);
    else {
        /* rarely backwards: the host owns the clock */
        d = m_below(g, 10000);
        R->now = R->now > d ? R->now - d : 0;
        return;
    }
    R->now = R->now > UINT64_MAX - d ? UINT64_MAX : R->now + d;
}

static const char *m_rc_name(int rc)
{
    switch (rc) {
    case MCREG_OK: return "OK";
    case MCREG_ERR_INVALID: return "INVALID";
    case MCREG_ERR_NOMEM: return "NOMEM";
    case MCREG_ERR_NOT_FOUND: return "NOT_FOUND";
    case MCREG_ERR_LIMIT: return "LIMIT";
    case MCREG_ERR_STALE: return "STALE";
    case MCREG_ERR_BUSY: return "BUSY";
    default: return "?";
    }
}

static void m_check_events(m_run *R)
{
    M_CHECK(R, R->cb_error[0] == '\0', "in a callback: %s", R->cb_error);
    M_CHECK(R, strcmp(R->ev.log, R->m.ev.log) == 0, "events\n  library: %s\n  model:   %s",
            R->ev.log, R->m.ev.log);
}

static void m_step(m_run *R)
{
    m_rng *g = &R->rng;
    m_model *m = &R->m;
    tu_events_reset(&R->ev);
    tu_events_reset(&m->ev);
    m_advance_clock(R);
    uint64_t op = m_below(g, 100);
    int rc_lib, rc_model;

    if (op < 58) {
        /* register: often a pair that has a record, to refresh it */
        m_bind b;
        memset(&b, 0, sizeof(b));
        b.u = (int)m_below(g, M_USERS);
        b.e = (int)m_below(g, M_UES);
        if (m_below(g, 100) < 45) {
            m_pair all[M_USERS * M_UES];
            size_t n = m_all_recs(m, all, m_cmp_all);
            if (n) {
                m_pair p = all[m_below(g, n)];
                b.u = p.u;
                b.e = p.e;
            }
        }
        const m_rec *cur = &m->rec[b.u][b.e];
        b.contact = m_below(g, 3) == 0 ? -1 : (int)m_below(g, M_CONTACTS);
        uint64_t c = m_below(g, 100);
        if (cur->used && cur->call >= 0 && c < 45) {
            b.call = cur->call; /* same dialog: mostly in order */
            uint64_t k = m_below(g, 10);
            b.cseq = k < 6   ? cur->cseq + 1 + (uint32_t)m_below(g, 3)
                     : k < 8 ? cur->cseq
                             : cur->cseq - (uint32_t)m_below(g, 3);
        } else {
            b.call = m_below(g, 4) == 0 ? -1 : (int)m_below(g, M_CALLS);
            b.cseq = (uint32_t)m_below(g, 6);
            if (m_below(g, 20) == 0)
                b.cseq = UINT32_MAX - (uint32_t)m_below(g, 2);
        }
        b.expires_s = m_random_expires(g);
        m_random_settings(g, &b);
        snprintf(R->op, sizeof(R->op),
                 "register(%s,%s,contact=%d,call=%d,cseq=%" PRIu32 ",expires=%" PRIu32
                 ",settings=%zu) now=%" PRIu64,
                 m_users[b.u], m_ues[b.e], b.contact, b.call, b.cseq, b.expires_s, b.n_set,
                 R->now);

        mcreg_setting ls[M_MAX_SET];
        mcreg_binding lb = m_to_binding(&b, ls);
        mcreg_outcome out_lib = (mcreg_outcome)99, out_model = (mcreg_outcome)99;
        /* bool values are stored as 1 */
        for (size_t i = 0; i < b.n_set; i++)
            if (b.set[i].type == MCREG_VAL_BOOL)
                b.set[i].b = b.set[i].b != 0;
        rc_lib = mcreg_register(R->reg, &lb, R->now, &out_lib);
        rc_model = m_register(m, &b, R->now, &out_model);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s); events\n  library: %s\n  "
                "model:   %s", rc_lib, m_rc_name(rc_lib), rc_model, m_rc_name(rc_model),
                R->ev.log, m->ev.log);
        M_CHECK(R, out_lib == out_model, "outcome %d, model %d (99 = not written)", (int)out_lib,
                (int)out_model);
    } else if (op < 66) {
        int u = (int)m_below(g, M_USERS), e = (int)m_below(g, M_UES);
        snprintf(R->op, sizeof(R->op), "deregister(%s,%s) now=%" PRIu64, m_users[u], m_ues[e],
                 R->now);
        rc_lib = mcreg_deregister(R->reg, m_users[u], m_ues[e], R->now);
        rc_model = m_deregister(m, u, e);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, m_rc_name(rc_lib),
                rc_model, m_rc_name(rc_model));
    } else if (op < 70) {
        int u = (int)m_below(g, M_USERS);
        snprintf(R->op, sizeof(R->op), "deregister_user(%s) now=%" PRIu64, m_users[u], R->now);
        size_t n_lib = 999, n_model = 999;
        rc_lib = mcreg_deregister_user(R->reg, m_users[u], R->now, &n_lib);
        rc_model = m_deregister_user(m, u, &n_model);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, m_rc_name(rc_lib),
                rc_model, m_rc_name(rc_model));
        if (rc_model == MCREG_OK)
            M_CHECK(R, n_lib == n_model, "removed %zu, model %zu", n_lib, n_model);
    } else if (op < 86) {
        snprintf(R->op, sizeof(R->op), "expire now=%" PRIu64, R->now);
        size_t n_lib = 999, n_model = 999;
        rc_lib = mcreg_expire(R->reg, R->now, &n_lib);
        rc_model = m_expire(m, R->now, &n_model);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, m_rc_name(rc_lib),
                rc_model, m_rc_name(rc_model));
        M_CHECK(R, n_lib == n_model, "expired %zu, model %zu", n_lib, n_model);
    } else if (op < 94) {
        int u = (int)m_below(g, M_USERS);
        uint32_t max = (uint32_t)m_below(g, 5);
        snprintf(R->op, sizeof(R->op), "set_user_max_ues(%s,%" PRIu32 ")", m_users[u], max);
        rc_lib = mcreg_set_user_max_ues(R->reg, m_users[u], max);
        m->has_limit[u] = 1;
        m->limit[u] = max;
        M_CHECK(R, rc_lib == MCREG_OK, "rc %d (%s), model 0 (OK)", rc_lib, m_rc_name(rc_lib));
    } else {
        int u = (int)m_below(g, M_USERS);
        snprintf(R->op, sizeof(R->op), "clear_user_max_ues(%s)", m_users[u]);
        rc_lib = mcreg_clear_user_max_ues(R->reg, m_users[u]);
        rc_model = m->has_limit[u] ? MCREG_OK : MCREG_ERR_NOT_FOUND;
        m->has_limit[u] = 0;
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, m_rc_name(rc_lib),
                rc_model, m_rc_name(rc_model));
    }
    m_check_events(R);
    m_check_state(R);
}

/* ---- runs ---------------------------------------------------------------- */

/* Close enough to the end of the clock that long expiries saturate from
 * the start and short ones by the end of a run. */
#define M_NEAR_END (UINT64_MAX - UINT64_C(30000000))

static const m_cfg m_cfgs[] = {
    /* max, policy, notify, logoff, exclusive, start */
    {0, MCREG_LIMIT_REJECT, MCREG_NOTIFY_ALL, 0, 1, 1000},
    {2, MCREG_LIMIT_REJECT, MCREG_NOTIFY_ALL, 1, 1, 1000},
    {3, MCREG_LIMIT_EVICT_OLDEST, MCREG_NOTIFY_ALL, 1, 1, 0},
    {2, MCREG_LIMIT_EVICT_SOONEST, MCREG_NOTIFY_NEW_UE, 1, 1, 5000},
    {0, MCREG_LIMIT_REJECT, MCREG_NOTIFY_NONE, 1, 0, 1000},
    {2, MCREG_LIMIT_EVICT_OLDEST, MCREG_NOTIFY_ALL, 0, 0, 123456789},
    {3, MCREG_LIMIT_EVICT_SOONEST, MCREG_NOTIFY_ALL, 1, 0, 1000},
    {1, MCREG_LIMIT_REJECT, MCREG_NOTIFY_NEW_UE, 1, 0, 1000},
    {2, MCREG_LIMIT_EVICT_SOONEST, MCREG_NOTIFY_ALL, 1, 1, M_NEAR_END},
    {4, MCREG_LIMIT_EVICT_OLDEST, MCREG_NOTIFY_NONE, 1, 1, M_NEAR_END},
    {1, MCREG_LIMIT_EVICT_OLDEST, MCREG_NOTIFY_ALL, 1, 0, 0},
    {0, MCREG_LIMIT_EVICT_SOONEST, MCREG_NOTIFY_ALL, 1, 1, 1000},
    {3, MCREG_LIMIT_REJECT, MCREG_NOTIFY_ALL, 1, 0, M_NEAR_END},
};
#define M_N_CFGS ((int)(sizeof(m_cfgs) / sizeof(m_cfgs[0])))

static uint64_t m_env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 0);
    return end && *end == '\0' ? (uint64_t)x : def;
}

START_TEST(test_model_run)
{
    m_run *R = calloc(1, sizeof(*R));
    ck_assert_ptr_nonnull(R);
    R->run = _i;
    R->seed = m_env_u64("MCREG_SEED", UINT64_C(0x6d637265670000) + (uint64_t)_i);
    R->rng.s = R->seed;
    uint64_t steps = m_env_u64("MCREG_MODEL_STEPS", 3000);
    R->m.cfg = m_cfgs[_i];
    R->now = R->m.cfg.start;
    tu_events_init(&R->ev);
    tu_events_init(&R->m.ev);
    snprintf(R->op, sizeof(R->op), "registry_new");

    R->allocator = tu_allocator(&R->alloc);
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_allocator(o, &R->allocator);
    mcreg_options_set_event_callback(o, m_event_cb, R);
    mcreg_options_set_max_ues(o, R->m.cfg.max_ues);
    mcreg_options_set_limit_policy(o, R->m.cfg.policy);
    mcreg_options_set_notify_logon(o, R->m.cfg.notify);
    mcreg_options_set_notify_logoff(o, R->m.cfg.logoff);
    mcreg_options_set_ue_exclusive(o, R->m.cfg.exclusive);
    mcreg_options_set_hash_seed(o, R->seed);
    int rc = mcreg_registry_new(&R->reg, o);
    mcreg_options_free(o);
    M_CHECK(R, rc == MCREG_OK, "registry_new: %d", rc);
    m_check_state(R);

    /* Every kind of event must have shown up at least once per run where the
     * options allow it; count what the model produced to be sure the run
     * exercised the rules. */
    size_t seen[10] = {0};
    for (uint64_t s = 0; s < steps; s++) {
        R->step = (int)s;
        m_step(R);
        for (int t = 0; t < 10; t++) {
            char pat[32];
            snprintf(pat, sizeof(pat), "%s(", m_event_names[t]);
            for (const char *p = R->m.ev.log; (p = strstr(p, pat)) != NULL; p++)
                if (p == R->m.ev.log || p[-1] == ';')
                    seen[t]++;
        }
    }

    /* Drain: everything expires at the end of time. */
    R->step = (int)steps;
    tu_events_reset(&R->ev);
    tu_events_reset(&R->m.ev);
    R->now = UINT64_MAX;
    snprintf(R->op, sizeof(R->op), "final expire now=UINT64_MAX");
    size_t n_lib = 0, n_model = 0;
    rc = mcreg_expire(R->reg, UINT64_MAX, &n_lib);
    m_expire(&R->m, UINT64_MAX, &n_model);
    M_CHECK(R, rc == MCREG_OK && n_lib == n_model, "rc %d expired %zu, model %zu", rc, n_lib,
            n_model);
    m_check_events(R);
    m_check_state(R);
    M_CHECK(R, mcreg_record_count(R->reg) == 0, "records left after the final expire");

    mcreg_registry_free(R->reg);
    M_CHECK(R, R->alloc.live == 0 && R->alloc.live_bytes == 0,
            "%zu blocks / %zu bytes leaked", R->alloc.live, R->alloc.live_bytes);

    if (m_env_u64("MCREG_MODEL_VERBOSE", 0)) {
        fprintf(stderr, "model run %d seed %" PRIu64 " steps %" PRIu64 ":", R->run, R->seed,
                steps);
        for (int t = 0; t < 10; t++)
            fprintf(stderr, " %s=%zu", m_event_names[t], seen[t]);
        fprintf(stderr, "\n");
    }

    if (steps >= 1000) {
        /* The run must have exercised the rules its options enable. */
        M_CHECK(R, seen[MCREG_EV_CREATED] && seen[MCREG_EV_REFRESHED] &&
                       seen[MCREG_EV_SHORTENED] && seen[MCREG_EV_DEREGISTERED] &&
                       seen[MCREG_EV_EXPIRED],
                "run too weak: basic events missing");
        if (R->m.cfg.exclusive)
            M_CHECK(R, seen[MCREG_EV_REPLACED] > 0, "run too weak: no REPLACED");
        if (R->m.cfg.policy == MCREG_LIMIT_REJECT)
            M_CHECK(R, seen[MCREG_EV_REJECTED] > 0, "run too weak: no REJECTED");
        else
            M_CHECK(R, seen[MCREG_EV_EVICTED] > 0, "run too weak: no EVICTED");
        if (R->m.cfg.notify != MCREG_NOTIFY_NONE)
            M_CHECK(R, seen[MCREG_EV_NOTIFY_LOGON] > 0, "run too weak: no NOTIFY_LOGON");
        if (R->m.cfg.logoff)
            M_CHECK(R, seen[MCREG_EV_NOTIFY_LOGOFF] > 0, "run too weak: no NOTIFY_LOGOFF");
    }

    tu_events_free(&R->ev);
    tu_events_free(&R->m.ev);
    free(R);
}
END_TEST

Suite *suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("random");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_model_run, 0, M_N_CFGS);
    suite_add_tcase(s, tc);
    return s;
}
