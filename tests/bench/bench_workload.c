/*
 * The workload: U users with 2 UEs each, realistic ids and payloads, drawn
 * from a seeded splitmix64 so that every run and every backend sees the
 * same bytes. Everything is built here, before any timing; the backends
 * only read it.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "rng.h"

const char *const bench_setting_keys[BENCH_N_SETTINGS] = {"priority", "client-version",
                                                          "emergency-capable"};
const char *const bench_versions[BENCH_N_VERSIONS] = {
    "mcptt-client/2.3.1", "mcptt-client/2.4.0", "mcptt-client/2.3.1-lts",
    "mcptt-client/3.0.0-rc1"};

/* Room per string in the arena, above the longest each format can give
 * (user numbers of up to 20 digits included). */
#define USER_ROOM 48
#define UE_ROOM 48
#define CONTACT_ROOM 96
#define CALL_ID_ROOM 48

/* Uniform enough below n for a workload (the modulo bias is < 2^-40). */
static uint64_t below(uint64_t *s, uint64_t n)
{
    return test_splitmix64(s) % n;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "mcreg-bench: out of memory building the workload\n");
        exit(1);
    }
    return p;
}

/* The first k entries of a uniform random permutation of 0..n-1 (partial
 * Fisher-Yates), written to out[0..k). */
static void sample(uint64_t *s, uint32_t *scratch, size_t n, uint32_t *out, size_t k)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = (uint32_t)i;
    for (size_t i = 0; i < k; i++) {
        size_t j = i + (size_t)below(s, n - i);
        uint32_t t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        out[i] = scratch[i];
    }
}

/* Appends the formatted string to the arena; returns it and its length. */
static const char *put(char **cursor, size_t room, uint32_t *len, const char *fmt, ...)
    BENCH_PRINTF(4, 5);

static const char *put(char **cursor, size_t room, uint32_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*cursor, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        fprintf(stderr, "mcreg-bench: workload string too long for its room\n");
        exit(1);
    }
    const char *s = *cursor;
    *cursor += (size_t)n + 1;
    *len = (uint32_t)n;
    return s;
}

/* A copy of string `src` at the cursor (the streams' own copies). */
static const char *copy(char **cursor, const char *src, uint32_t len)
{
    char *d = *cursor;
    memcpy(d, src, (size_t)len + 1);
    *cursor += (size_t)len + 1;
    return d;
}

