#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "options.h"

void mcreg__options_defaults(struct mcreg_options *o)
{
    memset(o, 0, sizeof(*o));
    o->allocator = mcreg__alloc_default();
    o->limit_policy = MCREG_LIMIT_REJECT;
    o->notify_logon = MCREG_NOTIFY_ALL;
    o->notify_logoff = 0;
    o->ue_exclusive = 1;
    o->max_clock_skew = MCREG_OPTIONS_MAX_CLOCK_SKEW;
    o->hash_seed = UINT64_C(0x6d637265672d7631); /* "mcreg-v1", see mcreg_registry_new */
}

/* Options exist before any registry, and so before any registry allocator:
 * they come from the C library, as nghttp2's option objects do. */
int mcreg_options_new(mcreg_options **out)
{
    if (!out)
        return MCREG_ERR_MISUSE;
    mcreg_options *o = malloc(sizeof(*o));
    if (!o)
        return MCREG_ERR_NOMEM;
    mcreg__options_defaults(o);
    *out = o;
    return MCREG_OK;
}

void mcreg_options_free(mcreg_options *o)
{
    free(o);
}

void mcreg_options_set_allocator(mcreg_options *o, const mcreg_allocator *a)
{
    if (o)
        o->allocator = a ? *a : mcreg__alloc_default();
}

void mcreg_options_set_event_callback(mcreg_options *o, mcreg_event_fn fn, void *user_data)
{
    if (!o)
        return;
    o->event_fn = fn;
    o->event_user_data = user_data;
}

void mcreg_options_set_max_ues(mcreg_options *o, uint32_t max)
{
    if (o)
        o->max_ues = max;
}

void mcreg_options_set_limit_policy(mcreg_options *o, mcreg_limit_policy p)
{
    if (o)
        o->limit_policy = (int)p;
}

void mcreg_options_set_notify_logon(mcreg_options *o, mcreg_notify_policy p)
{
    if (o)
        o->notify_logon = (int)p;
}

void mcreg_options_set_notify_logoff(mcreg_options *o, int on)
{
    if (o)
        o->notify_logoff = on != 0;
}

void mcreg_options_set_ue_exclusive(mcreg_options *o, int on)
{
    if (o)
        o->ue_exclusive = on != 0;
}

void mcreg_options_set_hash_seed(mcreg_options *o, uint64_t seed)
{
    if (!o)
        return;
    o->hash_seed = seed;
    o->hash_seed_set = 1;
}

void mcreg_options_set_node_id(mcreg_options *o, uint64_t node_id)
{
    if (o)
        o->node_id = node_id;
}

void mcreg_options_set_max_expires(mcreg_options *o, uint32_t max_s)
{
    if (o)
        o->max_expires = max_s;
}

void mcreg_options_set_capacity(mcreg_options *o, size_t records)
{
    if (o)
        o->capacity = records;
}

void mcreg_options_set_max_clock_skew(mcreg_options *o, uint32_t ms)
{
    if (o)
        o->max_clock_skew = ms;
}
