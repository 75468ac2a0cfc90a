/* Events: exact sequences, multi-device notifications (NOTIFY_LOGON /
 * NOTIFY_LOGOFF), event fields, queries and BUSY from inside callbacks and
 * visitors, and freeing the registry from inside a callback. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "suites.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static const model_options DEFAULTS = {0};
static const model_options LOGOFF = {.notify_logoff = 1};

static mcreg_registry *make_cb(model_options c, mcreg_event_fn fn, void *ud,
                               const mcreg_allocator *a)
{
    tu_opts o = {.rules = c, .fn = fn, .ud = ud, .alloc = a};
    return tu_registry_new(&o);
}

/* A registry with the text recorder. */
static mcreg_registry *make(tu_events *ev, model_options c)
{
    return tu_registry_rec(&c, ev);
}

static void reg_ok(mcreg_registry *reg, const char *user, const char *ue, uint32_t expires_s,
                   uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, expires_s);
    int rc = mcreg_register(reg, &b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "register %s/%s: %d", user, ue, rc);
}

/* Checks the log, then empties it. */
static void expect_log(tu_events *ev, const char *want)
{
    ck_assert_str_eq(ev->log, want);
    tu_events_reset(ev);
}

/* ---- a probe that looks at each event's fields from inside the callback --- */

#define PROBE_MAX 32
#define TXT 64

typedef struct seen {
    mcreg_event_type type;
    uint64_t at_ms;
    char user[TXT], ue[TXT], recipient[TXT];
    int has_record;
    char rec_user[TXT], rec_ue[TXT], rec_contact[TXT];
    uint64_t rec_registered_at, rec_expires_at;
    const mcreg_record *record;
    const mcreg_record *found;   /* mcreg_find(user, ue) */
    int recipient_found;         /* mcreg_find(user, recipient) != NULL */
    int others_null;
    size_t n_other;
    size_t record_count, user_count, user_ue_count;
} seen;

typedef struct probe {
    mcreg_registry *reg; /* set after mcreg_registry_new */
    size_t n;
    seen s[PROBE_MAX];
} probe;

static void copy_txt(char *dst, const char *src)
{
    snprintf(dst, TXT, "%s", src ? src : "(null)");
}

static void probe_cb(const mcreg_event *ev, void *ud)
{
    probe *p = ud;
    ck_assert_uint_lt(p->n, PROBE_MAX);
    seen *s = &p->s[p->n++];
    memset(s, 0, sizeof(*s));
    s->type = ev->type;
    s->at_ms = ev->at_ms;
    copy_txt(s->user, ev->user_id);
    copy_txt(s->ue, ev->ue_id);
    copy_txt(s->recipient, ev->recipient_ue_id);
    s->record = ev->record;
    s->has_record = ev->record != NULL;
    if (ev->record) {
        copy_txt(s->rec_user, mcreg_record_user_id(ev->record));
        copy_txt(s->rec_ue, mcreg_record_ue_id(ev->record));
        copy_txt(s->rec_contact, mcreg_record_contact(ev->record));
        s->rec_registered_at = mcreg_record_registered_at(ev->record);
        s->rec_expires_at = mcreg_record_expires_at(ev->record);
    }
    s->found = mcreg_find(p->reg, ev->user_id, ev->ue_id);
    s->recipient_found =
        ev->recipient_ue_id && mcreg_find(p->reg, ev->user_id, ev->recipient_ue_id) != NULL;
    s->others_null = ev->other_ue_ids == NULL;
    s->n_other = ev->n_other;
    s->record_count = mcreg_record_count(p->reg);
    s->user_count = mcreg_user_count(p->reg);
    s->user_ue_count = mcreg_user_ue_count(p->reg, ev->user_id);
}

static mcreg_registry *make_probe(probe *p, model_options c)
{
    memset(p, 0, sizeof(*p));
    p->reg = make_cb(c, probe_cb, p, NULL);
    return p->reg;
}

static void assert_plain_event_fields(const seen *s)
{
    ck_assert_str_eq(s->recipient, "(null)");
    ck_assert_int_eq(s->others_null, 1);
    ck_assert_uint_eq(s->n_other, 0);
}

/* ---- CREATED and NOTIFY_LOGON -------------------------------------------- */

