/* UE limits (registry-wide and per user) under each limit policy, and the
 * UE-exclusive rule. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "suites.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

#define SENTINEL_OUTCOME ((mcreg_outcome)77)

/* A registry with the given limit knobs and the event recorder. */
static mcreg_registry *make(tu_events *ev, model_options c)
{
    return tu_registry_rec(&c, ev);
}

static model_options limit(uint32_t max, mcreg_limit_policy p)
{
    model_options c = {.max_ues = max, .policy = p};
    return c;
}

static int reg_ue(mcreg_registry *reg, const char *user, const char *ue, uint32_t expires_s,
                  uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, expires_s);
    return mcreg_register(reg, &b, now, NULL);
}

static void must_create(mcreg_registry *reg, const char *user, const char *ue,
                        uint32_t expires_s, uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, expires_s);
    mcreg_outcome out = SENTINEL_OUTCOME;
    int rc = mcreg_register(reg, &b, now, &out);
    ck_assert_msg(rc == MCREG_OK, "register %s/%s: %d", user, ue, rc);
    ck_assert_int_eq(out, MCREG_CREATED);
}

/* The user's UEs in user_foreach order, as "a,b,c" ("" when none). */
static char *ues_of(const mcreg_registry *reg, const char *user)
{
    tu_events t;
    tu_events_init(&t);
    int rc = mcreg_user_foreach(reg, user, tu_collect_ue, &t);
    ck_assert(rc == MCREG_OK || rc == MCREG_ERR_NOT_FOUND);
    return t.log;
}

static void assert_ues(const mcreg_registry *reg, const char *user, const char *want)
{
    char *got = ues_of(reg, user);
    ck_assert_str_eq(got, want);
    free(got);
}

static void assert_events(tu_events *ev, const char *want)
{
    ck_assert_str_eq(ev->log, want);
    tu_events_reset(ev);
}

/* ---- REJECT ---------------------------------------------------------------- */

START_TEST(test_reject_at_registry_limit)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_REJECT));
    must_create(reg, "u", "a", 60, 1);
    must_create(reg, "u", "b", 60, 2);
    tu_events_reset(&ev);
    char *before = tu_state_dump(reg);

    mcreg_binding b = tu_binding("u", "c", 60);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 3, &out), MCREG_ERR_LIMIT);
    ck_assert_int_eq(out, SENTINEL_OUTCOME);
    assert_events(&ev, "REJECTED(u,c)");
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    ck_assert_ptr_null(mcreg_find(reg, "u", "c"));
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 2);
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_reject_still_allows_refresh_and_removal_at_limit)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_REJECT));
    must_create(reg, "u", "a", 60, 1);
    must_create(reg, "u", "b", 60, 2);
    tu_events_reset(&ev);
    mcreg_binding b = tu_binding("u", "a", 120);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 10, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "u", "a")), 120010);
    assert_events(&ev, "REFRESHED(u,a)");
    /* removing one makes room for a new UE */
    b = tu_binding("u", "b", 0);
    ck_assert_int_eq(mcreg_register(reg, &b, 20, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REMOVED);
    must_create(reg, "u", "c", 60, 30);
    assert_ues(reg, "u", "a,c");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_reject_limit_is_per_user)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(1, MCREG_LIMIT_REJECT));
    must_create(reg, "u", "a", 60, 1);
    must_create(reg, "v", "b", 60, 2);
    must_create(reg, "w", "c", 60, 3);
    ck_assert_int_eq(reg_ue(reg, "v", "d", 60, 4), MCREG_ERR_LIMIT);
    ck_assert_uint_eq(mcreg_record_count(reg), 3);
    ck_assert_uint_eq(mcreg_user_count(reg), 3);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_reject_leaves_other_users_record_at_ue)
{
    /* the refused user must not take the UE from its holder */
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(1, MCREG_LIMIT_REJECT));
    must_create(reg, "alice", "x", 60, 1);
    must_create(reg, "bob", "y", 60, 2);
    tu_events_reset(&ev);
    char *before = tu_state_dump(reg);
    ck_assert_int_eq(reg_ue(reg, "bob", "x", 60, 3), MCREG_ERR_LIMIT);
    assert_events(&ev, "REJECTED(bob,x)");
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "x")), "alice");
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_unlimited_by_default)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    for (int i = 0; i < 200; i++) {
        char ue[16];
        snprintf(ue, sizeof(ue), "ue-%03d", i);
        must_create(reg, "u", ue, 60, (uint64_t)i);
    }
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 200);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- per-user limits ------------------------------------------------------- */

