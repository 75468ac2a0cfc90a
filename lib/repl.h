/* Replication's local side (REPLICATION.md): the hybrid logical clock, the
 * side tables' entries, and the change each local mutating call records.
 *
 * A local call in a registry with a node id stages its change before it
 * changes anything (mcreg__repl_stage_*: the room for its entries, a
 * tombstone for each record it may remove, a node for its put's UE), so
 * that recording it (mcreg__repl_commit, from mcreg__events_finish) cannot
 * fail; a call that fails after staging calls mcreg__repl_abort. */
#ifndef MCREG_REPL_H
#define MCREG_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "registry.h"
#include "rtable.h"

/* Kinds of change entries (README, "Change format"). */
enum { MCREG_REPL_PUT = 0, MCREG_REPL_REMOVAL = 1, MCREG_REPL_LIMIT = 2 };

int mcreg__repl_version_cmp(mcreg_change_version a, mcreg_change_version b);
static inline int mcreg__repl_on(const mcreg_registry *reg)
{
    return reg->opt.node_id != 0;
}
/* The stamp a local call at now_ms takes: at least now_ms << 16, greater
 * than every stamp made or applied. Does not move the clock.
 * MCREG_ERR_CLOCK (with the detail) when the clock is at 2^64 - 1. */
int mcreg__repl_next_stamp(mcreg_registry *reg, uint64_t now_ms, uint64_t *stamp);
/* Whether an applied stamp is within max_clock_skew of now_ms. */
int mcreg__repl_stamp_in_bound(const mcreg_registry *reg, uint64_t stamp, uint64_t now_ms);
/* The first now_ms at which an entry of that version is forgotten. */
uint64_t mcreg__repl_horizon(const mcreg_registry *reg, mcreg_change_version v);
/* Lower next_horizon to the horizon of v. */
void mcreg__repl_note_horizon(mcreg_registry *reg, mcreg_change_version v);

/* Keys of the side tables. */
uint64_t mcreg__repl_key_hash(const mcreg_registry *reg, const char *key, size_t len);
mcreg_repl_node *mcreg__repl_tomb_find(const mcreg_registry *reg, const char *user,
                                       size_t user_len, const char *ue, size_t ue_len);
mcreg_repl_node *mcreg__repl_ue_find(const mcreg_registry *reg, const char *ue, size_t ue_len);
mcreg_repl_node *mcreg__repl_limit_find(const mcreg_registry *reg, const char *user,
                                        size_t user_len);
/* A new node with its hash set: a pair (ue non-NULL) or one id. */
mcreg_repl_node *mcreg__repl_node_new(mcreg_registry *reg, const char *id1, size_t len1,
                                      const char *ue, size_t ue_len);

/* Staging a local call's change of version stamp: room for `bytes` of
 * entries. Then each record it may remove, and the UE it may put at. */
int mcreg__repl_stage_begin(mcreg_registry *reg, uint64_t stamp, size_t bytes);
int mcreg__repl_stage_removal(mcreg_registry *reg, struct mcreg_record *r);
/* UE exclusive: a UE's highest put is its present record's version, and
 * needs a node of its own only while no record holds the UE. A node made
 * ready for r's UE when it has none (NULL when none is needed, or out of
 * memory); r, which left, has its UE keep its put when no record holds the
 * UE now (spare, if the UE has no node); r, now present, drops its UE's
 * node. */
mcreg_repl_node *mcreg__repl_ue_spare(mcreg_registry *reg, const struct mcreg_record *r);
void mcreg__repl_ue_keep(mcreg_registry *reg, const struct mcreg_record *r, mcreg_repl_node *spare);
void mcreg__repl_ue_drop(mcreg_registry *reg, const struct mcreg_record *r);
/* The UE's highest put: its node's or its record's, the higher. */
mcreg_change_version mcreg__repl_ue_high(const mcreg_registry *reg, const char *ue, size_t len);
/* Room in the tables for what was staged. */
int mcreg__repl_stage_end(mcreg_registry *reg);
void mcreg__repl_abort(mcreg_registry *reg);
/* Record the staged call's change from what `op` removed and put (cannot
 * fail); a no-op when nothing is staged. */
void mcreg__repl_commit(mcreg_events_op *op);
/* Stage a limit entry of a local call for that user: room for it, and a
 * node (*fresh) when the user has none yet. MCREG_ERR_NOMEM, nothing
 * staged. After it, mcreg__repl_commit_limit or mcreg__repl_abort_limit. */
int mcreg__repl_stage_limit(mcreg_registry *reg, const char *user, size_t user_len,
                            mcreg_repl_node **fresh);
void mcreg__repl_abort_limit(mcreg_registry *reg, mcreg_repl_node *fresh);
/* Record a limit entry for a local set (has_max) or clear, staged with
 * room for it; the limit node is the user's (found or new, then inserted:
 * room reserved). */
void mcreg__repl_commit_limit(mcreg_registry *reg, const char *user, size_t user_len,
                              int has_max, uint32_t max, mcreg_repl_node *fresh);

/* Bytes a removal, a limit entry take at most. */
size_t mcreg__repl_removal_bound(size_t user_len, size_t ue_len);
#define MCREG_REPL_LIMIT_BOUND(user_len) (64u + (user_len))

/* Entries, written by a writer. */
void mcreg__repl_put_entry(mcreg_cbor_writer *w, const struct mcreg_record *r);
void mcreg__repl_removal_entry(mcreg_cbor_writer *w, const char *user, size_t user_len,
                               const char *ue, size_t ue_len, mcreg_change_version v,
                               mcreg_change_version logon, unsigned reason);
void mcreg__repl_limit_entry(mcreg_cbor_writer *w, const char *user, size_t user_len,
                             mcreg_change_version v, int has_max, uint32_t max);

/* Forget tombstones and UE puts whose horizon is <= now_ms. Cannot fail. */
void mcreg__repl_forget(mcreg_registry *reg, uint64_t now_ms);

#endif
