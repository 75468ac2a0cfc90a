/* Directed replication cases (REPLICATION.md), one per bug that SIP
 * servers replicating registrations keep hitting: order per key, removals
 * that are not remembered or never sent, a record replaced on one node
 * surviving on its peers, replays, ties within one millisecond, and the
 * multi-device notification told twice or never across nodes.
 *
 * Each node is a registry with a node id (1, 2, 3: node i has id i + 1)
 * and an event recorder whose log reads TYPE(user,ue)@origin, or
 * NOTIFY_LOGON(user,ue>recipient:[others])@origin, joined by ';'. The
 * expected logs and states are written from the contract, not computed. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

#define MAX_NODES 4
#define T0 UINT64_C(1000000) /* the cluster's start, ms */
#define MAXEXP 3600u         /* max_expires, s */

typedef struct node {
    mcreg_registry *reg;
    tu_events ev;
    uint64_t id;
} node;

typedef struct buf {
    uint8_t *b;
    size_t len;
} buf;

static void rec_cb(const mcreg_event *ev, void *ud)
{
    tu_events *e = ud;
    tu_events_cb(ev, ud);
    char o[32];
    snprintf(o, sizeof(o), "@%" PRIu64, ev->origin);
    tu_events_append(e, o);
}

static model_options rules(uint32_t max_expires)
{
    model_options r;
    memset(&r, 0, sizeof(r));
    r.max_expires = max_expires ? max_expires : MAXEXP;
    return r;
}

/* Node with id `id` and the given rules (node_id set here). */
static void node_new(node *n, uint64_t id, const model_options *r)
{
    model_options mo = *r;
    mo.node_id = id;
    n->id = id;
    tu_events_init(&n->ev);
    tu_opts o = {.rules = mo, .fn = rec_cb, .ud = &n->ev};
    n->reg = tu_registry_new(&o);
}

static void cluster_new(node *c, size_t k, const model_options *r)
{
    for (size_t i = 0; i < k; i++)
        node_new(&c[i], i + 1, r);
}

static void cluster_free(node *c, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        mcreg_registry_free(c[i].reg);
        tu_events_free(&c[i].ev);
    }
}

/* The log since the last call, then empty. */
static const char *take_log(node *n)
{
    static char copy[4096];
    snprintf(copy, sizeof(copy), "%s", n->ev.log ? n->ev.log : "");
    tu_events_reset(&n->ev);
    return copy;
}

static void reg_contact(node *n, const char *user, const char *ue, const char *contact,
                        uint32_t expires_s, uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, expires_s);
    b.contact = contact;
    int rc = mcreg_register(n->reg, &b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "register(%s, %s) at node %" PRIu64 ": %d", user, ue, n->id, rc);
}

static void reg(node *n, const char *user, const char *ue, uint32_t expires_s, uint64_t now)
{
    reg_contact(n, user, ue, NULL, expires_s, now);
}

/* A copy of what the node drained (the registry's buffer freed). */
static buf drain(node *n)
{
    uint8_t *b = NULL;
    size_t len = 0;
    int rc = mcreg_changes_drain(n->reg, &b, &len);
    ck_assert_msg(rc == MCREG_OK, "drain at node %" PRIu64 ": %d", n->id, rc);
    buf out = {malloc(len ? len : 1), len};
    ck_assert_ptr_nonnull(out.b);
    memcpy(out.b, b, len);
    mcreg_buffer_free(n->reg, b);
    return out;
}

static buf snap(node *n)
{
    uint8_t *b = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(n->reg, &b, &len), MCREG_OK);
    buf out = {malloc(len ? len : 1), len};
    ck_assert_ptr_nonnull(out.b);
    memcpy(out.b, b, len);
    mcreg_buffer_free(n->reg, b);
    return out;
}

static buf cat(buf a, buf b)
{
    buf out = {malloc(a.len + b.len + 1), a.len + b.len};
    ck_assert_ptr_nonnull(out.b);
    if (a.len) /* a journal starts as {NULL, 0} */
        memcpy(out.b, a.b, a.len);
    if (b.len)
        memcpy(out.b + a.len, b.b, b.len);
    return out;
}

static void apply(node *n, buf b, uint64_t now)
{
    int rc = mcreg_changes_apply(n->reg, b.b, b.len, now);
    ck_assert_msg(rc == MCREG_OK, "apply at node %" PRIu64 ": %d", n->id, rc);
}

static uint64_t digest(const node *n)
{
    uint64_t d = 0;
    ck_assert_int_eq(mcreg_state_digest(n->reg, &d), MCREG_OK);
    return d;
}

static void expire(node *n, uint64_t now)
{
    ck_assert_int_eq(mcreg_expire(n->reg, now, NULL), MCREG_OK);
}

static const char *contact_of(const node *n, const char *user, const char *ue)
{
    const mcreg_record *r = mcreg_find(n->reg, user, ue);
    return r ? (mcreg_record_contact(r) ? mcreg_record_contact(r) : "(no contact)") : "(none)";
}

