/* Allocation failure at every point of every mutating call.
 *
 * For each case: count the allocations N that the call makes on a fresh
 * registry in a known state, then for every i in 1..N rebuild that state,
 * fail the call's i-th allocation (alone, then together with every later
 * one) and check that the call either failed with MCREG_ERR_NOMEM and left
 * the registry exactly as before with no event, or absorbed the failure
 * and produced exactly the result of the run without failure. After a
 * failure the registry must still work: the same call then succeeds with
 * the same result. Every registry is freed with no block left. */
#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

/* ---- registry options of a case ------------------------------------------ */

/* The rules' options, and the capacity (which the rules do not depend on). */
typedef struct fm_opts {
    model_options rules;
    size_t capacity;
} fm_opts;

/* ---- the state of one run ---------------------------------------------- */

typedef struct fm_ctx {
    tu_alloc alloc;
    mcreg_allocator allocator;
    tu_events ev;
    mcreg_registry *reg;
    int param;        /* a case's loop parameter */
    mcreg_outcome outcome;
    size_t count;     /* removed / expired / visited */
    int query;        /* set by an op that is a query: it leaves the detail */
} fm_ctx;

typedef void (*fm_setup_fn)(fm_ctx *c);
typedef int (*fm_op_fn)(fm_ctx *c);

static int fm_verbose(void)
{
    const char *v = getenv("MCREG_FM_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

static mcreg_registry *fm_registry(fm_ctx *c, const fm_opts *o)
{
    tu_opts opt = {.rules = o->rules, .capacity = o->capacity, .fn = tu_events_cb,
                   .ud = &c->ev, .alloc = &c->allocator};
    return tu_registry_new(&opt);
}

/* A fresh registry in the case's initial state, with the event log empty. */
static void fm_begin(fm_ctx *c, const fm_opts *o, fm_setup_fn setup, int param)
{
    memset(c, 0, sizeof(*c));
    c->allocator = tu_allocator(&c->alloc);
    tu_events_init(&c->ev);
    c->param = param;
    c->reg = fm_registry(c, o);
    if (setup)
        setup(c);
    tu_events_reset(&c->ev);
    c->outcome = (mcreg_outcome)-1;
    c->count = (size_t)-1;
}

static void fm_end(fm_ctx *c, const char *name, size_t i)
{
    c->alloc.fail_at = 0;
    c->alloc.fail_all_after = 0;
    mcreg_registry_free(c->reg);
    c->reg = NULL;
    ck_assert_msg(c->alloc.live == 0 && c->alloc.live_bytes == 0,
                  "%s (failing allocation %zu): %zu blocks / %zu bytes leaked", name, i,
                  c->alloc.live, c->alloc.live_bytes);
    tu_events_free(&c->ev);
}

/* Users whose own UE limit is part of the compared state (tu_state_dump
 * shows records only): every user name the cases use. */
static const char *const fm_limit_users[] = {"alice", "bob", "carol", "dave", "zed",
                                             "new-user", "other", "u0", "u1", "u2",
                                             "u3", "u4"};

/* Everything observable: tu_state_dump() plus the per-user limits. The
 * dump's own allocations never fail. */
static char *fm_dump(fm_ctx *c)
{
    size_t fail_at = c->alloc.fail_at;
    c->alloc.fail_at = 0;
    char *d = tu_state_dump(c->reg);
    c->alloc.fail_at = fail_at;
    ck_assert_msg(d != NULL, "state dump failed with no allocation failure");
    tu_events t;
    tu_events_init(&t);
    tu_events_append(&t, d);
    free(d);
    for (size_t i = 0; i < sizeof(fm_limit_users) / sizeof(fm_limit_users[0]); i++) {
        uint32_t max = 0;
        if (mcreg_user_max_ues(c->reg, fm_limit_users[i], &max) == MCREG_OK) {
            char buf[64];
            snprintf(buf, sizeof(buf), "limit %s=%u\n", fm_limit_users[i], (unsigned)max);
            tu_events_append(&t, buf);
        }
    }
    return t.log;
}

static char *fm_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    ck_assert_ptr_nonnull(d);
    memcpy(d, s, n);
    return d;
}

/* Result of a run used as the reference. */
typedef struct fm_result {
    int rc;
    mcreg_outcome outcome;
    size_t count;
    char *dump;
    char *events;
    char *detail; /* mcreg_error_detail after the call */
} fm_result;

static void fm_result_free(fm_result *r)
{
    free(r->dump);
    free(r->events);
    free(r->detail);
    memset(r, 0, sizeof(*r));
}

/* Runs op once and checks its result against `ok`. */
static void fm_check_same(fm_ctx *c, const char *name, const char *what, size_t i, int rc,
                          const fm_result *ok)
{
    ck_assert_msg(rc == ok->rc, "%s %s %zu: rc %d, expected %d", name, what, i, rc, ok->rc);
    ck_assert_msg(c->outcome == ok->outcome, "%s %s %zu: outcome %d, expected %d", name, what, i,
                  (int)c->outcome, (int)ok->outcome);
    ck_assert_msg(c->count == ok->count, "%s %s %zu: count %zu, expected %zu", name, what, i,
                  c->count, ok->count);
    char *d = fm_dump(c);
    ck_assert_msg(strcmp(d, ok->dump) == 0, "%s %s %zu: state\n%s\nexpected\n%s", name, what, i,
                  d, ok->dump);
    free(d);
    ck_assert_msg(strcmp(c->ev.log, ok->events) == 0, "%s %s %zu: events '%s', expected '%s'",
                  name, what, i, c->ev.log, ok->events);
    ck_assert_msg(strcmp(mcreg_error_detail(c->reg), ok->detail) == 0,
                  "%s %s %zu: detail '%s', expected '%s'", name, what, i,
                  mcreg_error_detail(c->reg), ok->detail);
    ck_assert_msg(mcreg_stat(c->reg, MCREG_STAT_BYTES) == c->alloc.live_bytes,
                  "%s %s %zu: MCREG_STAT_BYTES %llu, allocator %zu", name, what, i,
                  (unsigned long long)mcreg_stat(c->reg, MCREG_STAT_BYTES), c->alloc.live_bytes);
}

/*
 * The generic driver. `must_succeed`: the call may not report NOMEM at all
 * (mcreg_expire never fails), so every failure must be absorbed.
 * `expect_events`, when not NULL: the events the contract gives for the
 * call, checked on the run without failure (so a case is known to do what
 * its name says). Returns N, the number of allocations the call makes.
 */
static size_t fm_run_x(const char *name, const fm_opts *o, fm_setup_fn setup, fm_op_fn op,
                       int param, int must_succeed, const char *expect_events)
{
    fm_ctx c;
    fm_result ok = {0};

    /* Reference run: no failure. */
    fm_begin(&c, o, setup, param);
    char *before = fm_dump(&c);
    size_t calls0 = c.alloc.calls;
    ok.rc = op(&c);
    size_t n = c.alloc.calls - calls0;
    ok.outcome = c.outcome;
    ok.count = c.count;
    ok.dump = fm_dump(&c);
    ok.events = fm_strdup(c.ev.log);
    ok.detail = fm_strdup(mcreg_error_detail(c.reg));
    ck_assert_msg(ok.rc != MCREG_ERR_NOMEM, "%s: NOMEM with no allocation failing", name);
    ck_assert_msg((ok.rc == MCREG_OK) == (ok.detail[0] == '\0'), "%s: rc %d with detail '%s'",
                  name, ok.rc, ok.detail);
    if (expect_events)
        ck_assert_msg(strcmp(ok.events, expect_events) == 0, "%s: events\n  got:      %s\n"
                      "  expected: %s", name, ok.events, expect_events);
    fm_end(&c, name, 0);

    /* The same setup gives the same state again (the loop relies on it). */
    fm_begin(&c, o, setup, param);
    char *again = fm_dump(&c);
    ck_assert_msg(strcmp(again, before) == 0, "%s: setup is not deterministic", name);
    free(again);
    fm_end(&c, name, 0);

    for (int mode = 0; mode < 2; mode++) {
        const char *what = mode ? "failing every allocation from" : "failing allocation";
        for (size_t i = 1; i <= n; i++) {
            fm_begin(&c, o, setup, param);
            mcreg_outcome sentinel = (mcreg_outcome)-1;
            c.alloc.fail_at = c.alloc.calls + i;
            c.alloc.fail_all_after = mode;
            int rc = op(&c);
            c.alloc.fail_at = 0;
            c.alloc.fail_all_after = 0;
            if (rc == MCREG_ERR_NOMEM && !must_succeed) {
                ck_assert_msg(c.outcome == sentinel, "%s %s %zu: outcome written on NOMEM", name,
                              what, i);
                char *d = fm_dump(&c);
                ck_assert_msg(strcmp(d, before) == 0,
                              "%s %s %zu: NOMEM but state changed:\n%s\nexpected\n%s", name, what,
                              i, d, before);
                free(d);
                ck_assert_msg(c.ev.count == 0 && c.ev.len == 0,
                              "%s %s %zu: NOMEM but events emitted: '%s'", name, what, i,
                              c.ev.log);
                /* What the registry holds is what it counts, after the
                 * rollback too. */
                ck_assert_msg(mcreg_stat(c.reg, MCREG_STAT_BYTES) == c.alloc.live_bytes,
                              "%s %s %zu: NOMEM: MCREG_STAT_BYTES %llu, allocator %zu", name,
                              what, i, (unsigned long long)mcreg_stat(c.reg, MCREG_STAT_BYTES),
                              c.alloc.live_bytes);
                /* The detail is written without allocating; a query
                 * leaves it as it was (empty, after the setup). */
                ck_assert_msg(strcmp(mcreg_error_detail(c.reg),
                                     c.query ? "" : "out of memory: the allocator returned NULL")
                                  == 0,
                              "%s %s %zu: NOMEM with detail '%s'", name, what, i,
                              mcreg_error_detail(c.reg));
                /* Still usable: the same call now does exactly its work. */
                c.outcome = sentinel;
                c.count = (size_t)-1;
                rc = op(&c);
                fm_check_same(&c, name, "retry after failing allocation", i, rc, &ok);
            } else {
                ck_assert_msg(rc != MCREG_ERR_NOMEM, "%s %s %zu: NOMEM from a call that never fails",
                              name, what, i);
                fm_check_same(&c, name, what, i, rc, &ok);
            }
            /* And the registry keeps working afterwards. */
            mcreg_binding b = tu_binding("fm-after-user", "fm-after-ue", 5);
            ck_assert_int_eq(mcreg_register(c.reg, &b, 1000000, NULL), MCREG_OK);
            ck_assert_ptr_nonnull(mcreg_find(c.reg, "fm-after-user", "fm-after-ue"));
            fm_end(&c, name, i);
        }
    }
    if (fm_verbose())
        fprintf(stderr, "failmalloc %-40s param=%-3d N=%zu rc=%d\n", name, param, n, ok.rc);
    free(before);
    fm_result_free(&ok);
    return n;
}

static size_t fm_run(const char *name, const fm_opts *o, fm_setup_fn setup, fm_op_fn op,
                     int param, int must_succeed)
{
    return fm_run_x(name, o, setup, op, param, must_succeed, NULL);
}

/* ---- helpers for setups and operations --------------------------------- */

static const mcreg_setting fm_settings_a[] = {
    {.key = "mcptt-priority", .type = MCREG_VAL_INT, .v.i = 7},
    {.key = "display", .type = MCREG_VAL_TEXT, .v.text = {"Alice's phone", 13}},
    {.key = "blob", .type = MCREG_VAL_BYTES, .v.bytes = {(const uint8_t *)"\x00\x01\xff", 3}},
    {.key = "emergency", .type = MCREG_VAL_BOOL, .v.b = 1},
};

static const mcreg_setting fm_settings_b[] = {
    {.key = "display", .type = MCREG_VAL_TEXT, .v.text = {"a much longer display name", 26}},
    {.key = "x", .type = MCREG_VAL_INT, .v.i = -1},
    {.key = "y", .type = MCREG_VAL_BOOL, .v.b = 0},
    {.key = "z", .type = MCREG_VAL_BYTES, .v.bytes = {NULL, 0}},
    {.key = "w", .type = MCREG_VAL_TEXT, .v.text = {NULL, 0}},
};

static void fm_reg(fm_ctx *c, const char *user, const char *ue, uint32_t exp, uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, exp);
    int rc = mcreg_register(c->reg, &b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "setup register(%s,%s): %d", user, ue, rc);
}

