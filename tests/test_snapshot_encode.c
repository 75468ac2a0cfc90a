/* Snapshots written: round trips of rich states, bytes that depend on the
 * state only (not on the order or history that built it), and the golden
 * files of tests/data (the golden state built here is the committed file;
 * restored, it gives every field back; another major version is refused;
 * unknown keys of a later minor version are skipped).
 *
 * Data files are read from tests/data relative to the current directory
 * (make runs the runner from the repository root); MCREG_TEST_DATA names
 * another directory. MCREG_WRITE_GOLDEN=path writes the snapshot of the
 * golden state to that path (see tests/data/README.md). */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "snapshot_util.h"
#include "suites.h"
#include "testutil.h"

/* _i: 0 UE exclusive on, 1 off. */
START_TEST(test_roundtrip_rich)
{
    int shared = _i;
    sn_spec s = {0};
    sn_spec_rich(&s, shared);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *src = sn_new(shared, NULL);
    sn_apply(src, &s, 0);
    ck_assert_uint_eq(mcreg_record_count(src), s.n_recs);
    ck_assert_uint_ge(s.n_recs, 700);
    if (shared) {
        /* The state does share UEs among users. */
        size_t shared_ues = 0;
        for (size_t i = 0; i < s.ues.n; i++) {
            size_t holders = 0;
            for (size_t k = 0; k < s.n_recs; k++)
                holders += strcmp(s.recs[k].ue, s.ues.v[i]) == 0;
            shared_ues += holders > 1;
        }
        ck_assert_uint_ge(shared_ues, 100);
    }

    /* Into a fresh registry, which must then emit nothing. */
    mcreg_registry *fresh = sn_new(shared, &ev);
    sn_check_roundtrip(src, fresh, &s.users, &s.ues, 0, "into a fresh registry");
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);

    /* The extremes, read back through the accessors. */
    const mcreg_record *r = mcreg_find(fresh, "extreme@mcptt.example", "ue-x1");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_expires_at(r), UINT64_MAX);
    ck_assert_uint_eq(mcreg_record_registered_at(r), UINT64_MAX - 1000);
    ck_assert_uint_eq(mcreg_record_setting_count(r), sn_pool_n);
    const mcreg_setting *st = mcreg_record_setting_find(r, "int-min");
    ck_assert_msg(st && st->type == MCREG_VAL_INT && st->v.i == INT64_MIN, "int-min");
    st = mcreg_record_setting_find(r, "int-max");
    ck_assert_msg(st && st->type == MCREG_VAL_INT && st->v.i == INT64_MAX, "int-max");
    st = mcreg_record_setting_find(r, "text-nul");
    ck_assert_msg(st && st->type == MCREG_VAL_TEXT && st->v.text.len == 3 &&
                      memcmp(st->v.text.ptr, "a\0b", 4) == 0,
                  "text-nul");
    st = mcreg_record_setting_find(r, "bytes-all");
    ck_assert_msg(st && st->type == MCREG_VAL_BYTES && st->v.bytes.len == 256, "bytes-all");
    for (int i = 0; i < 256; i++)
        if (st->v.bytes.ptr[i] != i)
            ck_abort_msg("bytes-all[%d] = %d", i, st->v.bytes.ptr[i]);
    st = mcreg_record_setting_find(r, "bytes-empty");
    ck_assert_msg(st && st->type == MCREG_VAL_BYTES && st->v.bytes.len == 0 && st->v.bytes.ptr,
                  "bytes-empty");
    st = mcreg_record_setting_find(r, "bool-7");
    ck_assert_msg(st && st->type == MCREG_VAL_BOOL && st->v.b == 1, "bool-7");
    r = mcreg_find(fresh, "extreme@mcptt.example", "ue-x0");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 0);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 1000ULL * UINT32_MAX);
    ck_assert_uint_eq(mcreg_record_cseq(r), UINT32_MAX);
    ck_assert_uint_eq(mcreg_record_setting_count(r), MCREG_MAX_SETTINGS);
    ck_assert_str_eq(mcreg_record_contact(r), sn_uri_max);
    r = mcreg_find(fresh, sn_user_max, sn_ue_max);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(mcreg_record_contact(mcreg_find(fresh, "extreme@mcptt.example",
                                                       "ue-x1")));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(fresh, "limit-only-0@mcptt.example", &max), MCREG_OK);
    ck_assert_uint_eq(max, 0);
    ck_assert_int_eq(mcreg_user_max_ues(fresh, "limit-only-4@mcptt.example", &max), MCREG_OK);
    ck_assert_uint_eq(max, UINT32_MAX);
    ck_assert_uint_eq(mcreg_user_ue_count(fresh, "limit-only-4@mcptt.example"), 0);
    ck_assert_int_eq(mcreg_user_max_ues(fresh, "user-002@mcptt.example", &max), MCREG_OK);
    ck_assert_uint_eq(max, 1);
    ck_assert_uint_eq(mcreg_user_ue_count(fresh, "user-002@mcptt.example"), 3);

    /* Into a registry holding another state: that state goes entirely. */
    names ou = {0}, oe = {0};
    mcreg_registry *busy = sn_new(shared, NULL);
    sn_other_state(busy, &ou, &oe);
    for (size_t i = 0; i < ou.n; i++)
        names_add(&s.users, ou.v[i]);
    for (size_t i = 0; i < oe.n; i++)
        names_add(&s.ues, oe.v[i]);
    sn_check_roundtrip(src, busy, &s.users, &s.ues, 0, "over another state");

    /* And a registry restored from its own snapshot stays as it was. */
    sn_check_roundtrip(busy, busy, &s.users, &s.ues, 0, "into itself");

    mcreg_registry_free(src);
    mcreg_registry_free(fresh);
    mcreg_registry_free(busy);
    names_free(&ou);
    names_free(&oe);
    sn_spec_free(&s);
    tu_events_free(&ev);
}
END_TEST

