/* Registry scenarios: create, refresh, remove, queries, orders, settings,
 * ordering (Call-ID / CSeq), input validation, names and options. */
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "suites.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

#define SENTINEL_OUTCOME ((mcreg_outcome)77)

/* A registry with all defaults (no callback). */
static mcreg_registry *new_reg(void)
{
    mcreg_registry *reg = tu_registry(NULL, NULL);
    ck_assert_ptr_nonnull(reg);
    return reg;
}

/* A registry with the event recorder. */
static mcreg_registry *new_reg_ev(tu_events *ev)
{
    tu_events_init(ev);
    mcreg_registry *reg = tu_registry(ev, NULL);
    ck_assert_ptr_nonnull(reg);
    return reg;
}

/* A registry with UE exclusive switched off. */
static mcreg_registry *new_reg_shared_ue(void)
{
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_ue_exclusive(o, 0);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    return reg;
}

static void must_register(mcreg_registry *reg, const char *user, const char *ue,
                          uint32_t expires_s, uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, expires_s);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, now, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_CREATED);
}

/* A malloc'd string of n copies of c. */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* A malloc'd string of `count` copies of `unit`, after `prefix`. */
static char *repeat_str(const char *prefix, const char *unit, size_t count)
{
    size_t p = strlen(prefix), u = strlen(unit);
    char *s = malloc(p + u * count + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, prefix, p);
    for (size_t i = 0; i < count; i++)
        memcpy(s + p + i * u, unit, u);
    s[p + u * count] = '\0';
    return s;
}

typedef struct stop_ctx {
    int seen;
    int stop_at; /* 1-based visit that stops */
    int value;
} stop_ctx;

static int stop_visitor(const mcreg_record *r, void *ud)
{
    stop_ctx *s = ud;
    (void)r;
    s->seen++;
    return s->seen == s->stop_at ? s->value : 0;
}

static char *user_order(const mcreg_registry *reg, const char *user)
{
    tu_events t;
    tu_events_init(&t);
    ck_assert_int_eq(mcreg_user_foreach(reg, user, tu_collect_ue, &t), MCREG_OK);
    return t.log;
}

static char *global_order(const mcreg_registry *reg)
{
    tu_events t;
    tu_events_init(&t);
    ck_assert_int_eq(mcreg_foreach(reg, tu_collect_pair, &t), MCREG_OK);
    return t.log;
}

/* A registry with a few varied records, used as the "before" state of the
 * rejection tests. */
static mcreg_registry *populated(tu_events *ev)
{
    mcreg_registry *reg = new_reg_ev(ev);
    mcreg_setting s[2];
    memset(s, 0, sizeof(s));
    s[0].key = "prio";
    s[0].type = MCREG_VAL_INT;
    s[0].v.i = 5;
    s[1].key = "name";
    s[1].type = MCREG_VAL_TEXT;
    s[1].v.text.ptr = "alpha";
    s[1].v.text.len = 5;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:alice@10.0.0.1";
    b.call_id = "call-a1";
    b.cseq = 10;
    b.settings = s;
    b.n_settings = 2;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    b = tu_binding("alice", "ue-2", 120);
    b.call_id = "call-a2";
    b.cseq = 3;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, NULL), MCREG_OK);
    b = tu_binding("bob", "ue-3", 30);
    b.contact = "sip:bob@10.0.0.3";
    ck_assert_int_eq(mcreg_register(reg, &b, 1500, NULL), MCREG_OK);
    tu_events_reset(ev);
    return reg;
}

/* Runs mcreg_register expecting `code`, and checks that nothing observable
 * changed: state dump, events and the outcome variable. */
static void expect_register_fails(mcreg_registry *reg, tu_events *ev, const mcreg_binding *b,
                                  uint64_t now, int code, const char *what)
{
    char *before = tu_state_dump(reg);
    ck_assert_ptr_nonnull(before);
    size_t events_before = ev ? ev->count : 0;
    mcreg_outcome out = SENTINEL_OUTCOME;
    int rc = mcreg_register(reg, b, now, &out);
    ck_assert_msg(rc == code, "%s: expected %d, got %d", what, code, rc);
    ck_assert_msg(out == SENTINEL_OUTCOME, "%s: outcome written on error", what);
    char *after = tu_state_dump(reg);
    ck_assert_ptr_nonnull(after);
    ck_assert_msg(strcmp(before, after) == 0, "%s: state changed:\n%s\n---\n%s", what, before,
                  after);
    if (ev)
        ck_assert_msg(ev->count == events_before, "%s: events emitted: %s", what, ev->log);
    free(before);
    free(after);
}

static void expect_register_ok(mcreg_registry *reg, const mcreg_binding *b, uint64_t now,
                               const char *what)
{
    int rc = mcreg_register(reg, b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "%s: expected OK, got %d", what, rc);
    ck_assert_msg(mcreg_find(reg, b->user_id, b->ue_id) != NULL, "%s: not stored", what);
}

static const char *const bad_utf8[] = {
    "\xC0\xAF",               /* overlong '/' (2 bytes) */
    "\xC1\xBF",               /* overlong U+007F */
    "\xE0\x80\xAF",           /* overlong '/' (3 bytes) */
    "\xE0\x9F\xBF",           /* overlong U+07FF */
    "\xF0\x80\x80\xAF",       /* overlong '/' (4 bytes) */
    "\xF0\x8F\xBF\xBF",       /* overlong U+FFFF */
    "\xED\xA0\x80",           /* U+D800, high surrogate */
    "\xED\xBF\xBF",           /* U+DFFF, low surrogate */
    "\xED\xA0\xBD\xED\xB8\x80", /* CESU-8 surrogate pair */
    "\xF4\x90\x80\x80",       /* U+110000 */
    "\xF5\x80\x80\x80",       /* lead byte past U+10FFFF */
    "\xF8\x88\x80\x80\x80",   /* 5-byte form */
    "\xFE",                   /* never valid */
    "\xFF",                   /* never valid */
    "\xC3",                   /* truncated 2-byte */
    "\xE2\x82",               /* truncated 3-byte */
    "\xF0\x9F\x98",           /* truncated 4-byte */
    "ab" "\xE2\x82",          /* truncated at the end after ASCII */
    "\xE2" "a" "\xAC",        /* continuation replaced by ASCII */
    "\x80",                   /* stray continuation */
    "a" "\xBF" "b",           /* stray continuation inside */
    "\xC3\xA9" "\xA9",        /* one continuation too many */
};
#define N_BAD_UTF8 (sizeof(bad_utf8) / sizeof(bad_utf8[0]))

static const char *const good_utf8[] = {
    "\xC2\x80",                                  /* U+0080 */
    "\xDF\xBF",                                  /* U+07FF */
    "\xE0\xA0\x80",                              /* U+0800 */
    "\xED\x9F\xBF",                              /* U+D7FF */
    "\xEE\x80\x80",                              /* U+E000 */
    "\xEF\xBF\xBD",                              /* U+FFFD */
    "\xF0\x90\x80\x80",                          /* U+10000 */
    "\xF4\x8F\xBF\xBF",                          /* U+10FFFF */
    "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", /* mixed */
};
#define N_GOOD_UTF8 (sizeof(good_utf8) / sizeof(good_utf8[0]))

/* ---- create / refresh / remove ------------------------------------------ */