static void fm_reg_full(fm_ctx *c, const char *user, const char *ue, uint32_t exp, uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, exp);
    b.contact = "sip:alice@192.0.2.1:5060;transport=tcp";
    b.call_id = "call-1@192.0.2.1";
    b.cseq = 10;
    b.settings = fm_settings_a;
    b.n_settings = sizeof(fm_settings_a) / sizeof(fm_settings_a[0]);
    int rc = mcreg_register(c->reg, &b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "setup register(%s,%s): %d", user, ue, rc);
}

static int fm_op_reg(fm_ctx *c, const char *user, const char *ue, uint32_t exp, uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, exp);
    return mcreg_register(c->reg, &b, now, &c->outcome);
}

/* A few users with a few UEs each, at distinct times:
 *   alice a-ue1 registered 1000 expires  61000
 *   alice a-ue2 registered 2000 expires 122000
 *   alice a-ue3 registered 3000 expires  33000
 *   bob   b-ue1 registered 1500 expires  91500
 *   bob   b-ue2 registered 2500 expires  47500
 *   carol c-ue1 registered  500 expires  10500 */
static void setup_populated(fm_ctx *c)
{
    fm_reg_full(c, "alice", "a-ue1", 60, 1000);
    fm_reg(c, "alice", "a-ue2", 120, 2000);
    fm_reg_full(c, "alice", "a-ue3", 30, 3000);
    fm_reg(c, "bob", "b-ue1", 90, 1500);
    fm_reg_full(c, "bob", "b-ue2", 45, 2500);
    fm_reg(c, "carol", "c-ue1", 10, 500);
}

/* ---- the cases ----------------------------------------------------------- */

/* The registry options of the cases. */
static const fm_opts opts_default = {{0}, 0};
static const fm_opts opts_logoff = {{.notify_logoff = 1}, 0};
static const fm_opts opts_shared = {{.notify_logoff = 1, .shared_ues = 1}, 0};

static const fm_opts opts_capacity = {{0}, 16};
static const fm_opts opts_capacity_shared = {{.notify_logoff = 1, .shared_ues = 1}, 16};

