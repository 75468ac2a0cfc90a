/* Expiry: mcreg_next_expiry and mcreg_expire, including order, boundary and
 * a large pseudo-random batch checked against a sort done here. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "suites.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static mcreg_registry *make(tu_events *ev, int exclusive)
{
    tu_events_init(ev);
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_event_callback(o, tu_events_cb, ev);
    mcreg_options_set_ue_exclusive(o, exclusive);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    return reg;
}

static void reg_ok(mcreg_registry *reg, const char *user, const char *ue, uint32_t expires_s,
                   uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, expires_s);
    int rc = mcreg_register(reg, &b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "register %s/%s: %d", user, ue, rc);
}

static uint64_t next_expiry(const mcreg_registry *reg)
{
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    return at;
}

typedef struct min_ctx {
    uint64_t min;
    size_t n;
} min_ctx;

static int min_visitor(const mcreg_record *r, void *ud)
{
    min_ctx *m = ud;
    uint64_t e = mcreg_record_expires_at(r);
    if (m->n == 0 || e < m->min)
        m->min = e;
    m->n++;
    return 0;
}

/* next_expiry must equal the minimum found by visiting every record. */
static void assert_next_expiry_is_true_minimum(const mcreg_registry *reg)
{
    min_ctx m = {0, 0};
    ck_assert_int_eq(mcreg_foreach(reg, min_visitor, &m), MCREG_OK);
    ck_assert_uint_eq(m.n, mcreg_record_count(reg));
    uint64_t at = 0;
    int rc = mcreg_next_expiry(reg, &at);
    if (m.n == 0) {
        ck_assert_int_eq(rc, MCREG_ERR_NOT_FOUND);
    } else {
        ck_assert_int_eq(rc, MCREG_OK);
        ck_assert_uint_eq(at, m.min);
    }
}

/* Deterministic 64-bit LCG (Knuth's MMIX constants), high bits used. */
static uint32_t lcg_next(uint64_t *state)
{
    *state = *state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(*state >> 33);
}

/* ---- next_expiry ---------------------------------------------------------- */

START_TEST(test_next_expiry_not_found_when_empty)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_ERR_NOT_FOUND);
    reg_ok(reg, "u", "a", 60, 0);
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 60000);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "a", 1), MCREG_OK);
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_ERR_NOT_FOUND);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_next_expiry_follows_create_refresh_shorten_remove)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 100, 0);
    ck_assert_uint_eq(next_expiry(reg), 100000);
    reg_ok(reg, "u", "b", 50, 0); /* new minimum */
    ck_assert_uint_eq(next_expiry(reg), 50000);
    reg_ok(reg, "v", "c", 70, 0); /* not a new minimum */
    ck_assert_uint_eq(next_expiry(reg), 50000);
    reg_ok(reg, "u", "b", 200, 0); /* the minimum is extended */
    ck_assert_uint_eq(next_expiry(reg), 70000);
    reg_ok(reg, "u", "a", 10, 0); /* shortened to the new minimum */
    ck_assert_uint_eq(next_expiry(reg), 10000);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "a", 0), MCREG_OK);
    ck_assert_uint_eq(next_expiry(reg), 70000);
    reg_ok(reg, "v", "c", 0, 0); /* expires 0 removal */
    ck_assert_uint_eq(next_expiry(reg), 200000);
    ck_assert_int_eq(mcreg_deregister_user(reg, "u", 0, NULL), MCREG_OK);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_ERR_NOT_FOUND);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_next_expiry_follows_replace_and_evict)
{
    tu_events ev;
    tu_events_init(&ev);
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_event_callback(o, tu_events_cb, &ev);
    mcreg_options_set_max_ues(o, 1);
    mcreg_options_set_limit_policy(o, MCREG_LIMIT_EVICT_OLDEST);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);

    reg_ok(reg, "u", "a", 10, 0);
    reg_ok(reg, "v", "b", 40, 0);
    ck_assert_uint_eq(next_expiry(reg), 10000);
    reg_ok(reg, "v", "a", 30, 0); /* replaces u at a, evicts v at b */
    ck_assert_str_eq(ev.log, "CREATED(u,a);CREATED(v,b);"
                             "REPLACED(u,a);EVICTED(v,b);CREATED(v,a)");
    ck_assert_uint_eq(next_expiry(reg), 30000);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_next_expiry_handles_saturated_values)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 10, UINT64_MAX - 1);
    ck_assert_uint_eq(next_expiry(reg), UINT64_MAX);
    reg_ok(reg, "u", "b", 10, 0);
    ck_assert_uint_eq(next_expiry(reg), 10000);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- expire --------------------------------------------------------------- */

