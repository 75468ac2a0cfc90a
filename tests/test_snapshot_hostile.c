/* Hostile input to mcreg_restore: every truncation of a snapshot, trailing
 * bytes, and a corpus of malformed inputs built byte by byte (framing,
 * declared lengths, nesting, indefinite lengths, reserved encodings, wrong
 * types, tags, map keys, versions, ids and text, settings, duplicates).
 * Each must fail with the expected error and leave the registry and its
 * allocator exactly as they were. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "snapshot_util.h"
#include "suites.h"
#include "testutil.h"

/* ======================================================================== */
/* Malformed input: the corpus                                              */

#define CORPUS_NOW 5000

/* A registry holding a state of its own, into which every input of the
 * corpus is restored: each must fail with the expected error, leave the
 * state and the allocator exactly as they were, emit nothing, stay within
 * a memory budget proportional to the input whatever lengths it declares,
 * and return quickly. */
typedef struct corpus {
    tu_alloc alloc;
    mcreg_allocator al;
    tu_events ev;
    mcreg_registry *reg;
    int shared;
    names users, ues;
    char *before;
    size_t live, live_bytes;
    bb b; /* the input being built */
    int checked;
    int failed;       /* inputs that did not give what they should */
    tu_events report; /* what went wrong with the first of them */
} corpus;

/* (Re)creates the registry and its state. */
static void corpus_setup(corpus *c)
{
    if (c->reg) {
        mcreg_registry_free(c->reg);
        ck_assert_msg(c->alloc.live == 0, "%zu blocks leaked", c->alloc.live);
        free(c->before);
        names_free(&c->users);
        names_free(&c->ues);
    }
    tu_opts cfg = {0};
    cfg.rules.shared_ues = c->shared;
    cfg.fn = tu_events_cb;
    cfg.ud = &c->ev;
    cfg.alloc = &c->al;
    c->reg = tu_registry_new(&cfg);
    sn_other_state(c->reg, &c->users, &c->ues);
    names_add(&c->users, "u2");
    names_add(&c->ues, "e2");
    tu_events_reset(&c->ev);
    c->before = sn_dump(c->reg, &c->users, &c->ues);
    c->live = c->alloc.live;
    c->live_bytes = c->alloc.live_bytes;
}

static void corpus_init(corpus *c, int shared)
{
    memset(c, 0, sizeof(*c));
    c->al = tu_allocator(&c->alloc);
    tu_events_init(&c->ev);
    tu_events_init(&c->report);
    bb_init(&c->b);
    c->shared = shared;
    corpus_setup(c);
}

/* Fails the test when any input went wrong, listing the first few. */
static void corpus_free(corpus *c)
{
    ck_assert_msg(c->checked > 0, "no input checked");
    ck_assert_msg(c->failed == 0, "%d of %d inputs went wrong:\n%s", c->failed, c->checked,
                  c->report.log);
    mcreg_registry_free(c->reg);
    ck_assert_msg(c->alloc.live == 0, "%zu blocks leaked", c->alloc.live);
    free(c->before);
    names_free(&c->users);
    names_free(&c->ues);
    tu_events_free(&c->ev);
    tu_events_free(&c->report);
    bb_free(&c->b);
}

static void corpus_fail(corpus *c, const char *fmt, ...)
{
    c->failed++;
    if (c->failed > 12)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tu_events_append(&c->report, "  ");
    tu_events_append(&c->report, msg);
    tu_events_append(&c->report, "\n");
}

/* Restores the input built in c->b, expects `expect`, then empties c->b.
 * Whatever goes wrong is recorded, and the registry rebuilt. */
static void corpus_expect(corpus *c, int expect, const char *what)
{
    static const uint8_t none = 0;
    const uint8_t *in = c->b.len ? c->b.p : &none;
    char h[256];
    int failed = c->failed;
    c->alloc.peak_bytes = c->alloc.live_bytes;
    c->alloc.max_request = 0;
    tu_events_reset(&c->ev);
    double t0 = sn_seconds();
    int rc = mcreg_restore(c->reg, in, c->b.len, CORPUS_NOW);
    double dt = sn_seconds() - t0;
    sn_hex(h, sizeof(h), in, c->b.len);
    if (rc != expect)
        corpus_fail(c, "%s: restore gave %d (%s), expected %d (%s); input %s", what, rc,
                    mcreg_strerror(rc), expect, mcreg_strerror(expect), h);
    size_t grew = c->alloc.peak_bytes > c->live_bytes ? c->alloc.peak_bytes - c->live_bytes : 0;
    size_t budget = 65536 + 64 * c->b.len;
    if (grew > budget || c->alloc.max_request > budget)
        corpus_fail(c, "%s: %zu bytes of input made the live memory grow by %zu bytes "
                    "(largest block %zu); budget %zu; input %s",
                    what, c->b.len, grew, c->alloc.max_request, budget, h);
    if (dt > 2.0)
        corpus_fail(c, "%s: restore took %.2f s; input %s", what, dt, h);
    if (rc != MCREG_OK) {
        if (c->alloc.live != c->live || c->alloc.live_bytes != c->live_bytes)
            corpus_fail(c, "%s: %zu blocks / %zu bytes live after a failed restore, %zu / %zu "
                        "before", what, c->alloc.live, c->alloc.live_bytes, c->live,
                        c->live_bytes);
        char *d = sn_dump(c->reg, &c->users, &c->ues);
        if (strcmp(d, c->before) != 0)
            corpus_fail(c, "%s: the state changed in a failed restore; input %s", what, h);
        free(d);
    }
    if (c->ev.count)
        corpus_fail(c, "%s: events emitted: %s", what, c->ev.log);
    if (c->failed != failed)
        corpus_setup(c);
    c->checked++;
    bb_reset(&c->b);
}

static void corpus_expectf(corpus *c, int expect, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    corpus_expect(c, expect, what);
}

#define BAD(c, ...) corpus_expectf((c), MCREG_ERR_FORMAT, __VA_ARGS__)

/* A control: the input built in c->b restores (into a fresh registry with
 * the same UE-exclusive setting), so that the inputs around it fail for
 * their one defect only. Returns that registry; c->b is emptied. */
static mcreg_registry *corpus_accept_reg(corpus *c, const char *what)
{
    mcreg_registry *reg = sn_new(c->shared, NULL);
    sn_restore_ok(reg, c->b.p, c->b.len, CORPUS_NOW, what);
    bb_reset(&c->b);
    c->checked++;
    return reg;
}

static void corpus_accept(corpus *c, const char *what)
{
    mcreg_registry_free(corpus_accept_reg(c, what));
}

/* Places where a test item can go: everything before the item, and
 * everything after it that makes the whole valid when the item is. */
enum {
    AT_TOP,         /* the tagged item itself */
    AT_UNKNOWN,     /* the value of an unknown top-level key (3) */
    AT_REC_UNKNOWN, /* the value of an unknown record key (8) */
    AT_RECORDS,     /* the value of key 1 */
    AT_LIMITS,      /* the value of key 2 */
    AT_RECORD,      /* an element of the records array */
    AT_VERSION,     /* the value of key 0 */
    AT_USER,        /* a record's user id */
    AT_SETTING,     /* a setting's value */
    AT_COUNT
};
static const char *const at_name[AT_COUNT] = {
    "at the top level", "as an unknown key's value", "as an unknown record key's value",
    "as the records", "as the limits", "as a record", "as the version", "as a user id",
    "as a setting value"};

