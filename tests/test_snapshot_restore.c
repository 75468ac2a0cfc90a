/* Restore semantics: expiry at the restoring clock, the state replaced
 * without events, BUSY from callbacks and visitors, invalid arguments, a
 * restored registry that works like any other, shared UEs, limits, custom
 * allocators, later minor versions, unsorted input, longer heads than
 * needed, and records from a clock ahead. */
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

/* ======================================================================== */
/* Restore semantics                                                        */

/* Records with expires_at <= now_ms are dropped: == now_ms goes, now_ms + 1
 * stays; a user left without records keeps its limit, and one without a
 * limit is gone. */
START_TEST(test_restore_expiry_boundary)
{
    mcreg_registry *src = sn_new(0, NULL);
    sn_reg(src, "keep", "k-at", 5, 0);         /* expires 5000: dropped */
    sn_reg(src, "keep", "k-after", 5, 1);      /* expires 5001: kept */
    sn_reg(src, "gone-limit", "g1", 5, 0);     /* 5000 */
    sn_reg(src, "gone-limit", "g2", 4, 500);   /* 4500 */
    sn_reg(src, "gone", "x1", 5, 0);           /* 5000 */
    sn_limit(src, "gone-limit", 2);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(0, &ev);
    sn_restore_ok(reg, snap, len, 5000, "restore at 5000");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_ptr_null(mcreg_find(reg, "keep", "k-at"));
    ck_assert_ptr_nonnull(mcreg_find(reg, "keep", "k-after"));
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "keep"), 1);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 5001);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "gone-limit", &max), MCREG_OK);
    ck_assert_uint_eq(max, 2);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "gone-limit"), 0);
    ck_assert_int_eq(mcreg_user_foreach(reg, "gone-limit", tu_collect_ue, &ev), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "gone", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "gone"), 0);
    ck_assert_ptr_null(mcreg_find_ue(reg, "x1"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "g1"));
    ck_assert_msg(ev.count == 0, "restore emitted events (an expiry included?): %s", ev.log);

    /* The limit-only user's limit still governs (REJECT at 2). */
    sn_reg(reg, "gone-limit", "n1", 60, 6000);
    sn_reg(reg, "gone-limit", "n2", 60, 6000);
    mcreg_binding b = tu_binding("gone-limit", "n3", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 6000, NULL), MCREG_ERR_LIMIT);

    /* One millisecond earlier, everything is kept. */
    mcreg_registry *early = sn_new(0, NULL);
    sn_restore_ok(early, snap, len, 4499, "restore at 4499");
    ck_assert_uint_eq(mcreg_record_count(early), 5);
    /* At UINT64_MAX nothing can be kept, and the limit still is. */
    sn_restore_ok(early, snap, len, UINT64_MAX, "restore at UINT64_MAX");
    ck_assert_uint_eq(mcreg_record_count(early), 0);
    ck_assert_uint_eq(mcreg_user_count(early), 0);
    ck_assert_int_eq(mcreg_next_expiry(early, &at), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(early, "gone-limit", &max), MCREG_OK);
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
    mcreg_registry_free(early);
}
END_TEST

/* A record expiring at UINT64_MAX is dropped only by now_ms == UINT64_MAX. */
START_TEST(test_restore_expiry_at_uint64_max)
{
    bb b;
    bb_init(&b);
    snap_records(&b, 1);
    rec_open(&b, "u", "e", UINT64_MAX - 1, UINT64_MAX, 0, 0);
    mcreg_registry *reg = sn_new(0, NULL);
    sn_restore_ok(reg, b.p, b.len, UINT64_MAX - 1, "at UINT64_MAX - 1");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "u", "e")), UINT64_MAX);
    sn_restore_ok(reg, b.p, b.len, UINT64_MAX, "at UINT64_MAX");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    bb_free(&b);
    mcreg_registry_free(reg);
}
END_TEST

/* Restoring replaces records and limits entirely and emits nothing, even
 * where registering the same state would have notified. */