/* An empty registry: the snapshot is the version and two empty arrays (keys
 * 1 and 2 are written always), and restoring it empties a registry. */
START_TEST(test_roundtrip_empty)
{
    mcreg_registry *empty = sn_new(0, NULL);
    size_t len = 0;
    uint8_t *snap = sn_take(empty, &len);
    bb want;
    bb_init(&want);
    bb_hex(&want, "d9 d9 f7 a3 00 82 01 00 01 80 02 80"); /* 55799({0: [1, 0], 1: [], 2: []}) */
    sn_assert_bytes(snap, len, want.p, want.len, "empty snapshot");

    names users = {0}, ues = {0};
    mcreg_registry *reg = sn_new(0, NULL);
    sn_other_state(reg, &users, &ues);
    ck_assert_uint_gt(mcreg_record_count(reg), 0);
    sn_restore_ok(reg, snap, len, 0, "empty snapshot");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    uint64_t at = 77;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_ERR_NOT_FOUND);
    for (size_t i = 0; i < users.n; i++) {
        uint32_t max = 0;
        ck_assert_msg(mcreg_user_max_ues(reg, users.v[i], &max) == MCREG_ERR_NOT_FOUND,
                      "limit of %s survived", users.v[i]);
    }
    for (size_t i = 0; i < ues.n; i++)
        ck_assert_ptr_null(mcreg_find_ue(reg, ues.v[i]));
    size_t len2 = 0;
    uint8_t *snap2 = sn_take(reg, &len2);
    sn_assert_bytes(snap2, len2, want.p, want.len, "snapshot after restoring empty");
    free(snap);
    free(snap2);
    bb_free(&want);
    names_free(&users);
    names_free(&ues);
    mcreg_registry_free(reg);
    mcreg_registry_free(empty);
}
END_TEST

