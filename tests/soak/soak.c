/* mcreg-soak: a long randomized run of the public API against a reference
 * model, with the library's memory measured through a counting allocator.
 *
 * Environment (all optional):
 *   SOAK_OPS     operations (default 10000000)
 *   SOAK_USERS   users (default 100000); each has 4 home UEs
 *   SOAK_SEED    PRNG seed (default 1); also the registry's hash seed
 *   SOAK_POLICY  limit policy for the per-user limits: oldest (default),
 *                soonest or reject
 *   SOAK_LOGOFF  1: NOTIFY_LOGOFF on (default 0, the registry's default)
 *
 * Every other option is the registry's default (UE exclusive on, notify
 * logon ALL, no registry-wide UE limit). About 10% of the users get a UE
 * limit of their own, set and cleared as the run goes.
 *
 * The run starts with a registration storm (see storm()): every UE of every
 * user registers once, so the registry holds about the most records it can
 * ever hold at the start. Those records lapse or are refreshed over the
 * first 7200 s of the clock.
 *
 * Each operation: the clock moves forward by a random step (10 ms on average
 * for 100000 users: every 100000 operations take 1000 s of the clock), then
 * one call drawn at random for a random user: register a new record at one
 * of the user's UEs, refresh one of its records (same Call-ID, higher CSeq,
 * a new expiry, sometimes a new contact or settings), deregister (expires 0,
 * mcreg_deregister, now and then mcreg_deregister_user), take over another
 * user's UE, a stale request, an invalid one, or a change of the user's
 * limit. Expiries are mostly 600..7200 s, so records lapse about as often
 * as they are refreshed and the population settles. Now and then, as a host
 * with a timer would, the program asks mcreg_next_expiry and calls
 * mcreg_expire when it is due.
 *
 * The model (tests/model/) predicts every call's return code, outcome and
 * the exact sequence of events; the event callback checks each event as it
 * arrives (type, ids, the record's fields, recipients and other UEs, that a
 * removed pair is gone and an EXPIRED record was due). A call that fails
 * must leave the live bytes and blocks of the allocator as they were.
 * After every call the touched pair and the record count are compared.
 * Every SOAK_OPS/100 operations a checkpoint compares the counts and the
 * next expiry and prints a line; every 10th checkpoint, and the last, is a
 * full comparison (every record through mcreg_find and mcreg_find_ue with
 * every field, every user's count, limit and mcreg_user_foreach order,
 * mcreg_foreach and mcreg_limit_foreach).
 *
 * At the end: snapshot, restore into a second registry, compare both with
 * the model and the two snapshots byte for byte; then the memory checks
 * described at check_memory_creep() and check_memory_return().
 *
 * Any disagreement prints "FAIL op N [phase] call: what" (op 0 is the
 * storm) and makes the exit status 1; after 100 the run stops. The same
 * SOAK_SEED, SOAK_USERS and SOAK_OPS replay the same run.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "rc_name.h"
#include "soak.h"

#define MAX_FAILURES 100
#define N_EVENT_TYPES 10
/* Expiries: mostly EXP_LO..EXP_HI seconds. */
#define EXP_LO 600u
#define EXP_HI 7200u
/* The expiry of records put back by the memory checks: nothing falls due. */
#define EXP_KEEP 86400u
/* A user with this many records takes over no further UE. */
#define TAKEOVER_MAX 6u
/* No creep: the same set of records may take at most this much more. */
#define CREEP_LIMIT 0.10

enum op_kind {
    OP_HOME,       /* register at one of the user's UEs: create or refresh */
    OP_REFRESH,    /* refresh one of the user's records */
    OP_DEREG0,     /* register with expires 0 */
    OP_DEREG,      /* mcreg_deregister */
    OP_DEREG_USER, /* mcreg_deregister_user */
    OP_STALE,      /* same Call-ID, CSeq not greater */
    OP_INVALID,    /* invalid arguments */
    OP_TAKEOVER,   /* register at another user's UE */
    OP_LIMIT_SET,
    OP_LIMIT_CLEAR,
    N_OPS
};
static const char *const op_names[N_OPS] = {
    "register(home UE)", "refresh", "register(expires 0)", "deregister", "deregister_user",
    "stale", "invalid", "takeover", "set_user_max_ues", "clear_user_max_ues"};

/* Results of every mcreg_register call, by what happened. */
enum reg_result { R_CREATED, R_REFRESHED, R_REMOVED, R_STALE, R_LIMIT, R_NOT_FOUND, R_INVALID,
                  R_OTHER, N_RESULTS };
static const char *const result_names[N_RESULTS] = {
    "created", "refreshed", "removed", "stale", "limit", "not_found", "invalid", "other"};

typedef struct soak_stats {
    uint64_t op_count[N_OPS];
    uint64_t reg_results[N_RESULTS];
    uint64_t ev_total;
    uint64_t ev_count[N_EVENT_TYPES + 1];
    uint64_t busy_checks;
    uint64_t next_expiry_calls, expire_calls, expired_records;
    uint64_t invalid_calls, spot_checks, full_checks;
    double full_seconds;
} soak_stats;

typedef struct soak {
    /* configuration */
    uint64_t ops, seed;
    uint32_t users;
    uint64_t step_max; /* clock step: 0..step_max ms */
    /* the registry under test */
    mcreg_registry *reg;
    soak_alloc alloc;
    size_t fresh_bytes, fresh_blocks;
    soak_ids ids;
    model *m;
    test_rng rng;
    uint64_t now, start_now;
    /* the call being made, for messages */
    uint64_t op;
    const char *phase;
    const char *call;
    model_binding b;
    int has_b;
    /* event checking */
    mcreg_registry *ev_reg; /* the registry whose events are expected */
    size_t ev_pos;
    soak_stats st;
    uint64_t failures;
} soak;

/* ---- the model's values ----------------------------------------------------- */

/* Users and UEs are the numbers of soak_ids; contacts and Call-IDs the
 * numbers of soak_contact() and soak_call_id(); a record's settings the
 * seed of soak_settings_gen(). */
static const char *value_user(void *ud, uint32_t u)
{
    return soak_user(ud, u);
}

static const char *value_ue(void *ud, uint32_t x)
{
    return soak_ue(ud, x);
}

static const char *value_contact(void *ud, uint32_t c, char *buf, size_t cap)
{
    (void)ud, (void)cap; /* cap >= SOAK_STR_MAX */
    soak_contact(c, buf);
    return buf;
}

static const char *value_call_id(void *ud, uint32_t c, char *buf, size_t cap)
{
    (void)ud, (void)cap;
    soak_call_id(c, buf);
    return buf;
}

static size_t value_settings(void *ud, uint32_t seed, const mcreg_setting **out)
{
    static soak_settings set; /* large: not on the stack */
    (void)ud;
    soak_settings_gen(seed, &set);
    *out = set.s;
    return set.n;
}

static model_binding binding(uint32_t u, uint32_t x, uint32_t contact, uint32_t call_id,
                             uint32_t cseq, uint32_t expires_s, uint32_t settings)
{
    model_binding b = {.user = u, .ue = x, .contact = contact, .call_id = call_id,
                       .settings = settings, .cseq = cseq, .expires_s = expires_s};
    return b;
}

/* ---- reporting ------------------------------------------------------------ */

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void describe(const soak *S, char *buf, size_t cap)
{
    if (!S->call) {
        snprintf(buf, cap, "-");
        return;
    }
    if (!S->has_b) {
        snprintf(buf, cap, "%s now=%" PRIu64, S->call, S->now);
        return;
    }
    const model_binding *b = &S->b;
    snprintf(buf, cap,
             "%s(%s, %s, contact=%" PRIu32 ", call=%" PRIu32 ", cseq=%" PRIu32
             ", expires=%" PRIu32 ", settings=%" PRIu32 ") now=%" PRIu64,
             S->call, soak_user(&S->ids, b->user), soak_ue(&S->ids, b->ue), b->contact, b->call_id,
             b->cseq, b->expires_s, b->settings, S->now);
}

