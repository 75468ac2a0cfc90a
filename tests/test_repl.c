/* Replication (REPLICATION.md): drain, apply, digest, versions, events with
 * their origin, hostile change buffers, and allocation failure at every
 * point of apply and of every mutating call of a registry with a node id. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

#define MAX_EXPIRES 3600u
#define T0 UINT64_C(1000000)

/* ---- a node: a registry with a node id, its allocator and its events ---- */

typedef struct node {
    tu_alloc alloc;
    mcreg_allocator allocator;
    tu_events ev;
    mcreg_registry *reg;
    uint64_t origins[64]; /* the origin of each event, in order */
    size_t n_origins;
} node;

static void node_cb(const mcreg_event *ev, void *ud)
{
    node *n = ud;
    tu_events_cb(ev, &n->ev);
    if (n->n_origins < sizeof(n->origins) / sizeof(n->origins[0]))
        n->origins[n->n_origins++] = ev->origin;
}

static void node_open(node *n, uint64_t id, int ue_exclusive, mcreg_notify_policy notify)
{
    memset(n, 0, sizeof(*n));
    n->allocator = tu_allocator(&n->alloc);
    tu_events_init(&n->ev);
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_allocator(o, &n->allocator);
    mcreg_options_set_event_callback(o, node_cb, n);
    mcreg_options_set_node_id(o, id);
    mcreg_options_set_max_expires(o, MAX_EXPIRES);
    mcreg_options_set_ue_exclusive(o, ue_exclusive);
    mcreg_options_set_notify_logon(o, notify);
    mcreg_options_set_hash_seed(o, id * 7919u); /* each node its own seed */
    ck_assert_int_eq(mcreg_registry_new(&n->reg, o), MCREG_OK);
    mcreg_options_free(o);
}

static void node_init(node *n, uint64_t id)
{
    node_open(n, id, 1, MCREG_NOTIFY_ALL);
}

static void node_close(node *n)
{
    mcreg_registry_free(n->reg);
    ck_assert_msg(n->alloc.live == 0, "%zu blocks leaked", n->alloc.live);
    tu_events_free(&n->ev);
}

static void node_reset_events(node *n)
{
    tu_events_reset(&n->ev);
    n->n_origins = 0;
}

typedef struct bytes {
    uint8_t *p;
    size_t len;
} bytes;

/* The node's pending changes, copied to malloc'd memory. */
static bytes drain(node *n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_changes_drain(n->reg, &buf, &len), MCREG_OK);
    bytes b = {malloc(len), len};
    ck_assert_ptr_nonnull(b.p);
    memcpy(b.p, buf, len);
    mcreg_buffer_free(n->reg, buf);
    return b;
}

static void apply_ok(node *n, bytes b, uint64_t now)
{
    ck_assert_int_eq(mcreg_changes_apply(n->reg, b.p, b.len, now), MCREG_OK);
}

static uint64_t digest(const node *n)
{
    uint64_t d = 0;
    ck_assert_int_eq(mcreg_state_digest(n->reg, &d), MCREG_OK);
    return d;
}

static void reg_ok(node *n, const char *user, const char *ue, uint32_t expires, uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, expires);
    ck_assert_int_eq(mcreg_register(n->reg, &b, now, NULL), MCREG_OK);
}

/* Everything observable of a node's state, as text (records with their
 * versions, the snapshot's size, the digest). malloc'd. */
static char *state_of(const node *n)
{
    /* The bytes the registry says it holds are the allocator's. */
    ck_assert_uint_eq(mcreg_stat(n->reg, MCREG_STAT_BYTES), n->alloc.live_bytes);
    char *dump = tu_state_dump(n->reg);
    ck_assert_ptr_nonnull(dump);
    tu_events t;
    tu_events_init(&t);
    tu_events_append(&t, dump);
    free(dump);
    char line[128];
    snprintf(line, sizeof(line), "digest %016llx\n", (unsigned long long)digest(n));
    tu_events_append(&t, line);
    return t.log;
}

static void free_bytes(bytes *b)
{
    free(b->p);
    b->p = NULL;
}

static int has_event(const node *n, const char *text)
{
    return n->ev.log && strstr(n->ev.log, text) != NULL;
}

static bytes snapshot_of(node *n);

/* ---- options and errors -------------------------------------------------- */

START_TEST(test_node_id_requires_max_expires)
{
    mcreg_options *o = NULL;
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_node_id(o, 7);
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_ERR_INVALID);
    mcreg_options_set_max_expires(o, 60);
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_registry_free(reg);
    mcreg_options_free(o);
}
END_TEST

START_TEST(test_calls_need_a_node_id)
{
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, NULL), MCREG_OK);
    uint8_t *buf = NULL, one = 0;
    size_t len = 0;
    uint64_t d;
    ck_assert_int_eq(mcreg_changes_drain(reg, &buf, &len), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_changes_apply(reg, &one, 1, T0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_state_digest(reg, &d), MCREG_ERR_INVALID);
    mcreg_binding b = tu_binding("alice", "ue1", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, T0, NULL), MCREG_OK);
    mcreg_change_version v = mcreg_record_version(mcreg_find(reg, "alice", "ue1"));
    ck_assert(v.stamp == 0 && v.node_id == 0);
    mcreg_registry_free(reg);
    ck_assert_int_eq(mcreg_changes_drain(NULL, &buf, &len), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_changes_apply(NULL, &one, 1, T0), MCREG_ERR_MISUSE);
    ck_assert_int_eq(mcreg_state_digest(NULL, &d), MCREG_ERR_MISUSE);
}
END_TEST

START_TEST(test_max_expires_caps_without_node_id)
{
    mcreg_options *o = NULL;
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_max_expires(o, 60);
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    reg_ok(&(node){.reg = reg}, "alice", "ue1", 3600, T0);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "ue1")), T0 + 60000);
    reg_ok(&(node){.reg = reg}, "alice", "ue2", 30, T0);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "alice", "ue2")), T0 + 30000);
    mcreg_registry_free(reg);
}
END_TEST

/* ---- drain and versions -------------------------------------------------- */

START_TEST(test_drain_hands_over_once)
{
    node a;
    node_init(&a, 1);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_changes_drain(a.reg, &buf, &len), MCREG_ERR_NOT_FOUND);
    reg_ok(&a, "alice", "ue1", 60, T0);
    bytes b = drain(&a);
    ck_assert_uint_ge(b.len, 4);
    ck_assert(b.p[0] == 0xd9 && b.p[1] == 0xd9 && b.p[2] == 0xf7); /* tag 55799 */
    ck_assert_int_eq(mcreg_changes_drain(a.reg, &buf, &len), MCREG_ERR_NOT_FOUND);
    /* A failed call records nothing. */
    mcreg_binding stale = tu_binding("bob", "ue9", 0);
    ck_assert_int_eq(mcreg_register(a.reg, &stale, T0, NULL), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_changes_drain(a.reg, &buf, &len), MCREG_ERR_NOT_FOUND);
    /* Expiry is no change. */
    ck_assert_int_eq(mcreg_expire(a.reg, T0 + 60000, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_changes_drain(a.reg, &buf, &len), MCREG_ERR_NOT_FOUND);
    free_bytes(&b);
    node_close(&a);
}
END_TEST

