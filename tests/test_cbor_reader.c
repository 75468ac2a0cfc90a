/* The CBOR pull reader (lib/cbor_reader.h) on its own: every kind of item
 * head it reads, in every width of argument; every truncation; lengths and
 * counts the bytes left cannot hold; what it refuses; skipping whole items
 * up to a depth. The inputs are built here byte by byte from RFC 8949,
 * section 3, not taken from an encoder. */
#include <stdint.h>
#include <string.h>

#include "cbor_reader.h"
#include "mcreg.h"
#include "suites.h"

/* Major types (RFC 8949, 3.1). */
enum { UINT = 0, NEGINT = 1, BYTES = 2, TEXT = 3, ARRAY = 4, MAP = 5, TAG = 6 };

/* The head of major type `major` with argument v in `width` bytes after
 * the initial byte (0: v in the initial byte, v < 24), into out; returns
 * its length. */
static size_t head(uint8_t *out, unsigned major, uint64_t v, unsigned width)
{
    static const uint8_t info[9] = {0, 24, 25, 0, 26, 0, 0, 0, 27};
    out[0] = (uint8_t)(major << 5 | (width ? info[width] : (uint8_t)v));
    for (unsigned i = 0; i < width; i++)
        out[1 + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    return 1 + width;
}

/* The shortest width for v (RFC 8949, 4.2.1). */
static unsigned shortest(uint64_t v)
{
    return v < 24 ? 0 : v <= UINT8_MAX ? 1 : v <= UINT16_MAX ? 2 : v <= UINT32_MAX ? 4 : 8;
}

static int read_one(const uint8_t *buf, size_t len, mcreg_cbor_reader *r)
{
    mcreg__cbor_reader_init(r, buf, len);
    return mcreg__cbor_reader_next(r);
}

/* ---- integers ------------------------------------------------------------ */

/* Values at and around every boundary between widths. */
static const uint64_t int_values[] = {
    0, 1, 23, 24, 25, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX - 1,
    UINT64_MAX,
};

START_TEST(integers_in_every_width)
{
    static const unsigned widths[] = {0, 1, 2, 4, 8};
    for (unsigned major = UINT; major <= NEGINT; major++)
        for (size_t i = 0; i < sizeof(int_values) / sizeof(int_values[0]); i++)
            for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
                uint64_t v = int_values[i];
                unsigned width = widths[w];
                if (width < shortest(v))
                    continue; /* does not fit */
                if (width == 0 && v >= 24)
                    continue;
                uint8_t buf[16];
                size_t n = head(buf, major, v, width);
                buf[n] = 0xf6; /* a following item the read must not touch */
                mcreg_cbor_reader r;
                int rc = read_one(buf, n + 1, &r);
                ck_assert_msg(rc == MCREG_OK, "major %u value %llu width %u: rc %d", major,
                              (unsigned long long)v, width, rc);
                ck_assert_int_eq(r.item.kind,
                                 major == UINT ? MCREG_CBOR_READER_UINT : MCREG_CBOR_READER_NEGINT);
                ck_assert_msg(r.item.value == v, "major %u value %llu width %u: read %llu", major,
                              (unsigned long long)v, width, (unsigned long long)r.item.value);
                ck_assert_ptr_eq(r.p, buf + n);
                ck_assert_uint_eq(r.left, 1);
            }
}
END_TEST

START_TEST(simple_values)
{
    static const struct {
        uint8_t byte;
        mcreg_cbor_reader_kind kind;
        uint64_t value;
        size_t len;
    } cases[] = {
        {0xf4, MCREG_CBOR_READER_BOOL, 0, 1},  {0xf5, MCREG_CBOR_READER_BOOL, 1, 1},
        {0xf6, MCREG_CBOR_READER_OTHER, 0, 1}, {0xf7, MCREG_CBOR_READER_OTHER, 0, 1},
        {0xf9, MCREG_CBOR_READER_OTHER, 0, 3}, {0xfa, MCREG_CBOR_READER_OTHER, 0, 5},
        {0xfb, MCREG_CBOR_READER_OTHER, 0, 9},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[9] = {cases[i].byte, 0x3f, 0x80}; /* floats: 1.0-ish bits, any will do */
        mcreg_cbor_reader r;
        ck_assert_int_eq(read_one(buf, cases[i].len, &r), MCREG_OK);
        ck_assert_int_eq(r.item.kind, cases[i].kind);
        ck_assert_uint_eq(r.item.value, cases[i].value);
        ck_assert_uint_eq(r.left, 0);
    }
}
END_TEST