static void corpus_pre(bb *b, int at)
{
    switch (at) {
    case AT_TOP:
        bb_self(b);
        break;
    case AT_UNKNOWN:
        snap_open(b, 2);
        bb_uint(b, 3);
        break;
    case AT_REC_UNKNOWN:
        snap_records(b, 1);
        rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
        bb_uint(b, 8);
        break;
    case AT_RECORDS:
        snap_open(b, 2);
        bb_uint(b, 1);
        break;
    case AT_LIMITS:
        snap_open(b, 2);
        bb_uint(b, 2);
        break;
    case AT_RECORD:
        snap_records(b, 1);
        break;
    case AT_VERSION:
        bb_self(b);
        bb_map(b, 1);
        bb_uint(b, 0);
        break;
    case AT_USER:
        snap_records(b, 1);
        bb_map(b, 5);
        bb_uint(b, 0);
        break;
    case AT_SETTING:
        snap_records(b, 1);
        rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
        bb_uint(b, 7);
        bb_array(b, 1);
        bb_array(b, 2);
        bb_text(b, "k");
        break;
    }
}

static void corpus_post(bb *b, int at)
{
    if (at == AT_USER)
        bb_hex(b, "01 62 65 31 02 19 03 e8 03 1a 00 01 5f 90 04 01");
}

/* The item given as hex at a place. */
static void corpus_hex_at(corpus *c, int at, const char *hex)
{
    corpus_pre(&c->b, at);
    bb_hex(&c->b, hex);
    corpus_post(&c->b, at);
}

/* ---- framing --------------------------------------------------------- */

/* The map of a one-record snapshot, without the tag. */
static void snap_body(bb *b)
{
    bb_map(b, 2);
    bb_uint(b, 0);
    bb_version(b, 1, 0);
    bb_uint(b, 1);
    bb_array(b, 1);
    rec_alt(b, -1, NULL);
}

START_TEST(test_corpus_framing)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    snap_one(b);
    corpus_accept(&c, "the one-record snapshot");
    BAD(&c, "empty input");
    bb_hex(b, "d9 d9 f7");
    BAD(&c, "the 55799 tag alone");
    snap_body(b);
    BAD(&c, "no 55799 tag");
    bb_hex(b, "d9 d9 f8");
    snap_body(b);
    BAD(&c, "tag 55800 instead of 55799");
    bb_hex(b, "d8 18");
    snap_body(b);
    BAD(&c, "tag 24 instead of 55799");
    bb_hex(b, "c0");
    snap_body(b);
    BAD(&c, "tag 0 instead of 55799");
    bb_hex(b, "d9 d9 f7 d9 d9 f7");
    snap_body(b);
    BAD(&c, "55799 twice");
    bb_hex(b, "d9 d9 f7 c1");
    snap_body(b);
    BAD(&c, "tag 1 between 55799 and the map");
    bb_hex(b, "d9 d9 f7 82 00 82 01 00");
    BAD(&c, "top level an array");
    bb_hex(b, "d9 d9 f7 00");
    BAD(&c, "top level an integer");
    bb_hex(b, "d9 d9 f7 60");
    BAD(&c, "top level empty text");
    bb_hex(b, "d9 d9 f7 40");
    BAD(&c, "top level empty bytes");
    bb_hex(b, "d9 d9 f7 f6");
    BAD(&c, "top level null");
    bb_hex(b, "d9 d9 f7 f9 3c 00");
    BAD(&c, "top level a float");
    bb_hex(b, "ff");
    BAD(&c, "a break byte alone");
    bb_hex(b, "d9 d9 f7 ff");
    BAD(&c, "the tag and a break byte");
    bb_hex(b, "00");
    BAD(&c, "a lone integer");
    snap_one(b);
    bb_hex(b, "00");
    BAD(&c, "a valid snapshot and 0x00");
    snap_one(b);
    bb_hex(b, "ff");
    BAD(&c, "a valid snapshot and a break byte");
    snap_one(b);
    snap_one(b);
    BAD(&c, "a valid snapshot twice");
    corpus_free(&c);
}
END_TEST

/* ---- declared lengths -------------------------------------------------- */

START_TEST(test_corpus_huge_lengths)
{
    static const struct {
        unsigned major;
        uint64_t n;
        int width;
    } huge[] = {
        {4, 1ULL << 32, 8}, {4, UINT64_MAX, 8}, {4, 0xffffffffu, 4}, {4, 1000000000, 4},
        {5, 1ULL << 32, 8}, {5, UINT64_MAX, 8}, {5, 0xffffffffu, 4}, {5, 1000000000, 4},
        {3, 1ULL << 32, 8}, {3, UINT64_MAX, 8}, {3, 0xffffffffu, 4}, {3, 65536, 4},
        {2, 1ULL << 32, 8}, {2, UINT64_MAX, 8}, {2, 0xffffffffu, 4}, {2, 65536, 4},
    };
    static const char *const kind[] = {"", "", "bytes", "text", "array", "map"};
    corpus c;
    corpus_init(&c, 0);
    for (size_t k = 0; k < sizeof(huge) / sizeof(huge[0]); k++) {
        for (int at = 0; at < AT_COUNT; at++) {
            corpus_pre(&c.b, at);
            bb_head_w(&c.b, huge[k].major, huge[k].n, huge[k].width);
            bb_hex(&c.b, "00 01 61 61 81 00 a1 00 00");
            BAD(&c, "%s declaring %llu items %s", kind[huge[k].major],
                (unsigned long long)huge[k].n, at_name[at]);
        }
    }
    /* A records array declaring 1e9 records, with one following. */
    snap_open(&c.b, 2);
    bb_uint(&c.b, 1);
    bb_array(&c.b, 1000000000);
    rec_alt(&c.b, -1, NULL);
    BAD(&c, "1e9 records declared, one present");
    /* A limits array declaring 1e9 limits, with one following. */
    snap_limits(&c.b, 1000000000);
    bb_hex(&c.b, "82 61 75 01");
    BAD(&c, "1e9 limits declared, one present");
    /* Settings declaring 1e9. */
    snap_records(&c.b, 1);
    rec_open(&c.b, "u1", "e1", 1000, 90000, 1, 1);
    bb_uint(&c.b, 7);
    bb_array(&c.b, 1000000000);
    bb_hex(&c.b, "82 61 6b 01");
    BAD(&c, "1e9 settings declared, one present");
    /* The top-level map declaring 2^64-1 pairs. */
    bb_self(&c.b);
    bb_head_w(&c.b, 5, UINT64_MAX, 8);
    bb_hex(&c.b, "00 82 01 00");
    BAD(&c, "top-level map of 2^64-1 pairs");
    /* A record map declaring 2^32 pairs. */
    snap_records(&c.b, 1);
    bb_head_w(&c.b, 5, 1ULL << 32, 8);
    bb_hex(&c.b, "00 62 75 31");
    BAD(&c, "record map of 2^32 pairs");
    /* A text id one byte longer than what follows. */
    snap_records(&c.b, 1);
    bb_map(&c.b, 5);
    bb_uint(&c.b, 0);
    bb_hex(&c.b, "63 75 31");
    BAD(&c, "user id cut short at the end");
    corpus_free(&c);
}
END_TEST

