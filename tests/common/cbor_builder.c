/* The CBOR byte builder of the tests: see cbor_builder.h. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cbor_builder.h"

void bb_init(bb *b)
{
    memset(b, 0, sizeof(*b));
}

void bb_free(bb *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void bb_reset(bb *b)
{
    b->len = 0;
}

void bb_put(bb *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

void bb_byte(bb *b, unsigned x)
{
    uint8_t c = (uint8_t)x;
    bb_put(b, &c, 1);
}

void bb_fill(bb *b, unsigned x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bb_byte(b, x);
}

/* A head whose argument takes `width` bytes: 0 (in the initial byte), 1, 2,
 * 4 or 8. */
void bb_head_w(bb *b, unsigned major, uint64_t v, int width)
{
    unsigned ai = width == 0 ? (unsigned)v
                  : width == 1 ? 24u
                  : width == 2 ? 25u
                  : width == 4 ? 26u
                               : 27u;
    bb_byte(b, major << 5 | ai);
    for (int i = width - 1; i >= 0; i--)
        bb_byte(b, (unsigned)(v >> (8 * i)) & 0xffu);
}

/* The shortest head (RFC 8949 section 4.2.1). */
void bb_head(bb *b, unsigned major, uint64_t v)
{
    int w = v < 24 ? 0 : v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
    bb_head_w(b, major, v, w);
}

void bb_uint(bb *b, uint64_t v)
{
    bb_head(b, 0, v);
}

void bb_textn(bb *b, const char *s, size_t n)
{
    bb_head(b, 3, n);
    bb_put(b, s, n);
}

void bb_text(bb *b, const char *s)
{
    bb_textn(b, s, strlen(s));
}

/* A text string of n copies of byte c. */
void bb_text_rep(bb *b, unsigned c, size_t n)
{
    bb_head(b, 3, n);
    bb_fill(b, c, n);
}

void bb_array(bb *b, uint64_t n)
{
    bb_head(b, 4, n);
}

void bb_map(bb *b, uint64_t n)
{
    bb_head(b, 5, n);
}

void bb_tag(bb *b, uint64_t n)
{
    bb_head(b, 6, n);
}

/* Raw bytes given as hex digits; spaces are ignored. */
void bb_hex(bb *b, const char *hex)
{
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            v = *p - 'A' + 10;
        else if (*p == ' ')
            continue;
        else
            ck_abort_msg("bad hex digit in \"%s\"", hex);
        if (hi < 0) {
            hi = v;
        } else {
            bb_byte(b, (unsigned)(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0)
        ck_abort_msg("odd number of hex digits in \"%s\"", hex);
}

/* The self-described CBOR tag 55799: d9 d9 f7. */
void bb_self(bb *b)
{
    bb_tag(b, 55799);
}

void bb_version(bb *b, uint64_t major, uint64_t minor)
{
    bb_array(b, 2);
    bb_uint(b, major);
    bb_uint(b, minor);
}

/* The start of a snapshot: the tag and a top-level map of `pairs` pairs,
 * the first being 0: [1, 0]. */
void snap_open(bb *b, uint64_t pairs)
{
    bb_self(b);
    bb_map(b, pairs);
    bb_uint(b, 0);
    bb_version(b, 1, 0);
}

/* A snapshot with keys 0 and 1 only, up to the head of an array of n
 * records, which the caller writes. */
void snap_records(bb *b, uint64_t n)
{
    snap_open(b, 2);
    bb_uint(b, 1);
    bb_array(b, n);
}

/* A snapshot with keys 0 and 2 only, up to the head of an array of n
 * limits. */
void snap_limits(bb *b, uint64_t n)
{
    snap_open(b, 2);
    bb_uint(b, 2);
    bb_array(b, n);
}

/* A record map with the five required fields, and room for `extra` more
 * pairs that the caller writes. */
void rec_open(bb *b, const char *user, const char *ue, uint64_t reg, uint64_t exp,
              uint32_t cseq, unsigned extra)
{
    bb_map(b, 5 + extra);
    bb_uint(b, 0);
    bb_text(b, user);
    bb_uint(b, 1);
    bb_text(b, ue);
    bb_uint(b, 2);
    bb_uint(b, reg);
    bb_uint(b, 3);
    bb_uint(b, exp);
    bb_uint(b, 4);
    bb_uint(b, cseq);
}

/* The corpus's default record: ("u1", "e1", registered 1000, expires
 * 90000, CSeq 1). Field `field` (0..4) is written as the raw bytes `hex`
 * instead, or left out when hex is NULL; field -1 changes nothing. */
void rec_alt(bb *b, int field, const char *hex)
{
    static const char *const dflt[5] = {"62 75 31", "62 65 31", "19 03 e8", "1a 00 01 5f 90", "01"};
    bb_map(b, field >= 0 && hex == NULL ? 4 : 5);
    for (int k = 0; k < 5; k++) {
        if (k == field && hex == NULL)
            continue;
        bb_uint(b, (uint64_t)k);
        bb_hex(b, k == field ? hex : dflt[k]);
    }
}

/* A whole snapshot of one default record. */
void snap_one(bb *b)
{
    snap_records(b, 1);
    rec_alt(b, -1, NULL);
}
