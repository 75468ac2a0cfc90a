/*
 * snapgen.c - write the snapshot of a deterministic, rich registry state.
 *
 *   snapgen SEED USERS OUTFILE [JSONFILE]
 *
 * Builds a registry (UE exclusive off) from SEED with USERS users through
 * the public API only: registrations at a clock that only moves forward
 * (several of them at the same instant), refreshes (new logons for records
 * that lapsed before their turn) that keep or clear the contact and
 * Call-ID and replace the settings, an expiry, single and whole-user
 * deregistrations, a registration whose expiry saturates at UINT64_MAX
 * (made first, at its now_ms near UINT64_MAX, so that it neither lapses
 * nor finds its user's other records lapsed), and per-user limits. The
 * state has:
 * - settings of every type: ints at every CBOR head size and sign,
 *   INT64_MIN and INT64_MAX, empty, NUL-holding, multi-byte and JSON-hostile
 *   text, empty and binary bytes, true and false (and a bool set as 7);
 * - records without contact, without Call-ID, without settings;
 * - UEs shared by several users;
 * - ids whose bytewise order differs from a signed-char, case-insensitive
 *   or length-first one (upper case, prefixes, bytes above 0x7F);
 * - per-user limits (from 2 users on): a user with a limit and no record,
 *   another whose records were all deregistered (limit 0), a limit set then
 *   cleared, and, at random, 0, UINT32_MAX and one below the user's count;
 * - with 8 users or more, a record with 64 settings (user 7); with 9 or
 *   more, ids, a contact and a Call-ID at their length limits and settings
 *   of 4096 bytes, key and value (user 8).
 * USERS = 0 gives the empty registry. One (SEED, USERS) always gives the
 * same bytes.
 *
 * Along the way it checks the library against its own model of the state:
 * every record and limit read back through the accessors, the same
 * snapshot from a second registry with another hash seed that saw the
 * same-instant registrations in reverse order, the same snapshot again
 * after a restore, and a restore into a UE-exclusive registry that fails
 * exactly when a UE is shared. Any difference is an error.
 *
 * JSONFILE, when given, receives the model's state in the format of
 * examples/mcreg-dump: one JSON object a line, the records sorted by user
 * id then UE id (bytewise), then the limits sorted by user id.
 *
 * Exit status: 0 done, 1 usage, 2 an output file could not be written,
 * 3 the library disagreed with the model or failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"
#include "model.h"
#include "rng.h"

#define MAX_USERS 100000u

/* ---- failure ------------------------------------------------------------- */

