/* The registry object, the body of mcreg.h's opaque mcreg_registry:
 * configuration, hash key, state and busy depth. registry.c defines only
 * public calls, so this header declares no functions. */
#ifndef MCREG_REGISTRY_H
#define MCREG_REGISTRY_H

#include <stdatomic.h>

#include "alloc.h"
#include "cbor_writer.h"
#include "detail.h"
#include "hash.h"
#include "mcreg.h"
#include "options.h"
#include "state.h"

struct mcreg_record;
struct mcreg_repl_node;

/* A removal a call may make, and the tombstone made ready for it. */
typedef struct mcreg_repl_staged {
    struct mcreg_record *record;
    struct mcreg_repl_node *tomb;
    struct mcreg_repl_node *ue_node; /* its UE's, should the UE be left empty */
} mcreg_repl_staged;

/* What a local mutating call has staged for its change (repl.c). */
typedef struct mcreg_repl_stage {
    int active;
    mcreg_change_version v;          /* the change's version */
    size_t reserved;                 /* bytes of the pending buffer held for it */
    mcreg_repl_staged *items;        /* possible removals */
    size_t n, cap;
} mcreg_repl_stage;

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
    unsigned record_layout;       /* MCREG_RECORD_HAS_* prefixes of its records */
    /* With a node id only (repl.c): the clock (the last stamp made or
     * applied: node-local, not state), the entries of the changes not yet
     * drained, and what the mutating call under way has staged. */
    uint64_t clock;
    mcreg_cbor_writer pending;
    size_t pending_n;             /* entries in it */
    mcreg_repl_stage stage;
};

#endif