START_TEST(test_restore_replaces_state_without_events)
{
    mcreg_registry *src = sn_new(1, NULL);
    sn_reg(src, "alice", "a1", 60, 1000);
    sn_reg(src, "alice", "a2", 60, 2000);
    sn_reg(src, "bob", "a1", 60, 3000);
    sn_reg_full(src, "old", "o1", 4000, 60, "sip:new@x", "new-call", 3, NULL, 0);
    sn_limit(src, "bob", 5);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    tu_events ev;
    tu_events_init(&ev);
    tu_opts c = {0};
    c.rules.shared_ues = 1;
    c.rules.notify_logoff = 1;
    c.fn = tu_events_cb;
    c.ud = &ev;
    mcreg_registry *reg = tu_registry_new(&c);
    sn_reg_full(reg, "old", "o1", 100, 600, "sip:old@x", "old-call", 9, NULL, 0);
    sn_reg(reg, "old", "o2", 60, 100);
    sn_reg(reg, "carol", "c1", 60, 100);
    sn_limit(reg, "carol", 1);
    sn_limit(reg, "old", 4);
    tu_events_reset(&ev);
    sn_restore_ok(reg, snap, len, 5000, "restore over another state");
    ck_assert_msg(ev.count == 0 && ev.len == 0, "restore emitted events: %s", ev.log);
    ck_assert_uint_eq(mcreg_record_count(reg), 4);
    ck_assert_ptr_null(mcreg_find(reg, "old", "o2"));
    ck_assert_ptr_null(mcreg_find(reg, "carol", "c1"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "c1"));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "carol", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "old", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "bob", &max), MCREG_OK);
    ck_assert_uint_eq(max, 5);
    const mcreg_record *r = mcreg_find(reg, "old", "o1");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_contact(r), "sip:new@x");
    ck_assert_str_eq(mcreg_record_call_id(r), "new-call");
    ck_assert_uint_eq(mcreg_record_cseq(r), 3);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 4000);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "old"), 1);
    /* The old state's expiries are gone from the expiry order too. */
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 61000);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 61000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ev.log, "EXPIRED(alice,a1);NOTIFY_LOGOFF(alice,a1>a2:[])");
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

/* A callback that tries restore (valid input, garbage, NULL buffer) and
 * snapshot from inside every event. */
typedef struct busy_cb {
    const uint8_t *snap;
    size_t len;
    int busy, wrong, calls;
    int snap_ok, snap_wrong;
    char why[128];
} busy_cb;

static void busy_cb_fn(const mcreg_event *ev, void *ud)
{
    busy_cb *c = ud;
    static const uint8_t garbage[] = {0xff, 0x00};
    /* BUSY comes before any check of the arguments but the registry. */
    static const char *const what[] = {"a valid snapshot", "a valid snapshot at UINT64_MAX",
                                       "garbage", "a NULL buffer"};
    int rcs[] = {
        mcreg_restore(ev->registry, c->snap, c->len, ev->at_ms),
        mcreg_restore(ev->registry, c->snap, c->len, UINT64_MAX),
        mcreg_restore(ev->registry, garbage, sizeof(garbage), ev->at_ms),
        mcreg_restore(ev->registry, NULL, 0, ev->at_ms),
    };
    for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
        if (rcs[i] == MCREG_ERR_BUSY) {
            c->busy++;
        } else {
            if (!c->wrong)
                snprintf(c->why, sizeof(c->why), "restore of %s inside %s gave %d", what[i],
                         mcreg_event_name(ev->type), rcs[i]);
            c->wrong++;
        }
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (mcreg_snapshot(ev->registry, &buf, &len) == MCREG_OK && buf && len)
        c->snap_ok++;
    else
        c->snap_wrong++;
    mcreg_buffer_free(ev->registry, buf);
    c->calls++;
}

START_TEST(test_restore_busy_in_callback)
{
    mcreg_registry *other = sn_new(0, NULL);
    sn_reg(other, "other", "o1", 60, 0);
    size_t len = 0;
    uint8_t *snap = sn_take(other, &len);

    busy_cb c;
    memset(&c, 0, sizeof(c));
    c.snap = snap;
    c.len = len;
    tu_opts cfg = {0};
    cfg.fn = busy_cb_fn;
    cfg.ud = &c;
    cfg.rules.notify_logoff = 1;
    mcreg_registry *reg = tu_registry_new(&cfg);
    sn_reg(reg, "alice", "a1", 60, 1000);
    sn_reg(reg, "alice", "a2", 60, 2000); /* CREATED + 2 NOTIFY_LOGON */
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "a1", 3000), MCREG_OK);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 62000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_ge(c.calls, 6);
    ck_assert_msg(c.wrong == 0 && c.busy == 4 * c.calls,
                  "restore inside a callback: %d BUSY, %d other answers; first: %s", c.busy,
                  c.wrong, c.why);
    ck_assert_msg(c.snap_wrong == 0 && c.snap_ok == c.calls, "snapshot inside a callback failed");
    ck_assert_ptr_null(mcreg_find(reg, "other", "o1"));
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    /* Not stuck: outside a callback, restore works. */
    sn_restore_ok(reg, snap, len, 0, "after the callbacks");
    ck_assert_ptr_nonnull(mcreg_find(reg, "other", "o1"));
    free(snap);
    mcreg_registry_free(other);
    mcreg_registry_free(reg);
}
END_TEST

typedef struct busy_visit {
    mcreg_registry *reg;
    const uint8_t *snap;
    size_t len;
    int busy, wrong, visits;
    uint8_t *inside; /* the snapshot taken during the first visit */
    size_t inside_len;
} busy_visit;

static int busy_visitor(const mcreg_record *r, void *ud)
{
    busy_visit *v = ud;
    (void)r;
    v->visits++;
    int rc = mcreg_restore(v->reg, v->snap, v->len, 0);
    if (rc == MCREG_ERR_BUSY)
        v->busy++;
    else
        v->wrong++;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (mcreg_snapshot(v->reg, &buf, &len) != MCREG_OK) {
        v->wrong++;
        return 0;
    }
    if (!v->inside) {
        v->inside = malloc(len);
        if (!v->inside)
            abort();
        memcpy(v->inside, buf, len);
        v->inside_len = len;
    }
    mcreg_buffer_free(v->reg, buf);
    return 0;
}