/* ---- nesting --------------------------------------------------------- */

START_TEST(test_corpus_deep_nesting)
{
    corpus c;
    corpus_init(&c, 0);
    /* Controls: shallow nesting in unknown values is read. */
    corpus_hex_at(&c, AT_UNKNOWN, "81 81 81 00");
    corpus_accept(&c, "three nested arrays as an unknown value");
    corpus_hex_at(&c, AT_REC_UNKNOWN, "81 a1 00 81 00");
    corpus_accept(&c, "nested array and map as an unknown record value");
    for (int at = 0; at < AT_COUNT; at++) {
        corpus_pre(&c.b, at);
        bb_fill(&c.b, 0x81, 10000);
        bb_byte(&c.b, 0x00);
        corpus_post(&c.b, at);
        BAD(&c, "10000 nested arrays %s", at_name[at]);
        corpus_pre(&c.b, at);
        bb_fill(&c.b, 0x81, 10000);
        BAD(&c, "10000 nested arrays, unterminated, %s", at_name[at]);
    }
    corpus_pre(&c.b, AT_UNKNOWN);
    for (int i = 0; i < 10000; i++)
        bb_hex(&c.b, "a1 00");
    bb_byte(&c.b, 0x00);
    BAD(&c, "10000 nested maps as an unknown value");
    corpus_pre(&c.b, AT_UNKNOWN);
    for (int i = 0; i < 5000; i++)
        bb_hex(&c.b, "82 00");
    bb_byte(&c.b, 0x00);
    BAD(&c, "5000 nested two-element arrays as an unknown value");
    corpus_pre(&c.b, AT_UNKNOWN);
    bb_fill(&c.b, 0x9f, 10000);
    BAD(&c, "10000 nested indefinite arrays as an unknown value");
    corpus_pre(&c.b, AT_UNKNOWN);
    bb_fill(&c.b, 0xc1, 10000);
    bb_byte(&c.b, 0x00);
    BAD(&c, "10000 nested tags as an unknown value");
    corpus_free(&c);
}
END_TEST

/* ---- indefinite lengths ---------------------------------------------- */

START_TEST(test_corpus_indefinite)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    bb_hex(b, "d9 d9 f7 bf 00 82 01 00 ff");
    BAD(&c, "indefinite top-level map");
    bb_hex(b, "d9 d9 f7 bf 00 82 01 00 01 9f ff ff");
    BAD(&c, "indefinite top-level map and records");
    snap_open(b, 2);
    bb_hex(b, "01 9f");
    rec_alt(b, -1, NULL);
    bb_hex(b, "ff");
    BAD(&c, "indefinite records array");
    snap_open(b, 2);
    bb_hex(b, "01 9f ff");
    BAD(&c, "empty indefinite records array");
    snap_open(b, 2);
    bb_hex(b, "02 9f 82 61 75 01 ff");
    BAD(&c, "indefinite limits array");
    snap_records(b, 1);
    bb_hex(b, "bf 00 62 75 31 01 62 65 31 02 19 03 e8 03 1a 00 01 5f 90 04 01 ff");
    BAD(&c, "indefinite record map");
    bb_hex(b, "d9 d9 f7 a1 00 9f 01 00 ff");
    BAD(&c, "indefinite version array");
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "07 9f 82 61 6b 01 ff");
    BAD(&c, "indefinite settings array");
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "07 81 9f 61 6b 01 ff");
    BAD(&c, "indefinite setting pair");
    snap_limits(b, 1);
    bb_hex(b, "9f 61 75 01 ff");
    BAD(&c, "indefinite limit pair");
    snap_records(b, 1);
    rec_alt(b, 0, "7f 61 75 61 31 ff");
    BAD(&c, "user id as indefinite text");
    snap_records(b, 1);
    rec_alt(b, 1, "7f 62 65 31 ff");
    BAD(&c, "UE id as indefinite text in one chunk");
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "05 7f 64 73 69 70 3a 61 78 ff");
    BAD(&c, "contact as indefinite text");
    corpus_hex_at(&c, AT_SETTING, "7f 61 61 ff");
    BAD(&c, "indefinite text setting value");
    corpus_hex_at(&c, AT_SETTING, "5f 41 00 ff");
    BAD(&c, "indefinite bytes setting value");
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "07 81 82 7f 61 6b ff 01");
    BAD(&c, "indefinite setting key");
    static const char *const unknown[] = {
        "9f 01 ff", "9f ff", "bf 01 02 ff", "bf ff", "7f 61 61 ff", "7f ff", "5f 41 00 ff",
        "5f ff", "82 01 9f ff", "a1 00 9f ff", "1f", "3f", "df 00", "ff", "81 ff",
    };
    for (size_t k = 0; k < sizeof(unknown) / sizeof(unknown[0]); k++) {
        corpus_hex_at(&c, AT_UNKNOWN, unknown[k]);
        BAD(&c, "%s as an unknown key's value", unknown[k]);
        corpus_hex_at(&c, AT_REC_UNKNOWN, unknown[k]);
        BAD(&c, "%s as an unknown record key's value", unknown[k]);
    }
    snap_records(b, 1);
    rec_alt(b, 4, "1f");
    BAD(&c, "CSeq with additional information 31");
    corpus_free(&c);
}
END_TEST

/* ---- reserved encodings and simple values -------------------------------- */

START_TEST(test_corpus_reserved_and_simple)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    /* Controls: floats, booleans, null and undefined are valid unknown values. */
    static const char *const ok[] = {"f4", "f5", "f6", "f7", "f9 3c 00", "f9 7e 00",
                                     "fa 47 c3 50 00", "fb 3f f8 00 00 00 00 00 00"};
    for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
        corpus_hex_at(&c, AT_UNKNOWN, ok[k]);
        corpus_accept(&c, ok[k]);
    }
    for (unsigned major = 0; major < 8; major++) {
        for (unsigned ai = 28; ai <= 30; ai++) {
            char hex[8];
            snprintf(hex, sizeof(hex), "%02x 00", major << 5 | ai);
            corpus_hex_at(&c, AT_UNKNOWN, hex);
            BAD(&c, "initial byte 0x%02x (reserved additional information %u) as an unknown "
                    "value", major << 5 | ai, ai);
            snap_records(b, 1);
            rec_alt(b, 4, hex);
            BAD(&c, "initial byte 0x%02x as the CSeq", major << 5 | ai);
            corpus_hex_at(&c, AT_TOP, hex);
            BAD(&c, "initial byte 0x%02x at the top level", major << 5 | ai);
        }
    }
    static const char *const simple[] = {"f8 20", "f8 ff", "f8 00", "f8 10", "f8 1f"};
    for (size_t k = 0; k < sizeof(simple) / sizeof(simple[0]); k++) {
        corpus_hex_at(&c, AT_UNKNOWN, simple[k]);
        BAD(&c, "simple value %s as an unknown value", simple[k]);
        snap_records(b, 1);
        rec_alt(b, 4, simple[k]);
        BAD(&c, "simple value %s as the CSeq", simple[k]);
        corpus_hex_at(&c, AT_SETTING, simple[k]);
        BAD(&c, "simple value %s as a setting value", simple[k]);
    }
    corpus_hex_at(&c, AT_UNKNOWN, "f8");
    BAD(&c, "two-byte simple value cut short");
    corpus_hex_at(&c, AT_UNKNOWN, "f9 3c");
    BAD(&c, "half float cut short");
    corpus_free(&c);
}
END_TEST

