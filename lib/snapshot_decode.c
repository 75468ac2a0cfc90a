/* Decoding a snapshot (README, "Snapshot format") from hostile bytes, one
 * record or limit per call. Driven by the schema, one CBOR item at a time,
 * with nothing allocated but the string area: no count the input declares
 * is trusted beyond the bytes that follow it. */
#include "snapshot_decode.h"

#include <string.h>

#include "alloc.h"
#include "crc32c.h"
#include "snapshot.h"
#include "validate.h"

/* The smallest record: a map head, five one-byte keys, two one-byte ids
 * with their heads, and three one-byte integers. Bounds the records a
 * given number of bytes can hold, for the heap's size hint. */
#define MIN_RECORD_BYTES 13u

/* Levels of nesting a skipped value (of a key a later minor version added)
 * may have. The format itself nests five deep. */
#define MAX_UNKNOWN_DEPTH 16u

/* C strings per record: two ids, contact, Call-ID, and the setting keys. */
#define MAX_CSTRINGS (4u + MCREG_MAX_SETTINGS)
/* Their largest total, NULs included. */
#define MAX_RECORD_CSTRING_BYTES                                             \
    (2u * (MCREG_MAX_ID_LEN + 1u) + 2u * (MCREG_MAX_URI_LEN + 1u) +          \
     MCREG_MAX_SETTINGS * (MCREG_MAX_SETTING_LEN + 1u))

/* The decoder's state (snapshot_decode.h), by a shorter name. */
typedef mcreg_snapshot_decoder decoder;

/* ---- errors ----------------------------------------------------------------- */

/* Start the account of an error found at byte `at`: "snapshot: byte AT: "
 * and where in the document it is. */
static void explain_at(decoder *d, size_t at)
{
    mcreg_detail *why = d->why;
    d->explained = 1;
    mcreg__detail_clear(why);
    mcreg__detail_add(why, "snapshot: byte ");
    mcreg__detail_add_uint(why, at);
    mcreg__detail_add(why, ": ");
    if (d->section)
        mcreg__detail_field(why, d->section, d->item_index);
    if (d->field)
        mcreg__detail_field(why, d->field, d->field_index);
}

/* Refuse the input for `rule`, broken by the item last read. */
static int refuse(decoder *d, const char *rule)
{
    explain_at(d, d->in.at);
    mcreg__detail_add(d->why, rule);
    return MCREG_ERR_FORMAT;
}

static int refuse_uint(decoder *d, const char *rule, uint64_t v)
{
    refuse(d, rule);
    mcreg__detail_add_uint(d->why, v);
    return MCREG_ERR_FORMAT;
}

/* Now reading `field` (NULL: between fields). */
static void reading(decoder *d, const char *field, size_t index)
{
    d->field = field;
    d->field_index = index;
}

/* ---- items ------------------------------------------------------------------ */

static int read_uint(decoder *d, uint64_t max, uint64_t *out)
{
    int rc = mcreg__cbor_reader_expect(&d->in, MCREG_CBOR_READER_UINT);
    if (rc != MCREG_OK)
        return rc;
    if (d->in.item.value > max)
        return refuse_uint(d, "above ", max);
    *out = d->in.item.value;
    return MCREG_OK;
}

static int read_count(decoder *d, mcreg_cbor_reader_kind kind, uint64_t *n)
{
    int rc = mcreg__cbor_reader_expect(&d->in, kind);
    if (rc == MCREG_OK)
        *n = d->in.item.value;
    return rc;
}

/* The head of an array of exactly two items: a setting, a limit, the
 * version. */
static int read_pair(decoder *d)
{
    uint64_t n;
    int rc = read_count(d, MCREG_CBOR_READER_ARRAY, &n);
    return rc == MCREG_OK && n != 2 ? refuse(d, "expected an array of 2 items") : rc;
}

/* A text of at most `max` bytes without NUL, copied into the record's
 * strings with a NUL. UTF-8 is checked with the whole binding. */
