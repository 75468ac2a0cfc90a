/* Records and their payloads: allocation, orders, accessors. */
#ifndef MCREG_RECORD_H
#define MCREG_RECORD_H

#include "registry.h"

/* (registered_at, ue_id): the order of a user's UEs everywhere. */
int mcreg__logon_cmp(const struct mcreg_record *a, const struct mcreg_record *b);
/* Byte order of user ids. */
int mcreg__user_cmp(const mcreg_user *a, const mcreg_user *b);
/* The same, as an mcreg_cmp_fn over users (sort.h). */
int mcreg__user_order(const void *a, const void *b);

/* A record for (user, ue_id), with no payload and linked nowhere. */
struct mcreg_record *mcreg__record_new(const mcreg_allocator *a, mcreg_user *user,
                                       const char *ue_id, size_t ue_len);
/* Frees the record and its payload. */
void mcreg__record_free(const mcreg_allocator *a, struct mcreg_record *r);

/* The payload a (validated) binding asks for: its settings, its call-id, and
 * its contact, or `old`'s contact when the binding has none. */
mcreg_payload *mcreg__payload_new(const mcreg_allocator *a, const mcreg_binding *b,
                                  const mcreg_payload *old);

mcreg_user *mcreg__user_new(const mcreg_allocator *a, const char *id, size_t id_len);

#endif