START_TEST(test_first_ue_gives_created_only)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "a", 60, 1);
    expect_log(&ev, "CREATED(u,a)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_second_ue_notifies_new_then_other)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "a", 60, 1);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "b", 60, 2);
    expect_log(&ev, "CREATED(u,b);NOTIFY_LOGON(u,b>b:[a]);NOTIFY_LOGON(u,b>a:[b])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_third_ue_notifies_in_registered_at_order)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "z", 60, 1);
    reg_ok(reg, "u", "m", 60, 2);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "a", 60, 3);
    expect_log(&ev, "CREATED(u,a);"
                    "NOTIFY_LOGON(u,a>a:[z,m]);"
                    "NOTIFY_LOGON(u,a>z:[m,a]);"
                    "NOTIFY_LOGON(u,a>m:[z,a])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logon_lists_follow_registered_at_when_clock_goes_back)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "z", 60, 10);
    reg_ok(reg, "u", "m", 60, 20);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "a", 60, 5); /* registered before both others */
    expect_log(&ev, "CREATED(u,a);"
                    "NOTIFY_LOGON(u,a>a:[z,m]);"
                    "NOTIFY_LOGON(u,a>z:[a,m]);"
                    "NOTIFY_LOGON(u,a>m:[a,z])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logon_lists_break_registered_at_ties_by_ue_id)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "c", 60, 5);
    reg_ok(reg, "u", "a", 60, 5);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "b", 60, 5);
    expect_log(&ev, "CREATED(u,b);"
                    "NOTIFY_LOGON(u,b>b:[a,c]);"
                    "NOTIFY_LOGON(u,b>a:[b,c]);"
                    "NOTIFY_LOGON(u,b>c:[a,b])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logon_only_concerns_the_same_user)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "v", "x", 60, 1);
    reg_ok(reg, "u", "a", 60, 2);
    expect_log(&ev, "CREATED(v,x);CREATED(u,a)");
    reg_ok(reg, "u", "b", 60, 3);
    expect_log(&ev, "CREATED(u,b);NOTIFY_LOGON(u,b>b:[a]);NOTIFY_LOGON(u,b>a:[b])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_notify_policy_new_ue_tells_only_new_ue)
{
    tu_events ev;
    model_options c = DEFAULTS;
    c.notify = MCREG_NOTIFY_NEW_UE;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "u", "a", 60, 1);
    expect_log(&ev, "CREATED(u,a)");
    reg_ok(reg, "u", "b", 60, 2);
    expect_log(&ev, "CREATED(u,b);NOTIFY_LOGON(u,b>b:[a])");
    reg_ok(reg, "u", "c", 60, 3);
    expect_log(&ev, "CREATED(u,c);NOTIFY_LOGON(u,c>c:[a,b])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_notify_policy_none_tells_nobody)
{
    tu_events ev;
    model_options c = DEFAULTS;
    c.notify = MCREG_NOTIFY_NONE;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "u", "b", 60, 2);
    reg_ok(reg, "u", "c", 60, 3);
    expect_log(&ev, "CREATED(u,a);CREATED(u,b);CREATED(u,c)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- REFRESHED / SHORTENED --------------------------------------------------- */

START_TEST(test_refresh_notifies_nobody)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "u", "b", 60, 2);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "a", 120, 3);
    expect_log(&ev, "REFRESHED(u,a)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_shorter_expiry_is_shortened)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "a", 60, 0); /* expires 60000 */
    tu_events_reset(&ev);
    reg_ok(reg, "u", "a", 30, 1000); /* 31000 */
    expect_log(&ev, "SHORTENED(u,a)");
    reg_ok(reg, "u", "a", 30, 1001); /* 31001: later by 1 ms */
    expect_log(&ev, "REFRESHED(u,a)");
    reg_ok(reg, "u", "a", 30, 1000); /* 31000: earlier by 1 ms */
    expect_log(&ev, "SHORTENED(u,a)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_equal_expiry_is_refreshed)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "a", 60, 0); /* expires 60000 */
    tu_events_reset(&ev);
    reg_ok(reg, "u", "a", 59, 1000); /* 60000 again */
    expect_log(&ev, "REFRESHED(u,a)");
    reg_ok(reg, "u", "a", 60, 0); /* same call again */
    expect_log(&ev, "REFRESHED(u,a)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_saturated_expiry_refresh_is_refreshed)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "a", 10, UINT64_MAX - 5);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "a", 20, UINT64_MAX - 5); /* both saturate: equal */
    expect_log(&ev, "REFRESHED(u,a)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- NOTIFY_LOGOFF ------------------------------------------------------------ */

START_TEST(test_logoff_is_off_by_default)
{
    tu_events ev;
    model_options c = DEFAULTS;
    c.max_ues = 4;
    c.policy = MCREG_LIMIT_EVICT_OLDEST;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "u", "a", 10, 1);
    reg_ok(reg, "u", "b", 60, 2);
    reg_ok(reg, "u", "c", 60, 3);
    reg_ok(reg, "u", "d", 60, 4);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "b", 5), MCREG_OK);
    expect_log(&ev, "DEREGISTERED(u,b)");
    reg_ok(reg, "u", "c", 0, 6);
    expect_log(&ev, "DEREGISTERED(u,c)");
    reg_ok(reg, "v", "d", 60, 7);
    expect_log(&ev, "REPLACED(u,d);CREATED(v,d)");
    reg_ok(reg, "u", "e", 60, 8);
    reg_ok(reg, "u", "f", 60, 9);
    ck_assert_str_eq(ev.log, "CREATED(u,e);NOTIFY_LOGON(u,e>e:[a]);NOTIFY_LOGON(u,e>a:[e]);"
                             "CREATED(u,f);NOTIFY_LOGON(u,f>f:[a,e]);"
                             "NOTIFY_LOGON(u,f>a:[e,f]);NOTIFY_LOGON(u,f>e:[a,f])");
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "u", 3), MCREG_OK);
    reg_ok(reg, "u", "g", 60, 10); /* evicts a */
    expect_log(&ev, "EVICTED(u,a);CREATED(u,g);NOTIFY_LOGON(u,g>g:[e,f]);"
                    "NOTIFY_LOGON(u,g>e:[f,g]);NOTIFY_LOGON(u,g>f:[e,g])");
    reg_ok(reg, "u", "e", 1, 11); /* expires 1011 */
    tu_events_reset(&ev);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 2000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    expect_log(&ev, "EXPIRED(u,e)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logoff_on_deregister)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, LOGOFF);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "u", "b", 60, 2);
    reg_ok(reg, "u", "c", 60, 3);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "b", 4), MCREG_OK);
    expect_log(&ev, "DEREGISTERED(u,b);NOTIFY_LOGOFF(u,b>a:[c]);NOTIFY_LOGOFF(u,b>c:[a])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logoff_on_expires_zero)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, LOGOFF);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "u", "b", 60, 2);
    tu_events_reset(&ev);
    mcreg_binding b = tu_binding("u", "a", 0);
    mcreg_outcome out = MCREG_CREATED;
    ck_assert_int_eq(mcreg_register(reg, &b, 3, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REMOVED);
    expect_log(&ev, "DEREGISTERED(u,a);NOTIFY_LOGOFF(u,a>b:[])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logoff_on_expire)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, LOGOFF);
    reg_ok(reg, "u", "a", 10, 0);  /* expires 10000 */
    reg_ok(reg, "u", "b", 100, 0); /* expires 100000 */
    reg_ok(reg, "u", "c", 100, 0);
    tu_events_reset(&ev);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 10000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    expect_log(&ev, "EXPIRED(u,a);NOTIFY_LOGOFF(u,a>b:[c]);NOTIFY_LOGOFF(u,a>c:[b])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logoff_on_evict_excludes_new_ue)
{
    tu_events ev;
    model_options c = LOGOFF;
    c.max_ues = 3;
    c.policy = MCREG_LIMIT_EVICT_OLDEST;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "u", "b", 60, 2);
    reg_ok(reg, "u", "d", 60, 3);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "c", 60, 4);
    expect_log(&ev, "EVICTED(u,a);NOTIFY_LOGOFF(u,a>b:[d]);NOTIFY_LOGOFF(u,a>d:[b]);"
                    "CREATED(u,c);"
                    "NOTIFY_LOGON(u,c>c:[b,d]);NOTIFY_LOGON(u,c>b:[d,c]);"
                    "NOTIFY_LOGON(u,c>d:[b,c])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logoff_on_evict_with_limit_two)
{
    tu_events ev;
    model_options c = LOGOFF;
    c.max_ues = 2;
    c.policy = MCREG_LIMIT_EVICT_SOONEST;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "u", "a", 90, 1);
    reg_ok(reg, "u", "b", 30, 2);
    tu_events_reset(&ev);
    reg_ok(reg, "u", "c", 60, 3);
    expect_log(&ev, "EVICTED(u,b);NOTIFY_LOGOFF(u,b>a:[]);CREATED(u,c);"
                    "NOTIFY_LOGON(u,c>c:[a]);NOTIFY_LOGON(u,c>a:[c])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logoff_on_replace)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, LOGOFF);
    reg_ok(reg, "alice", "x", 60, 1);
    reg_ok(reg, "alice", "y", 60, 2);
    reg_ok(reg, "alice", "z", 60, 3);
    tu_events_reset(&ev);
    reg_ok(reg, "bob", "x", 60, 4);
    expect_log(&ev, "REPLACED(alice,x);NOTIFY_LOGOFF(alice,x>y:[z]);"
                    "NOTIFY_LOGOFF(alice,x>z:[y]);CREATED(bob,x)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_logoff_not_sent_when_no_ue_remains)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, LOGOFF);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "v", "b", 60, 2); /* another user's UE is not told */
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "a", 3), MCREG_OK);
    expect_log(&ev, "DEREGISTERED(u,a)");
    reg_ok(reg, "w", "b", 60, 4);
    expect_log(&ev, "REPLACED(v,b);CREATED(w,b)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_deregister_user_sends_no_logoff)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, LOGOFF);
    reg_ok(reg, "u", "a", 60, 20);
    reg_ok(reg, "u", "b", 60, 30);
    reg_ok(reg, "u", "c", 60, 10);
    reg_ok(reg, "v", "d", 60, 5);
    tu_events_reset(&ev);
    size_t removed = 0;
    ck_assert_int_eq(mcreg_deregister_user(reg, "u", 40, &removed), MCREG_OK);
    ck_assert_uint_eq(removed, 3);
    expect_log(&ev, "DEREGISTERED(u,c);DEREGISTERED(u,a);DEREGISTERED(u,b)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_one_call_orders_replace_evict_create_logon)
{
    tu_events ev;
    model_options c = LOGOFF;
    c.max_ues = 3;
    c.policy = MCREG_LIMIT_EVICT_OLDEST;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "alice", "x", 60, 10);
    reg_ok(reg, "alice", "y", 60, 11);
    reg_ok(reg, "alice", "z", 60, 12);
    reg_ok(reg, "bob", "p", 60, 1);
    reg_ok(reg, "bob", "q", 60, 2);
    reg_ok(reg, "bob", "r", 60, 3);
    tu_events_reset(&ev);
    /* bob takes alice's UE x while at his limit: x is replaced, p evicted */
    reg_ok(reg, "bob", "x", 60, 100);
    expect_log(&ev, "REPLACED(alice,x);"
                    "NOTIFY_LOGOFF(alice,x>y:[z]);NOTIFY_LOGOFF(alice,x>z:[y]);"
                    "EVICTED(bob,p);"
                    "NOTIFY_LOGOFF(bob,p>q:[r]);NOTIFY_LOGOFF(bob,p>r:[q]);"
                    "CREATED(bob,x);"
                    "NOTIFY_LOGON(bob,x>x:[q,r]);"
                    "NOTIFY_LOGON(bob,x>q:[r,x]);"
                    "NOTIFY_LOGON(bob,x>r:[q,x])");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_rejected_event_alone)
{
    tu_events ev;
    model_options c = LOGOFF;
    c.max_ues = 1;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "u", "a", 60, 1);
    tu_events_reset(&ev);
    mcreg_binding b = tu_binding("u", "b", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 2, NULL), MCREG_ERR_LIMIT);
    expect_log(&ev, "REJECTED(u,b)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_failed_calls_emit_nothing)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, LOGOFF);
    mcreg_binding b = tu_binding("u", "a", 60);
    b.call_id = "c";
    b.cseq = 5;
    ck_assert_int_eq(mcreg_register(reg, &b, 1, NULL), MCREG_OK);
    reg_ok(reg, "u", "b", 60, 2);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_register(reg, &b, 3, NULL), MCREG_ERR_STALE);
    b.expires_s = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 3, NULL), MCREG_ERR_STALE);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "zz", 3), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister_user(reg, "nobody", 3, NULL), MCREG_ERR_NOT_FOUND);
    b = tu_binding("u", "", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 3, NULL), MCREG_ERR_INVALID);
    size_t n = 99;
    ck_assert_int_eq(mcreg_expire(reg, 59999, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(ev.log, "");
    ck_assert_uint_eq(ev.count, 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- event fields -------------------------------------------------------------- */

START_TEST(test_at_ms_is_the_calls_now)
{
    probe p;
    model_options c = LOGOFF;
    mcreg_registry *reg = make_probe(&p, c);
    reg_ok(reg, "u", "a", 10, 1111);
    reg_ok(reg, "u", "b", 60, 2222);
    reg_ok(reg, "u", "b", 90, 3333);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "b", 4444), MCREG_OK);
    reg_ok(reg, "u", "c", 60, 5555);
    ck_assert_int_eq(mcreg_expire(reg, 20000, NULL), MCREG_OK); /* a, LOGOFF to c */
    const uint64_t want[] = {1111, 2222, 2222, 2222, 3333, 4444, 4444, 5555, 5555, 5555,
                             20000, 20000};
    const size_t n = sizeof(want) / sizeof(want[0]);
    ck_assert_uint_eq(p.n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(p.s[i].at_ms == want[i], "event %zu (%s): at %llu", i,
                      mcreg_event_name(p.s[i].type), (unsigned long long)p.s[i].at_ms);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_created_and_refresh_events_carry_the_live_record)
{
    probe p;
    mcreg_registry *reg = make_probe(&p, DEFAULTS);
    mcreg_binding b = tu_binding("u", "a", 60);
    b.contact = "sip:a@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 100, NULL), MCREG_OK);
    b.contact = "sip:a2@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 200, NULL), MCREG_OK);
    b.expires_s = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 300, NULL), MCREG_OK);
    ck_assert_uint_eq(p.n, 3);
    const mcreg_event_type types[] = {MCREG_EV_CREATED, MCREG_EV_REFRESHED,
                                      MCREG_EV_SHORTENED};
    const uint64_t exp[] = {60100, 60200, 1300};
    const char *contacts[] = {"sip:a@h", "sip:a2@h", "sip:a2@h"};
    for (size_t i = 0; i < 3; i++) {
        const seen *s = &p.s[i];
        ck_assert_int_eq(s->type, types[i]);
        ck_assert_str_eq(s->user, "u");
        ck_assert_str_eq(s->ue, "a");
        ck_assert_int_eq(s->has_record, 1);
        ck_assert_ptr_eq(s->record, s->found);
        ck_assert_str_eq(s->rec_user, "u");
        ck_assert_str_eq(s->rec_ue, "a");
        ck_assert_str_eq(s->rec_contact, contacts[i]);
        ck_assert_uint_eq(s->rec_registered_at, 100);
        ck_assert_uint_eq(s->rec_expires_at, exp[i]);
        assert_plain_event_fields(s);
    }
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_removal_events_carry_the_removed_record)
{
    probe p;
    model_options c = DEFAULTS;
    c.max_ues = 2;
    c.policy = MCREG_LIMIT_EVICT_OLDEST;
    mcreg_registry *reg = make_probe(&p, c);
    mcreg_binding b = tu_binding("u", "dereg", 60);
    b.contact = "sip:dereg@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 100, NULL), MCREG_OK);
    b = tu_binding("u", "exp", 1);
    b.contact = "sip:exp@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 200, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "dereg", 300), MCREG_OK);
    ck_assert_int_eq(mcreg_expire(reg, 1200, NULL), MCREG_OK);
    b = tu_binding("v", "old", 60);
    b.contact = "sip:old@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 400, NULL), MCREG_OK);
    reg_ok(reg, "v", "mid", 60, 500);
    reg_ok(reg, "v", "new", 60, 600); /* evicts old */
    b = tu_binding("w", "mid", 60);   /* replaces v at mid */
    ck_assert_int_eq(mcreg_register(reg, &b, 700, NULL), MCREG_OK);

    const struct {
        mcreg_event_type type;
        const char *user, *ue, *contact;
        uint64_t registered_at, expires_at;
    } want[] = {
        {MCREG_EV_DEREGISTERED, "u", "dereg", "sip:dereg@h", 100, 60100},
        {MCREG_EV_EXPIRED, "u", "exp", "sip:exp@h", 200, 1200},
        {MCREG_EV_EVICTED, "v", "old", "sip:old@h", 400, 60400},
        {MCREG_EV_REPLACED, "v", "mid", "(null)", 500, 60500},
    };
    size_t k = 0;
    for (size_t i = 0; i < p.n; i++) {
        const seen *s = &p.s[i];
        if (s->type != MCREG_EV_DEREGISTERED && s->type != MCREG_EV_EXPIRED &&
            s->type != MCREG_EV_EVICTED && s->type != MCREG_EV_REPLACED)
            continue;
        ck_assert_uint_lt(k, 4);
        ck_assert_int_eq(s->type, want[k].type);
        ck_assert_str_eq(s->user, want[k].user);
        ck_assert_str_eq(s->ue, want[k].ue);
        ck_assert_int_eq(s->has_record, 1);
        ck_assert_str_eq(s->rec_user, want[k].user);
        ck_assert_str_eq(s->rec_ue, want[k].ue);
        ck_assert_str_eq(s->rec_contact, want[k].contact);
        ck_assert_uint_eq(s->rec_registered_at, want[k].registered_at);
        ck_assert_uint_eq(s->rec_expires_at, want[k].expires_at);
        ck_assert_ptr_null(s->found); /* no longer findable */
        assert_plain_event_fields(s);
        k++;
    }
    ck_assert_uint_eq(k, 4);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_rejected_event_has_no_record)
{
    probe p;
    model_options c = DEFAULTS;
    c.max_ues = 1;
    mcreg_registry *reg = make_probe(&p, c);
    reg_ok(reg, "u", "a", 60, 1);
    mcreg_binding b = tu_binding("u", "b", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 77, NULL), MCREG_ERR_LIMIT);
    ck_assert_uint_eq(p.n, 2);
    const seen *s = &p.s[1];
    ck_assert_int_eq(s->type, MCREG_EV_REJECTED);
    ck_assert_str_eq(s->user, "u");
    ck_assert_str_eq(s->ue, "b");
    ck_assert_uint_eq(s->at_ms, 77);
    ck_assert_int_eq(s->has_record, 0);
    ck_assert_ptr_null(s->found);
    ck_assert_uint_eq(s->record_count, 1);
    assert_plain_event_fields(s);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_notify_events_fields)
{
    probe p;
    mcreg_registry *reg = make_probe(&p, LOGOFF);
    mcreg_binding b = tu_binding("u", "a", 60);
    b.contact = "sip:a@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 1, NULL), MCREG_OK);
    b = tu_binding("u", "b", 60);
    b.contact = "sip:b@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 2, NULL), MCREG_OK);
    /* CREATED(a), CREATED(b), LOGON(b>b), LOGON(b>a) */
    ck_assert_uint_eq(p.n, 4);
    for (size_t i = 2; i < 4; i++) {
        const seen *s = &p.s[i];
        ck_assert_int_eq(s->type, MCREG_EV_NOTIFY_LOGON);
        ck_assert_str_eq(s->ue, "b");
        ck_assert_str_eq(s->recipient, i == 2 ? "b" : "a");
        ck_assert_int_eq(s->recipient_found, 1);
        ck_assert_int_eq(s->has_record, 1); /* the new record */
        ck_assert_str_eq(s->rec_ue, "b");
        ck_assert_str_eq(s->rec_contact, "sip:b@h");
        ck_assert_ptr_eq(s->record, s->found);
        ck_assert_int_eq(s->others_null, 0);
        ck_assert_uint_eq(s->n_other, 1);
    }
    ck_assert_int_eq(mcreg_deregister(reg, "u", "a", 3), MCREG_OK);
    ck_assert_uint_eq(p.n, 6);
    const seen *s = &p.s[5];
    ck_assert_int_eq(s->type, MCREG_EV_NOTIFY_LOGOFF);
    ck_assert_str_eq(s->ue, "a");
    ck_assert_str_eq(s->recipient, "b");
    ck_assert_int_eq(s->recipient_found, 1);
    ck_assert_int_eq(s->has_record, 1); /* the removed record as it was */
    ck_assert_str_eq(s->rec_ue, "a");
    ck_assert_str_eq(s->rec_contact, "sip:a@h");
    ck_assert_ptr_null(s->found);
    ck_assert_uint_eq(s->n_other, 0);
    mcreg_registry_free(reg);
}
END_TEST