static int read_cstring(decoder *d, size_t max, const char **out)
{
    int rc = mcreg__cbor_reader_expect(&d->in, MCREG_CBOR_READER_TEXT);
    if (rc != MCREG_OK)
        return rc;
    const mcreg_cbor_reader_item *it = &d->in.item;
    if (it->len > max)
        return refuse_uint(d, "text longer than the limit of bytes: ", max);
    if (memchr(it->ptr, '\0', it->len))
        return refuse(d, "text holds U+0000");
    if (d->strings_cap - d->strings_len < it->len + 1)
        return refuse(d, "string area full"); /* cannot happen: sized for the limits */
    char *s = d->strings + d->strings_len;
    memcpy(s, it->ptr, it->len);
    s[it->len] = '\0';
    d->strings_len += it->len + 1;
    *out = s;
    return MCREG_OK;
}

/* Map keys are unsigned integers in ascending order (deterministic
 * encoding), so no key can repeat. */
typedef struct {
    uint64_t last;
    int any;
} key_order;

static int read_key(decoder *d, key_order *order, uint64_t *key)
{
    int rc = mcreg__cbor_reader_expect(&d->in, MCREG_CBOR_READER_UINT);
    if (rc != MCREG_OK)
        return rc;
    uint64_t k = d->in.item.value;
    if (order->any && k <= order->last)
        return refuse(d, k == order->last ? "map key repeats" : "map keys out of order");
    order->last = k;
    order->any = 1;
    *key = k;
    return MCREG_OK;
}

static int skip_value(decoder *d)
{
    return mcreg__cbor_reader_skip(&d->in, MAX_UNKNOWN_DEPTH);
}

/* ---- records ---------------------------------------------------------------- */

static int read_setting_value(decoder *d, mcreg_setting *s)
{
    int rc = mcreg__cbor_reader_next(&d->in);
    if (rc != MCREG_OK)
        return rc;
    const mcreg_cbor_reader_item *it = &d->in.item;
    switch (it->kind) {
    case MCREG_CBOR_READER_UINT:
    case MCREG_CBOR_READER_NEGINT:
        if (it->value > INT64_MAX)
            return refuse(d, "value outside int64");
        s->type = MCREG_VAL_INT;
        s->v.i = it->kind == MCREG_CBOR_READER_UINT ? (int64_t)it->value : -1 - (int64_t)it->value;
        return MCREG_OK;
    case MCREG_CBOR_READER_TEXT:
        s->type = MCREG_VAL_TEXT;
        s->v.text.ptr = (const char *)it->ptr;
        s->v.text.len = it->len;
        return MCREG_OK;
    case MCREG_CBOR_READER_BYTES:
        s->type = MCREG_VAL_BYTES;
        s->v.bytes.ptr = it->ptr;
        s->v.bytes.len = it->len;
        return MCREG_OK;
    case MCREG_CBOR_READER_BOOL:
        s->type = MCREG_VAL_BOOL;
        s->v.b = (int)it->value;
        return MCREG_OK;
    default:
        return refuse(d, "value neither integer, text, bytes nor boolean");
    }
}

static int read_settings(decoder *d, mcreg_binding *b)
{
    uint64_t n;
    int rc = read_count(d, MCREG_CBOR_READER_ARRAY, &n);
    if (rc != MCREG_OK)
        return rc;
    if (n == 0)
        return refuse(d, "empty (a record without settings has no key 7)");
    if (n > MCREG_MAX_SETTINGS)
        return refuse_uint(d, "more settings than ", MCREG_MAX_SETTINGS);
    for (uint64_t i = 0; i < n; i++) {
        reading(d, "settings", (size_t)i);
        mcreg_setting *s = &d->settings[i];
        memset(s, 0, sizeof(*s));
        rc = read_pair(d);
        if (rc == MCREG_OK)
            rc = read_cstring(d, MCREG_MAX_SETTING_LEN, &s->key);
        if (rc == MCREG_OK)
            rc = read_setting_value(d, s);
        if (rc != MCREG_OK)
            return rc;
    }
    b->settings = d->settings;
    b->n_settings = (size_t)n;
    return MCREG_OK;
}

/* The fields every record has. */
#define REQUIRED_FIELDS                                                                 \
    ((1u << MCREG_SNAPSHOT_REC_USER) | (1u << MCREG_SNAPSHOT_REC_UE) |                  \
     (1u << MCREG_SNAPSHOT_REC_REGISTERED_AT) | (1u << MCREG_SNAPSHOT_REC_EXPIRES_AT) | \
     (1u << MCREG_SNAPSHOT_REC_CSEQ))

typedef struct {
    mcreg_binding b;
    uint64_t registered_at, expires_at;
    mcreg_change_version version, logon;
    unsigned versions; /* 1: key 16 given, 2: key 17 */
} record_fields;