static void failf(soak *S, const char *fmt, ...)
{
    S->failures++;
    if (S->failures <= MAX_FAILURES) {
        char d[512];
        describe(S, d, sizeof(d));
        printf("FAIL op %" PRIu64 " [%s] %s: ", S->op, S->phase, d);
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
    }
    if (S->failures == MAX_FAILURES) {
        printf("FAIL: %d failures, stopping (seed %" PRIu64 ")\n", MAX_FAILURES, S->seed);
        exit(1);
    }
}

static const char *str_or_null(const char *s)
{
    return s ? s : "(null)";
}

/* ---- comparing with the model -------------------------------------------- */

/* The pair (u, x) in reg against the model: present with equal fields, or
 * absent. */
static void check_pair(soak *S, const mcreg_registry *reg, uint32_t u, uint32_t x)
{
    char why[512];
    S->st.spot_checks++;
    if (model_check_pair(S->m, reg, u, x, why, sizeof(why)))
        failf(S, "%s", why);
}

/* ---- the event callback ------------------------------------------------------ */

/* A mutating call from inside a callback must give MCREG_ERR_BUSY and
 * change nothing; tried on every 4096th event. */
static void try_busy(soak *S, const mcreg_event *ev)
{
    S->st.busy_checks++;
    int rc = mcreg_deregister(ev->registry, ev->user_id, ev->ue_id, ev->at_ms);
    if (rc != MCREG_ERR_BUSY)
        failf(S, "mcreg_deregister from a callback: %d (%s), want BUSY", rc, test_rc_name(rc));
    rc = mcreg_expire(ev->registry, UINT64_MAX, NULL);
    if (rc != MCREG_ERR_BUSY)
        failf(S, "mcreg_expire from a callback: %d (%s), want BUSY", rc, test_rc_name(rc));
    mcreg_binding b;
    memset(&b, 0, sizeof(b));
    b.user_id = ev->user_id;
    b.ue_id = ev->ue_id;
    b.expires_s = 60;
    rc = mcreg_register(ev->registry, &b, ev->at_ms, NULL);
    if (rc != MCREG_ERR_BUSY)
        failf(S, "mcreg_register from a callback: %d (%s), want BUSY", rc, test_rc_name(rc));
}

static void check_event(soak *S, const mcreg_event *ev)
{
    if (S->ev_pos >= model_event_count(S->m)) {
        failf(S, "unexpected event %s(%s, %s): the model expects %zu", mcreg_event_name(ev->type),
              str_or_null(ev->user_id), str_or_null(ev->ue_id), model_event_count(S->m));
        return;
    }
    const model_event *w = model_event_at(S->m, S->ev_pos++);
    char why[512];
    if (ev->registry != S->ev_reg)
        failf(S, "%s(%s, %s): the registry differs from the call's", mcreg_event_name(ev->type),
              str_or_null(ev->user_id), str_or_null(ev->ue_id));
    else if (model_check_event(S->m, w, ev, S->now, why, sizeof(why)))
        failf(S, "event %zu: %s", S->ev_pos - 1, why);
}

static void on_event(const mcreg_event *ev, void *ud)
{
    soak *S = ud;
    S->st.ev_total++;
    S->st.ev_count[(unsigned)ev->type < N_EVENT_TYPES ? (unsigned)ev->type : N_EVENT_TYPES]++;
    check_event(S, ev);
    if (S->st.ev_total % 4096 == 0)
        try_busy(S, ev);
}

/* The restored registry emits nothing: restore emits no events, and nothing
 * else is called on it but queries. */
static void on_event_none(const mcreg_event *ev, void *ud)
{
    soak *S = ud;
    failf(S, "event %s(%s, %s) from the restored registry", mcreg_event_name(ev->type),
          str_or_null(ev->user_id), str_or_null(ev->ue_id));
}

/* ---- calls: the model's prediction, the library's answer ------------------------ */

typedef struct call_state {
    size_t bytes, blocks;
} call_state;

static call_state begin_call(soak *S, const char *call, const model_binding *b)
{
    S->call = call;
    S->has_b = b != NULL;
    if (b)
        S->b = *b;
    S->ev_pos = 0;
    call_state cs = {S->alloc.live_bytes, S->alloc.live_blocks};
    return cs;
}

/* The return codes agree, every expected event came, and a failed call left
 * the allocator's live bytes and blocks as they were. */
static void end_call(soak *S, const call_state *cs, int rc, int mrc)
{
    if (rc != mrc)
        failf(S, "rc %d (%s), model %d (%s)", rc, test_rc_name(rc), mrc, test_rc_name(mrc));
    if (S->ev_pos != model_event_count(S->m))
        failf(S, "%zu events, the model expects %zu (next: %s)", S->ev_pos, model_event_count(S->m),
              mcreg_event_name(model_event_at(S->m, S->ev_pos)->type));
    if (rc != MCREG_OK &&
        (S->alloc.live_bytes != cs->bytes || S->alloc.live_blocks != cs->blocks))
        failf(S, "failed with %s but live memory moved: %zu bytes in %zu blocks before, %zu in %zu "
              "after", test_rc_name(rc), cs->bytes, cs->blocks, S->alloc.live_bytes,
              S->alloc.live_blocks);
}

static void count_result(soak *S, int rc, mcreg_outcome out)
{
    enum reg_result r;
    switch (rc) {
    case MCREG_OK:
        r = out == MCREG_CREATED ? R_CREATED : out == MCREG_REFRESHED ? R_REFRESHED : R_REMOVED;
        break;
    case MCREG_ERR_STALE: r = R_STALE; break;
    case MCREG_ERR_LIMIT: r = R_LIMIT; break;
    case MCREG_ERR_NOT_FOUND: r = R_NOT_FOUND; break;
    case MCREG_ERR_INVALID: r = R_INVALID; break;
    default: r = R_OTHER; break;
    }
    S->st.reg_results[r]++;
}

static int do_register(soak *S, const model_binding *b)
{
    static soak_settings set;
    char contact[SOAK_STR_MAX], call[SOAK_STR_MAX];
    mcreg_binding lb;
    memset(&lb, 0, sizeof(lb));
    lb.user_id = soak_user(&S->ids, b->user);
    lb.ue_id = soak_ue(&S->ids, b->ue);
    if (b->contact) {
        soak_contact(b->contact, contact);
        lb.contact = contact;
    }
    if (b->call_id) {
        soak_call_id(b->call_id, call);
        lb.call_id = call;
    }
    lb.cseq = b->cseq;
    lb.expires_s = b->expires_s;
    soak_settings_gen(b->settings, &set);
    lb.settings = set.n ? set.s : NULL;
    lb.n_settings = set.n;

    mcreg_outcome mo = (mcreg_outcome)99, lo = (mcreg_outcome)99;
    int mrc = model_register(S->m, b, S->now, &mo);
    call_state cs = begin_call(S, "register", b);
    int rc = mcreg_register(S->reg, &lb, S->now, &lo);
    end_call(S, &cs, rc, mrc);
    if (rc == MCREG_OK && mrc == MCREG_OK && lo != mo)
        failf(S, "outcome %d, model %d", (int)lo, (int)mo);
    if (rc != MCREG_OK && lo != (mcreg_outcome)99)
        failf(S, "outcome written on error");
    count_result(S, rc, lo);
    check_pair(S, S->reg, b->user, b->ue);
    return rc;
}

