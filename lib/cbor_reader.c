#include "cbor_reader.h"

#include <cbor/callbacks.h>
#include <cbor/streaming.h>

#include "mcreg.h"

/* libcbor reports each item through a callback; these store it in the
 * reader's item. Every callback is set: a NULL one would be called. */

static void set_item(void *ctx, mcreg_cbor_reader_kind kind, uint64_t value)
{
    mcreg_cbor_reader_item *it = ctx;
    it->kind = kind;
    it->value = value;
}

static void on_uint8(void *ctx, uint8_t v) { set_item(ctx, MCREG_CBOR_READER_UINT, v); }
static void on_uint16(void *ctx, uint16_t v) { set_item(ctx, MCREG_CBOR_READER_UINT, v); }
static void on_uint32(void *ctx, uint32_t v) { set_item(ctx, MCREG_CBOR_READER_UINT, v); }
static void on_uint64(void *ctx, uint64_t v) { set_item(ctx, MCREG_CBOR_READER_UINT, v); }
static void on_negint8(void *ctx, uint8_t v) { set_item(ctx, MCREG_CBOR_READER_NEGINT, v); }
static void on_negint16(void *ctx, uint16_t v) { set_item(ctx, MCREG_CBOR_READER_NEGINT, v); }
static void on_negint32(void *ctx, uint32_t v) { set_item(ctx, MCREG_CBOR_READER_NEGINT, v); }
static void on_negint64(void *ctx, uint64_t v) { set_item(ctx, MCREG_CBOR_READER_NEGINT, v); }
static void on_array(void *ctx, size_t n) { set_item(ctx, MCREG_CBOR_READER_ARRAY, n); }
static void on_map(void *ctx, size_t n) { set_item(ctx, MCREG_CBOR_READER_MAP, n); }
static void on_tag(void *ctx, uint64_t v) { set_item(ctx, MCREG_CBOR_READER_TAG, v); }
static void on_bool(void *ctx, bool v) { set_item(ctx, MCREG_CBOR_READER_BOOL, v); }
static void on_float(void *ctx, float v) { (void)v; set_item(ctx, MCREG_CBOR_READER_OTHER, 0); }
static void on_double(void *ctx, double v) { (void)v; set_item(ctx, MCREG_CBOR_READER_OTHER, 0); }
static void on_other(void *ctx) { set_item(ctx, MCREG_CBOR_READER_OTHER, 0); }
static void on_indefinite(void *ctx) { set_item(ctx, MCREG_CBOR_READER_INDEFINITE, 0); }

static void set_string(void *ctx, mcreg_cbor_reader_kind kind, cbor_data data, size_t len)
{
    mcreg_cbor_reader_item *it = ctx;
    set_item(ctx, kind, len);
    it->ptr = data;
    it->len = len;
}

static void on_bytes(void *ctx, cbor_data data, size_t len)
{
    set_string(ctx, MCREG_CBOR_READER_BYTES, data, len);
}

static void on_text(void *ctx, cbor_data data, size_t len)
{
    set_string(ctx, MCREG_CBOR_READER_TEXT, data, len);
}

static const struct cbor_callbacks item_callbacks = {
    .uint8 = on_uint8,
    .uint16 = on_uint16,
    .uint32 = on_uint32,
    .uint64 = on_uint64,
    .negint8 = on_negint8,
    .negint16 = on_negint16,
    .negint32 = on_negint32,
    .negint64 = on_negint64,
    .byte_string_start = on_indefinite,
    .byte_string = on_bytes,
    .string = on_text,
    .string_start = on_indefinite,
    .indef_array_start = on_indefinite,
    .array_start = on_array,
    .indef_map_start = on_indefinite,
    .map_start = on_map,
    .tag = on_tag,
    .float2 = on_float,
    .float4 = on_float,
    .float8 = on_double,
    .undefined = on_other,
    .null = on_other,
    .boolean = on_bool,
    .indef_break = on_indefinite,
};

void mcreg__cbor_reader_init(mcreg_cbor_reader *r, const uint8_t *buf, size_t len)
{
    r->p = buf;
    r->left = len;
    r->item = (mcreg_cbor_reader_item){0};
    r->base = buf;
    r->at = 0;
    r->error = NULL;
}

static int refuse(mcreg_cbor_reader *r, const char *why)
{
    r->error = why;
    return MCREG_ERR_FORMAT;
}