/* ---- queries inside callbacks see the final state --------------------------------- */

START_TEST(test_callback_sees_final_state_after_create)
{
    probe p;
    mcreg_registry *reg = make_probe(&p, DEFAULTS);
    reg_ok(reg, "u", "a", 60, 1);
    ck_assert_uint_eq(p.s[0].record_count, 1);
    ck_assert_uint_eq(p.s[0].user_count, 1);
    reg_ok(reg, "u", "b", 60, 2);
    ck_assert_uint_eq(p.n, 4);
    for (size_t i = 1; i < 4; i++) {
        ck_assert_uint_eq(p.s[i].record_count, 2);
        ck_assert_uint_eq(p.s[i].user_ue_count, 2);
        ck_assert_ptr_nonnull(p.s[i].found);
    }
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_callback_sees_final_state_after_evict)
{
    probe p;
    model_options c = DEFAULTS;
    c.max_ues = 2;
    c.policy = MCREG_LIMIT_EVICT_OLDEST;
    mcreg_registry *reg = make_probe(&p, c);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "u", "b", 60, 2);
    size_t first = p.n;
    reg_ok(reg, "u", "c", 60, 3);
    ck_assert_int_eq(p.s[first].type, MCREG_EV_EVICTED);
    /* the new record already exists when EVICTED is delivered */
    for (size_t i = first; i < p.n; i++) {
        ck_assert_uint_eq(p.s[i].record_count, 2);
        ck_assert_uint_eq(p.s[i].user_ue_count, 2);
    }
    ck_assert_ptr_null(p.s[first].found);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_callback_sees_final_state_during_batch_removals)
{
    probe p;
    mcreg_registry *reg = make_probe(&p, DEFAULTS);
    reg_ok(reg, "u", "a", 10, 0);
    reg_ok(reg, "u", "b", 10, 1);
    reg_ok(reg, "u", "c", 99, 2);
    reg_ok(reg, "v", "d", 60, 3);
    reg_ok(reg, "v", "e", 60, 4);
    size_t first = p.n;
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 20000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(p.n, first + 2);
    for (size_t i = first; i < p.n; i++) {
        ck_assert_int_eq(p.s[i].type, MCREG_EV_EXPIRED);
        ck_assert_uint_eq(p.s[i].record_count, 3);
        ck_assert_uint_eq(p.s[i].user_ue_count, 1);
    }
    first = p.n;
    ck_assert_int_eq(mcreg_deregister_user(reg, "v", 30000, NULL), MCREG_OK);
    ck_assert_uint_eq(p.n, first + 2);
    for (size_t i = first; i < p.n; i++) {
        ck_assert_int_eq(p.s[i].type, MCREG_EV_DEREGISTERED);
        ck_assert_uint_eq(p.s[i].record_count, 1);
        ck_assert_uint_eq(p.s[i].user_count, 1);
        ck_assert_uint_eq(p.s[i].user_ue_count, 0);
    }
    mcreg_registry_free(reg);
}
END_TEST

