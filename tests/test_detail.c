/* MCREG_ERR_MISUSE and mcreg_error_detail(), from the contract: a NULL
 * registry, binding, output pointer or visitor is the host's bug
 * (MISUSE); bad input stays INVALID. Every failed mutating call says why
 * in mcreg_error_detail(), naming the field and the rule; "" after a
 * success; left alone by MCREG_ERR_BUSY and by queries. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

#define NOMEM_DETAIL "out of memory: the allocator returned NULL"

static int dt_visit(const mcreg_record *r, void *ud)
{
    (void)r;
    (void)ud;
    return 0;
}

static int dt_visit_limit(const char *user_id, uint32_t max, void *ud)
{
    (void)user_id;
    (void)max;
    (void)ud;
    return 0;
}

/* A registry that holds alice at two UEs, a limit of 2 for alice, and has
 * just failed a call, so that its detail is not "". */
static mcreg_registry *dt_registry(tu_events *ev)
{
    mcreg_registry *reg = tu_registry(ev, NULL);
    ck_assert_ptr_nonnull(reg);
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.call_id = "call-1";
    b.cseq = 7;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    b = tu_binding("alice", "ue-2", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 1001, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "alice", 2), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    return reg;
}

/* ---- MISUSE ---------------------------------------------------------------------- */