/* mcreg_registry_new itself, with every combination of failures; _i 1:
 * with a capacity (the tables, the heap and the scratch area at creation). */
START_TEST(test_registry_new)
{
    tu_alloc a;
    memset(&a, 0, sizeof(a));
    mcreg_allocator al = tu_allocator(&a);
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_allocator(o, &al);
    mcreg_options_set_max_ues(o, 3);
    mcreg_options_set_capacity(o, _i ? 100 : 0);

    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    size_t n = a.calls;
    ck_assert_ptr_nonnull(reg);
    mcreg_registry_free(reg);
    ck_assert_msg(a.live == 0 && a.live_bytes == 0, "registry_new: leak after free");
    if (fm_verbose())
        fprintf(stderr, "failmalloc %-40s param=%-3d N=%zu rc=0\n", "registry_new", 0, n);

    for (int mode = 0; mode < 2; mode++) {
        for (size_t i = 1; i <= n; i++) {
            memset(&a, 0, sizeof(a));
            a.fail_at = i;
            a.fail_all_after = mode;
            reg = NULL;
            int rc = mcreg_registry_new(&reg, o);
            a.fail_at = 0;
            a.fail_all_after = 0;
            if (rc == MCREG_ERR_NOMEM) {
                ck_assert_msg(a.live == 0 && a.live_bytes == 0,
                              "registry_new NOMEM at %zu (mode %d): %zu blocks leaked", i, mode,
                              a.live);
                /* Options still usable after a failure. */
                rc = mcreg_registry_new(&reg, o);
            }
            ck_assert_msg(rc == MCREG_OK && reg != NULL, "registry_new at %zu (mode %d): rc %d", i,
                          mode, rc);
            mcreg_binding b = tu_binding("u", "e", 10);
            ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
            ck_assert_uint_eq(mcreg_record_count(reg), 1);
            mcreg_registry_free(reg);
            ck_assert_msg(a.live == 0 && a.live_bytes == 0, "registry_new at %zu: leak", i);
        }
    }
    mcreg_options_free(o);
}
END_TEST

/* A new user in a registry that already holds `param` users (so every
 * growth point of the tables is crossed by one of the loop's values). */
static void setup_n_users(fm_ctx *c)
{
    char user[32], ue[32];
    for (int k = 0; k < c->param; k++) {
        snprintf(user, sizeof(user), "user-%d", k);
        snprintf(ue, sizeof(ue), "ue-%d", k);
        fm_reg(c, user, ue, (uint32_t)(10 + k % 7), (uint64_t)(1000 + k));
    }
}
static int op_new_user(fm_ctx *c)
{
    return fm_op_reg(c, "new-user", "new-ue", 60, 5000);
}
START_TEST(test_register_new_user)
{
    fm_run("register new user", &opts_default, setup_n_users, op_new_user, _i, 0);
}
END_TEST

/* A new UE for a user that already has `param` UEs: CREATED and
 * NOTIFY_LOGON to all of them; the notification scratch has to grow. */
static void setup_user_n_ues(fm_ctx *c)
{
    char ue[32];
    fm_reg(c, "other", "o-ue", 30, 100);
    for (int k = 0; k < c->param; k++) {
        snprintf(ue, sizeof(ue), "ue-%02d", k);
        fm_reg(c, "alice", ue, (uint32_t)(20 + k), (uint64_t)(1000 + 10 * (k % 4)));
    }
}
static int op_new_ue(fm_ctx *c)
{
    return fm_op_reg(c, "alice", "ue-new", 60, 5000);
}
START_TEST(test_register_second_ue)
{
    fm_run("register new UE of existing user", &opts_default, setup_user_n_ues, op_new_ue, _i,
           0);
}
END_TEST

START_TEST(test_register_second_ue_notify_new)
{
    fm_opts o = opts_logoff;
    o.rules.notify = MCREG_NOTIFY_NEW_UE;
    fm_run("register new UE, NOTIFY_NEW_UE", &o, setup_user_n_ues, op_new_ue, _i, 0);
}
END_TEST

static int op_create_full(fm_ctx *c)
{
    mcreg_binding b = tu_binding("alice", "a-ue9", 300);
    b.contact = "sip:alice@[2001:db8::1]:5061;transport=tls";
    b.call_id = "a84b4c76e66710@pc33.example.com";
    b.cseq = 314159;
    b.settings = fm_settings_b;
    b.n_settings = sizeof(fm_settings_b) / sizeof(fm_settings_b[0]);
    return mcreg_register(c->reg, &b, 4000, &c->outcome);
}
START_TEST(test_register_create_full)
{
    fm_run("create with settings, contact, call-id", &opts_default, setup_populated,
           op_create_full, 0, 0);
}
END_TEST

START_TEST(test_register_create_full_empty)
{
    fm_run("create with settings in an empty registry", &opts_default, NULL, op_create_full, 0,
           0);
}
END_TEST

static int op_refresh_settings(fm_ctx *c)
{
    mcreg_binding b = tu_binding("alice", "a-ue1", 600);
    b.contact = "sip:alice@198.51.100.7:5080";
    b.call_id = "call-1@192.0.2.1";
    b.cseq = 11;
    b.settings = fm_settings_b;
    b.n_settings = sizeof(fm_settings_b) / sizeof(fm_settings_b[0]);
    return mcreg_register(c->reg, &b, 4000, &c->outcome);
}
START_TEST(test_register_refresh_settings)
{
    fm_run("refresh with new settings", &opts_default, setup_populated, op_refresh_settings, 0,
           0);
}
END_TEST

/* Refresh that keeps the contact (NULL) and clears the call-id. */
static int op_refresh_keep_contact(fm_ctx *c)
{
    mcreg_binding b = tu_binding("bob", "b-ue2", 100);
    b.settings = fm_settings_a;
    b.n_settings = 2;
    return mcreg_register(c->reg, &b, 4000, &c->outcome);
}
START_TEST(test_register_refresh_keep_contact)
{
    fm_run("refresh keeping contact", &opts_default, setup_populated, op_refresh_keep_contact, 0,
           0);
}
END_TEST

static int op_refresh_shorten(fm_ctx *c)
{
    mcreg_binding b = tu_binding("alice", "a-ue2", 1);
    b.call_id = "other-call";
    b.cseq = 1;
    return mcreg_register(c->reg, &b, 4000, &c->outcome);
}
START_TEST(test_register_refresh_shorten)
{
    fm_run("refresh that shortens", &opts_default, setup_populated, op_refresh_shorten, 0, 0);
}
END_TEST

static int op_stale(fm_ctx *c)
{
    mcreg_binding b = tu_binding("alice", "a-ue1", 100);
    b.call_id = "call-1@192.0.2.1";
    b.cseq = 10;
    return mcreg_register(c->reg, &b, 4000, &c->outcome);
}
START_TEST(test_register_stale)
{
    fm_run("stale refresh", &opts_default, setup_populated, op_stale, 0, 0);
}
END_TEST

static int op_expires0(fm_ctx *c)
{
    return fm_op_reg(c, "alice", "a-ue2", 0, 4000);
}
START_TEST(test_register_expires0)
{
    fm_run_x("expires 0 removal", &opts_logoff, setup_populated, op_expires0, 0, 0,
             "DEREGISTERED(alice,a-ue2);"
             "NOTIFY_LOGOFF(alice,a-ue2>a-ue1:[a-ue3]);"
             "NOTIFY_LOGOFF(alice,a-ue2>a-ue3:[a-ue1])");
}
END_TEST

