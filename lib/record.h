/* Records: allocation, layout, order, accessors.
 *
 * A record is one block:
 *   [mcreg_record_ue_links] struct mcreg_record | ue_id NUL | pad to 8
 *   | mcreg_setting[n_settings] | contact NUL | call_id NUL
 *   | setting keys and values
 * so a record costs one allocation, and the setting descriptors the API
 * hands out by pointer sit next to the bytes they point at. */
#ifndef MCREG_RECORD_H
#define MCREG_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "mcreg.h"
#include "mcreg_uthash.h"
#include "user.h"

/* One registration: (user, UE), in one allocation: this header, the UE id,
 * the setting descriptors, then the contact, the Call-ID and the settings'
 * bytes (the layout above). A refresh that changes any of them builds a
 * whole new block beside the old one and puts it in the old one's place
 * (mcreg__index_record_substitute, mcreg__heap_substitute): it either
 * fully happens or leaves the record as it was. */
struct mcreg_record {
    /* Index of UEs. Only the first record at a UE is in the table; further
     * records at the same UE (UE exclusive off) follow it in a list (see
     * mcreg_record_ue_links). hh.key and hh.keylen are the UE id and its
     * length in every record, in the table or not. */
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
    uint8_t flags;         /* MCREG_RECORD_HAS_* */
    uint8_t removal;       /* event type once removed (see events.c) */
    char ue_id[];          /* NUL-terminated; the rest of the block follows */
};

#define MCREG_RECORD_HAS_CONTACT 1u
#define MCREG_RECORD_HAS_CALL_ID 2u
#define MCREG_RECORD_HAS_UE_LINKS 4u
#define MCREG_RECORD_HAS_VERSIONS 8u

/* A record's place in its UE's list. Only a registry with UE exclusive off
 * lets several users' records share a UE, so only its records have these
 * links (MCREG_RECORD_HAS_UE_LINKS), just before the record in the same
 * block: a registry with UE exclusive on saves their 16 bytes per record. The list
 * is ordered by (registered_at, user_id), so a UE shared by many users
 * never becomes a long run of equal keys in one hash bucket; its first
 * record is the one in the table, and that record's prev is the last. */
typedef struct mcreg_record_ue_links {
    struct mcreg_record *next, *prev;
} mcreg_record_ue_links;

struct mcreg_repl_node;

/* A record's versions (REPLICATION.md): only a registry with a node id
 * keeps them (MCREG_RECORD_HAS_VERSIONS), in front of the record's block
 * (before its UE links, if any), so that a registry without one pays
 * nothing for them. `tomb` is the tombstone made ready for the pair while
 * a call that may remove the record is staged (repl.c). */
typedef struct mcreg_record_versions {
    mcreg_change_version write;  /* the change that last wrote the record */
    mcreg_change_version logon;  /* the change that created it */
    mcreg_change_version newest; /* the newest logon among the pair's entries */
    struct mcreg_repl_node *tomb;
} mcreg_record_versions;

/* The bytes in front of a record in its block, for its layout flags. */
static inline size_t mcreg__record_prefix_size(unsigned layout)
{
    return ((layout & MCREG_RECORD_HAS_UE_LINKS) ? sizeof(mcreg_record_ue_links) : 0) +
           ((layout & MCREG_RECORD_HAS_VERSIONS) ? sizeof(mcreg_record_versions) : 0);
}

/* r's versions; only for a record that has them. */
static inline mcreg_record_versions *mcreg__record_versions(const struct mcreg_record *r)
{
    return (mcreg_record_versions *)(uintptr_t)((uintptr_t)r -
                                                mcreg__record_prefix_size(r->flags));
}

/* (registered_at, ue_id): the order of a user's UEs everywhere. */
int mcreg__record_logon_cmp(const struct mcreg_record *a, const struct mcreg_record *b);

/* A record of user u for a (validated) binding: its UE id, contact,
 * Call-ID, CSeq and settings, or `old`'s contact when the binding has none
 * (old may be NULL); with the prefixes `layout` names
 * (MCREG_RECORD_HAS_UE_LINKS, MCREG_RECORD_HAS_VERSIONS; the versions
 * zeroed). Linked nowhere; times and heap position unset. NULL when out of
 * memory. */
struct mcreg_record *mcreg__record_new(mcreg_alloc *a, mcreg_user *u,
                                       const mcreg_binding *b, size_t ue_len,
                                       const struct mcreg_record *old, unsigned layout);
/* Whether r already holds what binding b asks for, CSeq and expiry aside:
 * the same contact (or b keeps it), Call-ID and settings. */
int mcreg__record_holds(const struct mcreg_record *r, const mcreg_binding *b);
/* The bytes of r's block, recomputed from its fields (the allocator's free
 * gets no size, and a stored one would cost every record). */
size_t mcreg__record_block_size(const struct mcreg_record *r);
void mcreg__record_free(mcreg_alloc *a, struct mcreg_record *r);

/* r's UE links; only for a record that has them. (Through an integer:
 * the links are beside the record, not part of it, so a const record
 * still has writable links.) */
static inline mcreg_record_ue_links *mcreg__record_ue_links(const struct mcreg_record *r)
{
    return (mcreg_record_ue_links *)(uintptr_t)r - 1;
}

/* The next record at r's UE, or NULL. */
static inline struct mcreg_record *mcreg__record_next_at_ue(const struct mcreg_record *r)
{
    return (r->flags & MCREG_RECORD_HAS_UE_LINKS) ? mcreg__record_ue_links(r)->next : NULL;
}

/* Whether the NUL-terminated s is the len bytes at `bytes` (which hold no
 * NUL). strncmp stops at s's NUL, so it reads nothing past a shorter s; a
 * match of len bytes means s is at least that long, and it is equal if it
 * ends there. Touches only s's bytes, not a stored length beside them. */
static inline int mcreg__record_text_is(const char *s, const char *bytes, size_t len)
{
    return strncmp(s, bytes, len) == 0 && s[len] == '\0';
}

static inline size_t mcreg__record_ue_len(const struct mcreg_record *r)
{
    return r->hh.keylen;
}

/* Where the setting descriptors start: after the UE id, aligned for them. */
static inline size_t mcreg__record_settings_offset(size_t ue_len)
{
    size_t end = offsetof(struct mcreg_record, ue_id) + ue_len + 1;
    size_t align = _Alignof(mcreg_setting);
    return (end + align - 1) / align * align;
}

static inline const mcreg_setting *mcreg__record_settings(const struct mcreg_record *r)
{
    size_t offset = mcreg__record_settings_offset(mcreg__record_ue_len(r));
    return (const mcreg_setting *)(const void *)((const char *)r + offset);
}

/* The contact and the Call-ID, NULL when the record has none. */
static inline const char *mcreg__record_contact(const struct mcreg_record *r)
{
    if (!(r->flags & MCREG_RECORD_HAS_CONTACT))
        return NULL;
    return (const char *)(mcreg__record_settings(r) + r->n_settings);
}

static inline const char *mcreg__record_call_id(const struct mcreg_record *r)
{
    if (!(r->flags & MCREG_RECORD_HAS_CALL_ID))
        return NULL;
    const char *after_settings = (const char *)(mcreg__record_settings(r) + r->n_settings);
    if (r->flags & MCREG_RECORD_HAS_CONTACT)
        after_settings += r->contact_len + 1;
    return after_settings;
}

#endif
