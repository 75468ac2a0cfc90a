/* The randomized cluster against the model: see repl_sim.h. */
#include "repl_sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "model.h"
#include "rng.h"

#define SIM_MAX_NODES 5
#define SIM_USERS 5
#define SIM_UES 6
#define SIM_CONTACTS 3
/* The cluster's max_expires: short, so that tombstones reach their horizon
 * often; bindings ask for up to SIM_EXPIRES_ASK s, above it too. */
#define SIM_MAX_EXPIRES 20u
#define SIM_EXPIRES_ASK 26u
#define SIM_POOL 40
#define SIM_SKEW 500

/* ---- values ---------------------------------------------------------------- */

static char user_names[SIM_USERS][16];
static char ue_names[SIM_UES][16];

static const mcreg_setting set_a[] = {{.key = "prio", .type = MCREG_VAL_INT, .v.i = 7}};
static const mcreg_setting set_b[] = {
    {.key = "alias", .type = MCREG_VAL_TEXT, .v.text = {"d1", 2}},
    {.key = "emerg", .type = MCREG_VAL_BOOL, .v.b = 1}};

static const char *val_user(void *ud, uint32_t u)
{
    (void)ud;
    return user_names[u];
}

static const char *val_ue(void *ud, uint32_t x)
{
    (void)ud;
    return ue_names[x];
}

static const char *val_contact(void *ud, uint32_t id, char *buf, size_t cap)
{
    (void)ud;
    snprintf(buf, cap, "sip:c%" PRIu32 "@127.0.0.1", id);
    return buf;
}

static const char *val_call_id(void *ud, uint32_t id, char *buf, size_t cap)
{
    (void)ud;
    snprintf(buf, cap, "cid-%" PRIu32, id);
    return buf;
}

static size_t val_settings(void *ud, uint32_t id, const mcreg_setting **out)
{
    (void)ud;
    *out = id == 1 ? set_a : set_b;
    return id == 1 ? 1 : 2;
}

static void names_init(void)
{
    for (int i = 0; i < SIM_USERS; i++)
        snprintf(user_names[i], sizeof(user_names[i]), "user%d", i);
    for (int i = 0; i < SIM_UES; i++)
        snprintf(ue_names[i], sizeof(ue_names[i]), "ue%d", i);
}

/* ---- the cluster ---------------------------------------------------------- */

typedef struct lines {
    char **v;
    size_t n, cap;
} lines;

typedef struct sim_node {
    model *m;
    mcreg_registry *reg;
    int64_t skew;
    lines ev; /* the events the registry delivered in the current call */
} sim_node;

typedef struct sim_msg {
    uint64_t id; /* the drain's number, for the trace */
    model_buffer mb;
    uint8_t *bytes;
    size_t len;
    uint8_t got[SIM_MAX_NODES];
} sim_msg;

typedef struct sim {
    repl_sim_config cfg;
    repl_sim_stats *st;
    test_rng rng;
    unsigned n;
    model_options opt;
    sim_node node[SIM_MAX_NODES];
    sim_msg pool[SIM_POOL];
    size_t pool_n;
    uint64_t t, step;
    uint32_t next_call_id;
    model_buffer log; /* every change drained, for the witness */
    char *why;
    size_t cap;
    int failed;
    int trace; /* MCREG_REPL_TRACE=1: every call on stderr */
} sim;

static void lines_add(lines *l, const char *s)
{
    if (l->n == l->cap) {
        size_t c = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, c * sizeof(*v));
        if (!v)
            abort();
        l->v = v;
        l->cap = c;
    }
    size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (!d)
        abort();
    memcpy(d, s, len);
    l->v[l->n++] = d;
}

