/* The registry object, the body of mcreg.h's opaque mcreg_registry:
 * configuration, hash key, state and busy depth. registry.c defines only
 * public calls, so this header declares no functions. */
#ifndef MCREG_REGISTRY_H
#define MCREG_REGISTRY_H

#include "alloc.h"
#include "hash.h"
#include "mcreg.h"
#include "options.h"
#include "state.h"

struct mcreg_registry {
    struct mcreg_registry *self;  /* for the busy depth under const (events.c) */
    mcreg_allocator alloc;
    struct mcreg_options opt;
    mcreg_hash_key hash_key;
    mcreg_state st;
    unsigned busy;                /* depth of callbacks and visitors running */
    int free_pending;             /* mcreg_registry_free called while busy */
};

#endif