/* Inside a visitor restore is BUSY and snapshot works, giving the same
 * bytes as outside. */
START_TEST(test_restore_busy_in_visitor)
{
    mcreg_registry *other = sn_new(0, NULL);
    sn_reg(other, "other", "o1", 60, 0);
    size_t len = 0;
    uint8_t *snap = sn_take(other, &len);
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    size_t want_len = 0;
    uint8_t *want = sn_take(reg, &want_len);

    busy_visit v;
    memset(&v, 0, sizeof(v));
    v.reg = reg;
    v.snap = snap;
    v.len = len;
    ck_assert_int_eq(mcreg_foreach(reg, busy_visitor, &v), MCREG_OK);
    ck_assert_int_eq(mcreg_user_foreach(reg, G_BOB, busy_visitor, &v), MCREG_OK);
    ck_assert_int_eq(v.visits, 8);
    ck_assert_msg(v.busy == 8 && v.wrong == 0, "restore in a visitor: %d BUSY, %d other", v.busy,
                  v.wrong);
    ck_assert_ptr_nonnull(v.inside);
    sn_assert_bytes(v.inside, v.inside_len, want, want_len, "snapshot inside a visitor");
    golden_check(reg, "after the visits");
    sn_restore_ok(reg, snap, len, 0, "after the visits");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    free(v.inside);
    free(snap);
    free(want);
    mcreg_registry_free(other);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_restore_invalid_arguments)
{
    mcreg_registry *src = sn_new(0, NULL);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    ck_assert_int_eq(mcreg_restore(NULL, snap, len, 0), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_restore(NULL, NULL, 0, 0), MCREG_ERR_MISUSE);
    /* No bytes at all are an empty input, not a host bug. */
    ck_assert_int_eq(mcreg_restore(reg, NULL, 0, 0), MCREG_ERR_FORMAT);
    ck_assert_str_eq(mcreg_error_detail(reg), "snapshot: byte 0: truncated: an item was expected");
    ck_assert_int_eq(mcreg_restore(reg, NULL, len, 0), MCREG_ERR_MISUSE);
    ck_assert_str_eq(mcreg_error_detail(reg), "buf: NULL with a non-zero len");
    golden_check(reg, "after refused restores");
    /* The same registry then restores the (empty) snapshot. */
    sn_restore_ok(reg, snap, len, 0, "after INVALID");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    free(snap);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_snapshot_invalid_arguments)
{
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    uint8_t marker = 0;
    uint8_t *buf = &marker;
    size_t len = 4242;
    ck_assert_int_eq(mcreg_snapshot(NULL, &buf, &len), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_snapshot(reg, NULL, &len), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_snapshot(reg, &buf, NULL), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_snapshot(NULL, NULL, NULL), MCREG_ERR_MISUSE);
    ck_assert_ptr_eq(buf, &marker);
    ck_assert_uint_eq(len, 4242);
    golden_check(reg, "after INVALID snapshots");
    mcreg_registry_free(reg);
}
END_TEST

/* mcreg_buffer_free with a NULL buffer or a NULL registry does nothing;
 * the snapshot's buffer comes from the registry's allocator. */
START_TEST(test_buffer_free_null)
{
    tu_alloc a;
    memset(&a, 0, sizeof(a));
    mcreg_allocator al = tu_allocator(&a);
    tu_opts c = {0};
    c.alloc = &al;
    mcreg_registry *reg = tu_registry_new(&c);
    golden_build(reg);
    size_t live = a.live, bytes = a.live_bytes;
    mcreg_buffer_free(reg, NULL);
    mcreg_buffer_free(NULL, NULL);
    ck_assert_uint_eq(a.live, live);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(reg, &buf, &len), MCREG_OK);
    ck_assert_msg(a.live == live + 1 && a.live_bytes >= bytes + len,
                  "the snapshot buffer is not one block of the registry's allocator "
                  "(%zu -> %zu blocks, %zu -> %zu bytes, len %zu)",
                  live, a.live, bytes, a.live_bytes, len);
    mcreg_buffer_free(NULL, buf); /* allocator unknown: nothing happens */
    ck_assert_uint_eq(a.live, live + 1);
    mcreg_buffer_free(reg, buf);
    ck_assert_uint_eq(a.live, live);
    ck_assert_uint_eq(a.live_bytes, bytes);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
}
END_TEST

/* A callback that takes a snapshot during each notification and checks
 * that the notification's fields are the same afterwards. */
typedef struct snap_cb {
    tu_events log;    /* "recipient:[others]" per notification, before the snapshot */
    int calls, disturbed, failed;
    char why[256];
    uint8_t *first;   /* snapshot taken during the first NOTIFY_LOGON */
    size_t first_len;
} snap_cb;

