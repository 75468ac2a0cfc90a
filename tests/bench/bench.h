/*
 * bench.h - the mcreg-bench harness: workload, counting allocator, and the
 * vtable every backend (libmcreg, the uthash floor, SQLite, Redis) fills in.
 *
 * The driver (bench_main.c) forks one child per (backend, U), times each
 * operation around one vtable call, and checks the count the call returns,
 * so a backend only has to do the work and say how much it did.
 */
#ifndef MCREG_BENCH_H
#define MCREG_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "mcreg.h"

/* Repetitions: the median needs at least 5; more than this many would
 * only make the result struct (sent through a pipe) larger. */
#define BENCH_MIN_REPS 5
#define BENCH_MAX_REPS 64

/* Statements per transaction (SQLite) and commands per pipeline (Redis). */
#define BENCH_BATCH 1000

/* Sample sizes: enough lookups to time well without making a 10^6 run
 * spend its time on lookups. */
#define BENCH_MAX_SAMPLE 200000

/* Settings per record: one int, one text, one bool; the text is one of
 * BENCH_N_VERSIONS client versions. */
#define BENCH_N_SETTINGS 3
#define BENCH_N_VERSIONS 4

/* The fake clock, in ms: the bench passes now_ms to every call, as a host
 * would. Within a pass, record i arrives at the pass's now_ms + i (one
 * REGISTER per millisecond), so expiries are spread as on a real server
 * rather than all equal. */
#define BENCH_T0_MS UINT64_C(1700000000000)
#define BENCH_REGISTER_EXPIRES_S 3600u
#define BENCH_REFRESH_NOW_MS (BENCH_T0_MS + 60000u) /* plus the record count */
#define BENCH_REFRESH_EXPIRES_S 7200u
/* The expire store is built once and serves every repetition: a disjoint
 * 1% of the records is due in each round r (0, 1, ...), at
 * BENCH_EXPIRE_AT_MS + r days plus the record count (the last arrival's
 * expiry); the rest expire months later. Each timed expire call then
 * removes exactly 1%, of records untouched since the build, and no
 * repetition pays for a rebuild (most of an hour at 10^6 for SQLite and
 * Redis). */
#define BENCH_DUE_EXPIRES_S 30u
#define BENCH_ROUND_GAP_S 86400u
#define BENCH_LATE_EXPIRES_S (100u * 86400u)
#define BENCH_EXPIRE_AT_MS (BENCH_T0_MS + 1000u * BENCH_DUE_EXPIRES_S)

/* ------------------------------------------------------------------------ */
/* Workload: built once per U in the parent, before any timing, and shared
 * by every backend's child (fork copies it), so all backends see the same
 * bytes in the same order.
 *
 * Records are stored in arrival order (the order of the register, refresh
 * and deregister passes), and each timed stream (records, lookups, users)
 * has its strings laid out one after the other in the order it uses them,
 * user id included: a host handles each request right after parsing it,
 * with its ids hot in cache. The time measured is then the store's, not
 * the harness's cache misses (some hundreds of ns each on a busy machine). */

typedef struct bench_workload {
    uint64_t seed;
    size_t n_users, n_records;
    /* Per record, in arrival order. */
    const char **user_id;     /* sip:user0000123@mcptt.example (this record's copy) */
    uint32_t *user_id_len;
    const char **ue;          /* urn:uuid:... */
    uint32_t *ue_len;
    const char **contact;     /* sip:user0000123@198.51.100.17:5060;transport=udp */
    uint32_t *contact_len;
    const char **call_id;     /* a84b4c76e66710@pc33.mcptt.example */
    uint32_t *call_id_len;
    uint32_t *cseq;           /* CSeq of the first REGISTER */
    uint8_t *priority;        /* the int setting */
    uint8_t *version;         /* the text setting: an index into bench_versions */
    uint8_t *emergency;       /* the bool setting */
    uint8_t *due;             /* 0, or r + 1: due in expire round r */
    size_t n_due;             /* per round: exactly n_records / 100 (at least 1) */
    size_t n_rounds;
    size_t version_len[BENCH_N_VERSIONS]; /* strlen of each bench_versions[] */
    /* find: min(n_records, BENCH_MAX_SAMPLE) distinct (user, UE) pairs of
     * stored records, shuffled. */
    size_t n_find;
    const char **find_user;
    uint32_t *find_user_len;
    const char **find_ue;
    uint32_t *find_ue_len;
    /* find_ue: as many distinct UE ids, another shuffle. */
    const char **ue_probe;
    uint32_t *ue_probe_len;
    /* user_foreach: min(n_users, BENCH_MAX_SAMPLE) distinct users, shuffled;
     * each has 2 records. */
    size_t n_user_sample;
    const char **user_probe;
    uint32_t *user_probe_len;
    /* Bytes of the distinct strings a store must hold, each strlen + 1:
     * user ids once per user; per record its UE id, contact, Call-ID, the
     * three setting keys and the text value. */
    uint64_t string_bytes;
    char *arena;              /* every string above */
} bench_workload;

/* Setting keys and the text values (shared by all records). */
extern const char *const bench_setting_keys[BENCH_N_SETTINGS];
extern const char *const bench_versions[BENCH_N_VERSIONS];

/* n_rounds: the expire rounds (repetitions), at most BENCH_MAX_REPS. */
int bench_workload_init(bench_workload *w, size_t n_users, size_t n_rounds, uint64_t seed);
void bench_workload_free(bench_workload *w);
/* Record i's settings as the API takes them ("priority" int,
 * "client-version" text, "emergency-capable" bool). */
void bench_workload_settings(const bench_workload *w, size_t i,
                             mcreg_setting out[BENCH_N_SETTINGS]);