/* The names of the record's fields, by key, as mcreg_binding has them. */
static const char *const field_names[] = {
    [MCREG_SNAPSHOT_REC_USER] = "user_id",
    [MCREG_SNAPSHOT_REC_UE] = "ue_id",
    [MCREG_SNAPSHOT_REC_REGISTERED_AT] = "registered_at",
    [MCREG_SNAPSHOT_REC_EXPIRES_AT] = "expires_at",
    [MCREG_SNAPSHOT_REC_CSEQ] = "cseq",
    [MCREG_SNAPSHOT_REC_CONTACT] = "contact",
    [MCREG_SNAPSHOT_REC_CALL_ID] = "call_id",
    [MCREG_SNAPSHOT_REC_SETTINGS] = "settings",
};

static int read_field(decoder *d, uint64_t key, record_fields *f)
{
    uint64_t cseq;
    int rc;
    if (key <= MCREG_SNAPSHOT_REC_SETTINGS)
        reading(d, field_names[key], MCREG_DETAIL_NO_INDEX);
    switch (key) {
    case MCREG_SNAPSHOT_REC_USER:
        return read_cstring(d, MCREG_MAX_ID_LEN, &f->b.user_id);
    case MCREG_SNAPSHOT_REC_UE:
        return read_cstring(d, MCREG_MAX_ID_LEN, &f->b.ue_id);
    case MCREG_SNAPSHOT_REC_REGISTERED_AT:
        return read_uint(d, UINT64_MAX, &f->registered_at);
    case MCREG_SNAPSHOT_REC_EXPIRES_AT:
        return read_uint(d, UINT64_MAX, &f->expires_at);
    case MCREG_SNAPSHOT_REC_CSEQ:
        rc = read_uint(d, UINT32_MAX, &cseq);
        f->b.cseq = (uint32_t)cseq;
        return rc;
    case MCREG_SNAPSHOT_REC_CONTACT:
        return read_cstring(d, MCREG_MAX_URI_LEN, &f->b.contact);
    case MCREG_SNAPSHOT_REC_CALL_ID:
        return read_cstring(d, MCREG_MAX_URI_LEN, &f->b.call_id);
    case MCREG_SNAPSHOT_REC_SETTINGS:
        return read_settings(d, &f->b);
    case MCREG_SNAPSHOT_REC_VERSION:
        f->versions |= 1u;
        return mcreg__snapshot_decode_version(d, &f->version);
    case MCREG_SNAPSHOT_REC_LOGON:
        f->versions |= 2u;
        return mcreg__snapshot_decode_version(d, &f->logon);
    default:
        return skip_value(d); /* a later minor version's field */
    }
}

/* The record at `at` breaks a rule of mcreg_register, which `why` says. */
static int refuse_binding(decoder *d, size_t at, const mcreg_detail *why)
{
    reading(d, NULL, MCREG_DETAIL_NO_INDEX);
    explain_at(d, at);
    mcreg__detail_add(d->why, why->text);
    return MCREG_ERR_FORMAT;
}

int mcreg__snapshot_decode_version(decoder *d, mcreg_change_version *v)
{
    int rc = read_pair(d);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT64_MAX, &v->stamp);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT64_MAX, &v->node_id);
    return rc;
}

int mcreg__snapshot_decode_id(decoder *d, const char **out)
{
    int rc = read_cstring(d, MCREG_MAX_ID_LEN, out);
    if (rc == MCREG_OK && !mcreg__validate_id(*out, NULL, "id", NULL))
        rc = refuse(d, "not a valid id");
    return rc;
}

int mcreg__snapshot_decode_uint(decoder *d, uint64_t max, uint64_t *out)
{
    return read_uint(d, max, out);
}

