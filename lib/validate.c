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
int mcreg__validate_utf8(const uint8_t *s, size_t len)
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
            return 0; /* continuation byte, C0, C1 or F5..FF */
        }
        if (len - i <= need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

size_t mcreg__validate_bounded_strlen(const char *s, size_t max)
{
    /* memchr stops at the first match (C11 7.24.5.1), so it reads no
     * further than the terminator, and at most max + 1 bytes. */
    const char *nul = memchr(s, '\0', max + 1);
    return nul ? (size_t)(nul - s) : max + 1;
}

/* A NUL-terminated UTF-8 string of 1..max bytes. */
static int valid_text(const char *s, size_t max, size_t *len)
{
    if (!s)
        return 0;
    size_t n = mcreg__validate_bounded_strlen(s, max);
    if (n == 0 || n > max || !mcreg__validate_utf8((const uint8_t *)s, n))
        return 0;
    if (len)
        *len = n;
    return 1;
}

int mcreg__validate_id(const char *id, size_t *len)
{
    return valid_text(id, MCREG_MAX_ID_LEN, len);
}

static int valid_setting(const mcreg_setting *st)
{
    size_t key_len;
    if (!valid_text(st->key, MCREG_MAX_SETTING_LEN, &key_len))
        return 0;
    size_t room = MCREG_MAX_SETTING_LEN - key_len;
    switch (st->type) {
    case MCREG_VAL_INT:
    case MCREG_VAL_BOOL:
        return 1;
    case MCREG_VAL_TEXT:
        if (st->v.text.len > room || (!st->v.text.ptr && st->v.text.len))
            return 0;
        return st->v.text.len == 0 ||
               mcreg__validate_utf8((const uint8_t *)st->v.text.ptr, st->v.text.len);
    case MCREG_VAL_BYTES:
        return st->v.bytes.len <= room && (st->v.bytes.ptr || !st->v.bytes.len);
    default:
        return 0;
    }
}

/* Keys are compared whole: at most 64 settings, so the quadratic scan is at
 * most 2016 comparisons and needs no memory. */
static int unique_keys(const mcreg_setting *s, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(s[i].key, s[j].key) == 0)
                return 0;
    return 1;
}

int mcreg__validate_binding(const mcreg_binding *b, size_t *user_len, size_t *ue_len)
{
    if (!b || !mcreg__validate_id(b->user_id, user_len) || !mcreg__validate_id(b->ue_id, ue_len))
        return 0;
    if (b->contact && !valid_text(b->contact, MCREG_MAX_URI_LEN, NULL))
        return 0;
    if (b->call_id && !valid_text(b->call_id, MCREG_MAX_URI_LEN, NULL))
        return 0;
    if (b->n_settings > MCREG_MAX_SETTINGS || (b->n_settings && !b->settings))
        return 0;
    for (size_t i = 0; i < b->n_settings; i++)
        if (!valid_setting(&b->settings[i]))
            return 0;
    return unique_keys(b->settings, b->n_settings);
}
