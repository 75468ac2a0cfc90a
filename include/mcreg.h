/*
 * mcreg.h - libmcreg: MCPTT multi-UE registration state for SIP servers.
 *
 * This header is the whole public API. The library keeps one registration
 * record per (MCPTT ID, UE id) pair, refreshes, queries and expires them,
 * and reports every change through a callback, including the multi-device
 * notifications of TS 22.179 R-6.11-001 (a user logged on from a new UE is
 * told where else they are logged on, and so are those other UEs).
 *
 * The library does no I/O: no sockets, files, stdio, clocks, threads or
 * globals. The host owns transport and time and passes `now_ms`
 * (milliseconds of one clock of its choosing: see Times below) into every
 * call that needs it. It asks mcreg_next_expiry() when to call mcreg_expire().
 *
 * Conventions
 * - Functions returning int return MCREG_OK (0) or a negative MCREG_ERR_*.
 *   mcreg_strerror() names every code.
 * - Every mutating call does all of its work or none of it: on any error,
 *   an allocation failure at any point included, the registry is exactly
 *   as it was before the call.
 * - Times: `now_ms` is any clock the host likes, but records carry absolute
 *   times that outlive the process in a snapshot (and, later, in a change
 *   feed to other hosts). For a registry that is persisted or replicated,
 *   use wall-clock milliseconds (CLOCK_REALTIME): CLOCK_MONOTONIC starts
 *   again at every boot, so records restored after a reboot would live on
 *   for as long as the machine had been up.
 * - Ids from the network may hold any valid UTF-8, CR and LF included: a
 *   host must escape them before it writes them into SIP headers, log
 *   lines or anything else with a syntax of its own.
 * - Threads: the library takes no locks and starts no threads. Separate
 *   registries are independent. On one registry, the queries (every call
 *   that takes a const mcreg_registry *, their visitors included) may run
 *   on several threads at once; a mutating call must run alone. So a host
 *   that shares a registry guards it with a read-write lock: shared for
 *   queries, exclusive for everything else (mcreg_registry_free included).
 *   A mutating call made from inside a visitor still gets MCREG_ERR_BUSY,
 *   whichever thread's visitor is running. Queries that allocate
 *   (mcreg_foreach, mcreg_limit_foreach, mcreg_snapshot) then call the
 *   registry's allocator from several threads at once: the default one
 *   (the C library's) is thread-safe; a host's own must be too.
 * - Callbacks and visitors must return normally: no longjmp out of them,
 *   and no C++ exception through the library (compile C++ callbacks so that
 *   they catch everything). The library cannot unwind its own state: a
 *   callback that does not return leaves the registry busy for good (every
 *   mutating call then gets MCREG_ERR_BUSY, and mcreg_registry_free is
 *   deferred forever).
 * - Every string argument is untrusted. Invalid input gives
 *   MCREG_ERR_INVALID from calls that return an int, and NULL or 0 from
 *   queries that return a pointer or a count; it never crashes. An id is
 *   input: a NULL id (an argument, or a field of a binding) is
 *   MCREG_ERR_INVALID, as an empty one is.
 * - A bug in the host is MCREG_ERR_MISUSE, not MCREG_ERR_INVALID: a NULL
 *   registry, binding, output pointer or visitor where one is required,
 *   or a NULL buffer with a non-zero length. A host that answers
 *   MCREG_ERR_INVALID with "400 Bad Request" can answer MCREG_ERR_MISUSE
 *   with a 500 and a bug report.
 * - mcreg_error_detail() says why the last mutating call failed: the
 *   field and the rule it broke ("ue_id: not valid UTF-8 at byte 17").
 *   Queries cannot set it (they take a const registry, and may run on
 *   several threads at once), nor can mcreg_registry_new (there is no
 *   registry yet) or a call on a NULL registry.
 * - Every function's comment ends with the errors it returns, in the order
 *   it checks them ("Errors: ...").
 * - Output parameters are written only on success.
 * - Freeing NULL (mcreg_registry_free, mcreg_options_free) is a no-op.
 */
#ifndef MCREG_H
#define MCREG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCREG_VERSION_MAJOR 0
#define MCREG_VERSION_MINOR 2
#define MCREG_VERSION_PATCH 0
#define MCREG_VERSION_STRING "0.2.0"

/* Defined once the replication API (mcreg_changes_drain and the rest,
 * 0.2) is declared. */
#define MCREG_HAS_REPLICATION 1
/* The version as one number that grows with every release, for #if and for
 * comparing with mcreg_version_number(): 0.1.0 is 100, 1.2.3 is 10203. */
#define MCREG_VERSION_NUMBER \
    (MCREG_VERSION_MAJOR * 10000 + MCREG_VERSION_MINOR * 100 + MCREG_VERSION_PATCH)

#if defined(MCREG_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define MCREG_API __attribute__((visibility("default")))
#else
#define MCREG_API
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

#define MCREG_OK 0
#define MCREG_ERR_INVALID (-1)   /* bad argument or a length/count limit exceeded */
#define MCREG_ERR_NOMEM (-2)     /* the allocator returned NULL; nothing changed */
#define MCREG_ERR_NOT_FOUND (-3) /* no such record, user or deadline */
#define MCREG_ERR_LIMIT (-4)     /* user at its UE limit under MCREG_LIMIT_REJECT */
#define MCREG_ERR_STALE (-5)     /* same Call-ID, CSeq not greater (RFC 3261 10.3) */
#define MCREG_ERR_BUSY (-6)      /* mutating call from inside a callback */
#define MCREG_ERR_FORMAT (-7)    /* malformed snapshot */
#define MCREG_ERR_VERSION (-8)   /* snapshot of an unsupported format version */
#define MCREG_ERR_MISUSE (-9)    /* a bug in the host, not bad input: a NULL registry,
                                    binding or output pointer where one is required */