#define ck_log(n, want)                                                                      \
    do {                                                                                     \
        const char *got_ = take_log(n);                                                      \
        ck_assert_msg(strcmp(got_, (want)) == 0, "node %" PRIu64 " events '%s', want '%s'",  \
                      (n)->id, got_, (want));                                                \
    } while (0)

#define ck_contact(n, user, ue, want)                                                        \
    do {                                                                                     \
        const char *got_ = contact_of((n), (user), (ue));                                    \
        ck_assert_msg(strcmp(got_, (want)) == 0, "node %" PRIu64 " (%s, %s): %s, want %s",   \
                      (n)->id, (user), (ue), got_, (want));                                  \
    } while (0)

/* Every node holds the same replicated state, once all expired at `now`. */
static void ck_converged(node *c, size_t k, uint64_t now)
{
    for (size_t i = 0; i < k; i++)
        expire(&c[i], now);
    for (size_t i = 0; i < k; i++)
        take_log(&c[i]);
    uint64_t d0 = digest(&c[0]);
    buf s0 = snap(&c[0]);
    for (size_t i = 1; i < k; i++) {
        ck_assert_msg(digest(&c[i]) == d0, "node %zu's digest differs from node 1's", i + 1);
        buf s = snap(&c[i]);
        ck_assert_msg(s.len == s0.len && memcmp(s.b, s0.b, s.len) == 0,
                      "node %zu's snapshot differs from node 1's", i + 1);
        free(s.b);
    }
    free(s0.b);
}

static void free_bufs(buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(b[i].b);
}

