/* Records and users: allocation, layout, orders, accessors.
 *
 * A record is one block:
 *   [mcreg_ue_links] struct mcreg_record | ue_id NUL | pad to 8
 *   | mcreg_setting[n_settings] | contact NUL | call_id NUL
 *   | setting keys and values
 * so a record costs one allocation, and the setting descriptors the API
 * hands out by pointer sit next to the bytes they point at. */
#ifndef MCREG_RECORD_H
#define MCREG_RECORD_H

#include <string.h>

#include "registry.h"

/* (registered_at, ue_id): the order of a user's UEs everywhere. */
int mcreg__logon_cmp(const struct mcreg_record *a, const struct mcreg_record *b);
/* Byte order of user ids. */
int mcreg__user_cmp(const mcreg_user *a, const mcreg_user *b);
/* The same, as an mcreg_cmp_fn over users (sort.h). */
int mcreg__user_order(const void *a, const void *b);

/* A record of user u for a (validated) binding: its UE id, contact,
 * Call-ID, CSeq and settings, or `old`'s contact when the binding has none
 * (old may be NULL); with UE links when `ue_links` is set. Linked nowhere;
 * times and heap position unset. NULL when out of memory. */
struct mcreg_record *mcreg__record_new(const mcreg_allocator *a, mcreg_user *u,
                                       const mcreg_binding *b, size_t ue_len,
                                       const struct mcreg_record *old, int ue_links);
/* Whether r already holds what binding b asks for, CSeq and expiry aside:
 * the same contact (or b keeps it), Call-ID and settings. */
int mcreg__record_holds(const struct mcreg_record *r, const mcreg_binding *b);
void mcreg__record_free(const mcreg_allocator *a, struct mcreg_record *r);

mcreg_user *mcreg__user_new(const mcreg_allocator *a, const char *id, size_t id_len);

/* r's UE links; only for a record that has them. (Through an integer:
 * the links are beside the record, not part of it, so a const record
 * still has writable links.) */
static inline mcreg_ue_links *mcreg__ue_links(const struct mcreg_record *r)
{
    return (mcreg_ue_links *)(uintptr_t)r - 1;
}

/* The next record at r's UE, or NULL. */
static inline struct mcreg_record *mcreg__next_at_ue(const struct mcreg_record *r)
{
    return (r->flags & MCREG_HAS_UE_LINKS) ? mcreg__ue_links(r)->next : NULL;
}

/* Whether the NUL-terminated s is the len bytes at `bytes` (which hold no
 * NUL). strncmp stops at s's NUL, so it reads nothing past a shorter s; a
 * match of len bytes means s is at least that long, and it is equal if it
 * ends there. Touches only s's bytes, not a stored length beside them. */
static inline int mcreg__text_is(const char *s, const char *bytes, size_t len)
{
    return strncmp(s, bytes, len) == 0 && s[len] == '\0';
}

static inline size_t mcreg__ue_len(const struct mcreg_record *r)
{
    return r->hh.keylen;
}

static inline size_t mcreg__user_id_len(const mcreg_user *u)
{
    return u->hh.keylen;
}

/* Where the setting descriptors start: after the UE id, aligned for them. */
static inline size_t mcreg__settings_offset(size_t ue_len)
{
    size_t end = offsetof(struct mcreg_record, ue_id) + ue_len + 1;
    size_t align = _Alignof(mcreg_setting);
    return (end + align - 1) / align * align;
}

static inline const mcreg_setting *mcreg__settings(const struct mcreg_record *r)
{
    return (const mcreg_setting *)(const void *)((const char *)r +
                                                 mcreg__settings_offset(mcreg__ue_len(r)));
}

/* The contact and the Call-ID, NULL when the record has none. */
static inline const char *mcreg__contact(const struct mcreg_record *r)
{
    if (!(r->flags & MCREG_HAS_CONTACT))
        return NULL;
    return (const char *)(mcreg__settings(r) + r->n_settings);
}

static inline const char *mcreg__call_id(const struct mcreg_record *r)
{
    if (!(r->flags & MCREG_HAS_CALL_ID))
        return NULL;
    const char *after_settings = (const char *)(mcreg__settings(r) + r->n_settings);
    if (r->flags & MCREG_HAS_CONTACT)
        after_settings += r->contact_len + 1;
    return after_settings;
}

#endif
