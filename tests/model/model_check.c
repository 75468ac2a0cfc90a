/* The model against a real registry, through the public API only: see
 * model_check_* in model.h. Each comparison stops at the first difference
 * and says what it was. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static int fail(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *or_null(const char *s)
{
    return s ? s : "(null)";
}

static const char *user_s(const model_values *v, uint32_t u)
{
    return v->user_id(v->ud, u);
}

static const char *ue_s(const model_values *v, uint32_t x)
{
    return v->ue_id(v->ud, x);
}

static int check_setting(const mcreg_setting *g, const mcreg_setting *w, size_t i,
                         const mcreg_record *r, char *why, size_t cap)
{
    if (!g || !g->key || strcmp(g->key, w->key) != 0)
        return fail(why, cap, "setting %zu key '%s', model '%s'", i,
                    g && g->key ? g->key : "(null)", w->key);
    if (mcreg_record_setting_find(r, w->key) != g)
        return fail(why, cap, "setting_find(%s) is not setting_at(%zu)", w->key, i);
    if (g->type != w->type)
        return fail(why, cap, "setting %s type %d, model %d", w->key, (int)g->type,
                    (int)w->type);
    switch (w->type) {
    case MCREG_VAL_INT:
        if (g->v.i != w->v.i)
            return fail(why, cap, "setting %s = %" PRId64 ", model %" PRId64, w->key, g->v.i,
                        w->v.i);
        break;
    case MCREG_VAL_BOOL:
        if (g->v.b != (w->v.b != 0))
            return fail(why, cap, "setting %s = %d, model %d (stored as 0 or 1)", w->key,
                        g->v.b, w->v.b != 0);
        break;
    case MCREG_VAL_TEXT:
        if (g->v.text.ptr == NULL || g->v.text.len != w->v.text.len ||
            (w->v.text.len && memcmp(g->v.text.ptr, w->v.text.ptr, w->v.text.len) != 0) ||
            g->v.text.ptr[w->v.text.len] != '\0')
            return fail(why, cap,
                        "text setting %s differs (len %zu, model %zu) or is not NUL-terminated",
                        w->key, g->v.text.len, w->v.text.len);
        break;
    case MCREG_VAL_BYTES:
        if (g->v.bytes.ptr == NULL || g->v.bytes.len != w->v.bytes.len ||
            (w->v.bytes.len && memcmp(g->v.bytes.ptr, w->v.bytes.ptr, w->v.bytes.len) != 0))
            return fail(why, cap, "bytes setting %s differs (len %zu, model %zu) or is NULL",
                        w->key, g->v.bytes.len, w->v.bytes.len);
        break;
    }
    return 0;
}

static int check_optional(const char *what, const char *got, uint32_t id,
                          const char *(*fn)(void *, uint32_t, char *, size_t), void *ud,
                          char *why, size_t cap)
{
    char buf[MODEL_STR_MAX];
    const char *want = id ? fn(ud, id, buf, sizeof(buf)) : NULL;
    if (want ? !got || strcmp(got, want) != 0 : got != NULL)
        return fail(why, cap, "%s '%s', model '%s'", what, or_null(got), or_null(want));
    return 0;
}

int model_check_record(const model *m, const model_record *w, const mcreg_record *r, char *why,
                       size_t cap)
{
    const model_values *v = model_get_values(m);
    const char *s = mcreg_record_user_id(r);
    if (!s || strcmp(s, user_s(v, w->user)) != 0)
        return fail(why, cap, "user_id '%s', model '%s'", or_null(s), user_s(v, w->user));
    s = mcreg_record_ue_id(r);
    if (!s || strcmp(s, ue_s(v, w->ue)) != 0)
        return fail(why, cap, "ue_id '%s', model '%s'", or_null(s), ue_s(v, w->ue));
    if (check_optional("contact", mcreg_record_contact(r), w->contact, v->contact, v->ud, why,
                       cap) ||
        check_optional("call_id", mcreg_record_call_id(r), w->call_id, v->call_id, v->ud, why,
                       cap))
        return -1;
    if (mcreg_record_cseq(r) != w->cseq)
        return fail(why, cap, "cseq %" PRIu32 ", model %" PRIu32, mcreg_record_cseq(r), w->cseq);
    if (mcreg_record_registered_at(r) != w->registered_at)
        return fail(why, cap, "registered_at %" PRIu64 ", model %" PRIu64,
                    mcreg_record_registered_at(r), w->registered_at);
    if (mcreg_record_expires_at(r) != w->expires_at)
        return fail(why, cap, "expires_at %" PRIu64 ", model %" PRIu64,
                    mcreg_record_expires_at(r), w->expires_at);
    mcreg_change_version gv = mcreg_record_version(r), gl = mcreg_record_logon(r);
    if (gv.stamp != w->version.stamp || gv.node_id != w->version.node)
        return fail(why, cap, "version %" PRIx64 "/%" PRIu64 ", model %" PRIx64 "/%" PRIu64,
                    gv.stamp, gv.node_id, w->version.stamp, w->version.node);
    if (gl.stamp != w->logon.stamp || gl.node_id != w->logon.node)
        return fail(why, cap, "logon %" PRIx64 "/%" PRIu64 ", model %" PRIx64 "/%" PRIu64,
                    gl.stamp, gl.node_id, w->logon.stamp, w->logon.node);
    const mcreg_setting *want = NULL;
    size_t n = w->settings ? v->settings(v->ud, w->settings, &want) : 0;
    size_t got = mcreg_record_setting_count(r);
    if (got != n)
        return fail(why, cap, "%zu settings, model %zu", got, n);
    if (mcreg_record_setting_at(r, n) != NULL)
        return fail(why, cap, "setting_at(%zu) is not NULL", n);
    for (size_t i = 0; i < n; i++)
        if (check_setting(mcreg_record_setting_at(r, i), &want[i], i, r, why, cap))
            return -1;
    return 0;
}

int model_check_pair(const model *m, const mcreg_registry *reg, uint32_t u, uint32_t x,
                     char *why, size_t cap)
{
    const model_values *v = model_get_values(m);
    const model_record *w = model_find(m, u, x);
    const mcreg_record *r = mcreg_find(reg, user_s(v, u), ue_s(v, x));
    if (!w)
        return r ? fail(why, cap, "find(%s, %s) found a record the model does not have",
                        user_s(v, u), ue_s(v, x))
                 : 0;
    if (!r)
        return fail(why, cap, "find(%s, %s): no record, the model has one", user_s(v, u),
                    ue_s(v, x));
    char sub[512];
    if (model_check_record(m, w, r, sub, sizeof(sub)))
        return fail(why, cap, "find(%s, %s): %s", user_s(v, u), ue_s(v, x), sub);
    return 0;
}

int model_check_find_ue(const model *m, const mcreg_registry *reg, uint32_t x, char *why,
                        size_t cap)
{
    const model_values *v = model_get_values(m);
    const model_record *w = model_find_ue(m, x);
    const mcreg_record *r = mcreg_find_ue(reg, ue_s(v, x));
    if (!w)
        return r ? fail(why, cap, "find_ue(%s) found (%s), the model has none", ue_s(v, x),
                        or_null(mcreg_record_user_id(r)))
                 : 0;
    if (!r)
        return fail(why, cap, "find_ue(%s) found none, the model has %s", ue_s(v, x),
                    user_s(v, w->user));
    char sub[512];
    if (model_check_record(m, w, r, sub, sizeof(sub)))
        return fail(why, cap, "find_ue(%s): %s", ue_s(v, x), sub);
    if (mcreg_find(reg, user_s(v, w->user), ue_s(v, x)) != r)
        return fail(why, cap, "find_ue(%s) is not find(%s, %s)", ue_s(v, x), user_s(v, w->user),
                    ue_s(v, x));
    return 0;
}

/* A visit of the registry against the model's records in the order they
 * must come: mcreg_user_foreach, mcreg_foreach. */
