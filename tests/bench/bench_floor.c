/*
 * The floor: the cost of a bare hash-table registry. Plain uthash with its
 * default hash, the same key bytes libmcreg gets, and none of libmcreg's
 * extra work: no UTF-8 or limit checks, no events, no expiry heap, no
 * ordering of a user's UEs, no all-or-nothing rollback. It does keep what
 * any registry must: copies of its strings and settings, a users table whose
 * items list their UE records, a UE table for find_ue, and the CSeq check
 * of RFC 3261 (one compare, kept so that refresh does the same job).
 *
 * Expiry is a full scan of the UE table, which is what a table without a
 * heap has to do.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* uthash's own allocations (tables and buckets) go through the same
 * counting allocator as the items. Its macros cannot carry a context, so
 * the heap is a file-level variable; each backend runs in a process of
 * its own, so there is only ever one floor. */
static bench_heap floor_heap;
#define uthash_malloc(sz) bench_heap_malloc((sz), &floor_heap)
#define uthash_free(ptr, sz) bench_heap_free((ptr), &floor_heap)
#include <uthash.h>

/* Contact, Call-ID and settings of a record in one block, replaced as a
 * whole on refresh (the strings follow the settings array). */
typedef struct floor_payload {
    const char *contact;
    const char *call_id;
    uint32_t n_settings;
    mcreg_setting settings[];
} floor_payload;

struct floor_user;

typedef struct floor_rec {
    UT_hash_handle hh; /* UE table, keyed by ue_id */
    struct floor_user *user;
    struct floor_rec *next; /* the user's records */
    floor_payload *payload;
    uint64_t registered_at, expires_at;
    uint32_t cseq;
    char ue_id[];
} floor_rec;

typedef struct floor_user {
    UT_hash_handle hh; /* users table, keyed by id */
    floor_rec *first;
    uint32_t n_records;
    char id[];
} floor_user;

typedef struct floor_ctx {
    floor_user *users;
    floor_rec *ues;
    uint64_t sink;
} floor_ctx;

static void *xalloc(size_t n)
{
    return bench_heap_malloc(n, &floor_heap);
}

static void xfree(void *p)
{
    bench_heap_free(p, &floor_heap);
}

static floor_payload *payload_new(const char *contact, const char *call_id,
                                  const mcreg_setting *s, size_t n)
{
    size_t contact_len = strlen(contact), call_len = strlen(call_id);
    size_t size = sizeof(floor_payload) + n * sizeof(mcreg_setting) + contact_len + 1 +
                  call_len + 1;
    size_t key_len[BENCH_N_SETTINGS];
    for (size_t k = 0; k < n; k++) {
        key_len[k] = strlen(s[k].key);
        size += key_len[k] + 1;
        if (s[k].type == MCREG_VAL_TEXT)
            size += s[k].v.text.len + 1;
    }
    floor_payload *p = xalloc(size);
    if (!p)
        return NULL;
    char *cur = (char *)&p->settings[n];
    memcpy(cur, contact, contact_len + 1);
    p->contact = cur;
    cur += contact_len + 1;
    memcpy(cur, call_id, call_len + 1);
    p->call_id = cur;
    cur += call_len + 1;
    p->n_settings = (uint32_t)n;
    for (size_t k = 0; k < n; k++) {
        p->settings[k] = s[k];
        memcpy(cur, s[k].key, key_len[k] + 1);
        p->settings[k].key = cur;
        cur += key_len[k] + 1;
        if (s[k].type == MCREG_VAL_TEXT) {
            memcpy(cur, s[k].v.text.ptr, s[k].v.text.len);
            cur[s[k].v.text.len] = '\0';
            p->settings[k].v.text.ptr = cur;
            cur += s[k].v.text.len + 1;
        }
    }
    return p;
}