/* Limits and no records. */
START_TEST(test_roundtrip_limits_only)
{
    mcreg_registry *src = sn_new(0, NULL);
    sn_limit(src, "b", 0);
    sn_limit(src, "a", UINT32_MAX);
    sn_limit(src, "c", 1);
    names users = {0};
    static const char *const u[] = {"a", "b", "c", "d"};
    names_from(&users, u, 4);
    mcreg_registry *dst = sn_new(0, NULL);
    sn_check_roundtrip(src, dst, &users, NULL, 0, "limits only");
    ck_assert_uint_eq(mcreg_user_count(dst), 0);
    uint32_t max = 5;
    ck_assert_int_eq(mcreg_user_max_ues(dst, "b", &max), MCREG_OK);
    ck_assert_uint_eq(max, 0);
    names_free(&users);
    mcreg_registry_free(src);
    mcreg_registry_free(dst);
}
END_TEST

/*
 * The writer's bytes for a small state, against bytes written here from
 * the README's rules: shortest heads, keys 1 and 2 always, records sorted
 * by user id then UE id bytewise ("Z" < "a" < "aa" < "b" < "\xc3\xa9"; "e10"
 * < "e2"), limits sorted by user id, settings in the binding's order, the
 * optional record keys only when present, BOOL 7 written as true.
 */
START_TEST(test_encoding_matches_hand_built)
{
    static const mcreg_setting s1[] = {
        {.key = "z", .type = MCREG_VAL_INT, .v.i = 24},
        {.key = "a", .type = MCREG_VAL_TEXT, .v.text = {"x\0y", 3}},
        {.key = "m", .type = MCREG_VAL_INT, .v.i = -25},
        {.key = "b", .type = MCREG_VAL_BOOL, .v.b = 7},
        {.key = "n", .type = MCREG_VAL_INT, .v.i = INT64_MIN},
        {.key = "y", .type = MCREG_VAL_BYTES, .v.bytes = {NULL, 0}},
        {.key = "f", .type = MCREG_VAL_BOOL, .v.b = 0},
        {.key = "q", .type = MCREG_VAL_INT, .v.i = 256},
    };
    mcreg_registry *reg = sn_new(1, NULL); /* UE e1 and e2 carry several users */
    /* Built in an order that is none of the sorted orders. */
    sn_reg_full(reg, "b", "e2", 5000, 10, NULL, NULL, 0, NULL, 0);
    sn_reg_full(reg, "\xc3\xa9", "e1", 100, 1, "sip:e@x", NULL, 24, NULL, 0);
    sn_reg_full(reg, "a", "e2", 0, 65535, NULL, "cid", 65536, s1, 8);
    sn_reg_full(reg, "aa", "e1", 5000, 10, NULL, NULL, 23, NULL, 0);
    sn_reg_full(reg, "Z", "e1", 1, 2, NULL, NULL, UINT32_MAX, NULL, 0);
    sn_reg_full(reg, "b", "e10", 5000, 10, NULL, NULL, 0, NULL, 0);
    sn_limit(reg, "b", 0);
    sn_limit(reg, "zed", 24);
    sn_limit(reg, "Z", UINT32_MAX);

    bb w;
    bb_init(&w);
    bb_hex(&w, "d9 d9 f7 a3 00 82 01 00");
    bb_uint(&w, 1);
    bb_array(&w, 6);
    /* Z/e1: registered 1, expires 1 + 2000 */
    bb_hex(&w, "a5 00 61 5a 01 62 65 31 02 01 03 19 07 d1 04 1a ff ff ff ff");
    /* a/e2: registered 0, expires 65535000, contact none, call-id, settings */
    bb_hex(&w, "a7 00 61 61 01 62 65 32 02 00 03 1a 03 e7 fc 18 04 1a 00 01 00 00");
    bb_hex(&w, "06 63 63 69 64 07 88");
    bb_hex(&w, "82 61 7a 18 18");                         /* ["z", 24] */
    bb_hex(&w, "82 61 61 63 78 00 79");                   /* ["a", "x\0y"] */
    bb_hex(&w, "82 61 6d 38 18");                         /* ["m", -25] */
    bb_hex(&w, "82 61 62 f5");                            /* ["b", true] */
    bb_hex(&w, "82 61 6e 3b 7f ff ff ff ff ff ff ff");    /* ["n", INT64_MIN] */
    bb_hex(&w, "82 61 79 40");                            /* ["y", h''] */
    bb_hex(&w, "82 61 66 f4");                            /* ["f", false] */
    bb_hex(&w, "82 61 71 19 01 00");                      /* ["q", 256] */
    /* aa/e1: registered 5000, expires 15000, CSeq 23 */
    bb_hex(&w, "a5 00 62 61 61 01 62 65 31 02 19 13 88 03 19 3a 98 04 17");
    /* b/e10 then b/e2 */
    bb_hex(&w, "a5 00 61 62 01 63 65 31 30 02 19 13 88 03 19 3a 98 04 00");
    bb_hex(&w, "a5 00 61 62 01 62 65 32 02 19 13 88 03 19 3a 98 04 00");
    /* é/e1: registered 100, expires 1100, CSeq 24, contact */
    bb_hex(&w, "a6 00 62 c3 a9 01 62 65 31 02 18 64 03 19 04 4c 04 18 18");
    bb_hex(&w, "05 67 73 69 70 3a 65 40 78");
    /* limits: Z, b, zed */
    bb_hex(&w, "02 83 82 61 5a 1a ff ff ff ff 82 61 62 00 82 63 7a 65 64 18 18");

    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, w.p, w.len, "snapshot of the small state");

    /* And the hand-built bytes restore to the same state. */
    mcreg_registry *dst = sn_new(1, NULL);
    sn_restore_ok(dst, w.p, w.len, 0, "hand-built snapshot");
    sn_assert_same_records(reg, dst, "hand-built snapshot");
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(dst, "zed", &max), MCREG_OK);
    ck_assert_uint_eq(max, 24);
    free(snap);
    bb_free(&w);
    mcreg_registry_free(reg);
    mcreg_registry_free(dst);
}
END_TEST

