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
    reg_ok(reg, "v", "x", 60, 0);
    tu_events_reset(&ev);
    /* at 20000, without mcreg_expire, the record is still there */
    const mcreg_record *r = mcreg_find(reg, "u", "a");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 10000);
    ck_assert_uint_eq(next_expiry(reg), 10000);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 1);
    /* another user's register leaves it */
    reg_ok(reg, "v", "y", 60, 20000);
    ck_assert_ptr_nonnull(mcreg_find(reg, "u", "a"));
    ck_assert_str_eq(ev.log, "CREATED(v,y);NOTIFY_LOGON(v,y>y:[x]);NOTIFY_LOGON(v,y>x:[y])");
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 9999, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(next_expiry(reg), 10000);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- bounded expiry ---------------------------------------------------------- */

/* mcreg_expire_max takes the records mcreg_expire would, in its order,
 * `max` at a time; the rest stay due. */
START_TEST(test_expire_max_takes_the_same_records_in_slices)
{
    tu_events ev_all, ev_sliced;
    mcreg_registry *all = make(&ev_all, 1), *sliced = make(&ev_sliced, 1);
    char user[16], ue[16];
    for (int i = 0; i < 40; i++) {
        snprintf(user, sizeof(user), "u%d", i % 7);
        snprintf(ue, sizeof(ue), "e%02d", i);
        /* ties in expires_at and registered_at; ten records stay */
        uint32_t expires_s = i < 30 ? (uint32_t)(1 + i % 4) : 100;
        reg_ok(all, user, ue, expires_s, (uint64_t)(i % 3) * 10);
        reg_ok(sliced, user, ue, expires_s, (uint64_t)(i % 3) * 10);
    }
    tu_events_reset(&ev_all);
    tu_events_reset(&ev_sliced);
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(all, 50000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 30);

    size_t total = 0, calls = 0;
    for (;;) {
        n = 99;
        ck_assert_int_eq(mcreg_expire_max(sliced, 50000, 7, &n), MCREG_OK);
        calls++;
        ck_assert_uint_le(n, 7);
        total += n;
        ck_assert_uint_eq(mcreg_record_count(sliced), 40 - total);
        if (total < 30) {
            ck_assert_uint_eq(n, 7);
            ck_assert_uint_le(next_expiry(sliced), 50000); /* the rest stay due */
        }
        if (n == 0)
            break;
    }
    ck_assert_uint_eq(total, 30);
    ck_assert_uint_eq(calls, 6); /* 7, 7, 7, 7, 2, 0 */
    ck_assert_uint_gt(next_expiry(sliced), 50000);
    ck_assert_str_eq(ev_sliced.log, ev_all.log);
    char *a = tu_state_dump(all), *b = tu_state_dump(sliced);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    mcreg_registry_free(all);
    mcreg_registry_free(sliced);
    tu_events_free(&ev_all);
    tu_events_free(&ev_sliced);
}
END_TEST

static void expire_max_from_callback(const mcreg_event *e, void *ud)
{
    size_t n = 99;
    int *rc = ud;
    *rc = mcreg_expire_max(e->registry, e->at_ms, 1, &n);
    if (n != 99)
        *rc = 1; /* written on error */
}

START_TEST(test_expire_max_zero_null_and_busy)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 1, 0);
    tu_events_reset(&ev);
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire_max(reg, 5000, 0, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_str_eq(ev.log, "");
    ck_assert_int_eq(mcreg_expire_max(NULL, 5000, 1, &n), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "nowhere", 5000), MCREG_ERR_NOT_FOUND);
    ck_assert_str_ne(mcreg_error_detail(reg), "");
    ck_assert_int_eq(mcreg_expire_max(reg, 5000, 1, NULL), MCREG_OK); /* count may be NULL */
    ck_assert_str_eq(mcreg_error_detail(reg), ""); /* a success clears the detail */
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);

    int rc = 0;
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_event_callback(o, expire_max_from_callback, &rc);
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    reg_ok(reg, "u", "a", 1, 0); /* CREATED: the callback tries */
    ck_assert_int_eq(rc, MCREG_ERR_BUSY);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    mcreg_registry_free(reg);
}
END_TEST

/* ---- a register sweeps the user's lapsed records -------------------------------- */

static mcreg_registry *make_with(tu_events *ev, int exclusive, uint32_t max_ues,
                                 mcreg_limit_policy policy, int logoff)
{
    model_options rules = {.max_ues = max_ues, .policy = policy, .notify_logoff = logoff,
                           .shared_ues = !exclusive};
    return tu_registry_rec(&rules, ev);
}

