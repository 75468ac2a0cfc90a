#include "changes_decode.h"

#include <string.h>

#include "cbor_reader.h"
#include "changes.h"
#include "crc32c.h"
#include "repl.h"
#include "snapshot.h"

/* Levels of nesting of a buffer's items, for the structural pass: an entry
 * nests a record map, its settings array and a setting (4 below the
 * entries array); a later minor version's extra items get some room. */
#define MAX_DEPTH 16u

int mcreg__changes_decode_is_snapshot(const uint8_t *buf, size_t len)
{
    /* d9 d9f7: tag 55799; then a map head (major type 5). */
    return len >= 4 && buf[0] == 0xd9 && buf[1] == 0xd9 && buf[2] == 0xf7 && (buf[3] >> 5) == 5;
}

int mcreg__changes_decode_init(mcreg_changes_decoder *c, mcreg_alloc *a, const uint8_t *buf,
                               size_t len, mcreg_detail *why)
{
    memset(c, 0, sizeof(*c));
    return mcreg__snapshot_decode_init(&c->d, a, buf, len, why);
}

void mcreg__changes_decode_free(mcreg_changes_decoder *c)
{
    mcreg__snapshot_decode_free(&c->d);
}

static int expect_count(mcreg_cbor_reader *in, mcreg_cbor_reader_kind kind, uint64_t n)
{
    int rc = mcreg__cbor_reader_expect(in, kind);
    return rc == MCREG_OK && in->item.value != n ? MCREG_ERR_FORMAT : rc;
}

/* The structural pass over one buffer from in's position: the tag, three
 * items of which the last is the 4-byte checksum, and the checksum right.
 * Leaves `in` after the buffer, and the checksum's place in *crc_at. */
static int check_buffer(mcreg_cbor_reader *in, const uint8_t **crc_at)
{
    const uint8_t *start = in->p;
    int rc = mcreg__cbor_reader_expect(in, MCREG_CBOR_READER_TAG);
    if (rc != MCREG_OK || in->item.value != MCREG_SNAPSHOT_SELF_DESCRIBE)
        return MCREG_ERR_FORMAT;
    rc = expect_count(in, MCREG_CBOR_READER_ARRAY, 3);
    if (rc == MCREG_OK)
        rc = mcreg__cbor_reader_skip(in, MAX_DEPTH); /* the version */
    if (rc == MCREG_OK)
        rc = mcreg__cbor_reader_skip(in, MAX_DEPTH); /* the entries */
    if (rc != MCREG_OK)
        return MCREG_ERR_FORMAT;
    const uint8_t *at = in->p;
    rc = mcreg__cbor_reader_expect(in, MCREG_CBOR_READER_BYTES);
    if (rc != MCREG_OK || in->item.len != MCREG_CHANGES_CRC_LEN)
        return MCREG_ERR_FORMAT;
    const uint8_t *b = in->item.ptr;
    uint32_t want = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if (mcreg__crc32c(start, (size_t)(at - start)) != want)
        return MCREG_ERR_FORMAT;
    *crc_at = at;
    return MCREG_OK;
}

/* Check the next buffer whole, then read its head: the version and the
 * entries array's count. */
static int begin_buffer(mcreg_changes_decoder *c)
{
    mcreg_cbor_reader *in = &c->d.in;
    mcreg_cbor_reader check = *in;
    int rc = check_buffer(&check, &c->crc_at);
    if (rc != MCREG_OK)
        return rc;
    (void)mcreg__cbor_reader_next(in); /* the tag */
    (void)mcreg__cbor_reader_next(in); /* the array's head */
    uint64_t major, minor;
    rc = expect_count(in, MCREG_CBOR_READER_ARRAY, 2);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_uint(&c->d, UINT64_MAX, &major);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_uint(&c->d, UINT64_MAX, &minor);
    if (rc != MCREG_OK)
        return rc;
    if (major != MCREG_CHANGES_MAJOR)
        return MCREG_ERR_VERSION;
    rc = mcreg__cbor_reader_expect(in, MCREG_CBOR_READER_ARRAY);
    if (rc != MCREG_OK)
        return rc;
    c->entries_left = in->item.value;
    c->in_buffer = 1;
    return MCREG_OK;
}

/* After the entries: the checksum, already checked. */
static int end_buffer(mcreg_changes_decoder *c)
{
    mcreg_cbor_reader *in = &c->d.in;
    if (in->p != c->crc_at)
        return MCREG_ERR_FORMAT;
    c->in_buffer = 0;
    return mcreg__cbor_reader_next(in);
}