/* ---- BUSY ------------------------------------------------------------------------ */

/* Every kind of event, under logoff on and EVICT_OLDEST. */
static void busy_script(mcreg_registry *reg)
{
    reg_ok(reg, "u", "a", 60, 1000);
    reg_ok(reg, "u", "b", 60, 2000);
    reg_ok(reg, "u", "c", 60, 3000);
    reg_ok(reg, "u", "a", 120, 4000); /* REFRESHED */
    reg_ok(reg, "u", "a", 1, 5000);   /* SHORTENED: expires 6000 */
    reg_ok(reg, "v", "b", 60, 6000);  /* REPLACED */
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "v", 1), MCREG_OK);
    reg_ok(reg, "v", "d", 60, 7000); /* EVICTED */
    ck_assert_int_eq(mcreg_deregister(reg, "u", "c", 8000), MCREG_OK);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 9000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    reg_ok(reg, "w", "e", 60, 10000);
    reg_ok(reg, "w", "f", 60, 11000);
    size_t removed = 0;
    ck_assert_int_eq(mcreg_deregister_user(reg, "w", 12000, &removed), MCREG_OK);
    ck_assert_uint_eq(removed, 2);
}

static const char BUSY_SCRIPT_LOG[] =
    "CREATED(u,a);"
    "CREATED(u,b);NOTIFY_LOGON(u,b>b:[a]);NOTIFY_LOGON(u,b>a:[b]);"
    "CREATED(u,c);NOTIFY_LOGON(u,c>c:[a,b]);NOTIFY_LOGON(u,c>a:[b,c]);"
    "NOTIFY_LOGON(u,c>b:[a,c]);"
    "REFRESHED(u,a);"
    "SHORTENED(u,a);"
    "REPLACED(u,b);NOTIFY_LOGOFF(u,b>a:[c]);NOTIFY_LOGOFF(u,b>c:[a]);CREATED(v,b);"
    "EVICTED(v,b);CREATED(v,d);"
    "DEREGISTERED(u,c);NOTIFY_LOGOFF(u,c>a:[]);"
    "EXPIRED(u,a);"
    "CREATED(w,e);"
    "CREATED(w,f);NOTIFY_LOGON(w,f>f:[e]);NOTIFY_LOGON(w,f>e:[f]);"
    "DEREGISTERED(w,e);DEREGISTERED(w,f)";