START_TEST(test_per_user_limit_overrides_registry_limit)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(3, MCREG_LIMIT_REJECT));
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 1), MCREG_OK);
    must_create(reg, "u", "a", 60, 1);
    ck_assert_int_eq(reg_ue(reg, "u", "b", 60, 2), MCREG_ERR_LIMIT);
    /* others keep the registry's limit of 3 */
    must_create(reg, "v", "c", 60, 3);
    must_create(reg, "v", "d", 60, 4);
    must_create(reg, "v", "e", 60, 5);
    ck_assert_int_eq(reg_ue(reg, "v", "f", 60, 6), MCREG_ERR_LIMIT);
    /* a higher per-user limit also overrides */
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "v", 4), MCREG_OK);
    must_create(reg, "v", "f", 60, 7);
    ck_assert_int_eq(reg_ue(reg, "v", "g", 60, 8), MCREG_ERR_LIMIT);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_per_user_zero_means_unlimited)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(1, MCREG_LIMIT_REJECT));
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 0), MCREG_OK);
    uint32_t max = 99;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_OK);
    ck_assert_uint_eq(max, 0);
    for (int i = 0; i < 10; i++) {
        char ue[16];
        snprintf(ue, sizeof(ue), "ue-%d", i);
        must_create(reg, "u", ue, 60, (uint64_t)i);
    }
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "u"), 10);
    must_create(reg, "v", "x", 60, 20);
    ck_assert_int_eq(reg_ue(reg, "v", "y", 60, 21), MCREG_ERR_LIMIT);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_user_max_ues_query_and_clear)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_REJECT));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "u"), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 5), MCREG_OK);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_OK);
    ck_assert_uint_eq(max, 5);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 1), MCREG_OK); /* overwrite */
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_OK);
    ck_assert_uint_eq(max, 1);
    must_create(reg, "u", "a", 60, 1);
    ck_assert_int_eq(reg_ue(reg, "u", "b", 60, 2), MCREG_ERR_LIMIT);

    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "u"), MCREG_OK);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "u"), MCREG_ERR_NOT_FOUND);
    /* the registry's limit of 2 applies again */
    must_create(reg, "u", "b", 60, 3);
    ck_assert_int_eq(reg_ue(reg, "u", "c", 60, 4), MCREG_ERR_LIMIT);
    assert_ues(reg, "u", "a,b");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_per_user_limit_without_records_is_kept)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "ghost", 1), MCREG_OK);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "ghost"), 0);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_ERR_NOT_FOUND);
    ck_assert_uint_eq(ev.count, 0);

    must_create(reg, "ghost", "a", 60, 1);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_int_eq(reg_ue(reg, "ghost", "b", 60, 2), MCREG_ERR_LIMIT);
    ck_assert_int_eq(mcreg_deregister(reg, "ghost", "a", 3), MCREG_OK);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "ghost", &max), MCREG_OK);
    ck_assert_uint_eq(max, 1);
    /* still enforced after the user came back */
    must_create(reg, "ghost", "b", 60, 4);
    ck_assert_int_eq(reg_ue(reg, "ghost", "c", 60, 5), MCREG_ERR_LIMIT);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_lowered_limit_keeps_existing_records_under_reject)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    must_create(reg, "u", "a", 60, 1);
    must_create(reg, "u", "b", 60, 2);
    must_create(reg, "u", "c", 60, 3);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 1), MCREG_OK);
    ck_assert_uint_eq(ev.count, 0);
    assert_ues(reg, "u", "a,b,c");
    ck_assert_int_eq(reg_ue(reg, "u", "d", 60, 4), MCREG_ERR_LIMIT);
    assert_events(&ev, "REJECTED(u,d)");
    assert_ues(reg, "u", "a,b,c");
    /* refreshes of the records over the limit still work */
    ck_assert_int_eq(reg_ue(reg, "u", "b", 90, 5), MCREG_OK);
    assert_events(&ev, "REFRESHED(u,b)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- EVICT_OLDEST ------------------------------------------------------------ */

START_TEST(test_evict_oldest_removes_earliest_registered)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_EVICT_OLDEST));
    must_create(reg, "u", "a", 60, 100);
    must_create(reg, "u", "b", 60, 50); /* host clock went back: b is older */
    /* refreshing b does not make it younger */
    ck_assert_int_eq(reg_ue(reg, "u", "b", 600, 150), MCREG_OK);
    tu_events_reset(&ev);
    mcreg_binding bd = tu_binding("u", "c", 60);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &bd, 200, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_CREATED);
    ck_assert_str_eq(ev.log, "EVICTED(u,b);CREATED(u,c);"
                             "NOTIFY_LOGON(u,c>c:[a]);NOTIFY_LOGON(u,c>a:[c])");
    ck_assert_ptr_null(mcreg_find(reg, "u", "b"));
    assert_ues(reg, "u", "a,c");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_evict_oldest_breaks_ties_by_ue_id)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_EVICT_OLDEST));
    must_create(reg, "u", "m", 60, 100);
    must_create(reg, "u", "k", 60, 100);
    tu_events_reset(&ev);
    must_create(reg, "u", "z", 60, 100);
    ck_assert_str_eq(ev.log, "EVICTED(u,k);CREATED(u,z);"
                             "NOTIFY_LOGON(u,z>z:[m]);NOTIFY_LOGON(u,z>m:[z])");
    assert_ues(reg, "u", "m,z");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_evict_only_touches_the_user_at_its_limit)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(1, MCREG_LIMIT_EVICT_OLDEST));
    must_create(reg, "v", "old", 60, 1); /* older, but another user's */
    must_create(reg, "u", "a", 60, 2);
    tu_events_reset(&ev);
    must_create(reg, "u", "b", 60, 3);
    assert_events(&ev, "EVICTED(u,a);CREATED(u,b)");
    ck_assert_ptr_nonnull(mcreg_find(reg, "v", "old"));
    assert_ues(reg, "u", "b");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_evict_oldest_with_lowered_limit_evicts_in_order)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_EVICT_OLDEST));
    must_create(reg, "u", "d", 60, 40);
    must_create(reg, "u", "b", 60, 20);
    must_create(reg, "u", "a", 60, 10);
    must_create(reg, "u", "c", 60, 20);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 2), MCREG_OK);
    assert_ues(reg, "u", "a,b,c,d"); /* nothing evicted by lowering */
    tu_events_reset(&ev);
    must_create(reg, "u", "e", 60, 50);
    /* 4 + 1 new must fit in 2: a, b, c go (registered_at, then ue_id) */
    ck_assert_str_eq(ev.log, "EVICTED(u,a);EVICTED(u,b);EVICTED(u,c);CREATED(u,e);"
                             "NOTIFY_LOGON(u,e>e:[d]);NOTIFY_LOGON(u,e>d:[e])");
    assert_ues(reg, "u", "d,e");
    ck_assert_uint_eq(mcreg_record_count(reg), 2);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_evict_to_limit_one_leaves_only_new_ue)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_EVICT_OLDEST));
    must_create(reg, "u", "a", 60, 1);
    must_create(reg, "u", "b", 60, 2);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 1), MCREG_OK);
    tu_events_reset(&ev);
    must_create(reg, "u", "c", 60, 3);
    /* left with one UE: no NOTIFY_LOGON */
    assert_events(&ev, "EVICTED(u,a);EVICTED(u,b);CREATED(u,c)");
    assert_ues(reg, "u", "c");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- EVICT_SOONEST ----------------------------------------------------------- */