typedef struct visit_recs {
    const model *m;
    const model_record **want;
    size_t n_want, n;
    char *why;
    size_t cap;
    int bad;
} visit_recs;

static int visit_user_fn(const mcreg_record *r, void *ud)
{
    visit_recs *vu = ud;
    const model_values *v = model_get_values(vu->m);
    const char *xs = mcreg_record_ue_id(r);
    if (!vu->bad && (vu->n >= vu->n_want || !xs || strcmp(xs, ue_s(v, vu->want[vu->n]->ue)) != 0)) {
        fail(vu->why, vu->cap, "user_foreach: item %zu is %s, model %s", vu->n, or_null(xs),
             vu->n < vu->n_want ? ue_s(v, vu->want[vu->n]->ue) : "(none)");
        vu->bad = 1;
    }
    vu->n++;
    return 0;
}

int model_check_user(const model *m, const mcreg_registry *reg, uint32_t u, char *why,
                     size_t cap)
{
    const model_values *v = model_get_values(m);
    const char *us = user_s(v, u);
    size_t n = model_user_ue_count(m, u);
    size_t got = mcreg_user_ue_count(reg, us);
    if (got != n)
        return fail(why, cap, "user_ue_count(%s) = %zu, model %zu", us, got, n);
    uint32_t max = 12345, wmax = 0;
    int rc = mcreg_user_max_ues(reg, us, &max);
    if (model_user_max_ues(m, u, &wmax) == MCREG_OK) {
        if (rc != MCREG_OK || max != wmax)
            return fail(why, cap, "user_max_ues(%s) = %d/%" PRIu32 ", model %" PRIu32, us, rc,
                        max, wmax);
    } else if (rc != MCREG_ERR_NOT_FOUND) {
        return fail(why, cap, "user_max_ues(%s) = %d/%" PRIu32 ", model has none", us, rc, max);
    }
    visit_recs vu = {m, NULL, n, 0, why, cap, 0};
    vu.want = malloc((n ? n : 1) * sizeof(*vu.want));
    if (!vu.want)
        abort();
    model_user_records(m, u, vu.want, n);
    rc = mcreg_user_foreach(reg, us, visit_user_fn, &vu);
    free(vu.want);
    if (vu.bad)
        return -1;
    if (rc != (n ? MCREG_OK : MCREG_ERR_NOT_FOUND))
        return fail(why, cap, "user_foreach(%s) = %d", us, rc);
    if (vu.n != n)
        return fail(why, cap, "user_foreach(%s) visited %zu, model %zu", us, vu.n, n);
    return 0;
}

