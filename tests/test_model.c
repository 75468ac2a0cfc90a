/* Randomized model-based test.
 *
 * The reference model of the rules that include/mcreg.h states
 * (tests/model/) is driven side by side with the library through
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

#include "model.h"
#include "rc_name.h"
#include "rng.h"
#include "suites.h"
#include "testutil.h"

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

/* ---- the model's values ---------------------------------------------------- */

/* Contacts and Call-IDs are their index + 1 in the tables above (0 =
 * none); a set of settings is its index + 1 in the run's table of the sets
 * that bindings carried. */
typedef struct m_setset {
    size_t n;
    mcreg_setting s[M_MAX_SET];
    uint8_t data[M_MAX_SET][16]; /* text or bytes */
} m_setset;

typedef struct m_sets {
    m_setset **v;
    size_t n, cap;
} m_sets;

static const char *m_user_id(void *ud, uint32_t u)
{
    (void)ud;
    return m_users[u];
}

static const char *m_ue_id(void *ud, uint32_t x)
{
    (void)ud;
    return m_ues[x];
}

static const char *m_contact(void *ud, uint32_t id, char *buf, size_t cap)
{
    (void)ud, (void)buf, (void)cap;
    return m_contacts[id - 1];
}

static const char *m_call_id(void *ud, uint32_t id, char *buf, size_t cap)
{
    (void)ud, (void)buf, (void)cap;
    return m_calls[id - 1];
}

static size_t m_settings(void *ud, uint32_t id, const mcreg_setting **out)
{
    m_sets *t = ud;
    *out = t->v[id - 1]->s;
    return t->v[id - 1]->n;
}

static m_setset *m_sets_add(m_sets *t, uint32_t *id)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->v = realloc(t->v, t->cap * sizeof(*t->v));
        ck_assert_ptr_nonnull(t->v);
    }
    m_setset *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    t->v[t->n++] = s;
    *id = (uint32_t)t->n;
    return s;
}

static void m_sets_free(m_sets *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    memset(t, 0, sizeof(*t));
}

/* ---- the run --------------------------------------------------------------- */

/* A run's options: the rules' and the clock at step 0. */
typedef struct m_cfg {
    model_options rules;
    uint64_t start;
} m_cfg;

typedef struct m_run {
    uint64_t seed;
    int run;
    int step;
    char op[512];
    test_rng rng;
    uint64_t now;
    m_cfg cfg;
    m_sets sets;
    model *m;
    tu_events mev; /* the model's events of the current step, as text */
    tu_alloc alloc;
    mcreg_allocator allocator;
    tu_events ev; /* the library's events */
    mcreg_registry *reg;
    char cb_error[512]; /* the first inconsistency seen inside a callback */
} m_run;

static uint64_t m_next(test_rng *r)
{
    return test_rng_next(r);
}

static uint64_t m_below(test_rng *r, uint64_t n)
{
    return test_rng_below(r, n);
}

/* The model's events of the last operation, as text (the recorder's). */
static void m_render_events(m_run *R)
{
    char buf[512];
    tu_events_reset(&R->mev);
    for (size_t i = 0; i < model_event_count(R->m); i++) {
        if (i)
            tu_events_append(&R->mev, ";");
        model_event_format(R->m, model_event_at(R->m, i), buf, sizeof(buf));
        tu_events_append(&R->mev, buf);
    }
}

/* The recorder, plus what can only be checked while an event is being
 * delivered: its time, its record, that the change is complete (a removed
 * pair is gone, a created one findable, every recipient of a notification
 * findable so that its contact can be read), and every field against the
 * model's event of the same position. */