START_TEST(test_create_stores_every_field)
{
    mcreg_registry *reg = new_reg();
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:alice@10.0.0.1:5060";
    b.call_id = "abc@host";
    b.cseq = 7;
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_CREATED);

    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_user_id(r), "alice");
    ck_assert_str_eq(mcreg_record_ue_id(r), "ue-1");
    ck_assert_str_eq(mcreg_record_contact(r), "sip:alice@10.0.0.1:5060");
    ck_assert_str_eq(mcreg_record_call_id(r), "abc@host");
    ck_assert_uint_eq(mcreg_record_cseq(r), 7);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 1000);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 61000);
    ck_assert_uint_eq(mcreg_record_setting_count(r), 0);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 1);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_create_without_contact_or_call_id)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 0);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(mcreg_record_contact(r));
    ck_assert_ptr_null(mcreg_record_call_id(r));
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_register_accepts_null_outcome)
{
    mcreg_registry *reg = new_reg();
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_register(reg, &b, 10, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "ue-1")), 60010);
    b.expires_s = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 20, NULL), MCREG_OK);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-1"));
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_registry_copies_binding_strings)
{
    mcreg_registry *reg = new_reg();
    char user[] = "alice", ue[] = "ue-1", contact[] = "sip:a@h", call[] = "c1", key[] = "k";
    char text[] = "value";
    uint8_t bytes[] = {1, 2, 3};
    mcreg_setting s[2];
    memset(s, 0, sizeof(s));
    s[0].key = key;
    s[0].type = MCREG_VAL_TEXT;
    s[0].v.text.ptr = text;
    s[0].v.text.len = 5;
    s[1].key = "raw";
    s[1].type = MCREG_VAL_BYTES;
    s[1].v.bytes.ptr = bytes;
    s[1].v.bytes.len = 3;
    mcreg_binding b = tu_binding(user, ue, 60);
    b.contact = contact;
    b.call_id = call;
    b.settings = s;
    b.n_settings = 2;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    /* scribble over every caller buffer */
    memset(user, 'X', 5);
    memset(ue, 'X', 4);
    memset(contact, 'X', 7);
    memset(call, 'X', 2);
    key[0] = 'X';
    memset(text, 'X', 5);
    memset(bytes, 0xEE, 3);

    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_user_id(r), "alice");
    ck_assert_str_eq(mcreg_record_ue_id(r), "ue-1");
    ck_assert_str_eq(mcreg_record_contact(r), "sip:a@h");
    ck_assert_str_eq(mcreg_record_call_id(r), "c1");
    const mcreg_setting *got = mcreg_record_setting_find(r, "k");
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->v.text.len, 5);
    ck_assert_int_eq(memcmp(got->v.text.ptr, "value", 5), 0);
    got = mcreg_record_setting_find(r, "raw");
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->v.bytes.len, 3);
    ck_assert_int_eq(memcmp(got->v.bytes.ptr, "\x01\x02\x03", 3), 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_refresh_updates_expiry_contact_call_id_cseq)
{
    mcreg_registry *reg = new_reg();
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:old@h";
    b.call_id = "call-1";
    b.cseq = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);

    b.contact = "sip:new@h";
    b.cseq = 2;
    b.expires_s = 120;
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 5000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);

    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_contact(r), "sip:new@h");
    ck_assert_str_eq(mcreg_record_call_id(r), "call-1");
    ck_assert_uint_eq(mcreg_record_cseq(r), 2);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 125000);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 1000);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 1);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_refresh_with_shorter_expiry_reports_refreshed)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 3600, 0);
    mcreg_binding b = tu_binding("alice", "ue-1", 10);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "ue-1")), 11000);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_refresh_keeps_registered_at_even_when_clock_goes_back)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 5000);
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 9000, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_registered_at(mcreg_find(reg, "alice", "ue-1")), 5000);
    ck_assert_int_eq(mcreg_register(reg, &b, 100, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_uint_eq(mcreg_record_registered_at(r), 5000);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 60100);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_refresh_with_null_contact_keeps_contact)
{
    mcreg_registry *reg = new_reg();
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:alice@h";
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    b.contact = NULL;
    ck_assert_int_eq(mcreg_register(reg, &b, 10, NULL), MCREG_OK);
    ck_assert_str_eq(mcreg_record_contact(mcreg_find(reg, "alice", "ue-1")), "sip:alice@h");
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_refresh_with_null_call_id_clears_call_id)
{
    mcreg_registry *reg = new_reg();
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.call_id = "call-1";
    b.cseq = 9;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    b.call_id = NULL;
    b.cseq = 4;
    ck_assert_int_eq(mcreg_register(reg, &b, 10, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_null(mcreg_record_call_id(r));
    ck_assert_uint_eq(mcreg_record_cseq(r), 4);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_refresh_with_new_call_id_replaces_it)
{
    mcreg_registry *reg = new_reg();
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.call_id = "call-1";
    b.cseq = 9;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    b.call_id = "call-2";
    b.cseq = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 10, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_str_eq(mcreg_record_call_id(r), "call-2");
    ck_assert_uint_eq(mcreg_record_cseq(r), 1);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_expires_zero_removes_record)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 0);
    mcreg_binding b = tu_binding("alice", "ue-1", 0);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 10, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REMOVED);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-1"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "ue-1"));
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 0);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_ERR_NOT_FOUND);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_expires_zero_keeps_other_ues)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 0);
    must_register(reg, "alice", "ue-2", 60, 0);
    mcreg_binding b = tu_binding("alice", "ue-1", 0);
    ck_assert_int_eq(mcreg_register(reg, &b, 10, NULL), MCREG_OK);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-1"));
    ck_assert_ptr_nonnull(mcreg_find(reg, "alice", "ue-2"));
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 1);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_expires_zero_without_record_is_not_found)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    mcreg_binding b = tu_binding("carol", "ue-9", 0);
    expect_register_fails(reg, &ev, &b, 5000, MCREG_ERR_NOT_FOUND, "unknown user");
    b = tu_binding("alice", "ue-9", 0);
    expect_register_fails(reg, &ev, &b, 5000, MCREG_ERR_NOT_FOUND, "unknown ue");
    b = tu_binding("bob", "ue-1", 0); /* ue-1 belongs to alice */
    expect_register_fails(reg, &ev, &b, 5000, MCREG_ERR_NOT_FOUND, "other user's ue");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_deregister_removes_one_record)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 0);
    must_register(reg, "alice", "ue-2", 60, 0);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "ue-2", 10), MCREG_OK);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-2"));
    ck_assert_ptr_nonnull(mcreg_find(reg, "alice", "ue-1"));
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "ue-2", 20), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "ue-1", 30), MCREG_OK);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_deregister_unknown_is_not_found_and_changes_nothing)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    char *before = tu_state_dump(reg);
    ck_assert_int_eq(mcreg_deregister(reg, "carol", "ue-1", 10), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "ue-3", 10), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "nope", 10), MCREG_ERR_NOT_FOUND);
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(ev.count, 0);
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_deregister_user_removes_all_and_counts)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 0);
    must_register(reg, "alice", "ue-2", 60, 0);
    must_register(reg, "alice", "ue-3", 60, 0);
    must_register(reg, "bob", "ue-4", 60, 0);
    size_t removed = 999;
    ck_assert_int_eq(mcreg_deregister_user(reg, "alice", 10, &removed), MCREG_OK);
    ck_assert_uint_eq(removed, 3);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 0);
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_ptr_nonnull(mcreg_find(reg, "bob", "ue-4"));
    ck_assert_int_eq(mcreg_deregister_user(reg, "alice", 20, &removed), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister_user(reg, "bob", 20, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_deregister_user_unknown_is_not_found)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    char *before = tu_state_dump(reg);
    size_t removed = 0;
    ck_assert_int_eq(mcreg_deregister_user(reg, "carol", 10, &removed), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister_user(reg, "carol", 10, NULL), MCREG_ERR_NOT_FOUND);
    /* a user with only a per-user limit has no record */
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "dave", 3), MCREG_OK);
    ck_assert_int_eq(mcreg_deregister_user(reg, "dave", 10, NULL), MCREG_ERR_NOT_FOUND);
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(ev.count, 0);
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_deregister_user_keeps_per_user_limit)
{
    mcreg_registry *reg = new_reg();
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "alice", 2), MCREG_OK);
    must_register(reg, "alice", "ue-1", 60, 0);
    ck_assert_int_eq(mcreg_deregister_user(reg, "alice", 10, NULL), MCREG_OK);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "alice", &max), MCREG_OK);
    ck_assert_uint_eq(max, 2);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_new_ue_never_touches_users_other_records)
{
    mcreg_registry *reg = new_reg();
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    s.key = "mode";
    s.type = MCREG_VAL_INT;
    s.v.i = 1;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:one@h";
    b.call_id = "c-1";
    b.cseq = 5;
    b.settings = &s;
    b.n_settings = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);

    mcreg_setting s2;
    memset(&s2, 0, sizeof(s2));
    s2.key = "mode";
    s2.type = MCREG_VAL_INT;
    s2.v.i = 2;
    b = tu_binding("alice", "ue-2", 300);
    b.contact = "sip:two@h";
    b.call_id = "c-1"; /* same Call-ID string, different UE */
    b.cseq = 1;
    b.settings = &s2;
    b.n_settings = 1;
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_CREATED);

    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_contact(r), "sip:one@h");
    ck_assert_str_eq(mcreg_record_call_id(r), "c-1");
    ck_assert_uint_eq(mcreg_record_cseq(r), 5);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 1000);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 61000);
    ck_assert_uint_eq(mcreg_record_setting_count(r), 1);
    ck_assert_int_eq(mcreg_record_setting_at(r, 0)->v.i, 1);
    r = mcreg_find(reg, "alice", "ue-2");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_contact(r), "sip:two@h");
    ck_assert_int_eq(mcreg_record_setting_at(r, 0)->v.i, 2);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 2);
    mcreg_registry_free(reg);
}
END_TEST

/* ---- queries -------------------------------------------------------------- */