static int read_put(mcreg_changes_decoder *c, mcreg_changes_decode_item *item)
{
    int rc = mcreg__snapshot_decode_version(&c->d, &item->version);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_version(&c->d, &item->logon);
    mcreg_snapshot_decode_item rec;
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_record(&c->d, &rec);
    if (rc != MCREG_OK)
        return rc;
    /* A logon is never later than the write; versions in the map are not
     * a put's: it carries its own. */
    if (mcreg__repl_version_cmp(item->logon, item->version) > 0 ||
        rec.registered_at > rec.expires_at)
        return MCREG_ERR_FORMAT;
    item->kind = MCREG_CHANGES_DECODE_PUT;
    item->binding = rec.binding;
    item->user_id = rec.binding.user_id;
    item->ue_id = rec.binding.ue_id;
    item->registered_at = rec.registered_at;
    item->expires_at = rec.expires_at;
    return MCREG_OK;
}

static int read_removal(mcreg_changes_decoder *c, mcreg_changes_decode_item *item)
{
    uint64_t reason = 0;
    c->d.strings_len = 0;
    int rc = mcreg__snapshot_decode_id(&c->d, &item->user_id);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_id(&c->d, &item->ue_id);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_version(&c->d, &item->version);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_version(&c->d, &item->logon);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_uint(&c->d, UINT32_MAX, &reason);
    if (rc != MCREG_OK)
        return rc;
    if ((reason != MCREG_EV_DEREGISTERED && reason != MCREG_EV_EVICTED &&
         reason != MCREG_EV_REPLACED) ||
        mcreg__repl_version_cmp(item->logon, item->version) > 0)
        return MCREG_ERR_FORMAT;
    item->kind = MCREG_CHANGES_DECODE_REMOVAL;
    item->reason = (unsigned)reason;
    return MCREG_OK;
}

static int read_limit(mcreg_changes_decoder *c, mcreg_changes_decode_item *item)
{
    c->d.strings_len = 0;
    int rc = mcreg__snapshot_decode_id(&c->d, &item->user_id);
    if (rc == MCREG_OK)
        rc = mcreg__snapshot_decode_version(&c->d, &item->version);
    if (rc != MCREG_OK)
        return rc;
    mcreg_cbor_reader *in = &c->d.in;
    item->kind = MCREG_CHANGES_DECODE_LIMIT;
    if (in->left && *in->p == 0xf6) { /* null: a cleared limit */
        item->has_max = 0;
        return mcreg__cbor_reader_next(in);
    }
    uint64_t max;
    rc = mcreg__snapshot_decode_uint(&c->d, UINT32_MAX, &max);
    item->has_max = 1;
    item->max_ues = (uint32_t)max;
    return rc;
}

/* Items an entry of each kind has; a later minor version may append more,
 * which are skipped. */
static const uint64_t entry_items[] = {4, 6, 4};

static int read_entry(mcreg_changes_decoder *c, mcreg_changes_decode_item *item)
{
    mcreg_cbor_reader *in = &c->d.in;
    int rc = mcreg__cbor_reader_expect(in, MCREG_CBOR_READER_ARRAY);
    if (rc != MCREG_OK)
        return rc;
    uint64_t n = in->item.value, kind;
    if (n == 0)
        return MCREG_ERR_FORMAT;
    rc = mcreg__snapshot_decode_uint(&c->d, UINT64_MAX, &kind);
    if (rc != MCREG_OK)
        return rc;
    if (kind > MCREG_REPL_LIMIT) {
        item->kind = MCREG_CHANGES_DECODE_END; /* a later kind: skipped */
        for (uint64_t i = 1; rc == MCREG_OK && i < n; i++)
            rc = mcreg__cbor_reader_skip(in, MAX_DEPTH);
        return rc;
    }
    if (n < entry_items[kind])
        return MCREG_ERR_FORMAT;
    rc = kind == MCREG_REPL_PUT       ? read_put(c, item)
         : kind == MCREG_REPL_REMOVAL ? read_removal(c, item)
                                      : read_limit(c, item);
    for (uint64_t i = entry_items[kind]; rc == MCREG_OK && i < n; i++)
        rc = mcreg__cbor_reader_skip(in, MAX_DEPTH);
    return rc;
}

int mcreg__changes_decode_next(mcreg_changes_decoder *c, mcreg_changes_decode_item *item)
{
    for (;;) {
        memset(item, 0, sizeof(*item));
        int rc;
        if (!c->in_buffer) {
            if (c->d.in.left == 0) {
                item->kind = MCREG_CHANGES_DECODE_END;
                return MCREG_OK;
            }
            if ((rc = begin_buffer(c)) != MCREG_OK)
                return rc;
        }
        if (!c->entries_left) {
            if ((rc = end_buffer(c)) != MCREG_OK)
                return rc;
            continue;
        }
        c->entries_left--;
        if ((rc = read_entry(c, item)) != MCREG_OK)
            return rc;
        if (item->kind != MCREG_CHANGES_DECODE_END)
            return MCREG_OK;
    }
}
