/* Input validation: every byte from the host is untrusted. */
#ifndef MCREG_VALIDATE_H
#define MCREG_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "detail.h"
#include "mcreg.h"

/* 1 if [s, s+len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0. */
int mcreg__validate_utf8(const uint8_t *s, size_t len);
/* The offset of the first byte of the first ill-formed sequence in
 * [s, s+len), or len when there is none. */
size_t mcreg__validate_utf8_prefix(const uint8_t *s, size_t len);

/* Length of the NUL-terminated string s if it is at most `max` bytes, else
 * max + 1. Reads at most max + 1 bytes, so an unterminated or huge input
 * costs no more than the limit. */
size_t mcreg__validate_bounded_strlen(const char *s, size_t max);

/* The checks below return 1 when the input is valid, else 0 and, when
 * `why` is not NULL, the field and the rule it broke in *why ("ue_id: not
 * valid UTF-8 at byte 17"; byte offsets count from 0). */

/* An id: non-NULL, 1..MCREG_MAX_ID_LEN bytes, valid UTF-8. Stores its
 * length (len may be NULL). `field` names it in *why. */
int mcreg__validate_id(const char *id, size_t *len, const char *field, mcreg_detail *why);

/* A binding as mcreg.h's limits describe it. Stores the lengths of its
 * ids (either pointer may be NULL). */
int mcreg__validate_binding(const mcreg_binding *b, size_t *user_len, size_t *ue_len,
                            mcreg_detail *why);

#endif
