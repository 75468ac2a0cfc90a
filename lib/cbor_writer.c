#include "cbor_writer.h"

#include <string.h>

#include <cbor/encoding.h>

#include "alloc.h"
#include "record.h"
#include "snapshot.h"

typedef mcreg_cbor_writer writer;
#define HEAD_MAX MCREG_CBOR_WRITER_HEAD_MAX

/* Room for n more bytes, or 0 once the writer has failed (it then writes
 * nothing more). Heads are encoded straight into the buffer. */
int mcreg__cbor_writer_room(writer *w, size_t n)
{
    if (w->failed)
        return 0;
    if (n <= w->cap - w->len)
        return 1;
    uint8_t *out = NULL;
    if (n > SIZE_MAX - w->len)
        out = NULL;
    else if (w->counted)
        out = mcreg__alloc_grow(w->counted, w->out, &w->cap, w->len + n, 1);
    else
        out = mcreg__alloc_temp_grow(w->alloc, w->out, &w->cap, w->len + n, 1);
    if (!out) {
        w->failed = 1;
        return 0;
    }
    w->out = out;
    return 1;
}

/* Where the next head goes, with HEAD_MAX bytes free there. */
#define AT(w) ((w)->out + (w)->len)

void mcreg__cbor_writer_uint(writer *w, uint64_t v)
{
    if (mcreg__cbor_writer_room(w, HEAD_MAX))
        w->len += cbor_encode_uint(v, AT(w), HEAD_MAX);
}

void mcreg__cbor_writer_int(writer *w, int64_t v)
{
    if (!mcreg__cbor_writer_room(w, HEAD_MAX))
        return;
    /* CBOR's negative integers carry -1 - v, which fits for INT64_MIN. */
    w->len += v >= 0 ? cbor_encode_uint((uint64_t)v, AT(w), HEAD_MAX)
                     : cbor_encode_negint((uint64_t)(-1 - v), AT(w), HEAD_MAX);
}

void mcreg__cbor_writer_array(writer *w, size_t n)
{
    if (mcreg__cbor_writer_room(w, HEAD_MAX))
        w->len += cbor_encode_array_start(n, AT(w), HEAD_MAX);
}

void mcreg__cbor_writer_map(writer *w, size_t n)
{
    if (mcreg__cbor_writer_room(w, HEAD_MAX))
        w->len += cbor_encode_map_start(n, AT(w), HEAD_MAX);
}

/* A head from `start` (a string's or a byte string's), then the bytes. */
static void put_string(writer *w, size_t (*start)(size_t, unsigned char *, size_t),
                       const void *bytes, size_t len)
{
    if (len > SIZE_MAX - HEAD_MAX) {
        w->failed = 1;
        return;
    }
    if (!mcreg__cbor_writer_room(w, HEAD_MAX + len))
        return;
    w->len += start(len, AT(w), HEAD_MAX);
    if (len)
        memcpy(AT(w), bytes, len);
    w->len += len;
}

void mcreg__cbor_writer_text(writer *w, const char *s, size_t len)
{
    put_string(w, cbor_encode_string_start, s, len);
}

void mcreg__cbor_writer_bytes(writer *w, const uint8_t *b, size_t len)
{
    put_string(w, cbor_encode_bytestring_start, b, len);
}

void mcreg__cbor_writer_bool(writer *w, int v)
{
    if (mcreg__cbor_writer_room(w, HEAD_MAX))
        w->len += cbor_encode_bool(v != 0, AT(w), HEAD_MAX);
}

void mcreg__cbor_writer_tag(writer *w, uint64_t tag)
{
    if (mcreg__cbor_writer_room(w, HEAD_MAX))
        w->len += cbor_encode_tag(tag, AT(w), HEAD_MAX);
}

static void put_setting(writer *w, const mcreg_setting *s)
{
    mcreg__cbor_writer_array(w, 2);
    mcreg__cbor_writer_text(w, s->key, strlen(s->key));
    switch (s->type) {
    case MCREG_VAL_INT:
        mcreg__cbor_writer_int(w, s->v.i);
        break;
    case MCREG_VAL_TEXT:
        mcreg__cbor_writer_text(w, s->v.text.ptr, s->v.text.len);
        break;
    case MCREG_VAL_BYTES:
        mcreg__cbor_writer_bytes(w, s->v.bytes.ptr, s->v.bytes.len);
        break;
    case MCREG_VAL_BOOL:
        mcreg__cbor_writer_bool(w, s->v.b);
        break;
    }
}

void mcreg__cbor_writer_record(writer *w, const struct mcreg_record *r, int versions)
{
    const char *contact = mcreg__record_contact(r), *call_id = mcreg__record_call_id(r);
    versions = versions && (r->flags & MCREG_RECORD_HAS_VERSIONS);
    mcreg__cbor_writer_map(w, 5u + (contact != NULL) + (call_id != NULL) + (r->n_settings != 0) +
                                  (versions ? 2u : 0u));
    /* Keys in ascending order, as deterministic encoding sorts them. */
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_USER);
    mcreg__cbor_writer_text(w, r->user->id, mcreg__user_id_len(r->user));
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_UE);
    mcreg__cbor_writer_text(w, r->ue_id, mcreg__record_ue_len(r));
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_REGISTERED_AT);
    mcreg__cbor_writer_uint(w, r->registered_at);
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_EXPIRES_AT);
    mcreg__cbor_writer_uint(w, r->expires_at);
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_CSEQ);
    mcreg__cbor_writer_uint(w, r->cseq);
    if (contact) {
        mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_CONTACT);
        mcreg__cbor_writer_text(w, contact, r->contact_len);
    }
    if (call_id) {
        mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_CALL_ID);
        mcreg__cbor_writer_text(w, call_id, r->call_id_len);
    }
    if (r->n_settings) {
        const mcreg_setting *settings = mcreg__record_settings(r);
        mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_SETTINGS);
        mcreg__cbor_writer_array(w, r->n_settings);
        for (size_t i = 0; i < r->n_settings; i++)
            put_setting(w, &settings[i]);
    }
    if (versions) {
        const mcreg_record_versions *v = mcreg__record_versions(r);
        mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_VERSION);
        mcreg__cbor_writer_version(w, v->write);
        mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_REC_LOGON);
        mcreg__cbor_writer_version(w, v->logon);
    }
}

void mcreg__cbor_writer_null(writer *w)
{
    if (mcreg__cbor_writer_room(w, HEAD_MAX))
        w->len += cbor_encode_null(AT(w), HEAD_MAX);
}

void mcreg__cbor_writer_version(writer *w, mcreg_change_version v)
{
    mcreg__cbor_writer_array(w, 2);
    mcreg__cbor_writer_uint(w, v.stamp);
    mcreg__cbor_writer_uint(w, v.node_id);
}