static void lines_clear(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

static void lines_free(lines *l)
{
    lines_clear(l);
    free(l->v);
    l->v = NULL;
    l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fail(sim *s, unsigned node, const char *fmt, ...)
{
    if (s->failed)
        return -1;
    s->failed = 1;
    int n = snprintf(s->why, s->cap, "seed %" PRIu64 " step %" PRIu64 " node %u: ", s->cfg.seed,
                     s->step, node);
    if (n < 0)
        n = 0;
    size_t at = (size_t)n < s->cap ? (size_t)n : s->cap;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why + at, s->cap - at, fmt, ap);
    va_end(ap);
    return -1;
}

static void trace(const sim *s, unsigned node, const char *fmt, ...)
{
    if (!s->trace)
        return;
    fprintf(stderr, "step %" PRIu64 " node %u now %" PRIu64 ": ", s->step, node,
            (uint64_t)((int64_t)s->t + s->node[node].skew));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t rnd(sim *s, uint64_t n)
{
    return test_rng_below(&s->rng, n);
}

static uint64_t node_now(const sim *s, unsigned i)
{
    return (uint64_t)((int64_t)s->t + s->node[i].skew);
}

static void on_event(const mcreg_event *ev, void *ud)
{
    sim_node *nd = ud;
    char buf[1024];
    model_event_line_lib(ev, buf, sizeof(buf));
    lines_add(&nd->ev, buf);
}

/* An apply's events come removals first, then CREATED / REFRESHED /
 * SHORTENED, then NOTIFY_LOGON. */
static int event_class(const char *line)
{
    if (strncmp(line, "NOTIFY_", 7) == 0)
        return 2;
    if (strncmp(line, "CREATED(", 8) == 0 || strncmp(line, "REFRESHED(", 10) == 0 ||
        strncmp(line, "SHORTENED(", 10) == 0)
        return 1;
    return 0;
}

/* The call's events against the model's: in order (local calls) or as
 * multisets (apply). */
static int check_events(sim *s, unsigned i, int sorted, const char *call)
{
    sim_node *nd = &s->node[i];
    if (!nd->reg)
        return 0;
    lines want = {NULL, 0, 0};
    char buf[1024];
    for (size_t k = 0; k < model_event_count(nd->m); k++) {
        model_event_line(nd->m, model_event_at(nd->m, k), buf, sizeof(buf));
        lines_add(&want, buf);
    }
    s->st->events += want.n;
    if (sorted) {
        for (size_t k = 1; k < nd->ev.n; k++)
            if (event_class(nd->ev.v[k]) < event_class(nd->ev.v[k - 1])) {
                fail(s, i, "%s: event %s after %s", call, nd->ev.v[k], nd->ev.v[k - 1]);
                lines_free(&want);
                lines_clear(&nd->ev);
                return -1;
            }
        if (want.n) /* an empty list may have no array at all */
            qsort(want.v, want.n, sizeof(*want.v), cmp_str);
        if (nd->ev.n)
            qsort(nd->ev.v, nd->ev.n, sizeof(*nd->ev.v), cmp_str);
    }
    int rc = 0;
    size_t n = want.n > nd->ev.n ? want.n : nd->ev.n;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const char *w = k < want.n ? want.v[k] : "(none)";
        const char *g = k < nd->ev.n ? nd->ev.v[k] : "(none)";
        if (strcmp(w, g) != 0) {
            /* both lists whole: the difference is often in what is missing */
            size_t len = 0, cap = 64;
            for (size_t j = 0; j < want.n; j++)
                cap += strlen(want.v[j]) + 4;
            for (size_t j = 0; j < nd->ev.n; j++)
                cap += strlen(nd->ev.v[j]) + 4;
            char *all = malloc(cap);
            if (!all)
                abort();
            len += (size_t)snprintf(all + len, cap - len, "\n  library:");
            for (size_t j = 0; j < nd->ev.n; j++)
                len += (size_t)snprintf(all + len, cap - len, "\n    %s", nd->ev.v[j]);
            len += (size_t)snprintf(all + len, cap - len, "\n  model:");
            for (size_t j = 0; j < want.n; j++)
                len += (size_t)snprintf(all + len, cap - len, "\n    %s", want.v[j]);
            rc = fail(s, i, "%s: event %zu of %zu is %s, model %s (model has %zu)%s", call, k,
                      nd->ev.n, g, w, want.n, all);
            free(all);
        }
    }
    lines_free(&want);
    lines_clear(&nd->ev);
    return rc;
}

static int check_node(sim *s, unsigned i, const char *call)
{
    sim_node *nd = &s->node[i];
    char sub[768];
    if (nd->reg && model_check_all(nd->m, nd->reg, sub, sizeof(sub)))
        return fail(s, i, "after %s: %s", call, sub);
    return 0;
}

static int check_rc(sim *s, unsigned i, const char *call, int got, int want)
{
    if (got != want)
        return fail(s, i, "%s returned %d, model %d", call, got, want);
    return 0;
}

/* ---- the library's replication calls --------------------------------------------- */

static int lib_drain(sim_node *nd, uint8_t **buf, size_t *len)
{
    return mcreg_changes_drain(nd->reg, buf, len);
}

static int lib_apply(sim_node *nd, const uint8_t *buf, size_t len, uint64_t now)
{
    return mcreg_changes_apply(nd->reg, buf, len, now);
}

static int lib_digest(const sim_node *nd, uint64_t *d)
{
    return mcreg_state_digest(nd->reg, d);
}

static int lib_tombstones(const sim_node *nd, uint64_t *n)
{
    *n = mcreg_stat(nd->reg, MCREG_STAT_TOMBSTONES);
    return 0;
}

/* ---- local calls --------------------------------------------------------------- */

static void lib_binding(const model_binding *b, mcreg_binding *lb, char *contact, char *call_id)
{
    memset(lb, 0, sizeof(*lb));
    lb->user_id = user_names[b->user];
    lb->ue_id = ue_names[b->ue];
    lb->contact = b->contact ? val_contact(NULL, b->contact, contact, 64) : NULL;
    lb->call_id = b->call_id ? val_call_id(NULL, b->call_id, call_id, 64) : NULL;
    lb->cseq = b->cseq;
    lb->expires_s = b->expires_s;
    if (b->settings)
        lb->n_settings = val_settings(NULL, b->settings, &lb->settings);
}

static int op_register(sim *s, unsigned i, uint64_t now)
{
    sim_node *nd = &s->node[i];
    model_binding b = {.user = (uint32_t)rnd(s, SIM_USERS), .ue = (uint32_t)rnd(s, SIM_UES)};
    const model_record *r = model_find(nd->m, b.user, b.ue);
    b.contact = (uint32_t)rnd(s, SIM_CONTACTS + 1);
    b.settings = (uint32_t)rnd(s, 3);
    if (r && r->call_id && rnd(s, 10) < 8) {
        b.call_id = r->call_id;
        b.cseq = r->cseq + (rnd(s, 12) ? 1 : 0); /* now and then stale */
    } else {
        b.call_id = rnd(s, 8) ? ++s->next_call_id : 0;
        b.cseq = 1 + (uint32_t)rnd(s, 100);
    }
    /* expires 0 (a removal), short (a shortened refresh), long, above the cap */
    b.expires_s = rnd(s, 8) == 0 ? 0 : 1 + (uint32_t)rnd(s, SIM_EXPIRES_ASK);
    mcreg_outcome mo = (mcreg_outcome)-1, lo = (mcreg_outcome)-1;
    int mrc = model_register(nd->m, &b, now, &mo);
    trace(s, i, "register(user%" PRIu32 ", ue%" PRIu32 ", expires %" PRIu32 ", call-id %" PRIu32
          ", cseq %" PRIu32 ") -> %d", b.user, b.ue, b.expires_s, b.call_id, b.cseq, mrc);
    if (!nd->reg)
        return 0;
    char contact[64], call_id[64];
    mcreg_binding lb;
    lib_binding(&b, &lb, contact, call_id);
    int lrc = mcreg_register(nd->reg, &lb, now, &lo);
    if (check_rc(s, i, "register", lrc, mrc))
        return -1;
    if (mrc == MCREG_OK && lo != mo)
        return fail(s, i, "register outcome %d, model %d", (int)lo, (int)mo);
    return check_events(s, i, 0, "register");
}

static int op_deregister(sim *s, unsigned i, uint64_t now)
{
    sim_node *nd = &s->node[i];
    uint32_t u = (uint32_t)rnd(s, SIM_USERS), x = (uint32_t)rnd(s, SIM_UES);
    int mrc = model_deregister_at(nd->m, u, x, now);
    trace(s, i, "deregister(user%" PRIu32 ", ue%" PRIu32 ") -> %d", u, x, mrc);
    if (!nd->reg)
        return 0;
    int lrc = mcreg_deregister(nd->reg, user_names[u], ue_names[x], now);
    return check_rc(s, i, "deregister", lrc, mrc) || check_events(s, i, 0, "deregister");
}

static int op_deregister_user(sim *s, unsigned i, uint64_t now)
{
    sim_node *nd = &s->node[i];
    uint32_t u = (uint32_t)rnd(s, SIM_USERS);
    size_t mn = 0, ln = 0;
    int mrc = model_deregister_user_at(nd->m, u, now, &mn);
    trace(s, i, "deregister_user(user%" PRIu32 ") -> %d", u, mrc);
    if (!nd->reg)
        return 0;
    int lrc = mcreg_deregister_user(nd->reg, user_names[u], now, &ln);
    if (check_rc(s, i, "deregister_user", lrc, mrc))
        return -1;
    if (mrc == MCREG_OK && ln != mn)
        return fail(s, i, "deregister_user removed %zu, model %zu", ln, mn);
    return check_events(s, i, 0, "deregister_user");
}

static int op_limit(sim *s, unsigned i)
{
    sim_node *nd = &s->node[i];
    uint32_t u = (uint32_t)rnd(s, SIM_USERS);
    if (rnd(s, 3) == 0) {
        int mrc = model_clear_user_max_ues(nd->m, u);
        trace(s, i, "clear_user_max_ues(user%" PRIu32 ") -> %d", u, mrc);
        if (!nd->reg)
            return 0;
        int lrc = mcreg_clear_user_max_ues(nd->reg, user_names[u]);
        return check_rc(s, i, "clear_user_max_ues", lrc, mrc) ||
               check_events(s, i, 0, "clear_user_max_ues");
    }
    uint32_t max = 1 + (uint32_t)rnd(s, 3);
    int mrc = model_set_user_max_ues(nd->m, u, max);
    trace(s, i, "set_user_max_ues(user%" PRIu32 ", %" PRIu32 ") -> %d", u, max, mrc);
    if (!nd->reg)
        return 0;
    int lrc = mcreg_set_user_max_ues(nd->reg, user_names[u], max);
    return check_rc(s, i, "set_user_max_ues", lrc, mrc) ||
           check_events(s, i, 0, "set_user_max_ues");
}

static int check_tombstones(sim *s, unsigned i)
{
    sim_node *nd = &s->node[i];
    uint64_t n = 0;
    if (!nd->reg || lib_tombstones(nd, &n) != 0)
        return 0;
    if (n != model_tombstone_count(nd->m))
        return fail(s, i, "MCREG_STAT_TOMBSTONES %" PRIu64 ", model %zu", n,
                    model_tombstone_count(nd->m));
    return 0;
}

static int op_expire(sim *s, unsigned i, uint64_t now)
{
    sim_node *nd = &s->node[i];
    size_t mn = 0, ln = 0;
    int mrc = model_expire(nd->m, now, &mn);
    trace(s, i, "expire(%" PRIu64 ") -> %zu", now, mn);
    s->st->expired += mn;
    if (!nd->reg)
        return 0;
    int lrc = mcreg_expire(nd->reg, now, &ln);
    if (check_rc(s, i, "expire", lrc, mrc))
        return -1;
    if (ln != mn)
        return fail(s, i, "expire removed %zu, model %zu", ln, mn);
    return check_events(s, i, 0, "expire") || check_tombstones(s, i);
}

static int op_local(sim *s, unsigned i)
{
    uint64_t now = node_now(s, i);
    uint64_t k = rnd(s, 100);
    int rc;
    const char *call;
    s->st->local_calls++;
    if (k < 55) {
        rc = op_register(s, i, now);
        call = "register";
    } else if (k < 67) {
        rc = op_deregister(s, i, now);
        call = "deregister";
    } else if (k < 72) {
        rc = op_deregister_user(s, i, now);
        call = "deregister_user";
    } else if (k < 80) {
        rc = op_limit(s, i);
        call = "a limit change";
    } else {
        rc = op_expire(s, i, now);
        call = "expire";
    }
    return rc ? rc : check_node(s, i, call);
}

/* ---- messages ------------------------------------------------------------------ */

static void msg_free(sim *s, size_t k)
{
    sim_msg *mg = &s->pool[k];
    model_buffer_free(&mg->mb);
    free(mg->bytes);
    s->pool[k] = s->pool[--s->pool_n];
}

static int deliver(sim *s, unsigned i, const uint8_t *bytes, size_t len, const model_buffer *mb,
                   int dup, const char *what);

/* Counts as lost when some node never got it; without snapshot merges
 * (nothing to repair a loss) the missing nodes get it first. */
static int msg_drop(sim *s, size_t k)
{
    if (s->cfg.no_snapshots)
        for (unsigned j = 0; j < s->n; j++)
            if (!s->pool[k].got[j]) {
                if (deliver(s, j, s->pool[k].bytes, s->pool[k].len, &s->pool[k].mb, 0,
                            "changes_apply (before it leaves)"))
                    return -1;
                s->pool[k].got[j] = 1;
            }
    for (unsigned j = 0; j < s->n; j++)
        if (!s->pool[k].got[j]) {
            s->st->lost++;
            break;
        }
    msg_free(s, k);
    return 0;
}

/* Whether the change can still matter at `now`: a limit, or an entry
 * before its horizon. */
static int change_alive(const model_change *c, uint64_t now)
{
    for (size_t k = 0; k < c->n; k++) {
        const model_entry *e = &c->e[k];
        if (e->kind == MODEL_LIMIT || (e->version.stamp >> 16) + 1000u * SIM_MAX_EXPIRES > now)
            return 1;
    }
    return 0;
}

static void log_changes(sim *s, const model_buffer *mb)
{
    for (size_t k = 0; k < mb->n; k++) {
        model_buffer one = {&mb->c[k], 1};
        model_buffer_flatten(&one, &s->log);
    }
    if (s->log.n < 4096)
        return;
    /* forget what no node can apply any more: every node's now is at
     * least t - SIM_SKEW from here on */
    size_t w = 0;
    for (size_t k = 0; k < s->log.n; k++) {
        if (change_alive(&s->log.c[k], s->t - SIM_SKEW))
            s->log.c[w++] = s->log.c[k];
        else
            free(s->log.c[k].e);
    }
    s->log.n = w;
}

static int op_drain(sim *s, unsigned i)
{
    sim_node *nd = &s->node[i];
    model_buffer mb = {NULL, 0};
    uint8_t *lbuf = NULL;
    size_t llen = 0;
    int mrc = model_changes_drain(nd->m, &mb);
    if (nd->reg) {
        int lrc = lib_drain(nd, &lbuf, &llen);
        if (check_rc(s, i, "changes_drain", lrc, mrc)) {
            model_buffer_free(&mb);
            if (lrc == MCREG_OK)
                mcreg_buffer_free(nd->reg, lbuf);
            return -1;
        }
    }
    if (mrc != MCREG_OK)
        return 0;
    s->st->drains++;
    log_changes(s, &mb);
    trace(s, i, "drain -> message %" PRIu64, s->st->drains);
    if (s->pool_n == SIM_POOL && msg_drop(s, rnd(s, s->pool_n)))
        return -1;
    sim_msg *mg = &s->pool[s->pool_n++];
    memset(mg, 0, sizeof(*mg));
    mg->mb = mb;
    mg->id = s->st->drains;
    if (lbuf) {
        /* the pool outlives the registry's allocator: a copy of our own */
        mg->bytes = malloc(llen ? llen : 1);
        if (!mg->bytes)
            abort();
        memcpy(mg->bytes, lbuf, llen);
        mg->len = llen;
        mcreg_buffer_free(nd->reg, lbuf);
    }
    return 0;
}

/* Applies the bytes and the model's buffer at node i; dup: every entry
 * was applied there before (the digest must not move). */
static int deliver(sim *s, unsigned i, const uint8_t *bytes, size_t len, const model_buffer *mb,
                   int dup, const char *what)
{
    sim_node *nd = &s->node[i];
    uint64_t now = node_now(s, i);
    uint64_t d0 = 0, d1 = 0;
    int mrc = model_changes_apply(nd->m, mb, now);
    trace(s, i, "%s (%zu bytes)", what, len);
    if (!nd->reg)
        return 0;
    if (dup && lib_digest(nd, &d0) != MCREG_OK)
        return fail(s, i, "state_digest failed");
    int lrc = lib_apply(nd, bytes, len, now);
    if (check_rc(s, i, what, lrc, mrc) || check_events(s, i, 1, what) || check_node(s, i, what))
        return -1;
    if (dup && (lib_digest(nd, &d1) != MCREG_OK || d1 != d0))
        return fail(s, i, "%s: a duplicate moved the digest %016" PRIx64 " -> %016" PRIx64, what,
                    d0, d1);
    return 0;
}

static void buffer_append(model_buffer *dst, const model_buffer *src)
{
    for (size_t k = 0; k < src->n; k++) {
        model_buffer one = {&src->c[k], 1};
        model_buffer_flatten(&one, dst);
    }
}

static int op_deliver(sim *s)
{
    if (s->pool_n == 0)
        return 0;
    size_t k = rnd(s, s->pool_n);
    unsigned i = (unsigned)rnd(s, s->n);
    sim_msg *mg = &s->pool[k];
    int rc;
    if (s->pool_n > 1 && rnd(s, 6) == 0) {
        /* two buffers back to back, as a journal holds them */
        size_t k2 = rnd(s, s->pool_n);
        sim_msg *m2 = &s->pool[k2];
        if (k2 == k)
            return 0;
        size_t len = mg->len + m2->len;
        uint8_t *cat = malloc(len ? len : 1);
        if (!cat)
            abort();
        if (mg->len)
            memcpy(cat, mg->bytes, mg->len);
        if (m2->len)
            memcpy(cat + mg->len, m2->bytes, m2->len);
        model_buffer mb = {NULL, 0};
        buffer_append(&mb, &mg->mb);
        buffer_append(&mb, &m2->mb);
        int dup = mg->got[i] && m2->got[i];
        trace(s, i, "messages %" PRIu64 " + %" PRIu64 ":", mg->id, m2->id);
        rc = deliver(s, i, cat, len, &mb, dup, "changes_apply(journal of two)");
        model_buffer_free(&mb);
        free(cat);
        mg->got[i] = m2->got[i] = 1;
    } else {
        int dup = mg->got[i];
        s->st->duplicates += (uint64_t)dup;
        trace(s, i, "message %" PRIu64 ":", mg->id);
        rc = deliver(s, i, mg->bytes, mg->len, &mg->mb, dup, "changes_apply");
        mg->got[i] = 1;
    }
    s->st->deliveries++;
    if (rc == 0 && rnd(s, 4) == 0)
        rc = msg_drop(s, k); /* gone from the network, reached every node or not */
    return rc;
}

/* Node i merges node j's snapshot. */
static int merge_snapshot(sim *s, unsigned i, unsigned j)
{
    model_buffer mb = {NULL, 0};
    model_snapshot_entries(s->node[j].m, &mb);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (s->node[j].reg && mcreg_snapshot(s->node[j].reg, &buf, &len) != MCREG_OK) {
        model_buffer_free(&mb);
        return fail(s, j, "snapshot failed");
    }
    int rc = deliver(s, i, buf, len, &mb, 0, "changes_apply(a peer's snapshot)");
    if (buf)
        mcreg_buffer_free(s->node[j].reg, buf);
    model_buffer_free(&mb);
    s->st->merges++;
    return rc;
}

static int op_merge(sim *s)
{
    unsigned i = (unsigned)rnd(s, s->n), j = (unsigned)rnd(s, s->n);
    return i == j || s->cfg.no_snapshots ? 0 : merge_snapshot(s, i, j);
}

/* ---- setup and the end ------------------------------------------------------------ */

static int sim_setup(sim *s)
{
    names_init();
    s->n = 3 + (unsigned)rnd(s, 3);
    s->st->nodes = s->n;
    static const mcreg_limit_policy pols[] = {MCREG_LIMIT_REJECT, MCREG_LIMIT_EVICT_OLDEST,
                                              MCREG_LIMIT_EVICT_SOONEST};
    static const mcreg_notify_policy nots[] = {MCREG_NOTIFY_ALL, MCREG_NOTIFY_NEW_UE,
                                               MCREG_NOTIFY_NONE};
    s->opt.max_ues = rnd(s, 3) ? 0 : 3;
    s->opt.policy = pols[rnd(s, 3)];
    s->opt.notify = nots[rnd(s, 5) == 0 ? 2 : rnd(s, 2)];
    s->opt.notify_logoff = (int)rnd(s, 2);
    s->opt.shared_ues = rnd(s, 5) == 0;
    s->opt.max_expires = SIM_MAX_EXPIRES;
    s->t = 1000000 + rnd(s, 1000000);
    model_values mv = {NULL, val_user, val_ue, val_contact, val_call_id, val_settings};
    for (unsigned i = 0; i < s->n; i++) {
        sim_node *nd = &s->node[i];
        model_options mo = s->opt;
        /* node ids far apart and in no particular order */
        mo.node_id = 1 + (test_rng_next(&s->rng) >> 20) * SIM_MAX_NODES + i;
        nd->skew = (int64_t)rnd(s, 2 * SIM_SKEW + 1) - SIM_SKEW;
        nd->m = model_new(&mo, &mv);
        if (!nd->m)
            abort();
        if (!s->cfg.use_lib)
            continue;
        mcreg_options *o = NULL;
        if (mcreg_options_new(&o) != MCREG_OK)
            return fail(s, i, "options_new failed");
        model_options_apply(&mo, o);
        mcreg_options_set_hash_seed(o, s->cfg.seed ^ i);
        mcreg_options_set_event_callback(o, on_event, nd);
        int rc = mcreg_registry_new(&nd->reg, o);
        mcreg_options_free(o);
        if (rc != MCREG_OK)
            return fail(s, i, "registry_new: %d", rc);
    }
    return 0;
}

static void sim_free(sim *s)
{
    while (s->pool_n)
        msg_free(s, 0);
    model_buffer_free(&s->log);
    for (unsigned i = 0; i < s->n; i++) {
        model_free(s->node[i].m);
        if (s->node[i].reg)
            mcreg_registry_free(s->node[i].reg);
        lines_free(&s->node[i].ev);
    }
}

static int entry_cmp(const void *pa, const void *pb)
{
    const model_entry *a = pa, *b = pb;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->user != b->user)
        return a->user < b->user ? -1 : 1;
    if (a->ue != b->ue)
        return a->ue < b->ue ? -1 : 1;
    return 0;
}

