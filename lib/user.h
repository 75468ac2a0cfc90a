/* Users: one MCPTT ID, its records and its own UE limit. */
#ifndef MCREG_USER_H
#define MCREG_USER_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "mcreg_uthash.h"

struct mcreg_record;

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

/* A user of that id (id_len bytes and a NUL), with no records and no limit.
 * NULL when out of memory. */
mcreg_user *mcreg__user_new(mcreg_alloc *a, const char *id, size_t id_len);
void mcreg__user_free(mcreg_alloc *a, mcreg_user *u);
/* Byte order of user ids. */
int mcreg__user_cmp(const mcreg_user *a, const mcreg_user *b);
/* The same, as an mcreg_sort_cmp_fn over users (sort.h). */
int mcreg__user_order(const void *a, const void *b);

static inline size_t mcreg__user_id_len(const mcreg_user *u)
{
    return u->hh.keylen;
}

/* The bytes of u's block. */
static inline size_t mcreg__user_size(const mcreg_user *u)
{
    return offsetof(mcreg_user, id) + mcreg__user_id_len(u) + 1;
}

#endif
