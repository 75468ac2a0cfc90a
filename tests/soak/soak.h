/* Shared declarations of the soak test (tests/soak/): the counting
 * allocator, the id space and generated settings. The reference model is
 * tests/model/. */
#ifndef MCREG_SOAK_H
#define MCREG_SOAK_H

#include <stddef.h>
#include <stdint.h>

#include "mcreg.h"
#include "rng.h"

/* ---- counting allocator ---------------------------------------------------- */

/* Sizes are what the library asked for (a header before each block keeps
 * them exact); blocks are what is currently allocated. */
typedef struct soak_alloc {
    size_t live_bytes;
    size_t peak_bytes;
    size_t live_blocks;
    uint64_t mallocs;  /* malloc calls, and realloc calls with a NULL block */
    uint64_t reallocs; /* realloc calls on a block */
    uint64_t frees;    /* free calls on a block */
} soak_alloc;

mcreg_allocator soak_allocator(soak_alloc *a);

/* ---- ids --------------------------------------------------------------------- */

/* Every user u has UES_PER_USER home UEs, x = u * UES_PER_USER + k. Ids are
 * built once; their byte order is not index order (decimal numbers without
 * padding, class names out of k order), so that the tie-breaks on ids are
 * exercised for real. */
#define SOAK_UES_PER_USER 4u

typedef struct soak_ids {
    uint32_t n_users, n_ues;
    char *arena;
    uint32_t *user_off, *ue_off;
} soak_ids;

int soak_ids_init(soak_ids *ids, uint32_t n_users);
void soak_ids_free(soak_ids *ids);
const char *soak_user(const soak_ids *ids, uint32_t u);
const char *soak_ue(const soak_ids *ids, uint32_t x);
/* The index of an id, or -1 if it is not one of ours. */
int64_t soak_parse_user(const soak_ids *ids, const char *s);
int64_t soak_parse_ue(const soak_ids *ids, const char *s);

/* Contacts and Call-IDs are numbers in the model (0 = none) and strings in
 * the bindings; the strings differ in length so records differ in size. */
#define SOAK_STR_MAX 160
void soak_contact(uint32_t c, char *buf);
void soak_call_id(uint32_t c, char *buf);

/* ---- settings -------------------------------------------------------------------- */

/* A record's settings are a function of a 32-bit seed (0 = none): the model
 * keeps the seed, the check regenerates the settings. */
#define SOAK_SET_MAX 6
#define SOAK_SET_DATA MCREG_MAX_SETTING_LEN
typedef struct soak_settings {
    size_t n;
    mcreg_setting s[SOAK_SET_MAX];
    uint8_t data[SOAK_SET_MAX][SOAK_SET_DATA];
} soak_settings;

void soak_settings_gen(uint32_t seed, soak_settings *out);

#endif