START_TEST(test_expire_empty_registry_removes_nothing)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mcreg_expire(reg, 0, NULL), MCREG_OK);
    ck_assert_uint_eq(ev.count, 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_expire_boundary_is_inclusive)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 10, 0); /* expires 10000 */
    tu_events_reset(&ev);
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 9999, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(mcreg_find(reg, "u", "a"));
    ck_assert_uint_eq(ev.count, 0);
    ck_assert_int_eq(mcreg_expire(reg, 10000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_null(mcreg_find(reg, "u", "a"));
    ck_assert_str_eq(ev.log, "EXPIRED(u,a)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_expire_removes_exactly_the_due_records)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 5, 0);   /* 5000 */
    reg_ok(reg, "u", "b", 20, 0);  /* 20000 */
    reg_ok(reg, "v", "c", 10, 0);  /* 10000 */
    reg_ok(reg, "v", "d", 30, 0);  /* 30000 */
    reg_ok(reg, "w", "e", 10, 0);  /* 10000 */
    tu_events_reset(&ev);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 10000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(ev.log, "EXPIRED(u,a);EXPIRED(v,c);EXPIRED(w,e)");
    ck_assert_ptr_null(mcreg_find(reg, "u", "a"));
    ck_assert_ptr_null(mcreg_find(reg, "v", "c"));
    ck_assert_ptr_null(mcreg_find(reg, "w", "e"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "e"));
    ck_assert_ptr_nonnull(mcreg_find(reg, "u", "b"));
    ck_assert_ptr_nonnull(mcreg_find(reg, "v", "d"));
    ck_assert_uint_eq(mcreg_record_count(reg), 2);
    ck_assert_uint_eq(mcreg_user_count(reg), 2); /* w has none left */
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 1);
    ck_assert_uint_eq(next_expiry(reg), 20000);
    /* a second call at the same time finds nothing more */
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_expire(reg, 10000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(ev.count, 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_expire_accepts_null_count)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 1, 0);
    reg_ok(reg, "u", "b", 2, 0);
    ck_assert_int_eq(mcreg_expire(reg, 1500, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_ptr_nonnull(mcreg_find(reg, "u", "b"));
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_expire_with_clock_before_everything_removes_nothing)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 1, 5000); /* 6000 */
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 0, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_expire_at_max_time_removes_saturated_records)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 10, UINT64_MAX - 1); /* UINT64_MAX */
    reg_ok(reg, "u", "b", 10, 0);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX - 1, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(mcreg_find(reg, "u", "a"));
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_expire_order_is_expiry_registered_ue_user)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 0); /* UE shared: user_id ties possible */
    /* created at different times, then all refreshed at 1000 so that
     * expires_at ties while registered_at does not */
    reg_ok(reg, "u3", "z", 1, 500);
    reg_ok(reg, "u2", "a", 1, 100);
    reg_ok(reg, "u1", "b", 1, 100);
    reg_ok(reg, "u0", "c", 1, 50);
    reg_ok(reg, "u1", "a", 1, 100);
    reg_ok(reg, "u9", "late", 1, 0);
    reg_ok(reg, "u3", "z", 9, 1000);     /* 10000: first */
    reg_ok(reg, "u2", "a", 10, 1000);    /* 11000 */
    reg_ok(reg, "u1", "b", 10, 1000);    /* 11000 */
    reg_ok(reg, "u0", "c", 10, 1000);    /* 11000 */
    reg_ok(reg, "u1", "a", 10, 1000);    /* 11000 */
    reg_ok(reg, "u9", "late", 11, 1000); /* 12000: not due */
    tu_events_reset(&ev);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 11000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_str_eq(ev.log,
                     "EXPIRED(u3,z);EXPIRED(u0,c);EXPIRED(u1,a);EXPIRED(u2,a);EXPIRED(u1,b)");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_ptr_nonnull(mcreg_find(reg, "u9", "late"));
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_record_past_expiry_stays_until_expire)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 10, 0); /* expires 10000 */
    tu_events_reset(&ev);
    /* at 20000, without mcreg_expire, the record is still there */
    const mcreg_record *r = mcreg_find(reg, "u", "a");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 10000);
    ck_assert_uint_eq(next_expiry(reg), 10000);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 1);
    /* another UE logging on still sees it */
    reg_ok(reg, "u", "b", 60, 20000);
    ck_assert_str_eq(ev.log, "CREATED(u,b);NOTIFY_LOGON(u,b>b:[a]);NOTIFY_LOGON(u,b>a:[b])");
    tu_events_reset(&ev);
    /* and it can be refreshed: REFRESHED, registered_at kept */
    mcreg_binding b = tu_binding("u", "a", 10);
    mcreg_outcome out = MCREG_REMOVED;
    ck_assert_int_eq(mcreg_register(reg, &b, 20000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_str_eq(ev.log, "REFRESHED(u,a)");
    r = mcreg_find(reg, "u", "a");
    ck_assert_uint_eq(mcreg_record_registered_at(r), 0);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 30000);
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 25000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(next_expiry(reg), 30000);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_record_past_expiry_can_be_deregistered)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 10, 0);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "a", 50000), MCREG_OK);
    ck_assert_str_eq(ev.log, "DEREGISTERED(u,a)");
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 50000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- large batch ---------------------------------------------------------------- */