static int op_expires0_carol(fm_ctx *c)
{
    return fm_op_reg(c, "carol", "c-ue1", 0, 4000);
}
START_TEST(test_register_expires0_carol)
{
    fm_run("expires 0 removal of a user's last UE", &opts_logoff, setup_populated,
           op_expires0_carol, 0, 0);
}
END_TEST

/* dave takes alice's UE a-ue2: REPLACED and LOGOFFs to alice's others. */
static int op_replace(fm_ctx *c)
{
    return fm_op_reg(c, "dave", "a-ue2", 60, 4000);
}
START_TEST(test_register_replace)
{
    fm_run_x("register replacing another user", &opts_logoff, setup_populated, op_replace, 0, 0,
             "REPLACED(alice,a-ue2);"
             "NOTIFY_LOGOFF(alice,a-ue2>a-ue1:[a-ue3]);"
             "NOTIFY_LOGOFF(alice,a-ue2>a-ue3:[a-ue1]);"
             "CREATED(dave,a-ue2)");
}
END_TEST

/* bob takes alice's UE: REPLACED, then CREATED and NOTIFY_LOGON for bob. */
static int op_replace_existing_user(fm_ctx *c)
{
    return fm_op_reg(c, "bob", "a-ue3", 60, 4000);
}
START_TEST(test_register_replace_existing_user)
{
    fm_run_x("register replacing, existing user", &opts_logoff, setup_populated,
             op_replace_existing_user, 0, 0,
             "REPLACED(alice,a-ue3);"
             "NOTIFY_LOGOFF(alice,a-ue3>a-ue1:[a-ue2]);"
             "NOTIFY_LOGOFF(alice,a-ue3>a-ue2:[a-ue1]);"
             "CREATED(bob,a-ue3);"
             "NOTIFY_LOGON(bob,a-ue3>a-ue3:[b-ue1,b-ue2]);"
             "NOTIFY_LOGON(bob,a-ue3>b-ue1:[b-ue2,a-ue3]);"
             "NOTIFY_LOGON(bob,a-ue3>b-ue2:[b-ue1,a-ue3])");
}
END_TEST

/* UE exclusive off: bob joins alice at a-ue2 without removing her. */
START_TEST(test_register_shared_ue)
{
    fm_run("register at a shared UE", &opts_shared, setup_populated, op_replace_existing_user, 0,
           0);
}
END_TEST

/* In setup_populated alice has 3 UEs, bob 2, carol 1. */
static int op_alice_new(fm_ctx *c)
{
    return fm_op_reg(c, "alice", "a-ue4", 60, 4000);
}

START_TEST(test_register_reject)
{
    fm_opts o = opts_logoff;
    o.rules.max_ues = 3;
    fm_run_x("register rejected at limit", &o, setup_populated, op_alice_new, 0, 0,
             "REJECTED(alice,a-ue4)");
}
END_TEST

START_TEST(test_register_evict_oldest)
{
    fm_opts o = opts_logoff;
    o.rules.max_ues = 3;
    o.rules.policy = MCREG_LIMIT_EVICT_OLDEST;
    fm_run_x("register evicting oldest", &o, setup_populated, op_alice_new, 0, 0,
             "EVICTED(alice,a-ue1);"
             "NOTIFY_LOGOFF(alice,a-ue1>a-ue2:[a-ue3]);"
             "NOTIFY_LOGOFF(alice,a-ue1>a-ue3:[a-ue2]);"
             "CREATED(alice,a-ue4);"
             "NOTIFY_LOGON(alice,a-ue4>a-ue4:[a-ue2,a-ue3]);"
             "NOTIFY_LOGON(alice,a-ue4>a-ue2:[a-ue3,a-ue4]);"
             "NOTIFY_LOGON(alice,a-ue4>a-ue3:[a-ue2,a-ue4])");
}
END_TEST

START_TEST(test_register_evict_soonest)
{
    fm_opts o = opts_logoff;
    o.rules.max_ues = 3;
    o.rules.policy = MCREG_LIMIT_EVICT_SOONEST;
    fm_run_x("register evicting soonest", &o, setup_populated, op_alice_new, 0, 0,
             "EVICTED(alice,a-ue3);"
             "NOTIFY_LOGOFF(alice,a-ue3>a-ue1:[a-ue2]);"
             "NOTIFY_LOGOFF(alice,a-ue3>a-ue2:[a-ue1]);"
             "CREATED(alice,a-ue4);"
             "NOTIFY_LOGON(alice,a-ue4>a-ue4:[a-ue1,a-ue2]);"
             "NOTIFY_LOGON(alice,a-ue4>a-ue1:[a-ue2,a-ue4]);"
             "NOTIFY_LOGON(alice,a-ue4>a-ue2:[a-ue1,a-ue4])");
}
END_TEST

/* A per-user limit lowered to 1 under 3 records: two evictions. */
static void setup_limit_lowered(fm_ctx *c)
{
    setup_populated(c);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "alice", 1), MCREG_OK);
}
START_TEST(test_register_evict_many)
{
    fm_opts o = opts_logoff;
    o.rules.policy = _i ? MCREG_LIMIT_EVICT_SOONEST : MCREG_LIMIT_EVICT_OLDEST;
    /* Every removal's events come after the whole change: none of the
     * evicted UEs remains to be told of the others. */
    fm_run_x("register evicting several", &o, setup_limit_lowered, op_alice_new, _i, 0,
             _i ? "EVICTED(alice,a-ue3);EVICTED(alice,a-ue1);EVICTED(alice,a-ue2);"
                  "CREATED(alice,a-ue4)"
                : "EVICTED(alice,a-ue1);EVICTED(alice,a-ue2);EVICTED(alice,a-ue3);"
                  "CREATED(alice,a-ue4)");
}
END_TEST

/* Eviction plus replacement in one call. */
static int op_alice_takes_bob_ue(fm_ctx *c)
{
    return fm_op_reg(c, "alice", "b-ue1", 60, 4000);
}
START_TEST(test_register_evict_and_replace)
{
    fm_opts o = opts_logoff;
    o.rules.max_ues = 2;
    o.rules.policy = _i ? MCREG_LIMIT_EVICT_SOONEST : MCREG_LIMIT_EVICT_OLDEST;
    fm_run("register evicting and replacing", &o, setup_populated, op_alice_takes_bob_ue, _i, 0);
}
END_TEST

static int op_deregister(fm_ctx *c)
{
    return mcreg_deregister(c->reg, "alice", "a-ue1", 4000);
}
START_TEST(test_deregister)
{
    fm_run("deregister", _i ? &opts_logoff : &opts_default, setup_populated, op_deregister, _i,
           0);
}
END_TEST

static int op_deregister_missing(fm_ctx *c)
{
    return mcreg_deregister(c->reg, "alice", "nowhere", 4000);
}
START_TEST(test_deregister_missing)
{
    fm_run("deregister of a missing record", &opts_logoff, setup_populated,
           op_deregister_missing, 0, 0);
}
END_TEST

static int op_deregister_user(fm_ctx *c)
{
    return mcreg_deregister_user(c->reg, "alice", 4000, &c->count);
}
START_TEST(test_deregister_user)
{
    fm_run("deregister_user", _i ? &opts_logoff : &opts_default, setup_populated,
           op_deregister_user, _i, 0);
}
END_TEST

