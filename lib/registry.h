/* The registry object, the body of mcreg.h's opaque mcreg_registry:
 * configuration, hash key, state and busy depth. registry.c defines only
 * public calls, so this header declares no functions. */
#ifndef MCREG_REGISTRY_H
#define MCREG_REGISTRY_H

#include <stdatomic.h>

#include "alloc.h"
#include "detail.h"
#include "hash.h"
#include "mcreg.h"
#include "options.h"
#include "state.h"

/* Queries take a const registry and may run on several threads at once
 * (mcreg.h): the only fields a query writes are the busy depth and the
 * deferred free, through `self`, and both are atomic. Everything else
 * changes only in mutating calls, which the host runs alone. */
struct mcreg_registry {
    struct mcreg_registry *self;  /* for the busy depth under const (events.c) */
    mcreg_alloc alloc;            /* the host's allocator, and the bytes held */
    struct mcreg_options opt;
    mcreg_hash_key hash_key;
    mcreg_state st;
    atomic_uint busy;             /* depth of callbacks and visitors running */
    atomic_int free_pending;      /* mcreg_registry_free called while busy */
    /* Why the last mutating call failed (mcreg_error_detail): written by
     * mutating calls only, so queries of several threads may read it. */
    mcreg_detail detail;
    /* Events delivered, by type (mcreg_stat); counted by events.c, inside
     * mutating calls. */
    uint64_t events_delivered[MCREG_EV_NOTIFY_LOGOFF + 1];
};

#endif