#define MCREG_ERR_CLOCK (-10)    /* 0.2: a version stamp past the clock's bounds: an
                                    applied one too far ahead of now_ms, or a local
                                    call's that would pass 2^64 - 1 */

/* Input limits. Ids are non-empty valid UTF-8 of at most MCREG_MAX_ID_LEN
 * bytes. Contact and Call-ID, when given, are non-empty valid UTF-8 of at
 * most MCREG_MAX_URI_LEN bytes. A binding carries at most
 * MCREG_MAX_SETTINGS settings with unique non-empty valid UTF-8 keys; the
 * key's bytes plus the value's bytes (text or bytes; 0 for int and bool) are
 * at most MCREG_MAX_SETTING_LEN. */
#define MCREG_MAX_ID_LEN 1024
#define MCREG_MAX_URI_LEN 2048
#define MCREG_MAX_SETTINGS 64
#define MCREG_MAX_SETTING_LEN 4096

/* ------------------------------------------------------------------------ */
/* Types                                                                    */

typedef struct mcreg_registry mcreg_registry;
typedef struct mcreg_options mcreg_options;
typedef struct mcreg_record mcreg_record;

/* A per-registry allocator. All three functions are required and follow the
 * C library's contracts (realloc returns NULL and leaves the block intact on
 * failure). `ctx` is passed back to every call. They must not call into the
 * registry they serve. */
typedef struct mcreg_allocator {
    void *(*malloc)(size_t size, void *ctx);
    void *(*realloc)(void *ptr, size_t size, void *ctx);
    void (*free)(void *ptr, void *ctx);
    void *ctx;
} mcreg_allocator;

typedef enum mcreg_value_type {
    MCREG_VAL_INT = 0,
    MCREG_VAL_TEXT = 1, /* valid UTF-8 (U+0000 allowed: use len); ptr may be
                           NULL only when len == 0 */
    MCREG_VAL_BYTES = 2, /* any bytes; ptr may be NULL only when len == 0 (read
                            back, ptr is never NULL) */
    MCREG_VAL_BOOL = 3  /* b: any non-zero value is stored as 1 */
} mcreg_value_type;

/* One typed client setting of a UE. Settings read back from a record point
 * into the record: text values are also NUL-terminated there. */
typedef struct mcreg_setting {
    const char *key;
    mcreg_value_type type;
    union {
        int64_t i;
        int b;
        struct {
            const char *ptr;
            size_t len;
        } text;
        struct {
            const uint8_t *ptr;
            size_t len;
        } bytes;
    } v;
} mcreg_setting;

/* What a SIP REGISTER asks for one (user, UE) pair. */
typedef struct mcreg_binding {
    const char *user_id; /* required: MCPTT ID */
    const char *ue_id;   /* required: MCPTT client / UE id */
    const char *contact; /* may be NULL: on refresh, keep the stored one */
    const char *call_id; /* may be NULL: no ordering check, none stored */
    uint32_t cseq;
    uint32_t expires_s; /* 0 removes this UE's record */
    const mcreg_setting *settings; /* replace the record's settings as a whole */
    size_t n_settings;
} mcreg_binding;

typedef enum mcreg_outcome {
    MCREG_CREATED = 0,
    MCREG_REFRESHED = 1, /* also reported for a shortened expiry */
    MCREG_REMOVED = 2
} mcreg_outcome;

typedef enum mcreg_limit_policy {
    MCREG_LIMIT_REJECT = 0,       /* default: MCREG_ERR_LIMIT, REJECTED event */
    MCREG_LIMIT_EVICT_OLDEST = 1, /* earliest registered_at goes */
    MCREG_LIMIT_EVICT_SOONEST = 2 /* earliest expires_at goes */
} mcreg_limit_policy;

typedef enum mcreg_notify_policy {
    MCREG_NOTIFY_ALL = 0,    /* default: the new UE and each of the user's other UEs */
    MCREG_NOTIFY_NEW_UE = 1, /* the new UE only (as TS 23.281 7.13 does for MCVideo) */
    MCREG_NOTIFY_NONE = 2
} mcreg_notify_policy;

typedef enum mcreg_event_type {
    MCREG_EV_CREATED = 0,
    MCREG_EV_REFRESHED = 1,    /* new expiry not earlier than the old */
    MCREG_EV_SHORTENED = 2,    /* new expiry earlier than the old */
    MCREG_EV_DEREGISTERED = 3, /* expires 0, mcreg_deregister, mcreg_deregister_user */
    MCREG_EV_EXPIRED = 4,
    MCREG_EV_EVICTED = 5,  /* removed to make room under an EVICT_* policy */
    MCREG_EV_REPLACED = 6, /* removed because another user took the UE */
    MCREG_EV_REJECTED = 7, /* a new UE refused under MCREG_LIMIT_REJECT */
    MCREG_EV_NOTIFY_LOGON = 8,
    MCREG_EV_NOTIFY_LOGOFF = 9
} mcreg_event_type;

/*
 * An event. Every pointer in it is valid only during the callback.
 * - user_id, ue_id: the pair the event is about. For NOTIFY_LOGON ue_id is
 *   the UE that logged on; for NOTIFY_LOGOFF the UE that left.
 * - record: the record after the change; for removals (DEREGISTERED,
 *   EXPIRED, EVICTED, REPLACED, and NOTIFY_LOGOFF) the record as it was,
 *   no longer findable; NULL for REJECTED. For NOTIFY_LOGON the new record.
 * - recipient_ue_id: NOTIFY_* only: the UE to tell (its contact is
 *   mcreg_record_contact(ev->recipient)).
 * - other_ue_ids, n_other: NOTIFY_* only: every UE the user is logged on
 *   from except the recipient, in registered_at order. NULL and 0 for other
 *   events.
 * NOTIFY_LOGOFF goes to each UE the user still has when the call completes
 * (so when one call removes several of a user's UEs, only the survivors are
 * told, once per removed UE), in registered_at order, except a UE that logs
 * on in that same call; its other_ue_ids are those same survivors less the
 * recipient.
 */