START_TEST(test_versions_follow_the_clock)
{
    node a;
    node_init(&a, 5);
    reg_ok(&a, "alice", "ue1", 60, T0);
    const mcreg_record *r = mcreg_find(a.reg, "alice", "ue1");
    mcreg_change_version v1 = mcreg_record_version(r), l1 = mcreg_record_logon(r);
    ck_assert_uint_eq(v1.stamp, T0 << 16);
    ck_assert_uint_eq(v1.node_id, 5);
    ck_assert(l1.stamp == v1.stamp && l1.node_id == 5);
    /* Same millisecond: the counter moves on. A clock going back too. */
    reg_ok(&a, "alice", "ue1", 60, T0);
    r = mcreg_find(a.reg, "alice", "ue1");
    ck_assert_uint_eq(mcreg_record_version(r).stamp, (T0 << 16) + 1);
    ck_assert_uint_eq(mcreg_record_logon(r).stamp, T0 << 16);
    reg_ok(&a, "alice", "ue1", 60, T0 - 500);
    ck_assert_uint_eq(mcreg_record_version(mcreg_find(a.reg, "alice", "ue1")).stamp,
                      (T0 << 16) + 2);
    /* A limit change takes the last stamp plus one. */
    ck_assert_int_eq(mcreg_set_user_max_ues(a.reg, "alice", 3), MCREG_OK);
    reg_ok(&a, "alice", "ue1", 60, T0);
    ck_assert_uint_eq(mcreg_record_version(mcreg_find(a.reg, "alice", "ue1")).stamp,
                      (T0 << 16) + 4);
    node_close(&a);
}
END_TEST

START_TEST(test_apply_copies_the_record)
{
    node a, b;
    node_init(&a, 1);
    node_init(&b, 2);
    mcreg_setting s[2] = {{.key = "k", .type = MCREG_VAL_INT, .v.i = -7},
                          {.key = "t", .type = MCREG_VAL_TEXT, .v.text = {"hi", 2}}};
    mcreg_binding bd = tu_binding("alice", "ue1", 60);
    bd.contact = "sip:alice@10.0.0.1";
    bd.call_id = "c1";
    bd.cseq = 4;
    bd.settings = s;
    bd.n_settings = 2;
    ck_assert_int_eq(mcreg_register(a.reg, &bd, T0, NULL), MCREG_OK);
    bytes buf = drain(&a);
    apply_ok(&b, buf, T0 + 10);
    const mcreg_record *r = mcreg_find(b.reg, "alice", "ue1");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_contact(r), "sip:alice@10.0.0.1");
    ck_assert_str_eq(mcreg_record_call_id(r), "c1");
    ck_assert_uint_eq(mcreg_record_cseq(r), 4);
    ck_assert_uint_eq(mcreg_record_registered_at(r), T0);
    ck_assert_uint_eq(mcreg_record_expires_at(r), T0 + 60000);
    ck_assert_int_eq(mcreg_record_setting_find(r, "k")->v.i, -7);
    ck_assert_uint_eq(mcreg_record_version(r).node_id, 1);
    ck_assert_uint_eq(mcreg_record_version(r).stamp, T0 << 16);
    ck_assert_str_eq(b.ev.log, "CREATED(alice,ue1)");
    ck_assert_uint_eq(b.origins[0], 1);
    /* Applying is not recorded; the clock moved past the applied stamp. */
    uint8_t *p = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_changes_drain(b.reg, &p, &len), MCREG_ERR_NOT_FOUND);
    reg_ok(&b, "bob", "ue2", 60, T0 - 100000);
    ck_assert_uint_gt(mcreg_record_version(mcreg_find(b.reg, "bob", "ue2")).stamp, T0 << 16);
    /* Its own buffer applied back changes nothing. */
    node_reset_events(&a);
    uint64_t before = digest(&a);
    apply_ok(&a, buf, T0 + 10);
    ck_assert_uint_eq(digest(&a), before);
    ck_assert_uint_eq(a.ev.count, 0);
    free_bytes(&buf);
    node_close(&a);
    node_close(&b);
}
END_TEST

/* ---- convergence ------------------------------------------------------------- */

/* Every permutation of n buffers applied to a fresh node: the same state. */
static void all_orders_agree(bytes *bufs, size_t n, uint64_t now, const char *present_user,
                             const char *present_ue, int present)
{
    size_t idx[4] = {0, 1, 2, 3};
    char *first = NULL;
    for (;;) {
        node c;
        node_init(&c, 9);
        for (size_t i = 0; i < n; i++)
            apply_ok(&c, bufs[idx[i]], now);
        ck_assert_int_eq(mcreg_find(c.reg, present_user, present_ue) != NULL, present);
        ck_assert_int_eq(mcreg_expire(c.reg, now, NULL), MCREG_OK);
        char *s = state_of(&c);
        if (!first)
            first = s;
        else {
            ck_assert_str_eq(s, first);
            free(s);
        }
        node_close(&c);
        /* next permutation */
        size_t i = n - 1;
        while (i > 0 && idx[i - 1] >= idx[i])
            i--;
        if (i == 0)
            break;
        size_t j = n - 1;
        while (idx[j] <= idx[i - 1])
            j--;
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
        for (size_t a = i, b = n - 1; a < b; a++, b--) {
            t = idx[a];
            idx[a] = idx[b];
            idx[b] = t;
        }
    }
    free(first);
}

START_TEST(test_put_removal_put_every_order)
{
    node a, b, c;
    node_init(&a, 1);
    node_init(&b, 2);
    node_init(&c, 3);
    bytes bufs[3];
    reg_ok(&a, "alice", "ue1", 600, T0);
    bufs[0] = drain(&a);
    apply_ok(&b, bufs[0], T0 + 1);
    ck_assert_int_eq(mcreg_deregister(b.reg, "alice", "ue1", T0 + 2), MCREG_OK);
    bufs[1] = drain(&b);
    apply_ok(&c, bufs[0], T0 + 3);
    apply_ok(&c, bufs[1], T0 + 3);
    ck_assert_ptr_null(mcreg_find(c.reg, "alice", "ue1"));
    reg_ok(&c, "alice", "ue1", 600, T0 + 4);
    bufs[2] = drain(&c);
    all_orders_agree(bufs, 3, T0 + 10, "alice", "ue1", 1);
    all_orders_agree(bufs, 2, T0 + 10, "alice", "ue1", 0);
    /* A deregistration that arrives before its registration. */
    node d;
    node_init(&d, 4);
    apply_ok(&d, bufs[1], T0 + 10);
    apply_ok(&d, bufs[0], T0 + 10);
    ck_assert_ptr_null(mcreg_find(d.reg, "alice", "ue1"));
    ck_assert_uint_eq(d.ev.count, 0);
    for (int i = 0; i < 3; i++)
        free_bytes(&bufs[i]);
    node_close(&a);
    node_close(&b);
    node_close(&c);
    node_close(&d);
}
END_TEST

START_TEST(test_concatenation_is_one_by_one)
{
    node a, x, y;
    node_init(&a, 1);
    node_init(&x, 2);
    node_init(&y, 3);
    reg_ok(&a, "alice", "ue1", 600, T0);
    reg_ok(&a, "bob", "ue2", 600, T0);
    bytes b1 = drain(&a);
    ck_assert_int_eq(mcreg_deregister(a.reg, "alice", "ue1", T0 + 5), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(a.reg, "bob", 2), MCREG_OK);
    bytes b2 = drain(&a);
    bytes cat = {malloc(b1.len + b2.len), b1.len + b2.len};
    memcpy(cat.p, b1.p, b1.len);
    memcpy(cat.p + b1.len, b2.p, b2.len);
    apply_ok(&x, b1, T0 + 10);
    apply_ok(&x, b2, T0 + 10);
    apply_ok(&y, cat, T0 + 10);
    char *sx = state_of(&x), *sy = state_of(&y), *sa = state_of(&a);
    ck_assert_str_eq(sx, sy);
    ck_assert_uint_eq(digest(&x), digest(&a));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(y.reg, "bob", &max), MCREG_OK);
    ck_assert_uint_eq(max, 2);
    /* Replaying the journal from the first change changes nothing. */
    apply_ok(&y, cat, T0 + 20);
    apply_ok(&y, b1, T0 + 20);
    char *again = state_of(&y);
    ck_assert_str_eq(again, sy);
    free(sx);
    free(sy);
    free(sa);
    free(again);
    free_bytes(&b1);
    free_bytes(&b2);
    free_bytes(&cat);
    node_close(&a);
    node_close(&x);
    node_close(&y);
}
END_TEST