int mcreg__snapshot_decode_record(decoder *d, mcreg_snapshot_decode_item *item)
{
    uint64_t n;
    size_t at = (size_t)(d->in.p - d->in.base);
    int rc = read_count(d, MCREG_CBOR_READER_MAP, &n);
    if (rc != MCREG_OK)
        return rc;
    record_fields f = {0};
    f.b.expires_s = 1; /* unused: the times come whole */
    d->strings_len = 0;
    key_order order = {0};
    unsigned seen = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key;
        reading(d, NULL, MCREG_DETAIL_NO_INDEX);
        rc = read_key(d, &order, &key);
        if (rc == MCREG_OK)
            rc = read_field(d, key, &f);
        if (rc != MCREG_OK)
            return rc;
        if (key <= MCREG_SNAPSHOT_REC_SETTINGS)
            seen |= 1u << key;
    }
    reading(d, NULL, MCREG_DETAIL_NO_INDEX);
    for (unsigned k = 0; k <= MCREG_SNAPSHOT_REC_SETTINGS; k++) {
        if ((REQUIRED_FIELDS & (1u << k)) && !(seen & (1u << k))) {
            explain_at(d, at);
            mcreg__detail_add(d->why, "no ");
            mcreg__detail_add(d->why, field_names[k]);
            return MCREG_ERR_FORMAT;
        }
    }
    mcreg_detail why;
    if (!mcreg__validate_binding(&f.b, NULL, NULL, &why))
        return refuse_binding(d, at, &why);
    item->kind = MCREG_SNAPSHOT_DECODE_RECORD;
    item->at = at;
    item->binding = f.b;
    item->registered_at = f.registered_at;
    item->expires_at = f.expires_at;
    item->version = f.version;
    item->logon = f.logon;
    item->has_versions = f.versions == 3u;
    return MCREG_OK;
}

/* ---- limits ----------------------------------------------------------------- */

static int read_limit(decoder *d, mcreg_snapshot_decode_item *item)
{
    uint64_t max;
    const char *user;
    size_t at = (size_t)(d->in.p - d->in.base);
    d->strings_len = 0;
    reading(d, NULL, MCREG_DETAIL_NO_INDEX);
    int rc = read_pair(d);
    reading(d, "user_id", MCREG_DETAIL_NO_INDEX);
    if (rc == MCREG_OK)
        rc = read_cstring(d, MCREG_MAX_ID_LEN, &user);
    reading(d, "max_ues", MCREG_DETAIL_NO_INDEX);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT32_MAX, &max);
    if (rc != MCREG_OK)
        return rc;
    mcreg_detail why;
    if (!mcreg__validate_id(user, NULL, "user_id", &why))
        return refuse_binding(d, at, &why);
    item->kind = MCREG_SNAPSHOT_DECODE_LIMIT;
    item->at = at;
    item->user_id = user;
    item->max_ues = (uint32_t)max;
    return MCREG_OK;
}

/* ---- 1.1's sections ---------------------------------------------------------- */

static int read_array_of(decoder *d, uint64_t n)
{
    uint64_t have;
    int rc = read_count(d, MCREG_CBOR_READER_ARRAY, &have);
    return rc == MCREG_OK && have != n ? refuse(d, "wrong number of items") : rc;
}

static int read_entry(decoder *d, mcreg_snapshot_decode_item *item)
{
    item->at = (size_t)(d->in.p - d->in.base);
    d->strings_len = 0;
    reading(d, NULL, MCREG_DETAIL_NO_INDEX);
    int rc;
    switch (d->section_key) {
    case MCREG_SNAPSHOT_KEY_TOMBSTONES:
        item->kind = MCREG_SNAPSHOT_DECODE_TOMBSTONE;
        rc = read_array_of(d, 4);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_id(d, &item->user_id);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_id(d, &item->ue_id);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_version(d, &item->version);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_version(d, &item->logon);
        return rc;
    case MCREG_SNAPSHOT_KEY_UE_PUTS:
        item->kind = MCREG_SNAPSHOT_DECODE_UE_PUT;
        rc = read_array_of(d, 2);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_id(d, &item->ue_id);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_version(d, &item->version);
        return rc;
    default: {
        item->kind = MCREG_SNAPSHOT_DECODE_LIMIT_ENTRY;
        rc = read_array_of(d, 3);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_id(d, &item->user_id);
        if (rc == MCREG_OK)
            rc = mcreg__snapshot_decode_version(d, &item->version);
        if (rc != MCREG_OK)
            return rc;
        if (d->in.left && *d->in.p == 0xf6) /* null: a cleared limit */
            return mcreg__cbor_reader_next(&d->in);
        uint64_t max;
        rc = read_uint(d, UINT32_MAX, &max);
        item->has_max = 1;
        item->max_ues = (uint32_t)max;
        return rc;
    }
    }
}

/* Key 19: the CRC-32C of every byte before its value, which must be the
 * document's last. */
