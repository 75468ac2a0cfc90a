/* Snapshot and restore: round trips of rich states, deterministic bytes,
 * golden files, restore semantics, every truncation of a snapshot, and a
 * corpus of malformed and hostile inputs built byte by byte.
 *
 * Data files are read from tests/data relative to the current directory
 * (make runs the runner from the repository root); MCREG_TEST_DATA names
 * another directory. MCREG_WRITE_GOLDEN=path writes the snapshot of the
 * golden state to that path (see tests/data/README.md). */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcreg.h"
#include "suites.h"
#include "testutil.h"

/* ======================================================================== */
/* Byte builder: CBOR written head by head, so that every test input says  */
/* exactly which bytes it holds.                                            */

typedef struct bb {
    uint8_t *p;
    size_t len, cap;
} bb;

static void bb_init(bb *b)
{
    memset(b, 0, sizeof(*b));
}

static void bb_free(bb *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static void bb_reset(bb *b)
{
    b->len = 0;
}

static void bb_put(bb *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void bb_byte(bb *b, unsigned x)
{
    uint8_t c = (uint8_t)x;
    bb_put(b, &c, 1);
}

static void bb_fill(bb *b, unsigned x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bb_byte(b, x);
}

/* A head whose argument takes `width` bytes: 0 (in the initial byte), 1, 2,
 * 4 or 8. */
static void bb_head_w(bb *b, unsigned major, uint64_t v, int width)
{
    unsigned ai = width == 0 ? (unsigned)v
                  : width == 1 ? 24u
                  : width == 2 ? 25u
                  : width == 4 ? 26u
                               : 27u;
    bb_byte(b, major << 5 | ai);
    for (int i = width - 1; i >= 0; i--)
        bb_byte(b, (unsigned)(v >> (8 * i)) & 0xffu);
}

/* The shortest head (RFC 8949 section 4.2.1). */
static void bb_head(bb *b, unsigned major, uint64_t v)
{
    int w = v < 24 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    bb_head_w(b, major, v, w);
}

static void bb_uint(bb *b, uint64_t v)
{
    bb_head(b, 0, v);
}

static void bb_textn(bb *b, const char *s, size_t n)
{
    bb_head(b, 3, n);
    bb_put(b, s, n);
}

static void bb_text(bb *b, const char *s)
{
    bb_textn(b, s, strlen(s));
}

/* A text string of n copies of byte c. */
static void bb_text_rep(bb *b, unsigned c, size_t n)
{
    bb_head(b, 3, n);
    bb_fill(b, c, n);
}

static void bb_array(bb *b, uint64_t n)
{
    bb_head(b, 4, n);
}

static void bb_map(bb *b, uint64_t n)
{
    bb_head(b, 5, n);
}

static void bb_tag(bb *b, uint64_t n)
{
    bb_head(b, 6, n);
}

/* Raw bytes given as hex digits; spaces are ignored. */
static void bb_hex(bb *b, const char *hex)
{
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else if (*p == ' ')
            continue;
        else
            ck_abort_msg("bad hex digit in \"%s\"", hex);
        if (hi < 0) {
            hi = v;
        } else {
            bb_byte(b, (unsigned)(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0)
        ck_abort_msg("odd number of hex digits in \"%s\"", hex);
}

/* The self-described CBOR tag 55799: d9 d9 f7. */
static void bb_self(bb *b)
{
    bb_tag(b, 55799);
}

static void bb_version(bb *b, uint64_t major, uint64_t minor)
{
    bb_array(b, 2);
    bb_uint(b, major);
    bb_uint(b, minor);
}

/* The start of a snapshot: the tag and a top-level map of `pairs` pairs,
 * the first being 0: [1, 0]. */
static void snap_open(bb *b, uint64_t pairs)
{
    bb_self(b);
    bb_map(b, pairs);
    bb_uint(b, 0);
    bb_version(b, 1, 0);
}

/* A snapshot with keys 0 and 1 only, up to the head of an array of n
 * records, which the caller writes. */
static void snap_records(bb *b, uint64_t n)
{
    snap_open(b, 2);
    bb_uint(b, 1);
    bb_array(b, n);
}

/* A snapshot with keys 0 and 2 only, up to the head of an array of n
 * limits. */
static void snap_limits(bb *b, uint64_t n)
{
    snap_open(b, 2);
    bb_uint(b, 2);
    bb_array(b, n);
}

/* A record map with the five required fields, and room for `extra` more
 * pairs that the caller writes. */
static void rec_open(bb *b, const char *user, const char *ue, uint64_t reg, uint64_t exp,
                     uint32_t cseq, unsigned extra)
{
    bb_map(b, 5 + extra);
    bb_uint(b, 0);
    bb_text(b, user);
    bb_uint(b, 1);
    bb_text(b, ue);
    bb_uint(b, 2);
    bb_uint(b, reg);
    bb_uint(b, 3);
    bb_uint(b, exp);
    bb_uint(b, 4);
    bb_uint(b, cseq);
}

/* The corpus's default record: ("u1", "e1", registered 1000, expires
 * 90000, CSeq 1). Field `field` (0..4) is written as the raw bytes `hex`
 * instead, or left out when hex is NULL; field -1 changes nothing. */
static void rec_alt(bb *b, int field, const char *hex)
{
    static const char *const dflt[5] = {"62 75 31", "62 65 31", "19 03 e8", "1a 00 01 5f 90", "01"};
    bb_map(b, field >= 0 && hex == NULL ? 4 : 5);
    for (int k = 0; k < 5; k++) {
        if (k == field && hex == NULL)
            continue;
        bb_uint(b, (uint64_t)k);
        bb_hex(b, k == field ? hex : dflt[k]);
    }
}

/* A whole snapshot of one default record. */
static void snap_one(bb *b)
{
    snap_records(b, 1);
    rec_alt(b, -1, NULL);
}

/* ======================================================================== */
/* Small helpers                                                            */

static char *sn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d)
        abort();
    memcpy(d, s, n);
    return d;
}

/* Up to 48 bytes of an input as hex, into out. */
static const char *sn_hex(char *out, size_t cap, const uint8_t *p, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    if (len == 0) {
        snprintf(out, cap, "(empty)");
        return out;
    }
    size_t n = len < 48 ? len : 48;
    for (size_t i = 0; i < n && o + 3 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
    if (n < len && o < cap)
        snprintf(out + o, cap - o, "... (%zu bytes)", len);
    return out;
}

static double sn_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fails with the first differing offset when two byte strings differ. */
static void sn_assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want,
                            size_t want_len, const char *what)
{
    size_t n = got_len < want_len ? got_len : want_len;
    size_t i = 0;
    while (i < n && got[i] == want[i])
        i++;
    if (i == n && got_len == want_len)
        return;
    size_t from = i > 8 ? i - 8 : 0;
    char h1[256], h2[256];
    ck_abort_msg("%s: bytes differ at offset %zu (lengths %zu and %zu)\n  got  from %zu: %s\n"
                 "  want from %zu: %s",
                 what, i, got_len, want_len, from,
                 sn_hex(h1, sizeof(h1), got + from, got_len - from), from,
                 sn_hex(h2, sizeof(h2), want + from, want_len - from));
}

/* Fails with the first differing line when two texts differ. */
static void sn_assert_text(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want) == 0)
        return;
    size_t i = 0, line = 1, start = 0;
    while (got[i] && got[i] == want[i]) {
        if (got[i] == '\n') {
            line++;
            start = i + 1;
        }
        i++;
    }
    ck_abort_msg("%s: differs at line %zu\n  got:  %.300s\n  want: %.300s", what, line,
                 got + start, want + start);
}

/* A list of names (users or UEs), without repeats. */
typedef struct names {
    char **v;
    size_t n, cap;
} names;

static void names_add(names *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        if (!s->v)
            abort();
    }
    s->v[s->n++] = sn_strdup(x);
}

static void names_free(names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static void names_from(names *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        names_add(s, v[i]);
}

/*
 * Everything observable about the given users and UEs: tu_state_dump(),
 * then for each user its own limit, its UE count and its UEs in
 * mcreg_user_foreach order, and for each UE the user mcreg_find_ue gives.
 */
static char *sn_dump(const mcreg_registry *reg, const names *users, const names *ues)
{
    char *d = tu_state_dump(reg);
    if (!d)
        ck_abort_msg("tu_state_dump failed");
    tu_events t;
    tu_events_init(&t);
    tu_events_append(&t, d);
    free(d);
    char buf[128];
    for (size_t i = 0; users && i < users->n; i++) {
        uint32_t max = 0;
        int rc = mcreg_user_max_ues(reg, users->v[i], &max);
        tu_events list;
        tu_events_init(&list);
        int frc = mcreg_user_foreach(reg, users->v[i], tu_collect_ue, &list);
        tu_events_append(&t, "user ");
        tu_events_append(&t, users->v[i]);
        snprintf(buf, sizeof(buf), " n=%zu limit=%d:%u foreach=%d [",
                 mcreg_user_ue_count(reg, users->v[i]), rc, rc == MCREG_OK ? (unsigned)max : 0u,
                 frc);
        tu_events_append(&t, buf);
        tu_events_append(&t, list.log);
        tu_events_append(&t, "]\n");
        tu_events_free(&list);
    }
    for (size_t i = 0; ues && i < ues->n; i++) {
        const mcreg_record *r = mcreg_find_ue(reg, ues->v[i]);
        tu_events_append(&t, "ue ");
        tu_events_append(&t, ues->v[i]);
        tu_events_append(&t, " -> ");
        tu_events_append(&t, r ? mcreg_record_user_id(r) : "-");
        tu_events_append(&t, "\n");
    }
    return t.log;
}

/* Compares every record of `a` with the same pair in `b`, byte for byte
 * (the text dump cannot show bytes after a U+0000 in a text value). */
typedef struct sn_cmp {
    const mcreg_registry *other;
    char why[512];
} sn_cmp;

static int sn_str_eq(const char *x, const char *y)
{
    return (x == NULL && y == NULL) || (x && y && strcmp(x, y) == 0);
}

static int sn_cmp_visit(const mcreg_record *r, void *ud)
{
    sn_cmp *c = ud;
    const char *user = mcreg_record_user_id(r), *ue = mcreg_record_ue_id(r);
    const mcreg_record *o = mcreg_find(c->other, user, ue);
#define SN_CMP_FAIL(...)                                                                       \
    do {                                                                                       \
        int n_ = snprintf(c->why, sizeof(c->why), "%s/%s: ", user, ue);                        \
        snprintf(c->why + n_, sizeof(c->why) - (size_t)n_, __VA_ARGS__);                       \
        return 1;                                                                              \
    } while (0)
    if (!o)
        SN_CMP_FAIL("missing");
    if (!sn_str_eq(mcreg_record_contact(r), mcreg_record_contact(o)))
        SN_CMP_FAIL("contact");
    if (!sn_str_eq(mcreg_record_call_id(r), mcreg_record_call_id(o)))
        SN_CMP_FAIL("call-id");
    if (mcreg_record_cseq(r) != mcreg_record_cseq(o))
        SN_CMP_FAIL("cseq");
    if (mcreg_record_registered_at(r) != mcreg_record_registered_at(o))
        SN_CMP_FAIL("registered_at");
    if (mcreg_record_expires_at(r) != mcreg_record_expires_at(o))
        SN_CMP_FAIL("expires_at");
    size_t n = mcreg_record_setting_count(r);
    if (n != mcreg_record_setting_count(o))
        SN_CMP_FAIL("setting count %zu vs %zu", n, mcreg_record_setting_count(o));
    for (size_t i = 0; i < n; i++) {
        const mcreg_setting *s = mcreg_record_setting_at(r, i);
        const mcreg_setting *t = mcreg_record_setting_at(o, i);
        if (!s || !t || strcmp(s->key, t->key) != 0 || s->type != t->type)
            SN_CMP_FAIL("setting %zu key or type", i);
        switch (s->type) {
        case MCREG_VAL_INT:
            if (s->v.i != t->v.i)
                SN_CMP_FAIL("setting %s int", s->key);
            break;
        case MCREG_VAL_BOOL:
            if (s->v.b != t->v.b)
                SN_CMP_FAIL("setting %s bool", s->key);
            break;
        case MCREG_VAL_TEXT:
            if (s->v.text.len != t->v.text.len || !t->v.text.ptr ||
                memcmp(s->v.text.ptr, t->v.text.ptr, s->v.text.len) != 0 ||
                t->v.text.ptr[t->v.text.len] != '\0')
                SN_CMP_FAIL("setting %s text", s->key);
            break;
        case MCREG_VAL_BYTES:
            if (s->v.bytes.len != t->v.bytes.len || !t->v.bytes.ptr ||
                memcmp(s->v.bytes.ptr, t->v.bytes.ptr, s->v.bytes.len) != 0)
                SN_CMP_FAIL("setting %s bytes", s->key);
            break;
        }
    }
#undef SN_CMP_FAIL
    return 0;
}

static void sn_assert_same_records(const mcreg_registry *want, const mcreg_registry *got,
                                   const char *what)
{
    ck_assert_msg(mcreg_record_count(want) == mcreg_record_count(got),
                  "%s: %zu records, expected %zu", what, mcreg_record_count(got),
                  mcreg_record_count(want));
    sn_cmp c = {got, ""};
    int rc = mcreg_foreach(want, sn_cmp_visit, &c);
    ck_assert_msg(rc == MCREG_OK, "%s: record %s", what, c.why);
}

/* ---- registries ----------------------------------------------------------- */

typedef struct sn_cfg {
    int shared;            /* UE exclusive off */
    uint64_t seed;         /* hash seed, when set_seed */
    int set_seed;
    uint32_t max_ues;
    int logoff;
    mcreg_event_fn fn;     /* callback and its user data; NULL: none */
    void *ud;
    const mcreg_allocator *alloc;
} sn_cfg;

static mcreg_registry *sn_new_cfg(const sn_cfg *c)
{
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_ue_exclusive(o, !c->shared);
    if (c->set_seed)
        mcreg_options_set_hash_seed(o, c->seed);
    mcreg_options_set_max_ues(o, c->max_ues);
    mcreg_options_set_notify_logoff(o, c->logoff);
    if (c->fn)
        mcreg_options_set_event_callback(o, c->fn, c->ud);
    if (c->alloc)
        mcreg_options_set_allocator(o, c->alloc);
    mcreg_registry *reg = NULL;
    int rc = mcreg_registry_new(&reg, o);
    mcreg_options_free(o);
    ck_assert_msg(rc == MCREG_OK && reg, "mcreg_registry_new: %d", rc);
    return reg;
}

/* A registry with UE exclusive on (shared == 0) or off, with the event
 * recorder when ev is given. */
static mcreg_registry *sn_new(int shared, tu_events *ev)
{
    sn_cfg c = {0};
    c.shared = shared;
    if (ev) {
        c.fn = tu_events_cb;
        c.ud = ev;
    }
    return sn_new_cfg(&c);
}

/* The snapshot of reg, copied into a malloc'd buffer. */
static uint8_t *sn_take(const mcreg_registry *reg, size_t *len)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = mcreg_snapshot(reg, &buf, &n);
    ck_assert_msg(rc == MCREG_OK, "mcreg_snapshot: %d (%s)", rc, mcreg_strerror(rc));
    ck_assert_msg(buf != NULL && n > 0, "mcreg_snapshot: empty output");
    uint8_t *copy = malloc(n);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, n);
    mcreg_buffer_free(reg, buf);
    *len = n;
    return copy;
}

