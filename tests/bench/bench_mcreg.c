/*
 * libmcreg through its public API only, set up as a host would: an options
 * object, a counting allocator, a seeded hash and an event callback. The
 * callback only counts events, and the counts double as a check that every
 * call did what the pass asked (CREATED per new record, and so on).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mcreg.h"

typedef struct mcreg_ctx {
    bench_heap heap;
    mcreg_allocator alloc;
    mcreg_options *opt;
    mcreg_registry *reg;
    mcreg_registry *copy; /* the restore target */
    uint8_t *snap;
    size_t snap_len;
    uint64_t events[MCREG_EV_NOTIFY_LOGOFF + 1];
    uint64_t sink; /* record fields read by lookups, so none is optimised away */
} mcreg_ctx;

static void on_event(const mcreg_event *ev, void *ud)
{
    mcreg_ctx *c = ud;
    if ((unsigned)ev->type <= MCREG_EV_NOTIFY_LOGOFF)
        c->events[ev->type]++;
}

static int check_events(mcreg_ctx *c, mcreg_event_type type, uint64_t want, bench_err *e)
{
    if (c->events[type] != want)
        return bench_fail(e, "%llu %s events, expected %llu",
                          (unsigned long long)c->events[type], mcreg_event_name(type),
                          (unsigned long long)want);
    return 0;
}

static int new_registry(mcreg_ctx *c, mcreg_registry **out, bench_err *e)
{
    int rc = mcreg_registry_new(out, c->opt);
    if (rc != MCREG_OK)
        return bench_fail(e, "mcreg_registry_new: %s", mcreg_strerror(rc));
    return 0;
}

static int m_open(void **ctx, const bench_workload *w, bench_err *e)
{
    (void)w;
    mcreg_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return bench_fail(e, "out of memory");
    c->alloc = (mcreg_allocator){bench_heap_malloc, bench_heap_realloc, bench_heap_free,
                                 &c->heap};
    int rc = mcreg_options_new(&c->opt);
    if (rc != MCREG_OK) {
        free(c);
        return bench_fail(e, "mcreg_options_new: %s", mcreg_strerror(rc));
    }
    mcreg_options_set_allocator(c->opt, &c->alloc);
    mcreg_options_set_event_callback(c->opt, on_event, c);
    /* A fixed seed: a host would pass randomness, but the bench wants the
     * same table layout in every run. */
    mcreg_options_set_hash_seed(c->opt, UINT64_C(0x5eed0fbe4c4a11ce));
    *ctx = c;
    return 0;
}

static void m_close(void *ctx)
{
    mcreg_ctx *c = ctx;
    if (!c)
        return;
    if (c->snap)
        mcreg_buffer_free(c->reg, c->snap);
    mcreg_registry_free(c->copy);
    mcreg_registry_free(c->reg);
    mcreg_options_free(c->opt);
    free(c);
}

static int m_clear(void *ctx, bench_err *e)
{
    mcreg_ctx *c = ctx;
    mcreg_registry_free(c->reg);
    c->reg = NULL;
    return new_registry(c, &c->reg, e);
}

static int64_t m_put(void *ctx, const bench_workload *w, const bench_pass *p, bench_err *e)
{
    mcreg_ctx *c = ctx;
    mcreg_setting settings[BENCH_N_SETTINGS];
    mcreg_outcome want = p->refresh ? MCREG_REFRESHED : MCREG_CREATED;
    int64_t done = 0;
    memset(c->events, 0, sizeof c->events);
    for (size_t i = 0; i < w->n_records; i++) {
        bench_workload_settings(w, i, settings);
        mcreg_binding b = {.user_id = w->user_id[i],
                           .ue_id = w->ue[i],
                           .contact = w->contact[i],
                           .call_id = w->call_id[i],
                           .cseq = w->cseq[i] + p->cseq_add,
                           .expires_s = bench_pass_expires_s(p, w, i),
                           .settings = settings,
                           .n_settings = BENCH_N_SETTINGS};
        mcreg_outcome out;
        int rc = mcreg_register(c->reg, &b, bench_pass_now(p, i), &out);
        if (rc != MCREG_OK)
            return bench_fail(e, "mcreg_register(%s, %s): %s", b.user_id, b.ue_id,
                              mcreg_strerror(rc));
        if (out != want)
            return bench_fail(e, "mcreg_register(%s, %s): outcome %d, expected %d", b.user_id,
                              b.ue_id, (int)out, (int)want);
        done++;
    }
    if (check_events(c, p->refresh ? MCREG_EV_REFRESHED : MCREG_EV_CREATED, (uint64_t)done,
                     e) < 0)
        return -1;
    /* Into an empty store, each user's second UE tells the new UE and the
     * other one. */
    if (!p->refresh && check_events(c, MCREG_EV_NOTIFY_LOGON, 2 * w->n_users, e) < 0)
        return -1;
    if (mcreg_record_count(c->reg) != w->n_records)
        return bench_fail(e, "mcreg_record_count %zu, expected %zu", mcreg_record_count(c->reg),
                          w->n_records);
    return done;
}