/* ---- types ------------------------------------------------------------ */

START_TEST(test_corpus_wrong_types)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    static const struct {
        int field;
        const char *hex;
        const char *what;
    } cases[] = {
        {0, "42 75 31", "user id as bytes"},
        {0, "01", "user id as an integer"},
        {0, "81 61 75", "user id as an array"},
        {0, "a0", "user id as a map"},
        {0, "f6", "user id null"},
        {0, "f9 3c 00", "user id a float"},
        {1, "42 65 31", "UE id as bytes"},
        {1, "20", "UE id negative"},
        {1, "f5", "UE id true"},
        {1, "f7", "UE id undefined"},
        {2, "64 31 30 30 30", "registered_at as text"},
        {2, "20", "registered_at -1"},
        {2, "3b ff ff ff ff ff ff ff ff", "registered_at -2^64"},
        {2, "fb 40 8f 40 00 00 00 00 00", "registered_at 1000.0"},
        {2, "f9 7e 00", "registered_at NaN (half)"},
        {2, "f5", "registered_at true"},
        {2, "f4", "registered_at false"},
        {2, "f6", "registered_at null"},
        {2, "f7", "registered_at undefined"},
        {2, "42 03 e8", "registered_at as bytes"},
        {2, "81 00", "registered_at as an array"},
        {3, "fa 47 af c8 00", "expires_at 90000.0 (single)"},
        {3, "f9 7e 00", "expires_at NaN (half)"},
        {3, "fb 7f f8 00 00 00 00 00 00", "expires_at NaN (double)"},
        {3, "f9 7c 00", "expires_at infinity"},
        {3, "3a 00 01 5f 8f", "expires_at negative"},
        {3, "f6", "expires_at null"},
        {3, "f5", "expires_at true"},
        {3, "65 39 30 30 30 30", "expires_at as text"},
        {4, "20", "CSeq -1"},
        {4, "3a ff ff ff ff", "CSeq -2^32"},
        {4, "1b 00 00 00 01 00 00 00 00", "CSeq 2^32"},
        {4, "1b ff ff ff ff ff ff ff ff", "CSeq 2^64-1"},
        {4, "f9 3c 00", "CSeq 1.0"},
        {4, "f9 7e 00", "CSeq NaN"},
        {4, "f5", "CSeq true"},
        {4, "f6", "CSeq null"},
        {4, "f7", "CSeq undefined"},
        {4, "61 31", "CSeq as text"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        snap_records(b, 1);
        rec_alt(b, cases[k].field, cases[k].hex);
        BAD(&c, "%s", cases[k].what);
    }
    /* Controls: the largest values of each field. */
    snap_records(b, 1);
    rec_alt(b, 4, "1a ff ff ff ff");
    mcreg_registry *r = corpus_accept_reg(&c, "CSeq 2^32-1");
    ck_assert_uint_eq(mcreg_record_cseq(mcreg_find(r, "u1", "e1")), UINT32_MAX);
    mcreg_registry_free(r);
    snap_records(b, 1);
    rec_alt(b, 2, "1b ff ff ff ff ff ff ff ff");
    r = corpus_accept_reg(&c, "registered_at 2^64-1");
    ck_assert_uint_eq(mcreg_record_registered_at(mcreg_find(r, "u1", "e1")), UINT64_MAX);
    mcreg_registry_free(r);

    /* The optional record fields. */
    static const char *const not_text[] = {"42 61 62", "01", "20", "f6", "f5", "80", "a0",
                                           "f9 3c 00"};
    for (size_t k = 0; k < sizeof(not_text) / sizeof(not_text[0]); k++) {
        for (unsigned key = 5; key <= 6; key++) {
            snap_records(b, 1);
            rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
            bb_uint(b, key);
            bb_hex(b, not_text[k]);
            BAD(&c, "%s given as %s", key == 5 ? "contact" : "Call-ID", not_text[k]);
        }
    }
    static const char *const not_settings[] = {"a1 61 6b 01", "80", "f6", "61 6b", "01",
                                               "81 a2 00 61 6b 01 01", "81 61 6b", "81 01",
                                               "81 f6", "81 80"};
    for (size_t k = 0; k < sizeof(not_settings) / sizeof(not_settings[0]); k++) {
        snap_records(b, 1);
        rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
        bb_uint(b, 7);
        bb_hex(b, not_settings[k]);
        BAD(&c, "settings given as %s", not_settings[k]);
    }
    static const char *const bad_keys[] = {"01", "41 6b", "f6", "80", "20"};
    for (size_t k = 0; k < sizeof(bad_keys) / sizeof(bad_keys[0]); k++) {
        snap_records(b, 1);
        rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
        bb_hex(b, "07 81 82");
        bb_hex(b, bad_keys[k]);
        bb_hex(b, "01");
        BAD(&c, "setting key given as %s", bad_keys[k]);
    }
    static const char *const bad_values[] = {"f9 3c 00", "fa 47 c3 50 00",
                                             "fb 3f f8 00 00 00 00 00 00", "f9 7e 00", "f6",
                                             "f7", "80", "a0", "81 01", "a1 00 01"};
    for (size_t k = 0; k < sizeof(bad_values) / sizeof(bad_values[0]); k++) {
        corpus_hex_at(&c, AT_SETTING, bad_values[k]);
        BAD(&c, "setting value %s", bad_values[k]);
    }
    /* The records and limits arrays and their elements. */
    static const char *const not_array[] = {"a0", "f6", "01", "60", "40"};
    for (size_t k = 0; k < sizeof(not_array) / sizeof(not_array[0]); k++) {
        corpus_hex_at(&c, AT_RECORDS, not_array[k]);
        BAD(&c, "records given as %s", not_array[k]);
        corpus_hex_at(&c, AT_LIMITS, not_array[k]);
        BAD(&c, "limits given as %s", not_array[k]);
    }
    static const char *const not_record[] = {"80", "01", "f6", "60", "82 62 75 31 62 65 31"};
    for (size_t k = 0; k < sizeof(not_record) / sizeof(not_record[0]); k++) {
        corpus_hex_at(&c, AT_RECORD, not_record[k]);
        BAD(&c, "a record given as %s", not_record[k]);
    }
    static const char *const bad_limits[] = {
        "a2 00 61 75 01 01", "61 75", "01", "f6",
        "81 61 75", "83 61 75 01 02", "80",
        "82 61 75 20", "82 61 75 1b 00 00 00 01 00 00 00 00",
        "82 61 75 1b ff ff ff ff ff ff ff ff", "82 61 75 f9 3c 00", "82 61 75 f5",
        "82 61 75 f6", "82 41 75 01", "82 01 01", "82 61 75 61 31", "82 f6 01",
    };
    for (size_t k = 0; k < sizeof(bad_limits) / sizeof(bad_limits[0]); k++) {
        snap_limits(b, 1);
        bb_hex(b, bad_limits[k]);
        BAD(&c, "limit given as %s", bad_limits[k]);
    }
    snap_limits(b, 1);
    bb_hex(b, "82 61 75 1a ff ff ff ff");
    r = corpus_accept_reg(&c, "limit 2^32-1");
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(r, "u", &max), MCREG_OK);
    ck_assert_uint_eq(max, UINT32_MAX);
    mcreg_registry_free(r);
    corpus_free(&c);
}
END_TEST

