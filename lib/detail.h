/* Why a mutating call failed, as text (mcreg_error_detail): a fixed buffer
 * the registry owns, written without allocating, so that it also works
 * when the allocator has just failed. The text names the field and the
 * rule, never the bytes of the input: those are hostile, and a host may
 * print the text as it is. */
#ifndef MCREG_DETAIL_H
#define MCREG_DETAIL_H

#include <stddef.h>
#include <stdint.h>

/* Room for the longest detail the library writes, with its NUL. */
#define MCREG_DETAIL_SIZE 160

typedef struct mcreg_detail {
    char text[MCREG_DETAIL_SIZE]; /* always NUL-terminated */
    size_t len;
} mcreg_detail;

/* No index, for mcreg__detail_field. */
#define MCREG_DETAIL_NO_INDEX SIZE_MAX

/* Every function below accepts a NULL detail and then does nothing, so
 * that a check can run with or without an account of its failure. Text
 * that does not fit is cut. */

/* Empty it: "". */
void mcreg__detail_clear(mcreg_detail *d);
/* Append s. */
void mcreg__detail_add(mcreg_detail *d, const char *s);
/* Append v in decimal. */
void mcreg__detail_add_uint(mcreg_detail *d, uint64_t v);
/* Append "field: ", or "field[index]: " when index is not
 * MCREG_DETAIL_NO_INDEX. */
void mcreg__detail_field(mcreg_detail *d, const char *field, size_t index);
/* Replace the text with "field: rule" (field may be NULL: "rule"). */
void mcreg__detail_set(mcreg_detail *d, const char *field, const char *rule);

#endif