START_TEST(test_null_registry_is_misuse_everywhere)
{
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    mcreg_outcome out = (mcreg_outcome)42;
    size_t n = 42;
    uint64_t at = 42;
    uint32_t max = 42;
    uint8_t bytes[8] = {0};
    uint8_t *buf = bytes;
    size_t len = 42;
    ck_assert_int_eq(mcreg_register(NULL, &b, 0, &out), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_deregister(NULL, "alice", "ue-1", 0), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_deregister_user(NULL, "alice", 0, &n), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_expire(NULL, 0, &n), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_set_user_max_ues(NULL, "alice", 1), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_clear_user_max_ues(NULL, "alice"), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_restore(NULL, bytes, sizeof(bytes), 0), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_next_expiry(NULL, &at), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_user_max_ues(NULL, "alice", &max), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_user_foreach(NULL, "alice", dt_visit, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_foreach(NULL, dt_visit, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_limit_foreach(NULL, dt_visit_limit, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_snapshot(NULL, &buf, &len), MCREG_ERR_MISUSE);
    /* Outputs untouched. */
    ck_assert_int_eq(out, 42);
    ck_assert_uint_eq(n, 42);
    ck_assert_uint_eq(at, 42);
    ck_assert_uint_eq(max, 42);
    ck_assert_ptr_eq(buf, bytes);
    ck_assert_uint_eq(len, 42);
    /* Calls that return no code keep answering NULL / 0 / "". */
    ck_assert_ptr_null(mcreg_find(NULL, "alice", "ue-1"));
    ck_assert_ptr_null(mcreg_find_ue(NULL, "ue-1"));
    ck_assert_uint_eq(mcreg_user_ue_count(NULL, "alice"), 0);
    ck_assert_uint_eq(mcreg_record_count(NULL), 0);
    ck_assert_uint_eq(mcreg_user_count(NULL), 0);
    ck_assert_str_eq(mcreg_error_detail(NULL), "");
    mcreg_buffer_free(NULL, NULL);
    mcreg_registry_free(NULL);
}
END_TEST

START_TEST(test_null_outputs_bindings_and_visitors_are_misuse)
{
    ck_assert_int_eq(mcreg_options_new(NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_registry_new(NULL, NULL), MCREG_ERR_MISUSE);
    mcreg_registry *reg = dt_registry(NULL);
    char *before = tu_state_dump(reg);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "alice", NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_user_foreach(reg, "alice", NULL, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_foreach(reg, NULL, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_limit_foreach(reg, NULL, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_snapshot(reg, NULL, &len), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_snapshot(reg, &buf, NULL), MCREG_ERR_MISUSE);
    ck_assert_ptr_null(buf);
    /* Queries do not set the detail: the last mutating call succeeded. */
    ck_assert_str_eq(mcreg_error_detail(reg), "");

    mcreg_outcome out = (mcreg_outcome)42;
    ck_assert_int_eq(mcreg_register(reg, NULL, 5000, &out), MCREG_ERR_MISUSE);
    ck_assert_int_eq(out, 42);
    ck_assert_str_eq(mcreg_error_detail(reg), "binding: NULL");
    uint8_t snap[] = {0xd9, 0xd9, 0xf7, 0xa1, 0x00, 0x82, 0x01, 0x00};
    ck_assert_int_eq(mcreg_restore(reg, NULL, sizeof(snap), 5000), MCREG_ERR_MISUSE);
    ck_assert_str_eq(mcreg_error_detail(reg), "buf: NULL with a non-zero len");
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    mcreg_registry_free(reg);
}
END_TEST

/* A NULL id is input, as an empty one is: INVALID, with a detail. */
START_TEST(test_null_ids_are_invalid_not_misuse)
{
    mcreg_registry *reg = dt_registry(NULL);
    mcreg_binding b = tu_binding(NULL, "ue-9", 60);
    uint32_t max;
    ck_assert_int_eq(mcreg_register(reg, &b, 5000, NULL), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: NULL");
    b = tu_binding("alice", NULL, 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 5000, NULL), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "ue_id: NULL");
    ck_assert_int_eq(mcreg_deregister(reg, NULL, "ue-1", 5000), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: NULL");
    ck_assert_int_eq(mcreg_deregister(reg, "alice", NULL, 5000), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "ue_id: NULL");
    ck_assert_int_eq(mcreg_deregister_user(reg, NULL, 5000, NULL), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: NULL");
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, NULL, 1), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: NULL");
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, NULL), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: NULL");
    ck_assert_int_eq(mcreg_user_max_ues(reg, NULL, &max), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_user_foreach(reg, NULL, dt_visit, NULL), MCREG_ERR_INVALID);
    mcreg_registry_free(reg);
}
END_TEST

/* ---- validation rules --------------------------------------------------------------- */

typedef struct dt_case {
    const char *what;
    mcreg_binding b;
    const char *detail;
} dt_case;

START_TEST(test_each_binding_rule_has_its_detail)
{
    static char long_id[MCREG_MAX_ID_LEN + 2], long_uri[MCREG_MAX_URI_LEN + 2],
        long_key[MCREG_MAX_SETTING_LEN + 2];
    memset(long_id, 'i', MCREG_MAX_ID_LEN + 1);
    memset(long_uri, 'u', MCREG_MAX_URI_LEN + 1);
    memset(long_key, 'k', MCREG_MAX_SETTING_LEN + 1);
    static char big_value[MCREG_MAX_SETTING_LEN];
    memset(big_value, 'v', sizeof(big_value));

    mcreg_setting s_null_key[] = {{.key = NULL, .type = MCREG_VAL_INT}};
    mcreg_setting s_empty_key[] = {{.key = "a", .type = MCREG_VAL_INT},
                                   {.key = "b", .type = MCREG_VAL_INT},
                                   {.key = "", .type = MCREG_VAL_INT}};
    mcreg_setting s_bad_key[] = {{.key = "k\xFFy", .type = MCREG_VAL_INT}};
    mcreg_setting s_long_key[] = {{.key = long_key, .type = MCREG_VAL_INT}};
    mcreg_setting s_long_text[] = {
        {.key = "kk", .type = MCREG_VAL_TEXT, .v.text = {big_value, MCREG_MAX_SETTING_LEN - 1}}};
    mcreg_setting s_null_text[] = {{.key = "k", .type = MCREG_VAL_TEXT, .v.text = {NULL, 1}}};
    mcreg_setting s_bad_text[] = {{.key = "a", .type = MCREG_VAL_INT},
                                  {.key = "b", .type = MCREG_VAL_TEXT, .v.text = {"ok\xC3", 3}}};
    mcreg_setting s_long_bytes[] = {
        {.key = "k", .type = MCREG_VAL_BYTES,
         .v.bytes = {(const uint8_t *)big_value, MCREG_MAX_SETTING_LEN}}};
    mcreg_setting s_null_bytes[] = {{.key = "k", .type = MCREG_VAL_BYTES, .v.bytes = {NULL, 3}}};
    mcreg_setting s_type[] = {{.key = "k", .type = (mcreg_value_type)99}};
    mcreg_setting s_dup[] = {{.key = "a", .type = MCREG_VAL_INT},
                             {.key = "b", .type = MCREG_VAL_INT},
                             {.key = "c", .type = MCREG_VAL_BOOL},
                             {.key = "b", .type = MCREG_VAL_TEXT, .v.text = {"x", 1}}};
    static mcreg_setting s_many[MCREG_MAX_SETTINGS + 1];

    mcreg_binding base = tu_binding("alice", "ue-3", 60);
#define WITH(field, value) ({ mcreg_binding x_ = base; x_.field = value; x_; })
#define SETTINGS(arr) ({ mcreg_binding x_ = base; x_.settings = arr; \
                         x_.n_settings = sizeof(arr) / sizeof(arr[0]); x_; })
    const dt_case cases[] = {
        {"empty user", WITH(user_id, ""), "user_id: empty"},
        {"long user", WITH(user_id, long_id), "user_id: longer than 1024 bytes"},
        {"bad ue at 17", WITH(ue_id, "urn:uuid:01234567\xC0\x80"),
         "ue_id: not valid UTF-8 at byte 17"},
        {"surrogate ue", WITH(ue_id, "\xED\xA0\x80"), "ue_id: not valid UTF-8 at byte 0"},
        {"truncated ue", WITH(ue_id, "ab\xE2\x82"), "ue_id: not valid UTF-8 at byte 2"},
        {"empty contact", WITH(contact, ""), "contact: empty"},
        {"long contact", WITH(contact, long_uri), "contact: longer than 2048 bytes"},
        {"bad contact", WITH(contact, "sip:\xF5@x"), "contact: not valid UTF-8 at byte 4"},
        {"empty call_id", WITH(call_id, ""), "call_id: empty"},
        {"long call_id", WITH(call_id, long_uri), "call_id: longer than 2048 bytes"},
        {"too many settings", ({ mcreg_binding x_ = base; x_.settings = s_many;
                                 x_.n_settings = MCREG_MAX_SETTINGS + 1; x_; }),
         "n_settings: more than 64"},
        {"NULL settings", ({ mcreg_binding x_ = base; x_.n_settings = 2; x_; }),
         "settings: NULL with a non-zero n_settings"},
        {"NULL key", SETTINGS(s_null_key), "settings[0]: key: NULL"},
        {"empty key", SETTINGS(s_empty_key), "settings[2]: key: empty"},
        {"bad key", SETTINGS(s_bad_key), "settings[0]: key: not valid UTF-8 at byte 1"},
        {"long key", SETTINGS(s_long_key), "settings[0]: key: longer than 4096 bytes"},
        {"long text", SETTINGS(s_long_text), "settings[0]: key and value longer than 4096 bytes"},
        {"NULL text", SETTINGS(s_null_text), "settings[0]: text value: NULL with a non-zero len"},
        {"bad text", SETTINGS(s_bad_text), "settings[1]: text value: not valid UTF-8 at byte 2"},
        {"long bytes", SETTINGS(s_long_bytes),
         "settings[0]: key and value longer than 4096 bytes"},
        {"NULL bytes", SETTINGS(s_null_bytes),
         "settings[0]: bytes value: NULL with a non-zero len"},
        {"type 99", SETTINGS(s_type), "settings[0]: unknown type 99"},
        {"repeated key", SETTINGS(s_dup), "settings[3]: key repeats settings[1]"},
    };
#undef WITH
#undef SETTINGS
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = dt_registry(&ev);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tu_events_reset(&ev);
        int rc = mcreg_register(reg, &cases[i].b, 5000, NULL);
        ck_assert_msg(rc == MCREG_ERR_INVALID, "%s: rc %d", cases[i].what, rc);
        ck_assert_msg(strcmp(mcreg_error_detail(reg), cases[i].detail) == 0,
                      "%s: detail '%s', expected '%s'", cases[i].what, mcreg_error_detail(reg),
                      cases[i].detail);
        ck_assert_uint_eq(ev.count, 0);
        /* The detail never quotes the input: no byte of the ids shows. */
        ck_assert_ptr_null(strstr(mcreg_error_detail(reg), "iiii"));
        ck_assert_ptr_null(strstr(mcreg_error_detail(reg), "uuuu"));
    }
    /* The same rules, on ids given alone. */
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "ab\xC3", 5000), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "ue_id: not valid UTF-8 at byte 2");
    ck_assert_int_eq(mcreg_deregister_user(reg, long_id, 5000, NULL), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: longer than 1024 bytes");
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "", 3), MCREG_ERR_INVALID);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: empty");
    mcreg_registry_free(reg);
    tu_events_free(&ev);
}
END_TEST

