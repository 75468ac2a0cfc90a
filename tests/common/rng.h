/* The seeded random numbers of every test program (the Check runner, the
 * soak, the benchmarks, the test tools): splitmix64, small, fast and the
 * same sequence on every platform, so that a seed in a failure message
 * replays the run. Header-only: each program includes it and gets its own
 * static copy. */
#ifndef MCREG_TEST_RNG_H
#define MCREG_TEST_RNG_H

#include <stdint.h>

/* One step of splitmix64 on a bare state: for streams that are a function
 * of a small seed (say a record's settings from a 32-bit number). */
static inline uint64_t test_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

typedef struct test_rng {
    uint64_t s;
} test_rng;

static inline void test_rng_seed(test_rng *r, uint64_t seed)
{
    r->s = seed;
}

static inline uint64_t test_rng_next(test_rng *r)
{
    return test_splitmix64(&r->s);
}

/* Uniform in [0, n), n > 0 (the modulo bias is below 2^-40 for the n the
 * tests use, and irrelevant to them). */
static inline uint64_t test_rng_below(test_rng *r, uint64_t n)
{
    return test_rng_next(r) % n;
}

#endif