/* ======================================================================== */
/* Determinism                                                              */

/* _i: 0 UE exclusive on, 1 off. The same state built in shuffled orders,
 * in registries with different hash seeds, gives the same bytes. */
START_TEST(test_determinism_insertion_order)
{
    int shared = _i;
    sn_spec s = {0};
    sn_spec_rich(&s, shared);
    mcreg_registry *a = sn_new(shared, NULL);
    sn_apply(a, &s, 0);
    size_t len = 0;
    uint8_t *want = sn_take(a, &len);
    char *want_dump = sn_dump(a, &s.users, &s.ues);
    static const uint64_t seeds[] = {1, 2, 0xdeadbeefULL, 977};
    for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
        tu_opts c = {0};
        c.rules.shared_ues = shared;
        c.set_seed = k % 2 == 0;
        c.seed = seeds[k] * 0x9e3779b97f4a7c15ULL;
        mcreg_registry *b = tu_registry_new(&c);
        sn_apply(b, &s, seeds[k]);
        char *d = sn_dump(b, &s.users, &s.ues);
        sn_assert_text(d, want_dump, "state built in another order");
        size_t len2 = 0;
        uint8_t *got = sn_take(b, &len2);
        char what[64];
        snprintf(what, sizeof(what), "built in order %llu", (unsigned long long)seeds[k]);
        sn_assert_bytes(got, len2, want, len, what);
        free(got);
        free(d);
        mcreg_registry_free(b);
    }
    free(want);
    free(want_dump);
    mcreg_registry_free(a);
    sn_spec_free(&s);
}
END_TEST

