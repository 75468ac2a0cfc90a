#include <check.h>

#include "testutil.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counting allocator ------------------------------------------------ */

typedef union tu_header {
    size_t size;
    max_align_t align;
} tu_header;

static int tu_should_fail(tu_alloc *a)
{
    a->calls++;
    if (a->fail_at == 0)
        return 0;
    return a->fail_all_after ? a->calls >= a->fail_at : a->calls == a->fail_at;
}

static void tu_note_peak(tu_alloc *a)
{
    if (a->live_bytes > a->peak_bytes)
        a->peak_bytes = a->live_bytes;
}

static void *tu_malloc(size_t size, void *ctx)
{
    tu_alloc *a = ctx;
    if (size > a->max_request)
        a->max_request = size;
    if (tu_should_fail(a))
        return NULL;
    tu_header *h = malloc(sizeof(*h) + size);
    if (!h)
        return NULL;
    h->size = size;
    a->live++;
    a->live_bytes += size;
    tu_note_peak(a);
    return h + 1;
}

static void tu_free(void *ptr, void *ctx)
{
    tu_alloc *a = ctx;
    if (!ptr)
        return;
    tu_header *h = (tu_header *)ptr - 1;
    a->live--;
    a->live_bytes -= h->size;
    free(h);
}

static void *tu_realloc(void *ptr, size_t size, void *ctx)
{
    tu_alloc *a = ctx;
    if (!ptr)
        return tu_malloc(size, ctx);
    if (size > a->max_request)
        a->max_request = size;
    if (tu_should_fail(a))
        return NULL;
    tu_header *old = (tu_header *)ptr - 1;
    size_t old_size = old->size;
    tu_header *h = realloc(old, sizeof(*h) + size);
    if (!h)
        return NULL;
    a->live_bytes = a->live_bytes - old_size + size;
    h->size = size;
    tu_note_peak(a);
    return h + 1;
}

mcreg_allocator tu_allocator(tu_alloc *a)
{
    mcreg_allocator al = {tu_malloc, tu_realloc, tu_free, a};
    return al;
}

/* ---- growing text ------------------------------------------------------ */

static void tu_grow(tu_events *e, size_t extra)
{
    if (e->len + extra + 1 <= e->cap)
        return;
    size_t cap = e->cap ? e->cap : 256;
    while (cap < e->len + extra + 1)
        cap *= 2;
    e->log = realloc(e->log, cap);
    if (!e->log)
        abort();
    e->cap = cap;
}

void tu_events_append(tu_events *e, const char *text)
{
    size_t n = strlen(text);
    tu_grow(e, n);
    memcpy(e->log + e->len, text, n + 1);
    e->len += n;
}