START_TEST(test_evict_soonest_removes_earliest_expiry)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_EVICT_SOONEST));
    must_create(reg, "u", "a", 30, 0);  /* expires 30000 */
    must_create(reg, "u", "b", 100, 0); /* expires 100000 */
    /* a refresh extends a past b; b now expires first */
    ck_assert_int_eq(reg_ue(reg, "u", "a", 300, 1000), MCREG_OK);
    tu_events_reset(&ev);
    must_create(reg, "u", "c", 60, 2000);
    ck_assert_str_eq(ev.log, "EVICTED(u,b);CREATED(u,c);"
                             "NOTIFY_LOGON(u,c>c:[a]);NOTIFY_LOGON(u,c>a:[c])");
    assert_ues(reg, "u", "a,c");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_evict_soonest_ignores_registered_at_when_expiry_differs)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_EVICT_SOONEST));
    must_create(reg, "u", "old", 600, 0);    /* oldest, expires 600000 */
    must_create(reg, "u", "young", 60, 500); /* expires 60500 */
    tu_events_reset(&ev);
    must_create(reg, "u", "new", 60, 1000);
    ck_assert_str_eq(ev.log, "EVICTED(u,young);CREATED(u,new);"
                             "NOTIFY_LOGON(u,new>new:[old]);NOTIFY_LOGON(u,new>old:[new])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_evict_soonest_ties_break_by_registered_at_then_ue_id)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_EVICT_SOONEST));
    /* all expire at 100000 */
    must_create(reg, "u", "p", 90, 10000); /* registered 10000 */
    must_create(reg, "u", "q", 95, 5000);  /* registered 5000 */
    must_create(reg, "u", "s", 95, 5000);  /* registered 5000 */
    must_create(reg, "u", "r", 95, 5000);  /* registered 5000 */
    must_create(reg, "u", "keep", 200, 0); /* expires 200000 */
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 3), MCREG_OK);
    tu_events_reset(&ev);
    must_create(reg, "u", "new", 500, 20000);
    /* 5 + 1 must fit in 3: q, r, s go (registered 5000, by ue_id) */
    ck_assert_str_eq(ev.log, "EVICTED(u,q);EVICTED(u,r);EVICTED(u,s);CREATED(u,new);"
                             "NOTIFY_LOGON(u,new>new:[keep,p]);"
                             "NOTIFY_LOGON(u,new>keep:[p,new]);"
                             "NOTIFY_LOGON(u,new>p:[keep,new])");
    assert_ues(reg, "u", "keep,p,new");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_evict_policy_refresh_at_limit_evicts_nothing)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(2, MCREG_LIMIT_EVICT_SOONEST));
    must_create(reg, "u", "a", 60, 0);
    must_create(reg, "u", "b", 60, 0);
    tu_events_reset(&ev);
    ck_assert_int_eq(reg_ue(reg, "u", "b", 600, 10), MCREG_OK);
    assert_events(&ev, "REFRESHED(u,b)");
    assert_ues(reg, "u", "a,b");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- UE exclusive ------------------------------------------------------------ */