static const mcreg_setting det_s1[] = {
    {.key = "old", .type = MCREG_VAL_TEXT, .v.text = {"first", 5}},
    {.key = "gone", .type = MCREG_VAL_INT, .v.i = 1},
};
static const mcreg_setting det_s2[] = {
    {.key = "mode", .type = MCREG_VAL_TEXT, .v.text = {"ptt", 3}},
    {.key = "level", .type = MCREG_VAL_INT, .v.i = -7},
    {.key = "key", .type = MCREG_VAL_BYTES, .v.bytes = {(const uint8_t *)"\x01\x02", 2}},
};

/* The final state of test_determinism_history, built directly. */
static void det_direct(mcreg_registry *reg)
{
    sn_reg_full(reg, "alice", "a1", 1000, 100, "sip:alice@new.example", "c-2", 5, det_s2, 3);
    sn_reg_full(reg, "alice", "a2", 2000, 50, NULL, NULL, 0, NULL, 0);
    sn_reg_full(reg, "bob", "b1", 1500, 70, "sip:bob@x", "b-call", 3, det_s1, 1);
    sn_limit(reg, "alice", 3);
    sn_limit(reg, "zed", 2);
}

/* The same state reached through refreshes, removals, expiry and limit
 * changes, with many users added and removed on the way. */
static void det_history(mcreg_registry *reg)
{
    char user[32];
    for (int i = 0; i < 200; i++) {
        snprintf(user, sizeof(user), "tmp-%d", i);
        sn_reg(reg, user, user, 30, 500);
        sn_limit(reg, user, 1);
    }
    sn_reg_full(reg, "alice", "a1", 1000, 10, "sip:alice@old.example", "c-1", 1, det_s1, 2);
    sn_reg(reg, "carol", "c1", 30, 1200);
    sn_reg_full(reg, "bob", "b1", 1500, 70, "sip:bob@x", "b-call", 3, det_s1, 1);
    sn_reg(reg, "alice", "a3", 5, 1700); /* expires at 6700 */
    sn_limit(reg, "carol", 5);
    sn_limit(reg, "zed", 9);
    sn_reg(reg, "alice", "a2", 50, 2000);
    sn_limit(reg, "alice", 1);
    sn_limit(reg, "zed", 2);
    sn_limit(reg, "alice", 3);
    for (int i = 0; i < 200; i++) {
        snprintf(user, sizeof(user), "tmp-%d", i);
        size_t n = 0;
        ck_assert_int_eq(mcreg_deregister_user(reg, user, 2500, &n), MCREG_OK);
        ck_assert_int_eq(mcreg_clear_user_max_ues(reg, user), MCREG_OK);
    }
    /* Refresh a1: new expiry 6000 + 95 s = 101000, as direct's 1000 + 100 s. */
    mcreg_binding b = tu_binding("alice", "a1", 95);
    b.contact = "sip:alice@new.example";
    b.call_id = "c-2";
    b.cseq = 5;
    b.settings = det_s2;
    b.n_settings = 3;
    mcreg_outcome out = (mcreg_outcome)-1;
    ck_assert_int_eq(mcreg_register(reg, &b, 6000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 6700, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(mcreg_deregister(reg, "carol", "c1", 6800), MCREG_OK);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "carol"), MCREG_OK);
}

START_TEST(test_determinism_history)
{
    mcreg_registry *a = sn_new(0, NULL);
    mcreg_registry *b = sn_new(0, NULL);
    det_direct(a);
    det_history(b);
    names users = {0}, ues = {0};
    static const char *const u[] = {"alice", "bob", "carol", "zed", "tmp-0", "tmp-199"};
    static const char *const e[] = {"a1", "a2", "a3", "b1", "c1", "tmp-0"};
    names_from(&users, u, 6);
    names_from(&ues, e, 6);
    char *da = sn_dump(a, &users, &ues), *db = sn_dump(b, &users, &ues);
    sn_assert_text(db, da, "state reached through history");
    size_t la = 0, lb = 0;
    uint8_t *sa = sn_take(a, &la), *sb = sn_take(b, &lb);
    sn_assert_bytes(sb, lb, sa, la, "snapshot of the state reached through history");
    free(sa);
    free(sb);
    free(da);
    free(db);
    names_free(&users);
    names_free(&ues);
    mcreg_registry_free(a);
    mcreg_registry_free(b);
}
END_TEST