START_TEST(test_find_and_find_ue)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 0);
    must_register(reg, "bob", "ue-2", 60, 0);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_eq(mcreg_find_ue(reg, "ue-1"), r);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "ue-2")), "bob");
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-2"));
    ck_assert_ptr_null(mcreg_find(reg, "bob", "ue-1"));
    ck_assert_ptr_null(mcreg_find(reg, "carol", "ue-1"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "ue-3"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "alice"));
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_find_with_invalid_input_is_not_found)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", 60, 0);
    ck_assert_ptr_null(mcreg_find(NULL, "alice", "ue-1"));
    ck_assert_ptr_null(mcreg_find(reg, NULL, "ue-1"));
    ck_assert_ptr_null(mcreg_find(reg, "alice", NULL));
    ck_assert_ptr_null(mcreg_find(reg, "", "ue-1"));
    ck_assert_ptr_null(mcreg_find(reg, "alice", ""));
    ck_assert_ptr_null(mcreg_find(reg, "\xFF", "ue-1"));
    ck_assert_ptr_null(mcreg_find_ue(NULL, "ue-1"));
    ck_assert_ptr_null(mcreg_find_ue(reg, NULL));
    ck_assert_ptr_null(mcreg_find_ue(reg, ""));
    ck_assert_uint_eq(mcreg_user_ue_count(NULL, "alice"), 0);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, NULL), 0);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, ""), 0);
    ck_assert_uint_eq(mcreg_record_count(NULL), 0);
    ck_assert_uint_eq(mcreg_user_count(NULL), 0);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "alice", &max), MCREG_ERR_NOT_FOUND);
    /* Queries that return an int report invalid input as such. */
    ck_assert_int_eq(mcreg_user_max_ues(reg, NULL, &max), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "", &max), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "\xC0\x80", &max), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_user_max_ues(NULL, "alice", &max), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "alice", NULL), MCREG_ERR_MISUSE);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(NULL, &at), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_next_expiry(reg, NULL), MCREG_ERR_MISUSE);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_counts_track_users_and_records)
{
    mcreg_registry *reg = new_reg();
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    must_register(reg, "alice", "a1", 60, 0);
    must_register(reg, "alice", "a2", 60, 0);
    must_register(reg, "alice", "a3", 60, 0);
    must_register(reg, "bob", "b1", 60, 0);
    must_register(reg, "bob", "b2", 60, 0);
    must_register(reg, "carol", "c1", 60, 0);
    ck_assert_uint_eq(mcreg_record_count(reg), 6);
    ck_assert_uint_eq(mcreg_user_count(reg), 3);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 3);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "bob"), 2);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "carol"), 1);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "dave"), 0);
    /* a refresh changes no count */
    mcreg_binding b = tu_binding("alice", "a1", 90);
    ck_assert_int_eq(mcreg_register(reg, &b, 5, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 6);
    ck_assert_uint_eq(mcreg_user_count(reg), 3);
    ck_assert_int_eq(mcreg_deregister(reg, "carol", "c1", 10), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 5);
    ck_assert_uint_eq(mcreg_user_count(reg), 2);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_user_foreach_orders_by_registered_at)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "first", 60, 300);
    must_register(reg, "alice", "second", 60, 400);
    must_register(reg, "alice", "earliest", 60, 100); /* host clock went back */
    must_register(reg, "bob", "other", 60, 50);
    char *order = user_order(reg, "alice");
    ck_assert_str_eq(order, "earliest,first,second");
    free(order);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_user_foreach_breaks_ties_by_ue_id_bytes)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "b", 60, 100);
    must_register(reg, "alice", "\xC3\xA9", 60, 100); /* 0xC3 sorts after ASCII */
    must_register(reg, "alice", "ab", 60, 100);
    must_register(reg, "alice", "B", 60, 100);
    must_register(reg, "alice", "a", 60, 100);
    must_register(reg, "alice", "zz", 60, 99);
    char *order = user_order(reg, "alice");
    ck_assert_str_eq(order, "zz,B,a,ab,b,\xC3\xA9");
    free(order);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_refresh_keeps_place_in_order)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "x", 60, 100);
    must_register(reg, "alice", "y", 60, 200);
    mcreg_binding b = tu_binding("alice", "x", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 900, NULL), MCREG_OK);
    char *order = user_order(reg, "alice");
    ck_assert_str_eq(order, "x,y");
    free(order);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_foreach_orders_by_registered_at_then_ue_id)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "bob", "ue-5", 60, 200);
    must_register(reg, "alice", "ue-9", 60, 100);
    must_register(reg, "carol", "ue-1", 60, 300);
    must_register(reg, "alice", "ue-2", 60, 200);
    must_register(reg, "dave", "ue-0", 60, 50); /* clock went back */
    char *order = global_order(reg);
    ck_assert_str_eq(order, "dave/ue-0,alice/ue-9,alice/ue-2,bob/ue-5,carol/ue-1");
    free(order);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_foreach_breaks_ue_ties_by_user_id)
{
    mcreg_registry *reg = new_reg_shared_ue();
    must_register(reg, "zed", "ue-1", 60, 100);
    must_register(reg, "amy", "ue-1", 60, 100);
    must_register(reg, "Max", "ue-1", 60, 100);
    must_register(reg, "bob", "ue-0", 60, 100);
    char *order = global_order(reg);
    ck_assert_str_eq(order, "bob/ue-0,Max/ue-1,amy/ue-1,zed/ue-1");
    free(order);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_foreach_empty_registry_visits_nothing)
{
    mcreg_registry *reg = new_reg();
    stop_ctx s = {0, 1, 5};
    ck_assert_int_eq(mcreg_foreach(reg, stop_visitor, &s), MCREG_OK);
    ck_assert_int_eq(s.seen, 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_foreach_returns_visitor_stop_value)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "a", 60, 1);
    must_register(reg, "bob", "b", 60, 2);
    must_register(reg, "carol", "c", 60, 3);
    stop_ctx s = {0, 2, 42};
    ck_assert_int_eq(mcreg_foreach(reg, stop_visitor, &s), 42);
    ck_assert_int_eq(s.seen, 2);
    stop_ctx all = {0, 0, 0};
    ck_assert_int_eq(mcreg_foreach(reg, stop_visitor, &all), MCREG_OK);
    ck_assert_int_eq(all.seen, 3);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_user_foreach_returns_visitor_stop_value)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "a", 60, 1);
    must_register(reg, "alice", "b", 60, 2);
    must_register(reg, "alice", "c", 60, 3);
    stop_ctx s = {0, 1, 3};
    ck_assert_int_eq(mcreg_user_foreach(reg, "alice", stop_visitor, &s), 3);
    ck_assert_int_eq(s.seen, 1);
    stop_ctx all = {0, 0, 0};
    ck_assert_int_eq(mcreg_user_foreach(reg, "alice", stop_visitor, &all), MCREG_OK);
    ck_assert_int_eq(all.seen, 3);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_user_foreach_unknown_user_is_not_found)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "a", 60, 1);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "limited", 2), MCREG_OK);
    stop_ctx s = {0, 0, 0};
    ck_assert_int_eq(mcreg_user_foreach(reg, "bob", stop_visitor, &s), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_foreach(reg, "limited", stop_visitor, &s),
                     MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "a", 2), MCREG_OK);
    ck_assert_int_eq(mcreg_user_foreach(reg, "alice", stop_visitor, &s), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(s.seen, 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_record_accessors_are_null_safe)
{
    ck_assert_ptr_null(mcreg_record_user_id(NULL));
    ck_assert_ptr_null(mcreg_record_ue_id(NULL));
    ck_assert_ptr_null(mcreg_record_contact(NULL));
    ck_assert_ptr_null(mcreg_record_call_id(NULL));
    ck_assert_uint_eq(mcreg_record_cseq(NULL), 0);
    ck_assert_uint_eq(mcreg_record_registered_at(NULL), 0);
    ck_assert_uint_eq(mcreg_record_expires_at(NULL), 0);
    ck_assert_uint_eq(mcreg_record_setting_count(NULL), 0);
    ck_assert_ptr_null(mcreg_record_setting_at(NULL, 0));
    ck_assert_ptr_null(mcreg_record_setting_find(NULL, "k"));

    mcreg_registry *reg = new_reg();
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    s.key = "k";
    s.type = MCREG_VAL_INT;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = &s;
    b.n_settings = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_ptr_null(mcreg_record_setting_find(r, NULL));
    ck_assert_ptr_null(mcreg_record_setting_find(r, ""));
    ck_assert_ptr_nonnull(mcreg_record_setting_find(r, "k"));
    mcreg_registry_free(reg);
}
END_TEST

/* ---- settings ------------------------------------------------------------- */

START_TEST(test_int_settings_round_trip)
{
    mcreg_registry *reg = new_reg();
    const int64_t values[] = {INT64_MIN, INT64_MAX, -1, 0, 1, -123456789012345};
    const char *keys[] = {"min", "max", "minus-one", "zero", "one", "negative"};
    mcreg_setting s[6];
    memset(s, 0, sizeof(s));
    for (size_t i = 0; i < 6; i++) {
        s[i].key = keys[i];
        s[i].type = MCREG_VAL_INT;
        s[i].v.i = values[i];
    }
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = s;
    b.n_settings = 6;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_uint_eq(mcreg_record_setting_count(r), 6);
    for (size_t i = 0; i < 6; i++) {
        const mcreg_setting *got = mcreg_record_setting_at(r, i);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got->key, keys[i]);
        ck_assert_int_eq(got->type, MCREG_VAL_INT);
        ck_assert_msg(got->v.i == values[i], "setting %zu", i);
    }
    ck_assert_ptr_null(mcreg_record_setting_at(r, 6));
    ck_assert_ptr_null(mcreg_record_setting_at(r, SIZE_MAX));
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_text_settings_round_trip_nul_terminated)
{
    mcreg_registry *reg = new_reg();
    const char *utf8 = "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x93\xBB";
    mcreg_setting s[4];
    memset(s, 0, sizeof(s));
    s[0].key = "ascii";
    s[0].type = MCREG_VAL_TEXT;
    s[0].v.text.ptr = "hello world";
    s[0].v.text.len = 5; /* only "hello" */
    s[1].key = "empty";
    s[1].type = MCREG_VAL_TEXT;
    s[1].v.text.ptr = "";
    s[1].v.text.len = 0;
    s[2].key = "null-empty";
    s[2].type = MCREG_VAL_TEXT;
    s[2].v.text.ptr = NULL;
    s[2].v.text.len = 0;
    s[3].key = "\xC3\xA9t\xC3\xA9";
    s[3].type = MCREG_VAL_TEXT;
    s[3].v.text.ptr = utf8;
    s[3].v.text.len = strlen(utf8);
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = s;
    b.n_settings = 4;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");

    const mcreg_setting *got = mcreg_record_setting_find(r, "ascii");
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->type, MCREG_VAL_TEXT);
    ck_assert_uint_eq(got->v.text.len, 5);
    ck_assert_str_eq(got->v.text.ptr, "hello"); /* NUL-terminated in the record */

    got = mcreg_record_setting_find(r, "empty");
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->v.text.len, 0);
    ck_assert_ptr_nonnull(got->v.text.ptr);
    ck_assert_str_eq(got->v.text.ptr, "");

    got = mcreg_record_setting_find(r, "null-empty");
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->type, MCREG_VAL_TEXT);
    ck_assert_uint_eq(got->v.text.len, 0);

    got = mcreg_record_setting_find(r, "\xC3\xA9t\xC3\xA9");
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->v.text.len, strlen(utf8));
    ck_assert_str_eq(got->v.text.ptr, utf8);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_bytes_settings_keep_zero_bytes)
{
    mcreg_registry *reg = new_reg();
    static const uint8_t raw[] = {0x00, 0xFF, 0x00, 0x80, 0x00};
    mcreg_setting s[3];
    memset(s, 0, sizeof(s));
    s[0].key = "raw";
    s[0].type = MCREG_VAL_BYTES;
    s[0].v.bytes.ptr = raw;
    s[0].v.bytes.len = sizeof(raw);
    s[1].key = "empty";
    s[1].type = MCREG_VAL_BYTES;
    s[1].v.bytes.ptr = raw;
    s[1].v.bytes.len = 0;
    s[2].key = "null-empty";
    s[2].type = MCREG_VAL_BYTES;
    s[2].v.bytes.ptr = NULL;
    s[2].v.bytes.len = 0;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = s;
    b.n_settings = 3;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    const mcreg_setting *got = mcreg_record_setting_find(r, "raw");
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->type, MCREG_VAL_BYTES);
    ck_assert_uint_eq(got->v.bytes.len, sizeof(raw));
    ck_assert_ptr_ne(got->v.bytes.ptr, raw);
    ck_assert_int_eq(memcmp(got->v.bytes.ptr, raw, sizeof(raw)), 0);
    got = mcreg_record_setting_find(r, "empty");
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->type, MCREG_VAL_BYTES);
    ck_assert_uint_eq(got->v.bytes.len, 0);
    got = mcreg_record_setting_find(r, "null-empty");
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->v.bytes.len, 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_bool_settings_normalised_to_one)
{
    mcreg_registry *reg = new_reg();
    const int in[] = {0, 1, 2, -1, INT_MAX, INT_MIN};
    const int want[] = {0, 1, 1, 1, 1, 1};
    const char *keys[] = {"b0", "b1", "b2", "bm1", "bmax", "bmin"};
    mcreg_setting s[6];
    memset(s, 0, sizeof(s));
    for (size_t i = 0; i < 6; i++) {
        s[i].key = keys[i];
        s[i].type = MCREG_VAL_BOOL;
        s[i].v.b = in[i];
    }
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = s;
    b.n_settings = 6;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    for (size_t i = 0; i < 6; i++) {
        const mcreg_setting *got = mcreg_record_setting_at(r, i);
        ck_assert_ptr_nonnull(got);
        ck_assert_int_eq(got->type, MCREG_VAL_BOOL);
        ck_assert_msg(got->v.b == want[i], "%s: got %d", keys[i], got->v.b);
    }
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_settings_keep_binding_order)
{
    mcreg_registry *reg = new_reg();
    const char *keys[] = {"zulu", "alpha", "mike", "Bravo", "\xE2\x82\xAC"};
    mcreg_setting s[5];
    memset(s, 0, sizeof(s));
    for (size_t i = 0; i < 5; i++) {
        s[i].key = keys[i];
        s[i].type = MCREG_VAL_INT;
        s[i].v.i = (int64_t)i * 10;
    }
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = s;
    b.n_settings = 5;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_uint_eq(mcreg_record_setting_count(r), 5);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_str_eq(mcreg_record_setting_at(r, i)->key, keys[i]);
        const mcreg_setting *f = mcreg_record_setting_find(r, keys[i]);
        ck_assert_ptr_eq(f, mcreg_record_setting_at(r, i));
        ck_assert_int_eq(f->v.i, (int64_t)i * 10);
    }
    ck_assert_ptr_null(mcreg_record_setting_at(r, 5));
    ck_assert_ptr_null(mcreg_record_setting_find(r, "missing"));
    ck_assert_ptr_null(mcreg_record_setting_find(r, "Alpha"));
    mcreg_registry_free(reg);
}
END_TEST

