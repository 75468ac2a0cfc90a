/* The snapshot tests' shared helpers: see snapshot_util.h. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcreg.h"
#include "rng.h"
#include "snapshot_util.h"
#include "testutil.h"

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
const char *sn_hex(char *out, size_t cap, const uint8_t *p, size_t len)
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

double sn_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fails with the first differing offset when two byte strings differ. */
void sn_assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want,
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
void sn_assert_text(const char *got, const char *want, const char *what)
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

void names_add(names *s, const char *x)
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

void names_free(names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void names_from(names *s, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        names_add(s, v[i]);
}

/*
 * Everything observable about the given users and UEs: tu_state_dump(),
 * then for each user its own limit, its UE count and its UEs in
 * mcreg_user_foreach order, and for each UE the user mcreg_find_ue gives.
 */
char *sn_dump(const mcreg_registry *reg, const names *users, const names *ues)
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

void sn_assert_same_records(const mcreg_registry *want, const mcreg_registry *got,
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

/* A registry with UE exclusive on (shared == 0) or off, with the event
 * recorder when ev is given. */
mcreg_registry *sn_new(int shared, tu_events *ev)
{
    tu_opts c = {.rules.shared_ues = shared};
    if (ev) {
        c.fn = tu_events_cb;
        c.ud = ev;
    }
    return tu_registry_new(&c);
}

/* The snapshot of reg, copied into a malloc'd buffer. */
uint8_t *sn_take(const mcreg_registry *reg, size_t *len)
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

void sn_restore_ok(mcreg_registry *reg, const uint8_t *buf, size_t len, uint64_t now,
                   const char *what)
{
    int rc = mcreg_restore(reg, buf, len, now);
    char h[256];
    ck_assert_msg(rc == MCREG_OK, "%s: mcreg_restore gave %d (%s); input %s", what, rc,
                  mcreg_strerror(rc), sn_hex(h, sizeof(h), buf, len));
}

void sn_reg(mcreg_registry *reg, const char *user, const char *ue, uint32_t exp,
            uint64_t now)
{
    mcreg_binding b = tu_binding(user, ue, exp);
    int rc = mcreg_register(reg, &b, now, NULL);
    ck_assert_msg(rc == MCREG_OK, "register %s/%s: %d", user, ue, rc);
}

void sn_reg_full(mcreg_registry *reg, const char *user, const char *ue, uint64_t now,
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

void sn_limit(mcreg_registry *reg, const char *user, uint32_t max)
{
    ck_assert_int_eq(mcreg_set_user_max_ues(reg, user, max), MCREG_OK);
}

/* ---- expected records written as literals -------------------------------- */

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
void sn_check_state(const mcreg_registry *reg, const exp_record *recs, size_t n,
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

uint8_t *sn_read_data(const char *name, size_t *len)
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

void sn_write_file(const char *path, const uint8_t *p, size_t len)
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
char sn_uri_max[MCREG_MAX_URI_LEN + 1];    /* 2048 bytes */
char sn_user_max[MCREG_MAX_ID_LEN + 1];    /* 1024 bytes, two-byte characters */
char sn_ue_max[MCREG_MAX_ID_LEN + 1];      /* 1024 bytes, three-byte characters */
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
const size_t sn_pool_n = SN_POOL_N;

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

void sn_spec_free(sn_spec *s)
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
void sn_spec_rich(sn_spec *s, int shared)
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

/* 0..n-1, shuffled unless seed is 0. */
static size_t *sn_order(size_t n, uint64_t seed)
{
    size_t *o = malloc((n ? n : 1) * sizeof(*o));
    ck_assert_ptr_nonnull(o);
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    if (seed) {
        test_rng g;
        test_rng_seed(&g, seed);
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)test_rng_below(&g, i);
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
void sn_apply(mcreg_registry *reg, const sn_spec *s, uint64_t seed)
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
void sn_other_state(mcreg_registry *reg, names *users, names *ues)
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
void sn_check_roundtrip(const mcreg_registry *src, mcreg_registry *dst,
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

/* ======================================================================== */
/* Golden files                                                             */

/* The golden state: three users with six records between them, every
 * setting type, contact and Call-ID absent on some records, times and CSeq
 * at their extremes, and three limits, one of a user without records. */
void golden_build(mcreg_registry *reg)
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

void golden_check(const mcreg_registry *reg, const char *what)
{
    sn_check_state(reg, golden_records, 6, golden_limits, 3, golden_no_limit, 2, what);
    ck_assert_uint_eq(mcreg_user_count(reg), 3);
    ck_assert_uint_eq(mcreg_user_ue_count(reg, G_ZED), 0);
    uint64_t at = 0;
    ck_assert_int_eq(mcreg_next_expiry(reg, &at), MCREG_OK);
    ck_assert_uint_eq(at, 61500);
}