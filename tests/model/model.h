/* The reference model of the registry's rules (include/mcreg.h), for every
 * test program that checks the library against one: the model-based Check
 * test (tests/test_model.c), the soak (tests/soak/) and snapgen
 * (tests/tools/snapgen.c).
 *
 * Written the plain way, to be read against the contract rather than the
 * library: each operation predicts the call's return code and outcome,
 * applies the change, and lists the events the call must deliver, in
 * order; the comparisons read a real registry through the public API only.
 *
 * Ids are small numbers: users 0, 1, 2, ... and UEs 0, 1, 2, ..., their
 * strings given by the caller (model_values); the model's tables grow to
 * the largest number used. Contacts, Call-IDs and sets of settings are
 * numbers too (0 = none), which the rules only compare for equality; the
 * caller turns them into bytes when a comparison needs them. So a model of
 * 10^5 users costs a few words per record.
 *
 * The shape is meant to grow: options in one struct, the state behind an
 * opaque pointer, one function per call of the public API, and events in a
 * list the caller reads after each operation. */
#ifndef MCREG_TEST_MODEL_H
#define MCREG_TEST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mcreg.h"

/* ---- options ------------------------------------------------------------ */

/* The registry options that the rules depend on. All zero is the
 * registry's defaults: no registry-wide UE limit, MCREG_LIMIT_REJECT,
 * MCREG_NOTIFY_ALL, no NOTIFY_LOGOFF, UE exclusive on. */
typedef struct model_options {
    uint32_t max_ues;
    mcreg_limit_policy policy;
    mcreg_notify_policy notify;
    int notify_logoff;
    int shared_ues; /* 1: UE exclusive off */
    /* Replication (REPLICATION.md): 0 = off, and then nothing below the
     * records' versions is kept. With a node id, max_expires is required. */
    uint64_t node_id;
    uint32_t max_expires;
} model_options;

/* Sets the options of `o` on a library options object. */
void model_options_apply(const model_options *o, mcreg_options *to);

/* ---- values -------------------------------------------------------------- */

/* How the caller's numbers read as bytes. user_id and ue_id are required;
 * the others are called with an id other than 0 only, and may be NULL when
 * the caller never uses such ids. contact and call_id may write into buf
 * (cap bytes) and return it; settings returns how many settings set `id`
 * holds, *out pointing at them until the next call. */
typedef struct model_values {
    void *ud;
    const char *(*user_id)(void *ud, uint32_t user);
    const char *(*ue_id)(void *ud, uint32_t ue);
    const char *(*contact)(void *ud, uint32_t id, char *buf, size_t cap);
    const char *(*call_id)(void *ud, uint32_t id, char *buf, size_t cap);
    size_t (*settings)(void *ud, uint32_t id, const mcreg_setting **out);
} model_values;

/* Room for contact and call_id's buf. */
#define MODEL_STR_MAX (MCREG_MAX_URI_LEN + 1)

/* ---- records, bindings, events ------------------------------------------ */

/* A version (stamp, node id): stamp = (ms << 16) | counter; ordered by
 * stamp, then node id. {0, 0} without a node id. */
typedef struct model_version {
    uint64_t stamp, node;
} model_version;

int model_version_cmp(model_version a, model_version b);

typedef struct model_record {
    uint32_t user, ue;
    uint32_t contact, call_id, settings; /* the caller's ids; 0 = none */
    uint32_t cseq;
    uint64_t registered_at, expires_at;
    model_version version, logon; /* last write, creation */
} model_record;

/* A binding, as mcreg_binding. */
typedef struct model_binding {
    uint32_t user, ue;
    uint32_t contact, call_id, settings;
    uint32_t cseq, expires_s;
} model_binding;

/* An event the last operation must deliver. For record events, `rec` is
 * the record as the event shows it (for removals: as it was); REJECTED
 * carries the ids only. NOTIFY_* add the recipient UE and the user's other
 * UEs (model_event_other()). */
typedef struct model_event {
    mcreg_event_type type;
    model_record rec;
    uint32_t recipient;
    size_t n_other;
    size_t other_at; /* the model's own: use model_event_other() */
    uint64_t origin; /* the node whose change caused it (0 without node ids) */
} model_event;

typedef struct model model;

/* ---- lifetime ------------------------------------------------------------- */

/* NULL when out of memory. `v` is copied; the strings it gives must live
 * as long as the model. */