/* A user with a limit of its own keeps it after deregister_user. */
START_TEST(test_deregister_user_with_limit)
{
    fm_run("deregister_user with a user limit", &opts_logoff, setup_limit_lowered,
           op_deregister_user, 0, 0);
}
END_TEST

static int op_expire(fm_ctx *c)
{
    /* param selects how far the clock goes: nothing, some, everything. */
    static const uint64_t at[] = {1000, 47500, 62000, 131000, UINT64_MAX};
    return mcreg_expire(c->reg, at[c->param], &c->count);
}
START_TEST(test_expire)
{
    /* At 47500: c-ue1 (10500), a-ue3 (33000), b-ue2 (47500), in that order. */
    const char *expect = NULL;
    if (_i == 2)
        expect = "EXPIRED(carol,c-ue1);EXPIRED(alice,a-ue3);EXPIRED(bob,b-ue2)";
    if (_i == 3)
        expect = "EXPIRED(carol,c-ue1);"
                 "EXPIRED(alice,a-ue3);"
                 "NOTIFY_LOGOFF(alice,a-ue3>a-ue1:[a-ue2]);"
                 "NOTIFY_LOGOFF(alice,a-ue3>a-ue2:[a-ue1]);"
                 "EXPIRED(bob,b-ue2);"
                 "NOTIFY_LOGOFF(bob,b-ue2>b-ue1:[])";
    fm_run_x("expire", _i % 2 ? &opts_logoff : &opts_default, setup_populated, op_expire,
             _i / 2, 1, expect);
}
END_TEST

static void setup_shared_expire(fm_ctx *c)
{
    setup_populated(c);
    fm_reg(c, "bob", "a-ue1", 60, 1000);
    fm_reg(c, "carol", "a-ue1", 60, 1000);
}
START_TEST(test_expire_shared)
{
    fm_run("expire with shared UEs", &opts_shared, setup_shared_expire, op_expire, _i, 1);
}
END_TEST

static int op_set_limit_new(fm_ctx *c)
{
    return mcreg_set_user_max_ues(c->reg, "zed", 2);
}
START_TEST(test_set_limit_new_user)
{
    fm_run("set_user_max_ues on a new user", &opts_default, setup_populated, op_set_limit_new, 0,
           0);
}
END_TEST

START_TEST(test_set_limit_new_user_empty)
{
    fm_run("set_user_max_ues in an empty registry", &opts_default, NULL, op_set_limit_new, 0, 0);
}
END_TEST

static int op_set_limit_existing(fm_ctx *c)
{
    return mcreg_set_user_max_ues(c->reg, "alice", 2);
}
START_TEST(test_set_limit_existing_user)
{
    fm_run("set_user_max_ues on an existing user", &opts_default, setup_populated,
           op_set_limit_existing, 0, 0);
}
END_TEST

START_TEST(test_set_limit_again)
{
    fm_run("set_user_max_ues over a user limit", &opts_default, setup_limit_lowered,
           op_set_limit_existing, 0, 0);
}
END_TEST

/* A limit-only user (no records) stays after its limit changes. */
static void setup_limit_only(fm_ctx *c)
{
    setup_populated(c);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "zed", 5), MCREG_OK);
}
START_TEST(test_set_limit_limit_only_user)
{
    fm_run("set_user_max_ues on a limit-only user", &opts_default, setup_limit_only,
           op_set_limit_new, 0, 0);
}
END_TEST

/* The limit then governs a create: the failure points of a create for a
 * user that exists only through its limit. */
static int op_zed_register(fm_ctx *c)
{
    return fm_op_reg(c, "zed", "z-ue", 60, 4000);
}
START_TEST(test_register_limit_only_user)
{
    fm_run("register for a limit-only user", &opts_default, setup_limit_only, op_zed_register, 0,
           0);
}
END_TEST


/* Clearing a limit: of a user with records (param 0) and of a user that
 * exists only through its limit (param 1), which then goes away. */
static void setup_two_limits(fm_ctx *c)
{
    setup_limit_only(c);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "alice", 1), MCREG_OK);
}
static int op_clear_limit(fm_ctx *c)
{
    return mcreg_clear_user_max_ues(c->reg, c->param ? "zed" : "alice");
}
START_TEST(test_clear_limit)
{
    fm_run("clear_user_max_ues", &opts_default, setup_two_limits, op_clear_limit, _i, 0);
}
END_TEST

static int op_clear_limit_missing(fm_ctx *c)
{
    return mcreg_clear_user_max_ues(c->reg, "bob");
}
START_TEST(test_clear_limit_missing)
{
    fm_run("clear_user_max_ues with none set", &opts_default, setup_two_limits,
           op_clear_limit_missing, 0, 0);
}
END_TEST

/* mcreg_foreach allocates its ordering array: NOMEM when that fails, and
 * then the visitor must not have run. The visitor records what it saw. */
typedef struct fm_visit {
    tu_events *ev;
    size_t n;
} fm_visit;

static int fm_visitor(const mcreg_record *r, void *ud)
{
    fm_visit *v = ud;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s%s/%s", v->n ? "," : "", mcreg_record_user_id(r),
             mcreg_record_ue_id(r));
    tu_events_append(v->ev, buf);
    v->n++;
    return 0;
}

static int op_foreach(fm_ctx *c)
{
    c->query = 1;
    /* The visits go to the event log so the driver compares them too;
     * on NOMEM the log must stay empty, i.e. no record was visited. */
    fm_visit v = {&c->ev, 0};
    int rc = mcreg_foreach(c->reg, fm_visitor, &v);
    c->count = v.n;
    if (rc == MCREG_ERR_NOMEM)
        c->count = (size_t)-1;
    ck_assert_msg(rc != MCREG_ERR_NOMEM || v.n == 0, "foreach visited %zu records then NOMEM",
                  v.n);
    return rc;
}
START_TEST(test_foreach)
{
    fm_run("foreach", &opts_default, setup_populated, op_foreach, 0, 0);
}
END_TEST

START_TEST(test_foreach_empty)
{
    fm_run("foreach on an empty registry", &opts_default, NULL, op_foreach, 0, 0);
}
END_TEST

static int op_user_foreach(fm_ctx *c)
{
    fm_visit v = {&c->ev, 0};
    int rc = mcreg_user_foreach(c->reg, "alice", fm_visitor, &v);
    c->count = v.n;
    return rc;
}
START_TEST(test_user_foreach)
{
    size_t n = fm_run("user_foreach", &opts_default, setup_populated, op_user_foreach, 0, 0);
    ck_assert_msg(n == 0, "mcreg_user_foreach made %zu allocations (queries other than "
                          "mcreg_foreach do not allocate)", n);
}
END_TEST