static int do_deregister(soak *S, uint32_t u, uint32_t x)
{
    int mrc = model_deregister(S->m, u, x);
    model_binding b = binding(u, x, 0, 0, 0, 0, 0);
    call_state cs = begin_call(S, "deregister", &b);
    int rc = mcreg_deregister(S->reg, soak_user(&S->ids, u), soak_ue(&S->ids, x), S->now);
    end_call(S, &cs, rc, mrc);
    check_pair(S, S->reg, u, x);
    return rc;
}

static int do_deregister_user(soak *S, uint32_t u)
{
    size_t mn = 0, n = 12345;
    int mrc = model_deregister_user(S->m, u, &mn);
    model_binding b = binding(u, u * SOAK_UES_PER_USER, 0, 0, 0, 0, 0);
    call_state cs = begin_call(S, "deregister_user", &b);
    int rc = mcreg_deregister_user(S->reg, soak_user(&S->ids, u), S->now, &n);
    end_call(S, &cs, rc, mrc);
    if (rc == MCREG_OK && n != mn)
        failf(S, "removed %zu, model %zu", n, mn);
    if (mcreg_user_ue_count(S->reg, soak_user(&S->ids, u)) != 0)
        failf(S, "the user still has records");
    return rc;
}

static void do_expire(soak *S)
{
    size_t mn = 0, n = 12345;
    int mrc = model_expire(S->m, S->now, &mn);
    call_state cs = begin_call(S, "expire", NULL);
    int rc = mcreg_expire(S->reg, S->now, &n);
    end_call(S, &cs, rc, mrc);
    if (n != mn)
        failf(S, "expired %zu, model %zu", n, mn);
    S->st.expire_calls++;
    S->st.expired_records += n;
}

/* mcreg_next_expiry against the model; 1 if something is due now. */
static int check_next_expiry(soak *S, const mcreg_registry *reg)
{
    uint64_t at = 0, mat = 0;
    int mrc = model_next_expiry(S->m, &mat);
    int rc = mcreg_next_expiry(reg, &at);
    S->st.next_expiry_calls++;
    if (rc != mrc || (rc == MCREG_OK && at != mat))
        failf(S, "next_expiry %d (%s) %" PRIu64 ", model %d (%s) %" PRIu64, rc, test_rc_name(rc), at,
              mrc, test_rc_name(mrc), mat);
    return mrc == MCREG_OK && mat <= S->now;
}

/* The host's timer. */
static void host_tick(soak *S)
{
    S->call = "next_expiry";
    S->has_b = 0;
    if (check_next_expiry(S, S->reg))
        do_expire(S);
}

static int do_set_limit(soak *S, uint32_t u, uint32_t max)
{
    int mrc = model_set_user_max_ues(S->m, u, max);
    model_binding b = binding(u, u * SOAK_UES_PER_USER, 0, 0, 0, max, 0);
    call_state cs = begin_call(S, "set_user_max_ues(max in expires)", &b);
    int rc = mcreg_set_user_max_ues(S->reg, soak_user(&S->ids, u), max);
    end_call(S, &cs, rc, mrc);
    return rc;
}

static int do_clear_limit(soak *S, uint32_t u)
{
    int mrc = model_clear_user_max_ues(S->m, u);
    model_binding b = binding(u, u * SOAK_UES_PER_USER, 0, 0, 0, 0, 0);
    call_state cs = begin_call(S, "clear_user_max_ues", &b);
    int rc = mcreg_clear_user_max_ues(S->reg, soak_user(&S->ids, u));
    end_call(S, &cs, rc, mrc);
    return rc;
}

/* ---- random operations ----------------------------------------------------------- */

static uint64_t below(soak *S, uint64_t n)
{
    return test_rng_below(&S->rng, n);
}

static uint32_t nonzero32(soak *S)
{
    return 1 + (uint32_t)below(S, UINT32_MAX);
}

static uint32_t random_expires(soak *S)
{
    uint64_t r = below(S, 1000);
    if (r < 900)
        return EXP_LO + (uint32_t)below(S, EXP_HI - EXP_LO + 1);
    if (r < 950)
        return 1 + (uint32_t)below(S, 60);
    if (r < 990)
        return 60 + (uint32_t)below(S, EXP_LO - 60);
    if (r < 999)
        return 3 * 3600 + (uint32_t)below(S, 3 * 3600);
    return below(S, 10) == 0 ? UINT32_MAX : 86400;
}

static uint32_t random_cseq(soak *S)
{
    if (below(S, 100) == 0)
        return UINT32_MAX - (uint32_t)below(S, 3);
    return 1 + (uint32_t)below(S, 100);
}

/* A binding that creates the pair's record. */
static model_binding create_binding(soak *S, uint32_t u, uint32_t x)
{
    model_binding b;
    b.user = u;
    b.ue = x;
    b.contact = below(S, 100) < 85 ? nonzero32(S) : 0;
    b.call_id = below(S, 100) < 90 ? nonzero32(S) : 0;
    b.cseq = random_cseq(S);
    b.expires_s = random_expires(S);
    b.settings = below(S, 100) < 70 ? nonzero32(S) : 0;
    return b;
}

/* A binding that refreshes the existing record w: the same dialog with a
 * higher CSeq as a rule, sometimes a new one or none. */
static model_binding refresh_binding(soak *S, uint32_t u, uint32_t x, const model_record *w)
{
    model_binding b;
    b.user = u;
    b.ue = x;
    uint64_t r = below(S, 100);
    b.contact = r < 70 ? w->contact : r < 85 ? 0 : nonzero32(S);
    r = below(S, 100);
    if (w->call_id && r < 90) {
        if (w->cseq <= UINT32_MAX - 3) {
            b.call_id = w->call_id;
            b.cseq = w->cseq + 1 + (uint32_t)below(S, 3);
        } else {
            b.call_id = nonzero32(S);
            b.cseq = 1;
        }
    } else if (r < 97) {
        b.call_id = nonzero32(S);
        b.cseq = random_cseq(S);
    } else {
        b.call_id = 0;
        b.cseq = random_cseq(S);
    }
    b.expires_s = random_expires(S);
    r = below(S, 100);
    b.settings = r < 75 ? w->settings : r < 90 ? nonzero32(S) : 0;
    return b;
}

/* Register at x for u: refresh if u holds x, else create. */
static void register_at(soak *S, uint32_t u, uint32_t x)
{
    const model_record *w = model_find(S->m, u, x);
    model_binding b = w ? refresh_binding(S, u, x, w) : create_binding(S, u, x);
    do_register(S, &b);
}

static void op_home(soak *S, uint32_t u)
{
    register_at(S, u, u * SOAK_UES_PER_USER + (uint32_t)below(S, SOAK_UES_PER_USER));
}

/* One of u's records, or -1. */
static int64_t pick_record(soak *S, uint32_t u)
{
    const model_record *recs[TAKEOVER_MAX + SOAK_UES_PER_USER];
    size_t n = model_user_records(S->m, u, recs, sizeof(recs) / sizeof(recs[0]));
    return n ? (int64_t)recs[below(S, n)]->ue : -1;
}

static void op_refresh(soak *S, uint32_t u)
{
    int64_t x = pick_record(S, u);
    if (x < 0) {
        op_home(S, u);
        return;
    }
    register_at(S, u, (uint32_t)x);
}

