/* The change buffer's envelope (README, "Change format"), shared by the
 * encoder (changes.c) and the decoder (changes_decode.c). */
#ifndef MCREG_CHANGES_H
#define MCREG_CHANGES_H

/* The CRC-32C at the end of an item: a byte string of 4 bytes, big-endian,
 * over every byte of the item before its head. */
#define MCREG_CHANGES_CRC_LEN 4u

/* Tags of the digest's items beyond the entry kinds (repl.h). */
enum { MCREG_CHANGES_TOMBSTONE = 3, MCREG_CHANGES_UE_PUT = 4 };

#endif