static void sn_restore_ok(mcreg_registry *reg, const uint8_t *buf, size_t len, uint64_t now,
                          const char *what)
{
    int rc = mcreg_restore(reg, buf, len, now);
    char h[256];
    ck_assert_msg(rc == MCREG_OK, "%s: mcreg_restore gave %d (%s); input %s", what, rc,
                  mcreg_strerror(rc), sn_hex(h, sizeof(h), buf, len));
}

static void sn_reg(mcreg_registry *reg, const char *user, const char *ue, uint32_t exp,
                   uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, exp);
    int rc = mcreg_register(reg, &b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "register %s/%s: %d", user, ue, rc);
}

static void sn_reg_full(mcreg_registry *reg, const char *user, const char *ue, uint64_t now,
                        uint32_t exp, const char *contact, const char *call_id, uint32_t cseq,
                        const mcreg_setting *s, size_t n)
{
    mcreg_binding b = tu_binding(user, ue, exp);
    b.contact = contact;
    b.call_id = call_id;
    b.cseq = cseq;
    b.settings = s;
    b.n_settings = n;
    mcreg_outcome out = (mcreg_outcome)-1;
    int rc = mcreg_register(reg, &b, now, &out);
    ck_assert_msg(rc == MCREG_OK && out == MCREG_CREATED, "register %s/%s: %d", user, ue, rc);
}

static void sn_limit(mcreg_registry *reg, const char *user, uint32_t max)
{
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, user, max), MCREG_OK);
}

/* ---- expected records written as literals -------------------------------- */

typedef struct exp_setting {
    const char *key;
    mcreg_value_type type;
    int64_t i; /* INT; BOOL as 0 or 1 */
    const char *data; /* TEXT, BYTES */
    size_t len;
} exp_setting;

typedef struct exp_record {
    const char *user, *ue, *contact, *call_id;
    uint32_t cseq;
    uint64_t registered_at, expires_at;
    size_t n_settings;
    exp_setting settings[8];
} exp_record;

typedef struct exp_limit {
    const char *user;
    uint32_t max;
} exp_limit;

static void sn_check_record(const mcreg_registry *reg, const exp_record *e, const char *what)
{
    const mcreg_record *r = mcreg_find(reg, e->user, e->ue);
    ck_assert_msg(r != NULL, "%s: no record %s/%s", what, e->user, e->ue);
    const char *c = mcreg_record_contact(r), *k = mcreg_record_call_id(r);
    ck_assert_msg(sn_str_eq(c, e->contact), "%s: %s/%s contact %s, expected %s", what, e->user,
                  e->ue, c ? c : "(none)", e->contact ? e->contact : "(none)");
    ck_assert_msg(sn_str_eq(k, e->call_id), "%s: %s/%s call-id %s, expected %s", what, e->user,
                  e->ue, k ? k : "(none)", e->call_id ? e->call_id : "(none)");
    ck_assert_msg(mcreg_record_cseq(r) == e->cseq, "%s: %s/%s cseq %u, expected %u", what,
                  e->user, e->ue, (unsigned)mcreg_record_cseq(r), (unsigned)e->cseq);
    ck_assert_msg(mcreg_record_registered_at(r) == e->registered_at,
                  "%s: %s/%s registered_at %llu, expected %llu", what, e->user, e->ue,
                  (unsigned long long)mcreg_record_registered_at(r),
                  (unsigned long long)e->registered_at);
    ck_assert_msg(mcreg_record_expires_at(r) == e->expires_at,
                  "%s: %s/%s expires_at %llu, expected %llu", what, e->user, e->ue,
                  (unsigned long long)mcreg_record_expires_at(r),
                  (unsigned long long)e->expires_at);
    ck_assert_msg(mcreg_record_setting_count(r) == e->n_settings,
                  "%s: %s/%s has %zu settings, expected %zu", what, e->user, e->ue,
                  mcreg_record_setting_count(r), e->n_settings);
    for (size_t i = 0; i < e->n_settings; i++) {
        const exp_setting *x = &e->settings[i];
        const mcreg_setting *s = mcreg_record_setting_at(r, i);
        ck_assert_msg(s && strcmp(s->key, x->key) == 0 && s->type == x->type,
                      "%s: %s/%s setting %zu is %s type %d, expected %s type %d", what, e->user,
                      e->ue, i, s ? s->key : "(none)", s ? (int)s->type : -1, x->key,
                      (int)x->type);
        ck_assert_msg(mcreg_record_setting_find(r, x->key) == s, "%s: setting_find(%s)", what,
                      x->key);
        switch (x->type) {
        case MCREG_VAL_INT:
            ck_assert_msg(s->v.i == x->i, "%s: %s/%s %s = %lld, expected %lld", what, e->user,
                          e->ue, x->key, (long long)s->v.i, (long long)x->i);
            break;
        case MCREG_VAL_BOOL:
            ck_assert_msg(s->v.b == (int)x->i, "%s: %s/%s %s = %d, expected %d", what, e->user,
                          e->ue, x->key, s->v.b, (int)x->i);
            break;
        case MCREG_VAL_TEXT:
            ck_assert_msg(s->v.text.len == x->len && s->v.text.ptr &&
                              memcmp(s->v.text.ptr, x->data, x->len) == 0 &&
                              s->v.text.ptr[x->len] == '\0',
                          "%s: %s/%s %s text differs (len %zu, expected %zu)", what, e->user,
                          e->ue, x->key, s->v.text.len, x->len);
            break;
        case MCREG_VAL_BYTES:
            ck_assert_msg(s->v.bytes.len == x->len && s->v.bytes.ptr &&
                              memcmp(s->v.bytes.ptr, x->data, x->len) == 0,
                          "%s: %s/%s %s bytes differ (len %zu, expected %zu)", what, e->user,
                          e->ue, x->key, s->v.bytes.len, x->len);
            break;
        }
    }
}

/* The registry holds exactly these records and these limits; each of
 * `no_limit` has no limit of its own. */
static void sn_check_state(const mcreg_registry *reg, const exp_record *recs, size_t n,
                           const exp_limit *lims, size_t nl, const char *const *no_limit,
                           size_t nn, const char *what)
{
    ck_assert_msg(mcreg_record_count(reg) == n, "%s: %zu records, expected %zu", what,
                  mcreg_record_count(reg), n);
    for (size_t i = 0; i < n; i++)
        sn_check_record(reg, &recs[i], what);
    for (size_t i = 0; i < nl; i++) {
        uint32_t max = 12345;
        int rc = mcreg_user_max_ues(reg, lims[i].user, &max);
        ck_assert_msg(rc == MCREG_OK && max == lims[i].max, "%s: limit of %s: rc %d max %u, "
                      "expected %u", what, lims[i].user, rc, (unsigned)max,
                      (unsigned)lims[i].max);
    }
    for (size_t i = 0; i < nn; i++) {
        uint32_t max = 12345;
        int rc = mcreg_user_max_ues(reg, no_limit[i], &max);
        ck_assert_msg(rc == MCREG_ERR_NOT_FOUND && max == 12345,
                      "%s: %s has a limit (rc %d, max %u)", what, no_limit[i], rc,
                      (unsigned)max);
    }
}

/* ---- data files -------------------------------------------------------------- */

static void sn_data_path(char *out, size_t cap, const char *name)
{
    const char *dir = getenv("MCREG_TEST_DATA");
    if (!dir || !*dir)
        dir = "tests/data";
    snprintf(out, cap, "%s/%s", dir, name);
}

static uint8_t *sn_read_data(const char *name, size_t *len)
{
    char path[1024];
    sn_data_path(path, sizeof(path), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        ck_abort_msg("cannot open %s: %s (the runner reads its data files relative to the "
                     "repository root, where make runs it; MCREG_TEST_DATA may name the "
                     "tests/data directory instead)",
                     path, strerror(errno));
    bb b;
    bb_init(&b);
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        bb_put(&b, chunk, n);
    int err = ferror(f);
    fclose(f);
    ck_assert_msg(!err, "error reading %s", path);
    ck_assert_msg(b.len > 0, "%s is empty", path);
    *len = b.len;
    return b.p;
}

static void sn_write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    size_t n = fwrite(p, 1, len, f);
    int rc = fclose(f);
    ck_assert_msg(n == len && rc == 0, "cannot write %s", path);
}

/* ======================================================================== */
/* A rich state, described record by record so that it can be built in any  */
/* order.                                                                   */

static uint8_t sn_all_bytes[256];
static char sn_text_long[4096];                   /* 4087 bytes: with its key, 4096 */
static char sn_uri_max[MCREG_MAX_URI_LEN + 1];    /* 2048 bytes */
static char sn_user_max[MCREG_MAX_ID_LEN + 1];    /* 1024 bytes, two-byte characters */
static char sn_ue_max[MCREG_MAX_ID_LEN + 1];      /* 1024 bytes, three-byte characters */
static char sn_keys64[MCREG_MAX_SETTINGS][8];
static mcreg_setting sn_settings64[MCREG_MAX_SETTINGS];

/* Every value type, the boundaries of each CBOR head size among them. */
static const mcreg_setting sn_pool[] = {
    {.key = "int-min", .type = MCREG_VAL_INT, .v.i = INT64_MIN},
    {.key = "int-max", .type = MCREG_VAL_INT, .v.i = INT64_MAX},
    {.key = "int-minus-1", .type = MCREG_VAL_INT, .v.i = -1},
    {.key = "int-0", .type = MCREG_VAL_INT, .v.i = 0},
    {.key = "int-23", .type = MCREG_VAL_INT, .v.i = 23},
    {.key = "int-24", .type = MCREG_VAL_INT, .v.i = 24},
    {.key = "int-minus-24", .type = MCREG_VAL_INT, .v.i = -24},
    {.key = "int-minus-25", .type = MCREG_VAL_INT, .v.i = -25},
    {.key = "int-255", .type = MCREG_VAL_INT, .v.i = 255},
    {.key = "int-256", .type = MCREG_VAL_INT, .v.i = 256},
    {.key = "int-65535", .type = MCREG_VAL_INT, .v.i = 65535},
    {.key = "int-65536", .type = MCREG_VAL_INT, .v.i = 65536},
    {.key = "int-2^32-1", .type = MCREG_VAL_INT, .v.i = 4294967295LL},
    {.key = "int-2^32", .type = MCREG_VAL_INT, .v.i = 4294967296LL},
    {.key = "int-minus-2^32", .type = MCREG_VAL_INT, .v.i = -4294967296LL},
    {.key = "int-minus-2^32-1", .type = MCREG_VAL_INT, .v.i = -4294967297LL},
    {.key = "text-empty", .type = MCREG_VAL_TEXT, .v.text = {NULL, 0}},
    {.key = "text-nul", .type = MCREG_VAL_TEXT, .v.text = {"a\0b", 3}},
    {.key = "text-only-nul", .type = MCREG_VAL_TEXT, .v.text = {"\0", 1}},
    {.key = "text-utf8", .type = MCREG_VAL_TEXT,
     .v.text = {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9}},
    {.key = "text-23", .type = MCREG_VAL_TEXT, .v.text = {"abcdefghijklmnopqrstuvw", 23}},
    {.key = "text-24", .type = MCREG_VAL_TEXT, .v.text = {"abcdefghijklmnopqrstuvwx", 24}},
    {.key = "text-long", .type = MCREG_VAL_TEXT, .v.text = {sn_text_long, 4087}},
    {.key = "bytes-empty", .type = MCREG_VAL_BYTES, .v.bytes = {NULL, 0}},
    {.key = "bytes-all", .type = MCREG_VAL_BYTES, .v.bytes = {sn_all_bytes, 256}},
    {.key = "bytes-nul", .type = MCREG_VAL_BYTES, .v.bytes = {sn_all_bytes, 1}},
    {.key = "bytes-24", .type = MCREG_VAL_BYTES, .v.bytes = {sn_all_bytes + 100, 24}},
    {.key = "bool-true", .type = MCREG_VAL_BOOL, .v.b = 1},
    {.key = "bool-false", .type = MCREG_VAL_BOOL, .v.b = 0},
    {.key = "bool-7", .type = MCREG_VAL_BOOL, .v.b = 7},
    {.key = "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", .type = MCREG_VAL_TEXT,
     .v.text = {"\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87", 8}},
};
#define SN_POOL_N (sizeof(sn_pool) / sizeof(sn_pool[0]))

