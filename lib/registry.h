/* The registry's internal types, shared by the library's modules. */
#ifndef MCREG_REGISTRY_H
#define MCREG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "hash.h"
#include "mcreg.h"
#include "mcreg_uthash.h"

/* Contact, Call-ID and settings of a record. They change together on a
 * refresh, so they live in one block that is built beside the old one and
 * swapped in: a refresh either fully happens or leaves the record as it was.
 * The block holds the setting array, then every string and value byte. */
typedef struct mcreg_payload {
    const char *contact; /* NULL if none; points into this block */
    const char *call_id; /* NULL if none; points into this block */
    uint32_t n_settings;
    mcreg_setting settings[]; /* keys and values point into this block */
} mcreg_payload;

struct mcreg_user;

/* One registration: (user, UE). */
struct mcreg_record {
    /* Index of UEs. Only the first record at a UE is in the table; further
     * records at the same UE (UE exclusive off) follow it in a list ordered
     * by (registered_at, user_id), so a UE shared by many users never
     * becomes a long run of equal keys in one hash bucket. The first
     * record's prev_at_ue is the list's last record. */
    UT_hash_handle hh;
    struct mcreg_user *user;
    struct mcreg_record *next_at_ue, *prev_at_ue;
    /* The user's records in (registered_at, ue_id) order. */
    struct mcreg_record *user_prev, *user_next;
    mcreg_payload *payload;
    uint64_t registered_at;
    uint64_t expires_at;
    uint32_t cseq;
    uint32_t heap_index;   /* position in the expiry heap */
    uint32_t ue_len;
    uint8_t removal;       /* event type once removed (see events.c) */
    char ue_id[];          /* NUL-terminated */
};

/* One MCPTT ID: its records and its own UE limit. A user exists while it
 * has records or a limit of its own. */
typedef struct mcreg_user {
    UT_hash_handle hh;
    struct mcreg_record *first, *last; /* (registered_at, ue_id) order */
    struct mcreg_user *next_doomed;    /* users to free once events are out */
    uint32_t n_records;
    uint32_t max_ues;     /* valid when has_max */
    uint8_t has_max;
    uint8_t doomed;       /* out of the table, freed after the events */
    uint32_t id_len;
    char id[];            /* NUL-terminated */
} mcreg_user;

/* The expiry heap: a binary min-heap of records, each record holding its
 * own position so that removal and re-keying are O(log n). */
typedef struct mcreg_heap {
    struct mcreg_record **items;
    size_t n, cap;
} mcreg_heap;

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
};

/* Everything a registry holds, apart from its configuration. A restore
 * builds a whole new state beside the current one and swaps it in. */
typedef struct mcreg_state {
    mcreg_user *users;            /* uthash table by user id */
    struct mcreg_record *ues;     /* uthash table by UE id */
    mcreg_heap heap;              /* owns the records */
    size_t n_records;
    size_t n_active_users;        /* users with at least one record */
    /* Room for one pointer per record of the largest user: eviction
     * victims while a change is made, then the other_ue_ids of
     * notifications. Grown before any change, so neither ever allocates or
     * fails. Raw memory: each use stores its own pointer type. */
    void *scratch;
    size_t scratch_cap;
} mcreg_state;

struct mcreg_registry {
    struct mcreg_registry *self;  /* for the busy depth under const (events.c) */
    mcreg_allocator alloc;
    struct mcreg_options opt;
    mcreg_hash_key hash_key;
    mcreg_state st;
    unsigned busy;                /* depth of callbacks and visitors running */
    int free_pending;             /* mcreg_registry_free called while busy */
};

void mcreg__options_defaults(struct mcreg_options *o);

/* Free everything now, whatever the busy depth (see mcreg_registry_free). */
void mcreg__registry_destroy(mcreg_registry *reg);

/* Free every record, user, index and buffer of reg->st and empty it; the
 * registry itself stays. */
void mcreg__state_clear(mcreg_registry *reg);

#endif
