/* The options object, the body of mcreg.h's opaque mcreg_options, and its
 * defaults. */
#ifndef MCREG_OPTIONS_H
#define MCREG_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "mcreg.h"

struct mcreg_options {
    mcreg_allocator allocator;
    mcreg_event_fn event_fn;
    void *event_user_data;
    uint32_t max_ues;
    int limit_policy;
    int notify_logon;
    int notify_logoff;
    int ue_exclusive;
    uint64_t hash_seed;
    int hash_seed_set;
    uint64_t node_id;     /* 0: no replication */
    uint32_t max_expires; /* 0: no cap */
    uint32_t max_clock_skew; /* ms an applied stamp may be ahead of now_ms */
    size_t capacity; /* records the tables and the heap are sized for at creation */
};

#define MCREG_OPTIONS_MAX_CLOCK_SKEW 60000u

void mcreg__options_defaults(struct mcreg_options *o);

#endif