int bench_workload_init(bench_workload *w, size_t n_users, size_t n_rounds, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    if (n_users == 0 || n_users > UINT32_MAX / 4 || n_rounds == 0 || n_rounds > BENCH_MAX_REPS)
        return -1;
    size_t n = 2 * n_users;
    w->n_due = n / 100 ? n / 100 : 1;
    w->n_rounds = n_rounds;
    /* Disjoint rounds, and arrivals (1 ms apart) that never reach into the
     * next round. */
    if (w->n_due * n_rounds > n || n >= 1000u * (uint64_t)BENCH_ROUND_GAP_S)
        return -1;
    uint64_t s = seed;
    w->seed = seed;
    w->n_users = n_users;
    w->n_records = n;
    w->n_find = n < BENCH_MAX_SAMPLE ? n : BENCH_MAX_SAMPLE;
    w->n_user_sample = n_users < BENCH_MAX_SAMPLE ? n_users : BENCH_MAX_SAMPLE;

    /* Users' ids, then each record's strings (its own copy of the user id
     * first), then the three probe streams' copies. */
    size_t arena = n_users * USER_ROOM + n * (USER_ROOM + UE_ROOM + CONTACT_ROOM + CALL_ID_ROOM) +
                   w->n_find * (USER_ROOM + 2 * UE_ROOM) + w->n_user_sample * USER_ROOM;
    w->arena = xcalloc(arena, 1);
    const char **user = xcalloc(n_users, sizeof *user);
    uint32_t *user_len = xcalloc(n_users, sizeof *user_len);
    w->user_id = xcalloc(n, sizeof *w->user_id);
    w->user_id_len = xcalloc(n, sizeof *w->user_id_len);
    w->ue = xcalloc(n, sizeof *w->ue);
    w->ue_len = xcalloc(n, sizeof *w->ue_len);
    w->contact = xcalloc(n, sizeof *w->contact);
    w->contact_len = xcalloc(n, sizeof *w->contact_len);
    w->call_id = xcalloc(n, sizeof *w->call_id);
    w->call_id_len = xcalloc(n, sizeof *w->call_id_len);
    w->cseq = xcalloc(n, sizeof *w->cseq);
    w->priority = xcalloc(n, 1);
    w->version = xcalloc(n, 1);
    w->emergency = xcalloc(n, 1);
    w->due = xcalloc(n, 1);
    w->find_user = xcalloc(w->n_find, sizeof *w->find_user);
    w->find_user_len = xcalloc(w->n_find, sizeof *w->find_user_len);
    w->find_ue = xcalloc(w->n_find, sizeof *w->find_ue);
    w->find_ue_len = xcalloc(w->n_find, sizeof *w->find_ue_len);
    w->ue_probe = xcalloc(w->n_find, sizeof *w->ue_probe);
    w->ue_probe_len = xcalloc(w->n_find, sizeof *w->ue_probe_len);
    w->user_probe = xcalloc(w->n_user_sample, sizeof *w->user_probe);
    w->user_probe_len = xcalloc(w->n_user_sample, sizeof *w->user_probe_len);

    static const char *const nets[] = {"198.51.100", "203.0.113", "192.0.2"};
    static const char *const transports[] = {"udp", "tcp"};
    char *cur = w->arena;
    uint64_t bytes = 0;
    size_t key_bytes = 0;
    for (size_t k = 0; k < BENCH_N_SETTINGS; k++)
        key_bytes += strlen(bench_setting_keys[k]) + 1;
    for (size_t k = 0; k < BENCH_N_VERSIONS; k++)
        w->version_len[k] = strlen(bench_versions[k]);

    for (size_t u = 0; u < n_users; u++) {
        user[u] = put(&cur, USER_ROOM, &user_len[u], "sip:user%07zu@mcptt.example", u);
        bytes += user_len[u] + 1u;
    }

    /* Arrival order: a shuffle of the records (user u's UEs are 2u and
     * 2u + 1), so a user's second UE logs on at some later, random time. */
    uint32_t *scratch = xcalloc(n, sizeof *scratch);
    uint32_t *order = xcalloc(n, sizeof *order);
    uint32_t *pos = xcalloc(n, sizeof *pos); /* record id -> arrival position */
    sample(&s, scratch, n, order, n);
    for (size_t k = 0; k < n; k++) {
        size_t id = order[k], u = id / 2;
        pos[id] = (uint32_t)k;
        w->user_id[k] = copy(&cur, user[u], user_len[u]);
        w->user_id_len[k] = user_len[u];
        uint64_t a = test_splitmix64(&s), b = test_splitmix64(&s);
        /* RFC 9562 version 4: version nibble 4, variant bits 10. */
        w->ue[k] = put(&cur, UE_ROOM, &w->ue_len[k],
                       "urn:uuid:%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%04" PRIx32
                       "-%012" PRIx64,
                       (uint32_t)(a >> 32), (uint32_t)(a >> 16) & 0xffffu, (uint32_t)a & 0xfffu,
                       0x8000u | ((uint32_t)(b >> 48) & 0x3fffu), b & UINT64_C(0xffffffffffff));
        uint64_t r = test_splitmix64(&s);
        unsigned port = id % 2 == 0 ? 5060u : 20000u + (unsigned)((r >> 16) % 40000u);
        w->contact[k] = put(&cur, CONTACT_ROOM, &w->contact_len[k],
                            "sip:user%07zu@%s.%u:%u;transport=%s", u, nets[r % 3],
                            1u + (unsigned)((r >> 8) % 254u), port, transports[(r >> 60) & 1u]);
        uint64_t c = test_splitmix64(&s);
        w->call_id[k] = put(&cur, CALL_ID_ROOM, &w->call_id_len[k],
                            "%014" PRIx64 "@pc%u.mcptt.example", c & UINT64_C(0xffffffffffffff),
                            1u + (unsigned)((c >> 56) % 99u));
        uint64_t v = test_splitmix64(&s);
        w->cseq[k] = 1u + (uint32_t)(v % 1000u);
        w->priority[k] = (uint8_t)((v >> 16) % 16u);
        w->version[k] = (uint8_t)((v >> 24) % BENCH_N_VERSIONS);
        w->emergency[k] = (uint8_t)((v >> 32) & 1u);
        bytes += w->ue_len[k] + 1u + w->contact_len[k] + 1u + w->call_id_len[k] + 1u +
                 key_bytes + w->version_len[w->version[k]] + 1u;
    }
    w->string_bytes = bytes;

    /* The probe streams: copies of the sampled ids, in probe order. */
    size_t n_pick = w->n_find > w->n_user_sample ? w->n_find : w->n_user_sample;
    size_t n_due_all = w->n_due * n_rounds;
    uint32_t *pick = xcalloc(n_pick > n_due_all ? n_pick : n_due_all, sizeof *pick);
    sample(&s, scratch, n, pick, w->n_find);
    for (size_t k = 0; k < w->n_find; k++) {
        size_t i = pick[k];
        w->find_user[k] = copy(&cur, w->user_id[i], w->user_id_len[i]);
        w->find_user_len[k] = w->user_id_len[i];
        w->find_ue[k] = copy(&cur, w->ue[i], w->ue_len[i]);
        w->find_ue_len[k] = w->ue_len[i];
    }
    sample(&s, scratch, n, pick, w->n_find);
    for (size_t k = 0; k < w->n_find; k++) {
        size_t i = pick[k];
        w->ue_probe[k] = copy(&cur, w->ue[i], w->ue_len[i]);
        w->ue_probe_len[k] = w->ue_len[i];
    }
    sample(&s, scratch, n_users, pick, w->n_user_sample);
    for (size_t k = 0; k < w->n_user_sample; k++) {
        size_t u = pick[k];
        w->user_probe[k] = copy(&cur, user[u], user_len[u]);
        w->user_probe_len[k] = user_len[u];
    }

    /* Exactly 1% due (at least one) in each round, chosen by the PRNG. */
    sample(&s, scratch, n, pick, n_due_all);
    for (size_t i = 0; i < n_due_all; i++)
        w->due[pos[pick[i]]] = (uint8_t)(1 + i / w->n_due);
    free(pick);
    free(pos);
    free(order);
    free(scratch);
    free(user);
    free(user_len);
    return 0;
}