static const size_t perms3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                    {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* ---- order per key ------------------------------------------------------------ */

/* put P1 at node 1; node 2, having seen it, deregisters (R); node 3, having
 * seen R, logs on again (P2). A fourth registry receives the three changes
 * in each of the 6 orders: after each, the pair is present exactly when the
 * highest version received so far is a put, and the end state is one. */
START_TEST(put_removal_put_every_order)
{
    model_options r = rules(0);
    node c[3];
    cluster_new(c, 3, &r);
    buf ch[3];
    reg_contact(&c[0], "alice", "x", "sip:p1@127.0.0.1", 600, T0);
    ch[0] = drain(&c[0]);
    apply(&c[1], ch[0], T0 + 10);
    ck_assert_int_eq(mcreg_deregister(c[1].reg, "alice", "x", T0 + 20), MCREG_OK);
    ch[1] = drain(&c[1]);
    apply(&c[2], ch[0], T0 + 30);
    apply(&c[2], ch[1], T0 + 31);
    reg_contact(&c[2], "alice", "x", "sip:p2@127.0.0.1", 600, T0 + 40);
    ch[2] = drain(&c[2]);
    uint64_t want_digest = 0;
    for (size_t p = 0; p < 6; p++) {
        node obs;
        node_new(&obs, 9, &r);
        int best = -1; /* the highest change received so far: they are in version order */
        for (size_t k = 0; k < 3; k++) {
            size_t which = perms3[p][k];
            apply(&obs, ch[which], T0 + 100 + k);
            int was = best;
            if ((int)which > best)
                best = (int)which;
            const char *want = best == 1 ? "(none)"
                                         : best == 0 ? "sip:p1@127.0.0.1" : "sip:p2@127.0.0.1";
            ck_contact(&obs, "alice", "x", want);
            /* events: only when the winner moved */
            char exp[128] = "";
            if (best != was) {
                if (best == 0)
                    snprintf(exp, sizeof(exp), "CREATED(alice,x)@1");
                else if (best == 1 && was == 0)
                    snprintf(exp, sizeof(exp), "DEREGISTERED(alice,x)@2");
                else if (best == 2 && was == 0)
                    snprintf(exp, sizeof(exp), "DEREGISTERED(alice,x)@3;CREATED(alice,x)@3");
                else if (best == 2)
                    snprintf(exp, sizeof(exp), "CREATED(alice,x)@3");
            }
            ck_log(&obs, exp);
        }
        expire(&obs, T0 + 200);
        if (p == 0)
            want_digest = digest(&obs);
        ck_assert_msg(digest(&obs) == want_digest, "order %zu: another digest", p);
        mcreg_registry_free(obs.reg);
        tu_events_free(&obs.ev);
    }
    /* the three nodes themselves, with what they miss in reverse order */
    apply(&c[0], ch[2], T0 + 300);
    apply(&c[0], ch[1], T0 + 301);
    ck_contact(&c[0], "alice", "x", "sip:p2@127.0.0.1");
    apply(&c[1], ch[2], T0 + 300);
    ck_contact(&c[1], "alice", "x", "sip:p2@127.0.0.1");
    ck_converged(c, 3, T0 + 400);
    free_bufs(ch, 3);
    cluster_free(c, 3);
}
END_TEST


/* A deregistration that arrives before its registration: nothing, then
 * nothing; a tombstone remembers it. */
START_TEST(removal_before_its_put)
{
    model_options r = rules(0);
    node c[3];
    cluster_new(c, 3, &r);
    reg(&c[0], "alice", "x", 600, T0);
    ck_log(&c[0], "CREATED(alice,x)@1");
    buf put = drain(&c[0]);
    apply(&c[1], put, T0 + 5);
    ck_log(&c[1], "CREATED(alice,x)@1");
    ck_assert_int_eq(mcreg_deregister(c[1].reg, "alice", "x", T0 + 10), MCREG_OK);
    ck_log(&c[1], "DEREGISTERED(alice,x)@2");
    buf rm = drain(&c[1]);
    apply(&c[2], rm, T0 + 20);
    ck_log(&c[2], "");
    apply(&c[2], put, T0 + 21);
    ck_log(&c[2], "");
    ck_assert_ptr_null(mcreg_find(c[2].reg, "alice", "x"));
    ck_assert_uint_eq(mcreg_record_count(c[2].reg), 0);
    ck_assert_uint_eq(mcreg_stat(c[2].reg, MCREG_STAT_TOMBSTONES), 1);
    apply(&c[0], rm, T0 + 30);
    ck_log(&c[0], "DEREGISTERED(alice,x)@2");
    ck_converged(c, 3, T0 + 40);
    free(put.b);
    free(rm.b);
    cluster_free(c, 3);
}
END_TEST

/* UE exclusive: bob takes x from alice at node 2; node 3 misses that
 * change (its removal of alice too) and gets only bob's next refresh, or
 * only a snapshot: alice's record survives nowhere. */
START_TEST(ue_taken_while_a_replica_misses_the_change)
{
    model_options r = rules(0);
    for (int via_snapshot = 0; via_snapshot < 2; via_snapshot++) {
        node c[3];
        cluster_new(c, 3, &r);
        reg(&c[0], "alice", "x", 600, T0);
        buf a = drain(&c[0]);
        apply(&c[1], a, T0 + 1);
        apply(&c[2], a, T0 + 1);
        ck_log(&c[0], "CREATED(alice,x)@1");
        ck_log(&c[1], "CREATED(alice,x)@1");
        ck_log(&c[2], "CREATED(alice,x)@1");
        reg(&c[1], "bob", "x", 600, T0 + 10);
        ck_log(&c[1], "REPLACED(alice,x)@2;CREATED(bob,x)@2");
        buf take = drain(&c[1]);
        apply(&c[0], take, T0 + 11);
        ck_log(&c[0], "REPLACED(alice,x)@2;CREATED(bob,x)@2");
        /* node 3 never gets `take` */
        if (via_snapshot) {
            buf sn = snap(&c[1]);
            apply(&c[2], sn, T0 + 20);
            free(sn.b);
        } else {
            reg(&c[1], "bob", "x", 900, T0 + 15);
            take_log(&c[1]);
            buf refresh = drain(&c[1]);
            apply(&c[2], refresh, T0 + 20);
            apply(&c[0], refresh, T0 + 20);
            take_log(&c[0]);
            free(refresh.b);
        }
        /* a higher put of another user at the UE overrides the record */
        ck_log(&c[2], "REPLACED(alice,x)@2;CREATED(bob,x)@2");
        for (int i = 0; i < 3; i++) {
            ck_assert_ptr_null(mcreg_find(c[i].reg, "alice", "x"));
            ck_assert_ptr_nonnull(mcreg_find(c[i].reg, "bob", "x"));
        }
        /* alice's own put, replayed late, does not bring her back; the
         * lost change arrives at last, late */
        apply(&c[2], a, T0 + 30);
        ck_log(&c[2], "");
        apply(&c[2], take, T0 + 35);
        ck_log(&c[2], "");
        ck_assert_ptr_null(mcreg_find(c[2].reg, "alice", "x"));
        ck_converged(c, 3, T0 + 40);
        free(a.b);
        free(take.b);
        cluster_free(c, 3);
    }
}
END_TEST

/* Each removal path of a local call reaches the peers with its reason;
 * expiry makes no change: each node expires the record by itself. */
START_TEST(every_removal_path)
{
    enum { EXPIRES0, DEREG, DEREG_USER, EVICTION, REPLACEMENT, EXPIRY, N_PATHS };
    static const char *const want_peer[N_PATHS] = {
        "DEREGISTERED(alice,x)@1", "DEREGISTERED(alice,x)@1",
        "DEREGISTERED(alice,x)@1;DEREGISTERED(alice,y)@1", "EVICTED(alice,x)@1;CREATED(alice,z)@1",
        "REPLACED(alice,x)@1;CREATED(bob,x)@1", ""};
    for (int path = 0; path < N_PATHS; path++) {
        model_options r = rules(0);
        r.policy = MCREG_LIMIT_EVICT_OLDEST;
        node c[2];
        cluster_new(c, 2, &r);
        reg(&c[0], "alice", "x", 60, T0);
        reg(&c[0], "alice", "y", 600, T0 + 1);
        if (path == EVICTION)
            ck_assert_int_eq(mcreg_set_user_max_ues(c[0].reg, "alice", 2), MCREG_OK);
        buf first = drain(&c[0]);
        apply(&c[1], first, T0 + 2);
        take_log(&c[0]);
        take_log(&c[1]);
        uint64_t now = T0 + 1000;
        mcreg_binding b = tu_binding("alice", "x", 0);
        switch (path) {
        case EXPIRES0:
            ck_assert_int_eq(mcreg_register(c[0].reg, &b, now, NULL), MCREG_OK);
            break;
        case DEREG:
            ck_assert_int_eq(mcreg_deregister(c[0].reg, "alice", "x", now), MCREG_OK);
            break;
        case DEREG_USER:
            ck_assert_int_eq(mcreg_deregister_user(c[0].reg, "alice", now, NULL), MCREG_OK);
            break;
        case EVICTION:
            reg(&c[0], "alice", "z", 600, now);
            break;
        case REPLACEMENT:
            reg(&c[0], "bob", "x", 600, now);
            break;
        case EXPIRY:
            now = T0 + 60000;
            expire(&c[0], now);
            ck_log(&c[0], "EXPIRED(alice,x)@1");
            break;
        }
        take_log(&c[0]);
        uint8_t *p = NULL;
        size_t len = 0;
        if (path == EXPIRY) {
            ck_assert_int_eq(mcreg_changes_drain(c[0].reg, &p, &len), MCREG_ERR_NOT_FOUND);
            /* the peer still holds it until its own expiry, at the same time */
            ck_assert_ptr_nonnull(mcreg_find(c[1].reg, "alice", "x"));
            expire(&c[1], now - 1);
            ck_log(&c[1], "");
            expire(&c[1], now);
            ck_log(&c[1], "EXPIRED(alice,x)@2");
        } else {
            buf rm = drain(&c[0]);
            apply(&c[1], rm, now + 5);
            ck_log(&c[1], want_peer[path]);
            ck_assert_ptr_null(mcreg_find(c[1].reg, "alice", "x"));
            /* the old put again: the removal is remembered */
            apply(&c[1], first, now + 6);
            ck_log(&c[1], "");
            ck_assert_ptr_null(mcreg_find(c[1].reg, "alice", "x"));
            free(rm.b);
        }
        ck_converged(c, 2, now + 10);
        free(first.b);
        cluster_free(c, 2);
    }
}
END_TEST

/* A refresh shortens alice's expiry (P2, 10 s) after a long put (P1,
 * 3600 s). Node 2 gets P2, expires it, then gets P1: nothing comes back.
 * Node 3 gets P1, then P2 already expired on arrival: EXPIRED. */
START_TEST(shortened_refresh_against_the_older_longer_put)
{
    model_options r = rules(0);
    node c[3];
    cluster_new(c, 3, &r);
    reg(&c[0], "alice", "x", 3600, T0);
    buf p1 = drain(&c[0]);
    reg(&c[0], "alice", "x", 10, T0 + 100);
    ck_log(&c[0], "CREATED(alice,x)@1;SHORTENED(alice,x)@1");
    buf p2 = drain(&c[0]);
    uint64_t end = T0 + 100 + 10000;

    apply(&c[1], p2, T0 + 200);
    ck_log(&c[1], "CREATED(alice,x)@1");
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(c[1].reg, "alice", "x")), end);
    expire(&c[1], end);
    ck_log(&c[1], "EXPIRED(alice,x)@2");
    apply(&c[1], p1, end + 1);
    ck_log(&c[1], "");
    ck_assert_ptr_null(mcreg_find(c[1].reg, "alice", "x"));

    apply(&c[2], p1, T0 + 200);
    ck_log(&c[2], "CREATED(alice,x)@1");
    apply(&c[2], p2, end + 1);
    ck_log(&c[2], "EXPIRED(alice,x)@1");
    ck_assert_ptr_null(mcreg_find(c[2].reg, "alice", "x"));
    apply(&c[2], p1, end + 2);
    ck_log(&c[2], "");
    ck_assert_ptr_null(mcreg_find(c[2].reg, "alice", "x"));

    expire(&c[0], end);
    ck_converged(c, 3, end + 3);
    free(p1.b);
    free(p2.b);
    cluster_free(c, 3);
}
END_TEST