START_TEST(test_exclusive_ue_replaces_other_users_record)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    must_create(reg, "alice", "x", 60, 1);
    must_create(reg, "alice", "y", 60, 2);
    tu_events_reset(&ev);
    mcreg_binding b = tu_binding("bob", "x", 90);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 10, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_CREATED);
    assert_events(&ev, "REPLACED(alice,x);CREATED(bob,x)");
    ck_assert_ptr_null(mcreg_find(reg, "alice", "x"));
    const mcreg_record *r = mcreg_find(reg, "bob", "x");
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_eq(mcreg_find_ue(reg, "x"), r);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 10);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 90010);
    /* alice's other UE is untouched */
    r = mcreg_find(reg, "alice", "y");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 2);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 60002);
    ck_assert_uint_eq(mcreg_user_count(reg), 2);
    ck_assert_uint_eq(mcreg_record_count(reg), 2);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_exclusive_replace_of_last_ue_drops_user)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    must_create(reg, "alice", "x", 60, 1);
    tu_events_reset(&ev);
    must_create(reg, "bob", "x", 60, 2);
    assert_events(&ev, "REPLACED(alice,x);CREATED(bob,x)");
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 0);
    ck_assert_int_eq(mcreg_deregister_user(reg, "alice", 3, NULL), MCREG_ERR_NOT_FOUND);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_exclusive_replace_then_logon_for_new_holder)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    must_create(reg, "alice", "x", 60, 1);
    must_create(reg, "bob", "y", 60, 2);
    tu_events_reset(&ev);
    must_create(reg, "bob", "x", 60, 3);
    assert_events(&ev, "REPLACED(alice,x);CREATED(bob,x);"
                       "NOTIFY_LOGON(bob,x>x:[y]);NOTIFY_LOGON(bob,x>y:[x])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_exclusive_same_user_same_ue_is_refresh)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    must_create(reg, "alice", "x", 60, 1);
    tu_events_reset(&ev);
    mcreg_binding b = tu_binding("alice", "x", 60);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 5, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    assert_events(&ev, "REFRESHED(alice,x)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_exclusive_removal_of_other_user_at_ue_is_not_found)
{
    /* expires 0 from bob at alice's UE removes nothing */
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    must_create(reg, "alice", "x", 60, 1);
    tu_events_reset(&ev);
    ck_assert_int_eq(reg_ue(reg, "bob", "x", 0, 2), MCREG_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(mcreg_find(reg, "alice", "x"));
    ck_assert_uint_eq(ev.count, 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_exclusive_replace_with_evict_orders_events)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(1, MCREG_LIMIT_EVICT_OLDEST));
    must_create(reg, "alice", "x", 60, 1);
    must_create(reg, "bob", "y", 60, 2);
    tu_events_reset(&ev);
    must_create(reg, "bob", "x", 60, 3);
    assert_events(&ev, "REPLACED(alice,x);EVICTED(bob,y);CREATED(bob,x)");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "x")), "bob");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- UE shared (exclusive off) ------------------------------------------------ */