typedef struct mcreg_event {
    mcreg_event_type type;
    uint64_t at_ms; /* the now_ms of the call */
    const char *user_id;
    const char *ue_id;
    const mcreg_record *record;
    const char *recipient_ue_id;
    const char *const *other_ue_ids;
    size_t n_other;
    /* Two more fields, as stable as the ones above: the registry the event
     * comes from (which the callback may query), and for NOTIFY_* the
     * recipient's record (its contact, Call-ID and settings), so that the
     * callback need not look it up. */
    mcreg_registry *registry;       /* the registry the event comes from */
    const mcreg_record *recipient;  /* NOTIFY_* only: the recipient's record */
    /* 0.2: the node id whose change caused the event: the registry's own
     * for its local calls, the node of the applied entry's version for
     * mcreg_changes_apply; 0 in a registry without a node id. */
    uint64_t origin;
} mcreg_event;

/* Called once per event, after the call's whole change is complete and
 * consistent. It may query the registry; any mutating call on the same
 * registry returns MCREG_ERR_BUSY and changes nothing. It may call
 * mcreg_registry_free: no further event of that call is delivered.
 * It must return normally: no longjmp out of it, no C++ exception through
 * it (as SQLite and ngtcp2 require of their callbacks). The registry stays
 * busy until it returns, so one that never does leaves the registry busy
 * for good. */
typedef void (*mcreg_event_fn)(const mcreg_event *ev, void *user_data);

/* Visitor for mcreg_foreach / mcreg_user_foreach: return 0 to go on, any
 * other value to stop (positive values are best: the foreach call returns
 * the value, and errors are negative). The visitor may query; mutating calls
 * return MCREG_ERR_BUSY. Visitors of several threads may run at once (see
 * Threads above): one must not count on being the only one. Like an event
 * callback it must return normally: no longjmp, no C++ exception. */
typedef int (*mcreg_visit_fn)(const mcreg_record *r, void *ud);

/* Visitor for mcreg_limit_foreach: a user with a UE limit of its own. The
 * id stays valid for the call. Returns as mcreg_visit_fn, and must return
 * normally as it must. */
typedef int (*mcreg_limit_fn)(const char *user_id, uint32_t max_ues, void *ud);

/* A version of replicated state (REPLICATION.md): a change's hybrid
 * logical clock stamp (48 bits of milliseconds, 16 of counter: ms << 16 |
 * counter) and the node that made it. Versions order by stamp, then node. */
typedef struct mcreg_change_version {
    uint64_t stamp;
    uint64_t node_id;
} mcreg_change_version;

/* ------------------------------------------------------------------------ */
/* Options: NULL means all defaults. A registry copies what it needs, so the
 * options object may be freed right after mcreg_registry_new. Options
 * objects use the C library's malloc (the allocator is one of the options).
 * Setters on a NULL options object do nothing. Values are checked by
 * mcreg_registry_new, which returns MCREG_ERR_INVALID for an unknown
 * policy, an allocator with a NULL function or a capacity above
 * MCREG_MAX_CAPACITY. mcreg_options_free and the setters return nothing
 * and have no errors. */

/* A new options object with every default.
 * Errors: MCREG_ERR_MISUSE (out is NULL), MCREG_ERR_NOMEM. */
MCREG_API int mcreg_options_new(mcreg_options **out);
MCREG_API void mcreg_options_free(mcreg_options *o);
/* NULL restores the default (the C library's malloc, realloc and free). */
MCREG_API void mcreg_options_set_allocator(mcreg_options *o, const mcreg_allocator *a);
MCREG_API void mcreg_options_set_event_callback(mcreg_options *o, mcreg_event_fn fn,
                                                void *user_data);
/* UEs per user; 0 = unlimited (default). */
MCREG_API void mcreg_options_set_max_ues(mcreg_options *o, uint32_t max);
MCREG_API void mcreg_options_set_limit_policy(mcreg_options *o, mcreg_limit_policy p);
MCREG_API void mcreg_options_set_notify_logon(mcreg_options *o, mcreg_notify_policy p);
/* on != 0: NOTIFY_LOGOFF to a user's remaining UEs on any removal (default off). */
MCREG_API void mcreg_options_set_notify_logoff(mcreg_options *o, int on);
/* on != 0 (default): a UE carries one user at a time; user B registering at
 * a UE held by user A removes A's record there first (REPLACED). */
MCREG_API void mcreg_options_set_ue_exclusive(mcreg_options *o, int on);
/* Seed of the keyed hash (SipHash-1-3) over ids. Ids come from the network:
 * pass randomness from the host (getrandom(2), say) so that ids colliding
 * in the hash tables cannot be precomputed. Without it the library, which
 * has no source of randomness, mixes a fixed constant with the registry's
 * own address: better than a constant under address-space randomization,
 * but no secret. */
MCREG_API void mcreg_options_set_hash_seed(mcreg_options *o, uint64_t seed);
/* 0.2. Non-zero: this registry takes part in replication (default 0:
 * off). It records one change per local mutating call for
 * mcreg_changes_drain and accepts mcreg_changes_apply; its records carry
 * versions. mcreg_registry_new returns MCREG_ERR_INVALID for a node id
 * without mcreg_options_set_max_expires. */
MCREG_API void mcreg_options_set_node_id(mcreg_options *o, uint64_t node_id);
/* 0.2. A binding's expires_s above max_s is granted as max_s (default 0:
 * no cap), with or without a node id. With one it bounds how long a
 * removal is remembered (stamp + 1000 * max_s): every node of a cluster
 * must use the same value. */
