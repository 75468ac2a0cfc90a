/* Queries: read-only, callable from inside callbacks and visitors. */
#include <string.h>

#include "events.h"
#include "heap.h"
#include "index.h"
#include "record.h"
#include "registry.h"
#include "sort.h"
#include "validate.h"

int mcreg_next_expiry(const mcreg_registry *reg, uint64_t *at_ms)
{
    if (!reg || !at_ms)
        return MCREG_ERR_MISUSE;
    const struct mcreg_record *top = mcreg__heap_top(&reg->st.heap);
    if (!top)
        return MCREG_ERR_NOT_FOUND;
    *at_ms = top->expires_at;
    return MCREG_OK;
}

int mcreg_next_horizon(const mcreg_registry *reg, uint64_t *at_ms)
{
    if (!reg || !at_ms)
        return MCREG_ERR_MISUSE;
    if (!reg->st.tombs.n && !reg->st.ue_puts.n)
        return MCREG_ERR_NOT_FOUND;
    /* A lower bound: mcreg_expire makes it exact again. */
    *at_ms = reg->st.next_horizon;
    return MCREG_OK;
}

/* The key of an id a lookup may find. Only the length is checked: an id
 * that is not valid UTF-8 was never stored, so it is simply not found, and
 * a lookup need not pay for the check. Returns 0 for NULL, empty or
 * overlong ids (nothing to look for). */
static int lookup_key(const char *id, mcreg_index_key *k)
{
    if (!id)
        return 0;
    size_t len = mcreg__validate_bounded_strlen(id, MCREG_MAX_ID_LEN);
    if (len == 0 || len > MCREG_MAX_ID_LEN)
        return 0;
    mcreg__index_key_init(k, id, len);
    return 1;
}

/* The user of a valid id (else NULL, with *valid 0). */
static const mcreg_user *valid_user(const mcreg_registry *reg, const char *user_id, int *valid)
{
    size_t len;
    *valid = mcreg__validate_id(user_id, &len, "user_id", NULL);
    if (!*valid)
        return NULL;
    mcreg_index_key k;
    mcreg__index_key_init(&k, user_id, len);
    return mcreg__index_user_find(reg, &k);
}

static const mcreg_user *find_user(const mcreg_registry *reg, const char *user_id)
{
    mcreg_index_key k;
    if (!reg || !lookup_key(user_id, &k))
        return NULL;
    return mcreg__index_user_find(reg, &k);
}

int mcreg_user_max_ues(const mcreg_registry *reg, const char *user_id, uint32_t *max)
{
    int valid;
    if (!reg || !max)
        return MCREG_ERR_MISUSE;
    const mcreg_user *u = valid_user(reg, user_id, &valid);
    if (!valid)
        return MCREG_ERR_INVALID;
    if (!u || !u->has_max)
        return MCREG_ERR_NOT_FOUND;
    *max = u->max_ues;
    return MCREG_OK;
}

const mcreg_record *mcreg_find(const mcreg_registry *reg, const char *user_id, const char *ue_id)
{
    mcreg_index_key user, ue;
    if (!reg || !lookup_key(user_id, &user) || !lookup_key(ue_id, &ue))
        return NULL;
    return mcreg__index_pair_find(reg, &user, &ue);
}

const mcreg_record *mcreg_find_ue(const mcreg_registry *reg, const char *ue_id)
{
    mcreg_index_key ue;
    if (!reg || !lookup_key(ue_id, &ue))
        return NULL;
    return mcreg__index_ue_first(reg, &ue); /* the UE's list is in find_ue's order */
}

size_t mcreg_user_ue_count(const mcreg_registry *reg, const char *user_id)
{
    const mcreg_user *u = find_user(reg, user_id);
    return u ? u->n_records : 0;
}

size_t mcreg_record_count(const mcreg_registry *reg)
{
    return reg ? reg->st.n_records : 0;
}

size_t mcreg_user_count(const mcreg_registry *reg)
{
    return reg ? reg->st.n_active_users : 0;
}

int mcreg_user_foreach(const mcreg_registry *reg, const char *user_id, mcreg_visit_fn fn,
                       void *ud)
{
    int valid;
    if (!reg || !fn)
        return MCREG_ERR_MISUSE;
    const mcreg_user *u = valid_user(reg, user_id, &valid);
    if (!valid)
        return MCREG_ERR_INVALID;
    if (!u || !u->n_records)
        return MCREG_ERR_NOT_FOUND;
    int rc = 0;
    mcreg__events_busy_enter(reg);
    /* The visitor cannot change the list: mutating calls are refused and a
     * registry free is deferred until busy_leave. */
    for (const struct mcreg_record *r = u->first; r && !rc && !mcreg__events_free_pending(reg);
         r = r->user_next)
        rc = fn(r, ud);
    mcreg__events_busy_leave(reg);
    return rc;
}