int model_check_counts(const model *m, const mcreg_registry *reg, char *why, size_t cap)
{
    size_t n = mcreg_record_count(reg), users = mcreg_user_count(reg);
    if (n != model_record_count(m))
        return fail(why, cap, "record_count %zu, model %zu", n, model_record_count(m));
    if (users != model_user_count(m))
        return fail(why, cap, "user_count %zu, model %zu", users, model_user_count(m));
    uint64_t at = 0, wat = 0;
    int rc = mcreg_next_expiry(reg, &at);
    int wrc = model_next_expiry(m, &wat);
    if (rc != wrc || (rc == MCREG_OK && at != wat))
        return fail(why, cap, "next_expiry %d %" PRIu64 ", model %d %" PRIu64, rc, at, wrc, wat);
    return 0;
}


static int visit_all_fn(const mcreg_record *r, void *ud)
{
    visit_recs *va = ud;
    const model_values *v = model_get_values(va->m);
    size_t i = va->n++;
    if (va->bad)
        return 0;
    const char *us = mcreg_record_user_id(r), *xs = mcreg_record_ue_id(r);
    if (i >= va->n_want) {
        fail(va->why, va->cap, "foreach: record %zu (%s, %s) is not in the model", i,
             or_null(us), or_null(xs));
        va->bad = 1;
        return 0;
    }
    const model_record *w = va->want[i];
    if (!us || !xs || strcmp(us, user_s(v, w->user)) != 0 || strcmp(xs, ue_s(v, w->ue)) != 0) {
        fail(va->why, va->cap, "foreach: item %zu is (%s, %s), model (%s, %s)", i, or_null(us),
             or_null(xs), user_s(v, w->user), ue_s(v, w->ue));
        va->bad = 1;
    } else if (mcreg_record_registered_at(r) != w->registered_at ||
               mcreg_record_expires_at(r) != w->expires_at || mcreg_record_cseq(r) != w->cseq) {
        fail(va->why, va->cap, "foreach: (%s, %s) differs from the model", us, xs);
        va->bad = 1;
    }
    return 0;
}