/* A refresh that resends what is stored changes the CSeq and the expiry
 * without allocating; any difference in contact, Call-ID or settings
 * (value, type, order, count) is stored. */
START_TEST(test_refresh_of_the_same_payload_allocates_nothing)
{
    tu_alloc counts = {0};
    mcreg_allocator al = tu_allocator(&counts);
    mcreg_options *o;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_allocator(o, &al);
    mcreg_registry *reg;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);

    mcreg_setting s[3];
    memset(s, 0, sizeof(s));
    s[0].key = "a";
    s[0].type = MCREG_VAL_INT;
    s[0].v.i = 1;
    s[1].key = "b";
    s[1].type = MCREG_VAL_BOOL;
    s[1].v.b = 1;
    s[2].key = "c";
    s[2].type = MCREG_VAL_TEXT;
    s[2].v.text.ptr = "xy";
    s[2].v.text.len = 2;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:alice@192.0.2.1";
    b.call_id = "call-1";
    b.cseq = 1;
    b.settings = s;
    b.n_settings = 3;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);

    size_t calls = counts.calls;
    b.cseq = 2;
    b.expires_s = 120;
    s[1].v.b = 7; /* true as well */
    mcreg_outcome out;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_uint_eq(counts.calls, calls);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_uint_eq(mcreg_record_cseq(r), 2);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 121000);
    b.contact = NULL; /* keeps the stored one: still the same */
    b.cseq = 3;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_uint_eq(counts.calls, calls);
    ck_assert_str_eq(mcreg_record_contact(mcreg_find(reg, "alice", "ue-1")), "sip:alice@192.0.2.1");

    /* Each difference alone is stored (and allocates a new block). */
    b.cseq = 4;
    s[2].v.text.len = 1; /* "x" */
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_uint_gt(counts.calls, calls);
    r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_uint_eq(mcreg_record_setting_at(r, 2)->v.text.len, 1);
    b.cseq = 5;
    s[0].v.i = 2;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_record_setting_at(mcreg_find(reg, "alice", "ue-1"), 0)->v.i, 2);
    b.cseq = 6;
    s[1].v.b = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_record_setting_at(mcreg_find(reg, "alice", "ue-1"), 1)->v.b, 0);
    b.cseq = 7;
    b.n_settings = 2;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_setting_count(mcreg_find(reg, "alice", "ue-1")), 2);
    b.cseq = 8;
    b.contact = "sip:alice@192.0.2.2";
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_str_eq(mcreg_record_contact(mcreg_find(reg, "alice", "ue-1")), "sip:alice@192.0.2.2");
    b.call_id = "call-2";
    b.cseq = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_str_eq(mcreg_record_call_id(mcreg_find(reg, "alice", "ue-1")), "call-2");
    b.call_id = NULL;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_ptr_null(mcreg_record_call_id(mcreg_find(reg, "alice", "ue-1")));
    mcreg_registry_free(reg);
    ck_assert_uint_eq(counts.live, 0);
}
END_TEST

START_TEST(test_refresh_replaces_settings_as_a_whole)
{
    mcreg_registry *reg = new_reg();
    mcreg_setting s[3];
    memset(s, 0, sizeof(s));
    s[0].key = "a";
    s[0].type = MCREG_VAL_INT;
    s[0].v.i = 1;
    s[1].key = "b";
    s[1].type = MCREG_VAL_BOOL;
    s[1].v.b = 1;
    s[2].key = "c";
    s[2].type = MCREG_VAL_TEXT;
    s[2].v.text.ptr = "x";
    s[2].v.text.len = 1;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = s;
    b.n_settings = 3;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);

    mcreg_setting t[2];
    memset(t, 0, sizeof(t));
    t[0].key = "c";
    t[0].type = MCREG_VAL_INT;
    t[0].v.i = -5;
    t[1].key = "d";
    t[1].type = MCREG_VAL_BYTES;
    t[1].v.bytes.ptr = (const uint8_t *)"\x01";
    t[1].v.bytes.len = 1;
    b.settings = t;
    b.n_settings = 2;
    ck_assert_int_eq(mcreg_register(reg, &b, 10, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_uint_eq(mcreg_record_setting_count(r), 2);
    ck_assert_str_eq(mcreg_record_setting_at(r, 0)->key, "c");
    ck_assert_int_eq(mcreg_record_setting_at(r, 0)->type, MCREG_VAL_INT);
    ck_assert_int_eq(mcreg_record_setting_at(r, 0)->v.i, -5);
    ck_assert_str_eq(mcreg_record_setting_at(r, 1)->key, "d");
    ck_assert_ptr_null(mcreg_record_setting_find(r, "a"));
    ck_assert_ptr_null(mcreg_record_setting_find(r, "b"));

    /* a refresh without settings leaves none */
    b.settings = NULL;
    b.n_settings = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 20, NULL), MCREG_OK);
    r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_uint_eq(mcreg_record_setting_count(r), 0);
    ck_assert_ptr_null(mcreg_record_setting_at(r, 0));
    ck_assert_ptr_null(mcreg_record_setting_find(r, "c"));
    mcreg_registry_free(reg);
}
END_TEST

/* ---- ordering (Call-ID / CSeq) ------------------------------------------ */