/* ---- tags ---------------------------------------------------------------- */

START_TEST(test_corpus_tags)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    snap_records(b, 1);
    bb_hex(b, "c0");
    rec_alt(b, -1, NULL);
    BAD(&c, "tag 0 on a record");
    static const struct {
        int field;
        const char *hex;
        const char *what;
    } fields[] = {
        {0, "d8 20 62 75 31", "tag 32 on the user id"},
        {0, "d9 d9 f7 62 75 31", "tag 55799 on the user id"},
        {1, "c0 62 65 31", "tag 0 on the UE id"},
        {2, "c1 19 03 e8", "tag 1 on registered_at"},
        {3, "c1 1a 00 01 5f 90", "tag 1 on expires_at"},
        {3, "c2 43 01 5f 90", "expires_at as a bignum"},
        {4, "c6 01", "tag 6 on the CSeq"},
    };
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        snap_records(b, 1);
        rec_alt(b, fields[k].field, fields[k].hex);
        BAD(&c, "%s", fields[k].what);
    }
    bb_hex(b, "d9 d9 f7 a1 00 c4 82 01 00");
    BAD(&c, "tag 4 on the version");
    bb_hex(b, "d9 d9 f7 a1 00 82 c1 01 00");
    BAD(&c, "tag 1 on the major version");
    snap_open(b, 2);
    bb_hex(b, "01 c0 81");
    rec_alt(b, -1, NULL);
    BAD(&c, "tag 0 on the records array");
    snap_open(b, 2);
    bb_hex(b, "01 d9 d9 f7 81");
    rec_alt(b, -1, NULL);
    BAD(&c, "tag 55799 on the records array");
    snap_open(b, 2);
    bb_hex(b, "02 c0 81 82 61 75 01");
    BAD(&c, "tag on the limits array");
    snap_limits(b, 1);
    bb_hex(b, "c0 82 61 75 01");
    BAD(&c, "tag on a limit");
    snap_limits(b, 1);
    bb_hex(b, "82 c0 61 75 01");
    BAD(&c, "tag on a limit's user");
    snap_limits(b, 1);
    bb_hex(b, "82 61 75 c1 01");
    BAD(&c, "tag on a limit's maximum");
    static const char *const settings[] = {"c0 81 82 61 6b 01", "81 c0 82 61 6b 01",
                                           "81 82 c0 61 6b 01", "81 82 61 6b c2 41 05",
                                           "81 82 61 6b c1 01", "81 82 61 6b d8 18 41 00"};
    for (size_t k = 0; k < sizeof(settings) / sizeof(settings[0]); k++) {
        snap_records(b, 1);
        rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
        bb_uint(b, 7);
        bb_hex(b, settings[k]);
        BAD(&c, "tag in settings %s", settings[k]);
    }
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "05 d8 20 63 73 69 70");
    BAD(&c, "tag 32 on the contact");
    /* The value of a key a later minor version adds is any well-formed
     * CBOR, tags included: it is skipped unread. */
    static const char *const unknown[] = {"c1 00", "81 c1 00", "a1 00 c0 60", "d9 d9 f7 00"};
    for (size_t k = 0; k < sizeof(unknown) / sizeof(unknown[0]); k++) {
        corpus_hex_at(&c, AT_UNKNOWN, unknown[k]);
        corpus_accept(&c, "tag in an unknown key's value");
        corpus_hex_at(&c, AT_REC_UNKNOWN, unknown[k]);
        corpus_accept(&c, "tag in an unknown record key's value");
    }
    snap_open(b, 2);
    bb_hex(b, "c0 01 80");
    BAD(&c, "tag on a map key");
    corpus_free(&c);
}
END_TEST

/* ---- map keys --------------------------------------------------------------- */

/* A record with the given keys (in that order), each with a valid value:
 * 0 "u1", 1 "e1", 2 1000, 3 90000, 4 1, 5 and 6 text, 7 one setting, any
 * other key 0. */
static void rec_keys(bb *b, const int *keys, size_t n)
{
    bb_map(b, n);
    for (size_t i = 0; i < n; i++) {
        bb_uint(b, (uint64_t)keys[i]);
        switch (keys[i]) {
        case 0:
            bb_text(b, "u1");
            break;
        case 1:
            bb_text(b, "e1");
            break;
        case 2:
            bb_uint(b, 1000);
            break;
        case 3:
            bb_uint(b, 90000);
            break;
        case 4:
            bb_uint(b, 1);
            break;
        case 5:
            bb_text(b, "sip:u1@x");
            break;
        case 6:
            bb_text(b, "cid");
            break;
        case 7:
            bb_hex(b, "81 82 61 6b 01");
            break;
        default:
            bb_uint(b, 0);
            break;
        }
    }
}