void bench_workload_free(bench_workload *w)
{
    free(w->arena);
    free(w->user_id);
    free(w->user_id_len);
    free(w->ue);
    free(w->ue_len);
    free(w->contact);
    free(w->contact_len);
    free(w->call_id);
    free(w->call_id_len);
    free(w->cseq);
    free(w->priority);
    free(w->version);
    free(w->emergency);
    free(w->due);
    free(w->find_user);
    free(w->find_user_len);
    free(w->find_ue);
    free(w->find_ue_len);
    free(w->ue_probe);
    free(w->ue_probe_len);
    free(w->user_probe);
    free(w->user_probe_len);
    memset(w, 0, sizeof *w);
}

void bench_workload_settings(const bench_workload *w, size_t i,
                             mcreg_setting out[BENCH_N_SETTINGS])
{
    const char *v = bench_versions[w->version[i]];
    /* The length is the workload's, so that building the settings costs
     * the timed loops nothing. */
    out[0] = (mcreg_setting){.key = bench_setting_keys[0], .type = MCREG_VAL_INT,
                             .v.i = w->priority[i]};
    out[1] = (mcreg_setting){.key = bench_setting_keys[1], .type = MCREG_VAL_TEXT,
                             .v.text = {v, w->version_len[w->version[i]]}};
    out[2] = (mcreg_setting){.key = bench_setting_keys[2], .type = MCREG_VAL_BOOL,
                             .v.b = w->emergency[i]};
}