/* One pass over every record, in arrival order: the REGISTER each gets. */
typedef struct bench_pass {
    int refresh;            /* 0: every record is new; 1: every one exists */
    uint64_t now_ms;
    uint32_t cseq_add;      /* added to the workload's CSeq */
    uint32_t expires_s;     /* every record's expiry ... */
    uint32_t due_expires_s; /* ... except the due ones' when non-zero */
} bench_pass;

/* When record i of the pass arrives. */
static inline uint64_t bench_pass_now(const bench_pass *p, size_t i)
{
    return p->now_ms + i;
}

static inline uint32_t bench_pass_expires_s(const bench_pass *p, const bench_workload *w,
                                            size_t i)
{
    if (!p->due_expires_s || !w->due[i])
        return p->expires_s;
    return p->due_expires_s + (uint32_t)(w->due[i] - 1) * BENCH_ROUND_GAP_S;
}

/* When expire round r runs: every record of round r is due, none later. */
static inline uint64_t bench_expire_round_ms(const bench_workload *w, size_t r)
{
    return BENCH_EXPIRE_AT_MS + 1000u * (uint64_t)BENCH_ROUND_GAP_S * r + w->n_records;
}

/* expires_at as libmcreg computes it, for the backends that store it. */
static inline uint64_t bench_expires_at(uint64_t now_ms, uint32_t expires_s)
{
    return now_ms + 1000u * (uint64_t)expires_s;
}

/* ------------------------------------------------------------------------ */
/* Counting allocator. Counts requested bytes (not malloc's rounding), so
 * libmcreg and the floor are compared on what their code asks for; each
 * block carries a hidden header holding its size, because free() is not
 * told the size. */

typedef struct bench_heap {
    uint64_t live_bytes, peak_bytes;
    uint64_t live_allocs;
    uint64_t n_allocs; /* malloc and growing realloc calls, ever */
} bench_heap;

void *bench_heap_malloc(size_t size, void *heap);
void *bench_heap_realloc(void *ptr, size_t size, void *heap);
void bench_heap_free(void *ptr, void *heap);

/* ------------------------------------------------------------------------ */
/* Errors: a backend fills one in and returns -1. */

typedef struct bench_err {
    char msg[240];
} bench_err;

#if defined(__GNUC__) || defined(__clang__)
#define BENCH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BENCH_PRINTF(a, b)
#endif

/* Writes the message and returns -1. */
int bench_fail(bench_err *e, const char *fmt, ...) BENCH_PRINTF(2, 3);

uint64_t bench_now_ns(void);

/* ------------------------------------------------------------------------ */
/* Backends. Every hook runs in the backend's own child process. Counting
 * hooks return how many operations succeeded (records put, keys found,
 * records visited, removed or expired), or -1 with `e` filled in; the
 * driver compares the count with what the workload expects. */

typedef struct bench_backend {
    const char *name;
    /* Runs in the parent: 0 when the backend can run here, else 1 and a
     * note saying why it is skipped. */
    int (*available)(char *note, size_t n);
    int (*open)(void **ctx, const bench_workload *w, bench_err *e);
    void (*close)(void *ctx);
    /* An empty store; untimed. */
    int (*clear)(void *ctx, bench_err *e);
    int64_t (*put)(void *ctx, const bench_workload *w, const bench_pass *p, bench_err *e);
    int64_t (*find)(void *ctx, const bench_workload *w, bench_err *e);
    int64_t (*find_ue)(void *ctx, const bench_workload *w, bench_err *e);
    /* Records visited over the user_probe stream. */
    int64_t (*user_foreach)(void *ctx, const bench_workload *w, bench_err *e);
    /* Every record, in arrival order. */
    int64_t (*deregister)(void *ctx, const bench_workload *w, bench_err *e);
    int64_t (*expire)(void *ctx, uint64_t now_ms, bench_err *e);
    /* The store's memory now, in bytes, or -1 when unknown; the driver
     * takes the difference over the register pass. */
    int64_t (*mem_bytes)(void *ctx);
    /* The counting allocator's figures, or NULL when the backend's memory
     * is not counted that way. */
    bench_heap *(*heap)(void *ctx);
    /* A version string for the report. */
    const char *(*version)(void *ctx);
    /* Snapshot and restore (libmcreg only; NULL elsewhere). snapshot
     * returns the size in bytes and keeps the buffer; restore_prepare
     * (untimed) makes a fresh store; restore returns the records restored;
     * restore_done (untimed) frees the copy and the buffer. */
    int64_t (*snapshot)(void *ctx, bench_err *e);
    int (*restore_prepare)(void *ctx, bench_err *e);
    int64_t (*restore)(void *ctx, uint64_t now_ms, bench_err *e);
    void (*restore_done)(void *ctx);
} bench_backend;

/* ------------------------------------------------------------------------ */
/* The latency section (bench_latency.c): per-call p50, p99, p99.9 and worst
 * of libmcreg's calls at each number of records, without and with
 * mcreg_options_set_capacity, side by side; results also as JSON when
 * json_path is not NULL. 0, or -1 when the harness failed. */

#define BENCH_LATENCY_MAX_SIZES 8
#define BENCH_LATENCY_REPS 3   /* runs per (records, capacity); odd: the median is one */
#define BENCH_LATENCY_SLICE 256 /* mcreg_expire_max's max, as the example registrar's */

int bench_latency_run(const size_t *records, size_t n, size_t slice, uint64_t seed,
                      unsigned timeout_s, const char *json_path);

extern const bench_backend bench_backend_mcreg;
extern const bench_backend bench_backend_floor;
extern const bench_backend bench_backend_sqlite;
extern const bench_backend bench_backend_redis;

#endif