static void tu_appendf(tu_events *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    tu_grow(e, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(e->log + e->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    e->len += (size_t)n;
}

/* ---- event recorder ---------------------------------------------------- */

void tu_events_init(tu_events *e)
{
    memset(e, 0, sizeof(*e));
    tu_grow(e, 0);
    e->log[0] = '\0';
}

void tu_events_reset(tu_events *e)
{
    e->len = 0;
    e->count = 0;
    if (e->log)
        e->log[0] = '\0';
}

void tu_events_free(tu_events *e)
{
    free(e->log);
    memset(e, 0, sizeof(*e));
}

void tu_events_cb(const mcreg_event *ev, void *user_data)
{
    tu_events *e = user_data;
    if (e->len > 0)
        tu_events_append(e, ";");
    tu_appendf(e, "%s(%s,%s", mcreg_event_name(ev->type), ev->user_id, ev->ue_id);
    if (ev->type == MCREG_EV_NOTIFY_LOGON || ev->type == MCREG_EV_NOTIFY_LOGOFF) {
        tu_appendf(e, ">%s:[", ev->recipient_ue_id);
        for (size_t i = 0; i < ev->n_other; i++)
            tu_appendf(e, "%s%s", i ? "," : "", ev->other_ue_ids[i]);
        tu_events_append(e, "]");
    }
    tu_events_append(e, ")");
    e->count++;
    if (e->reg) {
        mcreg_binding b = tu_binding("busy-user", "busy-ue", 60);
        int rcs[] = {
            mcreg_register(e->reg, &b, ev->at_ms, NULL),
            mcreg_deregister(e->reg, ev->user_id, ev->ue_id, ev->at_ms),
            mcreg_deregister_user(e->reg, ev->user_id, ev->at_ms, NULL),
            mcreg_expire(e->reg, UINT64_MAX, NULL),
            mcreg_set_user_max_ues(e->reg, ev->user_id, 1),
            mcreg_clear_user_max_ues(e->reg, ev->user_id),
        };
        for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
            if (rcs[i] == MCREG_ERR_BUSY)
                e->busy_seen++;
            else
                e->busy_wrong++;
        }
    }
}

/* ---- state dump ---------------------------------------------------------- */

static int tu_dump_record(const mcreg_record *r, void *ud)
{
    tu_events *out = ud;
    const char *contact = mcreg_record_contact(r);
    const char *call_id = mcreg_record_call_id(r);
    tu_appendf(out, "rec user=%s ue=%s contact=%s call_id=%s cseq=%" PRIu32
               " reg=%" PRIu64 " exp=%" PRIu64,
               mcreg_record_user_id(r), mcreg_record_ue_id(r), contact ? contact : "(null)",
               call_id ? call_id : "(null)", mcreg_record_cseq(r),
               mcreg_record_registered_at(r), mcreg_record_expires_at(r));
    size_t n = mcreg_record_setting_count(r);
    for (size_t i = 0; i < n; i++) {
        const mcreg_setting *s = mcreg_record_setting_at(r, i);
        tu_appendf(out, " [%s:%d:", s->key, (int)s->type);
        switch (s->type) {
        case MCREG_VAL_INT:
            tu_appendf(out, "%" PRId64, s->v.i);
            break;
        case MCREG_VAL_BOOL:
            tu_appendf(out, "%d", s->v.b);
            break;
        case MCREG_VAL_TEXT:
            tu_appendf(out, "%zu:%.*s", s->v.text.len, (int)s->v.text.len, s->v.text.ptr);
            break;
        case MCREG_VAL_BYTES:
            tu_appendf(out, "%zu:", s->v.bytes.len);
            for (size_t j = 0; j < s->v.bytes.len; j++)
                tu_appendf(out, "%02x", s->v.bytes.ptr[j]);
            break;
        }
        tu_events_append(out, "]");
    }
    tu_events_append(out, "\n");
    return 0;
}

char *tu_state_dump(const mcreg_registry *reg)
{
    tu_events out;
    tu_events_init(&out);
    uint64_t next = 0;
    int rc = mcreg_next_expiry(reg, &next);
    tu_appendf(&out, "records=%zu users=%zu next=%d:%" PRIu64 "\n", mcreg_record_count(reg),
               mcreg_user_count(reg), rc, rc == MCREG_OK ? next : 0);
    if (mcreg_foreach(reg, tu_dump_record, &out) != MCREG_OK) {
        tu_events_free(&out);
        return NULL;
    }
    return out.log;
}

/* ---- convenience ----------------------------------------------------------- */

mcreg_binding tu_binding(const char *user, const char *ue, uint32_t expires_s)
{
    mcreg_binding b;
    memset(&b, 0, sizeof(b));
    b.user_id = user;
    b.ue_id = ue;
    b.expires_s = expires_s;
    return b;
}

mcreg_registry *tu_registry(tu_events *ev, const mcreg_allocator *a)
{
    mcreg_options *o = NULL;
    if (mcreg_options_new(&o) != MCREG_OK)
        return NULL;
    if (ev)
        mcreg_options_set_event_callback(o, tu_events_cb, ev);
    if (a)
        mcreg_options_set_allocator(o, a);
    mcreg_registry *reg = NULL;
    int rc = mcreg_registry_new(&reg, o);
    mcreg_options_free(o);
    return rc == MCREG_OK ? reg : NULL;
}

/* ---- registry fixture ---------------------------------------------------------- */

mcreg_registry *tu_registry_new(const tu_opts *c)
{
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    model_options_apply(&c->rules, o);
    mcreg_options_set_capacity(o, c->capacity);
    if (c->set_seed)
        mcreg_options_set_hash_seed(o, c->seed);
    if (c->fn)
        mcreg_options_set_event_callback(o, c->fn, c->ud);
    if (c->alloc)
        mcreg_options_set_allocator(o, c->alloc);
    mcreg_registry *reg = NULL;
    int rc = mcreg_registry_new(&reg, o);
    mcreg_options_free(o);
    ck_assert_msg(rc == MCREG_OK && reg != NULL, "mcreg_registry_new: %d", rc);
    return reg;
}

mcreg_registry *tu_registry_rec(const model_options *rules, tu_events *ev)
{
    tu_events_init(ev);
    tu_opts o = {.rules = *rules, .fn = tu_events_cb, .ud = ev};
    return tu_registry_new(&o);
}

/* ---- visitors --------------------------------------------------------------- */

int tu_collect_ue(const mcreg_record *r, void *ud)
{
    tu_events *t = ud;
    if (t->len)
        tu_events_append(t, ",");
    tu_events_append(t, mcreg_record_ue_id(r));
    return 0;
}

int tu_collect_pair(const mcreg_record *r, void *ud)
{
    tu_events *t = ud;
    if (t->len)
        tu_events_append(t, ",");
    tu_events_append(t, mcreg_record_user_id(r));
    tu_events_append(t, "/");
    tu_events_append(t, mcreg_record_ue_id(r));
    return 0;
}
