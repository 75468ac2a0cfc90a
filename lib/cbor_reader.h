/* A pull reader of CBOR data items over libcbor's streaming decoder: one
 * call, one item head (a whole string for text and bytes). It never
 * allocates, and rejects what no snapshot contains: indefinite lengths,
 * reserved and unassigned encodings, and arrays or maps declaring more
 * items than the bytes left could hold. */
#ifndef MCREG_CBOR_READER_H
#define MCREG_CBOR_READER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MCREG_CBOR_READER_UINT,   /* value */
    MCREG_CBOR_READER_NEGINT, /* the integer is -1 - value */
    MCREG_CBOR_READER_BYTES,  /* ptr, len */
    MCREG_CBOR_READER_TEXT,   /* ptr, len (not checked to be UTF-8) */
    MCREG_CBOR_READER_ARRAY,  /* value: number of items */
    MCREG_CBOR_READER_MAP,    /* value: number of pairs */
    MCREG_CBOR_READER_TAG,    /* value: tag number; the tagged item follows */
    MCREG_CBOR_READER_BOOL,   /* value: 0 or 1 */
    MCREG_CBOR_READER_OTHER,  /* float, null, undefined */
    MCREG_CBOR_READER_INDEFINITE /* indefinite-length start or break: refused */
} mcreg_cbor_reader_kind;

typedef struct {
    mcreg_cbor_reader_kind kind;
    uint64_t value;
    const uint8_t *ptr;
    size_t len;
} mcreg_cbor_reader_item;

typedef struct {
    const uint8_t *p;   /* next unread byte */
    size_t left;        /* bytes from p to the end of the input */
    mcreg_cbor_reader_item item; /* the item last read */
    const uint8_t *base; /* the input's first byte */
    size_t at;          /* offset of the item last read (or refused) */
    const char *error;  /* after MCREG_ERR_FORMAT: the rule broken, static */
} mcreg_cbor_reader;

void mcreg__cbor_reader_init(mcreg_cbor_reader *r, const uint8_t *buf, size_t len);

/* Read the next item head into r->item. MCREG_ERR_FORMAT on malformed or
 * truncated input, an indefinite length, or a count the bytes left cannot
 * hold (each item takes at least one byte). */
int mcreg__cbor_reader_next(mcreg_cbor_reader *r);

/* Read the next item, which must be of the given kind ("expected a
 * KIND" in r->error otherwise). */
int mcreg__cbor_reader_expect(mcreg_cbor_reader *r, mcreg_cbor_reader_kind kind);

/* Skip one whole data item, nested items included, at most `max_depth`
 * levels of arrays, maps and tags deep. MCREG_ERR_FORMAT when deeper. */
int mcreg__cbor_reader_skip(mcreg_cbor_reader *r, unsigned max_depth);

#endif