/* mcreg_limit_foreach: the users with a limit, in user id byte order. */
typedef struct visit_limits {
    const model *m;
    const uint32_t *want;
    size_t n_want, n;
    char *why;
    size_t cap;
    int bad;
} visit_limits;

static int visit_limit_fn(const char *user_id, uint32_t max, void *ud)
{
    visit_limits *vl = ud;
    const model_values *v = model_get_values(vl->m);
    size_t i = vl->n++;
    if (vl->bad)
        return 0;
    uint32_t wmax = 0;
    if (i >= vl->n_want || !user_id || strcmp(user_id, user_s(v, vl->want[i])) != 0 ||
        model_user_max_ues(vl->m, vl->want[i], &wmax) != MCREG_OK || wmax != max) {
        fail(vl->why, vl->cap, "limit_foreach: item %zu is %s max %" PRIu32 ", model %s", i,
             or_null(user_id), max, i < vl->n_want ? user_s(v, vl->want[i]) : "(none)");
        vl->bad = 1;
    }
    return 0;
}

static const model_values *sort_values;

static int cmp_user_ids(const void *a, const void *b)
{
    return strcmp(user_s(sort_values, *(const uint32_t *)a),
                  user_s(sort_values, *(const uint32_t *)b));
}

static int check_foreach(const model *m, const mcreg_registry *reg, char *why, size_t cap)
{
    visit_recs va = {m, NULL, 0, 0, why, cap, 0};
    va.n_want = model_records(m, &va.want);
    if (va.n_want == (size_t)-1)
        abort();
    int rc = mcreg_foreach(reg, visit_all_fn, &va);
    free(va.want);
    if (va.bad)
        return -1;
    if (rc != MCREG_OK || va.n != va.n_want)
        return fail(why, cap, "foreach %d visited %zu, model %zu", rc, va.n, va.n_want);
    return 0;
}

static int check_limit_foreach(const model *m, const mcreg_registry *reg, char *why, size_t cap)
{
    const model_values *v = model_get_values(m);
    size_t n = 0;
    uint32_t *want = malloc((model_limit_count(m) + 1) * sizeof(*want));
    if (!want)
        abort();
    for (uint32_t u = 0; u < model_user_span(m); u++) {
        uint32_t max;
        if (model_user_max_ues(m, u, &max) == MCREG_OK)
            want[n++] = u;
    }
    sort_values = v;
    qsort(want, n, sizeof(*want), cmp_user_ids);
    visit_limits vl = {m, want, n, 0, why, cap, 0};
    int rc = mcreg_limit_foreach(reg, visit_limit_fn, &vl);
    free(want);
    if (vl.bad)
        return -1;
    if (rc != MCREG_OK || vl.n != n)
        return fail(why, cap, "limit_foreach %d visited %zu, model %zu", rc, vl.n, n);
    return 0;
}

int model_check_all(const model *m, const mcreg_registry *reg, char *why, size_t cap)
{
    if (model_check_counts(m, reg, why, cap))
        return -1;
    uint32_t users = model_user_span(m);
    for (uint32_t u = 0; u < users; u++) {
        if (model_check_user(m, reg, u, why, cap))
            return -1;
        size_t n = model_user_ue_count(m, u);
        const model_record **recs = malloc((n ? n : 1) * sizeof(*recs));
        if (!recs)
            abort();
        model_user_records(m, u, recs, n);
        for (size_t k = 0; k < n; k++) {
            /* the pair, and the same UE for the next user: absent unless
             * the model has it */
            if (model_check_pair(m, reg, u, recs[k]->ue, why, cap) ||
                (users > 1 && model_check_pair(m, reg, (u + 1) % users, recs[k]->ue, why, cap))) {
                free(recs);
                return -1;
            }
        }
        free(recs);
    }
    for (uint32_t x = 0; x < model_ue_span(m); x++)
        if (model_check_find_ue(m, reg, x, why, cap))
            return -1;
    return check_foreach(m, reg, why, cap) || check_limit_foreach(m, reg, why, cap) ? -1 : 0;
}

