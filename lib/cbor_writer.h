/* A CBOR writer into a growing buffer of the registry's allocator, and
 * the record map shared by snapshots and change buffers (README,
 * "Snapshot format"). Every item is written with the shortest head
 * (RFC 8949 4.2.1, through libcbor's encoders); map keys are the caller's
 * to order. */
#ifndef MCREG_CBOR_WRITER_H
#define MCREG_CBOR_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "mcreg.h"

struct mcreg_record;

/* Appends to `out`, grown through `counted` (a block the registry's state
 * holds, counted in mcreg_stat) or, when that is NULL, through `alloc`
 * (uncounted: a buffer for the host, or a query's own). After a failure
 * (no memory, or a size past SIZE_MAX) it writes nothing more and `failed`
 * stays set. */
struct mcreg_alloc;
typedef struct mcreg_cbor_writer {
    struct mcreg_alloc *counted;
    const mcreg_allocator *alloc;
    uint8_t *out;
    size_t len, cap;
    int failed;
} mcreg_cbor_writer;

/* The longest head of one item. */
#define MCREG_CBOR_WRITER_HEAD_MAX 9

/* Room for n more bytes: 0 once the writer has failed. */
int mcreg__cbor_writer_room(mcreg_cbor_writer *w, size_t n);
void mcreg__cbor_writer_uint(mcreg_cbor_writer *w, uint64_t v);
void mcreg__cbor_writer_int(mcreg_cbor_writer *w, int64_t v);
void mcreg__cbor_writer_array(mcreg_cbor_writer *w, size_t n);
void mcreg__cbor_writer_map(mcreg_cbor_writer *w, size_t n);
void mcreg__cbor_writer_text(mcreg_cbor_writer *w, const char *s, size_t len);
void mcreg__cbor_writer_bytes(mcreg_cbor_writer *w, const uint8_t *b, size_t len);
void mcreg__cbor_writer_bool(mcreg_cbor_writer *w, int v);
void mcreg__cbor_writer_null(mcreg_cbor_writer *w);
void mcreg__cbor_writer_tag(mcreg_cbor_writer *w, uint64_t tag);
/* [stamp, node] */
void mcreg__cbor_writer_version(mcreg_cbor_writer *w, mcreg_change_version v);
/* A record as a map of the snapshot's record keys; with its versions
 * (keys 8 and 9) when `versions` is set and the record has them. */
void mcreg__cbor_writer_record(mcreg_cbor_writer *w, const struct mcreg_record *r, int versions);

#endif
