/* A registry's state (what it holds, apart from its configuration):
 * sizing it in advance, emptying it, and freeing it with the registry. */
#ifndef MCREG_STATE_H
#define MCREG_STATE_H

#include <stddef.h>

#include "heap.h"
#include "rtable.h"
#include "mcreg.h"

struct mcreg_user;
struct UT_hash_table;

/* Everything a registry holds, apart from its configuration. A restore
 * builds a whole new state beside the current one and swaps it in. */
typedef struct mcreg_state {
    struct mcreg_user *users;            /* uthash table by user id */
    struct mcreg_record *ues;     /* uthash table by UE id */
    mcreg_heap heap;              /* owns the records */
    size_t n_records;
    size_t n_active_users;        /* users with at least one record */
    size_t n_limits;              /* users with a UE limit of their own */
    /* Room for one pointer per record of the largest user: eviction
     * victims while a change is made, then the other_ue_ids of
     * notifications. Grown before any change, so neither ever allocates or
     * fails. Raw memory: each use stores its own pointer type. */
    void *scratch;
    size_t scratch_cap;
    /* With a node id only (REPLICATION.md): the tombstones of pairs not
     * present (key user NUL ue), each UE's highest put (UE exclusive on),
     * each user's newest limit entry, and a lower bound of the earliest
     * horizon among the first two (0: unknown; see mcreg_expire). */
    mcreg_rtable tombs, ue_puts, limits;
    uint64_t next_horizon;
    /* The table of users or of UEs while it is empty, kept with all its
     * buckets (uthash frees a table with its last item): sized in advance
     * (mcreg__index_reserve), or emptied under a capacity. The next insert
     * takes it over. NULL otherwise. */
    struct UT_hash_table *users_spare, *ues_spare;
} mcreg_state;

/* Size reg's state for `records` records: the heap's arrays, the scratch
 * area's first room and, while they are empty, both tables, so that below
 * that count no insert grows or rehashes them. MCREG_ERR_NOMEM, with whatever was sized kept (the
 * state is consistent either way). */
int mcreg__state_reserve(mcreg_registry *reg, size_t records);

/* Free every record, user, index and buffer of reg->st and empty it; the
 * registry itself stays. */
void mcreg__state_clear(mcreg_registry *reg);

/* Free reg's state, then reg itself, whatever the busy depth (see
 * mcreg_registry_free). */
void mcreg__state_destroy(mcreg_registry *reg);

#endif
