/* mcreg_stat(): counts of records, users, user limits and tombstones, the
 * bytes held through the registry's allocator (exact: compared with a
 * counting allocator's own figure after every call), and the events
 * delivered per type (compared with the callback's own count). */
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

#define N_EVENT_TYPES (MCREG_EV_NOTIFY_LOGOFF + 1)

/* A callback that counts what it is given, by type. */
typedef struct st_counts {
    uint64_t by_type[N_EVENT_TYPES];
    const mcreg_registry *reg;
    int stat_seen_early; /* the stat already counted the event inside its callback */
} st_counts;

static void st_count(const mcreg_event *ev, void *ud)
{
    st_counts *c = ud;
    c->by_type[ev->type]++;
    if (mcreg_stat(ev->registry, MCREG_STAT_EVENTS_BASE + (int)ev->type) == c->by_type[ev->type])
        c->stat_seen_early++;
}

typedef struct st_env {
    tu_alloc ta;
    mcreg_allocator a;
    st_counts counts;
    mcreg_registry *reg;
} st_env;

static void st_open(st_env *e, int ue_exclusive, uint32_t max_ues, mcreg_limit_policy policy,
                    size_t capacity)
{
    memset(e, 0, sizeof(*e));
    e->a = tu_allocator(&e->ta);
    mcreg_options *o;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_allocator(o, &e->a);
    mcreg_options_set_event_callback(o, st_count, &e->counts);
    mcreg_options_set_ue_exclusive(o, ue_exclusive);
    mcreg_options_set_max_ues(o, max_ues);
    mcreg_options_set_limit_policy(o, policy);
    mcreg_options_set_notify_logoff(o, 1);
    mcreg_options_set_capacity(o, capacity);
    ck_assert_int_eq(mcreg_registry_new(&e->reg, o), MCREG_OK);
    mcreg_options_free(o);
    e->counts.reg = e->reg;
}

/* The registry's account of its bytes is the allocator's, to the byte. */
static void st_bytes_exact(const st_env *e, const char *what)
{
    uint64_t held = mcreg_stat(e->reg, MCREG_STAT_BYTES);
    ck_assert_msg(held == e->ta.live_bytes, "%s: MCREG_STAT_BYTES %llu, allocator %zu", what,
                  (unsigned long long)held, e->ta.live_bytes);
}

static void st_events_exact(const st_env *e, const char *what)
{
    for (int t = 0; t < N_EVENT_TYPES; t++)
        ck_assert_msg(mcreg_stat(e->reg, MCREG_STAT_EVENTS_BASE + t) == e->counts.by_type[t],
                      "%s: %s: stat %llu, callback %llu", what, mcreg_event_name(t),
                      (unsigned long long)mcreg_stat(e->reg, MCREG_STAT_EVENTS_BASE + t),
                      (unsigned long long)e->counts.by_type[t]);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return *s >> 33;
}

/* A binding of user u at UE k with a contact, Call-ID and settings whose
 * sizes depend on v, so that refreshes change the record's size. */