static void op_dereg0(soak *S, uint32_t u)
{
    int64_t x = pick_record(S, u);
    model_binding b;
    memset(&b, 0, sizeof(b));
    b.user = u;
    if (x >= 0) {
        const model_record *w = model_find(S->m, u, (uint32_t)x);
        b.ue = (uint32_t)x;
        if (w->call_id && w->cseq < UINT32_MAX && below(S, 10)) {
            b.call_id = w->call_id;
            b.cseq = w->cseq + 1;
        }
    } else {
        b.ue = u * SOAK_UES_PER_USER + (uint32_t)below(S, SOAK_UES_PER_USER);
        b.call_id = nonzero32(S);
        b.cseq = 1;
    }
    do_register(S, &b); /* REMOVED, or NOT_FOUND */
}

static void op_dereg(soak *S, uint32_t u)
{
    int64_t x = below(S, 10) < 7 ? pick_record(S, u) : -1;
    if (x < 0)
        x = u * SOAK_UES_PER_USER + (uint32_t)below(S, SOAK_UES_PER_USER);
    do_deregister(S, u, (uint32_t)x);
}

static void op_stale(soak *S, uint32_t u)
{
    const model_record *recs[TAKEOVER_MAX + SOAK_UES_PER_USER];
    size_t n = model_user_records(S->m, u, recs, sizeof(recs) / sizeof(recs[0]));
    int64_t x = -1;
    for (size_t i = 0; i < n && x < 0; i++)
        if (recs[i]->call_id)
            x = recs[i]->ue;
    if (x < 0) {
        op_home(S, u);
        return;
    }
    const model_record *w = model_find(S->m, u, (uint32_t)x);
    model_binding b = create_binding(S, u, (uint32_t)x);
    b.call_id = w->call_id;
    uint32_t back = (uint32_t)below(S, w->cseq < 2 ? w->cseq + 1 : 3);
    b.cseq = w->cseq - back;
    if (below(S, 5) == 0)
        b.expires_s = 0;
    do_register(S, &b); /* STALE */
}

static void op_takeover(soak *S, uint32_t u)
{
    if (S->users < 2 || model_user_ue_count(S->m, u) >= TAKEOVER_MAX) {
        op_refresh(S, u);
        return;
    }
    uint32_t v = (u + 1 + (uint32_t)below(S, S->users - 1)) % S->users;
    register_at(S, u, v * SOAK_UES_PER_USER + (uint32_t)below(S, SOAK_UES_PER_USER));
}

/* A user's own UE limit: 1..4, or now and then 0 (unlimited, but still
 * the user's own: it overrides the registry's). */
static uint32_t random_limit(soak *S)
{
    return below(S, 10) == 0 ? 0 : 1 + (uint32_t)below(S, 4);
}

static void op_limit_set(soak *S, uint32_t u)
{
    do_set_limit(S, u, random_limit(S));
}

/* ---- invalid input ------------------------------------------------------------------ */

static char long_id[MCREG_MAX_ID_LEN + 2];
static char long_uri[MCREG_MAX_URI_LEN + 2];
static char long_text[MCREG_MAX_SETTING_LEN + 1];
static mcreg_setting many_settings[MCREG_MAX_SETTINGS + 1];
static char many_keys[MCREG_MAX_SETTINGS + 1][8];

static void invalid_init(void)
{
    memset(long_id, 'i', MCREG_MAX_ID_LEN + 1);
    memset(long_uri, 'u', MCREG_MAX_URI_LEN + 1);
    memset(long_text, 't', MCREG_MAX_SETTING_LEN);
    for (int i = 0; i <= MCREG_MAX_SETTINGS; i++) {
        snprintf(many_keys[i], sizeof(many_keys[i]), "k%d", i);
        memset(&many_settings[i], 0, sizeof(many_settings[i]));
        many_settings[i].key = many_keys[i];
        many_settings[i].type = MCREG_VAL_INT;
        many_settings[i].v.i = i;
    }
}

#define N_INVALID 22

/* One call with invalid arguments, aimed at one of u's pairs (an existing
 * record when there is one): MCREG_ERR_INVALID, no event, no change. */
static void op_invalid(soak *S, uint32_t u)
{
    int64_t px = pick_record(S, u);
    uint32_t x = px >= 0 ? (uint32_t)px : u * SOAK_UES_PER_USER;
    const char *user = soak_user(&S->ids, u), *ue = soak_ue(&S->ids, x);
    mcreg_binding lb;
    memset(&lb, 0, sizeof(lb));
    lb.user_id = user;
    lb.ue_id = ue;
    lb.contact = "sip:x@192.0.2.1";
    lb.call_id = "inv@soak.example";
    lb.cseq = UINT32_MAX;
    lb.expires_s = below(S, 4) ? 3600 : 0;
    mcreg_setting st[3];
    memset(st, 0, sizeof(st));
    st[0].key = "a";
    st[0].type = MCREG_VAL_INT;
    st[1].key = "b";
    st[1].type = MCREG_VAL_TEXT;
    st[1].v.text.ptr = "ok";
    st[1].v.text.len = 2;
    st[2].key = "c";
    st[2].type = MCREG_VAL_BOOL;
    int variant = (int)below(S, N_INVALID);
    int rc;
    const mcreg_binding *pb = &lb;
    model_clear_events(S->m);
    call_state cs = begin_call(S, "invalid", NULL);
    static char desc[160];
    snprintf(desc, sizeof(desc), "invalid variant %d on (%s, %s)", variant, user, ue);
    S->call = desc;
    switch (variant) {
    case 0: pb = NULL; break;
    case 1: lb.user_id = NULL; break;
    case 2: lb.ue_id = NULL; break;
    case 3: lb.user_id = ""; break;
    case 4: lb.ue_id = long_id; break;                        /* 1025 bytes */
    case 5: lb.user_id = "sip:user\xc0\xaf@soak.mcptt.example"; break; /* overlong */
    case 6: lb.ue_id = "radio.\xed\xa0\x80@ue.soak.example"; break;   /* surrogate */
    case 7: lb.contact = ""; break;
    case 8: lb.contact = long_uri; break;                     /* 2049 bytes */
    case 9: lb.call_id = "\xf4\x90\x80\x80@x"; break;            /* above U+10FFFF */
    case 10: lb.settings = many_settings; lb.n_settings = MCREG_MAX_SETTINGS + 1; break;
    case 11: lb.settings = NULL; lb.n_settings = 2; break;
    case 12: st[2].key = "a"; lb.settings = st; lb.n_settings = 3; break; /* duplicate key */
    case 13: st[1].key = NULL; lb.settings = st; lb.n_settings = 3; break;
    case 14: st[1].key = ""; lb.settings = st; lb.n_settings = 3; break;
    case 15: st[1].v.text.ptr = "\xe2\x82"; lb.settings = st; lb.n_settings = 3; break;
    case 16: /* key and value: 1 + 4096 bytes */
        st[1].v.text.ptr = long_text;
        st[1].v.text.len = MCREG_MAX_SETTING_LEN;
        lb.settings = st;
        lb.n_settings = 3;
        break;
    case 17:
        st[1].type = MCREG_VAL_BYTES;
        st[1].v.bytes.ptr = NULL;
        st[1].v.bytes.len = 5;
        lb.settings = st;
        lb.n_settings = 3;
        break;
    case 18: st[0].type = (mcreg_value_type)7; lb.settings = st; lb.n_settings = 3; break;
    default: break;
    }
    if (variant < 19) {
        mcreg_outcome out = (mcreg_outcome)99;
        rc = mcreg_register(S->reg, pb, S->now, &out);
        if (out != (mcreg_outcome)99)
            failf(S, "outcome written on error");
        count_result(S, rc, out);
    } else if (variant == 19) {
        rc = mcreg_deregister(S->reg, user, below(S, 2) ? NULL : "\xff", S->now);
    } else if (variant == 20) {
        size_t n = 12345;
        rc = mcreg_deregister_user(S->reg, below(S, 2) ? "" : long_id, S->now, &n);
        if (n != 12345)
            failf(S, "removed written on error");
    } else {
        rc = below(S, 2) ? mcreg_set_user_max_ues(S->reg, "\x80", 2)
                         : mcreg_clear_user_max_ues(S->reg, NULL);
    }
    S->st.invalid_calls++;
    /* A NULL binding is a host bug (MISUSE); the rest is bad input. */
    end_call(S, &cs, rc, variant == 0 ? MCREG_ERR_MISUSE : MCREG_ERR_INVALID);
    check_pair(S, S->reg, u, x);
}