#define BATCH 10000

typedef struct expected {
    uint64_t expires_at;
    uint64_t registered_at;
    int idx; /* ue id "ue%05d": byte order = index order */
} expected;

static int cmp_expected(const void *pa, const void *pb)
{
    const expected *a = pa, *b = pb;
    if (a->expires_at != b->expires_at)
        return a->expires_at < b->expires_at ? -1 : 1;
    if (a->registered_at != b->registered_at)
        return a->registered_at < b->registered_at ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

typedef struct expired_log {
    int *idx;
    size_t n;
    int bad; /* events that were not EXPIRED, or unparsable ids */
    int armed;
} expired_log;

static void expired_cb(const mcreg_event *ev, void *ud)
{
    expired_log *l = ud;
    if (!l->armed)
        return;
    if (ev->type != MCREG_EV_EXPIRED || strncmp(ev->ue_id, "ue", 2) != 0 || l->n >= BATCH) {
        l->bad++;
        return;
    }
    l->idx[l->n++] = atoi(ev->ue_id + 2);
}

START_TEST(test_large_batch_expires_in_sorted_order)
{
    expired_log log = {NULL, 0, 0, 0};
    log.idx = malloc(BATCH * sizeof(int));
    expected *want = malloc(BATCH * sizeof(*want));
    ck_assert_ptr_nonnull(log.idx);
    ck_assert_ptr_nonnull(want);

    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_event_callback(o, expired_cb, &log);
    mcreg_options_set_notify_logon(o, MCREG_NOTIFY_NONE);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);

    uint64_t seed = UINT64_C(0x5eed1234abcd);
    uint64_t running_min = UINT64_MAX;
    for (int i = 0; i < BATCH; i++) {
        char user[16], ue[16];
        snprintf(user, sizeof(user), "user%02d", (int)(lcg_next(&seed) % 37));
        snprintf(ue, sizeof(ue), "ue%05d", i);
        /* narrow ranges: many ties in both registered_at and expires_at;
         * the clock jumps back and forth */
        uint64_t now = (uint64_t)(lcg_next(&seed) % 50) * 1000;
        uint32_t expires_s = 1 + lcg_next(&seed) % 60;
        reg_ok(reg, user, ue, expires_s, now);
        want[i].expires_at = now + 1000 * (uint64_t)expires_s;
        want[i].registered_at = now;
        want[i].idx = i;
        if (want[i].expires_at < running_min)
            running_min = want[i].expires_at;
        ck_assert_uint_eq(next_expiry(reg), running_min);
        if (i % 2500 == 0)
            assert_next_expiry_is_true_minimum(reg);
    }
    ck_assert_uint_eq(mcreg_record_count(reg), BATCH);
    assert_next_expiry_is_true_minimum(reg);
    qsort(want, BATCH, sizeof(*want), cmp_expected);

    /* first half-ish: everything due at the middle record's expiry */
    uint64_t cut = want[BATCH / 2].expires_at;
    size_t k = 0;
    while (k < BATCH && want[k].expires_at <= cut)
        k++;
    log.armed = 1;
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, cut, &n), MCREG_OK);
    ck_assert_uint_eq(n, k);
    ck_assert_uint_eq(log.n, k);
    ck_assert_int_eq(log.bad, 0);
    for (size_t i = 0; i < k; i++)
        ck_assert_msg(log.idx[i] == want[i].idx, "event %zu: ue%05d, want ue%05d", i,
                      log.idx[i], want[i].idx);
    ck_assert_uint_eq(mcreg_record_count(reg), BATCH - k);
    ck_assert_uint_eq(next_expiry(reg), want[k].expires_at);
    assert_next_expiry_is_true_minimum(reg);
    for (size_t i = 0; i < BATCH; i++) {
        char ue[16];
        snprintf(ue, sizeof(ue), "ue%05d", want[i].idx);
        if (i < k)
            ck_assert_msg(mcreg_find_ue(reg, ue) == NULL, "%s still there", ue);
        else
            ck_assert_msg(mcreg_find_ue(reg, ue) != NULL, "%s gone", ue);
    }

    /* the rest */
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, &n), MCREG_OK);
    ck_assert_uint_eq(n, BATCH - k);
    ck_assert_uint_eq(log.n, BATCH);
    ck_assert_int_eq(log.bad, 0);
    for (size_t i = k; i < BATCH; i++)
        ck_assert_msg(log.idx[i] == want[i].idx, "event %zu: ue%05d, want ue%05d", i,
                      log.idx[i], want[i].idx);
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    assert_next_expiry_is_true_minimum(reg);

    mcreg_registry_free(reg);
    free(want);
    free(log.idx);
}
END_TEST