/* ---- strings --------------------------------------------------------------- */

START_TEST(strings_point_into_the_input)
{
    static const size_t lengths[] = {0, 1, 23, 24, 255, 256, 1000};
    static uint8_t buf[1100];
    for (unsigned major = BYTES; major <= TEXT; major++)
        for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++)
            for (unsigned width = shortest(lengths[i]); width <= 8; width = width ? width * 2 : 1) {
                size_t len = lengths[i];
                size_t h = head(buf, major, len, width);
                for (size_t k = 0; k < len; k++)
                    buf[h + k] = (uint8_t)('a' + k % 26);
                mcreg_cbor_reader r;
                int rc = read_one(buf, h + len, &r);
                ck_assert_msg(rc == MCREG_OK, "major %u length %zu width %u: rc %d", major, len,
                              width, rc);
                ck_assert_int_eq(r.item.kind,
                                 major == BYTES ? MCREG_CBOR_READER_BYTES : MCREG_CBOR_READER_TEXT);
                ck_assert_uint_eq(r.item.len, len);
                if (len)
                    ck_assert_ptr_eq(r.item.ptr, buf + h);
                ck_assert_uint_eq(r.left, 0);
            }
}
END_TEST

/* A string's declared length one byte more than what follows, in every
 * width, up to lengths that wrap a 32-bit size_t. */
START_TEST(string_longer_than_the_input)
{
    static const uint64_t declared[] = {1, 5, 24, 300, 70000, (uint64_t)UINT32_MAX + 3,
                                        UINT64_MAX};
    uint8_t buf[64];
    for (unsigned major = BYTES; major <= TEXT; major++)
        for (size_t i = 0; i < sizeof(declared) / sizeof(declared[0]); i++) {
            uint64_t n = declared[i];
            size_t h = head(buf, major, n, shortest(n));
            size_t have = n - 1 < sizeof(buf) - h ? (size_t)(n - 1) : sizeof(buf) - h;
            memset(buf + h, 'x', have);
            mcreg_cbor_reader r;
            ck_assert_msg(read_one(buf, h + have, &r) == MCREG_ERR_FORMAT,
                          "major %u declares %llu with %zu bytes", major, (unsigned long long)n,
                          have);
        }
}
END_TEST

/* ---- arrays, maps, tags ------------------------------------------------------ */

START_TEST(counts_the_bytes_left_can_hold)
{
    uint8_t buf[64];
    for (size_t items = 0; items <= 20; items++) {
        /* An array of `items` one-byte items: exactly what the bytes hold. */
        size_t h = head(buf, ARRAY, items, shortest(items));
        memset(buf + h, 0x01, items);
        mcreg_cbor_reader r;
        ck_assert_int_eq(read_one(buf, h + items, &r), MCREG_OK);
        ck_assert_int_eq(r.item.kind, MCREG_CBOR_READER_ARRAY);
        ck_assert_uint_eq(r.item.value, items);
        ck_assert_uint_eq(r.left, items);
        /* One item more than the bytes could hold. */
        h = head(buf, ARRAY, items + 1, shortest(items + 1));
        memset(buf + h, 0x01, items);
        ck_assert_msg(read_one(buf, h + items, &r) == MCREG_ERR_FORMAT, "array of %zu in %zu",
                      items + 1, items);
        /* A map of `items` pairs takes two bytes a pair at least. */
        h = head(buf, MAP, items, shortest(items));
        memset(buf + h, 0x01, 2 * items);
        ck_assert_int_eq(read_one(buf, h + 2 * items, &r), MCREG_OK);
        ck_assert_int_eq(r.item.kind, MCREG_CBOR_READER_MAP);
        ck_assert_uint_eq(r.item.value, items);
        ck_assert_msg(read_one(buf, h + 2 * items - (items ? 1 : 0), &r) ==
                          (items ? MCREG_ERR_FORMAT : MCREG_OK),
                      "map of %zu pairs in %zu bytes", items, 2 * items - 1);
    }
}
END_TEST