/* A tombstone stays until stamp + max_expires and not one ms longer: at
 * horizon - 1 the state differs from an empty one, at the horizon it is
 * an empty one. */
START_TEST(tombstone_forgotten_at_the_horizon)
{
    const uint32_t m = 60;
    model_options r = rules(m);
    node c[2], empty;
    cluster_new(c, 2, &r);
    node_new(&empty, 7, &r);
    reg(&c[0], "alice", "x", 30, T0);
    ck_assert_int_eq(mcreg_deregister(c[0].reg, "alice", "x", T0 + 5000), MCREG_OK);
    buf b = drain(&c[0]);
    apply(&c[1], b, T0 + 5001);
    ck_log(&c[1], "");
    uint64_t horizon = T0 + 5000 + 1000u * m; /* the removal's stamp is T0 + 5000 ms */
    for (int i = 0; i < 2; i++) {
        expire(&c[i], horizon - 1);
        expire(&empty, horizon - 1);
        ck_assert_uint_eq(mcreg_stat(c[i].reg, MCREG_STAT_TOMBSTONES), 1);
        ck_assert_msg(digest(&c[i]) != digest(&empty), "node %d forgot the removal early", i + 1);
    }
    /* the same removal applied at horizon - 1 still counts; at the horizon
     * it is past and changes nothing */
    node late, later;
    node_new(&late, 5, &r);
    node_new(&later, 6, &r);
    apply(&late, b, horizon - 1);
    expire(&late, horizon - 1);
    ck_assert_uint_eq(digest(&late), digest(&c[1]));
    apply(&later, b, horizon);
    expire(&later, horizon);
    ck_assert_uint_eq(digest(&later), digest(&empty));
    for (int i = 0; i < 2; i++) {
        expire(&c[i], horizon);
        ck_assert_uint_eq(mcreg_stat(c[i].reg, MCREG_STAT_TOMBSTONES), 0);
    }
    expire(&empty, horizon);
    ck_assert_uint_eq(digest(&c[0]), digest(&empty));
    ck_assert_uint_eq(digest(&c[1]), digest(&empty));
    buf s0 = snap(&c[1]), se = snap(&empty);
    ck_assert(s0.len == se.len && memcmp(s0.b, se.b, s0.len) == 0);
    free(s0.b);
    free(se.b);
    free(b.b);
    mcreg_registry_free(late.reg);
    tu_events_free(&late.ev);
    mcreg_registry_free(later.reg);
    tu_events_free(&later.ev);
    mcreg_registry_free(empty.reg);
    tu_events_free(&empty.ev);
    cluster_free(c, 2);
}
END_TEST