MCREG_API void mcreg_options_set_max_expires(mcreg_options *o, uint32_t max_s);
/* 0.2. How far ahead of now_ms (in ms) the stamp of an applied entry may
 * be (default 60000). A version stamp is a hybrid logical clock: a node's
 * later calls take stamps above every one applied, so an entry stamped
 * far ahead (a wrong clock or a hostile buffer) would push every later
 * version, and every horizon, that far. mcreg_changes_apply refuses a
 * whole input holding an entry whose stamp's milliseconds exceed now_ms +
 * ms (MCREG_ERR_CLOCK); mcreg_restore does not (see there). Use a bound
 * above the clocks' worst disagreement across the cluster. A NULL o is a
 * no-op. Errors: none. */
MCREG_API void mcreg_options_set_max_clock_skew(mcreg_options *o, uint32_t ms);
/* Size the registry for `records` records at creation: its hash tables (a
 * bucket per record for the records' UEs and as many for users) and its
 * expiry heap are allocated, and their memory written, by
 * mcreg_registry_new. Below that many records no call then grows or
 * rehashes them, and they stay when the registry empties, so no call
 * stalls on a table doubling (tens of milliseconds near 10^6 records),
 * nor, below the capacity, fails for want of table or heap room. A
 * record and a new user still cost their own allocations. Past the
 * capacity the registry grows as without one. mcreg_restore sizes the new
 * state for the larger of the capacity and the snapshot's record count.
 * Memory: about 50 bytes per record of capacity at 10^6 (up to twice the
 * tables' share just past a power of two; the README gives the measured
 * figures), held from creation on. 0 (default): no capacity, the
 * tables and the heap grow as records come and shrink as they go.
 * Errors: none here; mcreg_registry_new then returns MCREG_ERR_INVALID
 * (more than MCREG_MAX_CAPACITY records) or MCREG_ERR_NOMEM (the tables or
 * the heap could not be allocated). */
/* The largest capacity: 2^31 records (a hash table's bucket count is an
 * unsigned power of two). */
#define MCREG_MAX_CAPACITY ((size_t)1 << 31)
MCREG_API void mcreg_options_set_capacity(mcreg_options *o, size_t records);

/* ------------------------------------------------------------------------ */
/* Registry lifecycle */

/* A new, empty registry configured by o (NULL: every default). There is no
 * registry to hold a detail when this fails: mcreg_error_detail has
 * nothing to say about it.
 * Errors: MCREG_ERR_MISUSE (out is NULL), MCREG_ERR_INVALID (an unknown
 * policy, an allocator with a NULL function, or a capacity above
 * MCREG_MAX_CAPACITY), MCREG_ERR_NOMEM (the registry, or the tables and
 * the heap a capacity asks for). */
MCREG_API int mcreg_registry_new(mcreg_registry **out, const mcreg_options *o);
/* Frees the registry and every record. Called from inside a callback or a
 * visitor, the free is deferred: the library delivers no further event and
 * visits no further record, frees the registry when the callback returns,
 * and returns to the host without touching the registry again. It is a
 * mutating call: not while another thread queries the registry.
 * Errors: none. */
MCREG_API void mcreg_registry_free(mcreg_registry *reg);

/* ------------------------------------------------------------------------ */
/* Mutating calls. Each checks, in this order:
 * - MCREG_ERR_MISUSE for a NULL registry (no detail: there is no registry);
 * - MCREG_ERR_BUSY from inside a callback or a visitor. The detail is left
 *   as it was: visitors on other threads may be reading it;
 * - then the detail is reset to "", and each later error writes its own
 *   (MCREG_ERR_NOMEM included: the detail is a fixed buffer in the
 *   registry, written without allocating). */

/*
 * Register, refresh or remove the binding's (user, UE) record.
 * - Lapsed records first: the user's records with expires_at <= now_ms
 *   (past their expiry, not yet removed by mcreg_expire) go first, EXPIRED
 *   each in mcreg_expire's order, as if mcreg_expire had just run for
 *   them: a lapsed UE never counts against a limit, is never told of a
 *   logon nor named in one. The pair's own lapsed record included: the
 *   register is then a new logon (no ordering check against it, CREATED,
 *   registered_at = now_ms, no contact kept), and with expires_s == 0
 *   MCREG_ERR_NOT_FOUND. Other users' lapsed records are left to
 *   mcreg_expire. A call that fails (LIMIT, STALE, NOMEM, INVALID,
 *   NOT_FOUND) changes nothing at all: the lapsed records stay, still due
 *   for mcreg_expire (REJECT does not count them all the same).
 * - No record for the pair: create it (MCREG_CREATED, CREATED event) with
 *   registered_at = now_ms. The user's records at other UEs are untouched,
 *   except as the limit and UE-exclusive rules below say.
 *   - Limit: a user already at its limit (its per-user value, else the
 *     registry's; 0 = unlimited; lapsed records do not count): under REJECT,
 *     MCREG_ERR_LIMIT, a REJECTED event and no change at all (another
 *     user's record at the UE stays too); under EVICT_OLDEST / EVICT_SOONEST as many of
 *     the user's records as needed to bring it under the limit go first
 *     (EVICTED), the earliest (registered_at, ue_id) or the earliest
 *     (expires_at, registered_at, ue_id) first.
 *   - UE exclusive: another user's record at this UE goes (REPLACED).
 *   - When the user is left with two or more UEs: NOTIFY_LOGON to the new
 *     UE, then (MCREG_NOTIFY_ALL) to each other UE in registered_at order.
 * - A record exists: when the binding's call_id equals the stored one and
 *   cseq is not greater than the stored cseq, MCREG_ERR_STALE and no
 *   change. Else refresh it (MCREG_REFRESHED): new expiry, contact (when
 *   non-NULL), call_id (NULL clears it), cseq, and the settings replaced as
 *   a whole; REFRESHED event, or SHORTENED when the expiry moved earlier.
 *   registered_at is kept. A refresh notifies nobody.
 * - expires_s == 0: remove the record (MCREG_REMOVED, DEREGISTERED event),
 *   after the same ordering check; MCREG_ERR_NOT_FOUND when there is none.
 * expires_at = now_ms + 1000 * expires_s, saturating at UINT64_MAX.
 * Removals notify the user's remaining UEs (NOTIFY_LOGOFF) when enabled.
 * Event order: each EXPIRED (lapsed), REPLACED, then each EVICTED, each
 * removal followed by its NOTIFY_LOGOFFs, then CREATED / REFRESHED /
 * SHORTENED, then NOTIFY_LOGON.
 * `outcome` may be NULL; it is written only on success.
 * Cost: O(1) expected plus the events, except that a new record is placed
 * in the user's list (and, with UE exclusive off, the UE's) by a walk from
 * both ends, which costs its distance to the nearer end: nothing when it
 * sorts last (a clock that moves forward) or first (records from a clock
 * ahead, restored from a snapshot); records registered at the same now_ms
 * with greater ids, or a list straddling now_ms, make it longer. An
 * eviction sorts the user's records once. Notifications cost O(1) each.
 * Lapsed records cost nothing to look for while no record at all is due
 * (mcreg_next_expiry > now_ms, O(1)); else a walk of the user's records.
 * With a capacity (mcreg_options_set_capacity), below it the call
 * allocates only the record and, for a new user, the user.
 * Errors (each leaves the registry as it was, the user's lapsed records
 * included): MCREG_ERR_MISUSE (NULL reg; NULL b, with the detail "binding:
 * NULL"), MCREG_ERR_BUSY, MCREG_ERR_INVALID (a field of b breaks a limit
 * of "Input limits": the detail names the field and the rule, e.g.
 * "user_id: empty", "settings[3]: key repeats settings[1]"),
 * MCREG_ERR_NOT_FOUND (expires_s == 0 and no record, or only a lapsed
 * one), MCREG_ERR_STALE, MCREG_ERR_LIMIT (under REJECT, lapsed records not
 * counted; the detail is set before the REJECTED event, so its callback
 * may read it), MCREG_ERR_NOMEM; with a node id, MCREG_ERR_CLOCK (the
 * version stamp would pass 2^64 - 1: README, "The clock's bounds").
 */