START_TEST(test_mutations_inside_callback_are_busy)
{
    model_options c = LOGOFF;
    c.policy = MCREG_LIMIT_EVICT_OLDEST;

    /* the script alone */
    tu_events plain;
    mcreg_registry *ref = make(&plain, c);
    busy_script(ref);
    ck_assert_str_eq(plain.log, BUSY_SCRIPT_LOG);
    char *want = tu_state_dump(ref);

    /* the same script while every callback tries six mutations */
    tu_events busy;
    mcreg_registry *reg = make(&busy, c);
    busy.reg = reg;
    busy_script(reg);
    ck_assert_str_eq(busy.log, BUSY_SCRIPT_LOG);
    ck_assert_int_eq(busy.busy_seen, (int)(6 * busy.count));
    ck_assert_int_eq(busy.busy_wrong, 0);
    char *got = tu_state_dump(reg);
    ck_assert_str_eq(got, want);
    ck_assert_ptr_null(mcreg_find(reg, "busy-user", "busy-ue"));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "v", &max), MCREG_OK);
    ck_assert_uint_eq(max, 1);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_ERR_NOT_FOUND);

    free(want);
    free(got);
    mcreg_registry_free(ref);
    mcreg_registry_free(reg);
    tu_events_free(&plain);
    tu_events_free(&busy);
}
END_TEST