START_TEST(test_ue_taken_while_a_replica_misses_it)
{
    node a, b, c, d;
    node_init(&a, 1);
    node_init(&b, 2);
    node_init(&c, 3);
    node_init(&d, 4);
    reg_ok(&a, "alice", "ue1", 600, T0);
    bytes ba = drain(&a);
    apply_ok(&b, ba, T0 + 1);
    reg_ok(&b, "bob", "ue1", 600, T0 + 2); /* replaces alice there */
    bytes bb = drain(&b);
    /* c has alice's put only, then gets bob's change. */
    apply_ok(&c, ba, T0 + 3);
    ck_assert_ptr_nonnull(mcreg_find(c.reg, "alice", "ue1"));
    node_reset_events(&c);
    apply_ok(&c, bb, T0 + 4);
    ck_assert_ptr_null(mcreg_find(c.reg, "alice", "ue1"));
    ck_assert_ptr_nonnull(mcreg_find(c.reg, "bob", "ue1"));
    ck_assert(has_event(&c, "REPLACED(alice,ue1)"));
    ck_assert(has_event(&c, "CREATED(bob,ue1)"));
    /* d gets them the other way round: alice never appears. */
    apply_ok(&d, bb, T0 + 3);
    node_reset_events(&d);
    apply_ok(&d, ba, T0 + 4);
    ck_assert_ptr_null(mcreg_find(d.reg, "alice", "ue1"));
    ck_assert_uint_eq(d.ev.count, 0);
    ck_assert_uint_eq(digest(&c), digest(&d));
    ck_assert_uint_eq(digest(&c), digest(&b));
    free_bytes(&ba);
    free_bytes(&bb);
    node_close(&a);
    node_close(&b);
    node_close(&c);
    node_close(&d);
}
END_TEST