MCREG_API int mcreg_register(mcreg_registry *reg, const mcreg_binding *b, uint64_t now_ms,
                             mcreg_outcome *outcome);

/* Remove one UE's record (DEREGISTERED).
 * Errors: MCREG_ERR_MISUSE (NULL reg), MCREG_ERR_BUSY, MCREG_ERR_INVALID
 * (user_id or ue_id NULL, empty, too long or not UTF-8),
 * MCREG_ERR_NOT_FOUND (no such record); with a node id, MCREG_ERR_NOMEM
 * and MCREG_ERR_CLOCK (as mcreg_register). */
MCREG_API int mcreg_deregister(mcreg_registry *reg, const char *user_id, const char *ue_id,
                               uint64_t now_ms);

/* Remove every record of the user (DEREGISTERED each, registered_at order;
 * no NOTIFY_LOGOFF: none of its UEs remains). MCREG_ERR_NOT_FOUND if the
 * user has none. `removed` may be NULL. A per-user limit stays set.
 * Errors: MCREG_ERR_MISUSE (NULL reg), MCREG_ERR_BUSY, MCREG_ERR_INVALID
 * (user_id), MCREG_ERR_NOT_FOUND; with a node id, MCREG_ERR_NOMEM and
 * MCREG_ERR_CLOCK (as mcreg_register). */
MCREG_API int mcreg_deregister_user(mcreg_registry *reg, const char *user_id, uint64_t now_ms,
                                    size_t *removed);

/* Remove every record with expires_at <= now_ms (EXPIRED each), in
 * (expires_at, registered_at, ue_id, user_id) order. O(k log n) for k
 * expired records out of n. Allocates nothing and never fails, but for
 * MCREG_ERR_BUSY from inside a callback. `expired`
 * may be NULL. The registry never expires records on its own: a record past
 * its expiry stays findable (and refreshable) until this is called.
 * Errors: MCREG_ERR_MISUSE (NULL reg), MCREG_ERR_BUSY. */
MCREG_API int mcreg_expire(mcreg_registry *reg, uint64_t now_ms, size_t *expired);

/* mcreg_expire doing at most `max` removals: the first `max` records of
 * that order go (EXPIRED each), the rest stay due (mcreg_next_expiry <=
 * now_ms) for the next call. So a host bounds the work of one call: a
 * mass expiry (a restart, a clock jump) of 10^6 records takes about a
 * second in one mcreg_expire; in slices of a few hundred, between which
 * the host handles its traffic, no call takes more than a fraction of a
 * millisecond. O(max log n). `max` 0 removes nothing. `expired` may be
 * NULL. Allocates nothing and never fails, but for MCREG_ERR_BUSY from
 * inside a callback.
 * Errors: MCREG_ERR_MISUSE (NULL reg), MCREG_ERR_BUSY. */
MCREG_API int mcreg_expire_max(mcreg_registry *reg, uint64_t now_ms, size_t max,
                               size_t *expired);

/* Set the user's own UE limit (0 = unlimited), which overrides the
 * registry's. Records already over a lowered limit stay; the limit applies
 * to the next new UE. The limit is kept while the user has no records.
 * Errors: MCREG_ERR_MISUSE (NULL reg), MCREG_ERR_BUSY, MCREG_ERR_INVALID
 * (user_id), MCREG_ERR_NOMEM (a user with no record is created for it);
 * with a node id, MCREG_ERR_CLOCK (as mcreg_register). */
MCREG_API int mcreg_set_user_max_ues(mcreg_registry *reg, const char *user_id, uint32_t max);
/* Drop the user's own limit: the registry's applies again.
 * Errors: MCREG_ERR_MISUSE (NULL reg), MCREG_ERR_BUSY, MCREG_ERR_INVALID
 * (user_id), MCREG_ERR_NOT_FOUND (no limit of its own was set); with a
 * node id, MCREG_ERR_NOMEM and MCREG_ERR_CLOCK (as mcreg_register). */