static int entry_same(const model_entry *a, const model_entry *b)
{
    if (a->kind != b->kind || a->user != b->user || a->ue != b->ue ||
        model_version_cmp(a->version, b->version) != 0)
        return 0;
    if (a->kind == MODEL_LIMIT)
        return a->has_limit == b->has_limit && a->limit == b->limit;
    if (a->kind == MODEL_UE_HIGH)
        return 1;
    if (model_version_cmp(a->logon, b->logon) != 0)
        return 0;
    return a->kind != MODEL_PUT || memcmp(&a->rec, &b->rec, sizeof(a->rec)) == 0;
}

/* The model nodes' replicated states, entry by entry. */
static int check_models_converged(sim *s)
{
    model_buffer ref = {NULL, 0};
    model_snapshot_entries(s->node[0].m, &ref);
    s->st->final_entries = ref.c[0].n;
    s->st->final_records = model_record_count(s->node[0].m);
    if (ref.c[0].n)
        qsort(ref.c[0].e, ref.c[0].n, sizeof(model_entry), entry_cmp);
    int rc = 0;
    for (unsigned i = 1; i < s->n && rc == 0; i++) {
        model_buffer b = {NULL, 0};
        model_snapshot_entries(s->node[i].m, &b);
        if (b.c[0].n)
            qsort(b.c[0].e, b.c[0].n, sizeof(model_entry), entry_cmp);
        if (b.c[0].n != ref.c[0].n)
            rc = fail(s, i, "the end: the model holds %zu entries, node 0's %zu", b.c[0].n,
                      ref.c[0].n);
        for (size_t k = 0; rc == 0 && k < b.c[0].n; k++)
            if (!entry_same(&b.c[0].e[k], &ref.c[0].e[k]))
                rc = fail(s, i, "the end: model entry %zu (kind %d, user %" PRIu32 ", ue %" PRIu32
                          ") differs from node 0's", k, (int)b.c[0].e[k].kind, b.c[0].e[k].user,
                          b.c[0].e[k].ue);
        model_buffer_free(&b);
    }
    model_buffer_free(&ref);
    return rc;
}