START_TEST(test_shortened_refresh_never_brings_back_the_older_put)
{
    node a, c, d;
    node_init(&a, 1);
    node_init(&c, 3);
    node_init(&d, 4);
    reg_ok(&a, "alice", "ue1", 3600, T0);
    bytes b1 = drain(&a);
    reg_ok(&a, "alice", "ue1", 10, T0 + 1); /* shortened */
    bytes b2 = drain(&a);
    /* c: the refresh first; it expires; then the older, longer put. */
    apply_ok(&c, b2, T0 + 2);
    ck_assert_int_eq(mcreg_expire(c.reg, T0 + 20000, NULL), MCREG_OK);
    ck_assert_ptr_null(mcreg_find(c.reg, "alice", "ue1"));
    node_reset_events(&c);
    apply_ok(&c, b1, T0 + 20001);
    ck_assert_ptr_null(mcreg_find(c.reg, "alice", "ue1"));
    ck_assert_uint_eq(c.ev.count, 0);
    /* d: the longer put first, then the refresh arriving already expired. */
    apply_ok(&d, b1, T0 + 2);
    ck_assert_ptr_nonnull(mcreg_find(d.reg, "alice", "ue1"));
    node_reset_events(&d);
    apply_ok(&d, b2, T0 + 20001);
    ck_assert_ptr_null(mcreg_find(d.reg, "alice", "ue1"));
    ck_assert_str_eq(d.ev.log, "EXPIRED(alice,ue1)");
    ck_assert_int_eq(mcreg_expire(a.reg, T0 + 20001, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_expire(d.reg, T0 + 20001, NULL), MCREG_OK);
    ck_assert_uint_eq(digest(&c), digest(&d));
    ck_assert_uint_eq(digest(&c), digest(&a));
    free_bytes(&b1);
    free_bytes(&b2);
    node_close(&a);
    node_close(&c);
    node_close(&d);
}
END_TEST

START_TEST(test_tombstones_forgotten_at_their_horizon)
{
    node a, empty;
    node_init(&a, 1);
    node_init(&empty, 2);
    reg_ok(&a, "alice", "ue1", 60, T0);
    ck_assert_int_eq(mcreg_deregister(a.reg, "alice", "ue1", T0 + 1000), MCREG_OK);
    uint64_t horizon = T0 + 1000 + 1000u * MAX_EXPIRES;
    ck_assert_uint_ne(digest(&a), digest(&empty));
    /* Nothing left to expire, but something to forget: the UE's put at
     * T0 first, then the tombstone. */
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(a.reg, &at), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_next_horizon(a.reg, &at), MCREG_OK);
    ck_assert_uint_le(at, T0 + 1000u * MAX_EXPIRES);
    ck_assert_int_eq(mcreg_expire(a.reg, T0 + 1000u * MAX_EXPIRES, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_next_horizon(a.reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, horizon);
    ck_assert_int_eq(mcreg_next_horizon(empty.reg, &at), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_expire(a.reg, horizon - 1, NULL), MCREG_OK);
    ck_assert_uint_ne(digest(&a), digest(&empty)); /* the tombstone is still there */
    ck_assert_int_eq(mcreg_expire(a.reg, horizon, NULL), MCREG_OK);
    ck_assert_uint_eq(digest(&a), digest(&empty)); /* nothing is left */
    ck_assert_int_eq(mcreg_next_horizon(a.reg, &at), MCREG_ERR_NOT_FOUND);
    ck_assert_uint_eq(mcreg_stat(a.reg, MCREG_STAT_TOMBSTONES), 0);
    /* A removal past its horizon changes nothing on arrival. */
    node b;
    node_init(&b, 3);
    reg_ok(&b, "carol", "ue3", 60, T0);
    ck_assert_int_eq(mcreg_deregister(b.reg, "carol", "ue3", T0), MCREG_OK);
    bytes old = drain(&b);
    apply_ok(&empty, old, T0 + 1000u * MAX_EXPIRES);
    ck_assert_int_eq(mcreg_expire(empty.reg, T0 + 1000u * MAX_EXPIRES, NULL), MCREG_OK);
    node fresh;
    node_init(&fresh, 4);
    ck_assert_uint_eq(digest(&empty), digest(&fresh));
    free_bytes(&old);
    node_close(&a);
    node_close(&b);
    node_close(&empty);
    node_close(&fresh);
}
END_TEST

/* A register removes the user's lapsed records first (EXPIRED): with a node
 * id they keep their put as their pair's tombstone, as an expiry does, and
 * no change is recorded for them. */
START_TEST(test_lapsed_records_in_register)
{
    node a, b;
    node_init(&a, 1);
    node_init(&b, 2);
    reg_ok(&a, "alice", "ue1", 5, T0);
    reg_ok(&a, "alice", "ue2", 600, T0);
    bytes first = drain(&a);
    apply_ok(&b, first, T0 + 1);
    node_reset_events(&a);
    reg_ok(&a, "alice", "ue3", 600, T0 + 6000); /* ue1 lapsed at T0 + 5000 */
    ck_assert(has_event(&a, "EXPIRED(alice,ue1)"));
    ck_assert_ptr_null(mcreg_find(a.reg, "alice", "ue1"));
    ck_assert_uint_eq(mcreg_stat(a.reg, MCREG_STAT_TOMBSTONES), 1);
    bytes second = drain(&a);
    apply_ok(&b, second, T0 + 6001);
    ck_assert_int_eq(mcreg_expire(a.reg, T0 + 6001, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_expire(b.reg, T0 + 6001, NULL), MCREG_OK);
    ck_assert_uint_eq(digest(&a), digest(&b));
    bytes sa = snapshot_of(&a), sb = snapshot_of(&b);
    ck_assert(sa.len == sb.len && memcmp(sa.p, sb.p, sa.len) == 0);
    free_bytes(&first);
    free_bytes(&second);
    free_bytes(&sa);
    free_bytes(&sb);
    node_close(&a);
    node_close(&b);
}
END_TEST

START_TEST(test_same_millisecond_two_nodes)
{
    node a, b;
    node_init(&a, 1);
    node_init(&b, 2);
    reg_ok(&a, "alice", "ue1", 60, T0);
    mcreg_binding bb = tu_binding("alice", "ue1", 120);
    bb.contact = "sip:b";
    ck_assert_int_eq(mcreg_register(b.reg, &bb, T0, NULL), MCREG_OK);
    bytes x = drain(&a), y = drain(&b);
    apply_ok(&a, y, T0 + 1);
    apply_ok(&b, x, T0 + 1);
    /* Node 2's version wins on both. */
    ck_assert_str_eq(mcreg_record_contact(mcreg_find(a.reg, "alice", "ue1")), "sip:b");
    ck_assert_str_eq(mcreg_record_contact(mcreg_find(b.reg, "alice", "ue1")), "sip:b");
    ck_assert_uint_eq(digest(&a), digest(&b));
    free_bytes(&x);
    free_bytes(&y);
    node_close(&a);
    node_close(&b);
}
END_TEST

/* Concurrent logons of one user at two nodes: each UE told of the other
 * exactly once across the cluster, by the node of the later logon. */
static size_t count_notify(const node *n)
{
    size_t k = 0;
    for (const char *p = n->ev.log; p && (p = strstr(p, "NOTIFY_LOGON")); p++)
        k++;
    return k;
}

static void concurrent_logons(mcreg_notify_policy policy, int a_first)
{
    node a, b;
    node_open(&a, 1, 1, policy);
    node_open(&b, 2, 1, policy);
    reg_ok(&a, "alice", "X", 600, T0);
    reg_ok(&b, "alice", "Y", 600, T0 + 5); /* the later logon */
    bytes x = drain(&a), y = drain(&b);
    node_reset_events(&a);
    node_reset_events(&b);
    if (a_first) {
        apply_ok(&a, y, T0 + 10);
        apply_ok(&b, x, T0 + 10);
    } else {
        apply_ok(&b, x, T0 + 10);
        apply_ok(&a, y, T0 + 10);
    }
    ck_assert_uint_eq(count_notify(&a), 0);
    if (policy == MCREG_NOTIFY_ALL) {
        ck_assert_uint_eq(count_notify(&b), 2);
        ck_assert(has_event(&b, "NOTIFY_LOGON(alice,Y>Y:[X])"));
        ck_assert(has_event(&b, "NOTIFY_LOGON(alice,Y>X:[Y])"));
    } else {
        ck_assert_uint_eq(count_notify(&b), 1);
        ck_assert(has_event(&b, "NOTIFY_LOGON(alice,Y>Y:[X])"));
    }
    /* Applied again, nobody is told again. */
    node_reset_events(&b);
    apply_ok(&b, x, T0 + 11);
    ck_assert_uint_eq(count_notify(&b), 0);
    free_bytes(&x);
    free_bytes(&y);
    node_close(&a);
    node_close(&b);
}

START_TEST(test_concurrent_logons_all)
{
    concurrent_logons(MCREG_NOTIFY_ALL, _i);
}
END_TEST

START_TEST(test_concurrent_logons_new_ue)
{
    concurrent_logons(MCREG_NOTIFY_NEW_UE, _i);
}
END_TEST

/* ---- hostile bytes ---------------------------------------------------------- */

/* ---- the clock's bounds (README, "Versions") ----------------------------- */

#define DAY_MS UINT64_C(86400000)

/* A buffer stamped a day ahead of now_ms is refused whole, by default
 * (60 s of skew), and nothing changes; the same bytes apply once now_ms is
 * within the bound. */
START_TEST(test_apply_refuses_stamps_ahead_of_now)
{
    node a, b;
    node_init(&a, 1);
    node_init(&b, 2);
    reg_ok(&a, "alice", "ue0", 600, T0); /* within the bound */
    reg_ok(&a, "alice", "ue1", 600, T0 + DAY_MS);
    bytes buf = drain(&a);
    char *before = state_of(&b);
    ck_assert_int_eq(mcreg_changes_apply(b.reg, buf.p, buf.len, T0), MCREG_ERR_CLOCK);
    ck_assert_ptr_nonnull(strstr(mcreg_error_detail(b.reg), "ahead"));
    char *after = state_of(&b);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(b.ev.count, 0);
    free(after);
    /* 60 s ahead is within the default bound; one millisecond more is not. */
    ck_assert_int_eq(mcreg_changes_apply(b.reg, buf.p, buf.len, T0 + DAY_MS - 60001),
                     MCREG_ERR_CLOCK);
    apply_ok(&b, buf, T0 + DAY_MS - 60000);
    ck_assert_uint_eq(mcreg_stat(b.reg, MCREG_STAT_RECORDS), 1); /* ue0 lapsed by then */
    /* A snapshot merged by apply: the same bound. */
    node c;
    node_init(&c, 3);
    bytes snap = snapshot_of(&a);
    ck_assert_int_eq(mcreg_changes_apply(c.reg, snap.p, snap.len, T0), MCREG_ERR_CLOCK);
    ck_assert_uint_eq(mcreg_stat(c.reg, MCREG_STAT_RECORDS), 0);
    apply_ok(&c, snap, T0 + DAY_MS);
    /* Restoring a node's own snapshot after its clock stepped back: no
     * bound, and its next change still takes a version above all. */
    ck_assert_int_eq(mcreg_restore(c.reg, snap.p, snap.len, T0), MCREG_OK);
    ck_assert_uint_eq(mcreg_stat(c.reg, MCREG_STAT_RECORDS), 1); /* ue0 lapsed at a */
    ck_assert_int_eq(mcreg_restore(a.reg, snap.p, snap.len, T0), MCREG_OK);
    reg_ok(&a, "alice", "ue2", 600, T0);
    mcreg_change_version v1 = mcreg_record_version(mcreg_find(a.reg, "alice", "ue1"));
    mcreg_change_version v2 = mcreg_record_version(mcreg_find(a.reg, "alice", "ue2"));
    ck_assert_uint_gt(v2.stamp, v1.stamp);
    free(before);
    free_bytes(&snap);
    free_bytes(&buf);
    node_close(&a);
    node_close(&b);
    node_close(&c);
}
END_TEST

/* The bound is an option: 0 refuses anything ahead of now_ms at all. */
START_TEST(test_max_clock_skew_option)
{
    node a, b;
    node_init(&a, 1);
    reg_ok(&a, "alice", "ue1", 600, T0 + 5000);
    bytes buf = drain(&a);
    for (int skew = 0; skew < 2; skew++) {
        memset(&b, 0, sizeof(b));
        b.allocator = tu_allocator(&b.alloc);
        tu_events_init(&b.ev);
        mcreg_options *o = NULL;
        ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
        mcreg_options_set_allocator(o, &b.allocator);
        mcreg_options_set_event_callback(o, node_cb, &b);
        mcreg_options_set_node_id(o, 2);
        mcreg_options_set_max_expires(o, MAX_EXPIRES);
        mcreg_options_set_max_clock_skew(o, skew ? 10000u : 0u);
        ck_assert_int_eq(mcreg_registry_new(&b.reg, o), MCREG_OK);
        mcreg_options_free(o);
        ck_assert_int_eq(mcreg_changes_apply(b.reg, buf.p, buf.len, T0),
                         skew ? MCREG_OK : MCREG_ERR_CLOCK);
        if (!skew)
            apply_ok(&b, buf, T0 + 5000);
        node_close(&b);
    }
    free_bytes(&buf);
    node_close(&a);
}
END_TEST

/* The clock never saturates: once the next stamp would pass 2^64 - 1, a
 * local mutating call fails and changes nothing (no version is reused). */
START_TEST(test_clock_overflow_fails_the_call)
{
    node a;
    node_init(&a, 1);
    mcreg_binding bd = tu_binding("alice", "ue1", 600);
    /* now_ms past 2^48 ms: each call takes the clock's next count. */
    size_t ok = 0;
    int rc = MCREG_OK;
    for (uint32_t cseq = 1; rc == MCREG_OK && cseq < 70000; cseq++) {
        bd.cseq = cseq;
        rc = mcreg_register(a.reg, &bd, UINT64_MAX, NULL);
        if (rc == MCREG_OK)
            ok++;
        if (cseq % 4096 == 0 && rc == MCREG_OK) {
            bytes b = drain(&a);
            free_bytes(&b);
        }
    }
    ck_assert_int_eq(rc, MCREG_ERR_CLOCK);
    ck_assert_uint_eq(ok, 65536); /* stamps 2^64 - 65536 .. 2^64 - 1 */
    ck_assert_ptr_nonnull(strstr(mcreg_error_detail(a.reg), "clock"));
    uint8_t *p = NULL;
    size_t len = 0;
    if (mcreg_changes_drain(a.reg, &p, &len) == MCREG_OK)
        mcreg_buffer_free(a.reg, p);
    char *before = state_of(&a);
    node_reset_events(&a);
    ck_assert_int_eq(mcreg_deregister(a.reg, "alice", "ue1", UINT64_MAX), MCREG_ERR_CLOCK);
    ck_assert_int_eq(mcreg_set_user_max_ues(a.reg, "alice", 2), MCREG_ERR_CLOCK);
    ck_assert_int_eq(mcreg_deregister_user(a.reg, "alice", UINT64_MAX, NULL), MCREG_ERR_CLOCK);
    char *after = state_of(&a);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(a.ev.count, 0);
    ck_assert_int_eq(mcreg_changes_drain(a.reg, &p, &len), MCREG_ERR_NOT_FOUND);
    free(before);
    free(after);
    node_close(&a);
}
END_TEST

/* ---- the cost of apply's notifications ------------------------------------ */

/* A counting allocator that also refuses any request above `cap`. */
typedef struct capped {
    tu_alloc counted;
    mcreg_allocator inner;
    size_t cap;
} capped;

static void *capped_malloc(size_t size, void *ctx)
{
    capped *c = ctx;
    return size > c->cap ? NULL : c->inner.malloc(size, c->inner.ctx);
}

static void *capped_realloc(void *ptr, size_t size, void *ctx)
{
    capped *c = ctx;
    return size > c->cap ? NULL : c->inner.realloc(ptr, size, c->inner.ctx);
}

static void capped_free(void *ptr, void *ctx)
{
    capped *c = ctx;
    c->inner.free(ptr, c->inner.ctx);
}

/* NOTIFY_LOGONs per recipient (by the recipient's UE index "uN"), and
 * whether each listed every other UE of the user. */
typedef struct tally {
    size_t logons, per_recipient[2][4096], want_others, short_lists;
} tally;

static void tally_cb(const mcreg_event *ev, void *ud)
{
    tally *t = ud;
    if (ev->type != MCREG_EV_NOTIFY_LOGON)
        return;
    t->logons++;
    unsigned side = ev->recipient_ue_id[0] == 'b', k = (unsigned)atoi(ev->recipient_ue_id + 1);
    if (k < 4096)
        t->per_recipient[side][k]++;
    if (ev->n_other != t->want_others)
        t->short_lists++;
}

static mcreg_registry *tally_node(uint64_t id, capped *c, tally *t, mcreg_notify_policy pol)
{
    c->inner = tu_allocator(&c->counted);
    c->cap = SIZE_MAX;
    mcreg_allocator a = {capped_malloc, capped_realloc, capped_free, c};
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_allocator(o, &a);
    mcreg_options_set_event_callback(o, tally_cb, t);
    mcreg_options_set_node_id(o, id);
    mcreg_options_set_max_expires(o, MAX_EXPIRES);
    mcreg_options_set_notify_logon(o, pol);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);
    return reg;
}

/* K new UEs of one user arrive at a node where the user has K later UEs
 * of its own: over the one apply each of the node's UEs is told once, and
 * (ALL) each arriving UE once, each listing every other UE; no allocation
 * is larger than a few times the input, and the apply's peak memory is
 * linear in the input. */
static void many_logons(mcreg_notify_policy pol)
{
    enum { K = 2000 };
    static capped ca, cb;
    static tally ta, tb;
    memset(&ca, 0, sizeof(ca));
    memset(&cb, 0, sizeof(cb));
    memset(&ta, 0, sizeof(ta));
    memset(&tb, 0, sizeof(tb));
    mcreg_registry *a = tally_node(1, &ca, &ta, MCREG_NOTIFY_NONE);
    mcreg_registry *b = tally_node(2, &cb, &tb, pol);
    char ue[16];
    for (unsigned i = 0; i < K; i++) {
        snprintf(ue, sizeof(ue), "a%u", i);
        mcreg_binding bd = tu_binding("alice", ue, 600);
        ck_assert_int_eq(mcreg_register(a, &bd, T0, NULL), MCREG_OK);
        snprintf(ue, sizeof(ue), "b%u", i);
        bd = tu_binding("alice", ue, 600);
        ck_assert_int_eq(mcreg_register(b, &bd, T0 + 5, NULL), MCREG_OK);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_changes_drain(a, &buf, &len), MCREG_OK);
    memset(&tb, 0, sizeof(tb));
    tb.want_others = 2 * K - 1;
    size_t live = cb.counted.live_bytes;
    cb.counted.peak_bytes = live;
    cb.counted.max_request = 0;
    cb.cap = 4 * len;
    ck_assert_int_eq(mcreg_changes_apply(b, buf, len, T0 + 10), MCREG_OK);
    cb.cap = SIZE_MAX;
    ck_assert_uint_le(cb.counted.max_request, 4 * len);
    ck_assert_uint_le(cb.counted.peak_bytes - live, 32 * len);
    ck_assert_uint_eq(mcreg_stat(b, MCREG_STAT_RECORDS), 2 * K);
    ck_assert_uint_eq(tb.logons, pol == MCREG_NOTIFY_ALL ? 2 * K : K);
    ck_assert_uint_eq(tb.short_lists, 0);
    for (unsigned i = 0; i < K; i++) {
        ck_assert_uint_eq(tb.per_recipient[1][i], 1);
        ck_assert_uint_eq(tb.per_recipient[0][i], pol == MCREG_NOTIFY_ALL ? 1 : 0);
    }
    mcreg_buffer_free(a, buf);
    mcreg_registry_free(a);
    mcreg_registry_free(b);
    ck_assert_uint_eq(ca.counted.live, 0);
    ck_assert_uint_eq(cb.counted.live, 0);
}

START_TEST(test_many_logons_of_one_user_all)
{
    many_logons(MCREG_NOTIFY_ALL);
}
END_TEST

START_TEST(test_many_logons_of_one_user_new_ue)
{
    many_logons(MCREG_NOTIFY_NEW_UE);
}
END_TEST

static bytes sample_buffer(void)
{
    node a;
    node_init(&a, 1);
    mcreg_setting s = {.key = "k", .type = MCREG_VAL_BYTES, .v.bytes = {(const uint8_t *)"ab", 2}};
    mcreg_binding bd = tu_binding("alice", "ue1", 60);
    bd.settings = &s;
    bd.n_settings = 1;
    bd.call_id = "cid";
    ck_assert_int_eq(mcreg_register(a.reg, &bd, T0, NULL), MCREG_OK);
    reg_ok(&a, "bob", "ue1", 60, T0 + 1);
    ck_assert_int_eq(mcreg_deregister(a.reg, "bob", "ue1", T0 + 2), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(a.reg, "bob", 1), MCREG_OK);
    ck_assert_int_eq(mcreg_clear_user_max_ues(a.reg, "bob"), MCREG_OK);
    reg_ok(&a, "dave", "ue4", 60, T0 + 3);
    bytes b = drain(&a);
    node_close(&a);
    return b;
}

START_TEST(test_every_truncation_and_bit_flip_is_format)
{
    bytes b = sample_buffer();
    node c;
    node_init(&c, 3);
    reg_ok(&c, "carol", "ue3", 60, T0);
    char *before = state_of(&c);
    node_reset_events(&c);
    for (size_t len = 0; len < b.len; len++)
        ck_assert_msg(mcreg_changes_apply(c.reg, b.p, len, T0) == MCREG_ERR_FORMAT,
                      "truncated to %zu", len);
    for (size_t i = 0; i < b.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            b.p[i] ^= (uint8_t)(1u << bit);
            int rc = mcreg_changes_apply(c.reg, b.p, b.len, T0);
            b.p[i] ^= (uint8_t)(1u << bit);
            ck_assert_msg(rc == MCREG_ERR_FORMAT, "bit %d of byte %zu: %d", bit, i, rc);
        }
    /* Trailing garbage too. */
    bytes longer = {malloc(b.len + 1), b.len + 1};
    memcpy(longer.p, b.p, b.len);
    longer.p[b.len] = 0;
    ck_assert_int_eq(mcreg_changes_apply(c.reg, longer.p, longer.len, T0), MCREG_ERR_FORMAT);
    char *after = state_of(&c);
    ck_assert_str_eq(after, before);
    ck_assert_uint_eq(c.ev.count, 0);
    apply_ok(&c, b, T0);
    ck_assert_ptr_nonnull(mcreg_find(c.reg, "dave", "ue4"));
    ck_assert_ptr_null(mcreg_find(c.reg, "alice", "ue1")); /* bob took ue1, then left */
    free(before);
    free(after);
    free_bytes(&b);
    free_bytes(&longer);
    node_close(&c);
}
END_TEST

START_TEST(test_unknown_major_version)
{
    bytes b = sample_buffer();
    /* d9 d9f7 83 82 01 00: the major version is byte 5. Its checksum is
     * right again once recomputed, so the answer is VERSION. */
    ck_assert_uint_eq(b.p[5], 0x01);
    b.p[5] = 0x02;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < b.len - 5; i++) {
        crc ^= b.p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    crc ^= 0xffffffffu;
    b.p[b.len - 4] = (uint8_t)(crc >> 24);
    b.p[b.len - 3] = (uint8_t)(crc >> 16);
    b.p[b.len - 2] = (uint8_t)(crc >> 8);
    b.p[b.len - 1] = (uint8_t)crc;
    node c;
    node_init(&c, 3);
    ck_assert_int_eq(mcreg_changes_apply(c.reg, b.p, b.len, T0), MCREG_ERR_VERSION);
    b.p[5] = 0x01; /* checksum now wrong */
    ck_assert_int_eq(mcreg_changes_apply(c.reg, b.p, b.len, T0), MCREG_ERR_FORMAT);
    free_bytes(&b);
    node_close(&c);
}
END_TEST

/* ---- snapshots 1.1 --------------------------------------------------------- */

static bytes snapshot_of(node *n)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(n->reg, &buf, &len), MCREG_OK);
    bytes b = {malloc(len), len};
    memcpy(b.p, buf, len);
    mcreg_buffer_free(n->reg, buf);
    return b;
}