/* ---- checkpoints ------------------------------------------------------------------ */

/* Counts and next expiry against the model. */
static void check_counts(soak *S, const mcreg_registry *reg)
{
    char why[512];
    S->st.next_expiry_calls++;
    if (model_check_counts(S->m, reg, why, sizeof(why)))
        failf(S, "%s", why);
}

/* Everything observable against the model (model_check_all): every record
 * through mcreg_find and mcreg_find_ue with every field, every user's
 * count, limit and mcreg_user_foreach order, mcreg_foreach and
 * mcreg_limit_foreach. */
static void full_compare(soak *S, const mcreg_registry *reg)
{
    char why[512];
    double t0 = seconds();
    S->st.full_checks++;
    if (model_check_all(S->m, reg, why, sizeof(why)))
        failf(S, "%s", why);
    S->st.full_seconds += seconds() - t0;
}

/* ---- memory ------------------------------------------------------------------------ */

/* The model's record at a UE (UE exclusive: one at most), and a user's
 * limit, as the reference checkpoint saw them. */
typedef struct ref_rec {
    model_record r;
    uint8_t used;
} ref_rec;

typedef struct ref_limit {
    uint32_t max;
    uint8_t has;
} ref_limit;

/* The per-record figures of the checkpoints. */
typedef struct mem_stats {
    int have_ref;
    uint64_t ref_op;
    size_t ref_bytes, ref_records;
    ref_rec *ref_rec;   /* the model's records at the reference checkpoint, by UE */
    ref_limit *ref_lim; /* and its users' limits */
    double steady_min, steady_max; /* bytes per record, from the reference on */
    double late_min, late_max;     /* bytes per record, second half */
    int steady_n, late_n;
} mem_stats;

static double per_record(const soak *S)
{
    return model_record_count(S->m) ? (double)S->alloc.live_bytes / (double)model_record_count(S->m) : 0.0;
}

static void capture_reference(soak *S, mem_stats *ms)
{
    ms->have_ref = 1;
    ms->ref_op = S->op;
    ms->ref_bytes = S->alloc.live_bytes;
    ms->ref_records = model_record_count(S->m);
    ms->ref_rec = calloc(S->ids.n_ues, sizeof(*ms->ref_rec));
    ms->ref_lim = calloc(S->users, sizeof(*ms->ref_lim));
    if (!ms->ref_rec || !ms->ref_lim) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (uint32_t x = 0; x < S->ids.n_ues; x++) {
        const model_record *r = model_find_ue(S->m, x);
        if (r) {
            ms->ref_rec[x].r = *r;
            ms->ref_rec[x].used = 1;
        }
    }
    for (uint32_t u = 0; u < S->users; u++)
        ms->ref_lim[u].has = model_user_max_ues(S->m, u, &ms->ref_lim[u].max) == MCREG_OK;
}

static void checkpoint(soak *S, mem_stats *ms, int index, int full)
{
    S->phase = "checkpoint";
    S->call = "checkpoint";
    S->has_b = 0;
    check_counts(S, S->reg);
    if (full)
        full_compare(S, S->reg);
    /* The population has settled once the clock has run two of the longest
     * usual expiries; the reference is taken then, or halfway at the
     * latest, so that the second half can show creep against it. */
    int steady = S->now - S->start_now >= 2 * (uint64_t)EXP_HI * 1000;
    int ref_now = !ms->have_ref && (steady || S->op >= S->ops / 2 || S->op == S->ops);
    if (ref_now)
        capture_reference(S, ms);
    double pr = per_record(S);
    if (ms->have_ref && model_record_count(S->m)) {
        if (!ms->steady_n++ || pr < ms->steady_min)
            ms->steady_min = pr;
        if (ms->steady_n == 1 || pr > ms->steady_max)
            ms->steady_max = pr;
        if (S->op > S->ops / 2) {
            if (!ms->late_n++ || pr < ms->late_min)
                ms->late_min = pr;
            if (ms->late_n == 1 || pr > ms->late_max)
                ms->late_max = pr;
        }
    }
    printf("cp %3d op %9" PRIu64 " records %7zu users %6zu live %10zu B %7.1f B/rec peak %10zu B "
           "blocks %8zu allocs %10" PRIu64 "%s%s\n",
           index, S->op, mcreg_record_count(S->reg), mcreg_user_count(S->reg), S->alloc.live_bytes, pr,
           S->alloc.peak_bytes, S->alloc.live_blocks, S->alloc.mallocs + S->alloc.reallocs,
           full ? " full" : "", ref_now ? " reference" : "");
    fflush(stdout);
    S->phase = "run";
}

/* Make the registry hold exactly the reference set again: the same pairs
 * with the same contact, Call-ID, CSeq and settings, and the same per-user
 * limits; only registered_at and expires_at differ, which take no memory.
 * Records that stay are refreshed in place (twice when a Call-ID is to be
 * restored: first without one, which skips the ordering check); a record
 * whose contact would have to be cleared is removed and created again. */
static void refill(soak *S, const mem_stats *ms)
{
    for (uint32_t u = 0; u < S->users; u++)
        if (model_user_max_ues(S->m, u, &(uint32_t){0}) == MCREG_OK)
            do_clear_limit(S, u);
    for (uint32_t x = 0; x < S->ids.n_ues; x++) {
        const model_record *cur = model_find_ue(S->m, x);
        const ref_rec *w = &ms->ref_rec[x];
        if (cur && (!w->used || w->r.user != cur->user || (!w->r.contact && cur->contact)))
            do_deregister(S, cur->user, x);
    }
    for (uint32_t x = 0; x < S->ids.n_ues; x++) {
        const ref_rec *ref = &ms->ref_rec[x];
        if (!ref->used)
            continue;
        const model_record *w = &ref->r;
        model_binding b = binding(w->user, x, w->contact, w->call_id, w->cseq, EXP_KEEP, w->settings);
        if (model_find(S->m, w->user, x)) {
            b.call_id = 0;
            do_register(S, &b);
            b.call_id = w->call_id;
            if (b.call_id)
                do_register(S, &b);
        } else {
            do_register(S, &b);
        }
    }
    for (uint32_t u = 0; u < S->users; u++)
        if (ms->ref_lim[u].has)
            do_set_limit(S, u, ms->ref_lim[u].max);
    for (uint32_t x = 0; x < S->ids.n_ues; x++) {
        const model_record *cur = model_find_ue(S->m, x);
        const ref_rec *ref = &ms->ref_rec[x];
        const model_record *w = &ref->r;
        if ((cur != NULL) != ref->used ||
            (cur && (cur->user != w->user || cur->contact != w->contact ||
                     cur->call_id != w->call_id || cur->cseq != w->cseq ||
                     cur->settings != w->settings))) {
            failf(S, "refill: the model's record at %s is not the reference's",
                  soak_ue(&S->ids, x));
            break;
        }
    }
}

