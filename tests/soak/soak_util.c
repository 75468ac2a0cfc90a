/* The soak test's helpers: counting allocator, ids, contacts and
 * Call-IDs, generated settings. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak.h"

/* ---- counting allocator -------------------------------------------------------- */

typedef union alloc_hdr {
    size_t size;
    max_align_t align;
} alloc_hdr;

static void count_up(soak_alloc *a, size_t n)
{
    a->live_bytes += n;
    if (a->live_bytes > a->peak_bytes)
        a->peak_bytes = a->live_bytes;
}

static void *a_malloc(size_t size, void *ctx)
{
    soak_alloc *a = ctx;
    if (size > SIZE_MAX - sizeof(alloc_hdr))
        return NULL;
    alloc_hdr *h = malloc(sizeof(alloc_hdr) + size);
    if (!h)
        return NULL;
    h->size = size;
    a->mallocs++;
    a->live_blocks++;
    count_up(a, size);
    return h + 1;
}

static void *a_realloc(void *ptr, size_t size, void *ctx)
{
    soak_alloc *a = ctx;
    if (!ptr)
        return a_malloc(size, ctx);
    if (size > SIZE_MAX - sizeof(alloc_hdr))
        return NULL;
    alloc_hdr *h = (alloc_hdr *)ptr - 1;
    size_t old = h->size;
    alloc_hdr *nh = realloc(h, sizeof(alloc_hdr) + size);
    if (!nh)
        return NULL;
    nh->size = size;
    a->reallocs++;
    a->live_bytes -= old;
    count_up(a, size);
    return nh + 1;
}

static void a_free(void *ptr, void *ctx)
{
    soak_alloc *a = ctx;
    if (!ptr)
        return;
    alloc_hdr *h = (alloc_hdr *)ptr - 1;
    a->live_bytes -= h->size;
    a->live_blocks--;
    a->frees++;
    free(h);
}

mcreg_allocator soak_allocator(soak_alloc *a)
{
    mcreg_allocator al;
    al.malloc = a_malloc;
    al.realloc = a_realloc;
    al.free = a_free;
    al.ctx = a;
    return al;
}

/* ---- ids ------------------------------------------------------------------------- */

#define USER_PREFIX "sip:user"
#define USER_SUFFIX "@soak.mcptt.example"
#define UE_SUFFIX "@ue.soak.example"
/* Not in k order, so (registered_at, ue_id) ties do not follow k. */
static const char *const ue_class[SOAK_UES_PER_USER] = {"radio", "phone", "tablet", "console"};

static int fmt_user(char *buf, size_t cap, uint32_t u)
{
    return snprintf(buf, cap, USER_PREFIX "%" PRIu32 USER_SUFFIX, u);
}

int soak_ids_init(soak_ids *ids, uint32_t n_users)
{
    memset(ids, 0, sizeof(*ids));
    if (n_users == 0 || n_users > UINT32_MAX / SOAK_UES_PER_USER)
        return -1;
    ids->n_users = n_users;
    ids->n_ues = n_users * SOAK_UES_PER_USER;
    /* At most 10 digits each: 8 + 10 + 19 + 1 bytes a user, 7 + 1 + 10 + 16
     * + 1 a UE. */
    size_t cap = (size_t)n_users * 40 + (size_t)ids->n_ues * 40;
    ids->arena = malloc(cap);
    ids->user_off = malloc(sizeof(uint32_t) * n_users);
    ids->ue_off = malloc(sizeof(uint32_t) * ids->n_ues);
    if (!ids->arena || !ids->user_off || !ids->ue_off || cap > UINT32_MAX) {
        soak_ids_free(ids);
        return -1;
    }
    size_t at = 0;
    for (uint32_t u = 0; u < n_users; u++) {
        ids->user_off[u] = (uint32_t)at;
        at += (size_t)fmt_user(ids->arena + at, cap - at, u) + 1;
    }
    for (uint32_t x = 0; x < ids->n_ues; x++) {
        ids->ue_off[x] = (uint32_t)at;
        at += (size_t)snprintf(ids->arena + at, cap - at, "%s.%" PRIu32 UE_SUFFIX,
                               ue_class[x % SOAK_UES_PER_USER], x / SOAK_UES_PER_USER) +
              1;
    }
    return 0;
}

void soak_ids_free(soak_ids *ids)
{
    free(ids->arena);
    free(ids->user_off);
    free(ids->ue_off);
    memset(ids, 0, sizeof(*ids));
}

const char *soak_user(const soak_ids *ids, uint32_t u)
{
    return ids->arena + ids->user_off[u];
}

const char *soak_ue(const soak_ids *ids, uint32_t x)
{
    return ids->arena + ids->ue_off[x];
}

/* Decimal digits at *s, no leading zero unless "0"; advances *s. */
static int64_t parse_num(const char **s)
{
    const char *p = *s;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return -1;
    uint64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return -1;
        p++;
    }
    *s = p;
    return (int64_t)v;
}

int64_t soak_parse_user(const soak_ids *ids, const char *s)
{
    size_t pl = strlen(USER_PREFIX);
    if (!s || strncmp(s, USER_PREFIX, pl) != 0)
        return -1;
    s += pl;
    int64_t u = parse_num(&s);
    if (u < 0 || (uint64_t)u >= ids->n_users || strcmp(s, USER_SUFFIX) != 0)
        return -1;
    return u;
}