static void m_event_cb(const mcreg_event *ev, void *ud)
{
    m_run *R = ud;
    size_t i = R->ev.count;
    tu_events_cb(ev, &R->ev);
    if (R->cb_error[0])
        return;
    const model_event *w = model_event_at(R->m, i);
    char why[400];
    if (!w)
        snprintf(R->cb_error, sizeof(R->cb_error), "event %zu %s(%s,%s): the model has %zu",
                 i, mcreg_event_name(ev->type), ev->user_id, ev->ue_id,
                 model_event_count(R->m));
    else if (model_check_event(R->m, w, ev, R->now, why, sizeof(why)))
        snprintf(R->cb_error, sizeof(R->cb_error), "event %zu: %s", i, why);
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

static void m_render_setting(tu_events *t, const mcreg_setting *s)
{
    m_printf(t, " [%s:%d:", s->key, (int)s->type);
    switch (s->type) {
    case MCREG_VAL_INT:
        m_printf(t, "%" PRId64, s->v.i);
        break;
    case MCREG_VAL_BOOL:
        m_printf(t, "%d", s->v.b != 0); /* stored as 0 or 1 */
        break;
    case MCREG_VAL_TEXT:
        m_printf(t, "%zu:%.*s", s->v.text.len, (int)s->v.text.len,
                 s->v.text.len ? s->v.text.ptr : "");
        break;
    case MCREG_VAL_BYTES:
        m_printf(t, "%zu:", s->v.bytes.len);
        for (size_t j = 0; j < s->v.bytes.len; j++)
            m_printf(t, "%02x", s->v.bytes.ptr[j]);
        break;
    }
    tu_events_append(t, "]");
}

/* The model's state in the form of tu_state_dump(). */
static char *m_render_state(m_run *R)
{
    tu_events t;
    tu_events_init(&t);
    const model_record **all = NULL;
    size_t n = model_records(R->m, &all);
    ck_assert(n != (size_t)-1);
    uint64_t next = 0;
    int rc = model_next_expiry(R->m, &next);
    m_printf(&t, "records=%zu users=%zu next=%d:%" PRIu64 "\n", n, model_user_count(R->m), rc,
             rc == MCREG_OK ? next : 0);
    for (size_t k = 0; k < n; k++) {
        const model_record *r = all[k];
        m_printf(&t,
                 "rec user=%s ue=%s contact=%s call_id=%s cseq=%" PRIu32 " reg=%" PRIu64
                 " exp=%" PRIu64,
                 m_users[r->user], m_ues[r->ue], r->contact ? m_contacts[r->contact - 1] : "(null)",
                 r->call_id ? m_calls[r->call_id - 1] : "(null)", r->cseq, r->registered_at,
                 r->expires_at);
        const mcreg_setting *s = NULL;
        size_t ns = r->settings ? m_settings(&R->sets, r->settings, &s) : 0;
        for (size_t i = 0; i < ns; i++)
            m_render_setting(&t, &s[i]);
        tu_events_append(&t, "\n");
    }
    free(all);
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

/* Everything observable against the model. */
static void m_check_state(m_run *R)
{
    /* Counts, next expiry, foreach order and every field, in one text. */
    char *got = tu_state_dump(R->reg);
    M_CHECK(R, got != NULL, "tu_state_dump failed");
    char *want = m_render_state(R);
    if (strcmp(got, want) != 0) {
        char diff[1024];
        m_first_diff(got, want, diff, sizeof(diff));
        free(got);
        free(want);
        M_FAIL(R, "state differs at %s", diff);
    }
    free(got);
    free(want);

    /* Every query: counts, next expiry, each user's count, limit and
     * user_foreach order, each record through find and find_ue with every
     * field, mcreg_foreach and mcreg_limit_foreach. */
    char why[1024];
    M_CHECK(R, model_check_all(R->m, R->reg, why, sizeof(why)) == 0, "%s", why);

    /* Every pair of the id space, present or not, and no setting the
     * model's record does not have. */
    for (uint32_t u = 0; u < M_USERS; u++) {
        M_CHECK(R, model_check_user(R->m, R->reg, u, why, sizeof(why)) == 0, "%s", why);
        for (uint32_t e = 0; e < M_UES; e++) {
            M_CHECK(R, model_check_pair(R->m, R->reg, u, e, why, sizeof(why)) == 0, "%s", why);
            const model_record *w = model_find(R->m, u, e);
            if (!w)
                continue;
            const mcreg_record *r = mcreg_find(R->reg, m_users[u], m_ues[e]);
            const mcreg_setting *s = NULL;
            size_t ns = w->settings ? m_settings(&R->sets, w->settings, &s) : 0;
            for (int k = 0; k < M_KEYS; k++) {
                int has = 0;
                for (size_t i = 0; i < ns; i++)
                    has |= strcmp(s[i].key, m_keys[k]) == 0;
                if (!has)
                    M_CHECK(R, mcreg_record_setting_find(r, m_keys[k]) == NULL,
                            "find(%s,%s): setting_find(%s) found a setting the model does not "
                            "have", m_users[u], m_ues[e], m_keys[k]);
            }
        }
    }
    for (uint32_t e = 0; e < M_UES; e++)
        M_CHECK(R, model_check_find_ue(R->m, R->reg, e, why, sizeof(why)) == 0, "%s", why);
    M_CHECK(R, model_check_counts(R->m, R->reg, why, sizeof(why)) == 0, "%s", why);
    M_CHECK(R, mcreg_user_ue_count(R->reg, "nobody") == 0, "user_ue_count(nobody) != 0");
    M_CHECK(R, mcreg_find(R->reg, "nobody", m_ues[0]) == NULL, "find(nobody, ...) found one");
    M_CHECK(R, mcreg_find_ue(R->reg, "no-such-ue") == NULL, "find_ue(no-such-ue) found one");
}

/* ---- random inputs ------------------------------------------------------- */

/* The settings of a binding: a new set in the run's table, or none. */
static uint32_t m_random_settings(m_run *R)
{
    test_rng *g = &R->rng;
    size_t n = (size_t)m_below(g, M_MAX_SET + 1);
    if (m_below(g, 3) == 0)
        n = 0;
    if (n == 0)
        return 0;
    uint32_t id;
    m_setset *set = m_sets_add(&R->sets, &id);
    set->n = n;
    int used[M_KEYS] = {0};
    for (size_t i = 0; i < n; i++) {
        mcreg_setting *s = &set->s[i];
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
            s->v.i = m_below(g, 2) ? vals[m_below(g, 6)] : (int64_t)m_next(g);
            break;
        }
        case MCREG_VAL_BOOL:
            s->v.b = (int)m_below(g, 4) - 1; /* -1, 0, 1, 2: non-zero is stored as 1 */
            break;
        case MCREG_VAL_TEXT: {
            const char *t = m_texts[m_below(g, sizeof(m_texts) / sizeof(m_texts[0]))];
            size_t len = strlen(t); /* all fit in data[] */
            memcpy(set->data[i], t, len);
            s->v.text.ptr = len ? (const char *)set->data[i] : NULL;
            s->v.text.len = len;
            break;
        }
        case MCREG_VAL_BYTES: {
            size_t len = (size_t)m_below(g, 6);
            for (size_t j = 0; j < len; j++)
                set->data[i][j] = (uint8_t)m_next(g);
            s->v.bytes.ptr = len ? set->data[i] : NULL;
            s->v.bytes.len = len;
            break;
        }
        }
    }
    return id;
}

