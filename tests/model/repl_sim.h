/* A randomized cluster of 3 to 5 replicated registries against the
 * reference model (model.h), for the Check runner
 * (tests/test_replication_model.c) and the replication soak
 * (tests/soak/repl/).
 *
 * Each node is a registry with a node id and a clock skewed by up to
 * +-500 ms, and its model. A step moves the shared clock and then does one
 * of: a local call at a node (register new / refresh / shorten / expires 0,
 * a stale request, deregister, deregister_user, set or clear a user's
 * limit, expire), a drain (the buffer joins a pool of messages in flight),
 * a delivery of a message from the pool to a node (any node, its own
 * included; now and then two messages concatenated as one journal), or a
 * merge of a peer's snapshot into a node. Messages stay in the pool after a
 * delivery (so later deliveries duplicate them and arrive in any order,
 * late), and leave it at random, reached or not every node (loss, which
 * the snapshot merges repair).
 *
 * After every call: the return codes agree; the events of the call match
 * the model's (a local call's in order; an apply's as a multiset, with
 * their origin); the node's records, versions, logons, limits and counts
 * match the model (model_check_all); a duplicate delivery leaves the digest
 * as it was; after an mcreg_expire the tombstone count matches. At the end
 * every message reaches every node, every node merges every peer's
 * snapshot, all call mcreg_expire with one now_ms, and then every model
 * node holds the same replicated state and every registry the same digest
 * and the same snapshot bytes.
 *
 * With use_lib 0 the same run drives the model nodes alone and checks that
 * they converge. */
#ifndef MCREG_TEST_REPL_SIM_H
#define MCREG_TEST_REPL_SIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct repl_sim_config {
    uint64_t seed;  /* everything else of the run comes from it */
    uint64_t steps; /* random steps before the final delivery */
    int use_lib;    /* 0: model nodes only */
    /* 1: no snapshot merges, and so no loss either (a message leaves the
     * pool once every node has it): to run without snapshot merging */
    int no_snapshots;
} repl_sim_config;

typedef struct repl_sim_stats {
    unsigned nodes;
    uint64_t local_calls, drains, deliveries, duplicates, lost, merges, events, expired;
    size_t final_entries, final_records; /* node 0's at the end */
} repl_sim_stats;

/* 0 when every check held, else -1 with the step, the node and the first
 * difference in why (cap bytes). */
int repl_sim_run(const repl_sim_config *cfg, repl_sim_stats *st, char *why, size_t cap);

#endif