START_TEST(test_mutation_inside_rejected_callback_is_busy)
{
    tu_events ev;
    model_options c = DEFAULTS;
    c.max_ues = 1;
    mcreg_registry *reg = make(&ev, c);
    reg_ok(reg, "u", "a", 60, 1);
    char *before = tu_state_dump(reg);
    tu_events_reset(&ev);
    ev.reg = reg;
    mcreg_binding b = tu_binding("u", "b", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 2, NULL), MCREG_ERR_LIMIT);
    expect_log(&ev, "REJECTED(u,b)");
    ck_assert_int_eq(ev.busy_seen, 6);
    ck_assert_int_eq(ev.busy_wrong, 0);
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    /* the per-user limit the callback tried to set is not there */
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_ERR_NOT_FOUND);
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_mutations_work_again_after_callback)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    ev.reg = reg;
    reg_ok(reg, "u", "a", 60, 1);
    ck_assert_int_eq(ev.busy_seen, 6);
    ev.reg = NULL;
    reg_ok(reg, "u", "b", 60, 2);
    ck_assert_int_eq(mcreg_deregister(reg, "u", "a", 3), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

typedef struct visit_busy {
    mcreg_registry *reg;
    int visits, busy_seen, busy_wrong, found;
} visit_busy;

static int busy_visitor(const mcreg_record *r, void *ud)
{
    visit_busy *v = ud;
    v->visits++;
    const char *user = mcreg_record_user_id(r), *ue = mcreg_record_ue_id(r);
    if (mcreg_find(v->reg, user, ue) == r)
        v->found++;
    mcreg_binding b = tu_binding("busy-user", "busy-ue", 60);
    int rcs[] = {
        mcreg_register(v->reg, &b, 1, NULL),
        mcreg_deregister(v->reg, user, ue, 1),
        mcreg_deregister_user(v->reg, user, 1, NULL),
        mcreg_expire(v->reg, UINT64_MAX, NULL),
        mcreg_set_user_max_ues(v->reg, user, 1),
        mcreg_clear_user_max_ues(v->reg, user),
    };
    for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
        if (rcs[i] == MCREG_ERR_BUSY)
            v->busy_seen++;
        else
            v->busy_wrong++;
    }
    return 0;
}

START_TEST(test_mutations_inside_visitor_are_busy)
{
    tu_events ev;
    mcreg_registry *reg = make(&ev, DEFAULTS);
    reg_ok(reg, "u", "a", 60, 1);
    reg_ok(reg, "u", "b", 60, 2);
    reg_ok(reg, "v", "c", 60, 3);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "v", 5), MCREG_OK);
    tu_events_reset(&ev);
    char *before = tu_state_dump(reg);

    visit_busy v = {reg, 0, 0, 0, 0};
    ck_assert_int_eq(mcreg_foreach(reg, busy_visitor, &v), MCREG_OK);
    ck_assert_int_eq(v.visits, 3);
    ck_assert_int_eq(v.found, 3);
    ck_assert_int_eq(v.busy_seen, 18);
    ck_assert_int_eq(v.busy_wrong, 0);

    visit_busy w = {reg, 0, 0, 0, 0};
    ck_assert_int_eq(mcreg_user_foreach(reg, "u", busy_visitor, &w), MCREG_OK);
    ck_assert_int_eq(w.visits, 2);
    ck_assert_int_eq(w.found, 2);
    ck_assert_int_eq(w.busy_seen, 12);
    ck_assert_int_eq(w.busy_wrong, 0);

    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(ev.count, 0);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "v", &max), MCREG_OK);
    ck_assert_uint_eq(max, 5);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "u", &max), MCREG_ERR_NOT_FOUND);
    /* mutations work again afterwards */
    ck_assert_int_eq(mcreg_deregister(reg, "u", "a", 4), MCREG_OK);
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- freeing the registry from inside a callback -------------------------------- */