/* ---- other failures --------------------------------------------------------------- */

typedef struct dt_reject {
    mcreg_registry *reg;
    char seen[200];   /* mcreg_error_detail inside the REJECTED callback */
    int busy_rc;
    char after_busy[200];
} dt_reject;

static void dt_on_event(const mcreg_event *ev, void *ud)
{
    dt_reject *r = ud;
    if (ev->type != MCREG_EV_REJECTED)
        return;
    snprintf(r->seen, sizeof(r->seen), "%s", mcreg_error_detail(ev->registry));
    mcreg_binding b = tu_binding("bob", "ue-b", 60);
    r->busy_rc = mcreg_register(ev->registry, &b, 1, NULL);
    snprintf(r->after_busy, sizeof(r->after_busy), "%s", mcreg_error_detail(ev->registry));
}

START_TEST(test_not_found_stale_and_limit_details)
{
    dt_reject rj = {0};
    mcreg_options *o;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_event_callback(o, dt_on_event, &rj);
    mcreg_registry *reg;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    rj.reg = reg;
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    b.call_id = "call-1";
    b.cseq = 7;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    b.cseq = 4;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_ERR_STALE);
    ck_assert_str_eq(mcreg_error_detail(reg),
                     "cseq: 4 is not greater than the stored 7 of the same call_id");
    b = tu_binding("alice", "ue-9", 0);
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_ERR_NOT_FOUND);
    ck_assert_str_eq(mcreg_error_detail(reg), "no record for this user_id and ue_id");
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "ue-9", 1000), MCREG_ERR_NOT_FOUND);
    ck_assert_str_eq(mcreg_error_detail(reg), "no record for this user_id and ue_id");
    ck_assert_int_eq(mcreg_deregister_user(reg, "nobody", 1000, NULL), MCREG_ERR_NOT_FOUND);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: has no records");
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "alice"), MCREG_ERR_NOT_FOUND);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: has no UE limit of its own");

    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "alice", 1), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    b = tu_binding("alice", "ue-2", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_ERR_LIMIT);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: at its limit of 1 UE");
    /* Set before the REJECTED event, and a BUSY call inside it leaves it. */
    ck_assert_str_eq(rj.seen, "user_id: at its limit of 1 UE");
    ck_assert_int_eq(rj.busy_rc, MCREG_ERR_BUSY);
    ck_assert_str_eq(rj.after_busy, "user_id: at its limit of 1 UE");
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "alice", 3), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "alice", 2), MCREG_OK);
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    b.ue_id = "ue-3";
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_ERR_LIMIT);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: at its limit of 2 UEs");
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_nomem_has_a_detail_without_allocating)
{
    tu_alloc ta = {0};
    mcreg_allocator a = tu_allocator(&ta);
    mcreg_registry *reg = tu_registry(NULL, &a);
    ck_assert_ptr_nonnull(reg);
    mcreg_binding b = tu_binding("alice", "ue-1", 60);
    ta.fail_at = ta.calls + 1;
    ta.fail_all_after = 1;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_ERR_NOMEM);
    ck_assert_str_eq(mcreg_error_detail(reg), NOMEM_DETAIL);
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, "bob", 2), MCREG_ERR_NOMEM);
    ck_assert_str_eq(mcreg_error_detail(reg), NOMEM_DETAIL);
    uint8_t snap[] = {0xd9, 0xd9, 0xf7, 0xa1, 0x00, 0x82, 0x01, 0x00};
    ck_assert_int_eq(mcreg_restore(reg, snap, sizeof(snap), 0), MCREG_ERR_NOMEM);
    ck_assert_str_eq(mcreg_error_detail(reg), NOMEM_DETAIL);
    ta.fail_at = 0;
    ta.fail_all_after = 0;
    ck_assert_int_eq(mcreg_register(reg, &b, 1000, NULL), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    mcreg_registry_free(reg);
    ck_assert_uint_eq(ta.live, 0);
}
END_TEST