static mcreg_registry *with_call(tu_events *ev, const char *call_id, uint32_t cseq)
{
    mcreg_registry *reg = new_reg_ev(ev);
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:alice@h";
    b.call_id = call_id;
    b.cseq = cseq;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    tu_events_reset(ev);
    return reg;
}

START_TEST(test_same_call_id_equal_cseq_is_stale)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    mcreg_binding b = tu_binding("alice", "ue-1", 300);
    b.contact = "sip:changed@h";
    b.call_id = "call-1";
    b.cseq = 10;
    expect_register_fails(reg, &ev, &b, 2000, MCREG_ERR_STALE, "equal cseq");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_same_call_id_lower_cseq_is_stale)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    mcreg_binding b = tu_binding("alice", "ue-1", 300);
    b.call_id = "call-1";
    b.cseq = 9;
    expect_register_fails(reg, &ev, &b, 2000, MCREG_ERR_STALE, "lower cseq");
    b.cseq = 0;
    expect_register_fails(reg, &ev, &b, 2000, MCREG_ERR_STALE, "zero cseq");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_stale_expires_zero_keeps_record)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    mcreg_binding b = tu_binding("alice", "ue-1", 0);
    b.call_id = "call-1";
    b.cseq = 10;
    expect_register_fails(reg, &ev, &b, 2000, MCREG_ERR_STALE, "remove, equal cseq");
    b.cseq = 3;
    expect_register_fails(reg, &ev, &b, 2000, MCREG_ERR_STALE, "remove, lower cseq");
    ck_assert_ptr_nonnull(mcreg_find(reg, "alice", "ue-1"));
    b.cseq = 11;
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REMOVED);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-1"));
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_greater_cseq_passes)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    mcreg_binding b = tu_binding("alice", "ue-1", 300);
    b.call_id = "call-1";
    b.cseq = 11;
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_uint_eq(mcreg_record_cseq(mcreg_find(reg, "alice", "ue-1")), 11);
    b.cseq = UINT32_MAX;
    ck_assert_int_eq(mcreg_register(reg, &b, 3000, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_cseq(mcreg_find(reg, "alice", "ue-1")), UINT32_MAX);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_different_call_id_passes_with_lower_cseq)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    mcreg_binding b = tu_binding("alice", "ue-1", 300);
    b.call_id = "call-2";
    b.cseq = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_str_eq(mcreg_record_call_id(r), "call-2");
    ck_assert_uint_eq(mcreg_record_cseq(r), 1);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 302000);
    /* Call-ID comparison is exact: a prefix or case change is another id */
    b.call_id = "call-2x";
    b.cseq = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 2100, NULL), MCREG_OK);
    b.call_id = "CALL-2X";
    b.cseq = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 2200, NULL), MCREG_OK);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_null_call_id_skips_ordering_check)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    mcreg_binding b = tu_binding("alice", "ue-1", 300);
    b.call_id = NULL;
    b.cseq = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, NULL), MCREG_OK);
    /* the stored call-id is now none: any call-id and cseq pass */
    b.call_id = "call-1";
    b.cseq = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 3000, NULL), MCREG_OK);
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-1");
    ck_assert_str_eq(mcreg_record_call_id(r), "call-1");
    ck_assert_uint_eq(mcreg_record_cseq(r), 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_null_call_id_removal_skips_ordering_check)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    mcreg_binding b = tu_binding("alice", "ue-1", 0);
    b.cseq = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, NULL), MCREG_OK);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-1"));
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_call_id_check_is_per_record)
{
    tu_events ev;
    mcreg_registry *reg = with_call(&ev, "call-1", 10);
    /* the same Call-ID at another UE is a new record: no check */
    mcreg_binding b = tu_binding("alice", "ue-2", 60);
    b.call_id = "call-1";
    b.cseq = 1;
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(reg, &b, 2000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_CREATED);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- expiry arithmetic ------------------------------------------------------ */

START_TEST(test_expires_at_saturates)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "near-max", 5, UINT64_MAX - 1000);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "near-max")),
                      UINT64_MAX);
    must_register(reg, "alice", "at-max", 1, UINT64_MAX);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "at-max")), UINT64_MAX);
    must_register(reg, "alice", "huge", UINT32_MAX, UINT64_MAX - 1);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "huge")), UINT64_MAX);
    /* exactly reaching UINT64_MAX is no overflow */
    must_register(reg, "alice", "exact", 1, UINT64_MAX - 1000);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "exact")), UINT64_MAX);
    must_register(reg, "alice", "one-short", 1, UINT64_MAX - 1001);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "one-short")),
                      UINT64_MAX - 1);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_expires_at_uses_full_32_bit_range)
{
    mcreg_registry *reg = new_reg();
    must_register(reg, "alice", "ue-1", UINT32_MAX, 1000);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "ue-1")),
                      UINT64_C(1000) + UINT64_C(1000) * UINT32_MAX);
    mcreg_registry_free(reg);
}
END_TEST

/* ---- validation ------------------------------------------------------------- */