static mcreg_binding st_binding(char *user, char *ue, char *contact, mcreg_setting *s, int u,
                                int k, uint64_t v, uint32_t expires)
{
    sprintf(user, "sip:user-%d@mcptt.example", u);
    sprintf(ue, "urn:uuid:ue-%d", k);
    sprintf(contact, "sip:%d@192.0.2.1:%llu", k, (unsigned long long)(5060 + v % 1000));
    static const uint8_t blob[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    size_t n = 0;
    s[n++] = (mcreg_setting){.key = "priority", .type = MCREG_VAL_INT, .v.i = (int64_t)v};
    if (v % 2)
        s[n++] = (mcreg_setting){.key = "display", .type = MCREG_VAL_TEXT,
                                 .v.text = {"Some display name", (size_t)(v % 17)}};
    if (v % 3)
        s[n++] = (mcreg_setting){.key = "token", .type = MCREG_VAL_BYTES,
                                 .v.bytes = {blob, (size_t)(v % 11)}};
    if (v % 5 == 0)
        s[n++] = (mcreg_setting){.key = "emergency", .type = MCREG_VAL_BOOL, .v.b = 1};
    mcreg_binding b = tu_binding(user, ue, expires);
    b.contact = v % 7 ? contact : NULL;
    b.call_id = v % 4 ? "call-id@host" : NULL;
    b.cseq = (uint32_t)v;
    b.settings = s;
    b.n_settings = v % 9 == 0 ? 0 : n;
    return b;
}

/* Random register, refresh, deregister, expire (whole or in slices),
 * limit, snapshot and restore calls; after each, the bytes and the events
 * agree with the allocator and the callback. */
static void st_churn(int ue_exclusive, uint32_t max_ues, mcreg_limit_policy policy,
                     size_t capacity, uint64_t seed)
{
    st_env e;
    st_open(&e, ue_exclusive, max_ues, policy, capacity);
    st_bytes_exact(&e, "new registry");
    ck_assert_uint_ge(mcreg_stat(e.reg, MCREG_STAT_BYTES), 1); /* the registry itself */
    uint64_t now = 1000;
    for (int step = 0; step < 3000; step++) {
        char user[64], ue[64], contact[64], what[96];
        mcreg_setting s[4];
        uint64_t r = lcg(&seed);
        int u = (int)(r % 23), k = (int)(lcg(&seed) % 31);
        uint64_t v = lcg(&seed);
        now += lcg(&seed) % 500;
        int op = (int)(r / 23 % 100);
        if (op < 60) {
            mcreg_binding b = st_binding(user, ue, contact, s, u, k, v, 1 + (uint32_t)(v % 60));
            snprintf(what, sizeof(what), "step %d register", step);
            (void)mcreg_register(e.reg, &b, now, NULL);
        } else if (op < 70) {
            mcreg_binding b = st_binding(user, ue, contact, s, u, k, v, 0);
            snprintf(what, sizeof(what), "step %d deregister", step);
            (void)mcreg_deregister(e.reg, b.user_id, b.ue_id, now);
        } else if (op < 75) {
            sprintf(user, "sip:user-%d@mcptt.example", u);
            snprintf(what, sizeof(what), "step %d deregister_user", step);
            (void)mcreg_deregister_user(e.reg, user, now, NULL);
        } else if (op < 85) {
            snprintf(what, sizeof(what), "step %d expire", step);
            if (v % 2)
                ck_assert_int_eq(mcreg_expire(e.reg, now, NULL), MCREG_OK);
            else
                ck_assert_int_eq(mcreg_expire_max(e.reg, now, (size_t)(v % 8), NULL), MCREG_OK);
        } else if (op < 92) {
            sprintf(user, "sip:user-%d@mcptt.example", u);
            snprintf(what, sizeof(what), "step %d limit", step);
            if (v % 3)
                (void)mcreg_set_user_max_ues(e.reg, user, (uint32_t)(v % 4));
            else
                (void)mcreg_clear_user_max_ues(e.reg, user);
        } else {
            snprintf(what, sizeof(what), "step %d snapshot and restore", step);
            uint8_t *buf;
            size_t len;
            ck_assert_int_eq(mcreg_snapshot(e.reg, &buf, &len), MCREG_OK);
            /* The snapshot buffer is the host's: not counted. */
            ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_BYTES) + len, e.ta.live_bytes);
            ck_assert_int_eq(mcreg_restore(e.reg, buf, len, now), MCREG_OK);
            ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_BYTES) + len, e.ta.live_bytes);
            if (v % 2)
                ck_assert_int_ne(mcreg_restore(e.reg, buf, len - 1, now), MCREG_OK);
            mcreg_buffer_free(e.reg, buf);
        }
        st_bytes_exact(&e, what);
        st_events_exact(&e, what);
        ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_RECORDS), mcreg_record_count(e.reg));
        ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USERS), mcreg_user_count(e.reg));
    }
    /* The events were counted before each callback ran. */
    uint64_t total = 0;
    for (int t = 0; t < N_EVENT_TYPES; t++)
        total += e.counts.by_type[t];
    ck_assert_uint_gt(total, 1000);
    ck_assert_uint_eq((uint64_t)e.counts.stat_seen_early, total);
    ck_assert_uint_gt(e.counts.by_type[MCREG_EV_EXPIRED], 0);
    ck_assert_uint_gt(e.counts.by_type[MCREG_EV_NOTIFY_LOGON], 0);
    ck_assert_uint_gt(e.counts.by_type[MCREG_EV_NOTIFY_LOGOFF], 0);
    ck_assert_uint_gt(e.counts.by_type[MCREG_EV_SHORTENED], 0);
    mcreg_registry_free(e.reg);
    ck_assert_uint_eq(e.ta.live, 0);
}