static void snap_cb_render(tu_events *t, const mcreg_event *ev)
{
    tu_events_append(t, ev->recipient_ue_id);
    tu_events_append(t, ":[");
    for (size_t i = 0; i < ev->n_other; i++) {
        if (i)
            tu_events_append(t, ",");
        tu_events_append(t, ev->other_ue_ids[i]);
    }
    tu_events_append(t, "]");
}

static void snap_cb_fn(const mcreg_event *ev, void *ud)
{
    snap_cb *c = ud;
    if (ev->type != MCREG_EV_NOTIFY_LOGON && ev->type != MCREG_EV_NOTIFY_LOGOFF)
        return;
    c->calls++;
    tu_events before, after;
    tu_events_init(&before);
    tu_events_init(&after);
    snap_cb_render(&before, ev);
    const char *const *ids = ev->other_ue_ids;
    size_t n = ev->n_other;
    const char *saved[16];
    for (size_t i = 0; i < n && i < 16; i++)
        saved[i] = ids[i];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mcreg_snapshot(ev->registry, &buf, &len);
    if (rc != MCREG_OK) {
        c->failed++;
        snprintf(c->why, sizeof(c->why), "snapshot in a callback: %d", rc);
    } else {
        if (!c->first && ev->type == MCREG_EV_NOTIFY_LOGON) {
            c->first = malloc(len);
            if (!c->first)
                abort();
            memcpy(c->first, buf, len);
            c->first_len = len;
        }
        mcreg_buffer_free(ev->registry, buf);
    }
    snap_cb_render(&after, ev);
    int same = ev->other_ue_ids == ids && ev->n_other == n && strcmp(before.log, after.log) == 0;
    for (size_t i = 0; same && i < n && i < 16; i++)
        same = ev->other_ue_ids[i] == saved[i];
    if (!same) {
        c->disturbed++;
        snprintf(c->why, sizeof(c->why), "other_ue_ids %s became %s", before.log, after.log);
    }
    if (c->log.len)
        tu_events_append(&c->log, ";");
    tu_events_append(&c->log, mcreg_event_name(ev->type));
    tu_events_append(&c->log, ">");
    tu_events_append(&c->log, before.log);
    tu_events_free(&before);
    tu_events_free(&after);
}

START_TEST(test_snapshot_in_callback)
{
    snap_cb c;
    memset(&c, 0, sizeof(c));
    tu_events_init(&c.log);
    tu_opts cfg = {0};
    cfg.rules.shared_ues = 1;
    cfg.rules.notify_logoff = 1;
    cfg.fn = snap_cb_fn;
    cfg.ud = &c;
    mcreg_registry *reg = tu_registry_new(&cfg);
    sn_reg(reg, "alice", "u1", 60, 1000);
    sn_reg(reg, "alice", "u2", 60, 2000);
    sn_reg(reg, "alice", "u3", 60, 1500);
    sn_reg(reg, "bob", "u2", 60, 1200);
    tu_events_reset(&c.log);
    c.calls = 0;
    free(c.first);
    c.first = NULL;

    sn_reg(reg, "alice", "u4", 60, 3000);
    ck_assert_msg(c.failed == 0 && c.disturbed == 0, "%s", c.why);
    ck_assert_str_eq(c.log.log, "NOTIFY_LOGON>u4:[u1,u3,u2];NOTIFY_LOGON>u1:[u3,u2,u4];"
                                "NOTIFY_LOGON>u3:[u1,u2,u4];NOTIFY_LOGON>u2:[u1,u3,u4]");
    /* The snapshot taken during the call is the state after the call. */
    ck_assert_ptr_nonnull(c.first);
    size_t len = 0;
    uint8_t *after = sn_take(reg, &len);
    sn_assert_bytes(c.first, c.first_len, after, len, "snapshot inside NOTIFY_LOGON");

    tu_events_reset(&c.log);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "u1", 4000), MCREG_OK);
    ck_assert_msg(c.failed == 0 && c.disturbed == 0, "%s", c.why);
    ck_assert_str_eq(c.log.log, "NOTIFY_LOGOFF>u3:[u2,u4];NOTIFY_LOGOFF>u2:[u3,u4];"
                                "NOTIFY_LOGOFF>u4:[u3,u2]");
    free(after);
    free(c.first);
    tu_events_free(&c.log);
    mcreg_registry_free(reg);
}
END_TEST

/* The state of test_restore_then_usable, as a snapshot written by hand
 * (records sorted by ids, which is not their registered_at order):
 *   alice: a (3000, 50000)  b (1000, 40000)  c (2000, 40000)  s1 (2000, 60000)
 *   bob:   s1 (2000, 60000) s2 (2500, 60000) x (500, 40000, Call-ID bob-call, CSeq 10)
 *   carol: c (2000, 40000)  s2 (1500, 70000)
 * UEs c, s1 and s2 carry two users each. */