/* A new UE of a user whose other UE lapsed: EXPIRED first, and the lapsed
 * UE is neither told nor named. Another user's lapsed record stays. */
START_TEST(test_register_removes_the_users_lapsed_records)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, _i);
    reg_ok(reg, "u", "a", 10, 0);    /* lapses at 10000 */
    reg_ok(reg, "u", "b", 5, 1000);  /* lapses at 6000: expires first */
    reg_ok(reg, "u", "c", 100, 2000);
    reg_ok(reg, "v", "x", 1, 0);     /* another user's, lapsed too */
    tu_events_reset(&ev);
    reg_ok(reg, "u", "d", 60, 20000);
    ck_assert_str_eq(ev.log, "EXPIRED(u,b);EXPIRED(u,a);CREATED(u,d);"
                             "NOTIFY_LOGON(u,d>d:[c]);NOTIFY_LOGON(u,d>c:[d])");
    ck_assert_ptr_null(mcreg_find(reg, "u", "a"));
    ck_assert_ptr_null(mcreg_find(reg, "u", "b"));
    ck_assert_ptr_nonnull(mcreg_find(reg, "v", "x"));
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 2);
    ck_assert_uint_eq(mcreg_record_count(reg), 3);
    ck_assert_uint_eq(mcreg_user_count(reg), 2);
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 20000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1); /* v's */
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* A refresh and a removal sweep the user's lapsed records too. */
START_TEST(test_refresh_and_remove_remove_the_users_lapsed_records)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, 1);
    reg_ok(reg, "u", "a", 10, 0);
    reg_ok(reg, "u", "b", 100, 0);
    reg_ok(reg, "u", "c", 10, 0);
    reg_ok(reg, "u", "d", 100, 0);
    tu_events_reset(&ev);
    mcreg_binding b = tu_binding("u", "b", 100);
    mcreg_outcome out = MCREG_CREATED;
    ck_assert_int_eq(mcreg_register(reg, &b, 20000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_str_eq(ev.log, "EXPIRED(u,a);EXPIRED(u,c);REFRESHED(u,b)");
    tu_events_reset(&ev);
    reg_ok(reg, "u", "e", 1, 20000); /* lapses at 21000 */
    tu_events_reset(&ev);
    b = tu_binding("u", "d", 0);
    ck_assert_int_eq(mcreg_register(reg, &b, 30000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REMOVED);
    ck_assert_str_eq(ev.log, "EXPIRED(u,e);DEREGISTERED(u,d)");
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 1);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* Registering a lapsed pair again is a new logon: no ordering check
 * against the lapsed record, CREATED with registered_at now, the others
 * told. With expires 0 the lapsed record counts as gone already. */
START_TEST(test_lapsed_pair_registers_anew)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, _i);
    mcreg_binding b = tu_binding("u", "a", 10);
    b.call_id = "call-1";
    b.cseq = 9;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    reg_ok(reg, "u", "z", 100, 500);
    tu_events_reset(&ev);

    b.expires_s = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 20000, NULL), MCREG_ERR_NOT_FOUND);
    ck_assert_str_eq(ev.log, "");
    ck_assert_ptr_nonnull(mcreg_find(reg, "u", "a")); /* nothing changed */

    b.expires_s = 30;
    b.cseq = 2; /* lower, same Call-ID: not STALE, the old binding lapsed */
    mcreg_outcome out = MCREG_REMOVED;
    ck_assert_int_eq(mcreg_register(reg, &b, 20000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_CREATED);
    ck_assert_str_eq(ev.log, "EXPIRED(u,a);CREATED(u,a);"
                             "NOTIFY_LOGON(u,a>a:[z]);NOTIFY_LOGON(u,a>z:[a])");
    const mcreg_record *r = mcreg_find(reg, "u", "a");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 20000);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 50000);
    ck_assert_uint_eq(mcreg_record_cseq(r), 2);
    ck_assert_ptr_eq(mcreg_find_ue(reg, "a"), r);
    ck_assert_uint_eq(mcreg_record_count(reg), 2);
    ck_assert_uint_eq(next_expiry(reg), 50000);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* Under REJECT a lapsed UE does not count. When the register fails all
 * the same (LIMIT, STALE, INVALID), nothing at all changes: the lapsed
 * records stay, due for mcreg_expire. */