START_TEST(test_bytes_and_events_are_exact_through_churn)
{
    static const struct {
        int ue_exclusive;
        uint32_t max_ues;
        mcreg_limit_policy policy;
        size_t capacity;
    } configs[] = {
        {1, 0, MCREG_LIMIT_REJECT, 0},
        {0, 0, MCREG_LIMIT_REJECT, 0},
        {1, 3, MCREG_LIMIT_REJECT, 0},
        {0, 2, MCREG_LIMIT_EVICT_OLDEST, 0},
        {1, 2, MCREG_LIMIT_EVICT_SOONEST, 0},
        /* A capacity the churn crosses both ways, and one it stays under. */
        {1, 0, MCREG_LIMIT_REJECT, 40},
        {0, 2, MCREG_LIMIT_EVICT_OLDEST, 40},
        {1, 3, MCREG_LIMIT_REJECT, 5000},
    };
    st_churn(configs[_i].ue_exclusive, configs[_i].max_ues, configs[_i].policy,
             configs[_i].capacity, (uint64_t)_i * 7919 + 1);
}
END_TEST

START_TEST(test_counts)
{
    st_env e;
    st_open(&e, 1, 0, MCREG_LIMIT_REJECT, 0);
    for (int id = MCREG_STAT_RECORDS; id < MCREG_STAT_EVENTS_BASE + N_EVENT_TYPES; id++)
        if (id != MCREG_STAT_BYTES)
            ck_assert_msg(mcreg_stat(e.reg, id) == 0, "stat %d of a new registry", id);
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    ck_assert_int_eq(mcreg_register(e.reg, &b, 1000, NULL), MCREG_OK);
    b.ue_id = "ue-2";
    ck_assert_int_eq(mcreg_register(e.reg, &b, 1000, NULL), MCREG_OK);
    b = tu_binding("bob", "ue-3", 30);
    ck_assert_int_eq(mcreg_register(e.reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(e.reg, "carol", 2), MCREG_OK); /* no record */
    ck_assert_int_eq(mcreg_set_user_max_ues(e.reg, "alice", 3), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(e.reg, "alice", 4), MCREG_OK); /* still one */
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_RECORDS), 3);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USERS), 2);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USER_LIMITS), 2);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_TOMBSTONES), 0);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_EVENTS_BASE + MCREG_EV_CREATED), 3);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_EVENTS_BASE + MCREG_EV_NOTIFY_LOGON), 2);

    /* A user that loses its records keeps its limit. */
    ck_assert_int_eq(mcreg_deregister_user(e.reg, "alice", 1000, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USERS), 1);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USER_LIMITS), 2);
    ck_assert_int_eq(mcreg_clear_user_max_ues(e.reg, "carol"), MCREG_OK);
    ck_assert_int_eq(mcreg_clear_user_max_ues(e.reg, "carol"), MCREG_ERR_NOT_FOUND);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USER_LIMITS), 1);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_EVENTS_BASE + MCREG_EV_DEREGISTERED), 2);

    /* A restore brings its own limits; the event counts go on. */
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(mcreg_set_user_max_ues(e.reg, "dave", 1), MCREG_OK);
    ck_assert_int_eq(mcreg_snapshot(e.reg, &buf, &len), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(e.reg, "erin", 1), MCREG_OK);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USER_LIMITS), 3);
    ck_assert_int_eq(mcreg_restore(e.reg, buf, len, 1000), MCREG_OK);
    mcreg_buffer_free(e.reg, buf);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_USER_LIMITS), 2);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_RECORDS), 1);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_EVENTS_BASE + MCREG_EV_CREATED), 3);
    ck_assert_int_eq(mcreg_expire(e.reg, UINT64_MAX, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_EVENTS_BASE + MCREG_EV_EXPIRED), 1);
    ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_RECORDS), 0);
    st_bytes_exact(&e, "end");

    /* Unknown ids, and no registry. */
    const int unknown[] = {-1, MCREG_STAT_EVENTS_BASE + N_EVENT_TYPES, 63, 64, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        ck_assert_uint_eq(mcreg_stat(e.reg, unknown[i]), 0);
    ck_assert_uint_eq(mcreg_stat(NULL, MCREG_STAT_RECORDS), 0);
    ck_assert_uint_eq(mcreg_stat(NULL, MCREG_STAT_BYTES), 0);
    mcreg_registry_free(e.reg);
    ck_assert_uint_eq(e.ta.live, 0);
}
END_TEST

/* Under a capacity the bytes include the tables and the heap sized at
 * creation, and the tables an emptied registry keeps: exact after the
 * creation, filling past the capacity, emptying (by deregistration, by
 * expiry in slices, by a restore of an empty snapshot), refilling, a
 * restore larger than the capacity, and a failed restore. */