/* The queries that must never allocate. */
START_TEST(test_queries_do_not_allocate)
{
    fm_ctx c;
    fm_begin(&c, &opts_shared, setup_shared_expire, 0);
    size_t calls0 = c.alloc.calls;
    uint64_t at = 0;
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_next_expiry(c.reg, &at), MCREG_OK);
    ck_assert_int_eq(mcreg_user_max_ues(c.reg, "alice", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(mcreg_find(c.reg, "alice", "a-ue1"));
    ck_assert_ptr_nonnull(mcreg_find_ue(c.reg, "a-ue1"));
    ck_assert_uint_eq(mcreg_user_ue_count(c.reg, "alice"), 3);
    ck_assert_uint_eq(mcreg_record_count(c.reg), 8);
    ck_assert_uint_eq(mcreg_user_count(c.reg), 3);
    ck_assert_msg(c.alloc.calls == calls0, "queries made %zu allocations",
                  c.alloc.calls - calls0);
    fm_end(&c, "queries", 0);
}
END_TEST

/* A long mixed sequence in which every single allocation, one at a time,
 * is made to fail: the registry must always end identical to the run
 * without failures once each failed call is retried. */
static int fm_script_step(mcreg_registry *reg, int k, mcreg_outcome *out, size_t *count)
{
    char user[16], ue[16];
    snprintf(user, sizeof(user), "u%d", (k * 7) % 5);
    snprintf(ue, sizeof(ue), "e%d", (k * 3) % 6);
    uint64_t now = 1000u * (uint64_t)k;
    switch (k % 6) {
    case 0:
    case 1:
    case 2: {
        mcreg_binding b = tu_binding(user, ue, (uint32_t)(k % 5 == 0 ? 0 : 5 + k % 11));
        b.settings = fm_settings_a;
        b.n_settings = (size_t)(k % 5);
        b.contact = k % 2 ? "sip:x@example.org" : NULL;
        b.call_id = k % 3 ? "cid" : NULL;
        b.cseq = (uint32_t)k;
        return mcreg_register(reg, &b, now, out);
    }
    case 3:
        return mcreg_deregister(reg, user, ue, now);
    case 4:
        return k % 4 ? mcreg_expire(reg, now, count) : mcreg_deregister_user(reg, user, now, count);
    default:
        return k % 4 ? mcreg_set_user_max_ues(reg, user, (uint32_t)(k % 3))
                     : mcreg_clear_user_max_ues(reg, user);
    }
}

START_TEST(test_script)
{
    enum { STEPS = 60 };
    fm_opts o = opts_logoff;
    o.rules.max_ues = 2;
    o.rules.policy = (mcreg_limit_policy)_i;
    o.rules.shared_ues = _i == 1;

    /* Reference: results, states and events of every step. */
    int ref_rc[STEPS];
    size_t ref_n[STEPS];
    char *ref_dump[STEPS];
    char *ref_ev[STEPS];
    fm_ctx c;
    fm_begin(&c, &o, NULL, 0);
    for (int k = 0; k < STEPS; k++) {
        mcreg_outcome out;
        size_t count;
        tu_events_reset(&c.ev);
        size_t calls0 = c.alloc.calls;
        ref_rc[k] = fm_script_step(c.reg, k, &out, &count);
        ref_n[k] = c.alloc.calls - calls0;
        ck_assert_int_ne(ref_rc[k], MCREG_ERR_NOMEM);
        ref_dump[k] = fm_dump(&c);
        ref_ev[k] = fm_strdup(c.ev.log);
    }
    fm_end(&c, "script", 0);
    size_t total = 0;
    for (int k = 0; k < STEPS; k++)
        total += ref_n[k];
    ck_assert_msg(total > 0, "script made no allocation");

    /* Fail each allocation of each step in turn. */
    for (int fail_step = 0; fail_step < STEPS; fail_step++) {
        for (size_t i = 1; i <= ref_n[fail_step]; i++) {
            fm_begin(&c, &o, NULL, 0);
            for (int k = 0; k < STEPS; k++) {
                mcreg_outcome out;
                size_t count;
                tu_events_reset(&c.ev);
                if (k == fail_step)
                    c.alloc.fail_at = c.alloc.calls + i;
                int rc = fm_script_step(c.reg, k, &out, &count);
                c.alloc.fail_at = 0;
                if (k == fail_step && rc == MCREG_ERR_NOMEM) {
                    ck_assert_msg(c.ev.count == 0, "step %d alloc %zu: events on NOMEM: %s", k,
                                  i, c.ev.log);
                    char *d = fm_dump(&c);
                    const char *prev = k ? ref_dump[k - 1] : NULL;
                    if (prev)
                        ck_assert_msg(strcmp(d, prev) == 0,
                                      "step %d alloc %zu: NOMEM changed the state:\n%s\nwas\n%s",
                                      k, i, d, prev);
                    else
                        ck_assert_msg(strcmp(d, "records=0 users=0 next=-3:0\n") == 0,
                                      "step 0 alloc %zu: NOMEM changed the state:\n%s", i, d);
                    free(d);
                    rc = fm_script_step(c.reg, k, &out, &count);
                }
                ck_assert_msg(rc == ref_rc[k], "failing step %d alloc %zu: step %d rc %d, "
                              "expected %d", fail_step, i, k, rc, ref_rc[k]);
                ck_assert_msg(strcmp(c.ev.log, ref_ev[k]) == 0,
                              "failing step %d alloc %zu: step %d events '%s', expected '%s'",
                              fail_step, i, k, c.ev.log, ref_ev[k]);
                if (k >= fail_step) {
                    char *d = fm_dump(&c);
                    ck_assert_msg(strcmp(d, ref_dump[k]) == 0,
                                  "failing step %d alloc %zu: step %d state\n%s\nexpected\n%s",
                                  fail_step, i, k, d, ref_dump[k]);
                    free(d);
                }
            }
            fm_end(&c, "script", i);
        }
    }
    for (int k = 0; k < STEPS; k++) {
        free(ref_dump[k]);
        free(ref_ev[k]);
    }
}
END_TEST

/* ---- snapshot and restore ------------------------------------------------- */

/* A rich state: setup_populated (settings of every type, contact, Call-ID),
 * dave with other settings and the largest CSeq, and limits of 4, 0 and 5,
 * zed's on a user without records. With param 1 (for UE exclusive off),
 * bob also holds a-ue1. */
static void setup_rich(fm_ctx *c)
{
    setup_populated(c);
    mcreg_binding b = tu_binding("dave", "d-ue1", 300);
    b.contact = "sips:dave@[2001:db8::9]:5061";
    b.call_id = "d-call@host";
    b.cseq = UINT32_MAX;
    b.settings = fm_settings_b;
    b.n_settings = sizeof(fm_settings_b) / sizeof(fm_settings_b[0]);
    ck_assert_int_eq(mcreg_register(c->reg, &b, 3500, NULL), MCREG_OK);
    if (c->param)
        fm_reg(c, "bob", "a-ue1", 60, 1000);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "alice", 4), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "u0", 0), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "zed", 5), MCREG_OK);
}

/* The bytes of the run without failure; every other run must give them. */
static uint8_t *fm_snap_ref;
static size_t fm_snap_ref_len;

static void fm_snap_ref_reset(void)
{
    free(fm_snap_ref);
    fm_snap_ref = NULL;
    fm_snap_ref_len = 0;
}

