/*
 * clock.c - the two clocks.
 *
 * The wall clock is the library's now_ms: records carry absolute times and
 * snapshots outlive the process. The monotonic clock drives retransmission
 * timers, which must not jump when the wall clock is set.
 */
#include <time.h>

#include "registrar.h"

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

uint64_t mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