static int is_removal(mcreg_event_type t)
{
    return t == MCREG_EV_DEREGISTERED || t == MCREG_EV_EXPIRED || t == MCREG_EV_EVICTED ||
           t == MCREG_EV_REPLACED || t == MCREG_EV_NOTIFY_LOGOFF;
}

static int check_notify(const model *m, const model_event *w, const mcreg_event *ev,
                        const char *name, char *why, size_t cap)
{
    const model_values *v = model_get_values(m);
    const char *wu = user_s(v, w->rec.user), *wx = ue_s(v, w->rec.ue);
    const char *wr = ue_s(v, w->recipient);
    if (!ev->recipient_ue_id || strcmp(ev->recipient_ue_id, wr) != 0)
        return fail(why, cap, "%s(%s, %s): recipient %s, model %s", name, wu, wx,
                    or_null(ev->recipient_ue_id), wr);
    const mcreg_record *rr = mcreg_find(ev->registry, wu, wr);
    if (!rr || ev->recipient != rr)
        return fail(why, cap, "%s(%s, %s>%s): the recipient's record is not mcreg_find's", name,
                    wu, wx, wr);
    if (ev->n_other != w->n_other || (w->n_other && !ev->other_ue_ids))
        return fail(why, cap, "%s(%s, %s>%s): %zu other UEs, model %zu", name, wu, wx, wr,
                    ev->n_other, w->n_other);
    for (size_t k = 0; k < w->n_other; k++) {
        const char *o = ev->other_ue_ids[k], *wo = ue_s(v, model_event_other(m, w, k));
        if (!o || strcmp(o, wo) != 0)
            return fail(why, cap, "%s(%s, %s>%s): other UE %zu is %s, model %s", name, wu, wx, wr,
                        k, or_null(o), wo);
    }
    return 0;
}