static int op_snapshot(fm_ctx *c)
{
    c->query = 1;
    uint8_t marker = 0;
    uint8_t *buf = &marker;
    size_t len = 777;
    size_t live = c->alloc.live, bytes = c->alloc.live_bytes;
    int rc = mcreg_snapshot(c->reg, &buf, &len);
    if (rc != MCREG_OK) {
        if (buf != &marker || len != 777)
            ck_abort_msg("snapshot: outputs written on error %d", rc);
        if (c->alloc.live != live || c->alloc.live_bytes != bytes)
            ck_abort_msg("snapshot: error %d with %zu blocks kept", rc, c->alloc.live - live);
        return rc;
    }
    if (buf == &marker || buf == NULL || len == 0)
        ck_abort_msg("snapshot: no output");
    if (!fm_snap_ref) {
        fm_snap_ref = malloc(len);
        if (!fm_snap_ref)
            abort();
        memcpy(fm_snap_ref, buf, len);
        fm_snap_ref_len = len;
    } else if (len != fm_snap_ref_len || memcmp(buf, fm_snap_ref, len) != 0) {
        ck_abort_msg("snapshot: other bytes than the run without failure");
    }
    c->count = len;
    mcreg_buffer_free(c->reg, buf);
    if (c->alloc.live != live || c->alloc.live_bytes != bytes)
        ck_abort_msg("snapshot: blocks kept after mcreg_buffer_free");
    return rc;
}

/* _i: 0 UE exclusive on, 1 off. */
START_TEST(test_snapshot)
{
    fm_snap_ref_reset();
    size_t n = fm_run("snapshot", _i ? &opts_shared : &opts_default, setup_rich, op_snapshot,
                      _i, 0);
    ck_assert_msg(n > 0, "mcreg_snapshot made no allocation");
    fm_snap_ref_reset();
}
END_TEST

START_TEST(test_snapshot_empty)
{
    fm_snap_ref_reset();
    fm_run("snapshot of an empty registry", &opts_default, NULL, op_snapshot, 0, 0);
    fm_snap_ref_reset();
}
END_TEST

/* The state that the restore cases restore: other users and values than
 * the registries they restore into, a pair those also hold (alice a-ue1)
 * with other values, a record that has expired by the restore (carol's),
 * limits of users with and without records. With param 1 (UE exclusive
 * off), u2 shares dave's UE. */
static void setup_restore_source(fm_ctx *c)
{
    fm_reg_full(c, "dave", "d-ue1", 300, 1200);
    mcreg_binding b = tu_binding("u0", "u0-ue", 200);
    b.contact = "sip:u0@198.51.100.1";
    b.call_id = "x";
    b.cseq = 99;
    b.settings = fm_settings_b;
    b.n_settings = sizeof(fm_settings_b) / sizeof(fm_settings_b[0]);
    ck_assert_int_eq(mcreg_register(c->reg, &b, 1300, NULL), MCREG_OK);
    fm_reg(c, "u1", "u1-ue1", 40, 800);
    fm_reg(c, "u1", "u1-ue2", 50, 800);
    fm_reg(c, "alice", "a-ue1", 90, 900);
    fm_reg(c, "carol", "c-ue1", 3, 100); /* expires at 3100 */
    if (c->param)
        fm_reg(c, "u2", "d-ue1", 60, 1200);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "u1", 3), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "bob", 2), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "u4", 0), MCREG_OK);
}

static uint8_t *fm_restore_in;
static size_t fm_restore_in_len;
#define FM_RESTORE_NOW 4000

/* The snapshot of setup_restore_source, into fm_restore_in. */
static void fm_restore_source(const fm_opts *o, int param)
{
    fm_ctx c;
    fm_begin(&c, o, setup_restore_source, param);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(c.reg, &buf, &len), MCREG_OK);
    free(fm_restore_in);
    fm_restore_in = malloc(len);
    ck_assert_ptr_nonnull(fm_restore_in);
    memcpy(fm_restore_in, buf, len);
    fm_restore_in_len = len;
    mcreg_buffer_free(c.reg, buf);
    fm_end(&c, "restore source", 0);
}

static int op_restore(fm_ctx *c)
{
    size_t live = c->alloc.live, bytes = c->alloc.live_bytes;
    int rc = mcreg_restore(c->reg, fm_restore_in, fm_restore_in_len, FM_RESTORE_NOW);
    if (rc == MCREG_ERR_NOMEM && (c->alloc.live != live || c->alloc.live_bytes != bytes))
        ck_abort_msg("restore: NOMEM with %zu blocks / %zu bytes live, %zu / %zu before",
                     c->alloc.live, c->alloc.live_bytes, live, bytes);
    if (rc == MCREG_OK && mcreg_find(c->reg, "carol", "c-ue1") != NULL)
        ck_abort_msg("restore: a record expired at the restore time was kept");
    return rc;
}

/* Into a registry holding another rich state (setup_rich). _i: 0 UE
 * exclusive on, 1 off. */
START_TEST(test_restore)
{
    const fm_opts *o = _i ? &opts_shared : &opts_default;
    fm_restore_source(o, _i);
    size_t n = fm_run("restore over a rich state", o, setup_rich, op_restore, _i, 0);
    ck_assert_msg(n > 0, "mcreg_restore made no allocation");
    free(fm_restore_in);
    fm_restore_in = NULL;
}
END_TEST

START_TEST(test_restore_into_empty)
{
    const fm_opts *o = _i ? &opts_shared : &opts_default;
    fm_restore_source(o, _i);
    fm_run("restore into an empty registry", o, NULL, op_restore, _i, 0);
    free(fm_restore_in);
    fm_restore_in = NULL;
}
END_TEST

/* With a node id, carol's record, expired by the restore, stays as her
 * pair's tombstone (REPLICATION.md: an expired put counts until its
 * horizon); the rich state it restores over has tombstones of its own. */
static const fm_opts opts_repl = {{.node_id = 1, .max_expires = 3600}, 0};
static const fm_opts opts_repl_shared = {{.shared_ues = 1, .node_id = 1, .max_expires = 3600}, 0};

static void setup_rich_repl(fm_ctx *c)
{
    setup_rich(c);
    ck_assert_int_eq(mcreg_expire(c->reg, 100000, NULL), MCREG_OK);
}

static int op_restore_repl(fm_ctx *c)
{
    int rc = op_restore(c);
    if (rc == MCREG_OK && mcreg_stat(c->reg, MCREG_STAT_TOMBSTONES) != 1)
        ck_abort_msg("restore: %" PRIu64 " tombstones, want carol's",
                     mcreg_stat(c->reg, MCREG_STAT_TOMBSTONES));
    return rc;
}

START_TEST(test_restore_with_node_id)
{
    const fm_opts *o = _i ? &opts_repl_shared : &opts_repl;
    fm_restore_source(o, _i);
    size_t n = fm_run("restore with a node id", o, setup_rich_repl, op_restore_repl, _i, 0);
    ck_assert_msg(n > 0, "mcreg_restore made no allocation");
    fm_run("restore with a node id, into an empty registry", o, NULL, op_restore_repl, _i, 0);
    free(fm_restore_in);
    fm_restore_in = NULL;
}
END_TEST

/* ---- capacity, bounded expiry, lapsed records ----------------------------- */

/* Under a capacity, a new user (param users held, a few past the
 * capacity of 16) and a new UE: only the record and the user allocate
 * below it; past it the tables and the heap grow, and may fail. */
START_TEST(test_register_under_capacity)
{
    fm_run_x("register under a capacity", _i % 2 ? &opts_capacity_shared : &opts_capacity,
             setup_n_users, op_new_user, _i, 0, NULL);
}
END_TEST

/* Emptied under a capacity (the last record deregistered), the registry
 * keeps its tables: the next register allocates its record and its user
 * alone, and on failure leaves the empty state. */