/* 8-byte counts and lengths, which a 32-bit size_t would wrap: refused
 * whatever the width of size_t, as long as the bytes cannot hold them. */
START_TEST(huge_declared_counts)
{
    static const uint64_t counts[] = {(uint64_t)UINT32_MAX + 1, (uint64_t)UINT32_MAX + 2,
                                      UINT64_MAX / 2, UINT64_MAX};
    for (unsigned major = BYTES; major <= MAP; major++)
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
            uint8_t buf[32] = {0};
            head(buf, major, counts[i], 8);
            mcreg_cbor_reader r;
            ck_assert_msg(read_one(buf, sizeof(buf), &r) == MCREG_ERR_FORMAT,
                          "major %u count %llu", major, (unsigned long long)counts[i]);
        }
    /* And a small count in 8 bytes is fine. */
    uint8_t buf[16] = {0};
    size_t h = head(buf, ARRAY, 3, 8);
    mcreg_cbor_reader r;
    ck_assert_int_eq(read_one(buf, h + 3, &r), MCREG_OK);
    ck_assert_uint_eq(r.item.value, 3);
}
END_TEST

START_TEST(tags)
{
    static const uint64_t tags[] = {0, 1, 55799, UINT64_MAX};
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        uint8_t buf[16];
        size_t n = head(buf, TAG, tags[i], shortest(tags[i]));
        buf[n] = 0x01;
        mcreg_cbor_reader r;
        ck_assert_int_eq(read_one(buf, n + 1, &r), MCREG_OK);
        ck_assert_int_eq(r.item.kind, MCREG_CBOR_READER_TAG);
        ck_assert_msg(r.item.value == tags[i], "tag %llu", (unsigned long long)tags[i]);
        /* The tagged item is the next read. */
        ck_assert_int_eq(mcreg__cbor_reader_next(&r), MCREG_OK);
        ck_assert_int_eq(r.item.kind, MCREG_CBOR_READER_UINT);
        ck_assert_uint_eq(r.item.value, 1);
        ck_assert_uint_eq(r.left, 0);
    }
}
END_TEST

/* ---- what it refuses ---------------------------------------------------------- */

START_TEST(refused_encodings)
{
    static const uint8_t refused[] = {
        0x1c, 0x1d, 0x1e, 0x1f, /* reserved additional information; uint has no indefinite */
        0x3c, 0x3f,             /* the same for negative integers */
        0x5c, 0x7c, 0x9c, 0xbc, 0xdc, 0xfc, 0xfd, 0xfe,
        0x5f, 0x7f, 0x9f, 0xbf, /* indefinite lengths */
        0xff,                   /* break */
        0xe0, 0xf3, 0xf8,       /* simple values no snapshot holds */
    };
    for (size_t i = 0; i < sizeof(refused); i++) {
        /* Followed by enough bytes for any argument. */
        uint8_t buf[10] = {refused[i], 0x20, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01};
        mcreg_cbor_reader r;
        ck_assert_msg(read_one(buf, sizeof(buf), &r) == MCREG_ERR_FORMAT, "initial byte 0x%02x",
                      refused[i]);
    }
}
END_TEST

START_TEST(empty_input)
{
    mcreg_cbor_reader r;
    ck_assert_int_eq(read_one((const uint8_t *)"", 0, &r), MCREG_ERR_FORMAT);
    /* And at the end of an input, after its last item. */
    uint8_t one = 0x07;
    ck_assert_int_eq(read_one(&one, 1, &r), MCREG_OK);
    ck_assert_int_eq(mcreg__cbor_reader_next(&r), MCREG_ERR_FORMAT);
}
END_TEST