MCREG_API int mcreg_clear_user_max_ues(mcreg_registry *reg, const char *user_id);

/* ------------------------------------------------------------------------ */
/* Queries. None allocates except mcreg_foreach and mcreg_limit_foreach.
 * All may be called from inside a callback or a visitor, and from several
 * threads at once (see Threads at the top). */

/* Earliest expires_at of all records, O(1).
 * Errors: MCREG_ERR_MISUSE (NULL reg or at_ms), MCREG_ERR_NOT_FOUND (no
 * record). */
MCREG_API int mcreg_next_expiry(const mcreg_registry *reg, uint64_t *at_ms);

/* The user's own UE limit: MCREG_OK and *max, or MCREG_ERR_NOT_FOUND when
 * none is set (the registry's applies).
 * Errors: MCREG_ERR_MISUSE (NULL reg or max), MCREG_ERR_INVALID (user_id),
 * MCREG_ERR_NOT_FOUND. */
MCREG_API int mcreg_user_max_ues(const mcreg_registry *reg, const char *user_id, uint32_t *max);

/* The record of the pair, or NULL (also for a NULL registry or an invalid
 * id). The pointer stays valid until the next mutating call on the
 * registry. Errors: none. */
MCREG_API const mcreg_record *mcreg_find(const mcreg_registry *reg, const char *user_id,
                                         const char *ue_id);
/* The record at the UE, or NULL. With UE exclusive off a UE may carry
 * several users: the one with the earliest (registered_at, user_id).
 * Errors: none (NULL). */
MCREG_API const mcreg_record *mcreg_find_ue(const mcreg_registry *reg, const char *ue_id);
/* Counts; 0 for a NULL registry or an invalid id. Errors: none. */
MCREG_API size_t mcreg_user_ue_count(const mcreg_registry *reg, const char *user_id);
MCREG_API size_t mcreg_record_count(const mcreg_registry *reg);
/* Users with at least one record. */
MCREG_API size_t mcreg_user_count(const mcreg_registry *reg);

/* Visit the user's records in (registered_at, ue_id) order. MCREG_OK when
 * all were visited, the visitor's non-zero value when it stopped,
 * MCREG_ERR_NOT_FOUND when the user has no record.
 * Errors: MCREG_ERR_MISUSE (NULL reg or fn), MCREG_ERR_INVALID (user_id),
 * MCREG_ERR_NOT_FOUND. */
MCREG_API int mcreg_user_foreach(const mcreg_registry *reg, const char *user_id,
                                 mcreg_visit_fn fn, void *ud);
/* Visit every record in (registered_at, ue_id, user_id) order. Allocates an
 * array of n pointers for the ordering: MCREG_ERR_NOMEM when that fails.
 * Returns as mcreg_user_foreach; MCREG_OK on an empty registry.
 * Errors: MCREG_ERR_MISUSE (NULL reg or fn), MCREG_ERR_NOMEM. */
MCREG_API int mcreg_foreach(const mcreg_registry *reg, mcreg_visit_fn fn, void *ud);
/* Visit every user that has a limit of its own (mcreg_set_user_max_ues),
 * with records or without, in user id order (bytewise). Allocates an array
 * of one pointer per user: MCREG_ERR_NOMEM when that fails. Returns as
 * mcreg_foreach.
 * Errors: MCREG_ERR_MISUSE (NULL reg or fn), MCREG_ERR_NOMEM. */
MCREG_API int mcreg_limit_foreach(const mcreg_registry *reg, mcreg_limit_fn fn, void *ud);

/* Record accessors. A NULL record gives NULL / 0. Errors: none. */
MCREG_API const char *mcreg_record_user_id(const mcreg_record *r);
MCREG_API const char *mcreg_record_ue_id(const mcreg_record *r);
MCREG_API const char *mcreg_record_contact(const mcreg_record *r); /* NULL if none */
MCREG_API const char *mcreg_record_call_id(const mcreg_record *r); /* NULL if none */
MCREG_API uint32_t mcreg_record_cseq(const mcreg_record *r);
MCREG_API uint64_t mcreg_record_registered_at(const mcreg_record *r); /* first logon at this UE */
MCREG_API uint64_t mcreg_record_expires_at(const mcreg_record *r);
/* 0.2. The version of the change that last wrote the record, and of the
 * one that created it (its logon). {0, 0} in a registry without a node id
 * and for a NULL record. */
MCREG_API mcreg_change_version mcreg_record_version(const mcreg_record *r);
MCREG_API mcreg_change_version mcreg_record_logon(const mcreg_record *r);
MCREG_API size_t mcreg_record_setting_count(const mcreg_record *r);
/* Settings keep the order the binding gave. NULL when i is out of range. */
MCREG_API const mcreg_setting *mcreg_record_setting_at(const mcreg_record *r, size_t i);
MCREG_API const mcreg_setting *mcreg_record_setting_find(const mcreg_record *r, const char *key);

/* ------------------------------------------------------------------------ */
/* Counters, O(1) each: what a host would otherwise count by wrapping the
 * allocator and the event callback. */

typedef enum mcreg_stat_id {
    MCREG_STAT_RECORDS = 0,     /* records (mcreg_record_count) */
    MCREG_STAT_USERS = 1,       /* users with a record (mcreg_user_count) */
    MCREG_STAT_USER_LIMITS = 2, /* users with a UE limit of their own */
    MCREG_STAT_TOMBSTONES = 3,  /* removals kept for replication: 0 until the
                                   change feed exists */
    /* Bytes the registry holds through its allocator, exactly: the sum of
     * the sizes of every block it asked for and has not freed, the
     * registry's own included; what a counting allocator would report.
     * Not counted: the snapshot buffers mcreg_snapshot hands to the host
     * (it knows their lengths), and the blocks a query allocates and frees
     * before it returns. */
    MCREG_STAT_BYTES = 4,
    /* MCREG_STAT_EVENTS_BASE + an mcreg_event_type: events of that type
     * delivered to the callback since the registry was made (0 without a
     * callback; a restore does not reset them). Ids 5 to 63 are kept for
     * event types; counters added later take ids from 64. */
    MCREG_STAT_EVENTS_BASE = 5
} mcreg_stat_id;