/* (registered_at, ue_id, user_id): the order of mcreg_foreach. */
static int foreach_cmp(const void *va, const void *vb)
{
    const struct mcreg_record *a = va, *b = vb;
    int c = mcreg__record_logon_cmp(a, b);
    return c ? c : mcreg__user_cmp(a->user, b->user);
}

/* A visitor of either kind: records, or users with a limit of their own. */
typedef struct {
    mcreg_visit_fn record_fn;
    mcreg_limit_fn limit_fn;
    void *ud;
} visitor;

static int visit_one(const visitor *v, const void *item)
{
    if (v->record_fn)
        return v->record_fn(item, v->ud);
    const mcreg_user *u = item;
    return v->limit_fn(u->id, u->max_ues, v->ud);
}

/* Sort order[0..n) (allocated with the registry's allocator), visit each
 * item with the registry busy, and free order. */
static int visit_sorted(const mcreg_registry *reg, void **order, size_t n, mcreg_sort_cmp_fn cmp,
                        const visitor *v)
{
    mcreg_allocator a = reg->alloc.fns; /* the registry may be gone at the end */
    mcreg__sort(order, n, cmp);
    int rc = 0;
    mcreg__events_busy_enter(reg);
    for (size_t i = 0; i < n && !rc && !mcreg__events_free_pending(reg); i++)
        rc = visit_one(v, order[i]);
    mcreg__alloc_temp_free(&a, order);
    mcreg__events_busy_leave(reg);
    return rc;
}

int mcreg_foreach(const mcreg_registry *reg, mcreg_visit_fn fn, void *ud)
{
    if (!reg || !fn)
        return MCREG_ERR_MISUSE;
    size_t n = reg->st.n_records;
    if (n == 0)
        return MCREG_OK;
    void **order = mcreg__alloc_temp_malloc(&reg->alloc.fns, n * sizeof(*order));
    if (!order)
        return MCREG_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = reg->st.heap.items[i];
    visitor v = {.record_fn = fn, .ud = ud};
    return visit_sorted(reg, order, n, foreach_cmp, &v);
}

int mcreg_limit_foreach(const mcreg_registry *reg, mcreg_limit_fn fn, void *ud)
{
    if (!reg || !fn)
        return MCREG_ERR_MISUSE;
    size_t n = 0;
    for (const mcreg_user *u = mcreg__index_user_iter(reg, NULL); u;
         u = mcreg__index_user_iter(reg, u))
        n += u->has_max;
    if (n == 0)
        return MCREG_OK;
    void **order = mcreg__alloc_temp_malloc(&reg->alloc.fns, n * sizeof(*order));
    if (!order)
        return MCREG_ERR_NOMEM;
    size_t i = 0;
    for (mcreg_user *u = mcreg__index_user_iter(reg, NULL); u; u = mcreg__index_user_iter(reg, u))
        if (u->has_max)
            order[i++] = u;
    visitor v = {.limit_fn = fn, .ud = ud};
    return visit_sorted(reg, order, n, mcreg__user_order, &v);
}

uint64_t mcreg_stat(const mcreg_registry *reg, int id)
{
    if (!reg)
        return 0;
    switch (id) {
    case MCREG_STAT_RECORDS:
        return reg->st.n_records;
    case MCREG_STAT_USERS:
        return reg->st.n_active_users;
    case MCREG_STAT_USER_LIMITS:
        return reg->st.n_limits;
    case MCREG_STAT_TOMBSTONES:
        return reg->st.tombs.n; /* with a node id only: pairs not present that keep their entry */
    case MCREG_STAT_BYTES:
        return reg->alloc.held;
    default:
        break;
    }
    if (id >= MCREG_STAT_EVENTS_BASE && id <= MCREG_STAT_EVENTS_BASE + MCREG_EV_NOTIFY_LOGOFF)
        return reg->events_delivered[id - MCREG_STAT_EVENTS_BASE];
    return 0;
}

const char *mcreg_error_detail(const mcreg_registry *reg)
{
    return reg ? reg->detail.text : "";
}