int64_t soak_parse_ue(const soak_ids *ids, const char *s)
{
    if (!s)
        return -1;
    for (uint32_t k = 0; k < SOAK_UES_PER_USER; k++) {
        size_t cl = strlen(ue_class[k]);
        if (strncmp(s, ue_class[k], cl) != 0 || s[cl] != '.')
            continue;
        const char *p = s + cl + 1;
        int64_t u = parse_num(&p);
        if (u < 0 || (uint64_t)u >= ids->n_users || strcmp(p, UE_SUFFIX) != 0)
            return -1;
        return u * SOAK_UES_PER_USER + k;
    }
    return -1;
}

/* ---- contacts and Call-IDs ----------------------------------------------------------- */

void soak_contact(uint32_t c, char *buf)
{
    switch (c % 4) {
    case 0:
        snprintf(buf, SOAK_STR_MAX, "sip:%" PRIu32 "@192.0.2.%" PRIu32 ":5060", c,
                 c % 256);
        break;
    case 1:
        snprintf(buf, SOAK_STR_MAX, "<sip:mcptt-%08" PRIx32 "@[2001:db8::%" PRIx32
                 "]:5061;transport=tls>", c, c & 0xffff);
        break;
    case 2:
        snprintf(buf, SOAK_STR_MAX,
                 "sip:%" PRIu32 "@10.%" PRIu32 ".%" PRIu32 ".%" PRIu32
                 ";transport=tcp;+g.3gpp.mcptt;+g.3gpp.icsi-ref=\"urn%%3Aurn-7%%3A3gpp-"
                 "service.ims.icsi.mcptt\"",
                 c, (c >> 16) & 255, (c >> 8) & 255, c & 255);
        break;
    default:
        snprintf(buf, SOAK_STR_MAX, "tel:+1555%07" PRIu32, c % 10000000);
        break;
    }
}

void soak_call_id(uint32_t c, char *buf)
{
    if (c % 3 == 0)
        snprintf(buf, SOAK_STR_MAX, "%08" PRIx32 "%08" PRIx32 "@pc%" PRIu32
                 ".soak.example", c, c * 2654435761u, c % 97);
    else
        snprintf(buf, SOAK_STR_MAX, "%" PRIx32, c);
}

/* ---- settings ------------------------------------------------------------------------- */

#define N_KEYS 8
static const char *const set_keys[N_KEYS] = {"mcptt-priority", "display-name", "emergency-alert",
                                             "token", "group", "x-vendor-ext", "location-cfg",
                                             "k"};

static void gen_text(uint64_t *st, uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t r = test_splitmix64(st);
        if (r % 16 == 0 && i + 2 <= len) {
            data[i++] = 0xc3; /* U+00E9 */
            data[i++] = 0xa9;
        } else if (r % 61 == 0) {
            data[i++] = 0; /* text values may hold U+0000 */
        } else {
            data[i++] = (uint8_t)('a' + (r >> 8) % 26);
        }
    }
}

void soak_settings_gen(uint32_t seed, soak_settings *o)
{
    o->n = 0;
    if (!seed)
        return;
    uint64_t st = seed;
    if (seed % 499 == 0) {
        /* One setting of exactly MCREG_MAX_SETTING_LEN bytes, key included. */
        mcreg_setting *s = &o->s[0];
        memset(s, 0, sizeof(*s));
        s->key = "k";
        size_t len = MCREG_MAX_SETTING_LEN - 1;
        if (seed % 2) {
            s->type = MCREG_VAL_TEXT;
            gen_text(&st, o->data[0], len);
            s->v.text.ptr = (const char *)o->data[0];
            s->v.text.len = len;
        } else {
            s->type = MCREG_VAL_BYTES;
            for (size_t j = 0; j < len; j++)
                o->data[0][j] = (uint8_t)test_splitmix64(&st);
            s->v.bytes.ptr = o->data[0];
            s->v.bytes.len = len;
        }
        o->n = 1;
        return;
    }
    size_t n = 1 + (size_t)(test_splitmix64(&st) % 5);
    int idx[N_KEYS];
    for (int i = 0; i < N_KEYS; i++)
        idx[i] = i;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + (size_t)(test_splitmix64(&st) % (N_KEYS - i));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        mcreg_setting *s = &o->s[i];
        memset(s, 0, sizeof(*s));
        s->key = set_keys[idx[i]];
        uint64_t r = test_splitmix64(&st);
        s->type = (mcreg_value_type)(r % 4);
        switch (s->type) {
        case MCREG_VAL_INT:
            s->v.i = (int64_t)test_splitmix64(&st);
            break;
        case MCREG_VAL_BOOL:
            s->v.b = (int)((r >> 8) % 4) - 1; /* -1, 0, 1, 2: non-zero is stored as 1 */
            break;
        case MCREG_VAL_TEXT: {
            size_t len = (size_t)((r >> 8) % 41);
            if ((r >> 16) % 64 == 0)
                len = 200 + (size_t)((r >> 24) % 800);
            gen_text(&st, o->data[i], len);
            s->v.text.ptr = len || (r >> 40) % 2 ? (const char *)o->data[i] : NULL;
            s->v.text.len = len;
            break;
        }
        case MCREG_VAL_BYTES: {
            size_t len = (size_t)((r >> 8) % 33);
            for (size_t j = 0; j < len; j++)
                o->data[i][j] = (uint8_t)test_splitmix64(&st);
            s->v.bytes.ptr = len || (r >> 40) % 2 ? o->data[i] : NULL;
            s->v.bytes.len = len;
            break;
        }
        }
    }
    o->n = n;
}