/* A string, array or map head with an 8-byte argument that the bytes left
 * cannot hold. libcbor casts that argument to size_t before it checks it,
 * which would wrap where size_t has 32 bits. */
static int oversized_head(const uint8_t *p, size_t left)
{
    unsigned major = p[0] >> 5;
    if ((p[0] & 0x1f) != 27 || major < 2 || major > 5)
        return 0;
    if (left < 9)
        return 1;
    uint64_t n = 0;
    for (int i = 1; i <= 8; i++)
        n = n << 8 | p[i];
    return n > left - 9; /* each byte, or each item, takes a byte at least */
}

int mcreg__cbor_reader_next(mcreg_cbor_reader *r)
{
    r->at = (size_t)(r->p - r->base);
    if (r->left == 0)
        return refuse(r, "truncated: an item was expected");
    if (oversized_head(r->p, r->left))
        return refuse(r, "declared length beyond the end of the input");
    r->item = (mcreg_cbor_reader_item){0};
    /* libcbor checks every string length against the bytes it was given
     * before it calls back, and touches nothing else. */
    struct cbor_decoder_result res = cbor_stream_decode(r->p, r->left, &item_callbacks, &r->item);
    if (res.status == CBOR_DECODER_NEDATA)
        return refuse(r, "truncated item");
    if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > r->left)
        return refuse(r, "malformed or reserved encoding");
    r->p += res.read;
    r->left -= res.read;
    switch (r->item.kind) {
    case MCREG_CBOR_READER_INDEFINITE:
        return refuse(r, "indefinite length");
    case MCREG_CBOR_READER_ARRAY:
        /* Each item takes a byte at least: a larger count is a lie, and
         * trusting it could size an allocation or a loop. */
        if (r->item.value > r->left)
            return refuse(r, "array declares more items than the bytes left");
        return MCREG_OK;
    case MCREG_CBOR_READER_MAP:
        if (r->item.value > r->left / 2)
            return refuse(r, "map declares more entries than the bytes left");
        return MCREG_OK;
    default:
        return MCREG_OK;
    }
}

int mcreg__cbor_reader_expect(mcreg_cbor_reader *r, mcreg_cbor_reader_kind kind)
{
    static const char *const expected[] = {
        [MCREG_CBOR_READER_UINT] = "expected an unsigned integer",
        [MCREG_CBOR_READER_NEGINT] = "expected a negative integer",
        [MCREG_CBOR_READER_BYTES] = "expected a byte string",
        [MCREG_CBOR_READER_TEXT] = "expected a text string",
        [MCREG_CBOR_READER_ARRAY] = "expected an array",
        [MCREG_CBOR_READER_MAP] = "expected a map",
        [MCREG_CBOR_READER_TAG] = "expected a tag",
        [MCREG_CBOR_READER_BOOL] = "expected a boolean",
        [MCREG_CBOR_READER_OTHER] = "expected a simple value",
        [MCREG_CBOR_READER_INDEFINITE] = "expected an indefinite length",
    };
    int rc = mcreg__cbor_reader_next(r);
    if (rc != MCREG_OK)
        return rc;
    return r->item.kind == kind ? MCREG_OK : refuse(r, expected[kind]);
}

#define MAX_SKIP_DEPTH 16

int mcreg__cbor_reader_skip(mcreg_cbor_reader *r, unsigned max_depth)
{
    /* An explicit stack of the items still to read in each open array, map
     * or tag: no recursion, so no input can exhaust the C stack. */
    uint64_t open[MAX_SKIP_DEPTH + 1];
    unsigned depth = 1;
    if (max_depth > MAX_SKIP_DEPTH)
        max_depth = MAX_SKIP_DEPTH;
    open[0] = 1;
    while (depth) {
        if (open[depth - 1] == 0) {
            depth--;
            continue;
        }
        open[depth - 1]--;
        int rc = mcreg__cbor_reader_next(r);
        if (rc != MCREG_OK)
            return rc;
        uint64_t inner;
        switch (r->item.kind) {
        case MCREG_CBOR_READER_ARRAY:
            inner = r->item.value;
            break;
        case MCREG_CBOR_READER_MAP:
            inner = 2 * r->item.value; /* cannot overflow: at most left / 2 */
            break;
        case MCREG_CBOR_READER_TAG:
            inner = 1;
            break;
        default:
            continue;
        }
        if (depth > max_depth)
            return refuse(r, "nested too deep");
        open[depth++] = inner;
    }
    return MCREG_OK;
}