static void rec_remove(floor_ctx *c, floor_rec *r)
{
    floor_user *u = r->user;
    HASH_DEL(c->ues, r);
    floor_rec **pp = &u->first;
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    if (--u->n_records == 0) {
        HASH_DEL(c->users, u);
        xfree(u);
    }
    xfree(r->payload);
    xfree(r);
}

/* Create or refresh the (user, UE) record; 1 created, 2 refreshed, 0 stale,
 * -1 out of memory. */
static int floor_put(floor_ctx *c, const char *user_id, const char *ue_id, const char *contact,
                     const char *call_id, uint32_t cseq, uint64_t expires_at,
                     const mcreg_setting *s, size_t n, uint64_t now_ms)
{
    size_t ue_len = strlen(ue_id);
    floor_rec *r;
    HASH_FIND(hh, c->ues, ue_id, ue_len, r);
    if (r) {
        if (strcmp(r->user->id, user_id) != 0)
            return -1; /* the workload never moves a UE between users */
        if (strcmp(r->payload->call_id, call_id) == 0 && cseq <= r->cseq)
            return 0;
        floor_payload *p = payload_new(contact, call_id, s, n);
        if (!p)
            return -1;
        xfree(r->payload);
        r->payload = p;
        r->cseq = cseq;
        r->expires_at = expires_at;
        return 2;
    }
    size_t user_len = strlen(user_id);
    floor_user *u;
    HASH_FIND(hh, c->users, user_id, user_len, u);
    if (!u) {
        u = xalloc(sizeof *u + user_len + 1);
        if (!u)
            return -1;
        memcpy(u->id, user_id, user_len + 1);
        u->first = NULL;
        u->n_records = 0;
        HASH_ADD_KEYPTR(hh, c->users, u->id, user_len, u);
    }
    r = xalloc(sizeof *r + ue_len + 1);
    floor_payload *p = payload_new(contact, call_id, s, n);
    if (!r || !p) {
        xfree(r);
        xfree(p);
        return -1;
    }
    memcpy(r->ue_id, ue_id, ue_len + 1);
    r->user = u;
    r->payload = p;
    r->registered_at = now_ms;
    r->expires_at = expires_at;
    r->cseq = cseq;
    /* Appended: the user's records in arrival order. */
    r->next = NULL;
    floor_rec **pp = &u->first;
    while (*pp)
        pp = &(*pp)->next;
    *pp = r;
    u->n_records++;
    HASH_ADD_KEYPTR(hh, c->ues, r->ue_id, ue_len, r);
    return 1;
}

static floor_rec *floor_find(floor_ctx *c, const char *user_id, const char *ue_id)
{
    floor_rec *r;
    HASH_FIND(hh, c->ues, ue_id, strlen(ue_id), r);
    return r && strcmp(r->user->id, user_id) == 0 ? r : NULL;
}

static void floor_clear(floor_ctx *c)
{
    floor_rec *r, *tmp;
    HASH_ITER(hh, c->ues, r, tmp) {
        rec_remove(c, r);
    }
}

static int f_open(void **ctx, const bench_workload *w, bench_err *e)
{
    (void)w;
    floor_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return bench_fail(e, "out of memory");
    *ctx = c;
    return 0;
}

static void f_close(void *ctx)
{
    floor_ctx *c = ctx;
    if (!c)
        return;
    floor_clear(c);
    free(c);
}

static int f_clear(void *ctx, bench_err *e)
{
    (void)e;
    floor_clear(ctx);
    return 0;
}

static int64_t f_put(void *ctx, const bench_workload *w, const bench_pass *p, bench_err *e)
{
    floor_ctx *c = ctx;
    mcreg_setting settings[BENCH_N_SETTINGS];
    int want = p->refresh ? 2 : 1;
    int64_t done = 0;
    for (size_t i = 0; i < w->n_records; i++) {
        bench_workload_settings(w, i, settings);
        uint64_t now = bench_pass_now(p, i);
        uint64_t exp = bench_expires_at(now, bench_pass_expires_s(p, w, i));
        int rc = floor_put(c, w->user_id[i], w->ue[i], w->contact[i], w->call_id[i],
                           w->cseq[i] + p->cseq_add, exp, settings, BENCH_N_SETTINGS, now);
        if (rc != want)
            return bench_fail(e, "floor put(%s, %s): %d, expected %d", w->user_id[i], w->ue[i],
                              rc, want);
        done++;
    }
    return done;
}

