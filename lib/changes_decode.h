/* A pull decoder of change buffers (README, "Change format"): each call
 * reads the next entry of the input, which may hold several buffers back
 * to back, into a struct that the caller (apply.c) applies. Each buffer's
 * structure and checksum are checked whole before any of its entries is
 * given out. It knows nothing of registries. */
#ifndef MCREG_CHANGES_DECODE_H
#define MCREG_CHANGES_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "detail.h"
#include "mcreg.h"
#include "snapshot_decode.h"

typedef enum {
    MCREG_CHANGES_DECODE_PUT,     /* binding, registered_at, expires_at, version, logon */
    MCREG_CHANGES_DECODE_REMOVAL, /* user_id, ue_id, version, logon, reason */
    MCREG_CHANGES_DECODE_LIMIT,   /* user_id, version, has_max, max_ues */
    MCREG_CHANGES_DECODE_END
} mcreg_changes_decode_kind;

/* Its strings stay valid until the next call. */
typedef struct {
    mcreg_changes_decode_kind kind;
    mcreg_binding binding;
    uint64_t registered_at, expires_at;
    const char *user_id, *ue_id;
    mcreg_change_version version, logon;
    unsigned reason; /* an mcreg_event_type: DEREGISTERED, EVICTED or REPLACED */
    int has_max;
    uint32_t max_ues;
} mcreg_changes_decode_item;

typedef struct {
    mcreg_snapshot_decoder d; /* its reader and strings area */
    uint64_t entries_left;    /* in the current buffer */
    const uint8_t *crc_at;    /* where the current buffer's checksum starts */
    int in_buffer;
} mcreg_changes_decoder;

/* Whether buf starts like a snapshot (a tagged map) rather than a change
 * buffer (a tagged array). */
int mcreg__changes_decode_is_snapshot(const uint8_t *buf, size_t len);

int mcreg__changes_decode_init(mcreg_changes_decoder *c, mcreg_alloc *a, const uint8_t *buf,
                               size_t len, mcreg_detail *why);
/* MCREG_ERR_FORMAT or MCREG_ERR_VERSION (of a buffer whose checksum
 * holds). After an error or END, call it no more. */
int mcreg__changes_decode_next(mcreg_changes_decoder *c, mcreg_changes_decode_item *item);
void mcreg__changes_decode_free(mcreg_changes_decoder *c);

#endif