int model_check_event(const model *m, const model_event *w, const mcreg_event *ev,
                      uint64_t now_ms, char *why, size_t cap)
{
    const model_values *v = model_get_values(m);
    const char *name = mcreg_event_name(ev->type);
    const char *wu = user_s(v, w->rec.user), *wx = ue_s(v, w->rec.ue);
    if (ev->type != w->type || !ev->user_id || strcmp(ev->user_id, wu) != 0 || !ev->ue_id ||
        strcmp(ev->ue_id, wx) != 0)
        return fail(why, cap, "event %s(%s, %s), model %s(%s, %s)", name, or_null(ev->user_id),
                    or_null(ev->ue_id), mcreg_event_name(w->type), wu, wx);
    if (ev->at_ms != now_ms)
        return fail(why, cap, "%s(%s, %s): at_ms %" PRIu64 ", the call's now %" PRIu64, name, wu,
                    wx, ev->at_ms, now_ms);
    int notify = w->type == MCREG_EV_NOTIFY_LOGON || w->type == MCREG_EV_NOTIFY_LOGOFF;
    if (w->type == MCREG_EV_REJECTED) {
        if (ev->record)
            return fail(why, cap, "REJECTED(%s, %s) carries a record", wu, wx);
    } else {
        const mcreg_record *r = ev->record;
        if (!r)
            return fail(why, cap, "%s(%s, %s) has no record", name, wu, wx);
        const char *ru = mcreg_record_user_id(r), *rx = mcreg_record_ue_id(r);
        if (!ru || !rx || strcmp(ru, wu) != 0 || strcmp(rx, wx) != 0)
            return fail(why, cap, "%s(%s, %s): the record is (%s, %s)", name, wu, wx,
                        or_null(ru), or_null(rx));
        if (mcreg_record_registered_at(r) != w->rec.registered_at ||
            mcreg_record_expires_at(r) != w->rec.expires_at || mcreg_record_cseq(r) != w->rec.cseq)
            return fail(why, cap,
                        "%s(%s, %s): record registered_at %" PRIu64 " expires_at %" PRIu64
                        " cseq %" PRIu32 ", model %" PRIu64 " %" PRIu64 " %" PRIu32,
                        name, wu, wx, mcreg_record_registered_at(r), mcreg_record_expires_at(r),
                        mcreg_record_cseq(r), w->rec.registered_at, w->rec.expires_at,
                        w->rec.cseq);
        const mcreg_record *found = mcreg_find(ev->registry, wu, wx);
        /* A removed pair is gone, unless the call registered it anew (a
         * lapsed record, EXPIRED, and the new logon of its pair): then it
         * is findable as the record the call created, not the removed one. */
        const model_record *anew =
            is_removal(w->type) ? model_find(m, w->rec.user, w->rec.ue) : NULL;
        if (is_removal(w->type) && found && !anew)
            return fail(why, cap, "%s(%s, %s): the pair is still findable", name, wu, wx);
        if (anew && (!found || found == r || mcreg_record_registered_at(found) != now_ms ||
                     anew->registered_at != now_ms))
            return fail(why, cap, "%s(%s, %s): the pair is not findable as this call's new record",
                        name, wu, wx);
        if (!is_removal(w->type) && found != r)
            return fail(why, cap, "%s(%s, %s): the record is not mcreg_find's", name, wu, wx);
        if (w->type == MCREG_EV_EXPIRED &&
            (w->rec.expires_at > now_ms || mcreg_record_expires_at(r) > ev->at_ms))
            return fail(why, cap, "EXPIRED(%s, %s) was not due: expires_at %" PRIu64
                        ", now %" PRIu64, wu, wx, mcreg_record_expires_at(r), ev->at_ms);
    }
    if (notify)
        return check_notify(m, w, ev, name, why, cap);
    if (ev->recipient_ue_id || ev->recipient || ev->other_ue_ids || ev->n_other)
        return fail(why, cap, "%s(%s, %s): notification fields set", name, wu, wx);
    return 0;
}

int model_event_line_lib(const mcreg_event *ev, char *buf, size_t cap)
{
    const char *t = mcreg_event_name(ev->type);
    int n;
    if (ev->type != MCREG_EV_NOTIFY_LOGON && ev->type != MCREG_EV_NOTIFY_LOGOFF) {
        n = snprintf(buf, cap, "%s(%s,%s)", t, or_null(ev->user_id), or_null(ev->ue_id));
    } else {
        n = snprintf(buf, cap, "%s(%s,%s>%s:[", t, or_null(ev->user_id), or_null(ev->ue_id),
                     or_null(ev->recipient_ue_id));
        for (size_t k = 0; k < ev->n_other && n >= 0; k++) {
            size_t at = (size_t)n < cap ? (size_t)n : cap;
            n += snprintf(buf + at, cap - at, "%s%s", k ? "," : "",
                          ev->other_ue_ids ? or_null(ev->other_ue_ids[k]) : "(null)");
        }
        size_t at = (size_t)n < cap ? (size_t)n : cap;
        n += snprintf(buf + at, cap - at, "])");
    }
    if (n < 0)
        return n;
    uint64_t origin = ev->origin;
    size_t at = (size_t)n < cap ? (size_t)n : cap;
    const mcreg_record *r = ev->record;
    if (ev->type == MCREG_EV_REJECTED || !r)
        return n + snprintf(buf + at, cap - at, " o=%" PRIu64 "%s", origin,
                            r ? " (a record)" : "");
    mcreg_change_version v = mcreg_record_version(r), l = mcreg_record_logon(r);
    return n + snprintf(buf + at, cap - at,
                        " o=%" PRIu64 " reg=%" PRIu64 " exp=%" PRIu64 " cseq=%" PRIu32
                        " v=%" PRIx64 "/%" PRIu64 " l=%" PRIx64 "/%" PRIu64,
                        origin, mcreg_record_registered_at(r), mcreg_record_expires_at(r),
                        mcreg_record_cseq(r), v.stamp, v.node_id, l.stamp, l.node_id);
}