static model_options shared(void)
{
    model_options c = {.shared_ues = 1};
    return c;
}

START_TEST(test_shared_ue_carries_both_users)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, shared());
    must_create(reg, "alice", "x", 60, 100);
    tu_events_reset(&ev);
    must_create(reg, "bob", "x", 90, 200);
    assert_events(&ev, "CREATED(bob,x)");
    const mcreg_record *ra = mcreg_find(reg, "alice", "x");
    const mcreg_record *rb = mcreg_find(reg, "bob", "x");
    ck_assert_ptr_nonnull(ra);
    ck_assert_ptr_nonnull(rb);
    ck_assert_ptr_ne(ra, rb);
    ck_assert_str_eq(mcreg_record_user_id(ra), "alice");
    ck_assert_str_eq(mcreg_record_user_id(rb), "bob");
    ck_assert_uint_eq(mcreg_record_expires_at(ra), 60100);
    ck_assert_uint_eq(mcreg_record_expires_at(rb), 90200);
    ck_assert_uint_eq(mcreg_record_count(reg), 2);
    ck_assert_uint_eq(mcreg_user_count(reg), 2);
    /* earliest registered_at wins */
    ck_assert_ptr_eq(mcreg_find_ue(reg, "x"), ra);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_shared_ue_find_ue_uses_registered_at_not_insertion)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, shared());
    must_create(reg, "alice", "x", 60, 100);
    must_create(reg, "bob", "x", 60, 50); /* host clock went back */
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "x")), "bob");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_shared_ue_find_ue_ties_break_by_user_id)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, shared());
    must_create(reg, "carol", "x", 60, 100);
    must_create(reg, "bob", "x", 60, 100);
    must_create(reg, "dave", "x", 60, 100);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "x")), "bob");
    ck_assert_int_eq(mcreg_deregister(reg, "bob", "x", 101), MCREG_OK);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "x")), "carol");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_shared_ue_removing_one_leaves_other_findable)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, shared());
    must_create(reg, "alice", "x", 60, 100);
    must_create(reg, "bob", "x", 60, 200);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "x", 300), MCREG_OK);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "x"));
    const mcreg_record *rb = mcreg_find(reg, "bob", "x");
    ck_assert_ptr_nonnull(rb);
    ck_assert_ptr_eq(mcreg_find_ue(reg, "x"), rb);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_int_eq(mcreg_deregister(reg, "bob", "x", 400), MCREG_OK);
    ck_assert_ptr_null(mcreg_find_ue(reg, "x"));
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_shared_ue_refresh_touches_only_its_user)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, shared());
    must_create(reg, "alice", "x", 60, 100);
    must_create(reg, "bob", "x", 60, 200);
    tu_events_reset(&ev);
    ck_assert_int_eq(reg_ue(reg, "bob", "x", 10, 300), MCREG_OK);
    assert_events(&ev, "SHORTENED(bob,x)");
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "x")), 60100);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "bob", "x")), 10300);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* Many users at one shared UE, arriving in an order unrelated to the
 * (registered_at, user_id) order (same-millisecond ties and a clock that
 * steps back), then leaving in yet another order: after every step
 * mcreg_find_ue is the earliest survivor and every pair is still found. */
