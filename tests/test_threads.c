/* Queries from several threads at once: the header promises that every call
 * taking a const registry, visitors included, may run concurrently under a
 * host's shared lock. Four threads run every query on one registry, round
 * after round, and compare what they read with what one thread read before;
 * visitors also try mutating calls, which must all get MCREG_ERR_BUSY.
 * `make check-tsan` runs this under ThreadSanitizer, which reports any write
 * a query makes to the shared registry. Threads are the test's own: the
 * library has none. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "suites.h"
#include "testutil.h"

#define TH_THREADS 4
#define TH_ROUNDS 60
#define TH_USERS 24
#define TH_UES_PER_USER 3

/* What one thread reads in one round, as text, plus the snapshot. */
typedef struct th_view {
    char *dump;     /* tu_state_dump: counts, next expiry, every record */
    char *pairs;    /* mcreg_foreach order */
    char *limits;   /* mcreg_limit_foreach order */
    char *per_user; /* each user's mcreg_user_foreach, counts and limit */
    char *lookups;  /* find, find_ue, accessors */
    uint8_t *snap;
    size_t snap_len;
} th_view;

typedef struct th_shared {
    mcreg_registry *reg; /* mutable only so that visitors can try mutations */
    const th_view *want;
    pthread_barrier_t start;
} th_shared;

typedef struct th_result {
    int mismatches;
    int busy_wrong; /* a mutating call from a visitor that did not get BUSY */
    int busy_seen;
    char first[160];
} th_result;

static void th_user_id(char *buf, size_t size, int u)
{
    snprintf(buf, size, "sip:user%02d@mcptt.example", u);
}

static void th_ue_id(char *buf, size_t size, int u, int k)
{
    snprintf(buf, size, "urn:uuid:%02d-%d", u, k);
}

/* ---- visitors ----------------------------------------------------------------- */

typedef struct th_visit {
    mcreg_registry *reg;
    tu_events text;
    th_result *res;
} th_visit;

/* Every kind of mutating call, from inside a visitor: each must be refused
 * with BUSY and change nothing (the rounds compare the state after). */
static void th_try_mutations(th_visit *v, const char *user_id, const char *ue_id)
{
    mcreg_binding b = tu_binding(user_id, ue_id, 600);
    b.call_id = "th-call";
    b.cseq = 99;
    uint8_t empty_snapshot[] = {0xd9, 0xd9, 0xf7, 0xa1, 0x00, 0x82, 0x01, 0x00};
    size_t n;
    int rcs[] = {
        mcreg_register(v->reg, &b, 1, NULL),
        mcreg_deregister(v->reg, user_id, ue_id, 1),
        mcreg_deregister_user(v->reg, user_id, 1, &n),
        mcreg_expire(v->reg, UINT64_MAX, &n),
        mcreg_set_user_max_ues(v->reg, user_id, 1),
        mcreg_clear_user_max_ues(v->reg, user_id),
        mcreg_restore(v->reg, empty_snapshot, sizeof(empty_snapshot), 0),
    };
    for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
        if (rcs[i] == MCREG_ERR_BUSY)
            v->res->busy_seen++;
        else
            v->res->busy_wrong++;
    }
}

static int th_visit_record(const mcreg_record *r, void *ud)
{
    th_visit *v = ud;
    tu_collect_pair(r, &v->text);
    /* A query from inside a visitor sees the record visited. */
    if (mcreg_find(v->reg, mcreg_record_user_id(r), mcreg_record_ue_id(r)) != r)
        v->res->mismatches++;
    th_try_mutations(v, mcreg_record_user_id(r), mcreg_record_ue_id(r));
    return 0;
}

static int th_visit_limit(const char *user_id, uint32_t max_ues, void *ud)
{
    th_visit *v = ud;
    char item[96];
    snprintf(item, sizeof(item), "%s=%u,", user_id, (unsigned)max_ues);
    tu_events_append(&v->text, item);
    th_try_mutations(v, user_id, "urn:uuid:limit-visitor");
    return 0;
}

/* ---- one round of every query ---------------------------------------------------- */

static char *th_take(tu_events *t)
{
    char *s = t->log ? t->log : strdup("");
    t->log = NULL;
    t->len = t->cap = 0;
    return s;
}

