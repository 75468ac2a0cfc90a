/* Shared declarations of the soak test (tests/soak/): the counting
 * allocator, the id space, generated settings, and the reference model. */
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
/* 1 when the record's settings are those of `seed`; else 0 and why. */
int soak_settings_match(const mcreg_record *r, uint32_t seed, char *why, size_t cap);

/* ---- the reference model ---------------------------------------------------- */

/* A user's records: home UEs plus UEs taken over from other users. The
 * driver never lets a user take over a UE when it has 6 records already,
 * so 6 + 4 home UEs bound it. */
#define SOAK_MAXPER 12

/* The model relies on UE exclusivity (the registry's default): a UE holds
 * at most one record, so records are kept in an array indexed by UE. */
typedef struct m_rec {
    uint64_t reg_at, exp_at;
    uint32_t user;
    uint32_t cseq;
    uint32_t call;     /* 0 = none */
    uint32_t contact;  /* 0 = none */
    uint32_t set_seed; /* 0 = no settings */
    uint32_t gen;      /* matches the model's heap entry of this record */
    uint8_t used;
} m_rec;

typedef struct m_user {
    uint32_t ue[SOAK_MAXPER]; /* unordered */
    uint8_t n;
    uint8_t has_limit;
    uint32_t limit;
} m_user;

/* Lazy min-heap of (expires_at, UE, gen): an entry is live when the record
 * at the UE is in use with the same gen; stale entries are dropped when they
 * come to the top. */
typedef struct m_heap_ent {
    uint64_t exp;
    uint32_t ue, gen;
} m_heap_ent;

/* An expected event. For record events the record's fields as the event
 * must show them (for removals: as the record was). */
typedef struct m_event {
    mcreg_event_type type;
    uint32_t u, ue;
    uint64_t reg_at, exp_at;
    uint32_t cseq;
    uint32_t recip; /* NOTIFY_* */
    uint32_t n_other;
    uint32_t other[SOAK_MAXPER];
} m_event;

typedef struct m_removal {
    uint32_t u, ue;
    mcreg_event_type why;
    uint64_t reg_at, exp_at;
    uint32_t cseq;
} m_removal;

typedef struct m_bind {
    uint32_t u, x;
    uint32_t contact, call, cseq, expires_s, set_seed;
} m_bind;

typedef struct soak_model {
    const soak_ids *ids;
    uint32_t n_users, n_ues;
    m_rec *rec;   /* n_ues */
    m_user *user; /* n_users */
    size_t n_records, n_active_users, n_limits;
    m_heap_ent *heap;
    size_t heap_n, heap_cap;
    uint32_t gen;
    /* options */
    uint32_t max_ues;
    mcreg_limit_policy policy;
    mcreg_notify_policy notify;
    int logoff;
    /* the expected events of the current call */
    m_event *ev;
    size_t ev_n, ev_cap;
    m_removal *rm;
    size_t rm_n, rm_cap;
    void *due; /* the records due in one expire call (soak_model.c) */
    size_t due_cap;
} soak_model;

int m_init(soak_model *m, const soak_ids *ids);
void m_free(soak_model *m);
void m_ev_reset(soak_model *m);
/* The pair's record, or NULL. */
const m_rec *m_find(const soak_model *m, uint32_t u, uint32_t x);
/* The user's UEs in (registered_at, ue_id) order; returns how many. */
size_t m_user_sorted(const soak_model *m, uint32_t u, uint32_t *out);
uint32_t m_user_n(const soak_model *m, uint32_t u);

/* Each predicts the call's result, applies it to the model and queues the
 * events the call must deliver. */
int m_register(soak_model *m, const m_bind *b, uint64_t now, mcreg_outcome *out);
int m_deregister(soak_model *m, uint32_t u, uint32_t x);
int m_deregister_user(soak_model *m, uint32_t u, size_t *removed);
int m_expire(soak_model *m, uint64_t now, size_t *expired);
int m_next_expiry(soak_model *m, uint64_t *at);
int m_set_limit(soak_model *m, uint32_t u, uint32_t max);
int m_clear_limit(soak_model *m, uint32_t u);

uint64_t m_expiry(uint64_t now, uint32_t expires_s);

#endif