START_TEST(test_null_registry_and_binding_are_misuse)
{
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    mcreg_outcome out = SENTINEL_OUTCOME;
    ck_assert_int_eq(mcreg_register(NULL, &b, 0, &out), MCREG_ERR_MISUSE);
    ck_assert_int_eq(out, SENTINEL_OUTCOME);
    ck_assert_int_eq(mcreg_deregister(NULL, "alice", "ue-1", 0), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_deregister_user(NULL, "alice", 0, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_expire(NULL, 0, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_set_user_max_ues(NULL, "alice", 1), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_clear_user_max_ues(NULL, "alice"), MCREG_ERR_MISUSE);

    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    expect_register_fails(reg, &ev, NULL, 0, MCREG_ERR_MISUSE, "NULL binding");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_null_or_empty_ids_are_invalid)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    mcreg_binding b = tu_binding(NULL, "ue-9", 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "NULL user");
    b = tu_binding("alice", NULL, 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "NULL ue");
    b = tu_binding("", "ue-9", 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "empty user");
    b = tu_binding("alice", "", 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "empty ue");
    b = tu_binding("", "ue-1", 0);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "empty user, remove");
    b = tu_binding(NULL, NULL, 0);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "NULL ids, remove");

    char *before = tu_state_dump(reg);
    ck_assert_int_eq(mcreg_deregister(reg, NULL, "ue-1", 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", NULL, 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_deregister(reg, "", "ue-1", 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "", 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_deregister_user(reg, NULL, 0, NULL), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_deregister_user(reg, "", 0, NULL), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, NULL, 1), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "", 1), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, NULL), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, ""), MCREG_ERR_INVALID);
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(ev.count, 0);
    free(before);
    free(after);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_id_length_limit_is_1024_bytes)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    char *id1024 = repeat('u', 1024);
    char *id1025 = repeat('u', 1025);
    char *ue1024 = repeat('e', 1024);
    char *ue1025 = repeat('e', 1025);
    /* 512 two-byte characters = 1024 bytes; one more ASCII byte = 1025 */
    char *wide1024 = repeat_str("", "\xC3\xA9", 512);
    char *wide1025 = repeat_str("x", "\xC3\xA9", 512);
    char *emoji1024 = repeat_str("", "\xF0\x9F\x98\x80", 256);

    mcreg_binding b = tu_binding(id1025, "ue-9", 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "user 1025");
    b = tu_binding("alice", ue1025, 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "ue 1025");
    b = tu_binding(wide1025, "ue-9", 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "user 1025 multibyte");
    b = tu_binding("alice", wide1025, 60);
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "ue 1025 multibyte");

    b = tu_binding(id1024, ue1024, 60);
    expect_register_ok(reg, &b, 0, "user and ue 1024");
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find(reg, id1024, ue1024)), id1024);
    b = tu_binding(wide1024, emoji1024, 60);
    expect_register_ok(reg, &b, 0, "multibyte 1024");

    /* the other entry points take the same ids */
    ck_assert_int_eq(mcreg_deregister(reg, id1025, ue1024, 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_deregister(reg, id1024, ue1025, 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_deregister_user(reg, id1025, 0, NULL), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, id1025, 1), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, id1024, 1), MCREG_OK);
    ck_assert_int_eq(mcreg_deregister(reg, id1024, ue1024, 0), MCREG_OK);
    ck_assert_int_eq(mcreg_deregister_user(reg, wide1024, 0, NULL), MCREG_OK);

    free(id1024);
    free(id1025);
    free(ue1024);
    free(ue1025);
    free(wide1024);
    free(wide1025);
    free(emoji1024);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_invalid_utf8_rejected_in_ids)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    for (size_t i = 0; i < N_BAD_UTF8; i++) {
        char what[64];
        mcreg_binding b = tu_binding(bad_utf8[i], "ue-9", 60);
        snprintf(what, sizeof(what), "user bad_utf8[%zu]", i);
        expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, what);
        b = tu_binding("alice", bad_utf8[i], 60);
        snprintf(what, sizeof(what), "ue bad_utf8[%zu]", i);
        expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, what);
        ck_assert_msg(mcreg_deregister(reg, bad_utf8[i], "ue-1", 0) == MCREG_ERR_INVALID,
                      "deregister user bad_utf8[%zu]", i);
        ck_assert_msg(mcreg_deregister(reg, "alice", bad_utf8[i], 0) == MCREG_ERR_INVALID,
                      "deregister ue bad_utf8[%zu]", i);
        ck_assert_msg(mcreg_deregister_user(reg, bad_utf8[i], 0, NULL) == MCREG_ERR_INVALID,
                      "deregister_user bad_utf8[%zu]", i);
        ck_assert_msg(mcreg_set_user_max_ues(reg, bad_utf8[i], 1) == MCREG_ERR_INVALID,
                      "set_user_max_ues bad_utf8[%zu]", i);
        ck_assert_msg(mcreg_find(reg, bad_utf8[i], "ue-1") == NULL, "find bad_utf8[%zu]", i);
        ck_assert_msg(mcreg_find_ue(reg, bad_utf8[i]) == NULL, "find_ue bad_utf8[%zu]", i);
    }
    ck_assert_uint_eq(ev.count, 0);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_invalid_utf8_rejected_in_contact_and_call_id)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    for (size_t i = 0; i < N_BAD_UTF8; i++) {
        char what[64];
        /* on a new record and on a refresh of an existing one */
        const char *ues[] = {"ue-9", "ue-1"};
        for (size_t u = 0; u < 2; u++) {
            mcreg_binding b = tu_binding("alice", ues[u], 60);
            b.contact = bad_utf8[i];
            snprintf(what, sizeof(what), "contact bad_utf8[%zu] at %s", i, ues[u]);
            expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, what);
            b = tu_binding("alice", ues[u], 60);
            b.call_id = bad_utf8[i];
            b.cseq = 1000;
            snprintf(what, sizeof(what), "call_id bad_utf8[%zu] at %s", i, ues[u]);
            expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, what);
        }
    }
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_invalid_utf8_rejected_in_setting_keys_and_text)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    for (size_t i = 0; i < N_BAD_UTF8; i++) {
        char what[64];
        const char *ues[] = {"ue-9", "ue-1"};
        for (size_t u = 0; u < 2; u++) {
            mcreg_setting s[2];
            memset(s, 0, sizeof(s));
            s[0].key = "fine";
            s[0].type = MCREG_VAL_INT;
            s[1].key = bad_utf8[i];
            s[1].type = MCREG_VAL_INT;
            mcreg_binding b = tu_binding("alice", ues[u], 60);
            b.settings = s;
            b.n_settings = 2;
            snprintf(what, sizeof(what), "key bad_utf8[%zu] at %s", i, ues[u]);
            expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, what);

            s[1].key = "text";
            s[1].type = MCREG_VAL_TEXT;
            s[1].v.text.ptr = bad_utf8[i];
            s[1].v.text.len = strlen(bad_utf8[i]);
            snprintf(what, sizeof(what), "text bad_utf8[%zu] at %s", i, ues[u]);
            expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, what);

            /* the same bytes are fine as a BYTES value */
            s[1].type = MCREG_VAL_BYTES;
            s[1].v.bytes.ptr = (const uint8_t *)bad_utf8[i];
            s[1].v.bytes.len = strlen(bad_utf8[i]);
            snprintf(what, sizeof(what), "bytes bad_utf8[%zu] at %s", i, ues[u]);
            expect_register_ok(reg, &b, 0, what);
            if (u == 0)
                ck_assert_int_eq(mcreg_deregister(reg, "alice", "ue-9", 0), MCREG_OK);
        }
    }
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_text_length_counts_only_len_bytes)
{
    /* the text value is ptr[0..len): an invalid byte after len is ignored */
    mcreg_registry *reg = new_reg();
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    s.key = "t";
    s.type = MCREG_VAL_TEXT;
    s.v.text.ptr = "ok\xFF";
    s.v.text.len = 2;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = &s;
    b.n_settings = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    const mcreg_setting *got = mcreg_record_setting_find(mcreg_find(reg, "alice", "ue-1"), "t");
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->v.text.len, 2);
    ck_assert_str_eq(got->v.text.ptr, "ok");
    /* and a text cut in the middle of a character is invalid */
    s.v.text.ptr = "\xC3\xA9";
    s.v.text.len = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_ERR_INVALID);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_valid_utf8_accepted_everywhere)
{
    mcreg_registry *reg = new_reg();
    for (size_t i = 0; i < N_GOOD_UTF8; i++) {
        char what[64];
        const char *g = good_utf8[i];
        mcreg_setting s;
        memset(&s, 0, sizeof(s));
        s.key = g;
        s.type = MCREG_VAL_TEXT;
        s.v.text.ptr = g;
        s.v.text.len = strlen(g);
        mcreg_binding b = tu_binding(g, g, 60);
        b.contact = g;
        b.call_id = g;
        b.settings = &s;
        b.n_settings = 1;
        snprintf(what, sizeof(what), "good_utf8[%zu]", i);
        expect_register_ok(reg, &b, 0, what);
        const mcreg_record *r = mcreg_find(reg, g, g);
        ck_assert_str_eq(mcreg_record_user_id(r), g);
        ck_assert_str_eq(mcreg_record_ue_id(r), g);
        ck_assert_str_eq(mcreg_record_contact(r), g);
        ck_assert_str_eq(mcreg_record_call_id(r), g);
        ck_assert_str_eq(mcreg_record_setting_find(r, g)->v.text.ptr, g);
    }
    ck_assert_uint_eq(mcreg_record_count(reg), N_GOOD_UTF8);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_contact_and_call_id_length_limit_is_2048)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    char *s2048 = repeat('c', 2048);
    char *s2049 = repeat('c', 2049);
    mcreg_binding b = tu_binding("alice", "ue-9", 60);
    b.contact = s2049;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "contact 2049");
    b = tu_binding("alice", "ue-9", 60);
    b.call_id = s2049;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "call_id 2049");
    b = tu_binding("alice", "ue-1", 60);
    b.contact = s2049;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "refresh contact 2049");

    b = tu_binding("alice", "ue-9", 60);
    b.contact = s2048;
    b.call_id = s2048;
    expect_register_ok(reg, &b, 0, "contact and call_id 2048");
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-9");
    ck_assert_str_eq(mcreg_record_contact(r), s2048);
    ck_assert_str_eq(mcreg_record_call_id(r), s2048);
    free(s2048);
    free(s2049);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_empty_contact_or_call_id_is_invalid)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    const char *ues[] = {"ue-9", "ue-1"};
    for (size_t u = 0; u < 2; u++) {
        mcreg_binding b = tu_binding("alice", ues[u], 60);
        b.contact = "";
        expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "empty contact");
        b = tu_binding("alice", ues[u], 60);
        b.call_id = "";
        b.cseq = 1000;
        expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "empty call_id");
    }
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* n settings with keys k00, k01, ... */
static mcreg_setting *numbered_settings(size_t n, char keys[][24])
{
    mcreg_setting *s = calloc(n, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], 24, "k%02zu", i);
        s[i].key = keys[i];
        s[i].type = MCREG_VAL_INT;
        s[i].v.i = (int64_t)i;
    }
    return s;
}