static void th_read(mcreg_registry *reg, th_view *out, th_result *res)
{
    const mcreg_registry *q = reg; /* every call below takes it const */
    th_visit v = {.reg = reg, .res = res};
    tu_events_init(&v.text);
    memset(out, 0, sizeof(*out));

    out->dump = tu_state_dump(q);

    tu_events_reset(&v.text);
    int rc = mcreg_foreach(q, th_visit_record, &v);
    if (rc != MCREG_OK)
        res->mismatches++;
    out->pairs = th_take(&v.text);

    tu_events_init(&v.text);
    rc = mcreg_limit_foreach(q, th_visit_limit, &v);
    if (rc != MCREG_OK)
        res->mismatches++;
    out->limits = th_take(&v.text);

    tu_events_init(&v.text);
    for (int u = 0; u < TH_USERS; u++) {
        char user[64], line[160];
        th_user_id(user, sizeof(user), u);
        uint32_t max = 0;
        int has = mcreg_user_max_ues(q, user, &max);
        snprintf(line, sizeof(line), "[%s n=%zu max=%d/%u:", user, mcreg_user_ue_count(q, user),
                 has, (unsigned)max);
        tu_events_append(&v.text, line);
        rc = mcreg_user_foreach(q, user, th_visit_record, &v);
        snprintf(line, sizeof(line), " rc=%d]", rc);
        tu_events_append(&v.text, line);
    }
    out->per_user = th_take(&v.text);

    tu_events_init(&v.text);
    for (int u = 0; u < TH_USERS; u++) {
        for (int k = 0; k < TH_UES_PER_USER + 1; k++) {
            char user[64], ue[64], line[512];
            th_user_id(user, sizeof(user), u);
            th_ue_id(ue, sizeof(ue), u, k);
            const mcreg_record *r = mcreg_find(q, user, ue);
            const mcreg_record *at = mcreg_find_ue(q, ue);
            const mcreg_setting *s = mcreg_record_setting_find(r, "priority");
            snprintf(line, sizeof(line), "%s|%s|%s|%s|%u|%llu|%llu|%zu|%lld|%d;",
                     r ? mcreg_record_ue_id(r) : "-", at ? mcreg_record_user_id(at) : "-",
                     r && mcreg_record_contact(r) ? mcreg_record_contact(r) : "-",
                     r && mcreg_record_call_id(r) ? mcreg_record_call_id(r) : "-",
                     (unsigned)mcreg_record_cseq(r),
                     (unsigned long long)mcreg_record_registered_at(r),
                     (unsigned long long)mcreg_record_expires_at(r),
                     mcreg_record_setting_count(r), s ? (long long)s->v.i : -1,
                     mcreg_record_setting_at(r, 0) == s);
            tu_events_append(&v.text, line);
        }
    }
    uint64_t next = 0;
    char tail[256];
    rc = mcreg_next_expiry(q, &next);
    snprintf(tail, sizeof(tail), "next=%d/%llu records=%zu users=%zu %s %s %s detail=%s", rc,
             (unsigned long long)next, mcreg_record_count(q), mcreg_user_count(q),
             mcreg_strerror(MCREG_ERR_BUSY), mcreg_event_name(MCREG_EV_NOTIFY_LOGON),
             mcreg_version(), mcreg_error_detail(q));
    tu_events_append(&v.text, tail);
    for (int id = MCREG_STAT_RECORDS; id <= MCREG_STAT_EVENTS_BASE + MCREG_EV_NOTIFY_LOGOFF; id++) {
        snprintf(tail, sizeof(tail), " stat%d=%llu", id, (unsigned long long)mcreg_stat(q, id));
        tu_events_append(&v.text, tail);
    }
    out->lookups = th_take(&v.text);

    if (mcreg_snapshot(q, &out->snap, &out->snap_len) != MCREG_OK)
        res->mismatches++;
    tu_events_free(&v.text);
}

static void th_view_free(const mcreg_registry *reg, th_view *v)
{
    free(v->dump);
    free(v->pairs);
    free(v->limits);
    free(v->per_user);
    free(v->lookups);
    mcreg_buffer_free(reg, v->snap);
}

static void th_compare(const th_view *got, const th_view *want, th_result *res)
{
    const char *field = NULL;
    if (!got->dump || strcmp(got->dump, want->dump) != 0)
        field = "dump";
    else if (strcmp(got->pairs, want->pairs) != 0)
        field = "foreach";
    else if (strcmp(got->limits, want->limits) != 0)
        field = "limit_foreach";
    else if (strcmp(got->per_user, want->per_user) != 0)
        field = "user_foreach";
    else if (strcmp(got->lookups, want->lookups) != 0)
        field = "lookups";
    else if (got->snap_len != want->snap_len || !got->snap ||
             memcmp(got->snap, want->snap, want->snap_len) != 0)
        field = "snapshot";
    if (!field)
        return;
    if (res->mismatches++ == 0)
        snprintf(res->first, sizeof(res->first), "%s differs", field);
}