/* The library's view of a binding. */
static mcreg_binding m_to_binding(m_run *R, const model_binding *b)
{
    mcreg_binding lb;
    memset(&lb, 0, sizeof(lb));
    lb.user_id = m_users[b->user];
    lb.ue_id = m_ues[b->ue];
    lb.contact = b->contact ? m_contacts[b->contact - 1] : NULL;
    lb.call_id = b->call_id ? m_calls[b->call_id - 1] : NULL;
    lb.cseq = b->cseq;
    lb.expires_s = b->expires_s;
    if (b->settings) {
        const mcreg_setting *s = NULL;
        lb.n_settings = m_settings(&R->sets, b->settings, &s);
        lb.settings = s;
    }
    return lb;
}

static uint32_t m_random_expires(test_rng *g)
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
    test_rng *g = &R->rng;
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

static void m_check_events(m_run *R)
{
    M_CHECK(R, R->cb_error[0] == '\0', "in a callback: %s", R->cb_error);
    m_render_events(R);
    M_CHECK(R, strcmp(R->ev.log, R->mev.log) == 0, "events\n  library: %s\n  model:   %s",
            R->ev.log, R->mev.log);
}

/* A register of a random binding: often a pair that has a record, to
 * refresh it; in the same dialog as a rule, in order or not. */