/* Every item head, cut short at every byte, is refused. */
START_TEST(truncated_at_every_byte)
{
    uint8_t items[16][32];
    size_t lens[16], n = 0;
    lens[n] = head(items[n], UINT, 24, 1), n++;
    lens[n] = head(items[n], UINT, 300, 2), n++;
    lens[n] = head(items[n], UINT, 70000, 4), n++;
    lens[n] = head(items[n], NEGINT, UINT64_MAX, 8), n++;
    lens[n] = head(items[n], TAG, 55799, 2), n++;
    lens[n] = head(items[n], ARRAY, 0, 8), n++;
    lens[n] = head(items[n], MAP, 0, 4), n++;
    size_t h = head(items[n], TEXT, 5, 0);
    memcpy(items[n] + h, "hello", 5), lens[n] = h + 5, n++;
    h = head(items[n], BYTES, 20, 1);
    memset(items[n] + h, 0xaa, 20), lens[n] = h + 20, n++;
    h = head(items[n], TEXT, 3, 8);
    memcpy(items[n] + h, "abc", 3), lens[n] = h + 3, n++;
    items[n][0] = 0xf9, items[n][1] = 0x3c, items[n][2] = 0x00, lens[n] = 3, n++;
    items[n][0] = 0xfb, memset(items[n] + 1, 0, 8), lens[n] = 9, n++;
    for (size_t i = 0; i < n; i++) {
        mcreg_cbor_reader r;
        ck_assert_msg(read_one(items[i], lens[i], &r) == MCREG_OK, "item %zu whole", i);
        ck_assert_uint_eq(r.left, 0);
        for (size_t cut = 0; cut < lens[i]; cut++)
            ck_assert_msg(read_one(items[i], cut, &r) == MCREG_ERR_FORMAT,
                          "item %zu cut to %zu of %zu bytes", i, cut, lens[i]);
    }
}
END_TEST

START_TEST(expect_checks_the_kind)
{
    uint8_t buf[] = {0x83, 0x01, 0x61, 'x', 0xf5};
    mcreg_cbor_reader r;
    mcreg__cbor_reader_init(&r, buf, sizeof(buf));
    ck_assert_int_eq(mcreg__cbor_reader_expect(&r, MCREG_CBOR_READER_ARRAY), MCREG_OK);
    ck_assert_uint_eq(r.item.value, 3);
    ck_assert_int_eq(mcreg__cbor_reader_expect(&r, MCREG_CBOR_READER_UINT), MCREG_OK);
    ck_assert_int_eq(mcreg__cbor_reader_expect(&r, MCREG_CBOR_READER_TEXT), MCREG_OK);
    ck_assert_int_eq(mcreg__cbor_reader_expect(&r, MCREG_CBOR_READER_UINT), MCREG_ERR_FORMAT);

    static const mcreg_cbor_reader_kind others[] = {
        MCREG_CBOR_READER_NEGINT, MCREG_CBOR_READER_BYTES, MCREG_CBOR_READER_TEXT,
        MCREG_CBOR_READER_MAP,    MCREG_CBOR_READER_TAG,   MCREG_CBOR_READER_BOOL,
        MCREG_CBOR_READER_OTHER,
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        mcreg__cbor_reader_init(&r, buf, sizeof(buf));
        ck_assert_msg(mcreg__cbor_reader_expect(&r, others[i]) == MCREG_ERR_FORMAT,
                      "an array read as kind %d", (int)others[i]);
    }
}
END_TEST

/* ---- skipping ------------------------------------------------------------------ */

/* `depth` arrays, each holding the next, around a 1; then a 7. */
static size_t nested(uint8_t *buf, unsigned depth, unsigned major)
{
    size_t n = 0;
    for (unsigned i = 0; i < depth; i++) {
        buf[n++] = (uint8_t)(major << 5 | 1);
        if (major == MAP)
            buf[n++] = 0x00; /* the key; the value is the next level */
    }
    buf[n++] = 0x01;
    buf[n++] = 0x07;
    return n;
}