/* Duplicates, a replay of every buffer from the first, the journal as one
 * concatenation, and a node's own changes: no event, the same digest. */
START_TEST(duplicates_and_replay_leave_the_digest)
{
    model_options r = rules(0);
    r.policy = MCREG_LIMIT_EVICT_SOONEST;
    node c[2];
    cluster_new(c, 2, &r);
    buf ch[8];
    uint64_t t = T0;
    reg(&c[0], "alice", "x", 600, t += 10);
    ch[0] = drain(&c[0]);
    reg(&c[0], "alice", "y", 600, t += 10);
    ch[1] = drain(&c[0]);
    ck_assert_int_eq(mcreg_set_user_max_ues(c[0].reg, "alice", 2), MCREG_OK);
    ch[2] = drain(&c[0]);
    reg(&c[0], "alice", "z", 300, t += 10); /* evicts the soonest */
    ch[3] = drain(&c[0]);
    reg(&c[0], "bob", "y", 600, t += 10); /* replaces */
    ch[4] = drain(&c[0]);
    reg(&c[0], "alice", "z", 30, t += 10); /* shortens */
    ch[5] = drain(&c[0]);
    ck_assert_int_eq(mcreg_deregister_user(c[0].reg, "bob", t += 10, NULL), MCREG_OK);
    ch[6] = drain(&c[0]);
    ck_assert_int_eq(mcreg_clear_user_max_ues(c[0].reg, "alice"), MCREG_OK);
    ch[7] = drain(&c[0]);
    take_log(&c[0]);
    buf journal = {NULL, 0};
    for (int i = 0; i < 8; i++) {
        apply(&c[1], ch[i], t + 1);
        buf j = cat(journal, ch[i]);
        free(journal.b);
        journal = j;
    }
    take_log(&c[1]);
    uint64_t d = digest(&c[1]);
    ck_assert_uint_eq(d, digest(&c[0]));
    for (int i = 0; i < 8; i++) {
        apply(&c[1], ch[i], t + 2);
        ck_log(&c[1], "");
        ck_assert_uint_eq(digest(&c[1]), d);
        apply(&c[0], ch[i], t + 2);
        ck_log(&c[0], "");
        ck_assert_uint_eq(digest(&c[0]), d);
    }
    apply(&c[1], journal, t + 3);
    ck_log(&c[1], "");
    ck_assert_uint_eq(digest(&c[1]), d);
    /* the journal into a fresh node: the same state as one by one */
    node fresh;
    node_new(&fresh, 3, &r);
    apply(&fresh, journal, t + 3);
    ck_log(&fresh, "CREATED(alice,z)@1"); /* the net change of the whole history */
    ck_assert_uint_eq(digest(&fresh), d);
    apply(&fresh, ch[3], t + 4);
    ck_log(&fresh, "");
    apply(&fresh, journal, t + 4);
    ck_log(&fresh, "");
    ck_assert_uint_eq(digest(&fresh), d);
    ck_converged(c, 2, t + 5);
    mcreg_registry_free(fresh.reg);
    tu_events_free(&fresh.ev);
    free(journal.b);
    free_bufs(ch, 8);
    cluster_free(c, 2);
}
END_TEST

/* Two nodes write one pair in the same millisecond: equal stamps, the
 * higher node id wins everywhere. */