static void m_step_register(m_run *R)
{
    test_rng *g = &R->rng;
    model_binding b;
    memset(&b, 0, sizeof(b));
    b.user = (uint32_t)m_below(g, M_USERS);
    b.ue = (uint32_t)m_below(g, M_UES);
    if (m_below(g, 100) < 45) {
        const model_record **all = NULL;
        size_t n = model_records(R->m, &all);
        ck_assert(n != (size_t)-1);
        if (n) {
            const model_record *p = all[m_below(g, n)];
            b.user = p->user;
            b.ue = p->ue;
        }
        free(all);
    }
    const model_record *cur = model_find(R->m, b.user, b.ue);
    b.contact = m_below(g, 3) == 0 ? 0 : 1 + (uint32_t)m_below(g, M_CONTACTS);
    uint64_t c = m_below(g, 100);
    if (cur && cur->call_id && c < 45) {
        b.call_id = cur->call_id; /* same dialog: mostly in order */
        uint64_t k = m_below(g, 10);
        b.cseq = k < 6   ? cur->cseq + 1 + (uint32_t)m_below(g, 3)
                 : k < 8 ? cur->cseq
                         : cur->cseq - (uint32_t)m_below(g, 3);
    } else {
        b.call_id = m_below(g, 4) == 0 ? 0 : 1 + (uint32_t)m_below(g, M_CALLS);
        b.cseq = (uint32_t)m_below(g, 6);
        if (m_below(g, 20) == 0)
            b.cseq = UINT32_MAX - (uint32_t)m_below(g, 2);
    }
    b.expires_s = m_random_expires(g);
    b.settings = m_random_settings(R);
    mcreg_binding lb = m_to_binding(R, &b);
    snprintf(R->op, sizeof(R->op),
             "register(%s,%s,contact=%" PRIu32 ",call=%" PRIu32 ",cseq=%" PRIu32
             ",expires=%" PRIu32 ",settings=%zu) now=%" PRIu64,
             m_users[b.user], m_ues[b.ue], b.contact, b.call_id, b.cseq, b.expires_s,
             lb.n_settings, R->now);

    mcreg_outcome out_lib = (mcreg_outcome)99, out_model = (mcreg_outcome)99;
    int rc_model = model_register(R->m, &b, R->now, &out_model);
    int rc_lib = mcreg_register(R->reg, &lb, R->now, &out_lib);
    m_render_events(R);
    M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s); events\n  library: %s\n  "
            "model:   %s", rc_lib, test_rc_name(rc_lib), rc_model, test_rc_name(rc_model),
            R->ev.log, R->mev.log);
    M_CHECK(R, out_lib == out_model, "outcome %d, model %d (99 = not written)", (int)out_lib,
            (int)out_model);
}