START_TEST(test_corpus_map_keys)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    /* Control: every record key and unknown ones, in order. */
    static const int all[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 100};
    snap_records(b, 1);
    rec_keys(b, all, 10);
    corpus_accept(&c, "all record keys");

    static const struct {
        int keys[10];
        size_t n;
        const char *what;
    } recs[] = {
        {{0, 1, 3, 2, 4}, 5, "record keys 0 1 3 2 4"},
        {{1, 0, 2, 3, 4}, 5, "record keys 1 0 2 3 4"},
        {{0, 1, 2, 3, 4, 6, 5}, 7, "Call-ID before contact"},
        {{0, 1, 2, 3, 4, 9, 5}, 7, "unknown key 9 before contact"},
        {{0, 1, 2, 3, 4, 7, 6}, 7, "settings before Call-ID"},
        {{0, 1, 2, 3, 4, 4}, 6, "CSeq twice"},
        {{0, 0, 1, 2, 3, 4}, 6, "user id twice"},
        {{0, 1, 2, 3, 4, 5, 5}, 7, "contact twice"},
        {{0, 1, 2, 3, 4, 7, 7}, 7, "settings twice"},
        {{0, 1, 2, 3, 4, 8, 8}, 7, "unknown key twice"},
        {{1, 2, 3, 4}, 4, "user id missing"},
        {{0, 2, 3, 4}, 4, "UE id missing"},
        {{0, 1, 3, 4}, 4, "registered_at missing"},
        {{0, 1, 2, 4}, 4, "expires_at missing"},
        {{0, 1, 2, 3}, 4, "CSeq missing"},
        {{0, 1, 2, 3, 5, 6, 7}, 7, "CSeq missing, optional keys present"},
        {{8}, 1, "only an unknown key"},
        {{0}, 0, "empty record map"},
    };
    for (size_t k = 0; k < sizeof(recs) / sizeof(recs[0]); k++) {
        snap_records(b, 1);
        rec_keys(b, recs[k].keys, recs[k].n);
        BAD(&c, "%s", recs[k].what);
    }
    for (int k = 0; k < 5; k++) {
        snap_records(b, 1);
        rec_alt(b, k, NULL);
        BAD(&c, "record without key %d", k);
    }
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_text(b, "xxx");
    bb_uint(b, 0);
    BAD(&c, "text key in a record");
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "20 00");
    BAD(&c, "key -1 in a record");
    snap_records(b, 1);
    bb_map(b, 5);
    bb_hex(b, "60 62 75 31 01 62 65 31 02 19 03 e8 03 1a 00 01 5f 90 04 01");
    BAD(&c, "empty text key instead of 0");

    /* Top level. */
    snap_open(b, 3);
    bb_hex(b, "02 80 01 80");
    BAD(&c, "top-level keys 0 2 1");
    bb_hex(b, "d9 d9 f7 a2 01 80 00 82 01 00");
    BAD(&c, "version after the records");
    snap_open(b, 3);
    bb_hex(b, "01 80 01 80");
    BAD(&c, "records twice");
    snap_open(b, 3);
    bb_hex(b, "02 80 02 80");
    BAD(&c, "limits twice");
    bb_hex(b, "d9 d9 f7 a2 00 82 01 00 00 82 01 00");
    BAD(&c, "version twice");
    snap_open(b, 3);
    bb_hex(b, "03 00 03 00");
    BAD(&c, "unknown top-level key twice");
    snap_open(b, 3);
    bb_hex(b, "05 00 01 80");
    BAD(&c, "unknown key 5 before the records");
    static const char *const keys[] = {"61 31", "67 72 65 63 6f 72 64 73", "20", "41 01",
                                       "f9 3c 00", "f5", "f6", "81 01", "a0"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        snap_open(b, 2);
        bb_hex(b, keys[k]);
        bb_hex(b, "80");
        BAD(&c, "top-level key %s", keys[k]);
    }
    bb_hex(b, "d9 d9 f7 a2 61 30 82 01 00 01 80");
    BAD(&c, "text key \"0\" for the version");

    /* Maps inside unknown values are skipped unread: any keys, any order. */
    static const char *const unknown_maps[] = {"a1 61 61 01", "a2 01 00 00 00", "a2 00 00 00 00",
                                               "a1 20 00", "81 a2 05 00 04 00"};
    for (size_t k = 0; k < sizeof(unknown_maps) / sizeof(unknown_maps[0]); k++) {
        corpus_hex_at(&c, AT_UNKNOWN, unknown_maps[k]);
        corpus_accept(&c, "map in an unknown key's value");
    }
    corpus_hex_at(&c, AT_UNKNOWN, "a3 00 00 01 80 07 a1 02 61 78");
    corpus_accept(&c, "unknown value {0: 0, 1: [], 7: {2: \"x\"}}");
    /* Controls: unknown keys up to 2^64-1, at both levels. */
    snap_open(b, 6);
    bb_uint(b, 1);
    bb_array(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 2);
    bb_uint(b, 8);
    bb_hex(b, "81 f9 3e 00");
    bb_uint(b, UINT64_MAX);
    bb_text(b, "x");
    bb_hex(b, "02 80 03 00");
    bb_uint(b, 1000);
    bb_text(b, "x");
    bb_uint(b, UINT64_MAX);
    bb_hex(b, "f6");
    corpus_accept(&c, "unknown keys up to 2^64-1");
    corpus_free(&c);
}
END_TEST

/* ---- the version --------------------------------------------------------------- */

START_TEST(test_corpus_version)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    bb_hex(b, "d9 d9 f7 a0");
    BAD(&c, "empty top-level map");
    bb_hex(b, "d9 d9 f7 a1 01 80");
    BAD(&c, "no version");
    bb_hex(b, "d9 d9 f7 a2 01 80 02 80");
    BAD(&c, "no version, records and limits");
    static const char *const bad[] = {
        "81 01", "80", "83 01 00 00", "82 01 20", "82 20 00", "82 f9 3c 00 00", "82 61 31 00",
        "63 31 2e 30", "01", "a2 00 01 01 00", "f6", "82 01 f9 00 00", "82 f5 00", "82 01 f6",
        "82 41 01 00", "82 81 01 00",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        bb_hex(b, "d9 d9 f7 a2 00");
        bb_hex(b, bad[k]);
        bb_hex(b, "01 80");
        BAD(&c, "version %s", bad[k]);
    }
    static const uint64_t majors[] = {0, 2, 3, 24, 255, 65536, UINT64_MAX};
    for (size_t k = 0; k < sizeof(majors) / sizeof(majors[0]); k++) {
        for (uint64_t minor = 0; minor <= 1; minor++) {
            bb_self(b);
            bb_map(b, 2);
            bb_uint(b, 0);
            bb_version(b, majors[k], minor);
            bb_uint(b, 1);
            bb_array(b, 1);
            rec_alt(b, -1, NULL);
            corpus_expectf(&c, MCREG_ERR_VERSION, "version [%llu, %llu]",
                           (unsigned long long)majors[k], (unsigned long long)minor);
        }
    }
    /* Another major version may change everything after the version. */
    bb_self(b);
    bb_map(b, 2);
    bb_uint(b, 0);
    bb_version(b, 2, 0);
    bb_uint(b, 1);
    bb_hex(b, "a1 00 f9 3e 00");
    corpus_expect(&c, MCREG_ERR_VERSION, "version [2, 0] with records of another shape");
    corpus_free(&c);
}
END_TEST

/* ---- ids, URIs and text ------------------------------------------------------------ */

static const struct {
    const char *hex;
    const char *what;
} bad_utf8[] = {
    {"c0 af", "overlong '/'"},
    {"e0 80 af", "overlong three-byte"},
    {"f0 80 80 af", "overlong four-byte"},
    {"c1 bf", "overlong two-byte 0xc1"},
    {"ed a0 80", "surrogate U+D800"},
    {"ed bf bf", "surrogate U+DFFF"},
    {"e2 82", "truncated sequence at the end"},
    {"e2 82 41", "truncated sequence before ASCII"},
    {"f0 9f 98", "truncated four-byte sequence"},
    {"80", "lone continuation byte"},
    {"61 bf 61", "continuation byte between ASCII"},
    {"ff", "byte 0xff"},
    {"fe", "byte 0xfe"},
    {"f4 90 80 80", "above U+10FFFF"},
    {"f5 80 80 80", "lead byte 0xf5"},
    {"f8 88 80 80 80", "five-byte sequence"},
};