/* ---- when the detail changes --------------------------------------------------------- */

typedef struct dt_busy {
    mcreg_registry *reg;
    int busy;
    int wrong;
} dt_busy;

static int dt_visit_mutates(const mcreg_record *r, void *ud)
{
    dt_busy *v = ud;
    mcreg_binding b = tu_binding(mcreg_record_user_id(r), "ue-new", 60);
    int rcs[] = {mcreg_register(v->reg, &b, 1, NULL), mcreg_expire(v->reg, UINT64_MAX, NULL),
                 mcreg_deregister(v->reg, "alice", "ue-1", 1),
                 mcreg_restore(v->reg, (const uint8_t *)"x", 1, 0)};
    for (size_t i = 0; i < 4; i++) {
        if (rcs[i] == MCREG_ERR_BUSY)
            v->busy++;
        else
            v->wrong++;
    }
    return 0;
}

START_TEST(test_detail_is_reset_by_each_mutating_call_and_kept_by_busy_and_queries)
{
    mcreg_registry *reg = dt_registry(NULL);
    ck_assert_int_eq(mcreg_deregister(reg, "", "ue-1", 5000), MCREG_ERR_INVALID);
    const char *d = mcreg_error_detail(reg);
    ck_assert_str_eq(d, "user_id: empty");
    /* Queries, failing or not, leave it. */
    uint32_t max;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "\xC0", &max), MCREG_ERR_INVALID);
    ck_assert_ptr_null(mcreg_find(reg, "", "ue-1"));
    ck_assert_int_eq(mcreg_user_foreach(reg, "nobody", dt_visit, NULL), MCREG_ERR_NOT_FOUND);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: empty");
    /* So do mutating calls refused as BUSY from a visitor. */
    dt_busy v = {.reg = reg};
    ck_assert_int_eq(mcreg_foreach(reg, dt_visit_mutates, &v), MCREG_OK);
    ck_assert_int_eq(v.busy, 8);
    ck_assert_int_eq(v.wrong, 0);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: empty");
    /* The pointer is the registry's: the same buffer, rewritten. */
    ck_assert_ptr_eq(mcreg_error_detail(reg), d);
    /* Every successful mutating call empties it. */
    size_t n;
    ck_assert_int_eq(mcreg_expire(reg, 0, &n), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "nobody"), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "alice"), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    ck_assert_int_eq(mcreg_deregister_user(reg, "nobody", 1, NULL), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "ue-2", 5000), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    ck_assert_int_eq(mcreg_deregister_user(reg, "nobody", 1, NULL), MCREG_ERR_NOT_FOUND);
    uint8_t *snap;
    size_t len;
    ck_assert_int_eq(mcreg_snapshot(reg, &snap, &len), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "user_id: has no records");
    ck_assert_int_eq(mcreg_restore(reg, snap, len, 0), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    mcreg_buffer_free(reg, snap);
    mcreg_registry_free(reg);
}
END_TEST