START_TEST(same_millisecond_writes)
{
    model_options r = rules(0);
    node c[2];
    cluster_new(c, 2, &r);
    reg_contact(&c[0], "alice", "x", "sip:one@127.0.0.1", 600, T0);
    reg_contact(&c[1], "alice", "x", "sip:two@127.0.0.1", 600, T0);
    mcreg_change_version v1 = mcreg_record_version(mcreg_find(c[0].reg, "alice", "x"));
    mcreg_change_version v2 = mcreg_record_version(mcreg_find(c[1].reg, "alice", "x"));
    ck_assert_uint_eq(v1.stamp, T0 << 16);
    ck_assert_uint_eq(v2.stamp, T0 << 16);
    ck_assert_uint_eq(v1.node_id, 1);
    ck_assert_uint_eq(v2.node_id, 2);
    take_log(&c[0]);
    take_log(&c[1]);
    buf b1 = drain(&c[0]), b2 = drain(&c[1]);
    apply(&c[0], b2, T0 + 1);
    ck_log(&c[0], "DEREGISTERED(alice,x)@2;CREATED(alice,x)@2");
    apply(&c[1], b1, T0 + 1);
    ck_log(&c[1], "");
    ck_contact(&c[0], "alice", "x", "sip:two@127.0.0.1");
    ck_contact(&c[1], "alice", "x", "sip:two@127.0.0.1");
    /* the next write at node 1 in that same millisecond is above both */
    reg_contact(&c[0], "alice", "x", "sip:three@127.0.0.1", 600, T0);
    mcreg_change_version v3 = mcreg_record_version(mcreg_find(c[0].reg, "alice", "x"));
    ck_assert_uint_eq(v3.stamp, (T0 << 16) + 1);
    ck_assert_uint_eq(mcreg_record_logon(mcreg_find(c[0].reg, "alice", "x")).node_id, 2);
    take_log(&c[0]);
    buf b3 = drain(&c[0]);
    apply(&c[1], b3, T0 + 1);
    ck_log(&c[1], "REFRESHED(alice,x)@1");
    ck_contact(&c[1], "alice", "x", "sip:three@127.0.0.1");
    free(b3.b);
    ck_converged(c, 2, T0 + 2);
    free(b1.b);
    free(b2.b);
    cluster_free(c, 2);
}
END_TEST

/* alice logs on with X at node 1 and, 5 ms later, with Y at node 2, each
 * unseen by the other. Whatever the order of the two deliveries, node 2
 * (the later logon's) tells Y of X and (ALL) X of Y, once; node 1 and an
 * observer node tell nobody. */
START_TEST(concurrent_logons_told_once)
{
    static const mcreg_notify_policy pols[] = {MCREG_NOTIFY_ALL, MCREG_NOTIFY_NEW_UE};
    for (int pi = 0; pi < 2; pi++) {
        for (int order = 0; order < 2; order++) {
            model_options r = rules(0);
            r.notify = pols[pi];
            node c[3];
            cluster_new(c, 3, &r);
            reg(&c[0], "alice", "X", 600, T0);
            reg(&c[1], "alice", "Y", 600, T0 + 5);
            ck_log(&c[0], "CREATED(alice,X)@1");
            ck_log(&c[1], "CREATED(alice,Y)@2");
            buf bx = drain(&c[0]), by = drain(&c[1]);
            const char *want2 =
                pi == 0 ? "CREATED(alice,X)@1;NOTIFY_LOGON(alice,Y>Y:[X])@1;"
                          "NOTIFY_LOGON(alice,Y>X:[Y])@1"
                        : "CREATED(alice,X)@1;NOTIFY_LOGON(alice,Y>Y:[X])@1";
            if (order == 0) {
                apply(&c[0], by, T0 + 10);
                ck_log(&c[0], "CREATED(alice,Y)@2");
                apply(&c[1], bx, T0 + 11);
                ck_log(&c[1], want2);
            } else {
                apply(&c[1], bx, T0 + 10);
                ck_log(&c[1], want2);
                apply(&c[0], by, T0 + 11);
                ck_log(&c[0], "CREATED(alice,Y)@2");
            }
            apply(&c[2], order ? bx : by, T0 + 12);
            apply(&c[2], order ? by : bx, T0 + 12);
            const char *obs = order ? "CREATED(alice,X)@1;CREATED(alice,Y)@2"
                                    : "CREATED(alice,Y)@2;CREATED(alice,X)@1";
            ck_log(&c[2], obs);
            /* again, and from snapshots: told already */
            for (int i = 0; i < 3; i++) {
                apply(&c[i], bx, T0 + 20);
                apply(&c[i], by, T0 + 20);
                ck_log(&c[i], "");
            }
            buf s1 = snap(&c[0]);
            apply(&c[1], s1, T0 + 21);
            ck_log(&c[1], "");
            free(s1.b);
            ck_converged(c, 3, T0 + 30);
            free(bx.b);
            free(by.b);
            cluster_free(c, 3);
        }
    }
}
END_TEST

/* A logon that saw the other tells it locally; the peer's apply of it then
 * tells nobody. */
START_TEST(logon_after_seeing_the_other_told_once)
{
    model_options r = rules(0);
    node c[2];
    cluster_new(c, 2, &r);
    reg(&c[0], "alice", "X", 600, T0);
    buf bx = drain(&c[0]);
    apply(&c[1], bx, T0 + 1);
    take_log(&c[0]);
    ck_log(&c[1], "CREATED(alice,X)@1");
    reg(&c[1], "alice", "Y", 600, T0 + 2);
    ck_log(&c[1], "CREATED(alice,Y)@2;NOTIFY_LOGON(alice,Y>Y:[X])@2;NOTIFY_LOGON(alice,Y>X:[Y])@2");
    buf by = drain(&c[1]);
    apply(&c[0], by, T0 + 3);
    ck_log(&c[0], "CREATED(alice,Y)@2");
    ck_converged(c, 2, T0 + 4);
    free(bx.b);
    free(by.b);
    cluster_free(c, 2);
}
END_TEST