START_TEST(skip_nesting_limits)
{
    uint8_t buf[128];
    static const unsigned majors[] = {ARRAY, MAP, TAG};
    for (size_t m = 0; m < sizeof(majors) / sizeof(majors[0]); m++)
        for (unsigned max = 0; max <= 16; max++) {
            mcreg_cbor_reader r;
            size_t n = nested(buf, max, majors[m]);
            mcreg__cbor_reader_init(&r, buf, n);
            ck_assert_msg(mcreg__cbor_reader_skip(&r, max) == MCREG_OK,
                          "major %u: %u levels, max %u", majors[m], max, max);
            /* The reader stands on the item after the skipped one. */
            ck_assert_int_eq(mcreg__cbor_reader_next(&r), MCREG_OK);
            ck_assert_uint_eq(r.item.value, 7);
            ck_assert_uint_eq(r.left, 0);

            n = nested(buf, max + 1, majors[m]);
            mcreg__cbor_reader_init(&r, buf, n);
            ck_assert_msg(mcreg__cbor_reader_skip(&r, max) == MCREG_ERR_FORMAT,
                          "major %u: %u levels, max %u", majors[m], max + 1, max);
        }
}
END_TEST

/* Whatever depth the caller allows, the reader's own stack holds 16. */
START_TEST(skip_depth_is_capped)
{
    uint8_t buf[64];
    mcreg_cbor_reader r;
    size_t n = nested(buf, 16, ARRAY);
    mcreg__cbor_reader_init(&r, buf, n);
    ck_assert_int_eq(mcreg__cbor_reader_skip(&r, 1000), MCREG_OK);
    n = nested(buf, 17, ARRAY);
    mcreg__cbor_reader_init(&r, buf, n);
    ck_assert_int_eq(mcreg__cbor_reader_skip(&r, 1000), MCREG_ERR_FORMAT);
}
END_TEST

START_TEST(skip_whole_items)
{
    /* {1: [h'0102', "ab", {2: -3}], 4: 55799("x")}, then 7 */
    static const uint8_t doc[] = {0xa2, 0x01, 0x83, 0x42, 0x01, 0x02, 0x62, 'a', 'b', 0xa1,
                                  0x02, 0x22, 0x04, 0xd9, 0xd9, 0xf7, 0x61, 'x',  0x07};
    mcreg_cbor_reader r;
    mcreg__cbor_reader_init(&r, doc, sizeof(doc));
    ck_assert_int_eq(mcreg__cbor_reader_skip(&r, 3), MCREG_OK);
    ck_assert_int_eq(mcreg__cbor_reader_next(&r), MCREG_OK);
    ck_assert_uint_eq(r.item.value, 7);
    ck_assert_uint_eq(r.left, 0);
    /* Two levels are not enough for it. */
    mcreg__cbor_reader_init(&r, doc, sizeof(doc));
    ck_assert_int_eq(mcreg__cbor_reader_skip(&r, 2), MCREG_ERR_FORMAT);
    /* Cut anywhere inside the map, the skip fails. */
    for (size_t cut = 0; cut < sizeof(doc) - 1; cut++) {
        mcreg__cbor_reader_init(&r, doc, cut);
        ck_assert_msg(mcreg__cbor_reader_skip(&r, 3) == MCREG_ERR_FORMAT, "cut at %zu", cut);
    }
    /* A scalar needs no depth at all. */
    mcreg__cbor_reader_init(&r, doc + sizeof(doc) - 1, 1);
    ck_assert_int_eq(mcreg__cbor_reader_skip(&r, 0), MCREG_OK);
    ck_assert_uint_eq(r.left, 0);
}
END_TEST

Suite *suite_cbor_reader(void)
{
    Suite *s = suite_create("cbor_reader");
    TCase *tc = tcase_create("items");
    tcase_add_test(tc, integers_in_every_width);
    tcase_add_test(tc, simple_values);
    tcase_add_test(tc, strings_point_into_the_input);
    tcase_add_test(tc, string_longer_than_the_input);
    tcase_add_test(tc, counts_the_bytes_left_can_hold);
    tcase_add_test(tc, huge_declared_counts);
    tcase_add_test(tc, tags);
    suite_add_tcase(s, tc);
    tc = tcase_create("refused");
    tcase_add_test(tc, refused_encodings);
    tcase_add_test(tc, empty_input);
    tcase_add_test(tc, truncated_at_every_byte);
    tcase_add_test(tc, expect_checks_the_kind);
    suite_add_tcase(s, tc);
    tc = tcase_create("skip");
    tcase_add_test(tc, skip_nesting_limits);
    tcase_add_test(tc, skip_depth_is_capped);
    tcase_add_test(tc, skip_whole_items);
    suite_add_tcase(s, tc);
    return s;
}
