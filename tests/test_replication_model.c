/* The randomized replication test: 3 to 5 registries with node ids and
 * skewed clocks, their changes delivered late, twice, out of order or not
 * at all (then repaired by snapshot merges), each node compared with the
 * reference model after every call (tests/model/repl_sim.h).
 *
 * Environment: MCREG_REPL_SEED (one seed instead of the fixed list),
 * MCREG_REPL_STEPS (steps per run, default 10000), MCREG_REPL_NO_SNAPSHOTS=1
 * (no snapshot merges, and so no loss). A failure names its
 * seed: MCREG_REPL_SEED=<seed> CK_RUN_CASE=... replays it. */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "repl_sim.h"
#include "suites.h"

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    return *end ? dflt : (uint64_t)x;
}

static const uint64_t seeds[] = {1, 2, 3, 0x5eed, 20261201, 77, 4242, 999331};
#define N_SEEDS (sizeof(seeds) / sizeof(seeds[0]))

static void run_seeds(int use_lib)
{
    uint64_t one = env_u64("MCREG_REPL_SEED", 0);
    uint64_t steps = env_u64("MCREG_REPL_STEPS", 10000);
    size_t n = one ? 1 : N_SEEDS;
    for (size_t k = 0; k < n; k++) {
        repl_sim_config cfg = {one ? one : seeds[k], steps, use_lib,
                               (int)env_u64("MCREG_REPL_NO_SNAPSHOTS", 0)};
        repl_sim_stats st;
        char why[8192];
        int rc = repl_sim_run(&cfg, &st, why, sizeof(why));
        ck_assert_msg(rc == 0, "%s (replay: MCREG_REPL_SEED=%" PRIu64 " MCREG_REPL_STEPS=%" PRIu64
                      ")", why, cfg.seed, steps);
        /* the run did what it is for */
        ck_assert_uint_ge(st.deliveries, steps / 5);
        ck_assert_uint_gt(st.merges + (uint64_t)cfg.no_snapshots, 0);
        ck_assert_uint_gt(st.drains, 0);
    }
}

/* The model alone: its nodes converge whatever the delivery (a check of
 * the model's own rules: commutative, idempotent, forgetting at the
 * horizon). */
START_TEST(model_nodes_converge)
{
    run_seeds(0);
}
END_TEST

/* The registries against the model, call by call, and converged at the end. */
START_TEST(cluster_matches_model)
{
    run_seeds(1);
}
END_TEST

Suite *suite_replication_model(void)
{
    Suite *s = suite_create("replication_model");
    TCase *tc = tcase_create("random");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, model_nodes_converge);
    tcase_add_test(tc, cluster_matches_model);
    suite_add_tcase(s, tc);
    return s;
}