/* Order within one apply: removals, then CREATED/REFRESHED/SHORTENED, then
 * the cross-node NOTIFY_LOGON; a new logon at a present pair is
 * DEREGISTERED then CREATED; a put then removal in one buffer, absent
 * before: nothing (the net change). */
START_TEST(events_of_one_apply_in_order)
{
    model_options r = rules(0);
    node c[2];
    cluster_new(c, 2, &r);
    reg(&c[0], "alice", "a", 600, T0);
    reg(&c[0], "alice", "b", 600, T0 + 1);
    buf first = drain(&c[0]);
    apply(&c[1], first, T0 + 2);
    take_log(&c[0]);
    ck_log(&c[1], "CREATED(alice,a)@1;CREATED(alice,b)@1");
    reg(&c[0], "alice", "a", 900, T0 + 10);                  /* refresh */
    ck_assert_int_eq(mcreg_deregister(c[0].reg, "alice", "b", T0 + 11), MCREG_OK);
    reg(&c[0], "carol", "c", 600, T0 + 12);                  /* put ... */
    ck_assert_int_eq(mcreg_deregister(c[0].reg, "carol", "c", T0 + 13), MCREG_OK); /* ... removed */
    take_log(&c[0]);
    buf second = drain(&c[0]);
    apply(&c[1], second, T0 + 20);
    ck_log(&c[1], "DEREGISTERED(alice,b)@1;REFRESHED(alice,a)@1");
    ck_assert_ptr_null(mcreg_find(c[1].reg, "carol", "c"));
    ck_converged(c, 2, T0 + 30);
    free(first.b);
    free(second.b);
    cluster_free(c, 2);
}
END_TEST

/* The hybrid clock: at least now << 16, above everything seen; a limit
 * change takes the last stamp + 1; a record keeps its logon. */
START_TEST(versions_follow_the_clock)
{
    model_options r = rules(0);
    node c[2];
    cluster_new(c, 2, &r);
    reg(&c[1], "bob", "q", 600, T0 + 400); /* node 2's clock runs ahead */
    buf ahead = drain(&c[1]);
    apply(&c[0], ahead, T0);
    reg(&c[0], "alice", "x", 600, T0 + 1);
    const mcreg_record *rec = mcreg_find(c[0].reg, "alice", "x");
    mcreg_change_version v = mcreg_record_version(rec), l = mcreg_record_logon(rec);
    ck_assert_uint_eq(v.stamp, ((T0 + 400) << 16) + 1); /* above what it applied */
    ck_assert_uint_eq(v.node_id, 1);
    ck_assert(l.stamp == v.stamp && l.node_id == v.node_id);
    ck_assert_int_eq(mcreg_set_user_max_ues(c[0].reg, "alice", 3), MCREG_OK);
    reg(&c[0], "alice", "x", 600, T0 + 500);
    rec = mcreg_find(c[0].reg, "alice", "x");
    v = mcreg_record_version(rec);
    l = mcreg_record_logon(rec);
    ck_assert_uint_eq(v.stamp, (T0 + 500) << 16);
    ck_assert_uint_eq(l.stamp, ((T0 + 400) << 16) + 1); /* the logon stays */
    /* a registry without a node id: no versions, no changes */
    model_options plain = rules(0);
    plain.max_expires = 0;
    tu_events ev;
    mcreg_registry *p = tu_registry_rec(&plain, &ev);
    mcreg_binding b = tu_binding("alice", "x", 60);
    ck_assert_int_eq(mcreg_register(p, &b, T0, NULL), MCREG_OK);
    mcreg_change_version z = mcreg_record_version(mcreg_find(p, "alice", "x"));
    ck_assert(z.stamp == 0 && z.node_id == 0);
    uint8_t *x = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_changes_drain(p, &x, &len), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_changes_apply(p, ahead.b, ahead.len, T0), MCREG_ERR_INVALID);
    mcreg_registry_free(p);
    tu_events_free(&ev);
    free(ahead.b);
    cluster_free(c, 2);
}
END_TEST

/* ---- restart from a snapshot ----------------------------------------------- */

/* A restore at now_ms. */
static void restore(node *n, buf s, uint64_t now)
{
    int rc = mcreg_restore(n->reg, s.b, s.len, now);
    ck_assert_msg(rc == MCREG_OK, "restore at node %" PRIu64 ": %d", n->id, rc);
}