static void sn_data_init(void)
{
    for (int i = 0; i < 256; i++)
        sn_all_bytes[i] = (uint8_t)i;
    memset(sn_text_long, 'x', 4087);
    sn_text_long[4087] = '\0';
    memcpy(sn_uri_max, "sip:", 4);
    memset(sn_uri_max + 4, 'c', MCREG_MAX_URI_LEN - 4);
    sn_uri_max[MCREG_MAX_URI_LEN] = '\0';
    /* "max-user-" (9) + 507 x "é" (1014) + "z" = 1024 bytes */
    size_t o = 0;
    memcpy(sn_user_max, "max-user-", 9);
    o = 9;
    for (int i = 0; i < 507; i++, o += 2)
        memcpy(sn_user_max + o, "\xc3\xa9", 2);
    sn_user_max[o++] = 'z';
    sn_user_max[o] = '\0';
    /* "max-ue-" (7) + 339 x "€" (1017) = 1024 bytes */
    memcpy(sn_ue_max, "max-ue-", 7);
    o = 7;
    for (int i = 0; i < 339; i++, o += 3)
        memcpy(sn_ue_max + o, "\xe2\x82\xac", 3);
    sn_ue_max[o] = '\0';
    for (int i = 0; i < MCREG_MAX_SETTINGS; i++) {
        snprintf(sn_keys64[i], sizeof(sn_keys64[i]), "k%02d", i);
        mcreg_setting *s = &sn_settings64[i];
        memset(s, 0, sizeof(*s));
        s->key = sn_keys64[i];
        switch (i % 4) {
        case 0:
            s->type = MCREG_VAL_INT;
            s->v.i = (int64_t)i * -1000003;
            break;
        case 1:
            s->type = MCREG_VAL_TEXT;
            s->v.text.ptr = sn_keys64[i];
            s->v.text.len = 3;
            break;
        case 2:
            s->type = MCREG_VAL_BYTES;
            s->v.bytes.ptr = sn_all_bytes;
            s->v.bytes.len = (size_t)i;
            break;
        default:
            s->type = MCREG_VAL_BOOL;
            s->v.b = i & 4;
            break;
        }
    }
}

typedef struct sn_rec {
    char *user, *ue;
    uint64_t now;
    uint32_t expires_s;
    const char *contact, *call_id;
    uint32_t cseq;
    const mcreg_setting *settings;
    size_t n_settings;
} sn_rec;

typedef struct sn_lim {
    char *user;
    uint32_t max;
} sn_lim;

typedef struct sn_spec {
    sn_rec *recs;
    size_t n_recs, cap_recs;
    sn_lim *lims;
    size_t n_lims, cap_lims;
    names users, ues; /* every name of the state, and a few unused ones */
} sn_spec;

static void sn_spec_rec(sn_spec *s, const char *user, const char *ue, const sn_rec *r)
{
    if (s->n_recs == s->cap_recs) {
        s->cap_recs = s->cap_recs ? 2 * s->cap_recs : 256;
        s->recs = realloc(s->recs, s->cap_recs * sizeof(*s->recs));
        if (!s->recs)
            abort();
    }
    sn_rec *d = &s->recs[s->n_recs++];
    *d = *r;
    d->user = sn_strdup(user);
    d->ue = sn_strdup(ue);
    names_add(&s->users, user);
    names_add(&s->ues, ue);
}

static void sn_spec_lim(sn_spec *s, const char *user, uint32_t max)
{
    if (s->n_lims == s->cap_lims) {
        s->cap_lims = s->cap_lims ? 2 * s->cap_lims : 64;
        s->lims = realloc(s->lims, s->cap_lims * sizeof(*s->lims));
        if (!s->lims)
            abort();
    }
    s->lims[s->n_lims].user = sn_strdup(user);
    s->lims[s->n_lims].max = max;
    s->n_lims++;
    names_add(&s->users, user);
}

static void sn_spec_free(sn_spec *s)
{
    for (size_t i = 0; i < s->n_recs; i++) {
        free(s->recs[i].user);
        free(s->recs[i].ue);
    }
    for (size_t i = 0; i < s->n_lims; i++)
        free(s->lims[i].user);
    free(s->recs);
    free(s->lims);
    names_free(&s->users);
    names_free(&s->ues);
    memset(s, 0, sizeof(*s));
}

static const char *const sn_contacts[] = {
    "sip:user@192.0.2.1:5060", "sips:user@[2001:db8::7]:5061;transport=tls",
    "sip:\xc3\xa9l\xc3\xa8ve@example.org", "tel:+15550100"};
static const char *const sn_call_ids[] = {"a84b4c76e66710@pc33.example", "c", "call-9@198.51.100.2"};

/*
 * 300 users with 1 to 4 UEs each (UE exclusive off: the UE ids come from a
 * pool of 200, so most UEs carry several users), records with and without
 * contact, Call-ID and settings, registered_at values with many ties; then
 * records at the extremes (registered_at 0, expires_at UINT64_MAX, CSeq 0
 * and UINT32_MAX, 64 settings, ids and URIs at their maximum length); and
 * limits of 0, 1, UINT32_MAX, on users with and without records.
 */
static void sn_spec_rich(sn_spec *s, int shared)
{
    sn_data_init();
    char user[64], ue[64];
    for (unsigned u = 0; u < 300; u++) {
        snprintf(user, sizeof(user), "user-%03u@mcptt.example", u);
        unsigned nue = 1 + (u * 7) % 4;
        for (unsigned j = 0; j < nue; j++) {
            if (shared)
                snprintf(ue, sizeof(ue), "ue-%03u", (u * 13 + j * 101) % 200);
            else
                snprintf(ue, sizeof(ue), "ue-%03u-%u", u, j);
            sn_rec r;
            memset(&r, 0, sizeof(r));
            r.now = 1000 + 10 * (uint64_t)((u * 31 + j * 17) % 50);
            r.expires_s = 1 + (u * 97 + j * 13) % 100000;
            r.contact = (u + j) % 3 ? sn_contacts[(u + j) % 4] : NULL;
            r.call_id = (u + j) % 4 ? sn_call_ids[(u * 3 + j) % 3] : NULL;
            r.cseq = (uint32_t)(u * 2654435761u + j);
            r.n_settings = (u + j) % 7;
            r.settings = sn_pool + (u * 5 + j * 3) % (SN_POOL_N - 6);
            sn_spec_rec(s, user, ue, &r);
        }
    }
    sn_rec r;
    memset(&r, 0, sizeof(r));
    r.now = 0;
    r.expires_s = UINT32_MAX;
    r.contact = sn_uri_max;
    r.call_id = "x";
    r.cseq = UINT32_MAX;
    r.settings = sn_settings64;
    r.n_settings = MCREG_MAX_SETTINGS;
    sn_spec_rec(s, "extreme@mcptt.example", "ue-x0", &r);

    memset(&r, 0, sizeof(r));
    r.now = UINT64_MAX - 1000; /* expires_at saturates at UINT64_MAX */
    r.expires_s = 1;
    r.cseq = 0;
    r.settings = sn_pool;
    r.n_settings = SN_POOL_N;
    sn_spec_rec(s, "extreme@mcptt.example", "ue-x1", &r);

    memset(&r, 0, sizeof(r));
    r.now = 5;
    r.expires_s = 7;
    r.call_id = sn_uri_max;
    r.contact = sn_uri_max;
    sn_spec_rec(s, sn_user_max, sn_ue_max, &r);

    memset(&r, 0, sizeof(r));
    r.now = 1000;
    r.expires_s = 10;
    r.cseq = 1;
    r.settings = sn_pool + 16;
    r.n_settings = 7;
    sn_spec_rec(s, "\xc3\xa9lodie@mcptt.example", "ue-\xe2\x82\xac", &r);

    sn_spec_lim(s, "user-000@mcptt.example", 0);
    sn_spec_lim(s, "user-001@mcptt.example", UINT32_MAX);
    sn_spec_lim(s, "user-002@mcptt.example", 1); /* it has 3 UEs: over its limit */
    for (unsigned u = 10; u < 300; u += 10) {
        snprintf(user, sizeof(user), "user-%03u@mcptt.example", u);
        sn_spec_lim(s, user, u % 7);
    }
    for (unsigned i = 0; i < 5; i++) {
        snprintf(user, sizeof(user), "limit-only-%u@mcptt.example", i);
        sn_spec_lim(s, user, i == 4 ? UINT32_MAX : i);
    }
    sn_spec_lim(s, sn_user_max, 2);
    names_add(&s->users, "nobody@mcptt.example");
    names_add(&s->ues, "ue-nowhere");
}

static uint64_t sn_rand(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return *st >> 33;
}

/* 0..n-1, shuffled unless seed is 0. */
static size_t *sn_order(size_t n, uint64_t seed)
{
    size_t *o = malloc((n ? n : 1) * sizeof(*o));
    ck_assert_ptr_nonnull(o);
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    if (seed) {
        uint64_t st = seed;
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(sn_rand(&st) % i);
            size_t t = o[i - 1];
            o[i - 1] = o[j];
            o[j] = t;
        }
    }
    return o;
}

/* Reorders each user's records, within the slots the shuffle gave them,
 * by descending now_ms: a register removes the user's records lapsed at
 * its now_ms, and this way none is (each earlier one expires after its
 * own now_ms, which is not earlier). */
static void sn_latest_first(const sn_spec *s, size_t *ro)
{
    for (size_t k = 0; k < s->n_recs; k++)
        for (size_t j = k + 1; j < s->n_recs; j++) {
            const sn_rec *a = &s->recs[ro[k]], *b = &s->recs[ro[j]];
            if (b->now > a->now && strcmp(a->user, b->user) == 0) {
                size_t t = ro[k];
                ro[k] = ro[j];
                ro[j] = t;
            }
        }
}

/* Builds the spec's state: its records in a shuffled order (each with its
 * own now_ms, each user's latest first), then its limits in another. */
static void sn_apply(mcreg_registry *reg, const sn_spec *s, uint64_t seed)
{
    size_t *ro = sn_order(s->n_recs, seed);
    sn_latest_first(s, ro);
    size_t *lo = sn_order(s->n_lims, seed ? seed * 31 + 7 : 0);
    for (size_t k = 0; k < s->n_recs; k++) {
        const sn_rec *r = &s->recs[ro[k]];
        mcreg_binding b = tu_binding(r->user, r->ue, r->expires_s);
        b.contact = r->contact;
        b.call_id = r->call_id;
        b.cseq = r->cseq;
        b.settings = r->settings;
        b.n_settings = r->n_settings;
        mcreg_outcome out = (mcreg_outcome)-1;
        int rc = mcreg_register(reg, &b, r->now, &out);
        if (rc != MCREG_OK || out != MCREG_CREATED)
            ck_abort_msg("building the state: register %s/%s gave %d, outcome %d", r->user,
                         r->ue, rc, (int)out);
    }
    for (size_t k = 0; k < s->n_lims; k++) {
        const sn_lim *l = &s->lims[lo[k]];
        int rc = mcreg_set_user_max_ues(reg, l->user, l->max);
        if (rc != MCREG_OK)
            ck_abort_msg("building the state: limit of %s gave %d", l->user, rc);
    }
    free(ro);
    free(lo);
    if (mcreg_record_count(reg) != s->n_recs)
        ck_abort_msg("building the state: %zu records, expected %zu", mcreg_record_count(reg),
                     s->n_recs);
}

/* Another state, for restoring over: some of the rich state's names with
 * other values, and names of its own. */
static void sn_other_state(mcreg_registry *reg, names *users, names *ues)
{
    static const mcreg_setting s[] = {
        {.key = "int-min", .type = MCREG_VAL_TEXT, .v.text = {"not an int", 10}},
        {.key = "other", .type = MCREG_VAL_INT, .v.i = 99},
    };
    sn_reg_full(reg, "user-000@mcptt.example", "ue-000-0", 77, 123, "sip:old@old.example",
                "old-call", 5, s, 2);
    sn_reg_full(reg, "user-000@mcptt.example", "ue-old", 50, 3000, NULL, NULL, 0, NULL, 0);
    sn_reg_full(reg, "old-user", "ue-old-2", 60, 400, NULL, "c", 9, s + 1, 1);
    sn_reg_full(reg, "u1", "e1", 1000, 500, "sip:u1@old.example", "u1-call", 8, s, 2);
    sn_limit(reg, "old-user", 9);
    sn_limit(reg, "old-limit-only", 4);
    sn_limit(reg, "user-001@mcptt.example", 6);
    sn_limit(reg, "user-003@mcptt.example", 6);
    sn_limit(reg, "u1", 7);
    static const char *const u[] = {"user-000@mcptt.example", "user-001@mcptt.example",
                                    "user-003@mcptt.example", "old-user", "old-limit-only",
                                    "u1"};
    static const char *const e[] = {"ue-000-0", "ue-old", "ue-old-2", "e1"};
    names_from(users, u, sizeof(u) / sizeof(u[0]));
    names_from(ues, e, sizeof(e) / sizeof(e[0]));
}

/* ======================================================================== */
/* Round trips                                                              */

/* Snapshot src; restore into dst at now; the states must be equal and the
 * snapshot of dst byte-identical. */
static void sn_check_roundtrip(const mcreg_registry *src, mcreg_registry *dst,
                               const names *users, const names *ues, uint64_t now,
                               const char *what)
{
    size_t len = 0, len2 = 0;
    uint8_t *snap = sn_take(src, &len);
    char *want = sn_dump(src, users, ues);
    sn_restore_ok(dst, snap, len, now, what);
    char *got = sn_dump(dst, users, ues);
    sn_assert_text(got, want, what);
    sn_assert_same_records(src, dst, what);
    uint8_t *snap2 = sn_take(dst, &len2);
    sn_assert_bytes(snap2, len2, snap, len, what);
    free(snap);
    free(snap2);
    free(want);
    free(got);
}