static void m_step(m_run *R)
{
    test_rng *g = &R->rng;
    tu_events_reset(&R->ev);
    R->cb_error[0] = '\0';
    m_advance_clock(R);
    uint64_t op = m_below(g, 100);
    int rc_lib, rc_model;

    if (op < 58) {
        m_step_register(R);
    } else if (op < 66) {
        uint32_t u = (uint32_t)m_below(g, M_USERS), e = (uint32_t)m_below(g, M_UES);
        snprintf(R->op, sizeof(R->op), "deregister(%s,%s) now=%" PRIu64, m_users[u], m_ues[e],
                 R->now);
        rc_model = model_deregister(R->m, u, e);
        rc_lib = mcreg_deregister(R->reg, m_users[u], m_ues[e], R->now);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, test_rc_name(rc_lib),
                rc_model, test_rc_name(rc_model));
    } else if (op < 70) {
        uint32_t u = (uint32_t)m_below(g, M_USERS);
        snprintf(R->op, sizeof(R->op), "deregister_user(%s) now=%" PRIu64, m_users[u], R->now);
        size_t n_lib = 999, n_model = 999;
        rc_model = model_deregister_user(R->m, u, &n_model);
        rc_lib = mcreg_deregister_user(R->reg, m_users[u], R->now, &n_lib);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, test_rc_name(rc_lib),
                rc_model, test_rc_name(rc_model));
        if (rc_model == MCREG_OK)
            M_CHECK(R, n_lib == n_model, "removed %zu, model %zu", n_lib, n_model);
    } else if (op < 86) {
        snprintf(R->op, sizeof(R->op), "expire now=%" PRIu64, R->now);
        size_t n_lib = 999, n_model = 999;
        rc_model = model_expire(R->m, R->now, &n_model);
        rc_lib = mcreg_expire(R->reg, R->now, &n_lib);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, test_rc_name(rc_lib),
                rc_model, test_rc_name(rc_model));
        M_CHECK(R, n_lib == n_model, "expired %zu, model %zu", n_lib, n_model);
    } else if (op < 94) {
        uint32_t u = (uint32_t)m_below(g, M_USERS);
        uint32_t max = (uint32_t)m_below(g, 5);
        snprintf(R->op, sizeof(R->op), "set_user_max_ues(%s,%" PRIu32 ")", m_users[u], max);
        rc_model = model_set_user_max_ues(R->m, u, max);
        rc_lib = mcreg_set_user_max_ues(R->reg, m_users[u], max);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, test_rc_name(rc_lib),
                rc_model, test_rc_name(rc_model));
    } else {
        uint32_t u = (uint32_t)m_below(g, M_USERS);
        snprintf(R->op, sizeof(R->op), "clear_user_max_ues(%s)", m_users[u]);
        rc_model = model_clear_user_max_ues(R->m, u);
        rc_lib = mcreg_clear_user_max_ues(R->reg, m_users[u]);
        M_CHECK(R, rc_lib == rc_model, "rc %d (%s), model %d (%s)", rc_lib, test_rc_name(rc_lib),
                rc_model, test_rc_name(rc_model));
    }
    m_check_events(R);
    m_check_state(R);
}

/* ---- runs ---------------------------------------------------------------- */

/* Close enough to the end of the clock that long expiries saturate from
 * the start and short ones by the end of a run. */
#define M_NEAR_END (UINT64_MAX - UINT64_C(30000000))