/* The anchor case across a restart: node 1 puts (alice, x) for an hour
 * (b1), then shortens it to 10 s (b2). Node 2 holds only b2 and snapshots
 * once it has expired, without having run mcreg_expire; node 3 restarts
 * from that snapshot then. The expired put still counts until its
 * horizon: it is the pair's tombstone (and, UE exclusive on, the UE's
 * highest put), so b1, older, does not bring the record back on node 3.
 * Node 4 saw b2 then b1 and expired at the restore time; node 2, expiring
 * then too and applying b1, ends the same. _i: 1 UE exclusive off. */
START_TEST(restart_keeps_the_expired_put)
{
    model_options r = rules(0);
    r.shared_ues = _i;
    node c[4];
    cluster_new(c, 4, &r);
    reg(&c[0], "alice", "x", 3600, T0);
    buf b1 = drain(&c[0]);
    reg(&c[0], "alice", "x", 10, T0 + 100);
    buf b2 = drain(&c[0]);
    uint64_t end = T0 + 100 + 10000, now = end + 5;

    apply(&c[1], b2, T0 + 200);
    apply(&c[3], b2, T0 + 200);
    apply(&c[3], b1, T0 + 300);
    ck_contact(&c[3], "alice", "x", "(no contact)");
    buf s = snap(&c[1]);
    restore(&c[2], s, now);
    ck_assert_ptr_null(mcreg_find(c[2].reg, "alice", "x"));
    ck_assert_uint_eq(mcreg_stat(c[2].reg, MCREG_STAT_TOMBSTONES), 1);
    apply(&c[2], b1, now + 1);
    ck_log(&c[2], "");
    ck_assert_ptr_null(mcreg_find(c[2].reg, "alice", "x"));

    expire(&c[3], now);
    expire(&c[1], now);
    apply(&c[1], b1, now + 1);
    ck_assert_ptr_null(mcreg_find(c[1].reg, "alice", "x"));
    uint64_t d = digest(&c[3]);
    buf sd = snap(&c[3]);
    for (size_t i = 1; i < 3; i++) {
        ck_assert_msg(digest(&c[i]) == d, "node %zu's digest differs from node 4's", i + 1);
        buf si = snap(&c[i]);
        ck_assert_msg(si.len == sd.len && memcmp(si.b, sd.b, si.len) == 0,
                      "node %zu's snapshot differs from node 4's", i + 1);
        free(si.b);
    }
    free(sd.b);
    free(s.b);
    free(b1.b);
    free(b2.b);
    cluster_free(c, 4);
}
END_TEST

/* The same restart at or past the expired put's horizon (stamp + 60 s):
 * the put is forgotten, as mcreg_expire forgets it, and the restored node
 * is an empty one. */
START_TEST(restart_past_the_horizon_keeps_nothing)
{
    const uint32_t m = 60;
    model_options r = rules(m);
    r.shared_ues = _i;
    node c[3];
    cluster_new(c, 3, &r);
    reg(&c[0], "alice", "x", 60, T0);
    buf b1 = drain(&c[0]);
    reg(&c[0], "alice", "x", 10, T0 + 100);
    buf b2 = drain(&c[0]);
    uint64_t horizon = T0 + 100 + 1000u * m;

    apply(&c[1], b2, T0 + 200);
    buf s = snap(&c[1]);
    restore(&c[2], s, horizon - 1); /* still counts */
    ck_assert_uint_eq(mcreg_stat(c[2].reg, MCREG_STAT_TOMBSTONES), 1);
    restore(&c[2], s, horizon);
    ck_assert_ptr_null(mcreg_find(c[2].reg, "alice", "x"));
    ck_assert_uint_eq(mcreg_stat(c[2].reg, MCREG_STAT_TOMBSTONES), 0);
    node empty;
    node_new(&empty, 7, &r);
    ck_assert_uint_eq(digest(&c[2]), digest(&empty));
    buf s2 = snap(&c[2]), se = snap(&empty);
    ck_assert(s2.len == se.len && memcmp(s2.b, se.b, s2.len) == 0);
    free(s2.b);
    free(se.b);
    mcreg_registry_free(empty.reg);
    tu_events_free(&empty.ev);
    free(s.b);
    free(b1.b);
    free(b2.b);
    cluster_free(c, 3);
}
END_TEST

Suite *suite_replication(void)
{
    Suite *s = suite_create("replication");
    TCase *tc = tcase_create("directed");
    tcase_add_test(tc, put_removal_put_every_order);
    tcase_add_test(tc, removal_before_its_put);
    tcase_add_test(tc, ue_taken_while_a_replica_misses_the_change);
    tcase_add_test(tc, every_removal_path);
    tcase_add_test(tc, shortened_refresh_against_the_older_longer_put);
    tcase_add_test(tc, tombstone_forgotten_at_the_horizon);
    tcase_add_test(tc, duplicates_and_replay_leave_the_digest);
    tcase_add_test(tc, same_millisecond_writes);
    tcase_add_test(tc, concurrent_logons_told_once);
    tcase_add_test(tc, logon_after_seeing_the_other_told_once);
    tcase_add_test(tc, events_of_one_apply_in_order);
    tcase_add_test(tc, versions_follow_the_clock);
    tcase_add_loop_test(tc, restart_keeps_the_expired_put, 0, 2);
    tcase_add_loop_test(tc, restart_past_the_horizon_keeps_nothing, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