/* The snapshot of the golden state built here is the committed file (with
 * MCREG_WRITE_GOLDEN=path, it is first written to path). */
START_TEST(test_golden_builder_matches_file)
{
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    golden_check(reg, "golden state as built");
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    const char *out = getenv("MCREG_WRITE_GOLDEN");
    if (out && *out) {
        sn_write_file(out, snap, len);
        fprintf(stderr, "golden snapshot (%zu bytes) written to %s\n", len, out);
    }
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    sn_assert_bytes(snap, len, file, flen, "snapshot of golden_build() vs golden-v1.cbor");
    free(file);
    free(snap);
    mcreg_registry_free(reg);
}
END_TEST

/* Every field of every record and every limit of the committed file, as
 * literals. This check stays for as long as format 1 is read. */
START_TEST(test_golden_restore_fields)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(0, &ev);
    sn_reg(reg, "someone", "ue-a1", 60, 10);
    sn_limit(reg, G_CAROL, 2);
    tu_events_reset(&ev);
    sn_restore_ok(reg, file, flen, G_NOW, "golden-v1.cbor");
    golden_check(reg, "golden-v1.cbor restored");
    ck_assert_ptr_null(mcreg_find(reg, "someone", "ue-a1"));
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "ue-a1")), G_ALICE);
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);

    /* The same file restored later drops what has expired by then. */
    mcreg_registry *later = sn_new(0, NULL);
    sn_restore_ok(later, file, flen, 121500, "golden-v1.cbor at 121500");
    ck_assert_uint_eq(mcreg_record_count(later), 4);
    ck_assert_ptr_null(mcreg_find(later, G_BOB, "ue-b1"));
    ck_assert_ptr_null(mcreg_find(later, G_BOB, "ue-b2"));
    ck_assert_uint_eq(mcreg_user_count(later), 2);
    uint32_t max = 7;
    ck_assert_int_eq(mcreg_user_max_ues(later, G_BOB, &max), MCREG_OK);
    ck_assert_uint_eq(max, 0);
    free(file);
    tu_events_free(&ev);
    mcreg_registry_free(reg);
    mcreg_registry_free(later);
}
END_TEST

/* The snapshot of the restored file is the file, byte for byte. When a
 * later minor format version adds keys, this check moves to a new golden
 * file of that version, while test_golden_restore_fields keeps reading
 * this one. */
START_TEST(test_golden_resnapshot_identical)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    mcreg_registry *reg = sn_new(0, NULL);
    sn_restore_ok(reg, file, flen, G_NOW, "golden-v1.cbor");
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, file, flen, "snapshot of restored golden-v1.cbor");
    free(snap);
    free(file);
    mcreg_registry_free(reg);
}
END_TEST

/* The file with its major version changed to 2 (and to 0): VERSION, and
 * the registry unchanged. */
