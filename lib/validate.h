/* Input validation: every byte from the host is untrusted. */
#ifndef MCREG_VALIDATE_H
#define MCREG_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "mcreg.h"

/* 1 if [s, s+len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0. */
int mcreg__validate_utf8(const uint8_t *s, size_t len);

/* Length of the NUL-terminated string s if it is at most `max` bytes, else
 * max + 1. Reads at most max + 1 bytes, so an unterminated or huge input
 * costs no more than the limit. */
size_t mcreg__validate_bounded_strlen(const char *s, size_t max);

/* An id: non-NULL, 1..MCREG_MAX_ID_LEN bytes, valid UTF-8. Stores its length. */
int mcreg__validate_id(const char *id, size_t *len);

/* A binding as mcreg.h's limits describe it. Stores the lengths of its
 * ids (either pointer may be NULL). */
int mcreg__validate_binding(const mcreg_binding *b, size_t *user_len, size_t *ue_len);

#endif