/* One record whose user id (which 0), UE id (1), contact (5), Call-ID (6),
 * setting key (7) or text setting value (8) is the text `t` of n bytes;
 * which 9: a limit's user id. */
static void snap_with_text(bb *b, int which, const char *t, size_t n)
{
    if (which == 9) {
        snap_limits(b, 1);
        bb_array(b, 2);
        bb_textn(b, t, n);
        bb_uint(b, 1);
        return;
    }
    snap_records(b, 1);
    bb_map(b, which <= 1 ? 5 : 6);
    bb_uint(b, 0);
    if (which == 0)
        bb_textn(b, t, n);
    else
        bb_text(b, "u1");
    bb_uint(b, 1);
    if (which == 1)
        bb_textn(b, t, n);
    else
        bb_text(b, "e1");
    bb_hex(b, "02 19 03 e8 03 1a 00 01 5f 90 04 01");
    if (which == 5 || which == 6) {
        bb_uint(b, (uint64_t)which);
        bb_textn(b, t, n);
    } else if (which == 7) {
        bb_hex(b, "07 81 82");
        bb_textn(b, t, n);
        bb_hex(b, "01");
    } else if (which == 8) {
        bb_hex(b, "07 81 82 61 6b");
        bb_textn(b, t, n);
    }
}

static const char *const text_name[10] = {"user id", "UE id", "", "", "", "contact",
                                          "Call-ID", "setting key", "text setting value",
                                          "limit's user id"};

START_TEST(test_corpus_ids_and_text)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    static const int which[] = {0, 1, 5, 6, 7, 8, 9};
    char *big = malloc(MCREG_MAX_SETTING_LEN + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', MCREG_MAX_SETTING_LEN + 2);
    for (size_t w = 0; w < sizeof(which) / sizeof(which[0]); w++) {
        int k = which[w];
        const char *name = text_name[k];
        for (size_t u = 0; u < sizeof(bad_utf8) / sizeof(bad_utf8[0]); u++) {
            bb t;
            bb_init(&t);
            bb_hex(&t, "61");
            bb_hex(&t, bad_utf8[u].hex);
            snap_with_text(b, k, (const char *)t.p, t.len);
            BAD(&c, "%s with invalid UTF-8: %s", name, bad_utf8[u].what);
            bb_free(&t);
        }
        /* Valid UTF-8 up to U+10FFFF, U+FFFF and U+FEFF included. */
        static const char valid[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf"
                                    "\xef\xbb\xbf\xf4\x8f\xbf\xbf";
        snap_with_text(b, k, valid, sizeof(valid) - 1);
        corpus_accept(&c, "valid UTF-8");
        if (k == 8) {
            /* U+0000 is allowed in text values, and empty ones too. */
            snap_with_text(b, k, "a\0b", 3);
            mcreg_registry *r = corpus_accept_reg(&c, "U+0000 in a text value");
            const mcreg_setting *s = mcreg_record_setting_find(mcreg_find(r, "u1", "e1"), "k");
            ck_assert_msg(s && s->type == MCREG_VAL_TEXT && s->v.text.len == 3 &&
                              memcmp(s->v.text.ptr, "a\0b", 3) == 0,
                          "U+0000 in a text value");
            mcreg_registry_free(r);
            snap_with_text(b, k, "", 0);
            corpus_accept(&c, "empty text value");
            continue;
        }
        snap_with_text(b, k, "", 0);
        BAD(&c, "empty %s", name);
        snap_with_text(b, k, "a\0b", 3);
        BAD(&c, "%s with U+0000", name);
        snap_with_text(b, k, "\0", 1);
        BAD(&c, "%s that is U+0000", name);
        size_t max = k <= 1 || k == 9 ? MCREG_MAX_ID_LEN
                     : k <= 6         ? MCREG_MAX_URI_LEN
                                      : MCREG_MAX_SETTING_LEN;
        snap_with_text(b, k, big, max);
        corpus_accept(&c, "text at its maximum length");
        snap_with_text(b, k, big, max + 1);
        BAD(&c, "%s of %zu bytes", name, max + 1);
    }
    free(big);
    corpus_free(&c);
}
END_TEST

/* ---- settings ---------------------------------------------------------------- */

/* One record with n settings "k00".."k<n-1>" of INT value i. */
static void snap_n_settings(bb *b, size_t n)
{
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_uint(b, 7);
    bb_array(b, n);
    for (size_t i = 0; i < n; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%02zu", i);
        bb_array(b, 2);
        bb_text(b, key);
        bb_uint(b, i);
    }
}

/* One record with one setting: a key of klen bytes and a text (text != 0)
 * or bytes value of vlen bytes. */
static void snap_sized_setting(bb *b, size_t klen, size_t vlen, int text)
{
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "07 81 82");
    bb_text_rep(b, 'k', klen);
    bb_head(b, text ? 3 : 2, vlen);
    bb_fill(b, 'v', vlen);
}

START_TEST(test_corpus_settings)
{
    corpus c;
    corpus_init(&c, 0);
    bb *b = &c.b;
    snap_n_settings(b, MCREG_MAX_SETTINGS);
    mcreg_registry *r = corpus_accept_reg(&c, "64 settings");
    ck_assert_uint_eq(mcreg_record_setting_count(mcreg_find(r, "u1", "e1")), 64);
    mcreg_registry_free(r);
    snap_n_settings(b, MCREG_MAX_SETTINGS + 1);
    BAD(&c, "65 settings");
    snap_n_settings(b, 1000);
    BAD(&c, "1000 settings");

    for (int text = 0; text <= 1; text++) {
        const char *t = text ? "text" : "bytes";
        snap_sized_setting(b, 1, 4095, text);
        corpus_accept(&c, "key 1 + value 4095");
        snap_sized_setting(b, 1, 4096, text);
        BAD(&c, "key 1 + %s value 4096", t);
        snap_sized_setting(b, 1, 4097, text);
        BAD(&c, "%s value of 4097 bytes", t);
        snap_sized_setting(b, 2000, 2096, text);
        corpus_accept(&c, "key 2000 + value 2096");
        snap_sized_setting(b, 2000, 2097, text);
        BAD(&c, "key 2000 + %s value 2097", t);
        snap_sized_setting(b, 4096, 0, text);
        corpus_accept(&c, "key 4096 + empty value");
        snap_sized_setting(b, 4096, 1, text);
        BAD(&c, "key 4096 + %s value 1", t);
    }
    /* A key alone at the limits, with an int value. */
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "07 81 82");
    bb_text_rep(b, 'k', 4096);
    bb_hex(b, "3b 7f ff ff ff ff ff ff ff");
    corpus_accept(&c, "key of 4096 bytes with an int value");
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "07 81 82");
    bb_text_rep(b, 'k', 4097);
    bb_hex(b, "01");
    BAD(&c, "key of 4097 bytes with an int value");

    static const struct {
        const char *hex;
        const char *what;
    } cases[] = {
        {"82 82 61 61 01 82 61 61 02", "duplicate setting keys"},
        {"83 82 61 61 01 82 61 62 02 82 61 61 f5", "duplicate setting keys, not adjacent"},
        {"82 82 61 61 01 82 61 61 61 61", "duplicate setting keys of different types"},
        {"81 81 61 61", "setting pair of one element"},
        {"81 83 61 61 01 02", "setting pair of three elements"},
        {"81 80", "setting pair of no element"},
        {"81 82 61 61 3b 80 00 00 00 00 00 00 00", "int -2^63 - 1"},
        {"81 82 61 61 3b ff ff ff ff ff ff ff ff", "int -2^64"},
        {"81 82 61 61 1b 80 00 00 00 00 00 00 00", "int 2^63"},
        {"81 82 61 61 1b ff ff ff ff ff ff ff ff", "int 2^64 - 1"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        snap_records(b, 1);
        rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
        bb_uint(b, 7);
        bb_hex(b, cases[k].hex);
        BAD(&c, "%s", cases[k].what);
    }
    /* Controls: the int64 range ends, and keys equal but for case. */
    snap_records(b, 1);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 1);
    bb_hex(b, "07 83 82 61 61 3b 7f ff ff ff ff ff ff ff 82 61 62 1b 7f ff ff ff ff ff ff ff"
              "82 61 41 f4");
    r = corpus_accept_reg(&c, "int64 range ends");
    const mcreg_record *rec = mcreg_find(r, "u1", "e1");
    ck_assert_int_eq(mcreg_record_setting_find(rec, "a")->v.i, INT64_MIN);
    ck_assert_int_eq(mcreg_record_setting_find(rec, "b")->v.i, INT64_MAX);
    ck_assert_int_eq(mcreg_record_setting_find(rec, "A")->v.b, 0);
    mcreg_registry_free(r);
    corpus_free(&c);
}
END_TEST

