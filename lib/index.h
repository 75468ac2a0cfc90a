/* The hash indexes: users by id, records by UE id. The only module that
 * touches uthash. Inserts can fail (allocation) and then leave the table as
 * it was; removals never fail. */
#ifndef MCREG_INDEX_H
#define MCREG_INDEX_H

#include "registry.h"

mcreg_user *mcreg__user_find(const mcreg_registry *reg, const char *id, size_t len);
int mcreg__user_insert(mcreg_registry *reg, mcreg_user *u);
void mcreg__user_remove(mcreg_registry *reg, mcreg_user *u);

/* The UE's earliest (registered_at, user_id) record; the rest follow
 * through next_at_ue. */
struct mcreg_record *mcreg__ue_first(const mcreg_registry *reg, const char *ue_id, size_t len);
/* Add r (registered_at set) under its UE: into the table when the UE is new
 * (may fail), else into the UE's list (cannot fail; O(1) unless records
 * registered at the same now_ms arrive in descending user order). */
int mcreg__ue_insert(mcreg_registry *reg, struct mcreg_record *r);
void mcreg__ue_remove(mcreg_registry *reg, struct mcreg_record *r);

/* The record of (user, UE), or NULL. */
struct mcreg_record *mcreg__pair_find(const mcreg_registry *reg, const char *user_id,
                                      size_t user_len, const char *ue_id, size_t ue_len);

/* Drop both tables. Frees the users, not the records (the heap owns those). */
void mcreg__index_clear(mcreg_registry *reg);

#endif