/* A node with records, a tombstone, a replaced UE and limits. */
static void rich_state(node *a)
{
    reg_ok(a, "alice", "ue1", 600, T0);
    reg_ok(a, "alice", "ue2", 600, T0 + 1);
    reg_ok(a, "bob", "ue2", 600, T0 + 2); /* replaces alice at ue2 */
    reg_ok(a, "carol", "ue3", 600, T0 + 3);
    ck_assert_int_eq(mcreg_deregister(a->reg, "carol", "ue3", T0 + 4), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(a->reg, "alice", 3), MCREG_OK);
    ck_assert_int_eq(mcreg_set_user_max_ues(a->reg, "dave", 1), MCREG_OK);
    ck_assert_int_eq(mcreg_clear_user_max_ues(a->reg, "dave"), MCREG_OK);
}

START_TEST(test_snapshot_1_1_round_trip_and_merge)
{
    node a, b, c;
    node_init(&a, 1);
    node_init(&b, 2);
    node_init(&c, 3);
    rich_state(&a);
    ck_assert_uint_eq(mcreg_stat(a.reg, MCREG_STAT_TOMBSTONES), 2); /* alice@ue2, carol@ue3 */
    bytes s = snapshot_of(&a);
    /* d9d9f7 a7 00 82 01 01: seven keys, format 1.1 */
    ck_assert(s.len > 8 && s.p[3] == 0xa7 && s.p[5] == 0x82 && s.p[6] == 1 && s.p[7] == 1);
    /* restored: the same replicated state, the same bytes */
    ck_assert_int_eq(mcreg_restore(b.reg, s.p, s.len, T0 + 10), MCREG_OK);
    ck_assert_uint_eq(digest(&b), digest(&a));
    ck_assert_uint_eq(mcreg_stat(b.reg, MCREG_STAT_TOMBSTONES), 2);
    bytes s2 = snapshot_of(&b);
    ck_assert(s2.len == s.len && memcmp(s2.p, s.p, s.len) == 0);
    /* merged by apply into a node with state of its own */
    reg_ok(&c, "erin", "ue5", 600, T0 + 5);
    bytes ce = drain(&c);
    node_reset_events(&c);
    apply_ok(&c, s, T0 + 10);
    ck_assert(has_event(&c, "CREATED(alice,ue1)"));
    ck_assert(has_event(&c, "CREATED(bob,ue2)"));
    ck_assert_ptr_null(mcreg_find(c.reg, "alice", "ue2"));
    ck_assert_ptr_null(mcreg_find(c.reg, "carol", "ue3"));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(c.reg, "alice", &max), MCREG_OK);
    ck_assert_uint_eq(max, 3);
    apply_ok(&a, ce, T0 + 10);
    ck_assert_uint_eq(digest(&c), digest(&a));
    bytes sa = snapshot_of(&a), sc = snapshot_of(&c);
    ck_assert(sa.len == sc.len && memcmp(sa.p, sc.p, sa.len) == 0);
    /* merging it again changes nothing */
    node_reset_events(&c);
    apply_ok(&c, s, T0 + 11);
    ck_assert_uint_eq(c.ev.count, 0);
    free_bytes(&s);
    free_bytes(&s2);
    free_bytes(&ce);
    free_bytes(&sa);
    free_bytes(&sc);
    node_close(&a);
    node_close(&b);
    node_close(&c);
}
END_TEST