/* ---- snapshots ------------------------------------------------------------------------ */

/* A snapshot written byte by byte, with marks at the bytes that matter. */
typedef struct dt_cbor {
    uint8_t b[256];
    size_t n;
} dt_cbor;

static size_t dt_put(dt_cbor *c, const char *hex)
{
    size_t at = c->n;
    for (const char *p = hex; p[0] && p[1];) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
        ck_assert_uint_lt(c->n, sizeof(c->b));
        c->b[c->n++] = (uint8_t)v;
        p += 2;
    }
    return at;
}

/* The head of a snapshot with `n` top-level keys, the version 1.0 first. */
static void dt_head(dt_cbor *c, const char *map_head)
{
    dt_put(c, "d9d9f7");
    dt_put(c, map_head);
    dt_put(c, "00 820100");
}

static void dt_expect(const dt_cbor *c, int rc, const char *detail)
{
    mcreg_registry *reg = dt_registry(NULL);
    char *before = tu_state_dump(reg);
    ck_assert_int_eq(mcreg_restore(reg, c->b, c->n, 0), rc);
    ck_assert_str_eq(mcreg_error_detail(reg), detail);
    char *after = tu_state_dump(reg);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    mcreg_registry_free(reg);
}

static char *dt_at(size_t at, const char *rest)
{
    static char buf[200];
    snprintf(buf, sizeof(buf), "snapshot: byte %zu: %s", at, rest);
    return buf;
}