/* _i: 0 UE exclusive on, 1 off. */
START_TEST(test_roundtrip_rich)
{
    int shared = _i;
    sn_spec s = {0};
    sn_spec_rich(&s, shared);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *src = sn_new(shared, NULL);
    sn_apply(src, &s, 0);
    ck_assert_uint_eq(mcreg_record_count(src), s.n_recs);
    ck_assert_uint_ge(s.n_recs, 700);
    if (shared) {
        /* The state does share UEs among users. */
        size_t shared_ues = 0;
        for (size_t i = 0; i < s.ues.n; i++) {
            size_t holders = 0;
            for (size_t k = 0; k < s.n_recs; k++)
                holders += strcmp(s.recs[k].ue, s.ues.v[i]) == 0;
            shared_ues += holders > 1;
        }
        ck_assert_uint_ge(shared_ues, 100);
    }

    /* Into a fresh registry, which must then emit nothing. */
    mcreg_registry *fresh = sn_new(shared, &ev);
    sn_check_roundtrip(src, fresh, &s.users, &s.ues, 0, "into a fresh registry");
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);

    /* The extremes, read back through the accessors. */
    const mcreg_record *r = mcreg_find(fresh, "extreme@mcptt.example", "ue-x1");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_expires_at(r), UINT64_MAX);
    ck_assert_uint_eq(mcreg_record_registered_at(r), UINT64_MAX - 1000);
    ck_assert_uint_eq(mcreg_record_setting_count(r), SN_POOL_N);
    const mcreg_setting *st = mcreg_record_setting_find(r, "int-min");
    ck_assert_msg(st && st->type == MCREG_VAL_INT && st->v.i == INT64_MIN, "int-min");
    st = mcreg_record_setting_find(r, "int-max");
    ck_assert_msg(st && st->type == MCREG_VAL_INT && st->v.i == INT64_MAX, "int-max");
    st = mcreg_record_setting_find(r, "text-nul");
    ck_assert_msg(st && st->type == MCREG_VAL_TEXT && st->v.text.len == 3 &&
                      memcmp(st->v.text.ptr, "a\0b", 4) == 0,
                  "text-nul");
    st = mcreg_record_setting_find(r, "bytes-all");
    ck_assert_msg(st && st->type == MCREG_VAL_BYTES && st->v.bytes.len == 256, "bytes-all");
    for (int i = 0; i < 256; i++)
        if (st->v.bytes.ptr[i] != i)
            ck_abort_msg("bytes-all[%d] = %d", i, st->v.bytes.ptr[i]);
    st = mcreg_record_setting_find(r, "bytes-empty");
    ck_assert_msg(st && st->type == MCREG_VAL_BYTES && st->v.bytes.len == 0 && st->v.bytes.ptr,
                  "bytes-empty");
    st = mcreg_record_setting_find(r, "bool-7");
    ck_assert_msg(st && st->type == MCREG_VAL_BOOL && st->v.b == 1, "bool-7");
    r = mcreg_find(fresh, "extreme@mcptt.example", "ue-x0");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 0);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 1000ULL * UINT32_MAX);
    ck_assert_uint_eq(mcreg_record_cseq(r), UINT32_MAX);
    ck_assert_uint_eq(mcreg_record_setting_count(r), MCREG_MAX_SETTINGS);
    ck_assert_str_eq(mcreg_record_contact(r), sn_uri_max);
    r = mcreg_find(fresh, sn_user_max, sn_ue_max);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(mcreg_record_contact(mcreg_find(fresh, "extreme@mcptt.example",
                                                       "ue-x1")));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(fresh, "limit-only-0@mcptt.example", &max), MCREG_OK);
    ck_assert_uint_eq(max, 0);
    ck_assert_int_eq(mcreg_user_max_ues(fresh, "limit-only-4@mcptt.example", &max), MCREG_OK);
    ck_assert_uint_eq(max, UINT32_MAX);
    ck_assert_uint_eq(mcreg_user_ue_count(fresh, "limit-only-4@mcptt.example"), 0);
    ck_assert_int_eq(mcreg_user_max_ues(fresh, "user-002@mcptt.example", &max), MCREG_OK);
    ck_assert_uint_eq(max, 1);
    ck_assert_uint_eq(mcreg_user_ue_count(fresh, "user-002@mcptt.example"), 3);

    /* Into a registry holding another state: that state goes entirely. */
    names ou = {0}, oe = {0};
    mcreg_registry *busy = sn_new(shared, NULL);
    sn_other_state(busy, &ou, &oe);
    for (size_t i = 0; i < ou.n; i++)
        names_add(&s.users, ou.v[i]);
    for (size_t i = 0; i < oe.n; i++)
        names_add(&s.ues, oe.v[i]);
    sn_check_roundtrip(src, busy, &s.users, &s.ues, 0, "over another state");

    /* And a registry restored from its own snapshot stays as it was. */
    sn_check_roundtrip(busy, busy, &s.users, &s.ues, 0, "into itself");

    mcreg_registry_free(src);
    mcreg_registry_free(fresh);
    mcreg_registry_free(busy);
    names_free(&ou);
    names_free(&oe);
    sn_spec_free(&s);
    tu_events_free(&ev);
}
END_TEST

/* An empty registry: the snapshot is the version and two empty arrays (keys
 * 1 and 2 are written always), and restoring it empties a registry. */
START_TEST(test_roundtrip_empty)
{
    mcreg_registry *empty = sn_new(0, NULL);
    size_t len = 0;
    uint8_t *snap = sn_take(empty, &len);
    bb want;
    bb_init(&want);
    bb_hex(&want, "d9 d9 f7 a3 00 82 01 00 01 80 02 80"); /* 55799({0: [1, 0], 1: [], 2: []}) */
    sn_assert_bytes(snap, len, want.p, want.len, "empty snapshot");

    names users = {0}, ues = {0};
    mcreg_registry *reg = sn_new(0, NULL);
    sn_other_state(reg, &users, &ues);
    ck_assert_uint_gt(mcreg_record_count(reg), 0);
    sn_restore_ok(reg, snap, len, 0, "empty snapshot");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    ck_assert_uint_eq(mcreg_user_count(reg), 0);
    uint64_t at = 77;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_ERR_NOT_FOUND);
    for (size_t i = 0; i < users.n; i++) {
        uint32_t max = 0;
        ck_assert_msg(mcreg_user_max_ues(reg, users.v[i], &max) == MCREG_ERR_NOT_FOUND,
                      "limit of %s survived", users.v[i]);
    }
    for (size_t i = 0; i < ues.n; i++)
        ck_assert_ptr_null(mcreg_find_ue(reg, ues.v[i]));
    size_t len2 = 0;
    uint8_t *snap2 = sn_take(reg, &len2);
    sn_assert_bytes(snap2, len2, want.p, want.len, "snapshot after restoring empty");
    free(snap);
    free(snap2);
    bb_free(&want);
    names_free(&users);
    names_free(&ues);
    mcreg_registry_free(reg);
    mcreg_registry_free(empty);
}
END_TEST

/* Limits and no records. */
START_TEST(test_roundtrip_limits_only)
{
    mcreg_registry *src = sn_new(0, NULL);
    sn_limit(src, "b", 0);
    sn_limit(src, "a", UINT32_MAX);
    sn_limit(src, "c", 1);
    names users = {0};
    static const char *const u[] = {"a", "b", "c", "d"};
    names_from(&users, u, 4);
    mcreg_registry *dst = sn_new(0, NULL);
    sn_check_roundtrip(src, dst, &users, NULL, 0, "limits only");
    ck_assert_uint_eq(mcreg_user_count(dst), 0);
    uint32_t max = 5;
    ck_assert_int_eq(mcreg_user_max_ues(dst, "b", &max), MCREG_OK);
    ck_assert_uint_eq(max, 0);
    names_free(&users);
    mcreg_registry_free(src);
    mcreg_registry_free(dst);
}
END_TEST

/*
 * The writer's bytes for a small state, against bytes written here from
 * the README's rules: shortest heads, keys 1 and 2 always, records sorted
 * by user id then UE id bytewise ("Z" < "a" < "aa" < "b" < "\xc3\xa9"; "e10"
 * < "e2"), limits sorted by user id, settings in the binding's order, the
 * optional record keys only when present, BOOL 7 written as true.
 */
START_TEST(test_encoding_matches_hand_built)
{
    static const mcreg_setting s1[] = {
        {.key = "z", .type = MCREG_VAL_INT, .v.i = 24},
        {.key = "a", .type = MCREG_VAL_TEXT, .v.text = {"x\0y", 3}},
        {.key = "m", .type = MCREG_VAL_INT, .v.i = -25},
        {.key = "b", .type = MCREG_VAL_BOOL, .v.b = 7},
        {.key = "n", .type = MCREG_VAL_INT, .v.i = INT64_MIN},
        {.key = "y", .type = MCREG_VAL_BYTES, .v.bytes = {NULL, 0}},
        {.key = "f", .type = MCREG_VAL_BOOL, .v.b = 0},
        {.key = "q", .type = MCREG_VAL_INT, .v.i = 256},
    };
    mcreg_registry *reg = sn_new(1, NULL); /* UE e1 and e2 carry several users */
    /* Built in an order that is none of the sorted orders. */
    sn_reg_full(reg, "b", "e2", 5000, 10, NULL, NULL, 0, NULL, 0);
    sn_reg_full(reg, "\xc3\xa9", "e1", 100, 1, "sip:e@x", NULL, 24, NULL, 0);
    sn_reg_full(reg, "a", "e2", 0, 65535, NULL, "cid", 65536, s1, 8);
    sn_reg_full(reg, "aa", "e1", 5000, 10, NULL, NULL, 23, NULL, 0);
    sn_reg_full(reg, "Z", "e1", 1, 2, NULL, NULL, UINT32_MAX, NULL, 0);
    sn_reg_full(reg, "b", "e10", 5000, 10, NULL, NULL, 0, NULL, 0);
    sn_limit(reg, "b", 0);
    sn_limit(reg, "zed", 24);
    sn_limit(reg, "Z", UINT32_MAX);

    bb w;
    bb_init(&w);
    bb_hex(&w, "d9 d9 f7 a3 00 82 01 00");
    bb_uint(&w, 1);
    bb_array(&w, 6);
    /* Z/e1: registered 1, expires 1 + 2000 */
    bb_hex(&w, "a5 00 61 5a 01 62 65 31 02 01 03 19 07 d1 04 1a ff ff ff ff");
    /* a/e2: registered 0, expires 65535000, contact none, call-id, settings */
    bb_hex(&w, "a7 00 61 61 01 62 65 32 02 00 03 1a 03 e7 fc 18 04 1a 00 01 00 00");
    bb_hex(&w, "06 63 63 69 64 07 88");
    bb_hex(&w, "82 61 7a 18 18");                         /* ["z", 24] */
    bb_hex(&w, "82 61 61 63 78 00 79");                   /* ["a", "x\0y"] */
    bb_hex(&w, "82 61 6d 38 18");                         /* ["m", -25] */
    bb_hex(&w, "82 61 62 f5");                            /* ["b", true] */
    bb_hex(&w, "82 61 6e 3b 7f ff ff ff ff ff ff ff");    /* ["n", INT64_MIN] */
    bb_hex(&w, "82 61 79 40");                            /* ["y", h''] */
    bb_hex(&w, "82 61 66 f4");                            /* ["f", false] */
    bb_hex(&w, "82 61 71 19 01 00");                      /* ["q", 256] */
    /* aa/e1: registered 5000, expires 15000, CSeq 23 */
    bb_hex(&w, "a5 00 62 61 61 01 62 65 31 02 19 13 88 03 19 3a 98 04 17");
    /* b/e10 then b/e2 */
    bb_hex(&w, "a5 00 61 62 01 63 65 31 30 02 19 13 88 03 19 3a 98 04 00");
    bb_hex(&w, "a5 00 61 62 01 62 65 32 02 19 13 88 03 19 3a 98 04 00");
    /* é/e1: registered 100, expires 1100, CSeq 24, contact */
    bb_hex(&w, "a6 00 62 c3 a9 01 62 65 31 02 18 64 03 19 04 4c 04 18 18");
    bb_hex(&w, "05 67 73 69 70 3a 65 40 78");
    /* limits: Z, b, zed */
    bb_hex(&w, "02 83 82 61 5a 1a ff ff ff ff 82 61 62 00 82 63 7a 65 64 18 18");

    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, w.p, w.len, "snapshot of the small state");

    /* And the hand-built bytes restore to the same state. */
    mcreg_registry *dst = sn_new(1, NULL);
    sn_restore_ok(dst, w.p, w.len, 0, "hand-built snapshot");
    sn_assert_same_records(reg, dst, "hand-built snapshot");
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(dst, "zed", &max), MCREG_OK);
    ck_assert_uint_eq(max, 24);
    free(snap);
    bb_free(&w);
    mcreg_registry_free(reg);
    mcreg_registry_free(dst);
}
END_TEST

/* ======================================================================== */
/* Determinism                                                              */

/* _i: 0 UE exclusive on, 1 off. The same state built in shuffled orders,
 * in registries with different hash seeds, gives the same bytes. */
START_TEST(test_determinism_insertion_order)
{
    int shared = _i;
    sn_spec s = {0};
    sn_spec_rich(&s, shared);
    mcreg_registry *a = sn_new(shared, NULL);
    sn_apply(a, &s, 0);
    size_t len = 0;
    uint8_t *want = sn_take(a, &len);
    char *want_dump = sn_dump(a, &s.users, &s.ues);
    static const uint64_t seeds[] = {1, 2, 0xdeadbeefULL, 977};
    for (size_t k = 0; k < sizeof(seeds) / sizeof(seeds[0]); k++) {
        sn_cfg c = {0};
        c.shared = shared;
        c.set_seed = k % 2 == 0;
        c.seed = seeds[k] * 0x9e3779b97f4a7c15ULL;
        mcreg_registry *b = sn_new_cfg(&c);
        sn_apply(b, &s, seeds[k]);
        char *d = sn_dump(b, &s.users, &s.ues);
        sn_assert_text(d, want_dump, "state built in another order");
        size_t len2 = 0;
        uint8_t *got = sn_take(b, &len2);
        char what[64];
        snprintf(what, sizeof(what), "built in order %llu", (unsigned long long)seeds[k]);
        sn_assert_bytes(got, len2, want, len, what);
        free(got);
        free(d);
        mcreg_registry_free(b);
    }
    free(want);
    free(want_dump);
    mcreg_registry_free(a);
    sn_spec_free(&s);
}
END_TEST

static const mcreg_setting det_s1[] = {
    {.key = "old", .type = MCREG_VAL_TEXT, .v.text = {"first", 5}},
    {.key = "gone", .type = MCREG_VAL_INT, .v.i = 1},
};
static const mcreg_setting det_s2[] = {
    {.key = "mode", .type = MCREG_VAL_TEXT, .v.text = {"ptt", 3}},
    {.key = "level", .type = MCREG_VAL_INT, .v.i = -7},
    {.key = "key", .type = MCREG_VAL_BYTES, .v.bytes = {(const uint8_t *)"\x01\x02", 2}},
};

