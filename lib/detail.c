#include "detail.h"

#include <string.h>

void mcreg__detail_clear(mcreg_detail *d)
{
    if (!d)
        return;
    d->text[0] = '\0';
    d->len = 0;
}

void mcreg__detail_add(mcreg_detail *d, const char *s)
{
    if (!d)
        return;
    size_t room = sizeof(d->text) - 1 - d->len;
    size_t n = strlen(s);
    if (n > room)
        n = room;
    memcpy(d->text + d->len, s, n);
    d->len += n;
    d->text[d->len] = '\0';
}

void mcreg__detail_add_uint(mcreg_detail *d, uint64_t v)
{
    char digits[21];
    size_t i = sizeof(digits) - 1;
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mcreg__detail_add(d, digits + i);
}

void mcreg__detail_field(mcreg_detail *d, const char *field, size_t index)
{
    mcreg__detail_add(d, field);
    if (index != MCREG_DETAIL_NO_INDEX) {
        mcreg__detail_add(d, "[");
        mcreg__detail_add_uint(d, index);
        mcreg__detail_add(d, "]");
    }
    mcreg__detail_add(d, ": ");
}

void mcreg__detail_set(mcreg_detail *d, const char *field, const char *rule)
{
    mcreg__detail_clear(d);
    if (field)
        mcreg__detail_field(d, field, MCREG_DETAIL_NO_INDEX);
    mcreg__detail_add(d, rule);
}