static int check_libs_converged(sim *s)
{
    if (!s->node[0].reg)
        return 0;
    uint64_t d0 = 0;
    uint8_t *b0 = NULL;
    size_t l0 = 0;
    if (lib_digest(&s->node[0], &d0) != MCREG_OK ||
        mcreg_snapshot(s->node[0].reg, &b0, &l0) != MCREG_OK)
        return fail(s, 0, "the end: digest or snapshot failed");
    int rc = 0;
    for (unsigned i = 1; i < s->n && rc == 0; i++) {
        uint64_t d = 0;
        uint8_t *b = NULL;
        size_t l = 0;
        if (lib_digest(&s->node[i], &d) != MCREG_OK ||
            mcreg_snapshot(s->node[i].reg, &b, &l) != MCREG_OK) {
            rc = fail(s, i, "the end: digest or snapshot failed");
            break;
        }
        if (d != d0)
            rc = fail(s, i, "the end: digest %016" PRIx64 ", node 0's %016" PRIx64, d, d0);
        else if (l != l0 || memcmp(b, b0, l) != 0)
            rc = fail(s, i, "the end: snapshot of %zu bytes differs from node 0's (%zu)", l, l0);
        mcreg_buffer_free(s->node[i].reg, b);
    }
    mcreg_buffer_free(s->node[0].reg, b0);
    return rc;
}