/* The final state of test_determinism_history, built directly. */
static void det_direct(mcreg_registry *reg)
{
    sn_reg_full(reg, "alice", "a1", 1000, 100, "sip:alice@new.example", "c-2", 5, det_s2, 3);
    sn_reg_full(reg, "alice", "a2", 2000, 50, NULL, NULL, 0, NULL, 0);
    sn_reg_full(reg, "bob", "b1", 1500, 70, "sip:bob@x", "b-call", 3, det_s1, 1);
    sn_limit(reg, "alice", 3);
    sn_limit(reg, "zed", 2);
}

/* The same state reached through refreshes, removals, expiry and limit
 * changes, with many users added and removed on the way. */
static void det_history(mcreg_registry *reg)
{
    char user[32];
    for (int i = 0; i < 200; i++) {
        snprintf(user, sizeof(user), "tmp-%d", i);
        sn_reg(reg, user, user, 30, 500);
        sn_limit(reg, user, 1);
    }
    sn_reg_full(reg, "alice", "a1", 1000, 10, "sip:alice@old.example", "c-1", 1, det_s1, 2);
    sn_reg(reg, "carol", "c1", 30, 1200);
    sn_reg_full(reg, "bob", "b1", 1500, 70, "sip:bob@x", "b-call", 3, det_s1, 1);
    sn_reg(reg, "alice", "a3", 5, 1700); /* expires at 6700 */
    sn_limit(reg, "carol", 5);
    sn_limit(reg, "zed", 9);
    sn_reg(reg, "alice", "a2", 50, 2000);
    sn_limit(reg, "alice", 1);
    sn_limit(reg, "zed", 2);
    sn_limit(reg, "alice", 3);
    for (int i = 0; i < 200; i++) {
        snprintf(user, sizeof(user), "tmp-%d", i);
        size_t n = 0;
        ck_assert_int_eq(mcreg_deregister_user(reg, user, 2500, &n), MCREG_OK);
        ck_assert_int_eq(mcreg_clear_user_max_ues(reg, user), MCREG_OK);
    }
    /* Refresh a1: new expiry 6000 + 95 s = 101000, as direct's 1000 + 100 s. */
    mcreg_binding b = tu_binding("alice", "a1", 95);
    b.contact = "sip:alice@new.example";
    b.call_id = "c-2";
    b.cseq = 5;
    b.settings = det_s2;
    b.n_settings = 3;
    mcreg_outcome out = (mcreg_outcome)-1;
    ck_assert_int_eq(mcreg_register(reg, &b, 6000, &out), MCREG_OK);
    ck_assert_int_eq(out, MCREG_REFRESHED);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 6700, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(mcreg_deregister(reg, "carol", "c1", 6800), MCREG_OK);
    ck_assert_int_eq(mcreg_clear_user_max_ues(reg, "carol"), MCREG_OK);
}

START_TEST(test_determinism_history)
{
    mcreg_registry *a = sn_new(0, NULL);
    mcreg_registry *b = sn_new(0, NULL);
    det_direct(a);
    det_history(b);
    names users = {0}, ues = {0};
    static const char *const u[] = {"alice", "bob", "carol", "zed", "tmp-0", "tmp-199"};
    static const char *const e[] = {"a1", "a2", "a3", "b1", "c1", "tmp-0"};
    names_from(&users, u, 6);
    names_from(&ues, e, 6);
    char *da = sn_dump(a, &users, &ues), *db = sn_dump(b, &users, &ues);
    sn_assert_text(db, da, "state reached through history");
    size_t la = 0, lb = 0;
    uint8_t *sa = sn_take(a, &la), *sb = sn_take(b, &lb);
    sn_assert_bytes(sb, lb, sa, la, "snapshot of the state reached through history");
    free(sa);
    free(sb);
    free(da);
    free(db);
    names_free(&users);
    names_free(&ues);
    mcreg_registry_free(a);
    mcreg_registry_free(b);
}
END_TEST

/* ======================================================================== */
/* Golden files                                                             */

#define G_ALICE "sip:alice@mcptt.example"
#define G_BOB "sip:bob@mcptt.example"
#define G_CAROL "sip:carol@mcptt.example"
#define G_ZED "sip:zed@mcptt.example"
#define G_NOW 5000 /* restore time: before every expiry of the golden state */

/* The golden state: three users with six records between them, every
 * setting type, contact and Call-ID absent on some records, times and CSeq
 * at their extremes, and three limits, one of a user without records. */
static void golden_build(mcreg_registry *reg)
{
    static const mcreg_setting alice_s[] = {
        {.key = "priority", .type = MCREG_VAL_INT, .v.i = 5},
        {.key = "display", .type = MCREG_VAL_TEXT, .v.text = {"Alice", 5}},
        {.key = "token", .type = MCREG_VAL_BYTES, .v.bytes = {(const uint8_t *)"\x00\xff", 2}},
        {.key = "emergency", .type = MCREG_VAL_BOOL, .v.b = 0},
        {.key = "offset", .type = MCREG_VAL_INT, .v.i = -3},
    };
    static const mcreg_setting bob_s[] = {
        {.key = "big", .type = MCREG_VAL_INT, .v.i = INT64_MAX},
        {.key = "small", .type = MCREG_VAL_INT, .v.i = INT64_MIN},
        {.key = "nul", .type = MCREG_VAL_TEXT, .v.text = {"a\0b", 3}},
        {.key = "empty", .type = MCREG_VAL_BYTES, .v.bytes = {NULL, 0}},
        {.key = "on", .type = MCREG_VAL_BOOL, .v.b = 1},
        {.key = "note", .type = MCREG_VAL_TEXT, .v.text = {"", 0}},
        {.key = "utf8", .type = MCREG_VAL_TEXT,
         .v.text = {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9}},
    };
    static const mcreg_setting bob2_s[] = {{.key = "x", .type = MCREG_VAL_INT, .v.i = 0}};
    /* Carol's UE registered last comes first: registered after it, ue-c2
     * (now_ms near UINT64_MAX) would find ue-c1 lapsed and remove it. */
    sn_reg_full(reg, G_CAROL, "ue-c2", UINT64_MAX - 500, 1, NULL, "c2@host.example", 2, NULL, 0);
    sn_reg_full(reg, G_CAROL, "ue-c1", 0, UINT32_MAX, "sips:carol@example.org", NULL, 42, NULL,
                0);
    sn_reg_full(reg, G_ALICE, "ue-a1", 1000, 3600, "sip:alice@192.0.2.10:5060",
                "a84b4c76e66710@pc33.example", 7, alice_s, 5);
    sn_reg_full(reg, G_BOB, "ue-b1", 1500, 60, NULL, "b1@host.example", UINT32_MAX, bob_s, 7);
    sn_reg_full(reg, G_BOB, "ue-b2", 1500, 120, NULL, NULL, 1, bob2_s, 1);
    sn_reg_full(reg, G_ALICE, "ue-a2", 2000, 600, "sip:alice@198.51.100.7:5061;transport=tls",
                NULL, 0, NULL, 0);
    sn_limit(reg, G_ALICE, 3);
    sn_limit(reg, G_BOB, 0);
    sn_limit(reg, G_ZED, 1);
}

/* What the golden file holds, written out. */
static const exp_record golden_records[] = {
    {G_ALICE, "ue-a1", "sip:alice@192.0.2.10:5060", "a84b4c76e66710@pc33.example", 7, 1000,
     3601000, 5,
     {{"priority", MCREG_VAL_INT, 5, NULL, 0},
      {"display", MCREG_VAL_TEXT, 0, "Alice", 5},
      {"token", MCREG_VAL_BYTES, 0, "\x00\xff", 2},
      {"emergency", MCREG_VAL_BOOL, 0, NULL, 0},
      {"offset", MCREG_VAL_INT, -3, NULL, 0}}},
    {G_ALICE, "ue-a2", "sip:alice@198.51.100.7:5061;transport=tls", NULL, 0, 2000, 602000, 0,
     {{0}}},
    {G_BOB, "ue-b1", NULL, "b1@host.example", 4294967295u, 1500, 61500, 7,
     {{"big", MCREG_VAL_INT, INT64_MAX, NULL, 0},
      {"small", MCREG_VAL_INT, INT64_MIN, NULL, 0},
      {"nul", MCREG_VAL_TEXT, 0, "a\0b", 3},
      {"empty", MCREG_VAL_BYTES, 0, "", 0},
      {"on", MCREG_VAL_BOOL, 1, NULL, 0},
      {"note", MCREG_VAL_TEXT, 0, "", 0},
      {"utf8", MCREG_VAL_TEXT, 0, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9}}},
    {G_BOB, "ue-b2", NULL, NULL, 1, 1500, 121500, 1, {{"x", MCREG_VAL_INT, 0, NULL, 0}}},
    {G_CAROL, "ue-c1", "sips:carol@example.org", NULL, 42, 0, 4294967295000ULL, 0, {{0}}},
    {G_CAROL, "ue-c2", NULL, "c2@host.example", 2, 18446744073709551115ULL,
     18446744073709551615ULL, 0, {{0}}},
};
static const exp_limit golden_limits[] = {{G_ALICE, 3}, {G_BOB, 0}, {G_ZED, 1}};
static const char *const golden_no_limit[] = {G_CAROL, "sip:nobody@mcptt.example"};

static void golden_check(const mcreg_registry *reg, const char *what)
{
    sn_check_state(reg, golden_records, 6, golden_limits, 3, golden_no_limit, 2, what);
    ck_assert_uint_eq(mcreg_user_count(reg), 3);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, G_ZED), 0);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 61500);
}

/* The snapshot of the golden state built here is the committed file (with
 * MCREG_WRITE_GOLDEN=path, it is first written to path). */
START_TEST(test_golden_builder_matches_file)
{
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    golden_check(reg, "golden state as built");
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    const char *out = getenv("MCREG_WRITE_GOLDEN");
    if (out && *out) {
        sn_write_file(out, snap, len);
        fprintf(stderr, "golden snapshot (%zu bytes) written to %s\n", len, out);
    }
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    sn_assert_bytes(snap, len, file, flen, "snapshot of golden_build() vs golden-v1.cbor");
    free(file);
    free(snap);
    mcreg_registry_free(reg);
}
END_TEST

/* Every field of every record and every limit of the committed file, as
 * literals. This check stays for as long as format 1 is read. */
START_TEST(test_golden_restore_fields)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(0, &ev);
    sn_reg(reg, "someone", "ue-a1", 60, 10);
    sn_limit(reg, G_CAROL, 2);
    tu_events_reset(&ev);
    sn_restore_ok(reg, file, flen, G_NOW, "golden-v1.cbor");
    golden_check(reg, "golden-v1.cbor restored");
    ck_assert_ptr_null(mcreg_find(reg, "someone", "ue-a1"));
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "ue-a1")), G_ALICE);
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);

    /* The same file restored later drops what has expired by then. */
    mcreg_registry *later = sn_new(0, NULL);
    sn_restore_ok(later, file, flen, 121500, "golden-v1.cbor at 121500");
    ck_assert_uint_eq(mcreg_record_count(later), 4);
    ck_assert_ptr_null(mcreg_find(later, G_BOB, "ue-b1"));
    ck_assert_ptr_null(mcreg_find(later, G_BOB, "ue-b2"));
    ck_assert_uint_eq(mcreg_user_count(later), 2);
    uint32_t max = 7;
    ck_assert_int_eq(mcreg_user_max_ues(later, G_BOB, &max), MCREG_OK);
    ck_assert_uint_eq(max, 0);
    free(file);
    tu_events_free(&ev);
    mcreg_registry_free(reg);
    mcreg_registry_free(later);
}
END_TEST

/* The snapshot of the restored file is the file, byte for byte. When a
 * later minor format version adds keys, this check moves to a new golden
 * file of that version, while test_golden_restore_fields keeps reading
 * this one. */
START_TEST(test_golden_resnapshot_identical)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    mcreg_registry *reg = sn_new(0, NULL);
    sn_restore_ok(reg, file, flen, G_NOW, "golden-v1.cbor");
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, file, flen, "snapshot of restored golden-v1.cbor");
    free(snap);
    free(file);
    mcreg_registry_free(reg);
}
END_TEST

/* The file with its major version changed to 2 (and to 0): VERSION, and
 * the registry unchanged. */
START_TEST(test_golden_other_major_is_version_error)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.cbor", &flen);
    /* d9 d9 f7, a3, 00, 82, major at offset 6 */
    static const uint8_t head[] = {0xd9, 0xd9, 0xf7, 0xa3, 0x00, 0x82, 0x01, 0x00};
    ck_assert_msg(flen > sizeof(head) && memcmp(file, head, sizeof(head)) == 0,
                  "golden-v1.cbor does not start with the version [1, 0]");
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    names users = {0};
    static const char *const u[] = {G_ALICE, G_BOB, G_CAROL, G_ZED};
    names_from(&users, u, 4);
    char *before = sn_dump(reg, &users, NULL);
    static const uint8_t majors[] = {0x02, 0x00, 0x17};
    for (size_t k = 0; k < sizeof(majors); k++) {
        file[6] = majors[k];
        int rc = mcreg_restore(reg, file, flen, G_NOW);
        ck_assert_msg(rc == MCREG_ERR_VERSION, "major %u: rc %d, expected MCREG_ERR_VERSION",
                      (unsigned)majors[k], rc);
        char *d = sn_dump(reg, &users, NULL);
        sn_assert_text(d, before, "state after a VERSION error");
        free(d);
    }
    free(before);
    free(file);
    names_free(&users);
    mcreg_registry_free(reg);
}
END_TEST

#define D_USER "sip:dora@mcptt.example"

/*
 * golden-v1.1-unknown-keys.cbor: format 1.5, with keys unknown to format
 * 1.0 at the top level (3, 24, 1000) and in records (8, 25 and 9), whose
 * values nest arrays, maps, text, floats and simple values. It restores as
 * if they were not there, and its snapshot is the 1.0 encoding of that
 * state, written here by hand.
 */