START_TEST(test_setting_count_limit_is_64)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    char keys[65][24];
    mcreg_setting *s = numbered_settings(65, keys);
    mcreg_binding b = tu_binding("alice", "ue-9", 60);
    b.settings = s;
    b.n_settings = 65;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "65 settings");
    b.ue_id = "ue-1";
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "65 settings on refresh");
    b.ue_id = "ue-9";
    b.n_settings = 64;
    expect_register_ok(reg, &b, 0, "64 settings");
    const mcreg_record *r = mcreg_find(reg, "alice", "ue-9");
    ck_assert_uint_eq(mcreg_record_setting_count(r), 64);
    ck_assert_str_eq(mcreg_record_setting_at(r, 63)->key, "k63");
    ck_assert_int_eq(mcreg_record_setting_at(r, 63)->v.i, 63);
    ck_assert_ptr_null(mcreg_record_setting_at(r, 64));
    free(s);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_duplicate_setting_keys_are_invalid)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    char keys[10][24];
    mcreg_setting *s = numbered_settings(10, keys);
    mcreg_binding b = tu_binding("alice", "ue-9", 60);
    b.settings = s;
    b.n_settings = 10;
    s[7].key = "k02"; /* far apart */
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "duplicate far apart");
    s[7].key = keys[7];
    s[4].key = "k03"; /* adjacent */
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "duplicate adjacent");
    s[4].key = keys[4];
    s[9].type = MCREG_VAL_TEXT; /* same key, different type */
    s[9].key = "k00";
    s[9].v.text.ptr = "x";
    s[9].v.text.len = 1;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "duplicate different type");
    b.ue_id = "ue-1";
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "duplicate on refresh");
    free(s);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_null_or_empty_setting_key_is_invalid)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    s.type = MCREG_VAL_INT;
    mcreg_binding b = tu_binding("alice", "ue-9", 60);
    b.settings = &s;
    b.n_settings = 1;
    s.key = NULL;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "NULL key");
    s.key = "";
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "empty key");
    b.settings = NULL;
    b.n_settings = 1;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "NULL settings, n 1");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_setting_size_limit_is_4096_key_plus_value)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    char *text = repeat('t', 4096);
    char *key = repeat('k', 4097);
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    mcreg_binding b = tu_binding("alice", "ue-9", 60);
    b.settings = &s;
    b.n_settings = 1;

    s.key = "k";
    s.type = MCREG_VAL_TEXT;
    s.v.text.ptr = text;
    s.v.text.len = 4096; /* 1 + 4096 */
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "text 4097");
    s.type = MCREG_VAL_BYTES;
    s.v.bytes.ptr = (const uint8_t *)text;
    s.v.bytes.len = 4096;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "bytes 4097");
    s.key = "kk";
    s.v.bytes.len = 4095;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "key 2 + bytes 4095");
    s.key = key; /* 4097-byte key, int value */
    s.type = MCREG_VAL_INT;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "key 4097");

    s.key = "k";
    s.type = MCREG_VAL_TEXT;
    s.v.text.ptr = text;
    s.v.text.len = 4095; /* 1 + 4095 = 4096 */
    expect_register_ok(reg, &b, 0, "text 4096");
    ck_assert_uint_eq(
        mcreg_record_setting_find(mcreg_find(reg, "alice", "ue-9"), "k")->v.text.len, 4095);
    s.type = MCREG_VAL_BYTES;
    s.v.bytes.ptr = (const uint8_t *)text;
    s.v.bytes.len = 4095;
    expect_register_ok(reg, &b, 0, "bytes 4096");
    key[4096] = '\0'; /* 4096-byte key, int value: 4096 + 0 */
    s.key = key;
    s.type = MCREG_VAL_INT;
    expect_register_ok(reg, &b, 0, "key 4096");
    free(text);
    free(key);
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_many_settings_each_at_the_size_limit)
{
    /* the limit is per setting, not per binding */
    mcreg_registry *reg = new_reg();
    char *text = repeat('v', 4093);
    char keys[64][24];
    mcreg_setting *s = numbered_settings(64, keys);
    for (size_t i = 0; i < 64; i++) {
        s[i].type = MCREG_VAL_TEXT;
        s[i].v.text.ptr = text;
        s[i].v.text.len = 4093; /* 3-byte key + 4093 = 4096 */
    }
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.settings = s;
    b.n_settings = 64;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_setting_count(mcreg_find(reg, "alice", "ue-1")), 64);
    free(s);
    free(text);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_bad_value_type_is_invalid)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    s.key = "k";
    mcreg_binding b = tu_binding("alice", "ue-9", 60);
    b.settings = &s;
    b.n_settings = 1;
    s.type = (mcreg_value_type)4;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "type 4");
    s.type = (mcreg_value_type)99;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "type 99");
    b.ue_id = "ue-1";
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "type 99 on refresh");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_null_pointer_with_length_is_invalid)
{
    tu_events ev;
    mcreg_registry *reg = populated(&ev);
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    s.key = "k";
    mcreg_binding b = tu_binding("alice", "ue-9", 60);
    b.settings = &s;
    b.n_settings = 1;
    s.type = MCREG_VAL_TEXT;
    s.v.text.ptr = NULL;
    s.v.text.len = 1;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "text NULL len 1");
    s.type = MCREG_VAL_BYTES;
    s.v.bytes.ptr = NULL;
    s.v.bytes.len = 3;
    expect_register_fails(reg, &ev, &b, 0, MCREG_ERR_INVALID, "bytes NULL len 3");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- names --------------------------------------------------------------- */

START_TEST(test_strerror_names_every_code)
{
    const int codes[] = {MCREG_OK,          MCREG_ERR_INVALID, MCREG_ERR_NOMEM,
                         MCREG_ERR_NOT_FOUND, MCREG_ERR_LIMIT,   MCREG_ERR_STALE,
                         MCREG_ERR_BUSY,    MCREG_ERR_FORMAT,  MCREG_ERR_VERSION,
                         MCREG_ERR_MISUSE,  MCREG_ERR_CLOCK};
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        const char *s = mcreg_strerror(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        ck_assert_msg(strcmp(s, "unknown error") != 0, "code %d unnamed", codes[i]);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(s, mcreg_strerror(codes[j])) != 0, "codes %d and %d share %s",
                          codes[i], codes[j], s);
    }
    const int unknown[] = {1, 2, -11, -100, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        ck_assert_str_eq(mcreg_strerror(unknown[i]), "unknown error");
}
END_TEST

START_TEST(test_event_names)
{
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_CREATED), "CREATED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_REFRESHED), "REFRESHED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_SHORTENED), "SHORTENED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_DEREGISTERED), "DEREGISTERED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_EXPIRED), "EXPIRED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_EVICTED), "EVICTED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_REPLACED), "REPLACED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_REJECTED), "REJECTED");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_NOTIFY_LOGON), "NOTIFY_LOGON");
    ck_assert_str_eq(mcreg_event_name(MCREG_EV_NOTIFY_LOGOFF), "NOTIFY_LOGOFF");
    ck_assert_str_eq(mcreg_event_name((mcreg_event_type)10), "UNKNOWN");
    ck_assert_str_eq(mcreg_event_name((mcreg_event_type)999), "UNKNOWN");
}
END_TEST

START_TEST(test_version_matches_header)
{
    ck_assert_ptr_nonnull(mcreg_version());
    ck_assert_str_eq(mcreg_version(), MCREG_VERSION_STRING);
    char expect[32];
    snprintf(expect, sizeof(expect), "%d.%d.%d", MCREG_VERSION_MAJOR, MCREG_VERSION_MINOR,
             MCREG_VERSION_PATCH);
    ck_assert_str_eq(MCREG_VERSION_STRING, expect);
}
END_TEST

/* ---- options and lifecycle ------------------------------------------------ */

START_TEST(test_null_options_give_defaults)
{
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, NULL), MCREG_OK);
    ck_assert_ptr_nonnull(reg);
    /* unlimited UEs per user */
    for (int i = 0; i < 100; i++) {
        char ue[16];
        snprintf(ue, sizeof(ue), "ue-%d", i);
        must_register(reg, "alice", ue, 60, (uint64_t)i);
    }
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 100);
    /* UE exclusive on: bob at ue-0 replaces alice there */
    must_register(reg, "bob", "ue-0", 60, 500);
    ck_assert_ptr_null(mcreg_find(reg, "alice", "ue-0"));
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 99);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "ue-0")), "bob");
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_setters_on_null_options_do_nothing)
{
    tu_alloc a = {0};
    mcreg_allocator al = tu_allocator(&a);
    mcreg_options_set_allocator(NULL, &al);
    mcreg_options_set_event_callback(NULL, tu_events_cb, NULL);
    mcreg_options_set_max_ues(NULL, 1);
    mcreg_options_set_limit_policy(NULL, MCREG_LIMIT_EVICT_OLDEST);
    mcreg_options_set_notify_logon(NULL, MCREG_NOTIFY_NONE);
    mcreg_options_set_notify_logoff(NULL, 1);
    mcreg_options_set_ue_exclusive(NULL, 0);
    mcreg_options_set_hash_seed(NULL, 42);
    mcreg_options_free(NULL);
    mcreg_registry_free(NULL);
    /* nothing leaked into later defaults */
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, NULL), MCREG_OK);
    must_register(reg, "alice", "ue-1", 60, 0);
    must_register(reg, "alice", "ue-2", 60, 0);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 2);
    ck_assert_uint_eq(a.calls, 0);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_null_out_pointers_are_misuse)
{
    ck_assert_int_eq(mcreg_options_new(NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_registry_new(NULL, NULL), MCREG_ERR_MISUSE);
}
END_TEST

static int registry_new_rc(void (*configure)(mcreg_options *))
{
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    configure(o);
    mcreg_registry *reg = NULL;
    int rc = mcreg_registry_new(&reg, o);
    mcreg_options_free(o);
    if (rc == MCREG_OK)
        mcreg_registry_free(reg);
    return rc;
}

static void cfg_limit_3(mcreg_options *o)
{
    mcreg_options_set_limit_policy(o, (mcreg_limit_policy)3);
}
static void cfg_limit_99(mcreg_options *o)
{
    mcreg_options_set_limit_policy(o, (mcreg_limit_policy)99);
}
static void cfg_notify_3(mcreg_options *o)
{
    mcreg_options_set_notify_logon(o, (mcreg_notify_policy)3);
}
static void cfg_notify_99(mcreg_options *o)
{
    mcreg_options_set_notify_logon(o, (mcreg_notify_policy)99);
}
static tu_alloc cfg_alloc_state;
static void cfg_no_malloc(mcreg_options *o)
{
    mcreg_allocator a = tu_allocator(&cfg_alloc_state);
    a.malloc = NULL;
    mcreg_options_set_allocator(o, &a);
}
static void cfg_no_realloc(mcreg_options *o)
{
    mcreg_allocator a = tu_allocator(&cfg_alloc_state);
    a.realloc = NULL;
    mcreg_options_set_allocator(o, &a);
}
static void cfg_no_free(mcreg_options *o)
{
    mcreg_allocator a = tu_allocator(&cfg_alloc_state);
    a.free = NULL;
    mcreg_options_set_allocator(o, &a);
}
static void cfg_valid_everything(mcreg_options *o)
{
    mcreg_options_set_limit_policy(o, MCREG_LIMIT_EVICT_SOONEST);
    mcreg_options_set_notify_logon(o, MCREG_NOTIFY_NEW_UE);
    mcreg_options_set_max_ues(o, 3);
    mcreg_options_set_notify_logoff(o, 1);
    mcreg_options_set_ue_exclusive(o, 0);
    mcreg_options_set_hash_seed(o, UINT64_C(0x0123456789abcdef));
}
static void cfg_allocator_reset(mcreg_options *o)
{
    mcreg_allocator a = tu_allocator(&cfg_alloc_state);
    a.free = NULL;
    mcreg_options_set_allocator(o, &a);
    mcreg_options_set_allocator(o, NULL); /* back to the C library's */
}

START_TEST(test_invalid_options_make_registry_new_fail)
{
    ck_assert_int_eq(registry_new_rc(cfg_limit_3), MCREG_ERR_INVALID);
    ck_assert_int_eq(registry_new_rc(cfg_limit_99), MCREG_ERR_INVALID);
    ck_assert_int_eq(registry_new_rc(cfg_notify_3), MCREG_ERR_INVALID);
    ck_assert_int_eq(registry_new_rc(cfg_notify_99), MCREG_ERR_INVALID);
    ck_assert_int_eq(registry_new_rc(cfg_no_malloc), MCREG_ERR_INVALID);
    ck_assert_int_eq(registry_new_rc(cfg_no_realloc), MCREG_ERR_INVALID);
    ck_assert_int_eq(registry_new_rc(cfg_no_free), MCREG_ERR_INVALID);
    ck_assert_uint_eq(cfg_alloc_state.live, 0);
}
END_TEST

START_TEST(test_valid_options_make_registry_new_succeed)
{
    ck_assert_int_eq(registry_new_rc(cfg_valid_everything), MCREG_OK);
    ck_assert_int_eq(registry_new_rc(cfg_allocator_reset), MCREG_OK);
}
END_TEST

START_TEST(test_registry_uses_its_allocator_and_frees_everything)
{
    tu_alloc a = {0};
    mcreg_allocator al = tu_allocator(&a);
    mcreg_registry *reg = tu_registry(NULL, &al);
    ck_assert_ptr_nonnull(reg);
    size_t calls_before = a.calls;
    mcreg_setting s;
    memset(&s, 0, sizeof(s));
    s.key = "k";
    s.type = MCREG_VAL_TEXT;
    s.v.text.ptr = "v";
    s.v.text.len = 1;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.contact = "sip:a@h";
    b.settings = &s;
    b.n_settings = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    ck_assert_uint_gt(a.calls, calls_before);
    ck_assert_uint_gt(a.live, 0);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
    ck_assert_uint_eq(a.live_bytes, 0);
}
END_TEST

START_TEST(test_options_can_be_freed_after_registry_new)
{
    tu_events ev;
    tu_events_init(&ev);
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_event_callback(o, tu_events_cb, &ev);
    mcreg_options_set_max_ues(o, 1);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    must_register(reg, "alice", "ue-1", 60, 0);
    mcreg_binding b = tu_binding("alice", "ue-2", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_ERR_LIMIT);
    ck_assert_str_eq(ev.log, "CREATED(alice,ue-1);REJECTED(alice,ue-2)");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

START_TEST(test_registries_are_independent)
{
    mcreg_registry *r1 = new_reg();
    mcreg_registry *r2 = new_reg();
    must_register(r1, "alice", "ue-1", 60, 0);
    ck_assert_ptr_null(mcreg_find(r2, "alice", "ue-1"));
    ck_assert_uint_eq(mcreg_record_count(r2), 0);
    must_register(r2, "alice", "ue-1", 90, 0);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(r1, "alice", "ue-1")), 60000);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(r2, "alice", "ue-1")), 90000);
    mcreg_registry_free(r1);
    ck_assert_ptr_nonnull(mcreg_find(r2, "alice", "ue-1"));
    mcreg_registry_free(r2);
}
END_TEST

