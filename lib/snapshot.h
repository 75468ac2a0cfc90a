/* The snapshot format (README, "Snapshot format"): map keys shared by the
 * encoder and the decoder, and the decoder's entry point. */
#ifndef MCREG_SNAPSHOT_H
#define MCREG_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"

/* RFC 8949 section 3.4.6: self-described CBOR. */
#define MCREG_CBOR_SELF_DESCRIBE 55799u

/* Keys of the top-level map. */
enum {
    SNAP_VERSION = 0, /* [major, minor]; always the first key */
    SNAP_RECORDS = 1,
    SNAP_LIMITS = 2
};

/* Keys of a record map. */
enum {
    REC_USER = 0,
    REC_UE = 1,
    REC_REGISTERED_AT = 2,
    REC_EXPIRES_AT = 3,
    REC_CSEQ = 4,
    REC_CONTACT = 5,
    REC_CALL_ID = 6,
    REC_SETTINGS = 7
};

/* Decode a snapshot into `target`, a registry whose state is empty, through
 * mcreg__restore_add_record and mcreg__restore_add_limit. MCREG_ERR_FORMAT,
 * MCREG_ERR_VERSION or MCREG_ERR_NOMEM, leaving a partial state that the
 * caller discards. */
int mcreg__snapshot_decode(mcreg_registry *target, const uint8_t *buf, size_t len);

/* Add one record to a state under construction: the binding's ids,
 * contact, call-id, cseq and settings (which the caller has validated as
 * mcreg_register does), with the given times. Records may come in any
 * order; the lists are sorted once at the end. MCREG_ERR_FORMAT for a UE
 * already held while UE exclusive is on (with it off, a pair held twice is
 * found at the end). */
int mcreg__restore_add_record(mcreg_registry *target, const mcreg_binding *b,
                              uint64_t registered_at, uint64_t expires_at);

/* Give a user of the state under construction its own limit.
 * MCREG_ERR_FORMAT if it already has one. */
int mcreg__restore_add_limit(mcreg_registry *target, const char *user_id, uint32_t max);

/* Room for the records array: the heap's capacity grows to `n` when it is
 * smaller (a hint from the input; failure is not an error). */
void mcreg__restore_expect_records(mcreg_registry *target, size_t n);

#endif