START_TEST(test_bytes_exact_under_a_capacity)
{
    st_env e, plain;
    st_open(&e, _i, 0, MCREG_LIMIT_REJECT, 100);
    st_open(&plain, _i, 0, MCREG_LIMIT_REJECT, 0);
    st_bytes_exact(&e, "created with a capacity");
    /* The room for 100 records: at least a bucket per record in each
     * table, and a pointer and a key per record in the heap. */
    ck_assert_uint_gt(mcreg_stat(e.reg, MCREG_STAT_BYTES),
                      mcreg_stat(plain.reg, MCREG_STAT_BYTES) + 100 * (2 * 2 * sizeof(void *) + 8));
    uint8_t *empty;
    size_t empty_len;
    /* plain's allocator holds it: e's account stays e's allocator's */
    ck_assert_int_eq(mcreg_snapshot(plain.reg, &empty, &empty_len), MCREG_OK);
    char user[64], ue[64], contact[64], what[96];
    mcreg_setting s[4];
    for (int round = 0; round < 3; round++) {
        int n = round == 1 ? 150 : 60; /* round 1 goes past the capacity */
        for (int i = 0; i < n; i++) {
            mcreg_binding b = st_binding(user, ue, contact, s, i % 37, i, (uint64_t)i + round,
                                         10 + (uint32_t)(i % 5));
            ck_assert_int_eq(mcreg_register(e.reg, &b, 1000, NULL), MCREG_OK);
            snprintf(what, sizeof(what), "round %d, register %d", round, i);
            st_bytes_exact(&e, what);
        }
        ck_assert_uint_eq(mcreg_record_count(e.reg), (size_t)n);
        if (round == 0) {
            for (int i = 0; i < n; i++) {
                mcreg_binding b = st_binding(user, ue, contact, s, i % 37, i, 0, 0);
                ck_assert_int_eq(mcreg_deregister(e.reg, b.user_id, b.ue_id, 2000), MCREG_OK);
                snprintf(what, sizeof(what), "round 0, deregister %d", i);
                st_bytes_exact(&e, what);
            }
        } else if (round == 1) {
            /* A restore of more records than the capacity, and a failed one. */
            uint8_t *buf;
            size_t len;
            ck_assert_int_eq(mcreg_snapshot(e.reg, &buf, &len), MCREG_OK);
            ck_assert_int_eq(mcreg_restore(e.reg, buf, len, 2000), MCREG_OK);
            ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_BYTES) + len,
                              e.ta.live_bytes);
            ck_assert_int_eq(mcreg_restore(e.reg, buf, len - 1, 2000), MCREG_ERR_FORMAT);
            ck_assert_uint_eq(mcreg_stat(e.reg, MCREG_STAT_BYTES) + len,
                              e.ta.live_bytes);
            mcreg_buffer_free(e.reg, buf);
            size_t left = (size_t)n, got;
            while (left) {
                ck_assert_int_eq(mcreg_expire_max(e.reg, UINT64_MAX, 7, &got), MCREG_OK);
                left -= got;
                st_bytes_exact(&e, "round 1, expire_max");
            }
        } else {
            ck_assert_int_eq(mcreg_restore(e.reg, empty, empty_len, 2000), MCREG_OK);
            st_bytes_exact(&e, "round 2, restore of an empty snapshot");
        }
        ck_assert_uint_eq(mcreg_record_count(e.reg), 0);
        /* Emptied, it keeps its room: more than a registry without one. */
        ck_assert_uint_gt(mcreg_stat(e.reg, MCREG_STAT_BYTES), mcreg_stat(plain.reg, MCREG_STAT_BYTES));
    }
    mcreg_buffer_free(plain.reg, empty);
    st_bytes_exact(&e, "end");
    mcreg_registry_free(e.reg);
    mcreg_registry_free(plain.reg);
    ck_assert_uint_eq(e.ta.live, 0);
    ck_assert_uint_eq(plain.ta.live, 0);
}
END_TEST

/* Without a callback nothing is delivered, so nothing is counted. */
START_TEST(test_no_callback_no_events)
{
    tu_alloc ta = {0};
    mcreg_allocator a = tu_allocator(&ta);
    mcreg_registry *reg = tu_registry(NULL, &a);
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, NULL), MCREG_OK);
    for (int t = 0; t < N_EVENT_TYPES; t++)
        ck_assert_uint_eq(mcreg_stat(reg, MCREG_STAT_EVENTS_BASE + t), 0);
    ck_assert_uint_eq(mcreg_stat(reg, MCREG_STAT_BYTES), ta.live_bytes);
    mcreg_registry_free(reg);
}
END_TEST

Suite *suite_stat(void)
{
    Suite *s = suite_create("stat");
    TCase *tc = tcase_create("stat");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_bytes_and_events_are_exact_through_churn, 0, 8);
    tcase_add_loop_test(tc, test_bytes_exact_under_a_capacity, 0, 2);
    tcase_add_test(tc, test_counts);
    tcase_add_test(tc, test_no_callback_no_events);
    suite_add_tcase(s, tc);
    return s;
}
