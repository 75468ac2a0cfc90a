/* Decoding a snapshot (README, "Snapshot format") from hostile bytes into
 * a state under construction. Driven by the schema, one item at a time,
 * with nothing allocated but what the records themselves need: no count
 * the input declares is trusted beyond the bytes that follow it. */
#include <string.h>

#include "cbor_reader.h"
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

typedef struct {
    mcreg_cbor_reader in;
    mcreg_registry *target;
    /* The current record's ids, contact, Call-ID and setting keys, copied
     * with a NUL: the C strings a binding is made of. Text and bytes
     * values point into the input. */
    char *strings;
    size_t strings_cap, strings_len;
    mcreg_setting settings[MCREG_MAX_SETTINGS];
} decoder;

/* ---- items ------------------------------------------------------------------ */

static int read_uint(decoder *d, uint64_t max, uint64_t *out)
{
    int rc = mcreg__cbor_expect(&d->in, MCREG_CBOR_UINT);
    if (rc != MCREG_OK)
        return rc;
    if (d->in.item.value > max)
        return MCREG_ERR_FORMAT;
    *out = d->in.item.value;
    return MCREG_OK;
}

static int read_count(decoder *d, mcreg_cbor_kind kind, uint64_t *n)
{
    int rc = mcreg__cbor_expect(&d->in, kind);
    if (rc == MCREG_OK)
        *n = d->in.item.value;
    return rc;
}

/* The head of an array of exactly two items: a setting, a limit, the
 * version. */
static int read_pair(decoder *d)
{
    uint64_t n;
    int rc = read_count(d, MCREG_CBOR_ARRAY, &n);
    return rc == MCREG_OK && n != 2 ? MCREG_ERR_FORMAT : rc;
}

/* A text of at most `max` bytes without NUL, copied into the record's
 * strings with a NUL. UTF-8 is checked with the whole binding. */
static int read_cstring(decoder *d, size_t max, const char **out)
{
    int rc = mcreg__cbor_expect(&d->in, MCREG_CBOR_TEXT);
    if (rc != MCREG_OK)
        return rc;
    const mcreg_cbor_item *it = &d->in.item;
    if (it->len > max || memchr(it->ptr, '\0', it->len))
        return MCREG_ERR_FORMAT;
    if (d->strings_cap - d->strings_len < it->len + 1)
        return MCREG_ERR_FORMAT; /* cannot happen: sized for the limits */
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
    int rc = mcreg__cbor_expect(&d->in, MCREG_CBOR_UINT);
    if (rc != MCREG_OK)
        return rc;
    uint64_t k = d->in.item.value;
    if (order->any && k <= order->last)
        return MCREG_ERR_FORMAT;
    order->last = k;
    order->any = 1;
    *key = k;
    return MCREG_OK;
}

static int skip_value(decoder *d)
{
    return mcreg__cbor_skip(&d->in, MAX_UNKNOWN_DEPTH);
}

/* ---- records ---------------------------------------------------------------- */

static int read_setting_value(decoder *d, mcreg_setting *s)
{
    int rc = mcreg__cbor_next(&d->in);
    if (rc != MCREG_OK)
        return rc;
    const mcreg_cbor_item *it = &d->in.item;
    switch (it->kind) {
    case MCREG_CBOR_UINT:
    case MCREG_CBOR_NEGINT:
        if (it->value > INT64_MAX)
            return MCREG_ERR_FORMAT;
        s->type = MCREG_VAL_INT;
        s->v.i = it->kind == MCREG_CBOR_UINT ? (int64_t)it->value : -1 - (int64_t)it->value;
        return MCREG_OK;
    case MCREG_CBOR_TEXT:
        s->type = MCREG_VAL_TEXT;
        s->v.text.ptr = (const char *)it->ptr;
        s->v.text.len = it->len;
        return MCREG_OK;
    case MCREG_CBOR_BYTES:
        s->type = MCREG_VAL_BYTES;
        s->v.bytes.ptr = it->ptr;
        s->v.bytes.len = it->len;
        return MCREG_OK;
    case MCREG_CBOR_BOOL:
        s->type = MCREG_VAL_BOOL;
        s->v.b = (int)it->value;
        return MCREG_OK;
    default:
        return MCREG_ERR_FORMAT;
    }
}

