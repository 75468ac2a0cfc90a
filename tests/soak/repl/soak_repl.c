/* mcreg-soak-repl: the randomized replication cluster of
 * tests/model/repl_sim.h for a long time: SOAK_OPS steps in runs of
 * SOAK_REPL_RUN steps, run k with seed SOAK_SEED + k (each run ends with
 * every message delivered everywhere and every digest and snapshot equal).
 *
 * Environment: SOAK_OPS (default 1000000), SOAK_REPL_RUN (100000),
 * SOAK_SEED (1), SOAK_REPL_NO_SNAPSHOTS (0; 1: no snapshot merges and so no
 * loss, as MCREG_REPL_NO_SNAPSHOTS of the Check test). A failure prints "FAIL" with the seed and the step, which
 * MCREG_REPL_SEED / MCREG_REPL_STEPS of the Check test replay as well, and
 * exits 1. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "repl_sim.h"

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    if (*end) {
        fprintf(stderr, "%s=%s: not a number\n", name, v);
        exit(2);
    }
    return (uint64_t)x;
}

int main(void)
{
    uint64_t ops = env_u64("SOAK_OPS", 1000000);
    uint64_t per_run = env_u64("SOAK_REPL_RUN", 100000);
    uint64_t seed = env_u64("SOAK_SEED", 1);
    int no_snapshots = env_u64("SOAK_REPL_NO_SNAPSHOTS", 0) != 0;
    if (per_run == 0)
        per_run = 1;
    repl_sim_stats tot = {0};
    clock_t c0 = clock();
    uint64_t done = 0;
    for (uint64_t k = 0; done < ops; k++) {
        uint64_t steps = ops - done < per_run ? ops - done : per_run;
        repl_sim_config cfg = {seed + k, steps, 1, no_snapshots};
        repl_sim_stats st;
        char why[8192];
        if (repl_sim_run(&cfg, &st, why, sizeof(why)) != 0) {
            printf("FAIL %s\n(replay: MCREG_REPL_SEED=%" PRIu64 " MCREG_REPL_STEPS=%" PRIu64
                   " CK_RUN_SUITE=replication_model)\n",
                   why, cfg.seed, steps);
            return 1;
        }
        done += steps;
        tot.local_calls += st.local_calls;
        tot.drains += st.drains;
        tot.deliveries += st.deliveries;
        tot.duplicates += st.duplicates;
        tot.lost += st.lost;
        tot.merges += st.merges;
        tot.events += st.events;
        tot.expired += st.expired;
        printf("soak-repl: run %" PRIu64 " seed %" PRIu64 ": %" PRIu64 " steps, %u nodes, ok\n", k,
               cfg.seed, steps, st.nodes);
        fflush(stdout);
    }
    printf("soak-repl: %" PRIu64 " steps: %" PRIu64 " local calls, %" PRIu64 " drains, %" PRIu64
           " deliveries (%" PRIu64 " duplicates), %" PRIu64 " messages lost, %" PRIu64
           " snapshot merges, %" PRIu64 " events checked, %" PRIu64 " expired; %.1f s CPU\n",
           done, tot.local_calls, tot.drains, tot.deliveries, tot.duplicates, tot.lost,
           tot.merges, tot.events, tot.expired, (double)(clock() - c0) / CLOCKS_PER_SEC);
    return 0;
}