/* A fresh model node gets every change ever drained, one call each, in an
 * order of its own, all at the end's now: it must hold the state the
 * cluster converged to (the state is a function of the set of entries). */
static int check_witness(sim *s)
{
    model_options mo = s->opt;
    mo.node_id = UINT64_MAX;
    model_values mv = {NULL, val_user, val_ue, val_contact, val_call_id, val_settings};
    model *w = model_new(&mo, &mv);
    if (!w)
        abort();
    size_t n = s->log.n;
    size_t *order = malloc((n ? n : 1) * sizeof(*order));
    if (!order)
        abort();
    for (size_t k = 0; k < n; k++)
        order[k] = k;
    for (size_t k = n; k > 1; k--) {
        size_t j = rnd(s, k), tmp = order[k - 1];
        order[k - 1] = order[j];
        order[j] = tmp;
    }
    for (size_t k = 0; k < n; k++) {
        model_buffer one = {&s->log.c[order[k]], 1};
        model_changes_apply(w, &one, s->t);
    }
    free(order);
    size_t expired = 0;
    model_expire(w, s->t, &expired);
    model *keep = s->node[0].m;
    s->node[0].m = w;
    int rc = check_models_converged(s);
    s->node[0].m = keep;
    model_free(w);
    return rc;
}

/* Every message to every node, every snapshot to every node, one expiry. */
static int sim_finish(sim *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (op_drain(s, i))
            return -1;
    while (s->pool_n) {
        size_t k = rnd(s, s->pool_n);
        for (unsigned i = 0; i < s->n; i++) {
            unsigned j = (i + (unsigned)k) % s->n;
            if (deliver(s, j, s->pool[k].bytes, s->pool[k].len, &s->pool[k].mb,
                        s->pool[k].got[j], "changes_apply (the end)"))
                return -1;
        }
        msg_free(s, k);
    }
    for (unsigned i = 0; i < s->n; i++)
        for (unsigned j = 0; j < s->n; j++)
            if (i != j && !s->cfg.no_snapshots && merge_snapshot(s, i, j))
                return -1;
    s->t += 2 * SIM_SKEW + 1;
    for (unsigned i = 0; i < s->n; i++) {
        s->node[i].skew = 0;
        if (op_expire(s, i, s->t) || check_node(s, i, "expire (the end)"))
            return -1;
    }
    return check_models_converged(s) || check_witness(s) || check_libs_converged(s) ? -1 : 0;
}