model *model_new(const model_options *o, const model_values *v);
void model_free(model *m);
const model_options *model_get_options(const model *m);
const model_values *model_get_values(const model *m);

/* ---- operations --------------------------------------------------------- */

/* Each is the call of the same name: it returns the call's return code,
 * writes what the call writes on success, applies the change and replaces
 * the list of events with the call's. Arguments are valid by construction
 * (the model has no MCREG_ERR_INVALID). model_register, as mcreg_register,
 * first removes the user's records lapsed at now_ms (expires_at <= now_ms:
 * EXPIRED, in mcreg_expire's order) when the call succeeds: they do not
 * count against a limit, a lapsed pair that registers again is a new
 * logon, and expires 0 on one is MCREG_ERR_NOT_FOUND. */
int model_register(model *m, const model_binding *b, uint64_t now_ms, mcreg_outcome *out);
int model_deregister(model *m, uint32_t user, uint32_t ue);
int model_deregister_user(model *m, uint32_t user, size_t *removed);
/* The same with the call's now_ms, which a node id's clock needs. */
int model_deregister_at(model *m, uint32_t user, uint32_t ue, uint64_t now_ms);
int model_deregister_user_at(model *m, uint32_t user, uint64_t now_ms, size_t *removed);
int model_expire(model *m, uint64_t now_ms, size_t *expired);
int model_set_user_max_ues(model *m, uint32_t user, uint32_t max);
int model_clear_user_max_ues(model *m, uint32_t user);

/* Empties the list of events: for a call the model does not make (one
 * that fails on invalid arguments delivers none). */
void model_clear_events(model *m);
/* The events of the last operation. */
size_t model_event_count(const model *m);
const model_event *model_event_at(const model *m, size_t i);
uint32_t model_event_other(const model *m, const model_event *e, size_t k);
/* An event as text, the form of tests/testutil.h's recorder:
 *   TYPE(user,ue)  or  TYPE(user,ue>recipient:[o1,o2])
 * Returns what snprintf returns. */
int model_event_format(const model *m, const model_event *e, char *buf, size_t cap);

/* ---- replication (REPLICATION.md) -------------------------------------------
 *
 * A node is its model state plus the set of entries it has received; the
 * replicated part of the state is kept as the contract's function of that
 * set: per pair the winning entry (highest version; at an equal version a
 * removal beats a put) and the newest logon among its entries (kept as
 * long as the winner), per UE its highest put, per user the limit entry of the highest
 * version. An entry is forgotten by model_expire once now >= its stamp's
 * ms + 1000 * max_expires (limits: never); an entry that arrives at or past
 * its horizon changes nothing but the clock. A local call of a node makes
 * one change (a list of entries) as "What a change holds" says; drain
 * hands the pending ones over; apply merges a buffer as one unit and lists
 * the events of its net change, with their origin. */

typedef enum model_entry_kind {
    MODEL_PUT,       /* the whole record, rec */
    MODEL_REMOVAL,   /* a removal with its reason */
    MODEL_TOMBSTONE, /* a snapshot's tombstone: a removal without a reason */
    MODEL_UE_HIGH,   /* a snapshot's highest put of a UE: version only */
    MODEL_LIMIT      /* a user's limit: has_limit 0 = cleared */
} model_entry_kind;

typedef struct model_entry {
    model_entry_kind kind;
    uint32_t user, ue;            /* UE_HIGH: ue only; LIMIT: user only */
    model_version version, logon; /* logon: PUT, REMOVAL, TOMBSTONE */
    model_record rec;             /* PUT */
    mcreg_event_type reason;      /* REMOVAL */
    int has_limit;                /* LIMIT */
    uint32_t limit;
} model_entry;

typedef struct model_change {
    model_entry *e;
    size_t n;
} model_change;

/* A drained buffer (its changes, oldest first) or a snapshot (one change
 * holding every entry). */
typedef struct model_buffer {
    model_change *c;
    size_t n;
} model_buffer;

/* MCREG_ERR_INVALID without a node id, MCREG_ERR_NOT_FOUND when nothing is
 * pending; else moves the pending changes into *out. */
int model_changes_drain(model *m, model_buffer *out);
/* Merges every change of b as one unit: the events are the net change of
 * each pair from before the call to after it (a pair put then removed
 * within b, absent before, has none). */