/* The CRC-32C of a snapshot 1.1 (key 19, its last 4 bytes) written again
 * over everything before its bstr head. */
static void snapshot_recrc(bytes b)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < b.len - 5; i++) {
        crc ^= b.p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    crc ^= 0xffffffffu;
    b.p[b.len - 4] = (uint8_t)(crc >> 24);
    b.p[b.len - 3] = (uint8_t)(crc >> 16);
    b.p[b.len - 2] = (uint8_t)(crc >> 8);
    b.p[b.len - 1] = (uint8_t)crc;
}

/* A record and a tombstone for one pair: no set of entries gives that
 * state. restore and apply both refuse it (MCREG_ERR_FORMAT, with the
 * detail), and nothing changes. */
START_TEST(test_snapshot_record_and_tombstone_of_one_pair)
{
    node a, c;
    node_init(&a, 1);
    node_init(&c, 3);
    reg_ok(&a, "alice", "ue1", 600, T0);
    reg_ok(&a, "alice", "ue2", 600, T0 + 1);
    ck_assert_int_eq(mcreg_deregister(a.reg, "alice", "ue2", T0 + 2), MCREG_OK);
    bytes s = snapshot_of(&a);
    /* The recomputed checksum alone leaves a valid snapshot. */
    snapshot_recrc(s);
    ck_assert_int_eq(mcreg_restore(c.reg, s.p, s.len, T0 + 3), MCREG_OK);
    ck_assert_int_eq(mcreg_changes_apply(c.reg, s.p, s.len, T0 + 3), MCREG_OK);
    ck_assert_int_eq(mcreg_restore(c.reg, NULL, 0, T0 + 3), MCREG_ERR_FORMAT); /* empty again */
    /* The tombstone's "ue2" (text of 3: 63 'u' 'e' '2'; the first, as no
     * record holds ue2) becomes "ue1": the record's pair. */
    size_t at = 0, seen = 0;
    for (size_t i = 0; i + 4 <= s.len && !at; i++)
        if (!memcmp(s.p + i, "\x63ue2", 4) && seen++ == 0)
            at = i;
    ck_assert_uint_gt(at, 0);
    s.p[at + 3] = '1';
    snapshot_recrc(s);
    reg_ok(&c, "zed", "ue9", 60, T0);
    char *before = state_of(&c);
    ck_assert_int_eq(mcreg_restore(c.reg, s.p, s.len, T0 + 3), MCREG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mcreg_error_detail(c.reg), "tombstone"));
    ck_assert_int_eq(mcreg_changes_apply(c.reg, s.p, s.len, T0 + 3), MCREG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mcreg_error_detail(c.reg), "tombstone"));
    char *after = state_of(&c);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free_bytes(&s);
    node_close(&a);
    node_close(&c);
}
END_TEST