static void setup_emptied(fm_ctx *c)
{
    fm_reg(c, "alice", "a-ue1", 60, 1000);
    ck_assert_int_eq(mcreg_deregister(c->reg, "alice", "a-ue1", 2000), MCREG_OK);
}
static int op_refill(fm_ctx *c)
{
    return fm_op_reg(c, "bob", "b-ue1", 60, 3000);
}
START_TEST(test_empty_and_refill_under_capacity)
{
    size_t n = fm_run_x("register into an emptied registry, under a capacity",
                        _i ? &opts_capacity_shared : &opts_capacity, setup_emptied, op_refill, 0,
                        0, "CREATED(bob,b-ue1)");
    ck_assert_uint_eq(n, 2); /* the record and the user */
}
END_TEST

/* mcreg_expire_max at 131000 (five records due), two at a time: the first
 * two in mcreg_expire's order, the rest stay. Never fails. */
static int op_expire_max(fm_ctx *c)
{
    return mcreg_expire_max(c->reg, 131000, 2, &c->count);
}
START_TEST(test_expire_max)
{
    const char *expect = _i ? "EXPIRED(carol,c-ue1);EXPIRED(alice,a-ue3);"
                              "NOTIFY_LOGOFF(alice,a-ue3>a-ue1:[a-ue2]);"
                              "NOTIFY_LOGOFF(alice,a-ue3>a-ue2:[a-ue1])"
                            : "EXPIRED(carol,c-ue1);EXPIRED(alice,a-ue3)";
    fm_run_x("expire_max", _i ? &opts_logoff : &opts_capacity, setup_populated, op_expire_max, 0,
             1, expect);
}
END_TEST

/* Alice's a-ue3 lapsed at 33000: a new UE at 40000 removes it first (and
 * under her limit of 3 it does not count); on NOMEM it stays. param 1:
 * the refresh of a-ue2 sweeps it as well; 2: a-ue3 itself registers
 * again, a new logon. */
static void setup_populated_limit(fm_ctx *c)
{
    setup_populated(c);
    ck_assert_int_eq(mcreg_set_user_max_ues(c->reg, "alice", 3), MCREG_OK);
}
static int op_register_sweeping(fm_ctx *c)
{
    static const char *const ue[] = {"a-ue4", "a-ue2", "a-ue3"};
    mcreg_binding b = tu_binding("alice", ue[c->param], 90);
    b.contact = "sip:alice@192.0.2.99";
    return mcreg_register(c->reg, &b, 40000, &c->outcome);
}
START_TEST(test_register_sweeps_lapsed)
{
    const char *want = _i == 0 ? "EXPIRED(alice,a-ue3);CREATED(alice,a-ue4);"
                                 "NOTIFY_LOGON(alice,a-ue4>a-ue4:[a-ue1,a-ue2]);"
                                 "NOTIFY_LOGON(alice,a-ue4>a-ue1:[a-ue2,a-ue4]);"
                                 "NOTIFY_LOGON(alice,a-ue4>a-ue2:[a-ue1,a-ue4])"
                       : _i == 1 ? "EXPIRED(alice,a-ue3);REFRESHED(alice,a-ue2)"
                                 : "EXPIRED(alice,a-ue3);CREATED(alice,a-ue3);"
                                   "NOTIFY_LOGON(alice,a-ue3>a-ue3:[a-ue1,a-ue2]);"
                                   "NOTIFY_LOGON(alice,a-ue3>a-ue1:[a-ue2,a-ue3]);"
                                   "NOTIFY_LOGON(alice,a-ue3>a-ue2:[a-ue1,a-ue3])";
    fm_opts o = opts_default;
    o.rules.shared_ues = _i == 2;
    fm_run_x("register sweeping a lapsed record", &o, setup_populated_limit,
             op_register_sweeping, _i, 0, want);
}
END_TEST

/* A restore into a registry with a capacity: the new state's tables and
 * heap are allocated before the snapshot is read; any failure leaves the
 * old state and its tables. */
START_TEST(test_restore_under_capacity)
{
    fm_opts o = _i ? opts_capacity_shared : opts_capacity;
    o.rules.notify_logoff = 0;
    fm_restore_source(&o, _i);
    fm_run("restore under a capacity", &o, setup_rich, op_restore, _i, 0);
    free(fm_restore_in);
    fm_restore_in = NULL;
}
END_TEST

Suite *suite_failmalloc(void)
{
    Suite *s = suite_create("failmalloc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_registry_new, 0, 2);
    tcase_add_loop_test(tc, test_register_under_capacity, 0, 24);
    tcase_add_loop_test(tc, test_empty_and_refill_under_capacity, 0, 2);
    tcase_add_loop_test(tc, test_expire_max, 0, 2);
    tcase_add_loop_test(tc, test_register_sweeps_lapsed, 0, 3);
    tcase_add_loop_test(tc, test_restore_under_capacity, 0, 2);
    tcase_add_loop_test(tc, test_register_new_user, 0, 40);
    tcase_add_loop_test(tc, test_register_second_ue, 1, 20);
    tcase_add_loop_test(tc, test_register_second_ue_notify_new, 1, 4);
    tcase_add_test(tc, test_register_create_full);
    tcase_add_test(tc, test_register_create_full_empty);
    tcase_add_test(tc, test_register_refresh_settings);
    tcase_add_test(tc, test_register_refresh_keep_contact);
    tcase_add_test(tc, test_register_refresh_shorten);
    tcase_add_test(tc, test_register_stale);
    tcase_add_test(tc, test_register_expires0);
    tcase_add_test(tc, test_register_expires0_carol);
    tcase_add_test(tc, test_register_replace);
    tcase_add_test(tc, test_register_replace_existing_user);
    tcase_add_test(tc, test_register_shared_ue);
    tcase_add_test(tc, test_register_reject);
    tcase_add_test(tc, test_register_evict_oldest);
    tcase_add_test(tc, test_register_evict_soonest);
    tcase_add_loop_test(tc, test_register_evict_many, 0, 2);
    tcase_add_loop_test(tc, test_register_evict_and_replace, 0, 2);
    tcase_add_loop_test(tc, test_deregister, 0, 2);
    tcase_add_test(tc, test_deregister_missing);
    tcase_add_loop_test(tc, test_deregister_user, 0, 2);
    tcase_add_test(tc, test_deregister_user_with_limit);
    tcase_add_loop_test(tc, test_expire, 0, 10);
    tcase_add_loop_test(tc, test_expire_shared, 0, 5);
    tcase_add_test(tc, test_set_limit_new_user);
    tcase_add_test(tc, test_set_limit_new_user_empty);
    tcase_add_test(tc, test_set_limit_existing_user);
    tcase_add_test(tc, test_set_limit_again);
    tcase_add_test(tc, test_set_limit_limit_only_user);
    tcase_add_test(tc, test_register_limit_only_user);
    tcase_add_loop_test(tc, test_clear_limit, 0, 2);
    tcase_add_test(tc, test_clear_limit_missing);
    tcase_add_test(tc, test_foreach);
    tcase_add_test(tc, test_foreach_empty);
    tcase_add_test(tc, test_user_foreach);
    tcase_add_test(tc, test_queries_do_not_allocate);
    tcase_add_loop_test(tc, test_script, 0, 3);
    tcase_add_loop_test(tc, test_snapshot, 0, 2);
    tcase_add_test(tc, test_snapshot_empty);
    tcase_add_loop_test(tc, test_restore, 0, 2);
    tcase_add_loop_test(tc, test_restore_into_empty, 0, 2);
    tcase_add_loop_test(tc, test_restore_with_node_id, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