START_TEST(test_snapshot_failures_give_byte_field_and_rule)
{
    dt_cbor c = {0};
    /* Not self-described. */
    dt_put(&c, "a1 00 820100");
    dt_expect(&c, MCREG_ERR_FORMAT, "snapshot: byte 0: expected tag 55799 (self-described CBOR)");

    /* Another major version. */
    c.n = 0;
    dt_put(&c, "d9d9f7 a1 00");
    size_t at = dt_put(&c, "820203");
    dt_expect(&c, MCREG_ERR_VERSION, dt_at(at, "version: format 2.3, this library reads 1.x"));

    /* Top-level keys out of order: 0, 2, 1. */
    c.n = 0;
    dt_head(&c, "a3");
    dt_put(&c, "02 80");
    at = dt_put(&c, "01");
    dt_put(&c, "80");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "map keys out of order"));

    /* A byte after the end. */
    c.n = 0;
    dt_head(&c, "a1");
    at = dt_put(&c, "00");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "bytes after the end of the snapshot"));

    /* A record whose UE id is not UTF-8: the record's first byte, its place
     * in the array, the field and the rule. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 82");
    dt_put(&c, "a5 0061 75 01 61 76 02 00 03 1a00010000 04 01"); /* a valid record */
    at = dt_put(&c, "a5 00 61 75 01 63 77 c3 28 02 00 03 1a00010000 04 01");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "records[1]: ue_id: not valid UTF-8 at byte 1"));

    /* A CSeq above 32 bits: the byte of the value. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 81 a5 00 61 75 01 61 76 02 00 03 01 04");
    at = dt_put(&c, "1b0000000100000000");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "records[0]: cseq: above 4294967295"));

    /* Record keys out of order. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 81 a5 00 61 75 02 00");
    at = dt_put(&c, "01");
    dt_put(&c, "61 76 03 01 04 01");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "records[0]: map keys out of order"));

    /* A record without its CSeq. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 81");
    at = dt_put(&c, "a4 00 61 75 01 61 76 02 00 03 01");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "records[0]: no cseq"));

    /* Repeated setting keys, found by the rules of mcreg_register. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 81");
    at = dt_put(&c, "a6 00 61 75 01 61 76 02 00 03 01 04 01 07 82 82 61 6b 01 82 61 6b 02");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "records[0]: settings[1]: key repeats settings[0]"));

    /* A setting value of a type settings do not have (a float). */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 81 a6 00 61 75 01 61 76 02 00 03 01 04 01 07 81 82 61 6b");
    at = dt_put(&c, "f93c00");
    dt_expect(&c, MCREG_ERR_FORMAT,
              dt_at(at, "records[0]: settings[0]: value neither integer, text, bytes nor boolean"));

    /* Truncated inside a record's id. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 81 a1 00");
    at = dt_put(&c, "65 7573");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "records[0]: user_id: truncated item"));

    /* Two records at one UE while UE exclusive is on, found by restore. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "01 82 a5 00 61 75 01 61 76 02 00 03 1a00010000 04 01");
    at = dt_put(&c, "a5 00 61 77 01 61 76 02 00 03 1a00010000 04 01");
    dt_expect(&c, MCREG_ERR_FORMAT,
              dt_at(at, "records[1]: ue_id: already held, and the registry is UE exclusive"));

    /* Two limits for one user; a limit whose user id is empty. */
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "02 82 82 61 75 01");
    at = dt_put(&c, "82 61 75 02");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "limits[1]: user_id: a second limit for this user"));
    c.n = 0;
    dt_head(&c, "a2");
    dt_put(&c, "02 81");
    at = dt_put(&c, "82 60 01");
    dt_expect(&c, MCREG_ERR_FORMAT, dt_at(at, "limits[0]: user_id: empty"));
}
END_TEST