START_TEST(test_golden_unknown_keys)
{
    size_t flen = 0;
    uint8_t *file = sn_read_data("golden-v1.1-unknown-keys.cbor", &flen);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(0, &ev);
    sn_restore_ok(reg, file, flen, G_NOW, "golden-v1.1-unknown-keys.cbor");
    static const exp_record recs[] = {
        {D_USER, "ue-d1", "sip:dora@192.0.2.20", NULL, 3, 1000, 61000, 1,
         {{"mode", MCREG_VAL_TEXT, 0, "ptt", 3}}},
        {D_USER, "ue-d2", NULL, "d2@host.example", 0, 2000, 62000, 0, {{0}}},
    };
    static const exp_limit lims[] = {{D_USER, 4}};
    sn_check_state(reg, recs, 2, lims, 1, NULL, 0, "golden-v1.1-unknown-keys.cbor");
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);

    bb w;
    bb_init(&w);
    snap_open(&w, 3);
    bb_uint(&w, 1);
    bb_array(&w, 2);
    rec_open(&w, D_USER, "ue-d1", 1000, 61000, 3, 2);
    bb_uint(&w, 5);
    bb_text(&w, "sip:dora@192.0.2.20");
    bb_uint(&w, 7);
    bb_array(&w, 1);
    bb_array(&w, 2);
    bb_text(&w, "mode");
    bb_text(&w, "ptt");
    rec_open(&w, D_USER, "ue-d2", 2000, 62000, 0, 1);
    bb_uint(&w, 6);
    bb_text(&w, "d2@host.example");
    bb_uint(&w, 2);
    bb_array(&w, 1);
    bb_array(&w, 2);
    bb_text(&w, D_USER);
    bb_uint(&w, 4);
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, w.p, w.len, "snapshot of the restored 1.5 file");
    free(snap);
    bb_free(&w);
    free(file);
    tu_events_free(&ev);
    mcreg_registry_free(reg);
}
END_TEST

/* ======================================================================== */
/* Restore semantics                                                        */

/* Records with expires_at <= now_ms are dropped: == now_ms goes, now_ms + 1
 * stays; a user left without records keeps its limit, and one without a
 * limit is gone. */
START_TEST(test_restore_expiry_boundary)
{
    mcreg_registry *src = sn_new(0, NULL);
    sn_reg(src, "keep", "k-at", 5, 0);         /* expires 5000: dropped */
    sn_reg(src, "keep", "k-after", 5, 1);      /* expires 5001: kept */
    sn_reg(src, "gone-limit", "g1", 5, 0);     /* 5000 */
    sn_reg(src, "gone-limit", "g2", 4, 500);   /* 4500 */
    sn_reg(src, "gone", "x1", 5, 0);           /* 5000 */
    sn_limit(src, "gone-limit", 2);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(0, &ev);
    sn_restore_ok(reg, snap, len, 5000, "restore at 5000");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_user_count(reg), 1);
    ck_assert_ptr_null(mcreg_find(reg, "keep", "k-at"));
    ck_assert_ptr_nonnull(mcreg_find(reg, "keep", "k-after"));
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "keep"), 1);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 5001);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "gone-limit", &max), MCREG_OK);
    ck_assert_uint_eq(max, 2);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "gone-limit"), 0);
    ck_assert_int_eq(mcreg_user_foreach(reg, "gone-limit", tu_collect_ue, &ev), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "gone", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "gone"), 0);
    ck_assert_ptr_null(mcreg_find_ue(reg, "x1"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "g1"));
    ck_assert_msg(ev.count == 0, "restore emitted events (an expiry included?): %s", ev.log);

    /* The limit-only user's limit still governs (REJECT at 2). */
    sn_reg(reg, "gone-limit", "n1", 60, 6000);
    sn_reg(reg, "gone-limit", "n2", 60, 6000);
    mcreg_binding b = tu_binding("gone-limit", "n3", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 6000, NULL), MCREG_ERR_LIMIT);

    /* One millisecond earlier, everything is kept. */
    mcreg_registry *early = sn_new(0, NULL);
    sn_restore_ok(early, snap, len, 4499, "restore at 4499");
    ck_assert_uint_eq(mcreg_record_count(early), 5);
    /* At UINT64_MAX nothing can be kept, and the limit still is. */
    sn_restore_ok(early, snap, len, UINT64_MAX, "restore at UINT64_MAX");
    ck_assert_uint_eq(mcreg_record_count(early), 0);
    ck_assert_uint_eq(mcreg_user_count(early), 0);
    ck_assert_int_eq(mcreg_next_expiry(early, &at), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(early, "gone-limit", &max), MCREG_OK);
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
    mcreg_registry_free(early);
}
END_TEST

/* A record expiring at UINT64_MAX is dropped only by now_ms == UINT64_MAX. */
START_TEST(test_restore_expiry_at_uint64_max)
{
    bb b;
    bb_init(&b);
    snap_records(&b, 1);
    rec_open(&b, "u", "e", UINT64_MAX - 1, UINT64_MAX, 0, 0);
    mcreg_registry *reg = sn_new(0, NULL);
    sn_restore_ok(reg, b.p, b.len, UINT64_MAX - 1, "at UINT64_MAX - 1");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    ck_assert_uint_eq(mcreg_record_expires_at(mcreg_find(reg, "u", "e")), UINT64_MAX);
    sn_restore_ok(reg, b.p, b.len, UINT64_MAX, "at UINT64_MAX");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    bb_free(&b);
    mcreg_registry_free(reg);
}
END_TEST

/* Restoring replaces records and limits entirely and emits nothing, even
 * where registering the same state would have notified. */
START_TEST(test_restore_replaces_state_without_events)
{
    mcreg_registry *src = sn_new(1, NULL);
    sn_reg(src, "alice", "a1", 60, 1000);
    sn_reg(src, "alice", "a2", 60, 2000);
    sn_reg(src, "bob", "a1", 60, 3000);
    sn_reg_full(src, "old", "o1", 4000, 60, "sip:new@x", "new-call", 3, NULL, 0);
    sn_limit(src, "bob", 5);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    tu_events ev;
    tu_events_init(&ev);
    sn_cfg c = {0};
    c.shared = 1;
    c.logoff = 1;
    c.fn = tu_events_cb;
    c.ud = &ev;
    mcreg_registry *reg = sn_new_cfg(&c);
    sn_reg_full(reg, "old", "o1", 100, 600, "sip:old@x", "old-call", 9, NULL, 0);
    sn_reg(reg, "old", "o2", 60, 100);
    sn_reg(reg, "carol", "c1", 60, 100);
    sn_limit(reg, "carol", 1);
    sn_limit(reg, "old", 4);
    tu_events_reset(&ev);
    sn_restore_ok(reg, snap, len, 5000, "restore over another state");
    ck_assert_msg(ev.count == 0 && ev.len == 0, "restore emitted events: %s", ev.log);
    ck_assert_uint_eq(mcreg_record_count(reg), 4);
    ck_assert_ptr_null(mcreg_find(reg, "old", "o2"));
    ck_assert_ptr_null(mcreg_find(reg, "carol", "c1"));
    ck_assert_ptr_null(mcreg_find_ue(reg, "c1"));
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, "carol", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "old", &max), MCREG_ERR_NOT_FOUND);
    ck_assert_int_eq(mcreg_user_max_ues(reg, "bob", &max), MCREG_OK);
    ck_assert_uint_eq(max, 5);
    const mcreg_record *r = mcreg_find(reg, "old", "o1");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(mcreg_record_contact(r), "sip:new@x");
    ck_assert_str_eq(mcreg_record_call_id(r), "new-call");
    ck_assert_uint_eq(mcreg_record_cseq(r), 3);
    ck_assert_uint_eq(mcreg_record_registered_at(r), 4000);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "old"), 1);
    /* The old state's expiries are gone from the expiry order too. */
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 61000);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 61000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(ev.log, "EXPIRED(alice,a1);NOTIFY_LOGOFF(alice,a1>a2:[])");
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

/* A callback that tries restore (valid input, garbage, NULL buffer) and
 * snapshot from inside every event. */
typedef struct busy_cb {
    const uint8_t *snap;
    size_t len;
    int busy, wrong, calls;
    int snap_ok, snap_wrong;
    char why[128];
} busy_cb;

static void busy_cb_fn(const mcreg_event *ev, void *ud)
{
    busy_cb *c = ud;
    static const uint8_t garbage[] = {0xff, 0x00};
    /* BUSY comes before any check of the arguments but the registry. */
    static const char *const what[] = {"a valid snapshot", "a valid snapshot at UINT64_MAX",
                                       "garbage", "a NULL buffer"};
    int rcs[] = {
        mcreg_restore(ev->registry, c->snap, c->len, ev->at_ms),
        mcreg_restore(ev->registry, c->snap, c->len, UINT64_MAX),
        mcreg_restore(ev->registry, garbage, sizeof(garbage), ev->at_ms),
        mcreg_restore(ev->registry, NULL, 0, ev->at_ms),
    };
    for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
        if (rcs[i] == MCREG_ERR_BUSY) {
            c->busy++;
        } else {
            if (!c->wrong)
                snprintf(c->why, sizeof(c->why), "restore of %s inside %s gave %d", what[i],
                         mcreg_event_name(ev->type), rcs[i]);
            c->wrong++;
        }
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (mcreg_snapshot(ev->registry, &buf, &len) == MCREG_OK && buf && len)
        c->snap_ok++;
    else
        c->snap_wrong++;
    mcreg_buffer_free(ev->registry, buf);
    c->calls++;
}

START_TEST(test_restore_busy_in_callback)
{
    mcreg_registry *other = sn_new(0, NULL);
    sn_reg(other, "other", "o1", 60, 0);
    size_t len = 0;
    uint8_t *snap = sn_take(other, &len);

    busy_cb c;
    memset(&c, 0, sizeof(c));
    c.snap = snap;
    c.len = len;
    sn_cfg cfg = {0};
    cfg.fn = busy_cb_fn;
    cfg.ud = &c;
    cfg.logoff = 1;
    mcreg_registry *reg = sn_new_cfg(&cfg);
    sn_reg(reg, "alice", "a1", 60, 1000);
    sn_reg(reg, "alice", "a2", 60, 2000); /* CREATED + 2 NOTIFY_LOGON */
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "a1", 3000), MCREG_OK);
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 62000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_ge(c.calls, 6);
    ck_assert_msg(c.wrong == 0 && c.busy == 4 * c.calls,
                  "restore inside a callback: %d BUSY, %d other answers; first: %s", c.busy,
                  c.wrong, c.why);
    ck_assert_msg(c.snap_wrong == 0 && c.snap_ok == c.calls, "snapshot inside a callback failed");
    ck_assert_ptr_null(mcreg_find(reg, "other", "o1"));
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    /* Not stuck: outside a callback, restore works. */
    sn_restore_ok(reg, snap, len, 0, "after the callbacks");
    ck_assert_ptr_nonnull(mcreg_find(reg, "other", "o1"));
    free(snap);
    mcreg_registry_free(other);
    mcreg_registry_free(reg);
}
END_TEST

typedef struct busy_visit {
    mcreg_registry *reg;
    const uint8_t *snap;
    size_t len;
    int busy, wrong, visits;
    uint8_t *inside; /* the snapshot taken during the first visit */
    size_t inside_len;
} busy_visit;

static int busy_visitor(const mcreg_record *r, void *ud)
{
    busy_visit *v = ud;
    (void)r;
    v->visits++;
    int rc = mcreg_restore(v->reg, v->snap, v->len, 0);
    if (rc == MCREG_ERR_BUSY)
        v->busy++;
    else
        v->wrong++;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (mcreg_snapshot(v->reg, &buf, &len) != MCREG_OK) {
        v->wrong++;
        return 0;
    }
    if (!v->inside) {
        v->inside = malloc(len);
        if (!v->inside)
            abort();
        memcpy(v->inside, buf, len);
        v->inside_len = len;
    }
    mcreg_buffer_free(v->reg, buf);
    return 0;
}

/* Inside a visitor restore is BUSY and snapshot works, giving the same
 * bytes as outside. */