#define SHARED_USERS 40

static uint64_t shared_reg_at(int i)
{
    return 1000 + (uint64_t)((i * 7) % 5); /* five distinct times, many ties */
}

static void assert_shared_ue(const mcreg_registry *reg, const int *present)
{
    int best = -1;
    char user[16], best_user[16] = "";
    for (int idx = 0; idx < SHARED_USERS; idx++) {
        snprintf(user, sizeof(user), "user%02d", idx);
        const mcreg_record *r = mcreg_find(reg, user, "shared");
        if (!present[idx]) {
            ck_assert_ptr_null(r);
            continue;
        }
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(mcreg_record_registered_at(r), shared_reg_at(idx));
        if (best < 0 || shared_reg_at(idx) < shared_reg_at(best) ||
            (shared_reg_at(idx) == shared_reg_at(best) && strcmp(user, best_user) < 0)) {
            best = idx;
            memcpy(best_user, user, sizeof(user));
        }
    }
    const mcreg_record *first = mcreg_find_ue(reg, "shared");
    if (best < 0) {
        ck_assert_ptr_null(first);
        return;
    }
    ck_assert_ptr_nonnull(first);
    ck_assert_str_eq(mcreg_record_user_id(first), best_user);
}

START_TEST(test_shared_ue_many_users_any_order)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, shared());
    int present[SHARED_USERS] = {0};
    char user[16];
    /* Arrive in descending user order: each new record sorts first among
     * its same-millisecond peers. */
    for (int i = SHARED_USERS - 1; i >= 0; i--) {
        snprintf(user, sizeof(user), "user%02d", i);
        ck_assert_int_eq(reg_ue(reg, user, "shared", 60, shared_reg_at(i)), MCREG_OK);
        present[i] = 1;
        assert_shared_ue(reg, present);
    }
    ck_assert_uint_eq(mcreg_record_count(reg), SHARED_USERS);
    /* Leave in a scattered order: first, middle and last records alike. */
    for (int k = 0; k < SHARED_USERS; k++) {
        int i = (k * 13 + 5) % SHARED_USERS;
        snprintf(user, sizeof(user), "user%02d", i);
        ck_assert_int_eq(mcreg_deregister(reg, user, "shared", 2000), MCREG_OK);
        present[i] = 0;
        assert_shared_ue(reg, present);
    }
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- listing the per-user limits ------------------------------------------ */