/* Remove every record, each user's by one of four ways (deregister_user,
 * deregister, expires 0, a refresh to 1 s and mcreg_expire), and every
 * per-user limit. */
static void drain(soak *S)
{
    for (uint32_t u = 0; u < S->users; u++) {
        const model_record *recs[TAKEOVER_MAX + SOAK_UES_PER_USER];
        uint32_t ues[TAKEOVER_MAX + SOAK_UES_PER_USER];
        size_t n = model_user_records(S->m, u, recs, sizeof(recs) / sizeof(recs[0]));
        for (size_t k = 0; k < n; k++)
            ues[k] = recs[k]->ue;
        if (n == 0)
            continue;
        switch (u % 4) {
        case 0:
            do_deregister_user(S, u);
            break;
        case 1:
            for (size_t k = 0; k < n; k++)
                do_deregister(S, u, ues[k]);
            break;
        default:
            for (size_t k = 0; k < n; k++) {
                model_binding b = binding(u, ues[k], 0, 0, 0, u % 4 == 2 ? 0 : 1, 0);
                do_register(S, &b);
            }
            break;
        }
    }
    S->now += 1000;
    do_expire(S);
    for (uint32_t u = 0; u < S->users; u++)
        if (model_user_max_ues(S->m, u, &(uint32_t){0}) == MCREG_OK)
            do_clear_limit(S, u);
    S->call = "after drain";
    S->has_b = 0;
    check_counts(S, S->reg);
    if (model_record_count(S->m) || model_limit_count(S->m))
        failf(S, "drain left %zu records and %zu limits in the model", model_record_count(S->m),
              model_limit_count(S->m));
}

/* No creep, the criterion: the reference checkpoint (the first in the
 * steady state, or halfway) keeps the model's exact set of records and
 * limits, with the live bytes then. After the run the registry is brought
 * back to exactly that set (refill()) and measured again: the same pairs,
 * contacts, Call-IDs, CSeqs, settings and limits, so the same memory in a
 * library without creep. What may legitimately differ is only what is
 * sized to the peak (arrays and hash tables grown for the most records
 * ever held); the storm puts that peak at the start, long before the
 * reference, so even that is settled by then. The check fails when the
 * refilled registry takes more than CREEP_LIMIT (10%) more than at the
 * reference, i.e. more than 10% more bytes per record at the same record
 * count. Being a comparison of one fixed set with itself, it does not
 * depend on where the random population happens to stand at a checkpoint
 * and cannot flake; a library that grows by even one byte every hundred
 * operations fails it, and the exact difference is printed either way.
 * The min/max bytes per record of the checkpoints are printed as well, for
 * information: they move with the population. */
static void check_memory_creep(soak *S, mem_stats *ms)
{
    S->phase = "creep";
    refill(S, ms);
    S->call = "after refill";
    S->has_b = 0;
    full_compare(S, S->reg);
    size_t end = S->alloc.live_bytes;
    double n = ms->ref_records ? (double)ms->ref_records : 1.0;
    double delta = (double)end - (double)ms->ref_bytes;
    int ok = (double)end <= (double)ms->ref_bytes * (1.0 + CREEP_LIMIT);
    printf("memory, no creep: reference set of %zu records at op %" PRIu64 ": %zu B (%.1f B/rec); "
           "the same set refilled after the run: %zu B (%.1f B/rec), %+.0f B, %+.2f B/rec, "
           "%+.3f%% (limit +%.0f%%): %s\n",
           ms->ref_records, ms->ref_op, ms->ref_bytes, (double)ms->ref_bytes / n, end,
           (double)end / n, delta, delta / n, 100.0 * delta / (double)(ms->ref_bytes ? ms->ref_bytes : 1),
           100.0 * CREEP_LIMIT, ok ? "PASS" : "FAIL");
    if (!ok)
        failf(S, "memory creep: the reference set takes %zu B after the run, %zu B at op %" PRIu64,
              end, ms->ref_bytes, ms->ref_op);
}

/* The removal paths that drain() does not take, for the cycle of
 * check_memory_return(): every 7th user takes over a UE of the next user
 * (REPLACED), and every 7th user (from the 4th) gets a limit of its current
 * count and registers a free home UE (EVICTED, or LIMIT under reject). */
static void churn(soak *S)
{
    for (uint32_t u = 0; u + 1 < S->users; u += 7) {
        const model_record *v[TAKEOVER_MAX + SOAK_UES_PER_USER];
        if (model_user_records(S->m, u + 1, v, sizeof(v) / sizeof(v[0])) &&
            model_user_ue_count(S->m, u) < TAKEOVER_MAX) {
            model_binding b = create_binding(S, u, v[0]->ue);
            do_register(S, &b);
        }
    }
    for (uint32_t u = 3; u < S->users; u += 7) {
        uint32_t n = model_user_ue_count(S->m, u);
        for (uint32_t k = 0; n && k < SOAK_UES_PER_USER; k++) {
            uint32_t x = u * SOAK_UES_PER_USER + k;
            if (model_ue_record_count(S->m, x))
                continue;
            do_set_limit(S, u, n);
            model_binding b = create_binding(S, u, x);
            do_register(S, &b);
            do_clear_limit(S, u);
            break;
        }
    }
}

/* Memory returns: after every record is deregistered and every limit
 * cleared, the live bytes must equal those of the fresh registry measured
 * at the start. When the library keeps buffers sized to the peak (which
 * it may: they are not per-record memory), the remainder is reported, and
 * then (1) a second full cycle (refill the reference set from empty, churn,
 * drain again: every kind of creation and removal) must end at exactly the
 * same live bytes and blocks: the retained part does not grow with use,
 * and no path leaks; (2) mcreg_registry_free must bring the live
 * bytes and blocks to 0. */
static void check_memory_return(soak *S, mem_stats *ms, size_t peak_records)
{
    S->phase = "drain";
    drain(S);
    size_t r1 = S->alloc.live_bytes, b1 = S->alloc.live_blocks;
    if (r1 == S->fresh_bytes && b1 == S->fresh_blocks)
        printf("memory, return: after deregistering everything and clearing the limits: %zu B in "
               "%zu blocks, as the fresh registry: PASS\n", r1, b1);
    else
        printf("memory, return: after deregistering everything and clearing the limits: %zu B in "
               "%zu blocks; the fresh registry had %zu B in %zu blocks; remainder %+.0f B in %+.0f "
               "blocks (%.2f B per record of the peak of %zu), kept by the library\n",
               r1, b1, S->fresh_bytes, S->fresh_blocks, (double)r1 - (double)S->fresh_bytes,
               (double)b1 - (double)S->fresh_blocks,
               peak_records ? ((double)r1 - (double)S->fresh_bytes) / (double)peak_records : 0.0,
               peak_records);

    S->phase = "cycle";
    refill(S, ms);
    size_t filled = S->alloc.live_bytes;
    churn(S);
    drain(S);
    size_t r2 = S->alloc.live_bytes, b2 = S->alloc.live_blocks;
    int ok = r2 == r1 && b2 == b1;
    printf("memory, return: the reference set refilled from empty takes %zu B (soaked and "
           "refilled: see above); after churn and another drain: %zu B in %zu blocks, must equal %zu B in %zu: "
           "%s\n", filled, r2, b2, r1, b1, ok ? "PASS" : "FAIL");
    if (!ok)
        failf(S, "a refill/drain cycle left %zu B in %zu blocks, the first drain %zu B in %zu",
              r2, b2, r1, b1);

    S->phase = "free";
    S->call = "registry_free";
    mcreg_registry_free(S->reg);
    S->reg = NULL;
    ok = S->alloc.live_bytes == 0 && S->alloc.live_blocks == 0;
    printf("memory, return: after mcreg_registry_free: %zu B in %zu blocks: %s\n",
           S->alloc.live_bytes, S->alloc.live_blocks, ok ? "PASS" : "FAIL");
    if (!ok)
        failf(S, "mcreg_registry_free left %zu B in %zu blocks", S->alloc.live_bytes,
              S->alloc.live_blocks);
}