START_TEST(test_restore_busy_in_visitor)
{
    mcreg_registry *other = sn_new(0, NULL);
    sn_reg(other, "other", "o1", 60, 0);
    size_t len = 0;
    uint8_t *snap = sn_take(other, &len);
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    size_t want_len = 0;
    uint8_t *want = sn_take(reg, &want_len);

    busy_visit v;
    memset(&v, 0, sizeof(v));
    v.reg = reg;
    v.snap = snap;
    v.len = len;
    ck_assert_int_eq(mcreg_foreach(reg, busy_visitor, &v), MCREG_OK);
    ck_assert_int_eq(mcreg_user_foreach(reg, G_BOB, busy_visitor, &v), MCREG_OK);
    ck_assert_int_eq(v.visits, 8);
    ck_assert_msg(v.busy == 8 && v.wrong == 0, "restore in a visitor: %d BUSY, %d other", v.busy,
                  v.wrong);
    ck_assert_ptr_nonnull(v.inside);
    sn_assert_bytes(v.inside, v.inside_len, want, want_len, "snapshot inside a visitor");
    golden_check(reg, "after the visits");
    sn_restore_ok(reg, snap, len, 0, "after the visits");
    ck_assert_uint_eq(mcreg_record_count(reg), 1);
    free(v.inside);
    free(snap);
    free(want);
    mcreg_registry_free(other);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_restore_invalid_arguments)
{
    mcreg_registry *src = sn_new(0, NULL);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    ck_assert_int_eq(mcreg_restore(NULL, snap, len, 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_restore(NULL, NULL, 0, 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_restore(reg, NULL, 0, 0), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_restore(reg, NULL, len, 0), MCREG_ERR_INVALID);
    golden_check(reg, "after INVALID restores");
    /* The same registry then restores the (empty) snapshot. */
    sn_restore_ok(reg, snap, len, 0, "after INVALID");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    free(snap);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_snapshot_invalid_arguments)
{
    mcreg_registry *reg = sn_new(0, NULL);
    golden_build(reg);
    uint8_t marker = 0;
    uint8_t *buf = &marker;
    size_t len = 4242;
    ck_assert_int_eq(mcreg_snapshot(NULL, &buf, &len), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_snapshot(reg, NULL, &len), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_snapshot(reg, &buf, NULL), MCREG_ERR_INVALID);
    ck_assert_int_eq(mcreg_snapshot(NULL, NULL, NULL), MCREG_ERR_INVALID);
    ck_assert_ptr_eq(buf, &marker);
    ck_assert_uint_eq(len, 4242);
    golden_check(reg, "after INVALID snapshots");
    mcreg_registry_free(reg);
}
END_TEST

/* mcreg_buffer_free with a NULL buffer or a NULL registry does nothing;
 * the snapshot's buffer comes from the registry's allocator. */
START_TEST(test_buffer_free_null)
{
    tu_alloc a;
    memset(&a, 0, sizeof(a));
    mcreg_allocator al = tu_allocator(&a);
    sn_cfg c = {0};
    c.alloc = &al;
    mcreg_registry *reg = sn_new_cfg(&c);
    golden_build(reg);
    size_t live = a.live, bytes = a.live_bytes;
    mcreg_buffer_free(reg, NULL);
    mcreg_buffer_free(NULL, NULL);
    ck_assert_uint_eq(a.live, live);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(reg, &buf, &len), MCREG_OK);
    ck_assert_msg(a.live == live + 1 && a.live_bytes >= bytes + len,
                  "the snapshot buffer is not one block of the registry's allocator "
                  "(%zu -> %zu blocks, %zu -> %zu bytes, len %zu)",
                  live, a.live, bytes, a.live_bytes, len);
    mcreg_buffer_free(NULL, buf); /* allocator unknown: nothing happens */
    ck_assert_uint_eq(a.live, live + 1);
    mcreg_buffer_free(reg, buf);
    ck_assert_uint_eq(a.live, live);
    ck_assert_uint_eq(a.live_bytes, bytes);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
}
END_TEST

/* A callback that takes a snapshot during each notification and checks
 * that the notification's fields are the same afterwards. */
typedef struct snap_cb {
    tu_events log;    /* "recipient:[others]" per notification, before the snapshot */
    int calls, disturbed, failed;
    char why[256];
    uint8_t *first;   /* snapshot taken during the first NOTIFY_LOGON */
    size_t first_len;
} snap_cb;

static void snap_cb_render(tu_events *t, const mcreg_event *ev)
{
    tu_events_append(t, ev->recipient_ue_id);
    tu_events_append(t, ":[");
    for (size_t i = 0; i < ev->n_other; i++) {
        if (i)
            tu_events_append(t, ",");
        tu_events_append(t, ev->other_ue_ids[i]);
    }
    tu_events_append(t, "]");
}

static void snap_cb_fn(const mcreg_event *ev, void *ud)
{
    snap_cb *c = ud;
    if (ev->type != MCREG_EV_NOTIFY_LOGON && ev->type != MCREG_EV_NOTIFY_LOGOFF)
        return;
    c->calls++;
    tu_events before, after;
    tu_events_init(&before);
    tu_events_init(&after);
    snap_cb_render(&before, ev);
    const char *const *ids = ev->other_ue_ids;
    size_t n = ev->n_other;
    const char *saved[16];
    for (size_t i = 0; i < n && i < 16; i++)
        saved[i] = ids[i];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mcreg_snapshot(ev->registry, &buf, &len);
    if (rc != MCREG_OK) {
        c->failed++;
        snprintf(c->why, sizeof(c->why), "snapshot in a callback: %d", rc);
    } else {
        if (!c->first && ev->type == MCREG_EV_NOTIFY_LOGON) {
            c->first = malloc(len);
            if (!c->first)
                abort();
            memcpy(c->first, buf, len);
            c->first_len = len;
        }
        mcreg_buffer_free(ev->registry, buf);
    }
    snap_cb_render(&after, ev);
    int same = ev->other_ue_ids == ids && ev->n_other == n && strcmp(before.log, after.log) == 0;
    for (size_t i = 0; same && i < n && i < 16; i++)
        same = ev->other_ue_ids[i] == saved[i];
    if (!same) {
        c->disturbed++;
        snprintf(c->why, sizeof(c->why), "other_ue_ids %s became %s", before.log, after.log);
    }
    if (c->log.len)
        tu_events_append(&c->log, ";");
    tu_events_append(&c->log, mcreg_event_name(ev->type));
    tu_events_append(&c->log, ">");
    tu_events_append(&c->log, before.log);
    tu_events_free(&before);
    tu_events_free(&after);
}

START_TEST(test_snapshot_in_callback)
{
    snap_cb c;
    memset(&c, 0, sizeof(c));
    tu_events_init(&c.log);
    sn_cfg cfg = {0};
    cfg.shared = 1;
    cfg.logoff = 1;
    cfg.fn = snap_cb_fn;
    cfg.ud = &c;
    mcreg_registry *reg = sn_new_cfg(&cfg);
    sn_reg(reg, "alice", "u1", 60, 1000);
    sn_reg(reg, "alice", "u2", 60, 2000);
    sn_reg(reg, "alice", "u3", 60, 1500);
    sn_reg(reg, "bob", "u2", 60, 1200);
    tu_events_reset(&c.log);
    c.calls = 0;
    free(c.first);
    c.first = NULL;

    sn_reg(reg, "alice", "u4", 60, 3000);
    ck_assert_msg(c.failed == 0 && c.disturbed == 0, "%s", c.why);
    ck_assert_str_eq(c.log.log, "NOTIFY_LOGON>u4:[u1,u3,u2];NOTIFY_LOGON>u1:[u3,u2,u4];"
                                "NOTIFY_LOGON>u3:[u1,u2,u4];NOTIFY_LOGON>u2:[u1,u3,u4]");
    /* The snapshot taken during the call is the state after the call. */
    ck_assert_ptr_nonnull(c.first);
    size_t len = 0;
    uint8_t *after = sn_take(reg, &len);
    sn_assert_bytes(c.first, c.first_len, after, len, "snapshot inside NOTIFY_LOGON");

    tu_events_reset(&c.log);
    ck_assert_int_eq(mcreg_deregister(reg, "alice", "u1", 4000), MCREG_OK);
    ck_assert_msg(c.failed == 0 && c.disturbed == 0, "%s", c.why);
    ck_assert_str_eq(c.log.log, "NOTIFY_LOGOFF>u3:[u2,u4];NOTIFY_LOGOFF>u2:[u3,u4];"
                                "NOTIFY_LOGOFF>u4:[u3,u2]");
    free(after);
    free(c.first);
    tu_events_free(&c.log);
    mcreg_registry_free(reg);
}
END_TEST

/* The state of test_restore_then_usable, as a snapshot written by hand
 * (records sorted by ids, which is not their registered_at order):
 *   alice: a (3000, 50000)  b (1000, 40000)  c (2000, 40000)  s1 (2000, 60000)
 *   bob:   s1 (2000, 60000) s2 (2500, 60000) x (500, 40000, Call-ID bob-call, CSeq 10)
 *   carol: c (2000, 40000)  s2 (1500, 70000)
 * UEs c, s1 and s2 carry two users each. */
static void usable_snapshot(bb *b)
{
    snap_records(b, 9);
    rec_open(b, "alice", "a", 3000, 50000, 1, 0);
    rec_open(b, "alice", "b", 1000, 40000, 1, 0);
    rec_open(b, "alice", "c", 2000, 40000, 1, 0);
    rec_open(b, "alice", "s1", 2000, 60000, 1, 0);
    rec_open(b, "bob", "s1", 2000, 60000, 1, 0);
    rec_open(b, "bob", "s2", 2500, 60000, 1, 0);
    rec_open(b, "bob", "x", 500, 40000, 10, 1);
    bb_uint(b, 6);
    bb_text(b, "bob-call");
    rec_open(b, "carol", "c", 2000, 40000, 1, 0);
    rec_open(b, "carol", "s2", 1500, 70000, 1, 0);
}

static char *sn_all_pairs(const mcreg_registry *reg)
{
    tu_events t;
    tu_events_init(&t);
    ck_assert_int_eq(mcreg_foreach(reg, tu_collect_pair, &t), MCREG_OK);
    return t.log;
}

static char *sn_user_ues(const mcreg_registry *reg, const char *user)
{
    tu_events t;
    tu_events_init(&t);
    ck_assert_int_eq(mcreg_user_foreach(reg, user, tu_collect_ue, &t), MCREG_OK);
    return t.log;
}

/* After a restore the registry works as if built by registering. */
START_TEST(test_restore_then_usable)
{
    bb b;
    bb_init(&b);
    usable_snapshot(&b);
    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *reg = sn_new(1, &ev);
    sn_reg(reg, "zed", "c", 60, 100); /* replaced by the restore */
    tu_events_reset(&ev);
    sn_restore_ok(reg, b.p, b.len, 5000, "hand-built shared state");
    ck_assert_msg(ev.count == 0, "restore emitted events: %s", ev.log);
    ck_assert_uint_eq(mcreg_record_count(reg), 9);
    ck_assert_uint_eq(mcreg_user_count(reg), 3);

    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 40000);
    /* find_ue: earliest (registered_at, user_id). */
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "s1")), "alice");
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "s2")), "carol");
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "c")), "alice");
    /* Orders: (registered_at, ue_id) per user, (registered_at, ue_id,
     * user_id) overall. */
    char *s = sn_user_ues(reg, "alice");
    ck_assert_str_eq(s, "b,c,s1,a");
    free(s);
    s = sn_user_ues(reg, "bob");
    ck_assert_str_eq(s, "x,s1,s2");
    free(s);
    s = sn_all_pairs(reg);
    ck_assert_str_eq(s, "bob/x,alice/b,carol/s2,alice/c,carol/c,alice/s1,bob/s1,bob/s2,alice/a");
    free(s);

    /* A new UE: the notifications name the restored UEs in registered_at order. */
    sn_reg(reg, "alice", "new", 100, 10000);
    ck_assert_str_eq(ev.log, "CREATED(alice,new);"
                             "NOTIFY_LOGON(alice,new>new:[b,c,s1,a]);"
                             "NOTIFY_LOGON(alice,new>b:[c,s1,a,new]);"
                             "NOTIFY_LOGON(alice,new>c:[b,s1,a,new]);"
                             "NOTIFY_LOGON(alice,new>s1:[b,c,a,new]);"
                             "NOTIFY_LOGON(alice,new>a:[b,c,s1,new])");
    tu_events_reset(&ev);

    /* The restored Call-ID and CSeq order refreshes. */
    mcreg_binding r = tu_binding("bob", "x", 30);
    r.call_id = "bob-call";
    r.cseq = 9;
    ck_assert_int_eq(mcreg_register(reg, &r, 10000, NULL), MCREG_ERR_STALE);
    r.cseq = 10;
    ck_assert_int_eq(mcreg_register(reg, &r, 10000, NULL), MCREG_ERR_STALE);
    ck_assert_int_eq(ev.count, 0);
    ck_assert_uint_eq(mcreg_record_cseq(mcreg_find(reg, "bob", "x")), 10);
    r.cseq = 11;
    mcreg_outcome out = (mcreg_outcome)-1;
    ck_assert_int_eq(mcreg_register(reg, &r, 10000, &out), MCREG_OK); /* expires 40000 again */
    ck_assert_int_eq(out, MCREG_REFRESHED);
    ck_assert_str_eq(ev.log, "REFRESHED(bob,x)");
    tu_events_reset(&ev);

    /* Expiry in (expires_at, registered_at, ue_id, user_id) order. */
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, 39999, &n), MCREG_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mcreg_expire(reg, 40000, &n), MCREG_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(ev.log, "EXPIRED(bob,x);EXPIRED(alice,b);EXPIRED(alice,c);EXPIRED(carol,c)");
    ck_assert_ptr_null(mcreg_find_ue(reg, "c"));
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 50000);
    tu_events_reset(&ev);
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, &n), MCREG_OK);
    ck_assert_uint_eq(n, 6);
    ck_assert_str_eq(ev.log, "EXPIRED(alice,a);EXPIRED(alice,s1);EXPIRED(bob,s1);"
                             "EXPIRED(bob,s2);EXPIRED(carol,s2);EXPIRED(alice,new)");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    bb_free(&b);
    tu_events_free(&ev);
    mcreg_registry_free(reg);
}
END_TEST

/* A snapshot in which two users share a UE restores with UE exclusive off,
 * and is FORMAT with it on, leaving the registry as it was. */
START_TEST(test_restore_shared_ue_needs_exclusive_off)
{
    mcreg_registry *src = sn_new(1, NULL);
    sn_reg(src, "alice", "ue", 60, 1000);
    sn_reg(src, "bob", "ue", 60, 2000);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    mcreg_registry *off = sn_new(1, NULL);
    sn_restore_ok(off, snap, len, 0, "UE exclusive off");
    ck_assert_uint_eq(mcreg_record_count(off), 2);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(off, "ue")), "alice");

    tu_events ev;
    tu_events_init(&ev);
    mcreg_registry *on = sn_new(0, &ev);
    golden_build(on);
    tu_events_reset(&ev);
    int rc = mcreg_restore(on, snap, len, 0);
    ck_assert_msg(rc == MCREG_ERR_FORMAT, "UE exclusive on: rc %d, expected MCREG_ERR_FORMAT", rc);
    golden_check(on, "after the FORMAT error");
    ck_assert_int_eq(ev.count, 0);

    /* The hand-built shared state too. */
    bb b;
    bb_init(&b);
    usable_snapshot(&b);
    rc = mcreg_restore(on, b.p, b.len, 0);
    ck_assert_msg(rc == MCREG_ERR_FORMAT, "UE exclusive on: rc %d, expected MCREG_ERR_FORMAT", rc);
    golden_check(on, "after the FORMAT error");
    bb_free(&b);
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(off);
    mcreg_registry_free(on);
}
END_TEST

/* Limits are not enforced on restored records: neither the registry's nor
 * the user's own. */