static int read_crc(decoder *d)
{
    size_t covered = (size_t)(d->in.p - d->in.base);
    int rc = mcreg__cbor_reader_expect(&d->in, MCREG_CBOR_READER_BYTES);
    if (rc != MCREG_OK)
        return rc;
    const uint8_t *b = d->in.item.ptr;
    if (d->in.item.len != 4 || d->keys_left)
        return refuse(d, "the checksum is not 4 bytes, or not the last key");
    uint32_t want = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    if (mcreg__crc32c(d->in.base, covered) != want)
        return refuse(d, "checksum mismatch");
    d->crc_seen = 1;
    return MCREG_OK;
}

/* ---- document --------------------------------------------------------------- */

/* [major, minor]: MCREG_ERR_VERSION for a major version this library does
 * not know; a later minor version only adds keys, which are skipped. */
static int read_version(decoder *d)
{
    uint64_t major, minor;
    reading(d, "version", MCREG_DETAIL_NO_INDEX);
    size_t at = (size_t)(d->in.p - d->in.base);
    int rc = read_pair(d);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT64_MAX, &major);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT64_MAX, &minor);
    if (rc != MCREG_OK)
        return rc;
    if (major == MCREG_SNAPSHOT_MAJOR) {
        reading(d, NULL, MCREG_DETAIL_NO_INDEX);
        d->minor = minor;
        /* 1.1 always has its checksum, whatever it holds: a flipped bit
         * in a record's version or expiry must not merge. A later minor
         * version may add keys above 19 (the checksum is the last key):
         * there it is required once keys 16 to 18 are there. */
        d->crc_needed |= minor == MCREG_SNAPSHOT_REPL_MINOR;
        return MCREG_OK;
    }
    explain_at(d, at);
    mcreg__detail_add(d->why, "format ");
    mcreg__detail_add_uint(d->why, major);
    mcreg__detail_add(d->why, ".");
    mcreg__detail_add_uint(d->why, minor);
    mcreg__detail_add(d->why, ", this library reads ");
    mcreg__detail_add_uint(d->why, MCREG_SNAPSHOT_MAJOR);
    mcreg__detail_add(d->why, ".x");
    return MCREG_ERR_VERSION;
}

/* The tag, the top-level map's head and the version, its first entry. */
static int read_head(decoder *d)
{
    int rc = mcreg__cbor_reader_next(&d->in);
    if (rc != MCREG_OK)
        return rc;
    if (d->in.item.kind != MCREG_CBOR_READER_TAG ||
        d->in.item.value != MCREG_SNAPSHOT_SELF_DESCRIBE)
        return refuse(d, "expected tag 55799 (self-described CBOR)");
    uint64_t n, key = 0;
    rc = read_count(d, MCREG_CBOR_READER_MAP, &n);
    if (rc != MCREG_OK)
        return rc;
    /* The version comes first, so that a snapshot of another major
     * version is told apart before anything else is read. */
    if (n == 0)
        return refuse(d, "empty top-level map");
    key_order order = {0};
    rc = read_key(d, &order, &key);
    if (rc == MCREG_OK && key != MCREG_SNAPSHOT_KEY_VERSION)
        rc = refuse(d, "the first key is not 0, the version");
    if (rc == MCREG_OK)
        rc = read_version(d);
    d->keys_left = n - 1;
    d->last_key = key;
    return rc;
}

/* The next entry of the top-level map whose value is an array of records,
 * or a non-empty array of limits: its head read, and for records the item
 * that announces them filled in. Other entries (a later minor version's)
 * are skipped. 0 in *found: no such entry is left. */
