/* The registry's internal types, shared by the library's modules. */
#ifndef MCREG_REGISTRY_H
#define MCREG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "hash.h"
#include "mcreg.h"
#include "mcreg_uthash.h"

struct mcreg_user;

/* One registration: (user, UE), in one allocation: this header, the UE id,
 * the setting descriptors, then the contact, the Call-ID and the settings'
 * bytes (see record.h for the layout). A refresh builds a whole new block
 * beside the old one and swaps it in (mcreg__record_replace): it either
 * fully happens or leaves the record as it was. */
struct mcreg_record {
    /* Index of UEs. Only the first record at a UE is in the table; further
     * records at the same UE (UE exclusive off) follow it in a list (see
     * mcreg_ue_links). hh.key and hh.keylen are the UE id and its length in
     * every record, in the table or not. */
    UT_hash_handle hh;
    struct mcreg_user *user;
    /* The user's records in (registered_at, ue_id) order; the first's
     * user_prev is the last (index.c). Once a record is removed, user_next
     * queues it for its event (events.c). */
    struct mcreg_record *user_prev, *user_next;
    uint64_t registered_at;
    uint64_t expires_at;
    uint32_t cseq;
    uint32_t heap_index;   /* position in the expiry heap */
    uint16_t contact_len;  /* validation caps both strings at 2048 bytes */
    uint16_t call_id_len;
    uint8_t n_settings;    /* at most 64 */
    uint8_t flags;         /* MCREG_HAS_* */
    uint8_t removal;       /* event type once removed (see events.c) */
    char ue_id[];          /* NUL-terminated; the rest of the block follows */
};

#define MCREG_HAS_CONTACT 1u
#define MCREG_HAS_CALL_ID 2u
#define MCREG_HAS_UE_LINKS 4u

/* A record's place in its UE's list. Only a registry with UE exclusive off
 * lets several users' records share a UE, so only its records have these
 * links (MCREG_HAS_UE_LINKS), just before the record in the same block: a
 * registry with UE exclusive on saves their 16 bytes per record. The list
 * is ordered by (registered_at, user_id), so a UE shared by many users
 * never becomes a long run of equal keys in one hash bucket; its first
 * record is the one in the table, and that record's prev is the last. */
typedef struct mcreg_ue_links {
    struct mcreg_record *next, *prev;
} mcreg_ue_links;

/* One MCPTT ID: its records and its own UE limit. A user exists while it
 * has records or a limit of its own. hh.keylen is the id's length. */
typedef struct mcreg_user {
    UT_hash_handle hh;
    struct mcreg_record *first;        /* (registered_at, ue_id) order */
    uint32_t n_records;
    uint32_t max_ues;     /* valid when has_max */
    uint8_t has_max;
    uint8_t doomed;       /* out of the table, freed after the events (events.c) */
    char id[];            /* NUL-terminated */
} mcreg_user;

/* The expiry heap: an 8-ary min-heap of records, each record holding its
 * own position so that removal and re-keying are O(log n). Each record's
 * expires_at is copied into keys[], beside items[]: a sift compares the
 * children's keys without touching their records (cache misses, at a
 * million records), and reads a record only to break a tie. Eight
 * children per node (their keys fill one cache line) make the heap a third
 * as deep as a binary one: each level a record moves costs a cache miss (its
 * heap_index is written). */
typedef struct mcreg_heap {
    struct mcreg_record **items;
    uint64_t *keys; /* keys[i] == items[i]->expires_at */
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

#endif
