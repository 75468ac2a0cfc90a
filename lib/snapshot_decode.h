/* A pull decoder of snapshots (README, "Snapshot format"): each call reads
 * the next item of the document, one record or one limit, into a struct
 * that the caller applies, as ngtcp2's transport parameter decoder fills a
 * struct the connection then applies. It knows nothing of registries: it
 * checks the bytes against the format, restore.c builds the state. */
#ifndef MCREG_SNAPSHOT_DECODE_H
#define MCREG_SNAPSHOT_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "cbor_reader.h"
#include "detail.h"
#include "mcreg.h"

typedef enum {
    /* The records array begins: `expected` records may follow (what it
     * declares, bounded by what the bytes left can hold): a size hint. */
    MCREG_SNAPSHOT_DECODE_RECORDS,
    /* One record: `binding` (validated as mcreg_register validates one,
     * expires_s aside), `registered_at` and `expires_at`. */
    MCREG_SNAPSHOT_DECODE_RECORD,
    /* One user's own limit: `user_id` (a valid id) and `max_ues`. */
    MCREG_SNAPSHOT_DECODE_LIMIT,
    /* 1.1: a tombstone (user_id, ue_id, version, logon), a UE's highest
     * put (ue_id, version), a limit entry (user_id, version, has_max,
     * max_ues). */
    MCREG_SNAPSHOT_DECODE_TOMBSTONE,
    MCREG_SNAPSHOT_DECODE_UE_PUT,
    MCREG_SNAPSHOT_DECODE_LIMIT_ENTRY,
    /* The end of the document: nothing follows it. */
    MCREG_SNAPSHOT_DECODE_END
} mcreg_snapshot_decode_kind;

/* What one call read. Its strings and settings live in the decoder and
 * stay valid until the next call. */
typedef struct {
    mcreg_snapshot_decode_kind kind;
    size_t at;                         /* RECORD, LIMIT: offset of its first byte */
    size_t index;                      /* RECORD, LIMIT: its place in its array */
    size_t expected;                   /* RECORDS */
    mcreg_binding binding;             /* RECORD */
    uint64_t registered_at, expires_at; /* RECORD */
    mcreg_change_version version, logon; /* RECORD: 1.1, else {0, 0} */
    int has_versions;                  /* RECORD: both keys 16 and 17 given */
    const char *user_id;               /* LIMIT */
    uint32_t max_ues;                  /* LIMIT */
    const char *ue_id;                 /* TOMBSTONE, UE_PUT */
    int has_max;                       /* LIMIT_ENTRY */
} mcreg_snapshot_decode_item;

typedef struct {
    mcreg_cbor_reader in;
    mcreg_alloc *alloc;
    /* The current item's ids, contact, Call-ID and setting keys, copied
     * with a NUL: the C strings a binding is made of. Text and bytes
     * values point into the input. */
    char *strings;
    size_t strings_cap, strings_len;
    mcreg_setting settings[MCREG_MAX_SETTINGS];
    /* Where the document stands: the top-level map's head and version are
     * read once `started`; `keys_left` entries of that map follow the
     * current one, whose array still holds `items_left` records (in_records)
     * or limits. `last_key` keeps the map's keys ascending. */
    int started, in_records;
    uint64_t section_key;              /* the array being read */
    int crc_seen, crc_needed;          /* 1.1's checksum */
    uint64_t minor;                    /* the format's, once started */
    uint64_t keys_left, items_left, last_key;
    /* Where an error is, for its account in *why: the array ("records" or
     * "limits") and the item's place in it, then the field being read
     * ("ue_id", "settings" and its index). */
    const char *section, *field;
    size_t item_index, field_index;
    mcreg_detail *why;
    int explained; /* *why holds the account of the error */
} mcreg_snapshot_decoder;

/* Start decoding buf[0..len), which must outlive the decoder; `a` allocates
 * the decoder's string area. `why` (may be NULL) receives the account of a
 * decoding error: "snapshot: byte 1234: records[5]: cseq: above
 * 4294967295". MCREG_ERR_NOMEM. */
int mcreg__snapshot_decode_init(mcreg_snapshot_decoder *d, mcreg_alloc *a,
                                const uint8_t *buf, size_t len, mcreg_detail *why);

/* Read the next item into *item. After an error, or an item of kind END,
 * call it no more. MCREG_ERR_FORMAT or MCREG_ERR_VERSION (the version is
 * the first thing read), with its account in the decoder's `why`. */
int mcreg__snapshot_decode_next(mcreg_snapshot_decoder *d, mcreg_snapshot_decode_item *item);

void mcreg__snapshot_decode_free(mcreg_snapshot_decoder *d);

/* Pieces of the format, for the change decoder (changes_decode.c), read
 * at the decoder's position: a record map (into item, as a RECORD; the
 * strings area starts over), an id (a valid one, copied into the strings
 * area), an unsigned integer of at most max, a version [stamp, node].
 * MCREG_ERR_FORMAT. */
int mcreg__snapshot_decode_record(mcreg_snapshot_decoder *d, mcreg_snapshot_decode_item *item);
int mcreg__snapshot_decode_id(mcreg_snapshot_decoder *d, const char **out);
int mcreg__snapshot_decode_uint(mcreg_snapshot_decoder *d, uint64_t max, uint64_t *out);
int mcreg__snapshot_decode_version(mcreg_snapshot_decoder *d, mcreg_change_version *v);

#endif