static void die(int status, const char *fmt, ...)
{
    va_list ap;
    fputs("snapgen: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            die(3, __VA_ARGS__);                                                           \
    } while (0)

/* ---- arena: everything the generator keeps lives until the end ----------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

static chunk *arena;

static void *arena_alloc(size_t n)
{
    size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    if (!arena || arena->cap - arena->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        chunk *c = malloc(sizeof(chunk) + cap);
        if (!c)
            die(3, "out of memory");
        c->next = arena;
        c->used = 0;
        c->cap = cap;
        arena = c;
    }
    void *p = (unsigned char *)arena->data + arena->used;
    arena->used += n;
    return p;
}

static void arena_free(void)
{
    while (arena) {
        chunk *next = arena->next;
        free(arena);
        arena = next;
    }
}

/* A copy of len bytes with a NUL after them. */
static char *keep(const void *p, size_t len)
{
    char *s = arena_alloc(len + 1);
    if (len)
        memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static char *keepf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        die(3, "internal: formatted string too long");
    return keep(buf, (size_t)n);
}

/* ---- random numbers ------------------------------------------------------ */

static test_rng rng;

static uint64_t rnd(void)
{
    return test_rng_next(&rng);
}

static uint32_t below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ---- the model's values ---------------------------------------------------- */

/* The state is checked against the shared reference model (tests/model/),
 * which is fed every operation as it is generated. Its numbers: users are
 * their index, UEs an index into ue_ids, contacts and Call-IDs an index + 1
 * into strs, a set of settings an index + 1 into sets (0 = none). */
static model *mdl;

typedef struct setset {
    const mcreg_setting *s;
    size_t n;
} setset;

static const char **user_ids;
static unsigned n_user_ids;
static const char **ue_ids;
static size_t n_ue_ids, cap_ue_ids;
static const char **strs;
static size_t n_strs, cap_strs;
static setset *sets;
static size_t n_sets, cap_sets;

static void *grow_array(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return p;
    size_t c = *cap ? 2 * *cap : 64;
    void *q = realloc(p, c * elem);
    if (!q)
        die(3, "out of memory");
    *cap = c;
    return q;
}

static uint32_t ue_num(const char *ue)
{
    ue_ids = grow_array(ue_ids, &cap_ue_ids, n_ue_ids, sizeof *ue_ids);
    ue_ids[n_ue_ids] = ue;
    return (uint32_t)n_ue_ids++;
}

static uint32_t str_id(const char *v)
{
    if (!v)
        return 0;
    strs = grow_array(strs, &cap_strs, n_strs, sizeof *strs);
    strs[n_strs++] = v;
    return (uint32_t)n_strs;
}

static const char *str_of(uint32_t id)
{
    return id ? strs[id - 1] : NULL;
}

static uint32_t set_id(const mcreg_setting *v, size_t n)
{
    if (!n)
        return 0;
    sets = grow_array(sets, &cap_sets, n_sets, sizeof *sets);
    sets[n_sets++] = (setset){v, n};
    return (uint32_t)n_sets;
}

static const char *value_user(void *ud, uint32_t u)
{
    (void)ud;
    return user_ids[u];
}

static const char *value_ue(void *ud, uint32_t x)
{
    (void)ud;
    return ue_ids[x];
}

static const char *value_str(void *ud, uint32_t id, char *buf, size_t cap)
{
    (void)ud, (void)buf, (void)cap;
    return str_of(id);
}

static size_t value_settings(void *ud, uint32_t id, const mcreg_setting **out)
{
    (void)ud;
    *out = sets[id - 1].s;
    return sets[id - 1].n;
}

/* ---- operations: applied to the first registry, replayed into the second - */

enum op_kind { OP_REGISTER, OP_DEREGISTER, OP_DEREGISTER_USER, OP_EXPIRE, OP_SET_LIMIT,
               OP_CLEAR_LIMIT };

typedef struct op {
    enum op_kind kind;
    int creates; /* OP_REGISTER of a pair with no record */
    uint64_t now;
    mcreg_binding b; /* OP_REGISTER; user_id and ue_id for the others too */
    uint32_t max;    /* OP_SET_LIMIT */
    size_t expect;   /* OP_EXPIRE, OP_DEREGISTER_USER: records removed */
} op;

static op *ops;
static size_t n_ops, cap_ops;

#define NO_UE UINT32_MAX

static void apply(mcreg_registry *reg, const op *o)
{
    int rc = MCREG_OK;
    size_t n = 0;
    mcreg_outcome outcome;

    switch (o->kind) {
    case OP_REGISTER:
        rc = mcreg_register(reg, &o->b, o->now, &outcome);
        if (rc == MCREG_OK && outcome != (o->creates ? MCREG_CREATED : MCREG_REFRESHED))
            die(3, "register (%s, %s) at %" PRIu64 ": outcome %d", o->b.user_id, o->b.ue_id,
                o->now, (int)outcome);
        break;
    case OP_DEREGISTER:
        rc = mcreg_deregister(reg, o->b.user_id, o->b.ue_id, o->now);
        break;
    case OP_DEREGISTER_USER:
        rc = mcreg_deregister_user(reg, o->b.user_id, o->now, &n);
        break;
    case OP_EXPIRE:
        rc = mcreg_expire(reg, o->now, &n);
        break;
    case OP_SET_LIMIT:
        rc = mcreg_set_user_max_ues(reg, o->b.user_id, o->max);
        break;
    case OP_CLEAR_LIMIT:
        rc = mcreg_clear_user_max_ues(reg, o->b.user_id);
        break;
    }
    if (rc != MCREG_OK)
        die(3, "operation %d on (%s, %s) at %" PRIu64 ": %s", (int)o->kind,
            o->b.user_id ? o->b.user_id : "-", o->b.ue_id ? o->b.ue_id : "-", o->now,
            mcreg_strerror(rc));
    if ((o->kind == OP_EXPIRE || o->kind == OP_DEREGISTER_USER) && n != o->expect)
        die(3, "operation %d at %" PRIu64 " removed %zu records, want %zu", (int)o->kind, o->now,
            n, o->expect);
}

static op *new_op(enum op_kind kind, uint64_t now, uint32_t user_ix, uint32_t ue)
{
    if (n_ops == cap_ops) {
        size_t cap = cap_ops ? 2 * cap_ops : 256;
        op *n = realloc(ops, cap * sizeof *n);
        if (!n)
            die(3, "out of memory");
        ops = n;
        cap_ops = cap;
    }
    op *o = &ops[n_ops++];
    *o = (op){.kind = kind, .now = now};
    o->b.user_id = user_ids[user_ix];
    o->b.ue_id = ue == NO_UE ? NULL : ue_ids[ue];
    return o;
}

/* Each operation is generated, applied to the model, and kept for the
 * registries; the model's answers say what the library must answer. */

static void model_rc(int rc, const op *o)
{
    if (rc != MCREG_OK)
        die(3, "internal: the model refuses operation %d at %" PRIu64 ": %s", (int)o->kind,
            o->now, mcreg_strerror(rc));
}

static void op_register(uint64_t now, uint32_t user_ix, uint32_t ue, const char *contact,
                        uint32_t call_id, uint32_t cseq, uint32_t expires_s,
                        const mcreg_setting *settings, size_t n_settings)
{
    op *o = new_op(OP_REGISTER, now, user_ix, ue);
    o->b.contact = contact;
    o->b.call_id = str_of(call_id);
    o->b.cseq = cseq;
    o->b.expires_s = expires_s;
    o->b.settings = settings;
    o->b.n_settings = n_settings;
    model_binding mb = {.user = user_ix, .ue = ue, .contact = str_id(contact),
                        .call_id = call_id, .settings = set_id(settings, n_settings),
                        .cseq = cseq, .expires_s = expires_s};
    mcreg_outcome out = MCREG_REMOVED;
    model_rc(model_register(mdl, &mb, now, &out), o);
    o->creates = out == MCREG_CREATED;
}

static void op_expire(uint64_t now)
{
    op *o = new_op(OP_EXPIRE, now, 0, NO_UE);
    model_rc(model_expire(mdl, now, &o->expect), o);
}

static void op_deregister(uint64_t now, uint32_t user_ix, uint32_t ue)
{
    op *o = new_op(OP_DEREGISTER, now, user_ix, ue);
    model_rc(model_deregister(mdl, user_ix, ue), o);
}

static void op_deregister_user(uint64_t now, uint32_t user_ix)
{
    op *o = new_op(OP_DEREGISTER_USER, now, user_ix, NO_UE);
    model_rc(model_deregister_user(mdl, user_ix, &o->expect), o);
}

static void op_set_limit(uint32_t user_ix, uint32_t max)
{
    op *o = new_op(OP_SET_LIMIT, 0, user_ix, NO_UE);
    o->max = max;
    model_rc(model_set_user_max_ues(mdl, user_ix, max), o);
}

static void op_clear_limit(uint32_t user_ix)
{
    op *o = new_op(OP_CLEAR_LIMIT, 0, user_ix, NO_UE);
    model_rc(model_clear_user_max_ues(mdl, user_ix), o);
}

/* ---- ids, contacts, Call-IDs --------------------------------------------- */

/* A string of exactly `len` bytes of valid UTF-8, repeating `unit` (whose
 * characters are 1 to 4 bytes long) and padding with ASCII. */
static char *sized_text(const char *prefix, const char *unit, size_t len)
{
    char *s = arena_alloc(len + 1);
    size_t n = strlen(prefix) < len ? strlen(prefix) : len;
    memcpy(s, prefix, n);
    size_t ul = strlen(unit);
    while (len - n >= ul) {
        memcpy(s + n, unit, ul);
        n += ul;
    }
    while (n < len)
        s[n++] = 'x';
    s[len] = '\0';
    return s;
}

static const char *user_id(uint64_t seed, unsigned u)
{
    if (u == 8)
        return sized_text("sip:", "\xc3\xa4\xe6\x97\xa5\xf0\x9f\x98\x80-", MCREG_MAX_ID_LEN);
    switch ((u + seed) % 8) {
    case 0: return keepf("sip:user%u@mcptt.example", u);
    case 1: return keepf("sip:%u@mcptt.example", u);
    case 2: return keepf("tel:+4930%07u", u);
    case 3: return keepf("sip:j\xc3\xbcrgen.%u@mcptt.example", u);
    case 4: return keepf("sip:\xe6\x97\xa5\xe6\x9c\xac-%u@mcptt.example.jp", u);
    case 5: return keepf("sip:\xf0\x9f\x98\x80%u@mcptt.example", u);
    case 6: return keepf("Sip:UPPER%u@MCPTT.example", u);
    default: return keepf("sip:o\"brien\\%u\t\x7f@mcptt.example", u);
    }
}

static const char *own_ue_id(uint64_t seed, unsigned u, unsigned k)
{
    if (u == 8 && k == 0)
        return sized_text("urn:uuid:", "\xd0\xb6", MCREG_MAX_ID_LEN);
    switch ((u * 3 + k + seed) % 5) {
    case 0:
        return keepf("urn:uuid:%08x-0000-4000-8000-%012" PRIx64, u,
                     (uint64_t)k * 7919 + seed % 9973);
    case 1: return keepf("imei:35%013" PRIu64, (uint64_t)u * 100 + k);
    case 2: return keepf("ue-\xc3\xb6-%u-%u", u, k);
    case 3: return keepf("UE%u.%u", u, k);
    default: return keepf("ue%u", u * 10 + k); /* prefixes of one another */
    }
}

static const char *shared_ue_id(unsigned i)
{
    return keepf("urn:uuid:5ba7ed00-0000-4000-8000-00000000000%u", i);
}

static const char *make_contact(unsigned u, unsigned k)
{
    switch (below(4)) {
    case 0: return keepf("sip:ue%u.%u@192.0.2.%u:5060", u, k, below(256));
    case 1:
        return keepf("<sip:ue%u@[2001:db8::%x]:5061;transport=tls>;+sip.instance=\"<urn:uuid:%u>\"",
                     u, below(65536), k);
    case 2: return keepf("sip:%u@h\xc3\xb8st.example;p=a\\b", u);
    default: return keepf("sip:%u@198.51.100.%u", k, below(256));
    }
}

static const char *make_call_id(void)
{
    if (below(2))
        return keepf("%016" PRIx64 "@pc33.example", rnd());
    return keepf("a84b4c76e66710-%u", below(100000));
}

static uint32_t make_cseq(void)
{
    static const uint32_t edges[] = {0, 1, 23, 24, 255, 256, 65535, 65536, UINT32_MAX};
    if (below(3) == 0)
        return (uint32_t)rnd();
    return edges[below(sizeof edges / sizeof edges[0])];
}

static uint32_t make_expires(void)
{
    static const uint32_t choices[] = {1, 2, 60, 3600, 3600, 86400, 604800, UINT32_MAX};
    return choices[below(sizeof choices / sizeof choices[0])];
}

/* ---- settings ------------------------------------------------------------ */

#define S_INT(k, n) {.key = (k), .type = MCREG_VAL_INT, .v.i = (n)}
#define S_TEXT(k, s) {.key = (k), .type = MCREG_VAL_TEXT, .v.text = {(s), sizeof(s) - 1}}
#define S_BYTES(k, s) \
    {.key = (k), .type = MCREG_VAL_BYTES, .v.bytes = {(const uint8_t *)(s), sizeof(s) - 1}}
#define S_BOOL(k, n) {.key = (k), .type = MCREG_VAL_BOOL, .v.b = (n)}

/* One of every kind, at every CBOR head size. */
static const mcreg_setting rich_settings[] = {
    S_INT("int.min", INT64_MIN),
    S_INT("int.max", INT64_MAX),
    S_INT("int.0", 0),
    S_INT("int.-1", -1),
    S_INT("int.23", 23),
    S_INT("int.24", 24),
    S_INT("int.-24", -24),
    S_INT("int.-25", -25),
    S_INT("int.255", 255),
    S_INT("int.256", 256),
    S_INT("int.-256", -256),
    S_INT("int.-257", -257),
    S_INT("int.65535", 65535),
    S_INT("int.65536", 65536),
    S_INT("int.-65537", -65537),
    S_INT("int.4294967295", 4294967295),
    S_INT("int.4294967296", 4294967296),
    S_INT("int.-4294967297", -4294967297),
    S_TEXT("text.empty", ""),
    S_TEXT("text.nul", "a\0b"),
    S_TEXT("text.nul-only", "\0"),
    S_TEXT("text.utf8", "Gr\xc3\xbc\xc3\x9f" "e, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x98\x80"),
    S_TEXT("text.json", "\"\\/\b\f\n\r\t\x01\x1f\x7f"),
    S_TEXT("text.23", "abcdefghijklmnopqrstuvw"),
    S_TEXT("text.24", "abcdefghijklmnopqrstuvwx"),
    S_BYTES("bytes.zero", "\0"),
    S_BYTES("bytes.bin", "\x00\xff\x80\x7f\x1f\x22\x5c"),
    S_BYTES("bytes.24", "0123456789abcdef\x00\x01\x02\x03\xfc\xfd\xfe\xff"),
    S_BOOL("bool.true", 1),
    S_BOOL("bool.false", 0),
    S_BOOL("bool.seven", 7),
    S_INT("schl\xc3\xbcssel \"k\\\x01\"", 42),
    {.key = "bytes.empty", .type = MCREG_VAL_BYTES, .v.bytes = {NULL, 0}},
};

#define N_RICH (sizeof rich_settings / sizeof rich_settings[0])

static const char *const key_pool[] = {"priority", "display", "token", "emergency", "offset",
                                       "lang", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",
                                       "group", "k", "kk"};
#define N_KEYS (sizeof key_pool / sizeof key_pool[0])

static void random_value(mcreg_setting *s)
{
    static const int64_t ints[] = {0, 1, -1, 23, 24, -24, -25, 255, 256, 65536, INT64_MIN,
                                   INT64_MAX, -4294967296};
    s->type = (mcreg_value_type)below(4);
    switch (s->type) {
    case MCREG_VAL_INT:
        s->v.i = below(2) ? ints[below(sizeof ints / sizeof ints[0])] : (int64_t)rnd();
        break;
    case MCREG_VAL_BOOL:
        s->v.b = (int)below(2);
        break;
    case MCREG_VAL_TEXT: {
        /* ASCII with a NUL or a two-byte character now and then */
        size_t len = below(30), n = 0;
        char *t = arena_alloc(2 * len + 1);
        for (size_t i = 0; i < len; i++) {
            uint32_t c = below(40);
            if (c == 0) {
                t[n++] = '\0';
            } else if (c == 1) {
                t[n++] = '\xc3';
                t[n++] = '\xa9';
            } else {
                t[n++] = (char)(' ' + below(95));
            }
        }
        t[n] = '\0';
        s->v.text.ptr = t;
        s->v.text.len = n;
        break;
    }
    case MCREG_VAL_BYTES: {
        size_t len = below(4) == 0 ? 0 : below(40);
        uint8_t *p = arena_alloc(len + 1);
        for (size_t i = 0; i < len; i++)
            p[i] = (uint8_t)rnd();
        s->v.bytes.ptr = p;
        s->v.bytes.len = len;
        break;
    }
    }
}

/* 0 to 6 settings with distinct keys; *n may be 0. */
static const mcreg_setting *random_settings(size_t *n)
{
    *n = below(3) == 0 ? 0 : 1 + below(6);
    if (*n == 0)
        return NULL;
    unsigned order[N_KEYS];
    for (unsigned i = 0; i < N_KEYS; i++)
        order[i] = i;
    for (unsigned i = N_KEYS - 1; i > 0; i--) {
        unsigned j = below(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    mcreg_setting *s = arena_alloc(*n * sizeof *s);
    for (size_t i = 0; i < *n; i++) {
        s[i] = (mcreg_setting){.key = key_pool[order[i]]};
        random_value(&s[i]);
    }
    return s;
}

/* MCREG_MAX_SETTINGS settings, ints and bools. */
static const mcreg_setting *many_settings(size_t *n)
{
    *n = MCREG_MAX_SETTINGS;
    mcreg_setting *s = arena_alloc(*n * sizeof *s);
    for (size_t i = 0; i < *n; i++) {
        s[i] = (mcreg_setting){.key = keepf("s%02zu", i)};
        if (i % 2) {
            s[i].type = MCREG_VAL_BOOL;
            s[i].v.b = (int)(i % 4 == 1);
        } else {
            s[i].type = MCREG_VAL_INT;
            s[i].v.i = (int64_t)i * -1000003;
        }
    }
    return s;
}

/* Settings at the length limit: a key plus a value of 4096 bytes. */
static const mcreg_setting *huge_settings(size_t *n)
{
    *n = 2;
    mcreg_setting *s = arena_alloc(*n * sizeof *s);
    const char *text = sized_text("", "\xe2\x82\xac", MCREG_MAX_SETTING_LEN - 4);
    s[0] = (mcreg_setting){.key = "huge", .type = MCREG_VAL_TEXT,
                           .v.text = {text, MCREG_MAX_SETTING_LEN - 4}};
    uint8_t *bytes = arena_alloc(MCREG_MAX_SETTING_LEN - 5);
    for (size_t i = 0; i < MCREG_MAX_SETTING_LEN - 5; i++)
        bytes[i] = (uint8_t)(i * 31);
    s[1] = (mcreg_setting){.key = "blob!", .type = MCREG_VAL_BYTES,
                           .v.bytes = {bytes, MCREG_MAX_SETTING_LEN - 5}};
    return s;
}

/* ---- generation ---------------------------------------------------------- */

typedef struct plan {
    uint32_t user_ix;
    const char *ue;
    int shared; /* index of the shared UE id, or -1 */
    int kind;   /* 0 plain, 1 rich settings, 2 many settings, 3 at the length limits */
} plan;

/* A record the generator created, in creation order: the pair, whether
 * it is kept out of refreshes, expiry and deregistrations, and the Call-ID
 * and CSeq it was registered with (for a refresh that finds it swept as
 * lapsed). Everything else about it is the model's. */
typedef struct made {
    uint32_t user_ix, ue;
    int special;
    uint32_t call_id, cseq;
} made;

static made *mades;
static size_t n_mades, cap_mades;

static void add_made(uint32_t user_ix, uint32_t ue, int special)
{
    mades = grow_array(mades, &cap_mades, n_mades, sizeof *mades);
    mades[n_mades++] = (made){user_ix, ue, special, 0, 0};
}

/* The last made record's Call-ID and CSeq, as the model registered it. */
static void made_registered(void)
{
    made *d = &mades[n_mades - 1];
    const model_record *r = model_find(mdl, d->user_ix, d->ue);
    d->call_id = r->call_id;
    d->cseq = r->cseq;
}

static const model_record *made_record(const made *d)
{
    return model_find(mdl, d->user_ix, d->ue);
}

static void generate(uint64_t seed, unsigned n_users)
{
    test_rng_seed(&rng, seed);
    model_options mo = {.shared_ues = 1};
    model_values mv = {NULL, value_user, value_ue, value_str, value_str, value_settings};
    mdl = model_new(&mo, &mv);
    n_user_ids = n_users;
    user_ids = calloc(n_users ? n_users : 1, sizeof *user_ids);
    if (!mdl || !user_ids)
        die(3, "out of memory");
    for (unsigned u = 0; u < n_users; u++)
        user_ids[u] = user_id(seed, u);

    /* Which (user, UE) pairs get a record. User 1 (and, at random, others)
     * gets none, user 0 at least one. */
    size_t n_plans = 0, cap_plans = (size_t)n_users * 4 + 4;
    plan *plans = malloc(cap_plans * sizeof *plans);
    if (!plans)
        die(3, "out of memory");
    for (unsigned u = 0; u < n_users; u++) {
        unsigned n = u == 0 ? 1 + below(3) : u == 1 ? 0 : below(4);
        if (u == 7 || u == 8)
            n = n ? n : 1;
        for (unsigned k = 0; k < n; k++) {
            int shared = below(4) == 0 ? (int)below(3) : -1;
            const char *ue = shared >= 0 ? shared_ue_id((unsigned)shared) : own_ue_id(seed, u, k);
            int dup = 0;
            for (size_t i = 0; i < n_plans; i++)
                dup |= plans[i].user_ix == u && strcmp(plans[i].ue, ue) == 0;
            if (dup)
                continue;
            int kind = k ? 0 : u == 0 ? 1 : u == 7 ? 2 : u == 8 ? 3 : 0;
            plans[n_plans++] = (plan){.user_ix = u, .ue = ue, .shared = shared, .kind = kind};
        }
    }
    /* ...registered in a random order */
    for (size_t i = n_plans; i > 1; i--) {
        size_t j = below((uint32_t)i);
        plan t = plans[i - 1];
        plans[i - 1] = plans[j];
        plans[j] = t;
    }

    uint64_t now;
    switch (seed % 3) {
    case 0: now = 0; break;
    case 1: now = 1700000000000u + seed % 100000 * 1000; break;
    default: now = UINT32_MAX - 5000u; break; /* expiries past 2^32 */
    }

    /* A registration whose expiry saturates at UINT64_MAX, by user 0, made
     * first: made last, at its own now_ms, it would find every other record
     * of user 0 lapsed and remove it (mcreg_register's lapsed-record rule),
     * while made first it is itself never lapsed for the registrations and
     * the expiry that follow. It takes no part in them (no draw of the
     * random sequence either): the state is what it was when it came last. */
    uint32_t ue_at_the_end = NO_UE;
    if (n_users > 0) {
        ue_at_the_end = ue_num("ue-at-the-end-of-time");
        op_register(UINT64_MAX - 999, 0, ue_at_the_end, NULL, str_id("last"), UINT32_MAX, 3600,
                    NULL, 0);
    }

    /* Registrations, some at the same instant. A shared UE id is one UE. */
    uint32_t shared_ue[3] = {NO_UE, NO_UE, NO_UE};
    for (size_t i = 0; i < n_plans; i++) {
        const plan *p = &plans[i];
        if (i && below(3) != 0)
            now += 1 + below(5000);
        uint32_t ue;
        if (p->shared < 0)
            ue = ue_num(p->ue);
        else if ((ue = shared_ue[p->shared]) == NO_UE)
            ue = shared_ue[p->shared] = ue_num(p->ue);
        unsigned u = p->user_ix;
        const char *contact = below(4) ? make_contact(u, (unsigned)i) : NULL;
        const char *call_id = below(3) ? make_call_id() : NULL;
        uint32_t expires_s = make_expires();
        const mcreg_setting *settings;
        size_t n_settings;
        switch (p->kind) {
        case 1:
            settings = rich_settings;
            n_settings = N_RICH;
            break;
        case 2: settings = many_settings(&n_settings); break;
        case 3:
            settings = huge_settings(&n_settings);
            contact = sized_text("sip:", "\xe2\x82\xac", MCREG_MAX_URI_LEN);
            call_id = sized_text("", "\xf0\x9f\x93\x9e", MCREG_MAX_URI_LEN);
            break;
        default: settings = random_settings(&n_settings); break;
        }
        if (p->kind)
            expires_s = 86400u * 365;
        add_made(p->user_ix, ue, p->kind != 0);
        op_register(now, p->user_ix, ue, contact, str_id(call_id), make_cseq(), expires_s,
                    settings, n_settings);
        made_registered();
    }
    free(plans);

    /* Refreshes: a new expiry (maybe earlier), the contact kept or
     * changed, the Call-ID kept (CSeq up), changed or cleared, the
     * settings replaced. A record past its expiry by now (or already
     * removed as lapsed by a register of its user) is registered anew: a
     * new logon, registered_at now and no contact kept (mcreg_register's
     * lapsed-record rule); the random draws are those of a refresh all the
     * same, so the rest of the state does not depend on which records
     * lapsed. */
    size_t n_created = n_mades;
    for (size_t i = 0; i < n_created; i++) {
        const made *d = &mades[i];
        if (d->special || below(3) != 0)
            continue;
        now += 1 + below(10000);
        const char *contact = below(3) == 0 ? NULL : make_contact(d->user_ix, 99);
        uint32_t call_id;
        uint32_t cseq;
        switch (below(3)) {
        case 0:
            if (d->call_id && d->cseq < UINT32_MAX) {
                call_id = d->call_id;
                cseq = d->cseq + 1;
                break;
            }
            /* fall through */
        case 1:
            call_id = str_id(make_call_id());
            cseq = make_cseq();
            break;
        default:
            call_id = 0;
            cseq = make_cseq();
            break;
        }
        size_t n_settings;
        const mcreg_setting *settings = random_settings(&n_settings);
        op_register(now, d->user_ix, d->ue, contact, call_id, cseq, make_expires(), settings,
                    n_settings);
    }

    /* An expiry: every record at most 2 s long is gone by now. */
    now += 2000 + below(3000);
    op_expire(now);

    /* Deregistrations: a few records, and every record of user 2. */
    for (size_t i = 0; i < n_mades; i++) {
        const made *d = &mades[i];
        if (!made_record(d) || d->special || d->user_ix == 2 || below(10) != 0)
            continue;
        now += below(100);
        op_deregister(now, d->user_ix, d->ue);
    }
    if (n_users > 2 && model_user_ue_count(mdl, 2)) {
        now += 1;
        op_deregister_user(now, 2);
    }

    /* User 0's registration at the end of time (made first, above). */
    if (n_users > 0)
        add_made(0, ue_at_the_end, 0);

    /* Limits. They come last: limits are not enforced on what is there. */
    for (unsigned u = 0; u < n_users; u++) {
        size_t alive = model_user_ue_count(mdl, u);
        int set = 1;
        uint32_t max = 0;
        if (u == 1)
            max = 2; /* a user with a limit and no record */
        else if (u == 2)
            max = 0; /* all its records deregistered: the limit alone */
        else if (u % 5 == 3 && u != 3)
            max = alive ? (uint32_t)alive - 1 : 0; /* over its limit, or 0 */
        else if (u % 7 == 4)
            max = UINT32_MAX;
        else if (u % 6 == 5)
            max = 1 + below(4);
        else
            set = 0;
        if (u == 3) {
            /* set, then cleared: no limit */
            op_set_limit(u, 7);
            op_clear_limit(u);
        }
        if (set) {
            if (u % 4 == 0) /* overwritten */
                op_set_limit(u, max / 2 + 1);
            op_set_limit(u, max);
        }
    }
}

/* ---- checks against the model -------------------------------------------- */

/* Every record, count, limit, order and the next expiry (model_check_all). */
static void verify(const mcreg_registry *reg, const char *what)
{
    char why[1024];
    CHECK(model_check_all(mdl, reg, why, sizeof why) == 0, "%s: %s", what, why);
}

static int shares_a_ue(void)
{
    for (uint32_t x = 0; x < model_ue_span(mdl); x++)
        if (model_ue_record_count(mdl, x) > 1)
            return 1;
    return 0;
}

/* ---- registries ---------------------------------------------------------- */

static mcreg_registry *new_registry(uint64_t hash_seed, int ue_exclusive)
{
    mcreg_options *o;
    mcreg_registry *reg;
    CHECK(mcreg_options_new(&o) == MCREG_OK, "mcreg_options_new failed");
    mcreg_options_set_ue_exclusive(o, ue_exclusive);
    mcreg_options_set_hash_seed(o, hash_seed);
    int rc = mcreg_registry_new(&reg, o);
    mcreg_options_free(o);
    CHECK(rc == MCREG_OK, "mcreg_registry_new: %s", mcreg_strerror(rc));
    return reg;
}

static void snapshot(const mcreg_registry *reg, uint8_t **buf, size_t *len, const char *what)
{
    int rc = mcreg_snapshot(reg, buf, len);
    CHECK(rc == MCREG_OK, "%s: mcreg_snapshot: %s", what, mcreg_strerror(rc));
}

/* ---- JSON (the format of examples/mcreg-dump) ------------------------------ */

static void json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

static void json_opt(FILE *f, const char *s)
{
    if (s)
        json_string(f, s, strlen(s));
    else
        fputs("null", f);
}

static int rec_cmp(const void *a, const void *b)
{
    const model_record *x = *(const model_record *const *)a, *y = *(const model_record *const *)b;
    int c = strcmp(user_ids[x->user], user_ids[y->user]);
    return c ? c : strcmp(ue_ids[x->ue], ue_ids[y->ue]);
}

static int user_cmp(const void *a, const void *b)
{
    return strcmp(user_ids[*(const uint32_t *)a], user_ids[*(const uint32_t *)b]);
}

static void write_json(FILE *f)
{
    const model_record **recs = NULL;
    size_t n = model_records(mdl, &recs);
    uint32_t *users = malloc((n_user_ids + 1) * sizeof *users);
    if (n == (size_t)-1 || !users)
        die(3, "out of memory");
    if (n)
        qsort(recs, n, sizeof *recs, rec_cmp);
    for (size_t i = 0; i < n; i++) {
        const model_record *r = recs[i];
        fputs("{\"user\":", f);
        json_string(f, user_ids[r->user], strlen(user_ids[r->user]));
        fputs(",\"ue\":", f);
        json_string(f, ue_ids[r->ue], strlen(ue_ids[r->ue]));
        fputs(",\"contact\":", f);
        json_opt(f, str_of(r->contact));
        fputs(",\"call_id\":", f);
        json_opt(f, str_of(r->call_id));
        fprintf(f, ",\"cseq\":%" PRIu32 ",\"registered_at\":%" PRIu64 ",\"expires_at\":%" PRIu64
                   ",\"settings\":[",
                r->cseq, r->registered_at, r->expires_at);
        const mcreg_setting *settings = NULL;
        size_t n_settings = r->settings ? value_settings(NULL, r->settings, &settings) : 0;
        for (size_t k = 0; k < n_settings; k++) {
            const mcreg_setting *s = &settings[k];
            fputs(k ? ",{\"key\":" : "{\"key\":", f);
            json_string(f, s->key, strlen(s->key));
            switch (s->type) {
            case MCREG_VAL_INT:
                fprintf(f, ",\"type\":\"int\",\"value\":%" PRId64 "}", s->v.i);
                break;
            case MCREG_VAL_BOOL:
                fprintf(f, ",\"type\":\"bool\",\"value\":%s}", s->v.b ? "true" : "false");
                break;
            case MCREG_VAL_TEXT:
                fputs(",\"type\":\"text\",\"value\":", f);
                json_string(f, s->v.text.ptr, s->v.text.len);
                fputc('}', f);
                break;
            case MCREG_VAL_BYTES:
                fputs(",\"type\":\"bytes\",\"value\":\"", f);
                for (size_t b = 0; b < s->v.bytes.len; b++)
                    fprintf(f, "%02x", s->v.bytes.ptr[b]);
                fputs("\"}", f);
                break;
            }
        }
        fputs("]}\n", f);
    }
    n = 0;
    for (uint32_t u = 0; u < n_user_ids; u++)
        if (model_user_max_ues(mdl, u, &(uint32_t){0}) == MCREG_OK)
            users[n++] = u;
    qsort(users, n, sizeof *users, user_cmp);
    for (size_t i = 0; i < n; i++) {
        uint32_t max = 0;
        model_user_max_ues(mdl, users[i], &max);
        fputs("{\"user\":", f);
        json_string(f, user_ids[users[i]], strlen(user_ids[users[i]]));
        fprintf(f, ",\"max_ues\":%" PRIu32 "}\n", max);
    }
    free(recs);
    free(users);
}

/* ---- main ---------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno == ERANGE || v > UINT64_MAX)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        die(2, "cannot create %s", path);
    int ok = fwrite(buf, 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok)
        die(2, "cannot write %s", path);
}

int main(int argc, char **argv)
{
    uint64_t seed, users;
    if (argc < 4 || argc > 5 || !parse_u64(argv[1], &seed) || !parse_u64(argv[2], &users) ||
        users > MAX_USERS) {
        fprintf(stderr, "usage: snapgen SEED USERS OUTFILE [JSONFILE]\n"
                        "  SEED: 0..2^64-1; USERS: 0..%u\n", MAX_USERS);
        return 1;
    }
    generate(seed, (unsigned)users);

    /* The registry that saw the operations in order. */
    mcreg_registry *a = new_registry(seed ^ 0x5eed, 0);
    for (size_t i = 0; i < n_ops; i++)
        apply(a, &ops[i]);
    verify(a, "built");

    /* Another hash seed, same-instant registrations in reverse order. */
    mcreg_registry *b = new_registry(~seed * 31, 0);
    for (size_t i = 0; i < n_ops;) {
        size_t j = i + 1;
        if (ops[i].kind == OP_REGISTER && ops[i].creates)
            while (j < n_ops && ops[j].kind == OP_REGISTER && ops[j].creates &&
                   ops[j].now == ops[i].now)
                j++;
        for (size_t k = j; k > i; k--)
            apply(b, &ops[k - 1]);
        i = j;
    }
    verify(b, "rebuilt");

    uint8_t *snap_a, *snap_b, *snap_c;
    size_t len_a, len_b, len_c;
    snapshot(a, &snap_a, &len_a, "built");
    snapshot(b, &snap_b, &len_b, "rebuilt");
    CHECK(len_a == len_b && memcmp(snap_a, snap_b, len_a) == 0,
          "one state, two snapshots (%zu and %zu bytes)", len_a, len_b);
    mcreg_buffer_free(b, snap_b);
    mcreg_registry_free(b);

    /* Restored: the same state, the same bytes. */
    mcreg_registry *c = new_registry(seed + 1, 0);
    int rc = mcreg_restore(c, snap_a, len_a, 0);
    CHECK(rc == MCREG_OK, "restore: %s", mcreg_strerror(rc));
    verify(c, "restored");
    snapshot(c, &snap_c, &len_c, "restored");
    CHECK(len_a == len_c && memcmp(snap_a, snap_c, len_a) == 0,
          "the snapshot of the restored state differs (%zu and %zu bytes)", len_a, len_c);
    mcreg_buffer_free(c, snap_c);
    mcreg_registry_free(c);

    /* UE exclusive on: a shared UE is a format error, and changes nothing. */
    mcreg_registry *x = new_registry(seed + 2, 1);
    rc = mcreg_restore(x, snap_a, len_a, 0);
    if (shares_a_ue()) {
        CHECK(rc == MCREG_ERR_FORMAT, "restore of shared UEs with UE exclusive on: %s",
              mcreg_strerror(rc));
        CHECK(mcreg_record_count(x) == 0, "a failed restore changed the registry");
    } else {
        CHECK(rc == MCREG_OK, "restore with UE exclusive on: %s", mcreg_strerror(rc));
        verify(x, "restored, UE exclusive");
    }
    mcreg_registry_free(x);

    write_file(argv[3], snap_a, len_a);
    mcreg_buffer_free(a, snap_a);
    mcreg_registry_free(a);

    if (argc == 5) {
        FILE *f = fopen(argv[4], "w");
        if (!f)
            die(2, "cannot create %s", argv[4]);
        write_json(f);
        if (ferror(f) | fclose(f))
            die(2, "cannot write %s", argv[4]);
    }

    model_free(mdl);
    free(user_ids);
    free(ue_ids);
    free(strs);
    free(sets);
    free(mades);
    free(ops);
    arena_free();
    return 0;
}