static int read_settings(decoder *d, mcreg_binding *b)
{
    uint64_t n;
    int rc = read_count(d, MCREG_CBOR_ARRAY, &n);
    if (rc != MCREG_OK)
        return rc;
    if (n == 0 || n > MCREG_MAX_SETTINGS)
        return MCREG_ERR_FORMAT; /* no settings: the key is absent */
    for (uint64_t i = 0; i < n; i++) {
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
#define REQUIRED_FIELDS                                                         \
    ((1u << REC_USER) | (1u << REC_UE) | (1u << REC_REGISTERED_AT) |            \
     (1u << REC_EXPIRES_AT) | (1u << REC_CSEQ))

typedef struct {
    mcreg_binding b;
    uint64_t registered_at, expires_at;
} record_fields;

static int read_field(decoder *d, uint64_t key, record_fields *f)
{
    uint64_t cseq;
    int rc;
    switch (key) {
    case REC_USER:
        return read_cstring(d, MCREG_MAX_ID_LEN, &f->b.user_id);
    case REC_UE:
        return read_cstring(d, MCREG_MAX_ID_LEN, &f->b.ue_id);
    case REC_REGISTERED_AT:
        return read_uint(d, UINT64_MAX, &f->registered_at);
    case REC_EXPIRES_AT:
        return read_uint(d, UINT64_MAX, &f->expires_at);
    case REC_CSEQ:
        rc = read_uint(d, UINT32_MAX, &cseq);
        f->b.cseq = (uint32_t)cseq;
        return rc;
    case REC_CONTACT:
        return read_cstring(d, MCREG_MAX_URI_LEN, &f->b.contact);
    case REC_CALL_ID:
        return read_cstring(d, MCREG_MAX_URI_LEN, &f->b.call_id);
    case REC_SETTINGS:
        return read_settings(d, &f->b);
    default:
        return skip_value(d); /* a later minor version's field */
    }
}

static int read_record(decoder *d)
{
    uint64_t n;
    int rc = read_count(d, MCREG_CBOR_MAP, &n);
    if (rc != MCREG_OK)
        return rc;
    record_fields f = {0};
    f.b.expires_s = 1; /* unused: the times come whole */
    d->strings_len = 0;
    key_order order = {0};
    unsigned seen = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key;
        rc = read_key(d, &order, &key);
        if (rc == MCREG_OK)
            rc = read_field(d, key, &f);
        if (rc != MCREG_OK)
            return rc;
        if (key <= REC_SETTINGS)
            seen |= 1u << key;
    }
    if ((seen & REQUIRED_FIELDS) != REQUIRED_FIELDS || !mcreg__valid_binding(&f.b, NULL, NULL))
        return MCREG_ERR_FORMAT;
    return mcreg__restore_add_record(d->target, &f.b, f.registered_at, f.expires_at);
}

static int read_records(decoder *d)
{
    uint64_t n;
    int rc = read_count(d, MCREG_CBOR_ARRAY, &n);
    if (rc != MCREG_OK)
        return rc;
    uint64_t fits = d->in.left / MIN_RECORD_BYTES;
    mcreg__restore_expect_records(d->target, (size_t)(n < fits ? n : fits));
    for (uint64_t i = 0; i < n && rc == MCREG_OK; i++)
        rc = read_record(d);
    return rc;
}

/* ---- limits ----------------------------------------------------------------- */

static int read_limit(decoder *d)
{
    uint64_t max;
    const char *user;
    d->strings_len = 0;
    int rc = read_pair(d);
    if (rc == MCREG_OK)
        rc = read_cstring(d, MCREG_MAX_ID_LEN, &user);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT32_MAX, &max);
    if (rc == MCREG_OK && !mcreg__valid_id(user, NULL))
        rc = MCREG_ERR_FORMAT;
    if (rc != MCREG_OK)
        return rc;
    return mcreg__restore_add_limit(d->target, user, (uint32_t)max);
}

static int read_limits(decoder *d)
{
    uint64_t n;
    int rc = read_count(d, MCREG_CBOR_ARRAY, &n);
    if (rc != MCREG_OK)
        return rc;
    for (uint64_t i = 0; i < n && rc == MCREG_OK; i++)
        rc = read_limit(d);
    return rc;
}

/* ---- document --------------------------------------------------------------- */

/* [major, minor]: MCREG_ERR_VERSION for a major version this library does
 * not know; a later minor version only adds keys, which are skipped. */
static int read_version(decoder *d)
{
    uint64_t major, minor;
    int rc = read_pair(d);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT64_MAX, &major);
    if (rc == MCREG_OK)
        rc = read_uint(d, UINT64_MAX, &minor);
    if (rc != MCREG_OK)
        return rc;
    return major == MCREG_SNAPSHOT_MAJOR ? MCREG_OK : MCREG_ERR_VERSION;
}

static int read_document(decoder *d)
{
    int rc = mcreg__cbor_expect(&d->in, MCREG_CBOR_TAG);
    if (rc != MCREG_OK || d->in.item.value != MCREG_CBOR_SELF_DESCRIBE)
        return MCREG_ERR_FORMAT;
    uint64_t n, key;
    rc = read_count(d, MCREG_CBOR_MAP, &n);
    if (rc != MCREG_OK)
        return rc;
    key_order order = {0};
    /* The version comes first, so that a snapshot of another major
     * version is told apart before anything else is read. */
    if (n == 0)
        return MCREG_ERR_FORMAT;
    rc = read_key(d, &order, &key);
    if (rc == MCREG_OK && key != SNAP_VERSION)
        rc = MCREG_ERR_FORMAT;
    if (rc == MCREG_OK)
        rc = read_version(d);
    for (uint64_t i = 1; i < n && rc == MCREG_OK; i++) {
        rc = read_key(d, &order, &key);
        if (rc != MCREG_OK)
            break;
        if (key == SNAP_RECORDS)
            rc = read_records(d);
        else if (key == SNAP_LIMITS)
            rc = read_limits(d);
        else
            rc = skip_value(d);
    }
    if (rc == MCREG_OK && d->in.left != 0)
        rc = MCREG_ERR_FORMAT; /* bytes after the snapshot */
    return rc;
}

int mcreg__snapshot_decode(mcreg_registry *target, const uint8_t *buf, size_t len)
{
    decoder d = {.target = target};
    mcreg__cbor_reader_init(&d.in, buf, len);
    /* A record's strings are copied out of the input with a NUL each: no
     * more than the input's bytes plus one per string, and no more than
     * the limits allow. */
    size_t cap = len < MAX_RECORD_CSTRING_BYTES - MAX_CSTRINGS ? len + MAX_CSTRINGS
                                                              : MAX_RECORD_CSTRING_BYTES;
    d.strings = mcreg__malloc(&target->alloc, cap);
    if (!d.strings)
        return MCREG_ERR_NOMEM;
    d.strings_cap = cap;
    int rc = read_document(&d);
    mcreg__free(&target->alloc, d.strings);
    return rc;
}