/* A registry without node id: its snapshots are 1.0 (no versions). */
static bytes snapshot_1_0(void)
{
    mcreg_registry *r = NULL;
    ck_assert_int_eq(mcreg_registry_new(&r, NULL), MCREG_OK);
    mcreg_binding bd = tu_binding("alice", "ue1", 600);
    ck_assert_int_eq(mcreg_register(r, &bd, T0, NULL), MCREG_OK);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(r, &buf, &len), MCREG_OK);
    bytes b = {malloc(len), len};
    memcpy(b.p, buf, len);
    mcreg_buffer_free(r, buf);
    mcreg_registry_free(r);
    /* d9 d9f7, the map's head, 00, 82 01 00: the minor version is byte 7 */
    ck_assert_uint_eq(b.p[6], 0x01);
    ck_assert_uint_eq(b.p[7], 0x00);
    return b;
}

/* A snapshot without versions (1.0) says nothing apply could merge by:
 * refused, and nothing changes. mcreg_restore still reads it. */
START_TEST(test_apply_refuses_a_snapshot_without_versions)
{
    node c;
    node_init(&c, 3);
    bytes b = snapshot_1_0();
    reg_ok(&c, "zed", "ue9", 60, T0);
    node_reset_events(&c);
    char *before = state_of(&c);
    ck_assert_int_eq(mcreg_changes_apply(c.reg, b.p, b.len, T0), MCREG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mcreg_error_detail(c.reg), "version"));
    ck_assert_int_eq(mcreg_changes_apply(c.reg, b.p, b.len, T0 + 10000000), MCREG_ERR_FORMAT);
    char *after = state_of(&c);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(c.ev.count, 0);
    ck_assert_int_eq(mcreg_restore(c.reg, b.p, b.len, T0), MCREG_OK);
    ck_assert_uint_eq(mcreg_stat(c.reg, MCREG_STAT_RECORDS), 1);
    free(before);
    free(after);
    free_bytes(&b);
    node_close(&c);
}
END_TEST

/* A 1.1 snapshot carries its checksum whatever it holds: one of records
 * only without key 19 is refused. */
START_TEST(test_snapshot_1_1_requires_its_checksum)
{
    node c;
    node_init(&c, 3);
    bytes b = snapshot_1_0();
    b.p[7] = 0x01; /* 1.1, with no key 16 to 19 */
    ck_assert_int_eq(mcreg_restore(c.reg, b.p, b.len, T0), MCREG_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(mcreg_error_detail(c.reg), "checksum"));
    ck_assert_uint_eq(mcreg_stat(c.reg, MCREG_STAT_RECORDS), 0);
    ck_assert_int_eq(mcreg_changes_apply(c.reg, b.p, b.len, T0), MCREG_ERR_FORMAT);
    /* A registry without node id reads 1.1 too: the same rule. */
    mcreg_registry *r = NULL;
    ck_assert_int_eq(mcreg_registry_new(&r, NULL), MCREG_OK);
    ck_assert_int_eq(mcreg_restore(r, b.p, b.len, T0), MCREG_ERR_FORMAT);
    mcreg_registry_free(r);
    free_bytes(&b);
    node_close(&c);
}
END_TEST

START_TEST(test_snapshot_1_1_every_bit_flip_refused)
{
    node a, c;
    node_init(&a, 1);
    node_init(&c, 3);
    rich_state(&a);
    bytes s = snapshot_of(&a);
    reg_ok(&c, "zed", "ue9", 60, T0);
    char *before = state_of(&c);
    for (size_t len = 0; len < s.len; len++)
        ck_assert_msg(mcreg_changes_apply(c.reg, s.p, len, T0) == MCREG_ERR_FORMAT,
                      "truncated to %zu", len);
    for (size_t i = 0; i < s.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            s.p[i] ^= (uint8_t)(1u << bit);
            int rc = mcreg_changes_apply(c.reg, s.p, s.len, T0);
            int rr = mcreg_restore(c.reg, s.p, s.len, T0);
            s.p[i] ^= (uint8_t)(1u << bit);
            /* the major version (byte 6) may read as another one */
            int ok = rc == MCREG_ERR_FORMAT || (i == 6 && rc == MCREG_ERR_VERSION);
            ck_assert_msg(ok, "apply: bit %d of byte %zu: %d", bit, i, rc);
            ok = rr == MCREG_ERR_FORMAT || (i == 6 && rr == MCREG_ERR_VERSION);
            ck_assert_msg(ok, "restore: bit %d of byte %zu: %d", bit, i, rr);
        }
    char *after = state_of(&c);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    free_bytes(&s);
    node_close(&a);
    node_close(&c);
}
END_TEST

/* ---- allocation failure ----------------------------------------------------- */

typedef void (*fm_setup)(node *n);
typedef int (*fm_call)(node *n);

static bytes fm_input;

/* For each allocation i of the call: fail it (alone, then with all later
 * ones); the call fails with NOMEM and leaves state and pending changes as
 * they were, or succeeds as without failure. Nothing leaks. */
static void fail_each(fm_setup setup, fm_call call, const char *name)
{
    node n;
    node_init(&n, 1);
    setup(&n);
    uint8_t *p = NULL;
    size_t plen = 0;
    if (mcreg_changes_drain(n.reg, &p, &plen) == MCREG_OK)
        mcreg_buffer_free(n.reg, p);
    size_t calls0 = n.alloc.calls;
    ck_assert_int_eq(call(&n), MCREG_OK);
    size_t total = n.alloc.calls - calls0;
    char *ok = state_of(&n);
    node_close(&n);
    for (size_t i = 1; i <= total; i++)
        for (int all = 0; all < 2; all++) {
            node_init(&n, 1);
            setup(&n);
            if (mcreg_changes_drain(n.reg, &p, &plen) == MCREG_OK)
                mcreg_buffer_free(n.reg, p);
            char *before = state_of(&n);
            node_reset_events(&n);
            n.alloc.fail_at = n.alloc.calls + i;
            n.alloc.fail_all_after = all;
            int rc = call(&n);
            n.alloc.fail_at = 0;
            char *after = state_of(&n);
            if (rc == MCREG_OK) {
                ck_assert_msg(!strcmp(after, ok), "%s alloc %zu: state differs", name, i);
            } else {
                ck_assert_msg(rc == MCREG_ERR_NOMEM, "%s alloc %zu: rc %d", name, i, rc);
                ck_assert_msg(!strcmp(after, before), "%s alloc %zu: state changed\n%s\n%s",
                              name, i, before, after);
                ck_assert_msg(n.ev.count == 0, "%s alloc %zu: events", name, i);
                ck_assert_msg(mcreg_changes_drain(n.reg, &p, &plen) == MCREG_ERR_NOT_FOUND,
                              "%s alloc %zu: a pending change left behind", name, i);
                ck_assert_int_eq(call(&n), MCREG_OK); /* still works */
                free(after);
                after = state_of(&n);
                ck_assert_msg(!strcmp(after, ok), "%s alloc %zu: retry differs", name, i);
            }
            free(before);
            free(after);
            node_close(&n);
        }
    free(ok);
}

