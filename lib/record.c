#include "record.h"

#include <string.h>

int mcreg__logon_cmp(const struct mcreg_record *a, const struct mcreg_record *b)
{
    if (a->registered_at != b->registered_at)
        return a->registered_at < b->registered_at ? -1 : 1;
    return strcmp(a->ue_id, b->ue_id);
}

int mcreg__user_cmp(const mcreg_user *a, const mcreg_user *b)
{
    return strcmp(a->id, b->id);
}

int mcreg__user_order(const void *a, const void *b)
{
    return mcreg__user_cmp(a, b);
}

struct mcreg_record *mcreg__record_new(const mcreg_allocator *a, mcreg_user *user,
                                       const char *ue_id, size_t ue_len)
{
    struct mcreg_record *r = mcreg__malloc(a, sizeof(*r) + ue_len + 1);
    if (!r)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->user = user;
    r->ue_len = (uint32_t)ue_len;
    memcpy(r->ue_id, ue_id, ue_len + 1);
    return r;
}

void mcreg__record_free(const mcreg_allocator *a, struct mcreg_record *r)
{
    if (!r)
        return;
    mcreg__free(a, r->payload);
    mcreg__free(a, r);
}

mcreg_user *mcreg__user_new(const mcreg_allocator *a, const char *id, size_t id_len)
{
    mcreg_user *u = mcreg__malloc(a, sizeof(*u) + id_len + 1);
    if (!u)
        return NULL;
    memset(u, 0, sizeof(*u));
    u->id_len = (uint32_t)id_len;
    memcpy(u->id, id, id_len + 1);
    return u;
}

/* ---- payload ----------------------------------------------------------- */

/* Bytes a setting adds to the payload's string area. */
static size_t setting_bytes(const mcreg_setting *s)
{
    size_t n = strlen(s->key) + 1;
    if (s->type == MCREG_VAL_TEXT)
        n += s->v.text.len + 1;
    else if (s->type == MCREG_VAL_BYTES)
        n += s->v.bytes.len;
    return n;
}

static size_t string_bytes(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* Appends [src, src+len) and returns where it landed. */
static char *put_bytes(char **cursor, const void *src, size_t len)
{
    char *at = *cursor;
    if (len)
        memcpy(at, src, len);
    *cursor += len;
    return at;
}

static const char *put_string(char **cursor, const char *s)
{
    return s ? put_bytes(cursor, s, strlen(s) + 1) : NULL;
}

static void copy_setting(mcreg_setting *dst, const mcreg_setting *src, char **cursor)
{
    memset(dst, 0, sizeof(*dst)); /* no stray bytes in the union's unused part */
    dst->type = src->type;
    dst->key = put_string(cursor, src->key);
    switch (src->type) {
    case MCREG_VAL_INT:
        dst->v.i = src->v.i;
        break;
    case MCREG_VAL_BOOL:
        dst->v.b = src->v.b != 0;
        break;
    case MCREG_VAL_TEXT:
        dst->v.text.ptr = put_bytes(cursor, src->v.text.ptr, src->v.text.len);
        dst->v.text.len = src->v.text.len;
        *(*cursor)++ = '\0';
        break;
    case MCREG_VAL_BYTES:
        /* An empty value still gets a non-NULL pointer: readers need not
         * special-case it. */
        dst->v.bytes.ptr = (const uint8_t *)put_bytes(cursor, src->v.bytes.ptr, src->v.bytes.len);
        dst->v.bytes.len = src->v.bytes.len;
        break;
    }
}

mcreg_payload *mcreg__payload_new(const mcreg_allocator *a, const mcreg_binding *b,
                                  const mcreg_payload *old)
{
    const char *contact = b->contact ? b->contact : (old ? old->contact : NULL);
    /* Sizes are bounded by validation (64 settings of 4 KiB, two 2 KiB
     * strings), so none of these sums can overflow. */
    size_t size = sizeof(mcreg_payload) + b->n_settings * sizeof(mcreg_setting) +
                  string_bytes(contact) + string_bytes(b->call_id);
    for (size_t i = 0; i < b->n_settings; i++)
        size += setting_bytes(&b->settings[i]);

    mcreg_payload *p = mcreg__malloc(a, size);
    if (!p)
        return NULL;
    char *cursor = (char *)&p->settings[b->n_settings];
    p->n_settings = (uint32_t)b->n_settings;
    p->contact = put_string(&cursor, contact);
    p->call_id = put_string(&cursor, b->call_id);
    for (size_t i = 0; i < b->n_settings; i++)
        copy_setting(&p->settings[i], &b->settings[i], &cursor);
    return p;
}

/* ---- public accessors -------------------------------------------------- */

const char *mcreg_record_user_id(const mcreg_record *r)
{
    return r ? r->user->id : NULL;
}

const char *mcreg_record_ue_id(const mcreg_record *r)
{
    return r ? r->ue_id : NULL;
}

const char *mcreg_record_contact(const mcreg_record *r)
{
    return r ? r->payload->contact : NULL;
}

const char *mcreg_record_call_id(const mcreg_record *r)
{
    return r ? r->payload->call_id : NULL;
}

uint32_t mcreg_record_cseq(const mcreg_record *r)
{
    return r ? r->cseq : 0;
}

uint64_t mcreg_record_registered_at(const mcreg_record *r)
{
    return r ? r->registered_at : 0;
}

uint64_t mcreg_record_expires_at(const mcreg_record *r)
{
    return r ? r->expires_at : 0;
}

size_t mcreg_record_setting_count(const mcreg_record *r)
{
    return r ? r->payload->n_settings : 0;
}

const mcreg_setting *mcreg_record_setting_at(const mcreg_record *r, size_t i)
{
    if (!r || i >= r->payload->n_settings)
        return NULL;
    return &r->payload->settings[i];
}

const mcreg_setting *mcreg_record_setting_find(const mcreg_record *r, const char *key)
{
    if (!r || !key)
        return NULL;
    for (uint32_t i = 0; i < r->payload->n_settings; i++)
        if (strcmp(r->payload->settings[i].key, key) == 0)
            return &r->payload->settings[i];
    return NULL;
}