static void usable_snapshot(bb *b)
{
    snap_records(b, 9);
    rec_open(b, "alice", "a", 3000, 50000, 1, 0);
    rec_open(b, "alice", "b", 1000, 40000, 1, 0);
    rec_open(b, "alice", "c", 2000, 40000, 1, 0);
    rec_open(b, "alice", "s1", 2000, 60000, 1, 0);
    rec_open(b, "bob", "s1", 2000, 60000, 1, 0);
    rec_open(b, "bob", "s2", 2500, 60000, 1, 0);
    rec_open(b, "bob", "x", 500, 40000, 10, 1);
    bb_uint(b, 6);
    bb_text(b, "bob-call");
    rec_open(b, "carol", "c", 2000, 40000, 1, 0);
    rec_open(b, "carol", "s2", 1500, 70000, 1, 0);
}

static char *sn_all_pairs(const mcreg_registry *reg)
{
    tu_events t;
    tu_events_init(&t);
    ck_assert_int_eq(mcreg_foreach(reg, tu_collect_pair, &t), MCREG_OK);
    return t.log;
}

static char *sn_user_ues(const mcreg_registry *reg, const char *user)
{
    tu_events t;
    tu_events_init(&t);
    ck_assert_int_eq(mcreg_user_foreach(reg, user, tu_collect_ue, &t), MCREG_OK);
    return t.log;
}

/* After a restore the registry works as if built by registering. */
START_TEST(test_restore_then_usable)
{
    bb b;
    bb_init(&b);
    usable_snapshot(&b);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(1, &ev);
    sn_reg(reg, "zed", "c", 60, 100); /* replaced by the restore */
    tu_events_reset(&ev);
    sn_restore_ok(reg, b.p, b.len, 5000, "hand-built shared state");
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);
    ck_assert_uint_eq(mcreg_record_count(reg), 9);
    ck_assert_uint_eq(mcreg_user_count(reg), 3);

    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 40000);
    /* find_ue: earliest (registered_at, user_id). */
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "s1")), "alice");
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "s2")), "carol");
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "c")), "alice");
    /* Orders: (registered_at, ue_id) per user, (registered_at, ue_id,
     * user_id) overall. */
    char *s = sn_user_ues(reg, "alice");
    ck_assert_str_eq(s, "b,c,s1,a");
    free(s);
    s = sn_user_ues(reg, "bob");
    ck_assert_str_eq(s, "x,s1,s2");
    free(s);
    s = sn_all_pairs(reg);
    ck_assert_str_eq(s, "bob/x,alice/b,carol/s2,alice/c,carol/c,alice/s1,bob/s1,bob/s2,alice/a");
    free(s);

    /* A new UE: the notifications name the restored UEs in registered_at order. */
    sn_reg(reg, "alice", "new", 100, 10000);
    ck_assert_str_eq(ev.log, "CREATED(alice,new);"
                             "NOTIFY_LOGON(alice,new>new:[b,c,s1,a]);"
                             "NOTIFY_LOGON(alice,new>b:[c,s1,a,new]);"
                             "NOTIFY_LOGON(alice,new>c:[b,s1,a,new]);"
                             "NOTIFY_LOGON(alice,new>s1:[b,c,a,new]);"
                             "NOTIFY_LOGON(alice,new>a:[b,c,s1,new])");
    tu_events_reset(&ev);

    /* The restored Call-ID and CSeq order refreshes. */
    mcreg_binding r = tu_binding("bob", "x", 30);
    r.call_id = "bob-call";
    r.cseq = 9;
    ck_assert_int_eq(mcreg_register(reg, &r, 10000, NULL), MCREG_ERR_STALE);
    r.cseq = 10;
    ck_assert_int_eq(mcreg_register(reg, &r, 10000, NULL), MCREG_ERR_STALE);
    ck_assert_int_eq(ev.count, 0);
    ck_assert_uint_eq(mcreg_record_cseq(mcreg_find(reg, "bob", "x")), 10);
    r.cseq = 11;
    mcreg_outcome out = (mcreg_outcome)-1;
    ck_assert_int_eq(mcreg_register(reg, &r, 10000, &out), MCREG_OK); /* expires 40000 again */
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_str_eq(ev.log, "REFRESHED(bob,x)");
    tu_events_reset(&ev);

    /* Expiry in (expires_at, registered_at, ue_id, user_id) order. */
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 39999, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mcreg_expire(reg, 40000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(ev.log, "EXPIRED(bob,x);EXPIRED(alice,b);EXPIRED(alice,c);EXPIRED(carol,c)");
    ck_assert_ptr_null(mcreg_find_ue(reg, "c"));
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 50000);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, &n), MCREG_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(ev.log, "EXPIRED(alice,a);EXPIRED(alice,s1);EXPIRED(bob,s1);"
                             "EXPIRED(bob,s2);EXPIRED(carol,s2);EXPIRED(alice,new)");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    bb_free(&b);
    tu_events_free(&ev);
    mcreg_registry_free(reg);
}
END_TEST

/* A snapshot in which two users share a UE restores with UE exclusive off,
 * and is FORMAT with it on, leaving the registry as it was. */
