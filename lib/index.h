/* The hash indexes: users by id, records by UE id. The only module that
 * touches uthash. Inserts can fail (allocation) and then leave the table as
 * it was; removals never fail. */
#ifndef MCREG_INDEX_H
#define MCREG_INDEX_H

#include "registry.h"
#include "user.h"

/* An id as the tables see it: bytes, length, and the seeded hash, computed
 * on first use and then reused by every lookup and insert of the call. */
typedef struct mcreg_index_key {
    const char *id;
    size_t len;
    unsigned hv;
    int hashed;
} mcreg_index_key;

void mcreg__index_key_init(mcreg_index_key *k, const char *id, size_t len);

mcreg_user *mcreg__index_user_find(const mcreg_registry *reg, mcreg_index_key *k);
/* Insert u under k, its own id's key. */
int mcreg__index_user_insert(mcreg_registry *reg, mcreg_user *u, mcreg_index_key *k);
/* The user of key k, added with no records and no limit if new; NULL when
 * out of memory. */
mcreg_user *mcreg__index_user_get(mcreg_registry *reg, mcreg_index_key *k);
void mcreg__index_user_remove(mcreg_registry *reg, mcreg_user *u);

/* The UE's earliest (registered_at, user_id) record; the rest follow
 * through next_at_ue. */
struct mcreg_record *mcreg__index_ue_first(const mcreg_registry *reg, mcreg_index_key *k);
/* Add r (registered_at set) under its UE, whose list starts at `first`
 * and whose key is k: into the table when the UE is new (first NULL; may
 * fail), else into the UE's list (cannot fail; the cost is r's distance to
 * the nearer end of the list, O(1) with a clock that moves forward). */
int mcreg__index_ue_insert(mcreg_registry *reg, struct mcreg_record *first, struct mcreg_record *r,
                     mcreg_index_key *k);
void mcreg__index_ue_remove(mcreg_registry *reg, struct mcreg_record *r);
/* Add r at the end of the list of its UE, which starts at `first` (NULL:
 * the UE is new and r goes into the table, which may fail), whatever the
 * order (a restore sorts the lists once at the end: mcreg__index_lists_sort). */
int mcreg__index_ue_append(mcreg_registry *reg, struct mcreg_record *first, struct mcreg_record *r,
                     mcreg_index_key *k);

/* Link r into u's (registered_at, ue_id) list. The cost is r's distance
 * to the nearer end of the list: O(1) with a clock that moves forward. */
void mcreg__index_user_link(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *r);
/* Link r at the end of u's list, whatever its order (restore). */
void mcreg__index_user_append(mcreg_registry *reg, mcreg_user *u, struct mcreg_record *r);
void mcreg__index_user_unlink(mcreg_registry *reg, struct mcreg_record *r);

/* Put `to` in `from`'s place at their UE (the same UE; both records have
 * links, or neither): in the table, or in the list. Cannot fail. */
void mcreg__index_ue_substitute(mcreg_registry *reg, struct mcreg_record *from,
                          struct mcreg_record *to);
/* Put `to`, a new block for from's user and UE, in from's place in the UE
 * table or list and in the user's list (the links are copied over). Cannot
 * fail. */
void mcreg__index_record_substitute(mcreg_registry *reg, struct mcreg_record *from,
                              struct mcreg_record *to);

/* The record of (user, UE), or NULL. */
struct mcreg_record *mcreg__index_pair_find(const mcreg_registry *reg, mcreg_index_key *user,
                                            mcreg_index_key *ue);
/* The same, when the UE's first record (or NULL) is known already. */
struct mcreg_record *mcreg__index_pair_at(const mcreg_registry *reg, struct mcreg_record *at_ue,
                                    mcreg_index_key *user, const mcreg_index_key *ue);

/* The number of users in the table, and a walk over them in no
 * particular order (prev NULL: the first). */
size_t mcreg__index_user_total(const mcreg_registry *reg);
mcreg_user *mcreg__index_user_iter(const mcreg_registry *reg, const mcreg_user *prev);

/* For a restore. The record count of the largest user and the length of
 * the longest UE list; whether a user holds a UE twice; drop the users that
 * have neither records nor a limit; sort every user's and UE's list in
 * place. `scratch` has room for the longest list of either kind. */
size_t mcreg__index_largest_user(const mcreg_registry *reg);
size_t mcreg__index_longest_ue_list(const mcreg_registry *reg);
int mcreg__index_has_duplicate_pair(const mcreg_registry *reg, void **scratch);
void mcreg__index_users_prune(mcreg_registry *reg);
void mcreg__index_lists_sort(mcreg_registry *reg, void **scratch);

/* Size both tables, while they are empty, for `records` items (buckets
 * for one item each, a power of two): below the registry's capacity no
 * insert then expands them, and under a capacity a table that empties
 * keeps its buckets for the next insert. A table that holds items already,
 * or has room enough, is left as it is. MCREG_ERR_NOMEM, the tables then
 * as they were. */
int mcreg__index_reserve(mcreg_registry *reg, size_t records);

/* Drop both tables, their spares included. Frees the users, not the
 * records (the heap owns those). */
void mcreg__index_clear(mcreg_registry *reg);

#endif