int model_changes_apply(model *m, const model_buffer *b, uint64_t now_ms);
/* The entries a snapshot of m holds, as one change. */
void model_snapshot_entries(const model *m, model_buffer *out);
void model_buffer_free(model_buffer *b);
/* Pairs that are not present and keep their winning entry. */
size_t model_tombstone_count(const model *m);
/* The node's clock: the last stamp made or applied. */
uint64_t model_clock(const model *m);
/* The entries of every change of src, appended to dst as one change. dst
 * must be empty ({NULL, 0}) or built by this function alone. */
void model_buffer_flatten(const model_buffer *src, model_buffer *dst);

/* ---- queries (the model's answers to the library's queries) ------------- */

const model_record *model_find(const model *m, uint32_t user, uint32_t ue);
/* The record mcreg_find_ue answers: the earliest (registered_at, user id)
 * at the UE; NULL if none. */
const model_record *model_find_ue(const model *m, uint32_t ue);
size_t model_ue_record_count(const model *m, uint32_t ue);
size_t model_user_ue_count(const model *m, uint32_t user);
/* The user's records in (registered_at, ue_id) order (mcreg_user_foreach):
 * up to cap into out; returns how many the user has. */
size_t model_user_records(const model *m, uint32_t user, const model_record **out, size_t cap);
/* MCREG_OK and *max, or MCREG_ERR_NOT_FOUND. */
int model_user_max_ues(const model *m, uint32_t user, uint32_t *max);
int model_next_expiry(const model *m, uint64_t *at);
size_t model_record_count(const model *m);
size_t model_user_count(const model *m); /* users with records */
size_t model_limit_count(const model *m);
/* Every record in mcreg_foreach order, (registered_at, ue_id, user_id);
 * *out is a malloc'd array of model_record_count() pointers (NULL when
 * there are none, or when out of memory: then the return value is
 * (size_t)-1). */
size_t model_records(const model *m, const model_record ***out);
/* One more than the largest user and UE number seen. */
uint32_t model_user_span(const model *m);
uint32_t model_ue_span(const model *m);

/* ---- comparisons with a registry ------------------------------------------ */

/* Each returns 0 when the registry agrees, else -1 with the first
 * difference in why (cap bytes). */

/* r against w: ids, contact, Call-ID, CSeq, both times, and every setting
 * (key, type, value, text NUL-terminated, setting_find(key) is
 * setting_at(i), setting_at(n) is NULL). */
int model_check_record(const model *m, const model_record *w, const mcreg_record *r, char *why,
                       size_t cap);
/* mcreg_find of the pair: the model's record, or none. */
int model_check_pair(const model *m, const mcreg_registry *reg, uint32_t user, uint32_t ue,
                     char *why, size_t cap);
/* mcreg_find_ue of the UE. */
int model_check_find_ue(const model *m, const mcreg_registry *reg, uint32_t ue, char *why,
                        size_t cap);
/* The user's UE count, limit and mcreg_user_foreach order. */
int model_check_user(const model *m, const mcreg_registry *reg, uint32_t user, char *why,
                     size_t cap);
/* Record count, user count, next expiry. */
int model_check_counts(const model *m, const mcreg_registry *reg, char *why, size_t cap);
/* Everything: the counts; every user (model_check_user) and each of its
 * records (model_check_pair); every UE (model_check_find_ue);
 * mcreg_foreach (order and fields) and mcreg_limit_foreach (order and
 * values). */
int model_check_all(const model *m, const mcreg_registry *reg, char *why, size_t cap);
/* A delivered event against the model's: type, ids, the record's fields,
 * that a removed pair is gone and a present one is mcreg_find's, the
 * notification fields (recipient findable, other UEs in order), and at_ms
 * equal to now_ms. Called from inside the event callback. */
int model_check_event(const model *m, const model_event *w, const mcreg_event *ev,
                      uint64_t now_ms, char *why, size_t cap);

/* Events as text with every field a replicated registry shows, for
 * comparing the events of one apply as sorted lists of lines:
 *   TYPE(user,ue[>recipient:[o1,o2]]) o=origin reg=.. exp=.. cseq=.. v=stamp/node l=stamp/node
 * model_event_line the model's, model_event_line_lib a delivered one (from
 * inside the callback, with the registry's record). */
int model_event_line(const model *m, const model_event *e, char *buf, size_t cap);
int model_event_line_lib(const mcreg_event *ev, char *buf, size_t cap);

#endif