static void *th_reader(void *arg)
{
    th_shared *sh = arg;
    th_result *res = calloc(1, sizeof(*res));
    if (!res)
        return NULL;
    pthread_barrier_wait(&sh->start);
    for (int round = 0; round < TH_ROUNDS; round++) {
        th_view got;
        th_read(sh->reg, &got, res);
        th_compare(&got, sh->want, res);
        th_view_free(sh->reg, &got);
    }
    return res;
}

/* ---- the registry ------------------------------------------------------------------ */

/* Users with three UEs each, settings, contacts and Call-IDs; every third
 * user with a limit of its own, and two users with a limit and no record. */
static mcreg_registry *th_build(void)
{
    mcreg_registry *reg = tu_registry(NULL, NULL);
    ck_assert_ptr_nonnull(reg);
    for (int u = 0; u < TH_USERS; u++) {
        char user[64];
        th_user_id(user, sizeof(user), u);
        for (int k = 0; k < TH_UES_PER_USER; k++) {
            char ue[64], contact[96];
            th_ue_id(ue, sizeof(ue), u, k);
            snprintf(contact, sizeof(contact), "sip:%d-%d@192.0.2.%d:5060", u, k, 1 + u);
            mcreg_setting s[2] = {
                {.key = "priority", .type = MCREG_VAL_INT, .v.i = u * 10 + k},
                {.key = "display", .type = MCREG_VAL_TEXT, .v.text = {"x", 1}},
            };
            mcreg_binding b = tu_binding(user, ue, 60 + (uint32_t)(u * 7 + k));
            b.contact = contact;
            b.call_id = k == 1 ? NULL : "call@host";
            b.cseq = (uint32_t)(k + 1);
            b.settings = s;
            b.n_settings = 2;
            ck_assert_int_eq(mcreg_register(reg, &b, (uint64_t)(1000 + u * 3 + k), NULL), MCREG_OK);
        }
        if (u % 3 == 0)
            ck_assert_int_eq(mcreg_set_user_max_ues(reg, user, (uint32_t)(3 + u)), MCREG_OK);
    }
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:idle-1@mcptt.example", 2), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "sip:idle-2@mcptt.example", 0), MCREG_OK);
    /* The last mutating call fails: its detail must survive the BUSY
     * refusals of every visitor on every thread. */
    ck_assert_int_eq(mcreg_deregister(reg, "", "urn:uuid:00-0", 1), MCREG_ERR_INVALID);
    return reg;
}

START_TEST(test_four_threads_run_every_query_at_once)
{
    mcreg_registry *reg = th_build();
    th_view want;
    th_result single = {0};
    th_read(reg, &want, &single);
    ck_assert_int_eq(single.mismatches, 0);
    ck_assert_int_eq(single.busy_wrong, 0);
    ck_assert_int_gt(single.busy_seen, 0);
    ck_assert_ptr_nonnull(strstr(want.pairs, "sip:user23@mcptt.example/urn:uuid:23-2"));
    ck_assert_ptr_nonnull(strstr(want.limits, "sip:idle-1@mcptt.example=2,"));
    ck_assert_ptr_nonnull(strstr(want.lookups, "detail=user_id: empty"));

    th_shared sh = {.reg = reg, .want = &want};
    ck_assert_int_eq(pthread_barrier_init(&sh.start, NULL, TH_THREADS), 0);
    pthread_t th[TH_THREADS];
    for (int i = 0; i < TH_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, th_reader, &sh), 0);
    int mismatches = 0, busy_wrong = 0, busy_seen = 0;
    char first[160] = "";
    for (int i = 0; i < TH_THREADS; i++) {
        void *out = NULL;
        ck_assert_int_eq(pthread_join(th[i], &out), 0);
        th_result *res = out;
        ck_assert_ptr_nonnull(res);
        if (res->mismatches && !first[0])
            memcpy(first, res->first, sizeof(first));
        mismatches += res->mismatches;
        busy_wrong += res->busy_wrong;
        busy_seen += res->busy_seen;
        free(res);
    }
    pthread_barrier_destroy(&sh.start);
    ck_assert_msg(mismatches == 0, "%d mismatches, first: %s", mismatches, first);
    ck_assert_int_eq(busy_wrong, 0);
    ck_assert_int_eq(busy_seen, single.busy_seen * TH_ROUNDS * TH_THREADS);

    /* The registry is whole and mutable again once every visitor is done. */
    th_view after;
    th_result again = {0};
    th_read(reg, &after, &again);
    th_compare(&after, &want, &again);
    ck_assert_int_eq(again.mismatches, 0);
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    th_view_free(reg, &after);
    th_view_free(reg, &want);
    mcreg_registry_free(reg);
}
END_TEST

Suite *suite_threads(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("concurrent queries");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_four_threads_run_every_query_at_once);
    suite_add_tcase(s, tc);
    return s;
}