/* The counter `id` (an mcreg_stat_id, or MCREG_STAT_EVENTS_BASE plus an
 * event type); 0 for an unknown id or a NULL registry. A query: it may run
 * from several threads at once, and from inside callbacks and visitors.
 * Errors: none. */
MCREG_API uint64_t mcreg_stat(const mcreg_registry *reg, int id);

/* ------------------------------------------------------------------------ */
/* Snapshot and restore
 *
 * A snapshot is the registry's whole state as CBOR (RFC 8949): every record
 * with all its fields and settings, and every per-user limit. The README
 * gives the schema in CDDL (RFC 8610). The registry's options (allocator,
 * callback, policies, limit, hash seed) are configuration, not state, and
 * are not in it. The host stores the bytes wherever it likes and restores
 * them into a registry of the same or a later version of the library, with
 * now_ms on the same clock. */

/* The snapshot format this library writes. It reads every snapshot of the
 * same major version, later minor versions included (it skips the map keys
 * it does not know). */
#define MCREG_SNAPSHOT_MAJOR 1
#define MCREG_SNAPSHOT_MINOR 0
/* 0.2: the minor version of the snapshots of a registry with a node id
 * (records with their versions, tombstones, the UEs' highest puts, the
 * limits' versions, a CRC-32C). A registry without one writes 1.0. */
#define MCREG_SNAPSHOT_REPL_MINOR 1

/* Encode the state into a new buffer of *len bytes, allocated through the
 * registry's allocator; free it with mcreg_buffer_free. Deterministic: one
 * state always gives the same bytes, whatever order it was built in
 * (records sorted by user id, then UE id; RFC 8949 core deterministic
 * encoding). Changes nothing, so it may be called from inside a callback or
 * a visitor. Cost: O(n log n) for n records, plus the output.
 * Errors: MCREG_ERR_MISUSE (NULL reg, buf or len), MCREG_ERR_NOMEM. */
MCREG_API int mcreg_snapshot(const mcreg_registry *reg, uint8_t **buf, size_t *len);

/* Free a buffer from mcreg_snapshot through the allocator of `reg`, the
 * registry that made it (it must not have been freed yet). NULL buf is a
 * no-op; so is a NULL reg, as the allocator is then unknown. Errors: none. */
MCREG_API void mcreg_buffer_free(const mcreg_registry *reg, uint8_t *buf);

/*
 * Replace the whole state (records and per-user limits) by the snapshot's.
 * Every byte is treated as hostile. The new state is built beside the
 * current one and swapped in only when the whole input is valid: on any
 * error the registry is exactly as it was.
 * - Records with expires_at <= now_ms are dropped; a user left with no
 *   record keeps its limit.
 * - No event is emitted.
 * - The snapshot must fit this registry's options: with UE exclusive on, a
 *   UE held by two users is MCREG_ERR_FORMAT. Limits are not enforced on
 *   restored records (a lowered limit may leave a user over it, as here).
 * - Hostile-safe is not corruption-proof: format 1.0 has no checksum, so
 *   a 1.0 snapshot whose bytes changed but still decode (a digit of an
 *   expiry, a letter of an id) restores as written. A host that stores
 *   1.0 snapshots where they may rot should keep a checksum of its own
 *   beside them. A 1.1 snapshot (a registry with a node id) always
 *   carries its CRC-32C (key 19): without it, or with a wrong one,
 *   MCREG_ERR_FORMAT.
 * - On MCREG_ERR_FORMAT or MCREG_ERR_VERSION, mcreg_error_detail gives the
 *   byte offset (from 0) of the item at fault and the rule it broke:
 *   "snapshot: byte 1234: records[5]: map keys out of order".
 * Errors, in the order they are checked: MCREG_ERR_MISUSE (NULL reg),
 * MCREG_ERR_BUSY, MCREG_ERR_MISUSE (NULL buf with len > 0; a NULL buf
 * with len 0 is an empty input, so MCREG_ERR_FORMAT); then
 * MCREG_ERR_VERSION (a major format version other than
 * MCREG_SNAPSHOT_MAJOR), MCREG_ERR_FORMAT (anything malformed: truncated,
 * trailing bytes, indefinite lengths, wrong types, map keys not in
 * ascending order or repeated, duplicate (user, UE) pairs or limits, a
 * 1.1 record and tombstone of one pair, values outside the limits of
 * mcreg_register, ...) or MCREG_ERR_NOMEM.
 * - With a node id the snapshot's stamps are not bounded by now_ms (unlike
 *   mcreg_changes_apply's): a node restoring its own snapshot after its
 *   clock stepped back must still restore. The clock takes the highest
 *   stamp restored; should that be 2^64 - 1, later local mutating calls
 *   fail with MCREG_ERR_CLOCK rather than reuse a version.
 * Memory: both states exist until the swap. No allocation is larger than
 * the input justifies, whatever lengths it declares; the new state takes
 * about as much memory as the same records registered through
 * mcreg_register, which for records of a few bytes is up to 20 times the
 * input's size.
 * Cost: O(n) expected for n records, plus sorting lists the input gives
 * out of order.
 */
MCREG_API int mcreg_restore(mcreg_registry *reg, const uint8_t *buf, size_t len,
                            uint64_t now_ms);