START_TEST(test_restore_limits_not_enforced)
{
    mcreg_registry *src = sn_new(0, NULL);
    sn_reg(src, "alice", "a1", 60, 1000);
    sn_reg(src, "alice", "a2", 60, 1000);
    sn_reg(src, "alice", "a3", 60, 1000);
    sn_limit(src, "alice", 2);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);
    tu_events ev;
    tu_events_init(&ev);
    sn_cfg c = {0};
    c.max_ues = 1;
    c.fn = tu_events_cb;
    c.ud = &ev;
    mcreg_registry *reg = sn_new_cfg(&c);
    sn_restore_ok(reg, snap, len, 2000, "user over its limits");
    ck_assert_uint_eq(mcreg_user_ue_count(reg, "alice"), 3);
    ck_assert_int_eq(ev.count, 0);
    mcreg_binding b = tu_binding("alice", "a4", 60);
    ck_assert_int_eq(mcreg_register(reg, &b, 3000, NULL), MCREG_ERR_LIMIT);
    ck_assert_str_eq(ev.log, "REJECTED(alice,a4)");
    free(snap);
    tu_events_free(&ev);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

/* Through a counting allocator: the old state's memory goes back at each
 * restore, failed restores keep nothing, and freeing the registry returns
 * every block. */
START_TEST(test_restore_custom_allocator)
{
    sn_spec s = {0};
    sn_spec_rich(&s, 0);
    mcreg_registry *src = sn_new(0, NULL);
    sn_apply(src, &s, 0);
    size_t len = 0;
    uint8_t *snap = sn_take(src, &len);

    tu_alloc a;
    memset(&a, 0, sizeof(a));
    mcreg_allocator al = tu_allocator(&a);
    sn_cfg c = {0};
    c.alloc = &al;
    mcreg_registry *reg = sn_new_cfg(&c);
    size_t live0 = a.live, calls0 = a.calls;
    sn_restore_ok(reg, snap, len, 0, "first restore");
    ck_assert_msg(a.calls > calls0 && a.live > live0, "restore did not use the allocator");
    size_t live1 = a.live, bytes1 = a.live_bytes;
    for (int k = 0; k < 5; k++) {
        sn_restore_ok(reg, snap, len, 0, "restore again");
        ck_assert_msg(a.live == live1 && a.live_bytes == bytes1,
                      "restore %d: %zu blocks / %zu bytes live, %zu / %zu after the first", k,
                      a.live, a.live_bytes, live1, bytes1);
    }
    /* Failed restores (truncated) allocate nothing that stays. */
    for (size_t cut = len / 2; cut < len; cut += len / 7 + 1) {
        ck_assert_int_eq(mcreg_restore(reg, snap, cut, 0), MCREG_ERR_FORMAT);
        ck_assert_msg(a.live == live1 && a.live_bytes == bytes1, "failed restore kept memory");
    }
    mcreg_registry *dst = sn_new(0, NULL);
    sn_check_roundtrip(reg, dst, &s.users, &s.ues, 0, "registry with its own allocator");
    /* The empty state needs less. */
    bb e;
    bb_init(&e);
    bb_hex(&e, "d9 d9 f7 a1 00 82 01 00");
    sn_restore_ok(reg, e.p, e.len, 0, "empty state");
    ck_assert_msg(a.live < live1 && a.live_bytes < bytes1, "the old state was not freed");
    mcreg_registry_free(reg);
    ck_assert_msg(a.live == 0 && a.live_bytes == 0, "%zu blocks / %zu bytes leaked", a.live,
                  a.live_bytes);
    bb_free(&e);
    free(snap);
    mcreg_registry_free(src);
    mcreg_registry_free(dst);
    sn_spec_free(&s);
}
END_TEST

/* Keys 1 and 2 are optional; a minor version above 0 is read. */
START_TEST(test_restore_minimal_and_later_minor)
{
    mcreg_registry *reg = sn_new(0, NULL);
    bb b;
    bb_init(&b);

    golden_build(reg);
    bb_hex(&b, "d9 d9 f7 a1 00 82 01 00"); /* {0: [1, 0]} */
    sn_restore_ok(reg, b.p, b.len, 0, "version only");
    ck_assert_uint_eq(mcreg_record_count(reg), 0);
    uint32_t max = 0;
    ck_assert_int_eq(mcreg_user_max_ues(reg, G_ZED, &max), MCREG_ERR_NOT_FOUND);

    bb_reset(&b);
    snap_limits(&b, 1); /* {0: [1, 0], 2: [["z", 3]]} */
    bb_array(&b, 2);
    bb_text(&b, "z");
    bb_uint(&b, 3);
    sn_restore_ok(reg, b.p, b.len, 0, "limits only");
    ck_assert_int_eq(mcreg_user_max_ues(reg, "z", &max), MCREG_OK);
    ck_assert_uint_eq(max, 3);

    static const uint64_t minors[] = {1, 5, 24, 65536, UINT64_MAX};
    for (size_t k = 0; k < sizeof(minors) / sizeof(minors[0]); k++) {
        bb_reset(&b);
        bb_self(&b);
        bb_map(&b, 2);
        bb_uint(&b, 0);
        bb_version(&b, 1, minors[k]);
        bb_uint(&b, 1);
        bb_array(&b, 1);
        rec_alt(&b, -1, NULL);
        sn_restore_ok(reg, b.p, b.len, 0, "later minor version");
        ck_assert_uint_eq(mcreg_record_count(reg), 1);
        ck_assert_ptr_nonnull(mcreg_find(reg, "u1", "e1"));
        /* Written back as 1.0. */
        size_t len = 0;
        uint8_t *snap = sn_take(reg, &len);
        ck_assert_msg(len > 8 && snap[6] == 1 && snap[7] == 0, "not written as version 1.0");
        free(snap);
    }
    bb_free(&b);
    mcreg_registry_free(reg);
}
END_TEST

/* Records and limits in no particular order are read (the writer sorts
 * them); the snapshot of the result is the sorted one. */
START_TEST(test_restore_unsorted_input)
{
    bb in, want;
    bb_init(&in);
    bb_init(&want);
    snap_open(&in, 3);
    bb_uint(&in, 1);
    bb_array(&in, 4);
    rec_open(&in, "bob", "e2", 10, 90000, 1, 0);
    rec_open(&in, "alice", "e1", 20, 90000, 2, 0);
    rec_open(&in, "bob", "e1", 30, 90000, 3, 0);
    rec_open(&in, "Alice", "e3", 40, 90000, 4, 0);
    bb_uint(&in, 2);
    bb_array(&in, 3);
    bb_array(&in, 2);
    bb_text(&in, "zed");
    bb_uint(&in, 1);
    bb_array(&in, 2);
    bb_text(&in, "alice");
    bb_uint(&in, 2);
    bb_array(&in, 2);
    bb_text(&in, "Zed");
    bb_uint(&in, 3);

    snap_open(&want, 3);
    bb_uint(&want, 1);
    bb_array(&want, 4);
    rec_open(&want, "Alice", "e3", 40, 90000, 4, 0);
    rec_open(&want, "alice", "e1", 20, 90000, 2, 0);
    rec_open(&want, "bob", "e1", 30, 90000, 3, 0);
    rec_open(&want, "bob", "e2", 10, 90000, 1, 0);
    bb_uint(&want, 2);
    bb_array(&want, 3);
    bb_array(&want, 2);
    bb_text(&want, "Zed");
    bb_uint(&want, 3);
    bb_array(&want, 2);
    bb_text(&want, "alice");
    bb_uint(&want, 2);
    bb_array(&want, 2);
    bb_text(&want, "zed");
    bb_uint(&want, 1);

    mcreg_registry *reg = sn_new(1, NULL);
    sn_restore_ok(reg, in.p, in.len, 0, "unsorted records and limits");
    char *s = sn_user_ues(reg, "bob");
    ck_assert_str_eq(s, "e2,e1");
    free(s);
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, want.p, want.len, "snapshot of unsorted input");
    mcreg_registry *reg2 = sn_new(1, NULL);
    sn_restore_ok(reg2, want.p, want.len, 0, "sorted records and limits");
    sn_assert_same_records(reg2, reg, "sorted vs unsorted input");
    free(snap);
    bb_free(&in);
    bb_free(&want);
    mcreg_registry_free(reg);
    mcreg_registry_free(reg2);
}
END_TEST

/* The reader does not insist on the writer's shortest heads (the README's
 * rules for readers do not include it): longer heads read the same. */
START_TEST(test_restore_longer_heads)
{
    bb in;
    bb_init(&in);
    bb_self(&in);
    bb_head_w(&in, 5, 3, 1);       /* map(3) in two bytes */
    bb_head_w(&in, 0, 0, 4);       /* key 0 in five bytes */
    bb_head_w(&in, 4, 2, 2);
    bb_head_w(&in, 0, 1, 8);       /* major 1 in nine bytes */
    bb_head_w(&in, 0, 0, 1);
    bb_head_w(&in, 0, 1, 1);       /* key 1 */
    bb_head_w(&in, 4, 1, 4);
    bb_head_w(&in, 5, 6, 1);
    bb_uint(&in, 0);
    bb_head_w(&in, 3, 2, 2);
    bb_put(&in, "u1", 2);
    bb_uint(&in, 1);
    bb_head_w(&in, 3, 2, 8);
    bb_put(&in, "e1", 2);
    bb_uint(&in, 2);
    bb_head_w(&in, 0, 1000, 8);
    bb_uint(&in, 3);
    bb_head_w(&in, 0, 90000, 8);
    bb_uint(&in, 4);
    bb_head_w(&in, 0, 7, 4);
    bb_uint(&in, 7);
    bb_head_w(&in, 4, 1, 1);
    bb_array(&in, 2);
    bb_head_w(&in, 3, 1, 1);
    bb_put(&in, "k", 1);
    bb_head_w(&in, 1, 4, 2);       /* -5 */
    bb_head_w(&in, 0, 2, 1);       /* key 2 */
    bb_head_w(&in, 4, 0, 1);

    bb want;
    bb_init(&want);
    snap_open(&want, 3);
    bb_uint(&want, 1);
    bb_array(&want, 1);
    rec_open(&want, "u1", "e1", 1000, 90000, 7, 1);
    bb_uint(&want, 7);
    bb_hex(&want, "81 82 61 6b 24");
    bb_uint(&want, 2);
    bb_array(&want, 0);

    mcreg_registry *reg = sn_new(0, NULL);
    sn_restore_ok(reg, in.p, in.len, 0, "longer heads");
    const mcreg_record *r = mcreg_find(reg, "u1", "e1");
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(mcreg_record_expires_at(r), 90000);
    ck_assert_int_eq(mcreg_record_setting_find(r, "k")->v.i, -5);
    size_t len = 0;
    uint8_t *snap = sn_take(reg, &len);
    sn_assert_bytes(snap, len, want.p, want.len, "snapshot after longer heads");
    free(snap);
    bb_free(&in);
    bb_free(&want);
    mcreg_registry_free(reg);
}
END_TEST

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
    sn_cfg cfg = {0};
    cfg.shared = c->shared;
    cfg.fn = tu_events_cb;
    cfg.ud = &c->ev;
    cfg.alloc = &c->al;
    c->reg = sn_new_cfg(&cfg);
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

/* ======================================================================== */

/* Records registered after the restoring now_ms (a snapshot of a clock
 * ahead): a new record at now_ms sorts before them, in the user's list and
 * in a shared UE's list, and everything stays in order. */
START_TEST(test_restore_records_from_a_clock_ahead)
{
    bb b;
    bb_init(&b);
    snap_records(&b, 3);
    rec_open(&b, "u1", "e5", 9000, 99000, 1, 0);
    rec_open(&b, "u1", "shared", 8000, 99000, 1, 0);
    rec_open(&b, "u2", "shared", 7000, 99000, 1, 0);
    mcreg_registry *reg = sn_new(1, NULL);
    sn_restore_ok(reg, b.p, b.len, 1000, "records registered after now_ms");
    mcreg_binding nb = tu_binding("u1", "e9", 60);
    ck_assert_int_eq(mcreg_register(reg, &nb, 1000, NULL), MCREG_OK);
    nb = tu_binding("u3", "shared", 60);
    ck_assert_int_eq(mcreg_register(reg, &nb, 1000, NULL), MCREG_OK);
    nb = tu_binding("u1", "e7", 60);
    ck_assert_int_eq(mcreg_register(reg, &nb, 8500, NULL), MCREG_OK); /* in between */
    tu_events order;
    tu_events_init(&order);
    ck_assert_int_eq(mcreg_user_foreach(reg, "u1", tu_collect_ue, &order), MCREG_OK);
    ck_assert_str_eq(order.log, "e9,shared,e7,e5");
    tu_events_free(&order);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "shared")), "u3");
    ck_assert_int_eq(mcreg_deregister(reg, "u3", "shared", 1000), MCREG_OK);
    ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, "shared")), "u2");
    mcreg_registry_free(reg);
    bb_free(&b);
}
END_TEST

Suite *suite_snapshot(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_roundtrip_rich, 0, 2);
    tcase_add_test(tc, test_roundtrip_empty);
    tcase_add_test(tc, test_roundtrip_limits_only);
    tcase_add_test(tc, test_encoding_matches_hand_built);
    tcase_add_loop_test(tc, test_determinism_insertion_order, 0, 2);
    tcase_add_test(tc, test_determinism_history);
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_golden_builder_matches_file);
    tcase_add_test(tc, test_golden_restore_fields);
    tcase_add_test(tc, test_golden_resnapshot_identical);
    tcase_add_test(tc, test_golden_other_major_is_version_error);
    tcase_add_test(tc, test_golden_unknown_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("restore");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_restore_expiry_boundary);
    tcase_add_test(tc, test_restore_expiry_at_uint64_max);
    tcase_add_test(tc, test_restore_replaces_state_without_events);
    tcase_add_test(tc, test_restore_busy_in_callback);
    tcase_add_test(tc, test_restore_busy_in_visitor);
    tcase_add_test(tc, test_restore_invalid_arguments);
    tcase_add_test(tc, test_snapshot_invalid_arguments);
    tcase_add_test(tc, test_buffer_free_null);
    tcase_add_test(tc, test_snapshot_in_callback);
    tcase_add_test(tc, test_restore_then_usable);
    tcase_add_test(tc, test_restore_shared_ue_needs_exclusive_off);
    tcase_add_test(tc, test_restore_limits_not_enforced);
    tcase_add_test(tc, test_restore_custom_allocator);
    tcase_add_test(tc, test_restore_minimal_and_later_minor);
    tcase_add_test(tc, test_restore_unsorted_input);
    tcase_add_test(tc, test_restore_records_from_a_clock_ahead);
    tcase_add_test(tc, test_restore_longer_heads);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
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
