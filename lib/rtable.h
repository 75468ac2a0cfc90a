/* The replicated state's side tables (REPLICATION.md), kept only by a
 * registry with a node id: the tombstones of pairs not present, each UE's
 * highest put, and each user's newest limit entry. One node type for the
 * three, in open-addressing tables whose room is reserved before a change
 * is made, so that inserting never fails and removing never allocates. */
#ifndef MCREG_RTABLE_H
#define MCREG_RTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "mcreg.h"

/* One entry of a side table. Its key is one id (a UE's, a user's) or a
 * pair: "user NUL ue". */
typedef struct mcreg_repl_node {
    uint64_t hash;        /* of the key's bytes */
    mcreg_change_version v;      /* tombstone: winning entry; UE: highest put; limit: its version */
    mcreg_change_version logon;  /* tombstone: the winning entry's logon */
    mcreg_change_version newest; /* tombstone: newest logon among the pair's entries (local) */
    uint32_t max_ues;     /* limit: the value, when has_max */
    uint16_t len1, len2;  /* the key's ids' lengths; len2 0 for one id */
    uint8_t has_max;      /* limit: 0 for a cleared limit */
    uint8_t in_table;     /* inserted (while a call is staged: used) */
    uint8_t staged;       /* made ready by the call under way, which frees it if unused */
    char key[];           /* id1 NUL [id2 NUL] */
} mcreg_repl_node;

typedef struct mcreg_rtable {
    mcreg_repl_node **slots; /* cap slots, a power of two, NULL when free */
    size_t cap, n;
} mcreg_rtable;

/* A node for id1 (and id2 when id2_len != 0), its other fields zeroed but
 * the hash, which the caller sets. NULL when out of memory. */
mcreg_repl_node *mcreg__rtable_node_new(mcreg_alloc *a, const char *id1, size_t len1,
                                        const char *id2, size_t len2);
static inline size_t mcreg__rtable_key_len(const mcreg_repl_node *n)
{
    return n->len2 ? (size_t)n->len1 + 1 + n->len2 : n->len1;
}
/* The second id of a pair key. */
static inline const char *mcreg__rtable_id2(const mcreg_repl_node *n)
{
    return n->key + n->len1 + 1;
}

/* Room for `extra` more inserts that cannot fail. MCREG_ERR_NOMEM. */
int mcreg__rtable_reserve(mcreg_alloc *a, mcreg_rtable *t, size_t extra);
/* The node of that key (key_len bytes), or NULL. */
mcreg_repl_node *mcreg__rtable_find(const mcreg_rtable *t, uint64_t hash, const char *key,
                                    size_t key_len);
/* Insert a node whose key is not in t; room reserved beforehand. */
void mcreg__rtable_insert(mcreg_rtable *t, mcreg_repl_node *n);
/* Take n out of t (not freed). */
void mcreg__rtable_remove(mcreg_rtable *t, mcreg_repl_node *n);
/* Free every node and the slots. */
void mcreg__rtable_free(mcreg_alloc *a, mcreg_rtable *t);
/* The bytes of a node's block; free one with mcreg__rtable_node_free. */
size_t mcreg__rtable_node_size(const mcreg_repl_node *n);
void mcreg__rtable_node_free(mcreg_alloc *a, mcreg_repl_node *n);

#endif
