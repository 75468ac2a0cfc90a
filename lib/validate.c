#include "validate.h"

#include <string.h>

/* Ids, URIs and Call-IDs are mostly ASCII: skip runs of it eight bytes
 * at a time. */
static size_t ascii_run(const uint8_t *s, size_t len)
{
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
    }
    while (i < len && s[i] < 0x80)
        i++;
    return i;
}

/* The well-formed byte sequences of RFC 3629, section 4. */
size_t mcreg__validate_utf8_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i += ascii_run(s + i, len - i);
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlong 3-byte forms */
            else if (c == 0xED)
                hi = 0x9F; /* no UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* no overlong 4-byte forms */
            else if (c == 0xF4)
                hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return i; /* continuation byte, C0, C1 or F5..FF */
        }
        if (len - i <= need)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return len;
}

int mcreg__validate_utf8(const uint8_t *s, size_t len)
{
    return mcreg__validate_utf8_prefix(s, len) == len;
}


size_t mcreg__validate_bounded_strlen(const char *s, size_t max)
{
    /* memchr stops at the first match (C11 7.24.5.1), so it reads no
     * further than the terminator, and at most max + 1 bytes. */
    const char *nul = memchr(s, '\0', max + 1);
    return nul ? (size_t)(nul - s) : max + 1;
}

/* Where a failed check writes its account: "field[index]: what: rule"
 * (index and what optional). why may be NULL: then nothing is written. */
typedef struct where {
    mcreg_detail *why;
    const char *field;
    size_t index;
    const char *what;
} where;

/* Start the account of a failure at w and return 0 (not valid). */
static int fail(const where *w, const char *rule)
{
    mcreg__detail_clear(w->why);
    mcreg__detail_field(w->why, w->field, w->index);
    if (w->what)
        mcreg__detail_field(w->why, w->what, MCREG_DETAIL_NO_INDEX);
    mcreg__detail_add(w->why, rule);
    return 0;
}

static int fail_uint(const where *w, const char *rule, uint64_t v, const char *after)
{
    fail(w, rule);
    mcreg__detail_add_uint(w->why, v);
    mcreg__detail_add(w->why, after);
    return 0;
}

static int fail_utf8(const where *w, size_t at)
{
    return fail_uint(w, "not valid UTF-8 at byte ", at, "");
}

/* A NUL-terminated UTF-8 string of 1..max bytes. */
static int valid_text(const char *s, size_t max, size_t *len, const where *w)
{
    if (!s)
        return fail(w, "NULL");
    size_t n = mcreg__validate_bounded_strlen(s, max);
    if (n == 0)
        return fail(w, "empty");
    if (n > max)
        return fail_uint(w, "longer than ", max, " bytes");
    size_t good = mcreg__validate_utf8_prefix((const uint8_t *)s, n);
    if (good != n)
        return fail_utf8(w, good);
    if (len)
        *len = n;
    return 1;
}

int mcreg__validate_id(const char *id, size_t *len, const char *field, mcreg_detail *why)
{
    where w = {why, field, MCREG_DETAIL_NO_INDEX, NULL};
    return valid_text(id, MCREG_MAX_ID_LEN, len, &w);
}

static int valid_setting(const mcreg_setting *st, size_t i, mcreg_detail *why)
{
    size_t key_len;
    where w = {why, "settings", i, "key"};
    if (!valid_text(st->key, MCREG_MAX_SETTING_LEN, &key_len, &w))
        return 0;
    size_t room = MCREG_MAX_SETTING_LEN - key_len;
    w.what = NULL;
    switch (st->type) {
    case MCREG_VAL_INT:
    case MCREG_VAL_BOOL:
        return 1;
    case MCREG_VAL_TEXT:
        if (st->v.text.len > room)
            return fail_uint(&w, "key and value longer than ", MCREG_MAX_SETTING_LEN, " bytes");
        w.what = "text value";
        if (!st->v.text.ptr && st->v.text.len)
            return fail(&w, "NULL with a non-zero len");
        if (st->v.text.len) {
            size_t good = mcreg__validate_utf8_prefix((const uint8_t *)st->v.text.ptr, st->v.text.len);
            if (good != st->v.text.len)
                return fail_utf8(&w, good);
        }
        return 1;
    case MCREG_VAL_BYTES:
        if (st->v.bytes.len > room)
            return fail_uint(&w, "key and value longer than ", MCREG_MAX_SETTING_LEN, " bytes");
        w.what = "bytes value";
        if (!st->v.bytes.ptr && st->v.bytes.len)
            return fail(&w, "NULL with a non-zero len");
        return 1;
    default:
        return fail_uint(&w, "unknown type ", (uint64_t)(unsigned)st->type, "");
    }
}

/* Keys are compared whole: at most 64 settings, so the quadratic scan is at
 * most 2016 comparisons and needs no memory. */
static int unique_keys(const mcreg_setting *s, size_t n, mcreg_detail *why)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(s[i].key, s[j].key) == 0) {
                where w = {why, "settings", i, NULL};
                return fail_uint(&w, "key repeats settings[", j, "]");
            }
    return 1;
}

int mcreg__validate_binding(const mcreg_binding *b, size_t *user_len, size_t *ue_len,
                            mcreg_detail *why)
{
    where w = {why, "binding", MCREG_DETAIL_NO_INDEX, NULL};
    if (!b)
        return fail(&w, "NULL");
    if (!mcreg__validate_id(b->user_id, user_len, "user_id", why) ||
        !mcreg__validate_id(b->ue_id, ue_len, "ue_id", why))
        return 0;
    w.field = "contact";
    if (b->contact && !valid_text(b->contact, MCREG_MAX_URI_LEN, NULL, &w))
        return 0;
    w.field = "call_id";
    if (b->call_id && !valid_text(b->call_id, MCREG_MAX_URI_LEN, NULL, &w))
        return 0;
    w.field = "n_settings";
    if (b->n_settings > MCREG_MAX_SETTINGS)
        return fail_uint(&w, "more than ", MCREG_MAX_SETTINGS, "");
    w.field = "settings";
    if (b->n_settings && !b->settings)
        return fail(&w, "NULL with a non-zero n_settings");
    for (size_t i = 0; i < b->n_settings; i++)
        if (!valid_setting(&b->settings[i], i, why))
            return 0;
    return unique_keys(b->settings, b->n_settings, why);
}