/* ---- snapshot and restore ---------------------------------------------------------- */

static mcreg_registry *new_registry(soak *S, soak_alloc *a, mcreg_event_fn fn,
                                    mcreg_limit_policy policy, int logoff)
{
    mcreg_options *o = NULL;
    mcreg_registry *reg = NULL;
    if (mcreg_options_new(&o) != MCREG_OK) {
        fprintf(stderr, "mcreg_options_new failed\n");
        exit(2);
    }
    mcreg_allocator al = soak_allocator(a);
    mcreg_options_set_allocator(o, &al);
    mcreg_options_set_event_callback(o, fn, S);
    mcreg_options_set_limit_policy(o, policy);
    mcreg_options_set_notify_logoff(o, logoff);
    mcreg_options_set_hash_seed(o, S->seed ^ UINT64_C(0x5eed5eed5eed5eed));
    int rc = mcreg_registry_new(&reg, o);
    mcreg_options_free(o);
    if (rc != MCREG_OK) {
        fprintf(stderr, "mcreg_registry_new: %d (%s)\n", rc, mcreg_strerror(rc));
        exit(2);
    }
    return reg;
}

/* Snapshot the soaked registry, restore into a second one, compare both
 * with the model and the two snapshots with each other. Due records are
 * expired first: restore drops them, the model would not. */
static void check_snapshot(soak *S)
{
    S->phase = "snapshot";
    S->call = "expire before snapshot";
    do_expire(S);
    S->call = "snapshot";
    S->has_b = 0;
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t len = 0, len2 = 0;
    size_t soaked = S->alloc.live_bytes, soaked_blocks = S->alloc.live_blocks;
    int rc = mcreg_snapshot(S->reg, &buf, &len);
    if (rc != MCREG_OK) {
        failf(S, "snapshot: %d (%s)", rc, test_rc_name(rc));
        return;
    }
    soak_alloc a2;
    memset(&a2, 0, sizeof(a2));
    mcreg_registry *reg2 = new_registry(S, &a2, on_event_none, model_get_options(S->m)->policy,
                                        model_get_options(S->m)->notify_logoff);
    S->call = "restore";
    rc = mcreg_restore(reg2, buf, len, S->now);
    size_t restored = a2.live_bytes, restored_blocks = a2.live_blocks;
    if (rc != MCREG_OK) {
        failf(S, "restore: %d (%s)", rc, test_rc_name(rc));
    } else {
        S->call = "compare restored";
        full_compare(S, reg2);
        S->call = "compare soaked";
        full_compare(S, S->reg);
        S->call = "snapshot of the restored";
        rc = mcreg_snapshot(reg2, &buf2, &len2);
        if (rc != MCREG_OK)
            failf(S, "snapshot of the restored registry: %d (%s)", rc, test_rc_name(rc));
        else if (len2 != len || memcmp(buf, buf2, len) != 0)
            failf(S, "the restored registry's snapshot differs (%zu bytes, the original %zu)",
                  len2, len);
        if (mcreg_record_count(reg2) != mcreg_record_count(S->reg) ||
            mcreg_user_count(reg2) != mcreg_user_count(S->reg))
            failf(S, "counts differ between the soaked and the restored registry");
    }
    printf("snapshot: %zu records, %zu B; restored into a second registry: %zu B live in %zu "
           "blocks (the soaked one: %zu B in %zu; snapshot buffers not counted); snapshots "
           "identical: %s\n",
           model_record_count(S->m), len, restored, restored_blocks, soaked, soaked_blocks,
           buf2 && len2 == len && memcmp(buf, buf2, len) == 0 ? "yes" : "NO");
    mcreg_buffer_free(reg2, buf2);
    mcreg_buffer_free(S->reg, buf);
    mcreg_registry_free(reg2);
    if (a2.live_bytes || a2.live_blocks)
        failf(S, "the restored registry left %zu B in %zu blocks after mcreg_registry_free",
              a2.live_bytes, a2.live_blocks);
}

/* ---- the start ---------------------------------------------------------------------- */

/* A registration storm, as after a restart: every UE of every user
 * registers, a millisecond or so apart. The registry then holds about the
 * most records it can ever hold (with UE exclusivity, one per UE; users at
 * a limit of their own evict), so whatever the library sizes to the peak
 * is sized at the start; the records lapse over the first 7200 s of the
 * clock and the population settles to its steady state. */
static void storm(soak *S)
{
    S->phase = "storm";
    double t0 = seconds();
    for (uint32_t u = 0; u < S->users; u++) {
        for (uint32_t k = 0; k < SOAK_UES_PER_USER; k++) {
            S->now += below(S, 2);
            model_binding b = create_binding(S, u, u * SOAK_UES_PER_USER + k);
            do_register(S, &b);
        }
    }
    S->call = "after the storm";
    S->has_b = 0;
    check_counts(S, S->reg);
    printf("storm: %" PRIu32 " registrations in %.1f s: records %zu users %zu live %zu B "
           "%.1f B/rec peak %zu B blocks %zu\n",
           S->ids.n_ues, seconds() - t0, model_record_count(S->m), model_user_count(S->m), S->alloc.live_bytes,
           model_record_count(S->m) ? (double)S->alloc.live_bytes / (double)model_record_count(S->m) : 0.0,
           S->alloc.peak_bytes, S->alloc.live_blocks);
    fflush(stdout);
}

/* ---- main ---------------------------------------------------------------------------------- */

static uint64_t env_u64(const char *name, uint64_t def, uint64_t min, uint64_t max)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 0);
    if (!end || *end || x < min || x > max) {
        fprintf(stderr, "%s=%s: want a number in %" PRIu64 "..%" PRIu64 "\n", name, v, min, max);
        exit(2);
    }
    return (uint64_t)x;
}

static void one_op(soak *S)
{
    S->now += below(S, S->step_max + 1);
    uint32_t u = (uint32_t)below(S, S->users);
    uint64_t r = below(S, 1000);
    enum op_kind k = r < 400   ? OP_HOME
                     : r < 630 ? OP_REFRESH
                     : r < 700 ? OP_DEREG0
                     : r < 740 ? OP_DEREG
                     : r < 745 ? OP_DEREG_USER
                     : r < 795 ? OP_STALE
                     : r < 825 ? OP_INVALID
                     : r < 850 ? OP_TAKEOVER
                     : r < 853 ? OP_LIMIT_SET
                     : r < 880 ? OP_LIMIT_CLEAR
                               : OP_HOME;
    S->st.op_count[k]++;
    switch (k) {
    case OP_HOME: op_home(S, u); break;
    case OP_REFRESH: op_refresh(S, u); break;
    case OP_DEREG0: op_dereg0(S, u); break;
    case OP_DEREG: op_dereg(S, u); break;
    case OP_DEREG_USER: do_deregister_user(S, u); break;
    case OP_STALE: op_stale(S, u); break;
    case OP_INVALID: op_invalid(S, u); break;
    case OP_TAKEOVER: op_takeover(S, u); break;
    case OP_LIMIT_SET: op_limit_set(S, u); break;
    case OP_LIMIT_CLEAR: do_clear_limit(S, u); break;
    case N_OPS: break;
    }
    size_t n = mcreg_record_count(S->reg);
    if (n != model_record_count(S->m))
        failf(S, "record_count %zu, model %zu", n, model_record_count(S->m));
    if (mcreg_user_ue_count(S->reg, soak_user(&S->ids, u)) != model_user_ue_count(S->m, u))
        failf(S, "user_ue_count(%s) %zu, model %" PRIu32, soak_user(&S->ids, u),
              mcreg_user_ue_count(S->reg, soak_user(&S->ids, u)), model_user_ue_count(S->m, u));
    if (below(S, 8) == 0)
        host_tick(S);
}