static int read_section(decoder *d, mcreg_snapshot_decode_item *item, int *found)
{
    *found = 0;
    while (d->keys_left) {
        d->keys_left--;
        key_order order = {.last = d->last_key, .any = 1};
        uint64_t key;
        d->section = NULL;
        reading(d, NULL, MCREG_DETAIL_NO_INDEX);
        int rc = read_key(d, &order, &key);
        if (rc != MCREG_OK)
            return rc;
        d->last_key = key;
        if (key == MCREG_SNAPSHOT_KEY_CRC) {
            rc = read_crc(d);
            if (rc != MCREG_OK)
                return rc;
            continue;
        }
        int v11 = key == MCREG_SNAPSHOT_KEY_TOMBSTONES || key == MCREG_SNAPSHOT_KEY_UE_PUTS ||
                  key == MCREG_SNAPSHOT_KEY_LIMIT_ENTRIES;
        d->crc_needed |= v11;
        if (key != MCREG_SNAPSHOT_KEY_RECORDS && key != MCREG_SNAPSHOT_KEY_LIMITS && !v11) {
            rc = skip_value(d);
            if (rc != MCREG_OK)
                return rc;
            continue;
        }
        d->in_records = key == MCREG_SNAPSHOT_KEY_RECORDS;
        d->section_key = key;
        reading(d, d->in_records ? "records" : v11 ? "replicated state" : "limits",
                MCREG_DETAIL_NO_INDEX);
        rc = read_count(d, MCREG_CBOR_READER_ARRAY, &d->items_left);
        if (rc != MCREG_OK)
            return rc;
        reading(d, NULL, MCREG_DETAIL_NO_INDEX);
        d->section = d->in_records ? "records" : v11 ? "replicated state" : "limits";
        d->item_index = 0;
        if (d->in_records) {
            uint64_t fits = d->in.left / MIN_RECORD_BYTES;
            item->kind = MCREG_SNAPSHOT_DECODE_RECORDS;
            item->expected = (size_t)(d->items_left < fits ? d->items_left : fits);
        }
        if (d->in_records || d->items_left) {
            *found = 1;
            return MCREG_OK;
        }
    }
    return MCREG_OK;
}

static int next_item(mcreg_snapshot_decoder *d, mcreg_snapshot_decode_item *item)
{
    memset(item, 0, sizeof(*item));
    if (!d->started) {
        d->started = 1;
        int rc = read_head(d);
        if (rc != MCREG_OK)
            return rc;
    }
    if (!d->items_left) {
        int found;
        int rc = read_section(d, item, &found);
        if (rc != MCREG_OK)
            return rc;
        if (!found) {
            if (d->crc_needed && !d->crc_seen)
                return refuse(d, "no checksum (key 19)");
            if (d->in.left != 0) {
                d->in.at = (size_t)(d->in.p - d->in.base);
                d->section = NULL;
                reading(d, NULL, MCREG_DETAIL_NO_INDEX);
                return refuse(d, "bytes after the end of the snapshot");
            }
            item->kind = MCREG_SNAPSHOT_DECODE_END;
            return MCREG_OK;
        }
        if (d->in_records)
            return MCREG_OK; /* the records' head comes as an item of its own */
    }
    d->items_left--;
    int rc = d->in_records                                  ? mcreg__snapshot_decode_record(d, item)
             : d->section_key == MCREG_SNAPSHOT_KEY_LIMITS ? read_limit(d, item)
                                                           : read_entry(d, item);
    if (rc == MCREG_OK) /* an error is explained with the index it had */
        item->index = d->item_index++;
    return rc;
}

int mcreg__snapshot_decode_next(mcreg_snapshot_decoder *d, mcreg_snapshot_decode_item *item)
{
    int rc = next_item(d, item);
    /* The CBOR reader's own refusals are explained here, with where the
     * decoder was. */
    if (rc != MCREG_OK && !d->explained)
        refuse(d, d->in.error ? d->in.error : "malformed");
    return rc;
}

int mcreg__snapshot_decode_init(mcreg_snapshot_decoder *d, mcreg_alloc *a,
                                const uint8_t *buf, size_t len, mcreg_detail *why)
{
    memset(d, 0, sizeof(*d));
    d->alloc = a;
    d->why = why;
    d->field_index = d->item_index = MCREG_DETAIL_NO_INDEX;
    mcreg__cbor_reader_init(&d->in, buf, len);
    /* An item's strings are copied out of the input with a NUL each: no
     * more than the input's bytes plus one per string, and no more than
     * the limits allow. */
    size_t cap = len < MAX_RECORD_CSTRING_BYTES - MAX_CSTRINGS ? len + MAX_CSTRINGS
                                                              : MAX_RECORD_CSTRING_BYTES;
    d->strings = mcreg__alloc_malloc(a, cap);
    if (!d->strings)
        return MCREG_ERR_NOMEM;
    d->strings_cap = cap;
    return MCREG_OK;
}

void mcreg__snapshot_decode_free(mcreg_snapshot_decoder *d)
{
    mcreg__alloc_free(d->alloc, d->strings, d->strings_cap);
    d->strings = NULL;
}