START_TEST(test_restore_shared_ue_needs_exclusive_off)
{
    mcreg_registry *src = sn_new(1, NULL);
    sn_reg(src, "alice", "ue", 60, 1000);
    sn_reg(src, "bob", "ue", 60, 2000);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    mcreg_registry *off = sn_new(1, NULL);
    sn_restore_ok(off, snap, len, 0, "UE exclusive off");
    ck_assert_uint_eq(mcreg_record_count(off), 2);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(off, "ue")), "alice");

    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *on = sn_new(0, &ev);
    golden_build(on);
    tu_events_reset(&ev);
    int rc = mcreg_restore(on, snap, len, 0);
    ck_assert_msg(rc == MCREG_ERR_FORMAT, "UE exclusive on: rc %d, expected MCREG_ERR_FORMAT", rc);
    golden_check(on, "after the FORMAT error");
    ck_assert_int_eq(ev.count, 0);

    /* The hand-built shared state too. */
    bb b;
    bb_init(&b);
    usable_snapshot(&b);
    rc = mcreg_restore(on, b.p, b.len, 0);
    ck_assert_msg(rc == MCREG_ERR_FORMAT, "UE exclusive on: rc %d, expected MCREG_ERR_FORMAT", rc);
    golden_check(on, "after the FORMAT error");
    bb_free(&b);
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(off);
    mcreg_registry_free(on);
}
END_TEST

/* Limits are not enforced on restored records: neither the registry's nor
 * the user's own. */
START_TEST(test_restore_limits_not_enforced)
{
    mcreg_registry *src = sn_new(0, NULL);
    sn_reg(src, "alice", "a1", 60, 1000);
    sn_reg(src, "alice", "a2", 60, 1000);
    sn_reg(src, "alice", "a3", 60, 1000);
    sn_limit(src, "alice", 2);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);
    tu_events ev;
    tu_events_init(&ev);
    tu_opts c = {0};
    c.rules.max_ues = 1;
    c.fn = tu_events_cb;
    c.ud = &ev;
    mcreg_registry *reg = tu_registry_new(&c);
    sn_restore_ok(reg, snap, len, 2000, "user over its limits");
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 3);
    ck_assert_int_eq(ev.count, 0);
    mcreg_binding b = tu_binding("alice", "a4", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 3000, NULL), MCREG_ERR_LIMIT);
    ck_assert_str_eq(ev.log, "REJECTED(alice,a4)");
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

/* Through a counting allocator: the old state's memory goes back at each
 * restore, failed restores keep nothing, and freeing the registry returns
 * every block. */
START_TEST(test_restore_custom_allocator)
{
    sn_spec s = {0};
    sn_spec_rich(&s, 0);
    mcreg_registry *src = sn_new(0, NULL);
    sn_apply(src, &s, 0);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    tu_alloc a;
    memset(&a, 0, sizeof(a));
    mcreg_allocator al = tu_allocator(&a);
    tu_opts c = {0};
    c.alloc = &al;
    mcreg_registry *reg = tu_registry_new(&c);
    size_t live0 = a.live, calls0 = a.calls;
    sn_restore_ok(reg, snap, len, 0, "first restore");
    ck_assert_msg(a.calls > calls0 && a.live > live0, "restore did not use the allocator");
    size_t live1 = a.live, bytes1 = a.live_bytes;
    for (int k = 0; k < 5; k++) {
        sn_restore_ok(reg, snap, len, 0, "restore again");
        ck_assert_msg(a.live == live1 && a.live_bytes == bytes1,
                      "restore %d: %zu blocks / %zu bytes live, %zu / %zu after the first", k,
                      a.live, a.live_bytes, live1, bytes1);
    }
    /* Failed restores (truncated) allocate nothing that stays. */
    for (size_t cut = len / 2; cut < len; cut += len / 7 + 1) {
        ck_assert_int_eq(mcreg_restore(reg, snap, cut, 0), MCREG_ERR_FORMAT);
        ck_assert_msg(a.live == live1 && a.live_bytes == bytes1, "failed restore kept memory");
    }
    mcreg_registry *dst = sn_new(0, NULL);
    sn_check_roundtrip(reg, dst, &s.users, &s.ues, 0, "registry with its own allocator");
    /* The empty state needs less. */
    bb e;
    bb_init(&e);
    bb_hex(&e, "d9 d9 f7 a1 00 82 01 00");
    sn_restore_ok(reg, e.p, e.len, 0, "empty state");
    ck_assert_msg(a.live < live1 && a.live_bytes < bytes1, "the old state was not freed");
    mcreg_registry_free(reg);
    ck_assert_msg(a.live == 0 && a.live_bytes == 0, "%zu blocks / %zu bytes leaked", a.live,
                  a.live_bytes);
    bb_free(&e);
    free(snap);
    mcreg_registry_free(src);
    mcreg_registry_free(dst);
    sn_spec_free(&s);
}
END_TEST