static void setup_none(node *n)
{
    (void)n;
}

static void setup_some(node *n)
{
    ck_assert_int_eq(mcreg_set_user_max_ues(n->reg, "alice", 2), MCREG_OK);
    reg_ok(n, "alice", "ue1", 60, T0);
    reg_ok(n, "alice", "ue2", 60, T0 + 1);
    reg_ok(n, "bob", "ue3", 60, T0 + 2);
    ck_assert_int_eq(mcreg_deregister(n->reg, "bob", "ue3", T0 + 3), MCREG_OK);
    reg_ok(n, "bob", "ue4", 1, T0 + 3);
}

static int call_create(node *n)
{
    mcreg_binding b = tu_binding("carol", "ue5", 60);
    return mcreg_register(n->reg, &b, T0 + 10, NULL);
}

/* bob's ue4 (1 s, at T0 + 3) has lapsed: it goes first, as an expiry. */
static int call_create_lapsed(node *n)
{
    mcreg_binding b = tu_binding("bob", "ue8", 60);
    return mcreg_register(n->reg, &b, T0 + 5000, NULL);
}

static int call_relogon_lapsed(node *n)
{
    mcreg_binding b = tu_binding("bob", "ue4", 60);
    return mcreg_register(n->reg, &b, T0 + 5000, NULL);
}

static int call_refresh(node *n)
{
    mcreg_binding b = tu_binding("alice", "ue1", 30);
    b.contact = "sip:new";
    return mcreg_register(n->reg, &b, T0 + 10, NULL);
}

static int call_refresh_same(node *n)
{
    mcreg_binding b = tu_binding("alice", "ue1", 30);
    return mcreg_register(n->reg, &b, T0 + 10, NULL);
}

static int call_replace(node *n)
{
    mcreg_binding b = tu_binding("carol", "ue1", 60);
    return mcreg_register(n->reg, &b, T0 + 10, NULL);
}

static int call_remove(node *n)
{
    mcreg_binding b = tu_binding("alice", "ue1", 0);
    return mcreg_register(n->reg, &b, T0 + 10, NULL);
}

static int call_deregister(node *n)
{
    return mcreg_deregister(n->reg, "alice", "ue2", T0 + 10);
}

static int call_deregister_user(node *n)
{
    return mcreg_deregister_user(n->reg, "alice", T0 + 10, NULL);
}

static int call_expire(node *n)
{
    return mcreg_expire(n->reg, T0 + 60001, NULL);
}

static int call_set_limit(node *n)
{
    return mcreg_set_user_max_ues(n->reg, "dave", 4);
}

static int call_clear_limit(node *n)
{
    return mcreg_clear_user_max_ues(n->reg, "alice");
}

static int call_apply(node *n)
{
    return mcreg_changes_apply(n->reg, fm_input.p, fm_input.len, T0 + 20);
}

START_TEST(test_failmalloc_local_calls)
{
    fail_each(setup_none, call_create, "create");
    fail_each(setup_some, call_create, "create beside");
    fail_each(setup_some, call_create_lapsed, "create, a lapsed record of the user");
    fail_each(setup_some, call_relogon_lapsed, "a new logon at the pair's lapsed record");
    fail_each(setup_some, call_refresh, "refresh new block");
    fail_each(setup_some, call_refresh_same, "refresh in place");
    fail_each(setup_some, call_replace, "replace");
    fail_each(setup_some, call_remove, "expires 0");
    fail_each(setup_some, call_deregister, "deregister");
    fail_each(setup_some, call_deregister_user, "deregister_user");
    fail_each(setup_some, call_expire, "expire");
    fail_each(setup_some, call_set_limit, "set limit");
    fail_each(setup_some, call_clear_limit, "clear limit");
}
END_TEST

START_TEST(test_failmalloc_apply)
{
    /* A rich input: puts, a replacement, removals, limits, from a peer with
     * state of its own. */
    node a;
    node_init(&a, 2);
    setup_some(&a);
    reg_ok(&a, "carol", "ue1", 60, T0 + 5); /* replaces alice at ue1 */
    reg_ok(&a, "erin", "ue7", 60, T0 + 5);
    ck_assert_int_eq(mcreg_set_user_max_ues(a.reg, "frank", 9), MCREG_OK);
    fm_input = drain(&a);
    node_close(&a);
    fail_each(setup_none, call_apply, "apply to empty");
    fail_each(setup_some, call_apply, "apply to some");
    free_bytes(&fm_input);
    /* A snapshot's bytes. */
    node_init(&a, 2);
    rich_state(&a);
    fm_input = snapshot_of(&a);
    node_close(&a);
    fail_each(setup_none, call_apply, "snapshot to empty");
    fail_each(setup_some, call_apply, "snapshot to some");
    free_bytes(&fm_input);
}
END_TEST

Suite *suite_repl(void)
{
    Suite *s = suite_create("repl");
    TCase *tc = tcase_create("repl");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_node_id_requires_max_expires);
    tcase_add_test(tc, test_calls_need_a_node_id);
    tcase_add_test(tc, test_max_expires_caps_without_node_id);
    tcase_add_test(tc, test_drain_hands_over_once);
    tcase_add_test(tc, test_versions_follow_the_clock);
    tcase_add_test(tc, test_apply_copies_the_record);
    tcase_add_test(tc, test_put_removal_put_every_order);
    tcase_add_test(tc, test_concatenation_is_one_by_one);
    tcase_add_test(tc, test_ue_taken_while_a_replica_misses_it);
    tcase_add_test(tc, test_shortened_refresh_never_brings_back_the_older_put);
    tcase_add_test(tc, test_tombstones_forgotten_at_their_horizon);
    tcase_add_test(tc, test_same_millisecond_two_nodes);
    tcase_add_test(tc, test_lapsed_records_in_register);
    tcase_add_loop_test(tc, test_concurrent_logons_all, 0, 2);
    tcase_add_loop_test(tc, test_concurrent_logons_new_ue, 0, 2);
    tcase_add_test(tc, test_apply_refuses_stamps_ahead_of_now);
    tcase_add_test(tc, test_max_clock_skew_option);
    tcase_add_test(tc, test_clock_overflow_fails_the_call);
    tcase_add_test(tc, test_many_logons_of_one_user_all);
    tcase_add_test(tc, test_many_logons_of_one_user_new_ue);
    tcase_add_test(tc, test_every_truncation_and_bit_flip_is_format);
    tcase_add_test(tc, test_unknown_major_version);
    tcase_add_test(tc, test_snapshot_1_1_round_trip_and_merge);
    tcase_add_test(tc, test_snapshot_1_1_every_bit_flip_refused);
    tcase_add_test(tc, test_snapshot_record_and_tombstone_of_one_pair);
    tcase_add_test(tc, test_apply_refuses_a_snapshot_without_versions);
    tcase_add_test(tc, test_snapshot_1_1_requires_its_checksum);
    suite_add_tcase(s, tc);
    TCase *fm = tcase_create("failmalloc");
    tcase_set_timeout(fm, 300);
    tcase_add_test(fm, test_failmalloc_local_calls);
    tcase_add_test(fm, test_failmalloc_apply);
    suite_add_tcase(s, fm);
    return s;
}
