/* A CBOR byte builder for tests: CBOR written head by head, so that every
 * test input says exactly which bytes it holds (hostile ones included), and
 * the shapes of a snapshot (snap_*, rec_*) built from them. Running out of
 * memory aborts: these are test inputs. */
#ifndef MCREG_TEST_CBOR_BUILDER_H
#define MCREG_TEST_CBOR_BUILDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct bb {
    uint8_t *p;
    size_t len, cap;
} bb;

void bb_init(bb *b);
void bb_free(bb *b);
void bb_reset(bb *b);
void bb_put(bb *b, const void *src, size_t n);
void bb_byte(bb *b, unsigned x);
void bb_fill(bb *b, unsigned x, size_t n);
void bb_head_w(bb *b, unsigned major, uint64_t v, int width);
void bb_head(bb *b, unsigned major, uint64_t v);
void bb_uint(bb *b, uint64_t v);
void bb_textn(bb *b, const char *s, size_t n);
void bb_text(bb *b, const char *s);
void bb_text_rep(bb *b, unsigned c, size_t n);
void bb_array(bb *b, uint64_t n);
void bb_map(bb *b, uint64_t n);
void bb_tag(bb *b, uint64_t n);
void bb_hex(bb *b, const char *hex);
void bb_self(bb *b);
void bb_version(bb *b, uint64_t major, uint64_t minor);
void snap_open(bb *b, uint64_t pairs);
void snap_records(bb *b, uint64_t n);
void snap_limits(bb *b, uint64_t n);
void rec_open(bb *b, const char *user, const char *ue, uint64_t reg, uint64_t exp,
              uint32_t cseq, unsigned extra);
void rec_alt(bb *b, int field, const char *hex);
void snap_one(bb *b);

#endif