/* Keys 1 and 2 are optional; a minor version above 0 is read. */
START_TEST(test_restore_minimal_and_later_minor)
{
    mcreg_registry *reg = sn_new(0, NULL);
    bb b;
    bb_init(&b);

    golden_build(reg);
    bb_hex(&b, "d9 d9 f7 a1 00 82 01 00"); /* {0: [1, 0]} */
    sn_restore_ok(reg, b.p, b.len, 0, "version only");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, G_ZED, &max), MCREG_ERR_NOT_FOUND);

    bb_reset(&b);
    snap_limits(&b, 1); /* {0: [1, 0], 2: [["z", 3]]} */
    bb_array(&b, 2);
    bb_text(&b, "z");
    bb_uint(&b, 3);
    sn_restore_ok(reg, b.p, b.len, 0, "limits only");
    ck_assert_int_eq(mcreg_user_max_ues(reg, "z", &max), MCREG_OK);
    ck_assert_uint_eq(max, 3);

    /* Later minor versions than 1.1 (which always carries its checksum:
     * test_repl.c); their records alone need none. */
    static const uint64_t minors[] = {2, 5, 24, 65536, UINT64_MAX};
    for (size_t k = 0; k < sizeof(minors) / sizeof(minors[0]); k++) {
        bb_reset(&b);
        bb_self(&b);
        bb_map(&b, 2);
        bb_uint(&b, 0);
        bb_version(&b, 1, minors[k]);
        bb_uint(&b, 1);
        bb_array(&b, 1);
        rec_alt(&b, -1, NULL);
        sn_restore_ok(reg, b.p, b.len, 0, "later minor version");
        ck_assert_uint_eq(mcreg_record_count(reg), 1);
        ck_assert_ptr_nonnull(mcreg_find(reg, "u1", "e1"));
        /* Written back as 1.0. */
        size_t len = 0;
        uint8_t *snap = sn_take(reg, &len);
        ck_assert_msg(len > 8 && snap[6] == 1 && snap[7] == 0, "not written as version 1.0");
        free(snap);
    }
    bb_free(&b);
    mcreg_registry_free(reg);
}
END_TEST

/* Records and limits in no particular order are read (the writer sorts
 * them); the snapshot of the result is the sorted one. */
START_TEST(test_restore_unsorted_input)
{
    bb in, want;
    bb_init(&in);
    bb_init(&want);
    snap_open(&in, 3);
    bb_uint(&in, 1);
    bb_array(&in, 4);
    rec_open(&in, "bob", "e2", 10, 90000, 1, 0);
    rec_open(&in, "alice", "e1", 20, 90000, 2, 0);
    rec_open(&in, "bob", "e1", 30, 90000, 3, 0);
    rec_open(&in, "Alice", "e3", 40, 90000, 4, 0);
    bb_uint(&in, 2);
    bb_array(&in, 3);
    bb_array(&in, 2);
    bb_text(&in, "zed");
    bb_uint(&in, 1);
    bb_array(&in, 2);
    bb_text(&in, "alice");
    bb_uint(&in, 2);
    bb_array(&in, 2);
    bb_text(&in, "Zed");
    bb_uint(&in, 3);

    snap_open(&want, 3);
    bb_uint(&want, 1);
    bb_array(&want, 4);
    rec_open(&want, "Alice", "e3", 40, 90000, 4, 0);
    rec_open(&want, "alice", "e1", 20, 90000, 2, 0);
    rec_open(&want, "bob", "e1", 30, 90000, 3, 0);
    rec_open(&want, "bob", "e2", 10, 90000, 1, 0);
    bb_uint(&want, 2);
    bb_array(&want, 3);
    bb_array(&want, 2);
    bb_text(&want, "Zed");
    bb_uint(&want, 3);
    bb_array(&want, 2);
    bb_text(&want, "alice");
    bb_uint(&want, 2);
    bb_array(&want, 2);
    bb_text(&want, "zed");
    bb_uint(&want, 1);

    mcreg_registry *reg = sn_new(1, NULL);
    sn_restore_ok(reg, in.p, in.len, 0, "unsorted records and limits");
    char *s = sn_user_ues(reg, "bob");
    ck_assert_str_eq(s, "e2,e1");
    free(s);
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, want.p, want.len, "snapshot of unsorted input");
    mcreg_registry *reg2 = sn_new(1, NULL);
    sn_restore_ok(reg2, want.p, want.len, 0, "sorted records and limits");
    sn_assert_same_records(reg2, reg, "sorted vs unsorted input");
    free(snap);
    bb_free(&in);
    bb_free(&want);
    mcreg_registry_free(reg);
    mcreg_registry_free(reg2);
}
END_TEST

/* The reader does not insist on the writer's shortest heads (the README's
 * rules for readers do not include it): longer heads read the same. */