typedef struct limit_log {
    char text[512];
    size_t visits;
    int stop_at;            /* return 7 on this visit (1-based); 0 never */
    mcreg_registry *reg;    /* when set: try a mutation, count BUSY answers */
    int busy_seen;
    int free_at;            /* free reg on this visit (1-based); 0 never */
} limit_log;

static int log_limit(const char *user_id, uint32_t max, void *ud)
{
    limit_log *l = ud;
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof(l->text) - used, "%s%s=%u", used ? ";" : "", user_id,
             (unsigned)max);
    l->visits++;
    if (l->reg && mcreg_set_user_max_ues(l->reg, "sip:x@ex", 1) == MCREG_ERR_BUSY)
        l->busy_seen++;
    if (l->free_at && l->visits == (size_t)l->free_at)
        mcreg_registry_free(l->reg);
    return l->stop_at && l->visits == (size_t)l->stop_at ? 7 : 0;
}

START_TEST(test_limit_foreach_lists_own_limits_in_id_order)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(5, MCREG_LIMIT_REJECT));
    must_create(reg, "sip:carol@ex", "ue-c", 60, 10);
    must_create(reg, "sip:dave@ex", "ue-d", 60, 10); /* the registry's limit only */
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:carol@ex", 2), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:bob@ex", 0), MCREG_OK); /* no records */
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:Zed@ex", 9), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:alice@ex", 4294967295u), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:\xc3\xa9ve@ex", 3), MCREG_OK);
    limit_log l = {0};
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), MCREG_OK);
    /* Bytewise: upper case before lower case, UTF-8 after ASCII. */
    ck_assert_str_eq(l.text, "sip:Zed@ex=9;sip:alice@ex=4294967295;sip:bob@ex=0;"
                             "sip:carol@ex=2;sip:\xc3\xa9ve@ex=3");
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "sip:bob@ex"), MCREG_OK);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "sip:carol@ex"), MCREG_OK);
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), MCREG_OK);
    ck_assert_str_eq(l.text, "sip:Zed@ex=9;sip:alice@ex=4294967295;sip:\xc3\xa9ve@ex=3");
    ck_assert_uint_eq(ev.count, 2); /* the two CREATED: listing emits nothing */
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_limit_foreach_empty_invalid_and_stop)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    limit_log l = {0};
    must_create(reg, "sip:a@ex", "ue-a", 60, 10);
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), MCREG_OK);
    ck_assert_uint_eq(l.visits, 0);
    ck_assert_int_eq(mcreg_limit_foreach(NULL, log_limit, &l), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_limit_foreach(reg, NULL, &l), MCREG_ERR_MISUSE);
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof(id), "sip:u%d@ex", i);
        ck_assert_int_eq(mcreg_set_user_max_ues(reg, id, (uint32_t)i + 1), MCREG_OK);
    }
    l.stop_at = 2;
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), 7);
    ck_assert_str_eq(l.text, "sip:u0@ex=1;sip:u1@ex=2");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_limit_foreach_visitor_is_busy_and_may_free)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, limit(0, MCREG_LIMIT_REJECT));
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:a@ex", 1), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:b@ex", 2), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:c@ex", 3), MCREG_OK);
    limit_log l = {.reg = reg};
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), MCREG_OK);
    ck_assert_int_eq(l.busy_seen, 3);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "sip:x@ex", &(uint32_t){0}), MCREG_ERR_NOT_FOUND);
    /* A free from the visitor: no further visit, freed on return. */
    memset(&l, 0, sizeof(l));
    l.reg = reg;
    l.free_at = 1;
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), MCREG_OK);
    ck_assert_uint_eq(l.visits, 1);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_limit_foreach_out_of_memory)
{
    tu_alloc a = {0};
    mcreg_allocator al = tu_allocator(&a);
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_allocator(o, &al);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:a@ex", 1), MCREG_OK);
    size_t live = a.live;
    a.fail_at = a.calls + 1;
    limit_log l = {0};
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), MCREG_ERR_NOMEM);
    ck_assert_uint_eq(l.visits, 0);
    ck_assert_uint_eq(a.live, live);
    a.fail_at = 0;
    ck_assert_int_eq(mcreg_limit_foreach(reg, log_limit, &l), MCREG_OK);
    ck_assert_str_eq(l.text, "sip:a@ex=1");
    ck_assert_uint_eq(a.live, live);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
}
END_TEST