static int64_t f_find(void *ctx, const bench_workload *w, bench_err *e)
{
    floor_ctx *c = ctx;
    int64_t found = 0;
    uint64_t sink = 0;
    (void)e;
    for (size_t k = 0; k < w->n_find; k++) {
        const floor_rec *r = floor_find(c, w->find_user[k], w->find_ue[k]);
        if (r) {
            sink += r->cseq;
            found++;
        }
    }
    c->sink += sink;
    return found;
}

static int64_t f_find_ue(void *ctx, const bench_workload *w, bench_err *e)
{
    floor_ctx *c = ctx;
    int64_t found = 0;
    uint64_t sink = 0;
    (void)e;
    for (size_t k = 0; k < w->n_find; k++) {
        const char *ue = w->ue_probe[k];
        floor_rec *r;
        HASH_FIND(hh, c->ues, ue, strlen(ue), r);
        if (r) {
            sink += r->cseq;
            found++;
        }
    }
    c->sink += sink;
    return found;
}

static int64_t f_user_foreach(void *ctx, const bench_workload *w, bench_err *e)
{
    floor_ctx *c = ctx;
    int64_t n = 0;
    uint64_t sink = 0;
    for (size_t k = 0; k < w->n_user_sample; k++) {
        const char *id = w->user_probe[k];
        floor_user *u;
        HASH_FIND(hh, c->users, id, strlen(id), u);
        if (!u)
            return bench_fail(e, "floor: no user %s", id);
        for (const floor_rec *r = u->first; r; r = r->next) {
            sink += r->expires_at;
            n++;
        }
    }
    c->sink += sink;
    return n;
}

static int64_t f_deregister(void *ctx, const bench_workload *w, bench_err *e)
{
    floor_ctx *c = ctx;
    int64_t done = 0;
    for (size_t i = 0; i < w->n_records; i++) {
        floor_rec *r = floor_find(c, w->user_id[i], w->ue[i]);
        if (!r)
            return bench_fail(e, "floor: no record (%s, %s)", w->user_id[i], w->ue[i]);
        rec_remove(c, r);
        done++;
    }
    if (c->ues || c->users)
        return bench_fail(e, "floor: records left after deregistering all");
    return done;
}

static int64_t f_expire(void *ctx, uint64_t now_ms, bench_err *e)
{
    floor_ctx *c = ctx;
    floor_rec *r, *tmp;
    int64_t n = 0;
    (void)e;
    HASH_ITER(hh, c->ues, r, tmp) {
        if (r->expires_at <= now_ms) {
            rec_remove(c, r);
            n++;
        }
    }
    return n;
}

static int64_t f_mem_bytes(void *ctx)
{
    (void)ctx;
    return (int64_t)floor_heap.live_bytes;
}

static bench_heap *f_heap(void *ctx)
{
    (void)ctx;
    return &floor_heap;
}

#define STR_(x) #x
#define STR(x) STR_(x)

static const char *f_version(void *ctx)
{
    (void)ctx;
    return "uthash " STR(UTHASH_VERSION);
}

const bench_backend bench_backend_floor = {
    .name = "floor",
    .open = f_open,
    .close = f_close,
    .clear = f_clear,
    .put = f_put,
    .find = f_find,
    .find_ue = f_find_ue,
    .user_foreach = f_user_foreach,
    .deregister = f_deregister,
    .expire = f_expire,
    .mem_bytes = f_mem_bytes,
    .heap = f_heap,
    .version = f_version,
};