START_TEST(test_next_expiry_is_true_minimum_under_random_operations)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    uint64_t seed = 42;
    uint64_t now = 0;
    for (int step = 0; step < 3000; step++) {
        char user[16], ue[16];
        snprintf(user, sizeof(user), "u%d", (int)(lcg_next(&seed) % 4));
        snprintf(ue, sizeof(ue), "e%d", (int)(lcg_next(&seed) % 150));
        now += lcg_next(&seed) % 700;
        uint32_t op = lcg_next(&seed) % 10;
        int rc;
        if (op < 6) { /* create, refresh, shorten, or replace another user */
            mcreg_binding b = tu_binding(user, ue, 1 + lcg_next(&seed) % 120);
            rc = mcreg_register(reg, &b, now, NULL);
            ck_assert_int_eq(rc, MCREG_OK);
        } else if (op < 7) { /* expires 0 */
            mcreg_binding b = tu_binding(user, ue, 0);
            rc = mcreg_register(reg, &b, now, NULL);
            ck_assert(rc == MCREG_OK || rc == MCREG_ERR_NOT_FOUND);
        } else if (op < 8) {
            rc = mcreg_deregister(reg, user, ue, now);
            ck_assert(rc == MCREG_OK || rc == MCREG_ERR_NOT_FOUND);
        } else if (op < 9) {
            size_t n = 0;
            ck_assert_int_eq(mcreg_expire(reg, now, &n), MCREG_OK);
        } else {
            rc = mcreg_deregister_user(reg, user, now, NULL);
            ck_assert(rc == MCREG_OK || rc == MCREG_ERR_NOT_FOUND);
        }
        tu_events_reset(&ev);
        assert_next_expiry_is_true_minimum(reg);
    }
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

Suite *suite_expire(void)
{
    Suite *s = suite_create("expire");

    TCase *tc = tcase_create("next_expiry");
    tcase_add_test(tc, test_next_expiry_not_found_when_empty);
    tcase_add_test(tc, test_next_expiry_follows_create_refresh_shorten_remove);
    tcase_add_test(tc, test_next_expiry_follows_replace_and_evict);
    tcase_add_test(tc, test_next_expiry_handles_saturated_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("expire");
    tcase_add_test(tc, test_expire_empty_registry_removes_nothing);
    tcase_add_test(tc, test_expire_boundary_is_inclusive);
    tcase_add_test(tc, test_expire_removes_exactly_the_due_records);
    tcase_add_test(tc, test_expire_accepts_null_count);
    tcase_add_test(tc, test_expire_with_clock_before_everything_removes_nothing);
    tcase_add_test(tc, test_expire_at_max_time_removes_saturated_records);
    tcase_add_test(tc, test_expire_order_is_expiry_registered_ue_user);
    tcase_add_test(tc, test_record_past_expiry_stays_until_expire);
    tcase_add_test(tc, test_record_past_expiry_can_be_deregistered);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_set_timeout(tc, 300); /* generous for valgrind */
    tcase_add_test(tc, test_large_batch_expires_in_sorted_order);
    tcase_add_test(tc, test_next_expiry_is_true_minimum_under_random_operations);
    suite_add_tcase(s, tc);

    return s;
}
