#include "record.h"

#include <string.h>

int mcreg__record_logon_cmp(const struct mcreg_record *a, const struct mcreg_record *b)
{
    if (a->registered_at != b->registered_at)
        return a->registered_at < b->registered_at ? -1 : 1;
    return strcmp(a->ue_id, b->ue_id);
}

/* The blocks parts are laid out one after the other (record.h), so the
 * block ends where its last part does: the last setting's bytes, else the
 * Call-ID or the contact, else the settings array. */
size_t mcreg__record_block_size(const struct mcreg_record *r)
{
    const mcreg_setting *settings = mcreg__record_settings(r);
    const char *end = (const char *)(settings + r->n_settings);
    if (r->flags & MCREG_RECORD_HAS_CONTACT)
        end += r->contact_len + 1;
    if (r->flags & MCREG_RECORD_HAS_CALL_ID)
        end += r->call_id_len + 1;
    if (r->n_settings) {
        const mcreg_setting *last = &settings[r->n_settings - 1];
        end = last->key + strlen(last->key) + 1;
        if (last->type == MCREG_VAL_TEXT)
            end = last->v.text.ptr + last->v.text.len + 1;
        else if (last->type == MCREG_VAL_BYTES)
            end = (const char *)last->v.bytes.ptr + last->v.bytes.len;
    }
    return mcreg__record_prefix_size(r->flags) + (size_t)(end - (const char *)r);
}

void mcreg__record_free(mcreg_alloc *a, struct mcreg_record *r)
{
    if (!r)
        return;
    size_t size = mcreg__record_block_size(r);
    /* the block starts at the prefixes */
    mcreg__alloc_free(a, (char *)r - mcreg__record_prefix_size(r->flags), size);
}

/* ---- the block's variable part ------------------------------------------ */

/* Bytes a setting adds to the block's string area. */
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

struct mcreg_record *mcreg__record_new(mcreg_alloc *a, mcreg_user *u,
                                       const mcreg_binding *b, size_t ue_len,
                                       const struct mcreg_record *old, unsigned layout)
{
    const char *contact = b->contact ? b->contact : (old ? mcreg__record_contact(old) : NULL);
    /* Sizes are bounded by validation (64 settings of 4 KiB, two 2 KiB
     * strings, ids of 1 KiB), so none of these sums can overflow. */
    size_t settings_at = mcreg__record_settings_offset(ue_len);
    size_t size = settings_at + b->n_settings * sizeof(mcreg_setting) + string_bytes(contact) +
                  string_bytes(b->call_id);
    for (size_t i = 0; i < b->n_settings; i++)
        size += setting_bytes(&b->settings[i]);

    layout &= MCREG_RECORD_HAS_UE_LINKS | MCREG_RECORD_HAS_VERSIONS;
    size_t links = mcreg__record_prefix_size(layout);
    char *block = mcreg__alloc_malloc(a, links + size);
    if (!block)
        return NULL;
    memset(block, 0, links + offsetof(struct mcreg_record, ue_id));
    struct mcreg_record *r = (struct mcreg_record *)(void *)(block + links);
    r->flags = (uint8_t)layout;
    r->user = u;
    memcpy(r->ue_id, b->ue_id, ue_len + 1);
    r->hh.key = r->ue_id;
    r->hh.keylen = (unsigned)ue_len;
    r->cseq = b->cseq;
    r->n_settings = (uint8_t)b->n_settings;
    if (contact) {
        r->flags |= MCREG_RECORD_HAS_CONTACT;
        r->contact_len = (uint16_t)strlen(contact);
    }
    if (b->call_id) {
        r->flags |= MCREG_RECORD_HAS_CALL_ID;
        r->call_id_len = (uint16_t)strlen(b->call_id);
    }
    mcreg_setting *settings = (mcreg_setting *)(void *)((char *)r + settings_at);
    char *cursor = (char *)&settings[b->n_settings];
    put_string(&cursor, contact);
    put_string(&cursor, b->call_id);
    for (size_t i = 0; i < b->n_settings; i++)
        copy_setting(&settings[i], &b->settings[i], &cursor);
    return r;
}

static int same_text(const char *stored, size_t stored_len, const char *s)
{
    if (!stored || !s)
        return stored == s;
    return mcreg__record_text_is(s, stored, stored_len);
}

static int same_setting(const mcreg_setting *x, const mcreg_setting *y)
{
    if (x->type != y->type || strcmp(x->key, y->key) != 0)
        return 0;
    switch (x->type) {
    case MCREG_VAL_INT:
        return x->v.i == y->v.i;
    case MCREG_VAL_BOOL:
        return !x->v.b == !y->v.b;
    case MCREG_VAL_TEXT:
        return x->v.text.len == y->v.text.len &&
               (x->v.text.len == 0 || memcmp(x->v.text.ptr, y->v.text.ptr, x->v.text.len) == 0);
    case MCREG_VAL_BYTES:
        return x->v.bytes.len == y->v.bytes.len &&
               (x->v.bytes.len == 0 ||
                memcmp(x->v.bytes.ptr, y->v.bytes.ptr, x->v.bytes.len) == 0);
    }
    return 0;
}

int mcreg__record_holds(const struct mcreg_record *r, const mcreg_binding *b)
{
    if (b->contact && !same_text(mcreg__record_contact(r), r->contact_len, b->contact))
        return 0;
    if (!same_text(mcreg__record_call_id(r), r->call_id_len, b->call_id))
        return 0;
    if (b->n_settings != r->n_settings)
        return 0;
    const mcreg_setting *stored = mcreg__record_settings(r);
    for (size_t i = 0; i < b->n_settings; i++)
        if (!same_setting(&stored[i], &b->settings[i]))
            return 0;
    return 1;
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
    return r ? mcreg__record_contact(r) : NULL;
}

const char *mcreg_record_call_id(const mcreg_record *r)
{
    return r ? mcreg__record_call_id(r) : NULL;
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

mcreg_change_version mcreg_record_version(const mcreg_record *r)
{
    mcreg_change_version none = {0, 0};
    return r && (r->flags & MCREG_RECORD_HAS_VERSIONS) ? mcreg__record_versions(r)->write : none;
}

mcreg_change_version mcreg_record_logon(const mcreg_record *r)
{
    mcreg_change_version none = {0, 0};
    return r && (r->flags & MCREG_RECORD_HAS_VERSIONS) ? mcreg__record_versions(r)->logon : none;
}

size_t mcreg_record_setting_count(const mcreg_record *r)
{
    return r ? r->n_settings : 0;
}

const mcreg_setting *mcreg_record_setting_at(const mcreg_record *r, size_t i)
{
    if (!r || i >= r->n_settings)
        return NULL;
    return &mcreg__record_settings(r)[i];
}

const mcreg_setting *mcreg_record_setting_find(const mcreg_record *r, const char *key)
{
    if (!r || !key)
        return NULL;
    const mcreg_setting *settings = mcreg__record_settings(r);
    for (size_t i = 0; i < r->n_settings; i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}