int main(void)
{
    static soak S_;
    soak *S = &S_;
    S->ops = env_u64("SOAK_OPS", 10000000, 1, 1000000000); /* 32-bit model generations */
    S->users = (uint32_t)env_u64("SOAK_USERS", 100000, 2, 100000000);
    S->seed = env_u64("SOAK_SEED", 1, 0, UINT64_MAX);
    const char *pol = getenv("SOAK_POLICY");
    mcreg_limit_policy policy = MCREG_LIMIT_EVICT_OLDEST;
    if (pol && *pol) {
        if (strcmp(pol, "oldest") == 0)
            policy = MCREG_LIMIT_EVICT_OLDEST;
        else if (strcmp(pol, "soonest") == 0)
            policy = MCREG_LIMIT_EVICT_SOONEST;
        else if (strcmp(pol, "reject") == 0)
            policy = MCREG_LIMIT_REJECT;
        else {
            fprintf(stderr, "SOAK_POLICY=%s: want oldest, soonest or reject\n", pol);
            return 2;
        }
    }
    int logoff = (int)env_u64("SOAK_LOGOFF", 0, 0, 1);
    /* Every SOAK_USERS operations take 1000 s of the clock. */
    S->step_max = 2 * (1000000 / S->users);
    if (S->step_max < 2)
        S->step_max = 2;

    model_options mo = {.policy = policy, .notify_logoff = logoff};
    model_values mv = {&S->ids, value_user, value_ue, value_contact, value_call_id, value_settings};
    if (soak_ids_init(&S->ids, S->users) || !(S->m = model_new(&mo, &mv))) {
        fprintf(stderr, "out of memory for %" PRIu32 " users\n", S->users);
        return 2;
    }
    invalid_init();
    test_rng_seed(&S->rng, S->seed);
    S->phase = "setup";
    double t_start = seconds();
    S->now = S->start_now = UINT64_C(1000000000000) + below(S, UINT64_C(1000000000000));

    S->reg = new_registry(S, &S->alloc, on_event, policy, logoff);
    S->ev_reg = S->reg;
    S->fresh_bytes = S->alloc.live_bytes;
    S->fresh_blocks = S->alloc.live_blocks;
    printf("mcreg-soak: library %s, %" PRIu64 " ops, %" PRIu32 " users, %" PRIu32
           " UEs, seed %" PRIu64 ", limit policy %s, notify logoff %s; fresh registry %zu B in "
           "%zu blocks\n",
           mcreg_version(), S->ops, S->users, S->ids.n_ues, S->seed,
           policy == MCREG_LIMIT_REJECT ? "reject" : policy == MCREG_LIMIT_EVICT_OLDEST ? "oldest" : "soonest",
           logoff ? "on" : "off", S->fresh_bytes, S->fresh_blocks);
    fflush(stdout);

    /* A tenth of the users start with a limit of their own; the run sets
     * (0.3% of the operations) and clears (2.7%, mostly NOT_FOUND) limits
     * of random users at rates that keep that tenth. */
    for (uint32_t u = 0; u < S->users; u++)
        if (below(S, 10) == 0)
            do_set_limit(S, u, random_limit(S));
    storm(S);

    mem_stats ms;
    memset(&ms, 0, sizeof(ms));
    uint64_t interval = S->ops / 100 ? S->ops / 100 : 1;
    size_t peak_records = model_record_count(S->m);
    int cp = 0;
    memset(&S->st, 0, sizeof(S->st)); /* the summary counts the run only */
    double t0 = seconds();
    S->phase = "run";
    for (S->op = 1; S->op <= S->ops; S->op++) {
        one_op(S);
        if (model_record_count(S->m) > peak_records)
            peak_records = model_record_count(S->m);
        if (S->op % interval == 0 || S->op == S->ops) {
            cp++;
            checkpoint(S, &ms, cp, cp % 10 == 0 || S->op == S->ops);
        }
    }
    double t_run = seconds() - t0;
    soak_stats run = S->st;
    S->op = S->ops;
    size_t end_records = model_record_count(S->m), end_users = model_user_count(S->m);

    check_snapshot(S);
    check_memory_creep(S, &ms);
    check_memory_return(S, &ms, peak_records);
    double t_all = seconds() - t_start;

    printf("== summary (seed %" PRIu64 ", %" PRIu64 " ops, %" PRIu32 " users; counts of the run "
           "after the storm) ==\n", S->seed, S->ops, S->users);
    printf("ops:");
    for (int k = 0; k < N_OPS; k++)
        printf(" %s=%" PRIu64, op_names[k], run.op_count[k]);
    printf("\nregister results:");
    for (int k = 0; k < N_RESULTS; k++)
        printf(" %s=%" PRIu64, result_names[k], run.reg_results[k]);
    printf("\nhost: next_expiry=%" PRIu64 " expire=%" PRIu64 " (records expired %" PRIu64
           "); invalid calls=%" PRIu64 " busy checks=%" PRIu64 " pair checks=%" PRIu64
           " full comparisons=%" PRIu64 " (%.1f s)\n",
           run.next_expiry_calls, run.expire_calls, run.expired_records, run.invalid_calls,
           run.busy_checks, run.spot_checks, run.full_checks, run.full_seconds);
    printf("events (%" PRIu64 "):", run.ev_total);
    for (int t = 0; t < N_EVENT_TYPES; t++)
        printf(" %s=%" PRIu64, mcreg_event_name((mcreg_event_type)t), run.ev_count[t]);
    if (run.ev_count[N_EVENT_TYPES])
        printf(" unknown=%" PRIu64, run.ev_count[N_EVENT_TYPES]);
    printf("\nrecords at the end of the run: %zu (users %zu); peak %zu records (the storm)\n",
           end_records, end_users, peak_records);
    printf("live bytes per record: from the reference checkpoint (op %" PRIu64 ") on min %.1f max "
           "%.1f; second half min %.1f max %.1f\n",
           ms.ref_op, ms.steady_min, ms.steady_max, ms.late_min, ms.late_max);
    printf("peak live bytes %zu; allocations %" PRIu64 " (malloc %" PRIu64 ", realloc %" PRIu64
           "), frees %" PRIu64 " (whole program)\n",
           S->alloc.peak_bytes, S->alloc.mallocs + S->alloc.reallocs, S->alloc.mallocs,
           S->alloc.reallocs, S->alloc.frees);
    printf("wall time %.1f s (storm and setup %.1f s, run %.1f s of which full comparisons %.1f s, "
           "final checks %.1f s); %.0f ops/s over the run, %.0f ops/s without the full "
           "comparisons\n",
           t_all, t0 - t_start, t_run, run.full_seconds, t_all - (t0 - t_start) - t_run,
           t_run > 0 ? (double)S->ops / t_run : 0.0,
           t_run - run.full_seconds > 0 ? (double)S->ops / (t_run - run.full_seconds) : 0.0);
    printf("%s: %" PRIu64 " failures\n", S->failures ? "FAIL" : "PASS", S->failures);

    free(ms.ref_rec);
    free(ms.ref_lim);
    model_free(S->m);
    soak_ids_free(&S->ids);
    return S->failures ? 1 : 0;
}