/* ---- duplicates ------------------------------------------------------------------- */

/* _i: 0 UE exclusive on, 1 off. */
START_TEST(test_corpus_duplicates)
{
    corpus c;
    corpus_init(&c, _i);
    bb *b = &c.b;
    snap_records(b, 2);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    BAD(&c, "the same record twice");
    snap_records(b, 2);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    rec_open(b, "u1", "e1", 2000, 80000, 2, 0);
    BAD(&c, "one (user, UE) pair twice with different values");
    snap_records(b, 3);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    rec_open(b, "u2", "e2", 1000, 90000, 1, 0);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    BAD(&c, "one (user, UE) pair twice, not adjacent");
    snap_records(b, 2);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    rec_open(b, "u1", "e1", 1000, 2000, 1, 0);
    BAD(&c, "one (user, UE) pair twice, once expired");
    snap_records(b, 2);
    rec_open(b, "u1", "e1", 1000, 2000, 1, 0);
    rec_open(b, "u1", "e1", 1000, 3000, 1, 0);
    BAD(&c, "one (user, UE) pair twice, both expired");
    snap_limits(b, 2);
    bb_hex(b, "82 62 75 31 01 82 62 75 31 01");
    BAD(&c, "the same limit twice");
    snap_limits(b, 3);
    bb_hex(b, "82 62 75 31 01 82 62 75 32 01 82 62 75 31 02");
    BAD(&c, "two limits for one user, not adjacent");

    /* Control: ids equal but for case are different ids. */
    snap_records(b, 3);
    rec_open(b, "U1", "x1", 1000, 90000, 1, 0);
    rec_open(b, "u1", "E1", 1000, 90000, 1, 0);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    corpus_accept(&c, "ids equal but for case");

    /* A UE under two users. */
    snap_records(b, 2);
    rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
    rec_open(b, "u2", "e1", 1000, 90000, 1, 0);
    if (_i) {
        mcreg_registry *r = corpus_accept_reg(&c, "a UE under two users, UE exclusive off");
        ck_assert_uint_eq(mcreg_record_count(r), 2);
        mcreg_registry_free(r);
    } else {
        BAD(&c, "a UE under two users with UE exclusive on");
        snap_records(b, 3);
        rec_open(b, "u1", "e1", 1000, 90000, 1, 0);
        rec_open(b, "u2", "e2", 1000, 90000, 1, 0);
        rec_open(b, "u3", "e1", 1000, 90000, 1, 0);
        BAD(&c, "a UE under two users with UE exclusive on, not adjacent");
    }
    corpus_free(&c);
}
END_TEST

/* ======================================================================== */
/* Truncation and trailing bytes                                            */

/* Every proper prefix of a rich snapshot fails and changes nothing. */
START_TEST(test_truncation_every_prefix)
{
    corpus c;
    corpus_init(&c, 0);
    mcreg_registry *src = sn_new(0, NULL);
    golden_build(src);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);
    ck_assert_uint_ge(len, 200);
    for (size_t cut = 0; cut < len; cut++) {
        bb_put(&c.b, snap, cut);
        corpus_expectf(&c, MCREG_ERR_FORMAT, "golden snapshot cut to %zu of %zu bytes", cut, len);
    }
    bb_put(&c.b, snap, len);
    corpus_accept(&c, "the whole golden snapshot");

    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.1-unknown-keys.cbor", &flen);
    for (size_t cut = 0; cut < flen; cut++) {
        bb_put(&c.b, file, cut);
        corpus_expectf(&c, MCREG_ERR_FORMAT, "1.5 file cut to %zu of %zu bytes", cut, flen);
    }
    free(file);
    free(snap);
    mcreg_registry_free(src);
    corpus_free(&c);
}
END_TEST

START_TEST(test_trailing_bytes)
{
    corpus c;
    corpus_init(&c, 0);
    mcreg_registry *src = sn_new(0, NULL);
    golden_build(src);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);
    static const char *const tails[] = {"00", "ff", "f6", "a0", "d9 d9 f7", "00 00 00 00"};
    for (size_t k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
        bb_put(&c.b, snap, len);
        bb_hex(&c.b, tails[k]);
        BAD(&c, "golden snapshot followed by %s", tails[k]);
    }
    bb_put(&c.b, snap, len);
    bb_put(&c.b, snap, len);
    BAD(&c, "golden snapshot twice");
    free(snap);
    mcreg_registry_free(src);
    corpus_free(&c);
}
END_TEST

Suite *suite_snapshot_hostile(void)
{
    Suite *s = suite_create("snapshot_hostile");
    TCase *tc = tcase_create("hostile");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_truncation_every_prefix);
    tcase_add_test(tc, test_trailing_bytes);
    tcase_add_test(tc, test_corpus_framing);
    tcase_add_test(tc, test_corpus_huge_lengths);
    tcase_add_test(tc, test_corpus_deep_nesting);
    tcase_add_test(tc, test_corpus_indefinite);
    tcase_add_test(tc, test_corpus_reserved_and_simple);
    tcase_add_test(tc, test_corpus_wrong_types);
    tcase_add_test(tc, test_corpus_tags);
    tcase_add_test(tc, test_corpus_map_keys);
    tcase_add_test(tc, test_corpus_version);
    tcase_add_test(tc, test_corpus_ids_and_text);
    tcase_add_test(tc, test_corpus_settings);
    tcase_add_loop_test(tc, test_corpus_duplicates, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