START_TEST(test_golden_other_major_is_version_error)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    /* d9 d9 f7, a3, 00, 82, major at offset 6 */
    static const uint8_t head[] = {0xd9, 0xd9, 0xf7, 0xa3, 0x00, 0x82, 0x01, 0x00};
    ck_assert_msg(flen > sizeof(head) && memcmp(file, head, sizeof(head)) == 0,
                  "golden-v1.cbor does not start with the version [1, 0]");
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    names users = {0};
    static const char *const u[] = {G_ALICE, G_BOB, G_CAROL, G_ZED};
    names_from(&users, u, 4);
    char *before = sn_dump(reg, &users, NULL);
    static const uint8_t majors[] = {0x02, 0x00, 0x17};
    for (size_t k = 0; k < sizeof(majors); k++) {
        file[6] = majors[k];
        int rc = mcreg_restore(reg, file, flen, G_NOW);
        ck_assert_msg(rc == MCREG_ERR_VERSION, "major %u: rc %d, expected MCREG_ERR_VERSION",
                      (unsigned)majors[k], rc);
        char *d = sn_dump(reg, &users, NULL);
        sn_assert_text(d, before, "state after a VERSION error");
        free(d);
    }
    free(before);
    free(file);
    names_free(&users);
    mcreg_registry_free(reg);
}
END_TEST

#define D_USER "sip:dora@mcptt.example"

/*
 * golden-v1.1-unknown-keys.cbor: format 1.5, with keys unknown to format
 * 1.0 at the top level (3, 24, 1000) and in records (8, 25 and 9), whose
 * values nest arrays, maps, text, floats and simple values. It restores as
 * if they were not there, and its snapshot is the 1.0 encoding of that
 * state, written here by hand.
 */
START_TEST(test_golden_unknown_keys)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.1-unknown-keys.cbor", &flen);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(0, &ev);
    sn_restore_ok(reg, file, flen, G_NOW, "golden-v1.1-unknown-keys.cbor");
    static const exp_record recs[] = {
        {D_USER, "ue-d1", "sip:dora@192.0.2.20", NULL, 3, 1000, 61000, 1,
         {{"mode", MCREG_VAL_TEXT, 0, "ptt", 3}}},
        {D_USER, "ue-d2", NULL, "d2@host.example", 0, 2000, 62000, 0, {{0}}},
    };
    static const exp_limit lims[] = {{D_USER, 4}};
    sn_check_state(reg, recs, 2, lims, 1, NULL, 0, "golden-v1.1-unknown-keys.cbor");
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);

    bb w;
    bb_init(&w);
    snap_open(&w, 3);
    bb_uint(&w, 1);
    bb_array(&w, 2);
    rec_open(&w, D_USER, "ue-d1", 1000, 61000, 3, 2);
    bb_uint(&w, 5);
    bb_text(&w, "sip:dora@192.0.2.20");
    bb_uint(&w, 7);
    bb_array(&w, 1);
    bb_array(&w, 2);
    bb_text(&w, "mode");
    bb_text(&w, "ptt");
    rec_open(&w, D_USER, "ue-d2", 2000, 62000, 0, 1);
    bb_uint(&w, 6);
    bb_text(&w, "d2@host.example");
    bb_uint(&w, 2);
    bb_array(&w, 1);
    bb_array(&w, 2);
    bb_text(&w, D_USER);
    bb_uint(&w, 4);
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, w.p, w.len, "snapshot of the restored 1.5 file");
    free(snap);
    bb_free(&w);
    free(file);
    tu_events_free(&ev);
    mcreg_registry_free(reg);
}
END_TEST

Suite *suite_snapshot_encode(void)
{
    Suite *s = suite_create("snapshot_encode");
    TCase *tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_roundtrip_rich, 0, 2);
    tcase_add_test(tc, test_roundtrip_empty);
    tcase_add_test(tc, test_roundtrip_limits_only);
    tcase_add_test(tc, test_encoding_matches_hand_built);
    tcase_add_loop_test(tc, test_determinism_insertion_order, 0, 2);
    tcase_add_test(tc, test_determinism_history);
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_golden_builder_matches_file);
    tcase_add_test(tc, test_golden_restore_fields);
    tcase_add_test(tc, test_golden_resnapshot_identical);
    tcase_add_test(tc, test_golden_other_major_is_version_error);
    tcase_add_test(tc, test_golden_unknown_keys);
    suite_add_tcase(s, tc);
    return s;
}