static int64_t m_find(void *ctx, const bench_workload *w, bench_err *e)
{
    mcreg_ctx *c = ctx;
    int64_t found = 0;
    uint64_t sink = 0;
    (void)e;
    for (size_t k = 0; k < w->n_find; k++) {
        const mcreg_record *r = mcreg_find(c->reg, w->find_user[k], w->find_ue[k]);
        if (r) {
            sink += mcreg_record_cseq(r);
            found++;
        }
    }
    c->sink += sink;
    return found;
}

static int64_t m_find_ue(void *ctx, const bench_workload *w, bench_err *e)
{
    mcreg_ctx *c = ctx;
    int64_t found = 0;
    uint64_t sink = 0;
    (void)e;
    for (size_t k = 0; k < w->n_find; k++) {
        const mcreg_record *r = mcreg_find_ue(c->reg, w->ue_probe[k]);
        if (r) {
            sink += mcreg_record_cseq(r);
            found++;
        }
    }
    c->sink += sink;
    return found;
}

typedef struct visit_acc {
    uint64_t sum;
    int64_t n;
} visit_acc;

static int visit(const mcreg_record *r, void *ud)
{
    visit_acc *a = ud;
    a->sum += mcreg_record_expires_at(r);
    a->n++;
    return 0;
}

static int64_t m_user_foreach(void *ctx, const bench_workload *w, bench_err *e)
{
    mcreg_ctx *c = ctx;
    visit_acc acc = {0, 0};
    for (size_t k = 0; k < w->n_user_sample; k++) {
        const char *user = w->user_probe[k];
        int rc = mcreg_user_foreach(c->reg, user, visit, &acc);
        if (rc != MCREG_OK)
            return bench_fail(e, "mcreg_user_foreach(%s): %s", user, mcreg_strerror(rc));
    }
    c->sink += acc.sum;
    return acc.n;
}

static int64_t m_deregister(void *ctx, const bench_workload *w, bench_err *e)
{
    mcreg_ctx *c = ctx;
    int64_t done = 0;
    for (size_t i = 0; i < w->n_records; i++) {
        int rc = mcreg_deregister(c->reg, w->user_id[i], w->ue[i], BENCH_REFRESH_NOW_MS);
        if (rc != MCREG_OK)
            return bench_fail(e, "mcreg_deregister(%s, %s): %s", w->user_id[i], w->ue[i],
                              mcreg_strerror(rc));
        done++;
    }
    if (mcreg_record_count(c->reg) != 0 || mcreg_user_count(c->reg) != 0)
        return bench_fail(e, "%zu records, %zu users left after deregistering all",
                          mcreg_record_count(c->reg), mcreg_user_count(c->reg));
    return done;
}

static int64_t m_expire(void *ctx, uint64_t now_ms, bench_err *e)
{
    mcreg_ctx *c = ctx;
    size_t n = 0;
    int rc = mcreg_expire(c->reg, now_ms, &n);
    if (rc != MCREG_OK)
        return bench_fail(e, "mcreg_expire: %s", mcreg_strerror(rc));
    return (int64_t)n;
}

static int64_t m_mem_bytes(void *ctx)
{
    mcreg_ctx *c = ctx;
    return (int64_t)c->heap.live_bytes;
}

static bench_heap *m_heap(void *ctx)
{
    mcreg_ctx *c = ctx;
    return &c->heap;
}

static const char *m_version(void *ctx)
{
    (void)ctx;
    return mcreg_version();
}

static int64_t m_snapshot(void *ctx, bench_err *e)
{
    mcreg_ctx *c = ctx;
    if (c->snap) {
        mcreg_buffer_free(c->reg, c->snap);
        c->snap = NULL;
    }
    int rc = mcreg_snapshot(c->reg, &c->snap, &c->snap_len);
    if (rc != MCREG_OK)
        return bench_fail(e, "mcreg_snapshot: %s", mcreg_strerror(rc));
    return (int64_t)c->snap_len;
}

static int m_restore_prepare(void *ctx, bench_err *e)
{
    mcreg_ctx *c = ctx;
    mcreg_registry_free(c->copy);
    c->copy = NULL;
    return new_registry(c, &c->copy, e);
}

static int64_t m_restore(void *ctx, uint64_t now_ms, bench_err *e)
{
    mcreg_ctx *c = ctx;
    int rc = mcreg_restore(c->copy, c->snap, c->snap_len, now_ms);
    if (rc != MCREG_OK)
        return bench_fail(e, "mcreg_restore: %s", mcreg_strerror(rc));
    return (int64_t)mcreg_record_count(c->copy);
}

static void m_restore_done(void *ctx)
{
    mcreg_ctx *c = ctx;
    mcreg_registry_free(c->copy);
    c->copy = NULL;
    mcreg_buffer_free(c->reg, c->snap);
    c->snap = NULL;
}

const bench_backend bench_backend_mcreg = {
    .name = "libmcreg",
    .available = NULL,
    .open = m_open,
    .close = m_close,
    .clear = m_clear,
    .put = m_put,
    .find = m_find,
    .find_ue = m_find_ue,
    .user_foreach = m_user_foreach,
    .deregister = m_deregister,
    .expire = m_expire,
    .mem_bytes = m_mem_bytes,
    .heap = m_heap,
    .version = m_version,
    .snapshot = m_snapshot,
    .restore_prepare = m_restore_prepare,
    .restore = m_restore,
    .restore_done = m_restore_done,
};