typedef struct freer {
    mcreg_registry *reg;
    int events; /* events seen; the callback frees the registry at the first */
    int visits; /* visits seen; the visitor frees the registry at the first */
    int armed;
    tu_alloc alloc;
    mcreg_allocator al;
} freer;

static void free_in_callback(const mcreg_event *ev, void *ud)
{
    freer *f = ud;
    (void)ev;
    if (!f->armed)
        return;
    f->events++;
    if (f->events == 1)
        mcreg_registry_free(f->reg);
}

static int free_in_visitor(const mcreg_record *r, void *ud)
{
    freer *f = ud;
    (void)r;
    f->visits++;
    if (f->visits == 1)
        mcreg_registry_free(f->reg);
    return 0;
}

/* A registry on a counting allocator whose callback frees it once armed. */
static mcreg_registry *make_freer(freer *f)
{
    memset(f, 0, sizeof(*f));
    f->al = tu_allocator(&f->alloc);
    f->reg = make_cb(DEFAULTS, free_in_callback, f, &f->al);
    return f->reg;
}

/* The callback frees during a register call that has CREATED and two
 * NOTIFY_LOGONs to deliver. Returns the register call's result. */
static int free_during_register(freer *f)
{
    mcreg_registry *reg = make_freer(f);
    reg_ok(reg, "u", "a", 60, 1);
    ck_assert_uint_gt(f->alloc.live, 0);
    f->armed = 1;
    mcreg_binding b = tu_binding("u", "b", 60);
    return mcreg_register(reg, &b, 2, NULL);
}

/* The callback frees during an expire call that has three EXPIRED due. */
static int free_during_expire(freer *f)
{
    mcreg_registry *reg = make_freer(f);
    reg_ok(reg, "u", "a", 1, 0);
    reg_ok(reg, "v", "b", 1, 0);
    reg_ok(reg, "w", "c", 1, 0);
    f->armed = 1;
    return mcreg_expire(reg, 5000, NULL);
}

/* The callback frees during a deregister_user with two DEREGISTERED due. */
static int free_during_deregister_user(freer *f)
{
    mcreg_registry *reg = make_freer(f);
    reg_ok(reg, "u", "a", 60, 0);
    reg_ok(reg, "u", "b", 60, 0);
    f->armed = 1;
    return mcreg_deregister_user(reg, "u", 1, NULL);
}

/* The visitor frees on the first of three records. */
static void free_during_foreach(freer *f)
{
    mcreg_registry *reg = make_freer(f);
    reg_ok(reg, "u", "a", 60, 0);
    reg_ok(reg, "v", "b", 60, 0);
    reg_ok(reg, "w", "c", 60, 0);
    (void)mcreg_foreach(reg, free_in_visitor, f);
}

/* The visitor frees on the first of the user's two records. */
static void free_during_user_foreach(freer *f)
{
    mcreg_registry *reg = make_freer(f);
    reg_ok(reg, "u", "a", 60, 0);
    reg_ok(reg, "u", "b", 60, 0);
    (void)mcreg_user_foreach(reg, "u", free_in_visitor, f);
}

/* In every test below the registry is gone after the call: it is not
 * touched again; the counting allocator shows that everything was freed. */

START_TEST(test_free_inside_register_callback_is_deferred)
{
    freer f;
    ck_assert_int_eq(free_during_register(&f), MCREG_OK);
    ck_assert_int_ge(f.events, 1);
    ck_assert_uint_eq(f.alloc.live, 0);
    ck_assert_uint_eq(f.alloc.live_bytes, 0);
}
END_TEST

START_TEST(test_free_inside_expire_callback_is_deferred)
{
    freer f;
    ck_assert_int_eq(free_during_expire(&f), MCREG_OK);
    ck_assert_int_ge(f.events, 1);
    ck_assert_uint_eq(f.alloc.live, 0);
}
END_TEST

START_TEST(test_free_inside_deregister_user_callback_is_deferred)
{
    freer f;
    ck_assert_int_eq(free_during_deregister_user(&f), MCREG_OK);
    ck_assert_int_ge(f.events, 1);
    ck_assert_uint_eq(f.alloc.live, 0);
}
END_TEST

START_TEST(test_free_inside_visitor_is_deferred)
{
    freer f;
    free_during_foreach(&f);
    ck_assert_int_ge(f.visits, 1);
    ck_assert_uint_eq(f.alloc.live, 0);
}
END_TEST

START_TEST(test_free_inside_user_visitor_is_deferred)
{
    freer f;
    free_during_user_foreach(&f);
    ck_assert_int_ge(f.visits, 1);
    ck_assert_uint_eq(f.alloc.live, 0);
}
END_TEST

/* "the free is deferred until that callback returns to the library, which
 * then returns to the host without touching the registry again": no event
 * or visit follows the one that freed the registry. */

START_TEST(test_no_event_after_free_in_register_callback)
{
    freer f;
    ck_assert_int_eq(free_during_register(&f), MCREG_OK);
    ck_assert_int_eq(f.events, 1);
}
END_TEST

START_TEST(test_no_event_after_free_in_expire_callback)
{
    freer f;
    ck_assert_int_eq(free_during_expire(&f), MCREG_OK);
    ck_assert_int_eq(f.events, 1);
}
END_TEST

START_TEST(test_no_event_after_free_in_deregister_user_callback)
{
    freer f;
    ck_assert_int_eq(free_during_deregister_user(&f), MCREG_OK);
    ck_assert_int_eq(f.events, 1);
}
END_TEST

START_TEST(test_no_visit_after_free_in_visitor)
{
    freer f;
    free_during_foreach(&f);
    ck_assert_int_eq(f.visits, 1);
}
END_TEST