Suite *suite_limits(void)
{
    Suite *s = suite_create("limits");

    TCase *tc = tcase_create("reject");
    tcase_add_test(tc, test_reject_at_registry_limit);
    tcase_add_test(tc, test_reject_still_allows_refresh_and_removal_at_limit);
    tcase_add_test(tc, test_reject_limit_is_per_user);
    tcase_add_test(tc, test_reject_leaves_other_users_record_at_ue);
    tcase_add_test(tc, test_unlimited_by_default);
    suite_add_tcase(s, tc);

    tc = tcase_create("per_user");
    tcase_add_test(tc, test_per_user_limit_overrides_registry_limit);
    tcase_add_test(tc, test_per_user_zero_means_unlimited);
    tcase_add_test(tc, test_user_max_ues_query_and_clear);
    tcase_add_test(tc, test_per_user_limit_without_records_is_kept);
    tcase_add_test(tc, test_lowered_limit_keeps_existing_records_under_reject);
    tcase_add_test(tc, test_limit_foreach_lists_own_limits_in_id_order);
    tcase_add_test(tc, test_limit_foreach_empty_invalid_and_stop);
    tcase_add_test(tc, test_limit_foreach_visitor_is_busy_and_may_free);
    tcase_add_test(tc, test_limit_foreach_out_of_memory);
    suite_add_tcase(s, tc);

    tc = tcase_create("evict");
    tcase_add_test(tc, test_evict_oldest_removes_earliest_registered);
    tcase_add_test(tc, test_evict_oldest_breaks_ties_by_ue_id);
    tcase_add_test(tc, test_evict_only_touches_the_user_at_its_limit);
    tcase_add_test(tc, test_evict_oldest_with_lowered_limit_evicts_in_order);
    tcase_add_test(tc, test_evict_to_limit_one_leaves_only_new_ue);
    tcase_add_test(tc, test_evict_soonest_removes_earliest_expiry);
    tcase_add_test(tc, test_evict_soonest_ignores_registered_at_when_expiry_differs);
    tcase_add_test(tc, test_evict_soonest_ties_break_by_registered_at_then_ue_id);
    tcase_add_test(tc, test_evict_policy_refresh_at_limit_evicts_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("ue_exclusive");
    tcase_add_test(tc, test_exclusive_ue_replaces_other_users_record);
    tcase_add_test(tc, test_exclusive_replace_of_last_ue_drops_user);
    tcase_add_test(tc, test_exclusive_replace_then_logon_for_new_holder);
    tcase_add_test(tc, test_exclusive_same_user_same_ue_is_refresh);
    tcase_add_test(tc, test_exclusive_removal_of_other_user_at_ue_is_not_found);
    tcase_add_test(tc, test_exclusive_replace_with_evict_orders_events);
    tcase_add_test(tc, test_shared_ue_carries_both_users);
    tcase_add_test(tc, test_shared_ue_find_ue_uses_registered_at_not_insertion);
    tcase_add_test(tc, test_shared_ue_find_ue_ties_break_by_user_id);
    tcase_add_test(tc, test_shared_ue_removing_one_leaves_other_findable);
    tcase_add_test(tc, test_shared_ue_refresh_touches_only_its_user);
    tcase_add_test(tc, test_shared_ue_many_users_any_order);
    suite_add_tcase(s, tc);

    return s;
}