Suite *suite_registry(void)
{
    Suite *s = suite_create("registry");

    TCase *tc = tcase_create("register");
    tcase_add_test(tc, test_create_stores_every_field);
    tcase_add_test(tc, test_create_without_contact_or_call_id);
    tcase_add_test(tc, test_register_accepts_null_outcome);
    tcase_add_test(tc, test_registry_copies_binding_strings);
    tcase_add_test(tc, test_refresh_updates_expiry_contact_call_id_cseq);
    tcase_add_test(tc, test_refresh_with_shorter_expiry_reports_refreshed);
    tcase_add_test(tc, test_refresh_keeps_registered_at_even_when_clock_goes_back);
    tcase_add_test(tc, test_refresh_with_null_contact_keeps_contact);
    tcase_add_test(tc, test_refresh_with_null_call_id_clears_call_id);
    tcase_add_test(tc, test_refresh_with_new_call_id_replaces_it);
    tcase_add_test(tc, test_expires_zero_removes_record);
    tcase_add_test(tc, test_expires_zero_keeps_other_ues);
    tcase_add_test(tc, test_expires_zero_without_record_is_not_found);
    tcase_add_test(tc, test_deregister_removes_one_record);
    tcase_add_test(tc, test_deregister_unknown_is_not_found_and_changes_nothing);
    tcase_add_test(tc, test_deregister_user_removes_all_and_counts);
    tcase_add_test(tc, test_deregister_user_unknown_is_not_found);
    tcase_add_test(tc, test_deregister_user_keeps_per_user_limit);
    tcase_add_test(tc, test_new_ue_never_touches_users_other_records);
    tcase_add_test(tc, test_expires_at_saturates);
    tcase_add_test(tc, test_expires_at_uses_full_32_bit_range);
    suite_add_tcase(s, tc);

    tc = tcase_create("queries");
    tcase_add_test(tc, test_find_and_find_ue);
    tcase_add_test(tc, test_find_with_invalid_input_is_not_found);
    tcase_add_test(tc, test_counts_track_users_and_records);
    tcase_add_test(tc, test_user_foreach_orders_by_registered_at);
    tcase_add_test(tc, test_user_foreach_breaks_ties_by_ue_id_bytes);
    tcase_add_test(tc, test_refresh_keeps_place_in_order);
    tcase_add_test(tc, test_foreach_orders_by_registered_at_then_ue_id);
    tcase_add_test(tc, test_foreach_breaks_ue_ties_by_user_id);
    tcase_add_test(tc, test_foreach_empty_registry_visits_nothing);
    tcase_add_test(tc, test_foreach_returns_visitor_stop_value);
    tcase_add_test(tc, test_user_foreach_returns_visitor_stop_value);
    tcase_add_test(tc, test_user_foreach_unknown_user_is_not_found);
    tcase_add_test(tc, test_record_accessors_are_null_safe);
    suite_add_tcase(s, tc);

    tc = tcase_create("settings");
    tcase_add_test(tc, test_int_settings_round_trip);
    tcase_add_test(tc, test_text_settings_round_trip_nul_terminated);
    tcase_add_test(tc, test_bytes_settings_keep_zero_bytes);
    tcase_add_test(tc, test_bool_settings_normalised_to_one);
    tcase_add_test(tc, test_settings_keep_binding_order);
    tcase_add_test(tc, test_refresh_replaces_settings_as_a_whole);
    tcase_add_test(tc, test_refresh_of_the_same_payload_allocates_nothing);
    suite_add_tcase(s, tc);

    tc = tcase_create("ordering");
    tcase_add_test(tc, test_same_call_id_equal_cseq_is_stale);
    tcase_add_test(tc, test_same_call_id_lower_cseq_is_stale);
    tcase_add_test(tc, test_stale_expires_zero_keeps_record);
    tcase_add_test(tc, test_greater_cseq_passes);
    tcase_add_test(tc, test_different_call_id_passes_with_lower_cseq);
    tcase_add_test(tc, test_null_call_id_skips_ordering_check);
    tcase_add_test(tc, test_null_call_id_removal_skips_ordering_check);
    tcase_add_test(tc, test_call_id_check_is_per_record);
    suite_add_tcase(s, tc);

    tc = tcase_create("validation");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_null_registry_and_binding_are_misuse);
    tcase_add_test(tc, test_null_or_empty_ids_are_invalid);
    tcase_add_test(tc, test_id_length_limit_is_1024_bytes);
    tcase_add_test(tc, test_invalid_utf8_rejected_in_ids);
    tcase_add_test(tc, test_invalid_utf8_rejected_in_contact_and_call_id);
    tcase_add_test(tc, test_invalid_utf8_rejected_in_setting_keys_and_text);
    tcase_add_test(tc, test_text_length_counts_only_len_bytes);
    tcase_add_test(tc, test_valid_utf8_accepted_everywhere);
    tcase_add_test(tc, test_contact_and_call_id_length_limit_is_2048);
    tcase_add_test(tc, test_empty_contact_or_call_id_is_invalid);
    tcase_add_test(tc, test_setting_count_limit_is_64);
    tcase_add_test(tc, test_duplicate_setting_keys_are_invalid);
    tcase_add_test(tc, test_null_or_empty_setting_key_is_invalid);
    tcase_add_test(tc, test_setting_size_limit_is_4096_key_plus_value);
    tcase_add_test(tc, test_many_settings_each_at_the_size_limit);
    tcase_add_test(tc, test_bad_value_type_is_invalid);
    tcase_add_test(tc, test_null_pointer_with_length_is_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("names_options");
    tcase_add_test(tc, test_strerror_names_every_code);
    tcase_add_test(tc, test_event_names);
    tcase_add_test(tc, test_version_matches_header);
    tcase_add_test(tc, test_null_options_give_defaults);
    tcase_add_test(tc, test_setters_on_null_options_do_nothing);
    tcase_add_test(tc, test_null_out_pointers_are_misuse);
    tcase_add_test(tc, test_invalid_options_make_registry_new_fail);
    tcase_add_test(tc, test_valid_options_make_registry_new_succeed);
    tcase_add_test(tc, test_registry_uses_its_allocator_and_frees_everything);
    tcase_add_test(tc, test_options_can_be_freed_after_registry_new);
    tcase_add_test(tc, test_registries_are_independent);
    suite_add_tcase(s, tc);

    return s;
}