START_TEST(test_restore_longer_heads)
{
    bb in;
    bb_init(&in);
    bb_self(&in);
    bb_head_w(&in, 5, 3, 1);       /* map(3) in two bytes */
    bb_head_w(&in, 0, 0, 4);       /* key 0 in five bytes */
    bb_head_w(&in, 4, 2, 2);
    bb_head_w(&in, 0, 1, 8);       /* major 1 in nine bytes */
    bb_head_w(&in, 0, 0, 1);
    bb_head_w(&in, 0, 1, 1);       /* key 1 */
    bb_head_w(&in, 4, 1, 4);
    bb_head_w(&in, 5, 6, 1);
    bb_uint(&in, 0);
    bb_head_w(&in, 3, 2, 2);
    bb_put(&in, "u1", 2);
    bb_uint(&in, 1);
    bb_head_w(&in, 3, 2, 8);
    bb_put(&in, "e1", 2);
    bb_uint(&in, 2);
    bb_head_w(&in, 0, 1000, 8);
    bb_uint(&in, 3);
    bb_head_w(&in, 0, 90000, 8);
    bb_uint(&in, 4);
    bb_head_w(&in, 0, 7, 4);
    bb_uint(&in, 7);
    bb_head_w(&in, 4, 1, 1);
    bb_array(&in, 2);
    bb_head_w(&in, 3, 1, 1);
    bb_put(&in, "k", 1);
    bb_head_w(&in, 1, 4, 2);       /* -5 */
    bb_head_w(&in, 0, 2, 1);       /* key 2 */
    bb_head_w(&in, 4, 0, 1);

    bb want;
    bb_init(&want);
    snap_open(&want, 3);
    bb_uint(&want, 1);
    bb_array(&want, 1);
    rec_open(&want, "u1", "e1", 1000, 90000, 7, 1);
    bb_uint(&want, 7);
    bb_hex(&want, "81 82 61 6b 24");
    bb_uint(&want, 2);
    bb_array(&want, 0);

    mcreg_registry *reg = sn_new(0, NULL);
    sn_restore_ok(reg, in.p, in.len, 0, "longer heads");
    const mcreg_record *r = mcreg_find(reg, "u1", "e1");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 90000);
    ck_assert_int_eq(mcreg_record_setting_find(r, "k")->v.i, -5);
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, want.p, want.len, "snapshot after longer heads");
    free(snap);
    bb_free(&in);
    bb_free(&want);
    mcreg_registry_free(reg);
}
END_TEST

/* ======================================================================== */

/* Records registered after the restoring now_ms (a snapshot of a clock
 * ahead): a new record at now_ms sorts before them, in the user's list and
 * in a shared UE's list, and everything stays in order. */
START_TEST(test_restore_records_from_a_clock_ahead)
{
    bb b;
    bb_init(&b);
    snap_records(&b, 3);
    rec_open(&b, "u1", "e5", 9000, 99000, 1, 0);
    rec_open(&b, "u1", "shared", 8000, 99000, 1, 0);
    rec_open(&b, "u2", "shared", 7000, 99000, 1, 0);
    mcreg_registry *reg = sn_new(1, NULL);
    sn_restore_ok(reg, b.p, b.len, 1000, "records registered after now_ms");
    mcreg_binding nb = tu_binding("u1", "e9", 60);
    ck_assert_int_eq(mcreg_register(reg, &nb, 1000, NULL), MCREG_OK);
    nb = tu_binding("u3", "shared", 60);
    ck_assert_int_eq(mcreg_register(reg, &nb, 1000, NULL), MCREG_OK);
    nb = tu_binding("u1", "e7", 60);
    ck_assert_int_eq(mcreg_register(reg, &nb, 8500, NULL), MCREG_OK); /* in between */
    tu_events order;
    tu_events_init(&order);
    ck_assert_int_eq(mcreg_user_foreach(reg, "u1", tu_collect_ue, &order), MCREG_OK);
    ck_assert_str_eq(order.log, "e9,shared,e7,e5");
    tu_events_free(&order);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "shared")), "u3");
    ck_assert_int_eq(mcreg_deregister(reg, "u3", "shared", 1000), MCREG_OK);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "shared")), "u2");
    mcreg_registry_free(reg);
    bb_free(&b);
}
END_TEST

Suite *suite_snapshot_restore(void)
{
    Suite *s = suite_create("snapshot_restore");
    TCase *tc = tcase_create("restore");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_restore_expiry_boundary);
    tcase_add_test(tc, test_restore_expiry_at_uint64_max);
    tcase_add_test(tc, test_restore_replaces_state_without_events);
    tcase_add_test(tc, test_restore_busy_in_callback);
    tcase_add_test(tc, test_restore_busy_in_visitor);
    tcase_add_test(tc, test_restore_invalid_arguments);
    tcase_add_test(tc, test_snapshot_invalid_arguments);
    tcase_add_test(tc, test_buffer_free_null);
    tcase_add_test(tc, test_snapshot_in_callback);
    tcase_add_test(tc, test_restore_then_usable);
    tcase_add_test(tc, test_restore_shared_ue_needs_exclusive_off);
    tcase_add_test(tc, test_restore_limits_not_enforced);
    tcase_add_test(tc, test_restore_custom_allocator);
    tcase_add_test(tc, test_restore_minimal_and_later_minor);
    tcase_add_test(tc, test_restore_unsorted_input);
    tcase_add_test(tc, test_restore_records_from_a_clock_ahead);
    tcase_add_test(tc, test_restore_longer_heads);
    suite_add_tcase(s, tc);
    return s;
}