/* max_ues, policy, notify, logoff, UE shared (exclusive off); clock at the start */
#define M_CFG(max, pol, notify, logoff, shared, start)                                       \
    {{(max), MCREG_LIMIT_##pol, MCREG_NOTIFY_##notify, (logoff), (shared)}, (start)}

static const m_cfg m_cfgs[] = {
    M_CFG(0, REJECT, ALL, 0, 0, 1000),
    M_CFG(2, REJECT, ALL, 1, 0, 1000),
    M_CFG(3, EVICT_OLDEST, ALL, 1, 0, 0),
    M_CFG(2, EVICT_SOONEST, NEW_UE, 1, 0, 5000),
    M_CFG(0, REJECT, NONE, 1, 1, 1000),
    M_CFG(2, EVICT_OLDEST, ALL, 0, 1, 123456789),
    M_CFG(3, EVICT_SOONEST, ALL, 1, 1, 1000),
    M_CFG(1, REJECT, NEW_UE, 1, 1, 1000),
    M_CFG(2, EVICT_SOONEST, ALL, 1, 0, M_NEAR_END),
    M_CFG(4, EVICT_OLDEST, NONE, 1, 0, M_NEAR_END),
    M_CFG(1, EVICT_OLDEST, ALL, 1, 1, 0),
    M_CFG(0, EVICT_SOONEST, ALL, 1, 0, 1000),
    M_CFG(3, REJECT, ALL, 1, 1, M_NEAR_END),
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
    test_rng_seed(&R->rng, R->seed);
    uint64_t steps = m_env_u64("MCREG_MODEL_STEPS", 3000);
    R->cfg = m_cfgs[_i];
    R->now = R->cfg.start;
    tu_events_init(&R->ev);
    tu_events_init(&R->mev);
    snprintf(R->op, sizeof(R->op), "registry_new");
    model_values vals = {&R->sets, m_user_id, m_ue_id, m_contact, m_call_id, m_settings};
    R->m = model_new(&R->cfg.rules, &vals);
    ck_assert_ptr_nonnull(R->m);

    R->allocator = tu_allocator(&R->alloc);
    tu_opts o = {.rules = R->cfg.rules, .set_seed = 1, .seed = R->seed, .fn = m_event_cb,
                 .ud = R, .alloc = &R->allocator};
    R->reg = tu_registry_new(&o);
    m_check_state(R);

    /* Every kind of event must have shown up at least once per run where the
     * options allow it; count what the model produced to be sure the run
     * exercised the rules. */
    size_t seen[10] = {0};
    for (uint64_t s = 0; s < steps; s++) {
        R->step = (int)s;
        m_step(R);
        for (size_t i = 0; i < model_event_count(R->m); i++)
            seen[model_event_at(R->m, i)->type]++;
    }

    /* Drain: everything expires at the end of time. */
    R->step = (int)steps;
    tu_events_reset(&R->ev);
    R->now = UINT64_MAX;
    snprintf(R->op, sizeof(R->op), "final expire now=UINT64_MAX");
    size_t n_lib = 0, n_model = 0;
    model_expire(R->m, UINT64_MAX, &n_model);
    int rc = mcreg_expire(R->reg, UINT64_MAX, &n_lib);
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
            fprintf(stderr, " %s=%zu", mcreg_event_name((mcreg_event_type)t), seen[t]);
        fprintf(stderr, "\n");
    }

    if (steps >= 1000) {
        /* The run must have exercised the rules its options enable. */
        const model_options *c = &R->cfg.rules;
        M_CHECK(R, seen[MCREG_EV_CREATED] && seen[MCREG_EV_REFRESHED] &&
                       seen[MCREG_EV_SHORTENED] && seen[MCREG_EV_DEREGISTERED] &&
                       seen[MCREG_EV_EXPIRED],
                "run too weak: basic events missing");
        if (!c->shared_ues)
            M_CHECK(R, seen[MCREG_EV_REPLACED] > 0, "run too weak: no REPLACED");
        if (c->policy == MCREG_LIMIT_REJECT)
            M_CHECK(R, seen[MCREG_EV_REJECTED] > 0, "run too weak: no REJECTED");
        else
            M_CHECK(R, seen[MCREG_EV_EVICTED] > 0, "run too weak: no EVICTED");
        if (c->notify != MCREG_NOTIFY_NONE)
            M_CHECK(R, seen[MCREG_EV_NOTIFY_LOGON] > 0, "run too weak: no NOTIFY_LOGON");
        if (c->notify_logoff)
            M_CHECK(R, seen[MCREG_EV_NOTIFY_LOGOFF] > 0, "run too weak: no NOTIFY_LOGOFF");
    }

    model_free(R->m);
    m_sets_free(&R->sets);
    tu_events_free(&R->ev);
    tu_events_free(&R->mev);
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