/* ------------------------------------------------------------------------ */
/* Replication (0.2; REPLICATION.md, README "Change format")
 *
 * A registry with a node id records one change per local mutating call
 * (the puts, removals and limits it made). The host drains them as bytes,
 * moves them to every node (its own journal included), and each node
 * applies them. Nodes that applied the same changes hold the same state,
 * whatever the order: the same mcreg_state_digest and, once each called
 * mcreg_expire with the same now_ms, the same snapshot bytes. */

/* The change format this library writes, and the snapshot minor version
 * of a registry with a node id (versions, tombstones, checksum). */
#define MCREG_CHANGES_MAJOR 1
#define MCREG_CHANGES_MINOR 0

/* Hand over the changes of this registry's own mutating calls since the
 * last drain, oldest first, as one new buffer of *len bytes (one
 * self-delimiting CBOR item with a CRC-32C; free it with
 * mcreg_buffer_free). The registry then holds no pending change. Changes
 * nothing else, so it may be called from inside a callback.
 * Errors: MCREG_ERR_MISUSE for a NULL argument, MCREG_ERR_INVALID for a
 * registry without a node id, MCREG_ERR_NOT_FOUND when no change is
 * pending, MCREG_ERR_NOMEM (the changes stay pending). */
MCREG_API int mcreg_changes_drain(mcreg_registry *reg, uint8_t **buf, size_t *len);

/* Merge buf[0..len) into the state: a drained buffer of any node (this
 * one included), several stored back to back, or a snapshot's bytes (which
 * count as every entry they hold). The state becomes REPLICATION.md's
 * function of every entry applied so far: idempotent, commutative. All or
 * nothing for the whole input. Emits the events of what changed in this
 * node's state, per pair, from before the call to after it (README,
 * "Replication"), each with `origin`; never NOTIFY_LOGOFF, NOTIFY_LOGON only
 * by the cross-node rule. Applying is never recorded for drain. The clock
 * moves past every stamp applied. Records lapsed at now_ms stay until
 * mcreg_expire; puts already expired on arrival are never records.
 * Errors, in the order they are checked: MCREG_ERR_MISUSE for a NULL
 * registry, MCREG_ERR_BUSY from inside a callback or visitor,
 * MCREG_ERR_MISUSE for a NULL buf, MCREG_ERR_INVALID for a registry
 * without a node id; MCREG_ERR_FORMAT for an empty input;
 * MCREG_ERR_VERSION (a major format version this library does not know);
 * MCREG_ERR_FORMAT (anything malformed: a truncation, a wrong checksum,
 * any flipped bit, trailing bytes, values outside the limits of
 * mcreg_register, a UE held twice in a snapshot under UE exclusive, a
 * snapshot's record and tombstone of one pair, a snapshot without
 * versions: 1.0, or a record lacking keys 16 and 17);
 * MCREG_ERR_CLOCK (an entry's version or logon stamped more than
 * max_clock_skew ms ahead of now_ms: mcreg_options_set_max_clock_skew);
 * MCREG_ERR_NOMEM. On any error the state is exactly as it was. */
MCREG_API int mcreg_changes_apply(mcreg_registry *reg, const uint8_t *buf, size_t len,
                                  uint64_t now_ms);

/* When mcreg_expire has tombstones or UEs' highest puts to forget (their
 * horizon: stamp_ms + 1000 * max_expires): a deadline beside
 * mcreg_next_expiry's, so that a registry with no record left still
 * forgets its removals. Never later than the earliest horizon (it may be
 * earlier: mcreg_expire then makes it exact). O(1); changes nothing.
 * Errors: MCREG_ERR_MISUSE for a NULL argument, MCREG_ERR_NOT_FOUND when
 * there is nothing to forget (always so without a node id). */
MCREG_API int mcreg_next_horizon(const mcreg_registry *reg, uint64_t *at_ms);

/* A 64-bit digest of the replicated state: records (every field, both
 * versions), tombstones, the UEs' highest puts and the limits with their
 * versions; not the node id, the clock or anything local. Equal on two
 * registries that hold the same replicated state; different, but for a
 * 2^-64 chance, on two that do not. O(n). Changes nothing.
 * Errors: MCREG_ERR_MISUSE for a NULL argument, MCREG_ERR_INVALID for a
 * registry without a node id, MCREG_ERR_NOMEM. */
MCREG_API int mcreg_state_digest(const mcreg_registry *reg, uint64_t *digest);

/* ------------------------------------------------------------------------ */
/* Names */

/* A static description of an error code; "unknown error" for any other
 * value. Errors: none. */
MCREG_API const char *mcreg_strerror(int err);

/* Why the last mutating call on reg failed, naming the field and the rule
 * ("ue_id: not valid UTF-8 at byte 17", "settings[3]: key repeats
 * settings[1]", "cseq: 4 is not greater than the stored 7 of the same
 * call_id", "snapshot: byte 1234: records[5]: map keys out of order",
 * "out of memory: the allocator returned NULL"); "" after a success, and
 * "" for a NULL reg. It never quotes the input's bytes (byte offsets count
 * from 0), so it may be logged or put in a SIP reason phrase as it is,
 * though a host that escapes everything loses nothing.
 * Which calls set it: every mutating call that gets past its first two
 * checks (a NULL registry, MCREG_ERR_BUSY: those leave it as it was).
 * Queries never change it: a query that fails says nothing here.
 * The string is owned by the registry, at most 159 bytes, and stays valid
 * and unchanged until the next mutating call on it or its free.
 * Errors: none. */
MCREG_API const char *mcreg_error_detail(const mcreg_registry *reg);
/* A static name such as "NOTIFY_LOGON"; "UNKNOWN" for any other value.
 * Errors: none. */
MCREG_API const char *mcreg_event_name(mcreg_event_type type);
/* MCREG_VERSION_STRING of the library actually linked. Errors: none. */
MCREG_API const char *mcreg_version(void);
/* MCREG_VERSION_NUMBER of the library actually linked: a program can tell
 * at run time that it runs with an older library than it was built for. */
MCREG_API unsigned mcreg_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* MCREG_H */