/* Every truncation of a real snapshot says where, at a byte inside it. */
START_TEST(test_every_truncation_has_a_detail)
{
    mcreg_registry *src = dt_registry(NULL);
    uint8_t *snap;
    size_t len;
    ck_assert_int_eq(mcreg_snapshot(src, &snap, &len), MCREG_OK);
    mcreg_registry *reg = tu_registry(NULL, NULL);
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_eq(mcreg_restore(reg, snap, cut, 0), MCREG_ERR_FORMAT);
        const char *d = mcreg_error_detail(reg);
        size_t at;
        ck_assert_msg(sscanf(d, "snapshot: byte %zu: ", &at) == 1, "cut %zu: '%s'", cut, d);
        ck_assert_msg(at <= cut, "cut %zu: byte %zu", cut, at);
        ck_assert_msg(strstr(d, "truncated") != NULL || strstr(d, "declares") != NULL,
                      "cut %zu: '%s'", cut, d);
    }
    ck_assert_int_eq(mcreg_restore(reg, snap, len, 0), MCREG_OK);
    ck_assert_str_eq(mcreg_error_detail(reg), "");
    mcreg_buffer_free(src, snap);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

Suite *suite_detail(void)
{
    Suite *s = suite_create("detail");
    TCase *tc = tcase_create("misuse");
    tcase_add_test(tc, test_null_registry_is_misuse_everywhere);
    tcase_add_test(tc, test_null_outputs_bindings_and_visitors_are_misuse);
    tcase_add_test(tc, test_null_ids_are_invalid_not_misuse);
    suite_add_tcase(s, tc);
    tc = tcase_create("detail");
    tcase_add_test(tc, test_each_binding_rule_has_its_detail);
    tcase_add_test(tc, test_not_found_stale_and_limit_details);
    tcase_add_test(tc, test_nomem_has_a_detail_without_allocating);
    tcase_add_test(tc, test_detail_is_reset_by_each_mutating_call_and_kept_by_busy_and_queries);
    tcase_add_test(tc, test_snapshot_failures_give_byte_field_and_rule);
    tcase_add_test(tc, test_every_truncation_has_a_detail);
    suite_add_tcase(s, tc);
    return s;
}