START_TEST(test_no_visit_after_free_in_user_visitor)
{
    freer f;
    free_during_user_foreach(&f);
    ck_assert_int_eq(f.visits, 1);
}
END_TEST

/* ---- registry and recipient fields -------------------------------------- */

typedef struct field_probe {
    const mcreg_registry *reg;
    int events, notifies, wrong;
} field_probe;

static void field_probe_cb(const mcreg_event *ev, void *ud)
{
    field_probe *p = ud;
    p->events++;
    if (ev->registry != p->reg)
        p->wrong++;
    int notify = ev->type == MCREG_EV_NOTIFY_LOGON || ev->type == MCREG_EV_NOTIFY_LOGOFF;
    if (!notify) {
        if (ev->recipient)
            p->wrong++;
        return;
    }
    p->notifies++;
    /* The recipient's record is the one mcreg_find gives for it. */
    if (!ev->recipient ||
        ev->recipient != mcreg_find(ev->registry, ev->user_id, ev->recipient_ue_id) ||
        strcmp(mcreg_record_ue_id(ev->recipient), ev->recipient_ue_id) != 0)
        p->wrong++;
}

START_TEST(test_events_carry_registry_and_recipient_record)
{
    field_probe p = {NULL, 0, 0, 0};
    mcreg_registry *reg = make_cb(LOGOFF, field_probe_cb, &p, NULL);
    p.reg = reg;
    reg_ok(reg, "alice", "a", 60, 1);
    reg_ok(reg, "alice", "b", 60, 2);
    reg_ok(reg, "alice", "c", 60, 3);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "a", 4), MCREG_OK);
    ck_assert_int_eq(mcreg_expire(reg, 60002, NULL), MCREG_OK); /* b goes, c stays */
    /* CREATED x3, LOGON 2 + 3, DEREGISTERED + 2 LOGOFF, EXPIRED + 1 LOGOFF */
    ck_assert_int_eq(p.events, 3 + 5 + 3 + 2);
    ck_assert_int_eq(p.notifies, 5 + 2 + 1);
    ck_assert_int_eq(p.wrong, 0);
    mcreg_registry_free(reg);
}
END_TEST

Suite *suite_events(void)
{
    Suite *s = suite_create("events");

    TCase *tc = tcase_create("logon");
    tcase_add_test(tc, test_first_ue_gives_created_only);
    tcase_add_test(tc, test_second_ue_notifies_new_then_other);
    tcase_add_test(tc, test_third_ue_notifies_in_registered_at_order);
    tcase_add_test(tc, test_logon_lists_follow_registered_at_when_clock_goes_back);
    tcase_add_test(tc, test_logon_lists_break_registered_at_ties_by_ue_id);
    tcase_add_test(tc, test_logon_only_concerns_the_same_user);
    tcase_add_test(tc, test_notify_policy_new_ue_tells_only_new_ue);
    tcase_add_test(tc, test_notify_policy_none_tells_nobody);
    tcase_add_test(tc, test_refresh_notifies_nobody);
    tcase_add_test(tc, test_shorter_expiry_is_shortened);
    tcase_add_test(tc, test_equal_expiry_is_refreshed);
    tcase_add_test(tc, test_saturated_expiry_refresh_is_refreshed);
    suite_add_tcase(s, tc);

    tc = tcase_create("logoff");
    tcase_add_test(tc, test_logoff_is_off_by_default);
    tcase_add_test(tc, test_logoff_on_deregister);
    tcase_add_test(tc, test_logoff_on_expires_zero);
    tcase_add_test(tc, test_logoff_on_expire);
    tcase_add_test(tc, test_logoff_on_evict_excludes_new_ue);
    tcase_add_test(tc, test_logoff_on_evict_with_limit_two);
    tcase_add_test(tc, test_logoff_on_replace);
    tcase_add_test(tc, test_logoff_not_sent_when_no_ue_remains);
    tcase_add_test(tc, test_deregister_user_sends_no_logoff);
    tcase_add_test(tc, test_one_call_orders_replace_evict_create_logon);
    tcase_add_test(tc, test_rejected_event_alone);
    tcase_add_test(tc, test_failed_calls_emit_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("fields");
    tcase_add_test(tc, test_events_carry_registry_and_recipient_record);
    tcase_add_test(tc, test_at_ms_is_the_calls_now);
    tcase_add_test(tc, test_created_and_refresh_events_carry_the_live_record);
    tcase_add_test(tc, test_removal_events_carry_the_removed_record);
    tcase_add_test(tc, test_rejected_event_has_no_record);
    tcase_add_test(tc, test_notify_events_fields);
    tcase_add_test(tc, test_callback_sees_final_state_after_create);
    tcase_add_test(tc, test_callback_sees_final_state_after_evict);
    tcase_add_test(tc, test_callback_sees_final_state_during_batch_removals);
    suite_add_tcase(s, tc);

    tc = tcase_create("reentrancy");
    tcase_add_test(tc, test_mutations_inside_callback_are_busy);
    tcase_add_test(tc, test_mutation_inside_rejected_callback_is_busy);
    tcase_add_test(tc, test_mutations_work_again_after_callback);
    tcase_add_test(tc, test_mutations_inside_visitor_are_busy);
    tcase_add_test(tc, test_free_inside_register_callback_is_deferred);
    tcase_add_test(tc, test_free_inside_expire_callback_is_deferred);
    tcase_add_test(tc, test_free_inside_deregister_user_callback_is_deferred);
    tcase_add_test(tc, test_free_inside_visitor_is_deferred);
    tcase_add_test(tc, test_free_inside_user_visitor_is_deferred);
    tcase_add_test(tc, test_no_event_after_free_in_register_callback);
    tcase_add_test(tc, test_no_event_after_free_in_expire_callback);
    tcase_add_test(tc, test_no_event_after_free_in_deregister_user_callback);
    tcase_add_test(tc, test_no_visit_after_free_in_visitor);
    tcase_add_test(tc, test_no_visit_after_free_in_user_visitor);
    suite_add_tcase(s, tc);

    return s;
}