START_TEST(test_lapsed_records_do_not_count_and_stay_on_failure)
{
    tu_events ev;
    mcreg_registry *reg = make_with(&ev, 1, 2, MCREG_LIMIT_REJECT, 0);
    reg_ok(reg, "u", "a", 10, 0);
    reg_ok(reg, "u", "b", 100, 0);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "c", 100, 20000); /* a lapsed: u has 1 of 2 */
    ck_assert_str_eq(ev.log, "EXPIRED(u,a);CREATED(u,c);"
                             "NOTIFY_LOGON(u,c>c:[b]);NOTIFY_LOGON(u,c>b:[c])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);

    /* v: x lapses, y and z live, limit 2: at the limit without x */
    reg = make_with(&ev, 1, 0, MCREG_LIMIT_REJECT, 0);
    reg_ok(reg, "v", "x", 10, 0);
    mcreg_binding y = tu_binding("v", "y", 100);
    y.call_id = "cid";
    y.cseq = 5;
    ck_assert_int_eq(mcreg_register(reg, &y, 0, NULL), MCREG_OK);
    reg_ok(reg, "v", "z", 100, 0);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "v", 2), MCREG_OK);
    tu_events_reset(&ev);
    char *before = tu_state_dump(reg);
    mcreg_binding w = tu_binding("v", "w", 100);
    ck_assert_int_eq(mcreg_register(reg, &w, 20000, NULL), MCREG_ERR_LIMIT);
    ck_assert_str_eq(ev.log, "REJECTED(v,w)");
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_register(reg, &y, 20000, NULL), MCREG_ERR_STALE);
    mcreg_binding bad = tu_binding("v", "\xff", 100);
    ck_assert_int_eq(mcreg_register(reg, &bad, 20000, NULL), MCREG_ERR_INVALID);
    mcreg_binding gone = tu_binding("v", "q", 0);
    ck_assert_int_eq(mcreg_register(reg, &gone, 20000, NULL), MCREG_ERR_NOT_FOUND);
    ck_assert_str_eq(ev.log, "");
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(after, before);
    ck_assert_ptr_nonnull(mcreg_find(reg, "v", "x"));
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 20000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1); /* still due */
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* Under an EVICT policy the lapsed go as EXPIRED, and only live records
 * are evicted, as many as the live count needs. */
START_TEST(test_lapsed_records_are_not_evicted)
{
    tu_events ev;
    mcreg_registry *reg = make_with(&ev, 1, 2, MCREG_LIMIT_EVICT_OLDEST, 0);
    reg_ok(reg, "u", "a", 10, 0); /* oldest, lapsed at 20000 */
    reg_ok(reg, "u", "b", 100, 1000);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 1), MCREG_OK);
    reg_ok(reg, "u", "c", 100, 20000);
    ck_assert_str_eq(ev.log, "EXPIRED(u,a);EVICTED(u,b);CREATED(u,c)");
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 1);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* With notify-logoff, the lapsed UE's removal is told to the UEs that
 * remain, as for any removal; the UE logging on is not among them. */
START_TEST(test_lapsed_removal_notifies_logoff)
{
    tu_events ev;
    mcreg_registry *reg = make_with(&ev, 1, 0, MCREG_LIMIT_REJECT, 1);
    reg_ok(reg, "u", "a", 10, 0);
    reg_ok(reg, "u", "b", 100, 1000);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "c", 100, 20000);
    ck_assert_str_eq(ev.log, "EXPIRED(u,a);NOTIFY_LOGOFF(u,a>b:[]);CREATED(u,c);"
                             "NOTIFY_LOGON(u,c>c:[b]);NOTIFY_LOGON(u,c>b:[c])");
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
        /* every record outlives the latest now: no register finds its
         * user's earlier ones lapsed */
        uint32_t expires_s = 50 + lcg_next(&seed) % 60;
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

    tc = tcase_create("expire_max");
    tcase_add_test(tc, test_expire_max_takes_the_same_records_in_slices);
    tcase_add_test(tc, test_expire_max_zero_null_and_busy);
    suite_add_tcase(s, tc);

    tc = tcase_create("lapsed");
    tcase_add_loop_test(tc, test_register_removes_the_users_lapsed_records, 0, 2);
    tcase_add_test(tc, test_refresh_and_remove_remove_the_users_lapsed_records);
    tcase_add_loop_test(tc, test_lapsed_pair_registers_anew, 0, 2);
    tcase_add_test(tc, test_lapsed_records_do_not_count_and_stay_on_failure);
    tcase_add_test(tc, test_lapsed_records_are_not_evicted);
    tcase_add_test(tc, test_lapsed_removal_notifies_logoff);
    suite_add_tcase(s, tc);

    tc = tcase_create("batch");
    tcase_set_timeout(tc, 300); /* generous for valgrind */
    tcase_add_test(tc, test_large_batch_expires_in_sorted_order);
    tcase_add_test(tc, test_next_expiry_is_true_minimum_under_random_operations);
    suite_add_tcase(s, tc);

    return s;
}