int repl_sim_run(const repl_sim_config *cfg, repl_sim_stats *st, char *why, size_t cap)
{
    static sim S;
    sim *s = &S;
    repl_sim_stats local;
    memset(s, 0, sizeof(*s));
    memset(&local, 0, sizeof(local));
    s->cfg = *cfg;
    s->st = st ? st : &local;
    memset(s->st, 0, sizeof(*s->st));
    s->why = why;
    s->cap = cap;
    if (cap)
        why[0] = '\0';
    test_rng_seed(&s->rng, cfg->seed);
    const char *tr = getenv("MCREG_REPL_TRACE");
    s->trace = tr && *tr && *tr != '0';
    int rc = sim_setup(s);
    for (s->step = 1; rc == 0 && s->step <= s->cfg.steps; s->step++) {
        /* the clock: mostly small steps, now and then past a horizon */
        s->t += rnd(s, 300) ? rnd(s, 200) : rnd(s, 2000 * SIM_MAX_EXPIRES);
        uint64_t k = rnd(s, 100);
        if (k < 50)
            rc = op_local(s, (unsigned)rnd(s, s->n));
        else if (k < 62)
            rc = op_drain(s, (unsigned)rnd(s, s->n));
        else if (k < 96)
            rc = op_deliver(s);
        else
            rc = op_merge(s);
    }
    if (rc == 0)
        rc = sim_finish(s);
    sim_free(s);
    return rc ? -1 : 0;
}
