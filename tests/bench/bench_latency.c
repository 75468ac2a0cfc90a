/*
 * The latency section of mcreg-bench: the time of every single call, not
 * the mean of a pass. For each number of records N, the same workload runs
 * twice, side by side in one run: in a registry without a capacity and in
 * one with mcreg_options_set_capacity(N). Each run is a forked child of its
 * own (a clean heap, its own page faults) that times each call with
 * clock_gettime into an array, sorts it and reports p50, p99, p99.9 and the
 * worst call; each run is repeated BENCH_LATENCY_REPS times and each
 * figure is the median of the repetitions.
 *
 * Per run, in order: register N records into the empty registry; refresh
 * each; find (up to BENCH_MAX_SAMPLE pairs); deregister each, which empties
 * the registry; register them all again (the registry refilled: a
 * capacity's tables were kept); then expire them all in slices of
 * mcreg_expire_max, timing each slice; then fill once more (untimed) and
 * time one mcreg_expire of everything, the call a slice replaces.
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

enum {
    LAT_REGISTER,
    LAT_REFRESH,
    LAT_FIND,
    LAT_DEREGISTER,
    LAT_REFILL,
    LAT_EXPIRE_SLICE,
    LAT_EXPIRE_ALL,
    LAT_N_OPS
};

static const char *const lat_name[LAT_N_OPS] = {
    "register", "refresh", "find", "deregister", "register, refilled", "expire_max slice",
    "expire, one call"};

/* The JSON's names. */
static const char *const lat_key[LAT_N_OPS] = {
    "register", "refresh", "find", "deregister", "register_refilled", "expire_max_slice",
    "expire_all"};

typedef struct lat_stats {
    uint64_t n, p50, p99, p999, max; /* ns */
} lat_stats;

typedef struct lat_result {
    int ok;
    char note[200];
    lat_stats op[LAT_N_OPS];
    uint64_t mem_created; /* bytes held by the empty registry after mcreg_registry_new */
    uint64_t mem_full;    /* bytes held with the N records (first register pass) */
    double elapsed_s;
} lat_result;

/* One child's work. */
typedef struct lat_run {
    const bench_workload *w;
    size_t capacity, slice;
    bench_heap heap;
    mcreg_registry *reg;
    uint32_t *ns; /* one sample per call */
    size_t n_ns;
    lat_result *res;
} lat_run;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The sample at quantile q of the sorted samples (nearest rank). */
static uint64_t quantile(const uint32_t *v, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    return v[(rank > n ? n : rank) - 1];
}

static void summarize(lat_run *L, int op)
{
    lat_stats *s = &L->res->op[op];
    qsort(L->ns, L->n_ns, sizeof L->ns[0], cmp_u32);
    s->n = L->n_ns;
    if (L->n_ns) {
        s->p50 = quantile(L->ns, L->n_ns, 0.50);
        s->p99 = quantile(L->ns, L->n_ns, 0.99);
        s->p999 = quantile(L->ns, L->n_ns, 0.999);
        s->max = L->ns[L->n_ns - 1];
    }
    L->n_ns = 0;
}

static void sample(lat_run *L, uint64_t t0, uint64_t t1)
{
    uint64_t d = t1 - t0;
    L->ns[L->n_ns++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static int fail(lat_run *L, const char *what, int rc)
{
    snprintf(L->res->note, sizeof L->res->note, "%s: %s", what, mcreg_strerror(rc));
    return -1;
}

/* Register every record of the workload at now_ms + i, each call timed
 * when `op` >= 0. */
static int put_all(lat_run *L, int op, uint64_t now_ms, uint32_t expires_s, uint32_t cseq_add,
                   mcreg_outcome want)
{
    const bench_workload *w = L->w;
    mcreg_setting settings[BENCH_N_SETTINGS];
    for (size_t i = 0; i < w->n_records; i++) {
        bench_workload_settings(w, i, settings);
        mcreg_binding b = {.user_id = w->user_id[i],
                           .ue_id = w->ue[i],
                           .contact = w->contact[i],
                           .call_id = w->call_id[i],
                           .cseq = w->cseq[i] + cseq_add,
                           .expires_s = expires_s,
                           .settings = settings,
                           .n_settings = BENCH_N_SETTINGS};
        mcreg_outcome out;
        uint64_t t0 = bench_now_ns();
        int rc = mcreg_register(L->reg, &b, now_ms + i, &out);
        uint64_t t1 = bench_now_ns();
        if (rc != MCREG_OK)
            return fail(L, "mcreg_register", rc);
        if (out != want)
            return fail(L, "mcreg_register: unexpected outcome", MCREG_OK);
        if (op >= 0)
            sample(L, t0, t1);
    }
    if (op >= 0)
        summarize(L, op);
    return 0;
}

static int find_all(lat_run *L)
{
    const bench_workload *w = L->w;
    for (size_t k = 0; k < w->n_find; k++) {
        uint64_t t0 = bench_now_ns();
        const mcreg_record *r = mcreg_find(L->reg, w->find_user[k], w->find_ue[k]);
        uint64_t t1 = bench_now_ns();
        if (!r)
            return fail(L, "mcreg_find: a stored pair not found", MCREG_ERR_NOT_FOUND);
        sample(L, t0, t1);
    }
    summarize(L, LAT_FIND);
    return 0;
}

static int deregister_all(lat_run *L, uint64_t now_ms)
{
    const bench_workload *w = L->w;
    for (size_t i = 0; i < w->n_records; i++) {
        uint64_t t0 = bench_now_ns();
        int rc = mcreg_deregister(L->reg, w->user_id[i], w->ue[i], now_ms);
        uint64_t t1 = bench_now_ns();
        if (rc != MCREG_OK)
            return fail(L, "mcreg_deregister", rc);
        sample(L, t0, t1);
    }
    summarize(L, LAT_DEREGISTER);
    return mcreg_record_count(L->reg) ? fail(L, "records left", MCREG_OK) : 0;
}

/* Every record due at now_ms, removed L->slice at a time. */
static int expire_in_slices(lat_run *L, uint64_t now_ms)
{
    size_t total = 0, n;
    do {
        uint64_t t0 = bench_now_ns();
        int rc = mcreg_expire_max(L->reg, now_ms, L->slice, &n);
        uint64_t t1 = bench_now_ns();
        if (rc != MCREG_OK)
            return fail(L, "mcreg_expire_max", rc);
        if (n)
            sample(L, t0, t1);
        total += n;
    } while (n);
    summarize(L, LAT_EXPIRE_SLICE);
    return total == L->w->n_records ? 0 : fail(L, "expire_max: wrong count", MCREG_OK);
}

static int expire_at_once(lat_run *L, uint64_t now_ms)
{
    size_t n = 0;
    uint64_t t0 = bench_now_ns();
    int rc = mcreg_expire(L->reg, now_ms, &n);
    uint64_t t1 = bench_now_ns();
    if (rc != MCREG_OK)
        return fail(L, "mcreg_expire", rc);
    sample(L, t0, t1);
    summarize(L, LAT_EXPIRE_ALL);
    return n == L->w->n_records ? 0 : fail(L, "expire: wrong count", MCREG_OK);
}

static int lat_steps(lat_run *L)
{
    const uint64_t t0 = BENCH_T0_MS, n = L->w->n_records;
    const uint64_t t_refresh = t0 + 60000 + n, t_dereg = t_refresh + 60000 + n;
    const uint64_t t_refill = t_dereg + 1000, t_expire = t_refill + 1000u * 7200 + n;
    mcreg_options *o = NULL;
    mcreg_allocator a = {bench_heap_malloc, bench_heap_realloc, bench_heap_free, &L->heap};
    int rc = mcreg_options_new(&o);
    if (rc != MCREG_OK)
        return fail(L, "mcreg_options_new", rc);
    mcreg_options_set_allocator(o, &a);
    mcreg_options_set_hash_seed(o, UINT64_C(0x5eed0fbe4c4a11ce));
    mcreg_options_set_capacity(o, L->capacity);
    rc = mcreg_registry_new(&L->reg, o);
    mcreg_options_free(o);
    if (rc != MCREG_OK)
        return fail(L, "mcreg_registry_new", rc);
    L->res->mem_created = L->heap.live_bytes;
    if (put_all(L, LAT_REGISTER, t0, BENCH_REGISTER_EXPIRES_S, 0, MCREG_CREATED) < 0)
        return -1;
    L->res->mem_full = L->heap.live_bytes;
    if (put_all(L, LAT_REFRESH, t_refresh, BENCH_REFRESH_EXPIRES_S, 1, MCREG_REFRESHED) < 0 ||
        find_all(L) < 0 || deregister_all(L, t_dereg) < 0 ||
        put_all(L, LAT_REFILL, t_refill, 7200, 2, MCREG_CREATED) < 0 ||
        expire_in_slices(L, t_expire) < 0 ||
        put_all(L, -1, t_refill, 7200, 3, MCREG_CREATED) < 0 || expire_at_once(L, t_expire) < 0)
        return -1;
    return 0;
}

static void lat_child(const bench_workload *w, size_t capacity, size_t slice, lat_result *res)
{
#ifdef M_TRIM_THRESHOLD
    /* glibc's free gives memory back by shrinking the heap, and at 10^6
     * records one free then takes tens of milliseconds in the kernel,
     * whatever the library does. A host that cares for latency turns that
     * off, as here (both columns alike): the figures are libmcreg's. */
    mallopt(M_TRIM_THRESHOLD, INT32_MAX);
#endif
    lat_run L;
    memset(&L, 0, sizeof L);
    L.w = w;
    L.capacity = capacity;
    L.slice = slice;
    L.res = res;
    size_t most = w->n_records > w->n_find ? w->n_records : w->n_find;
    L.ns = malloc((most ? most : 1) * sizeof *L.ns);
    uint64_t t = bench_now_ns();
    if (!L.ns)
        snprintf(res->note, sizeof res->note, "out of memory for the samples");
    else if (lat_steps(&L) == 0)
        res->ok = 1;
    res->elapsed_s = (double)(bench_now_ns() - t) / 1e9;
    mcreg_registry_free(L.reg);
    free(L.ns);
}

/* One run in a child; its result lands in shared memory. */
static void lat_fork(const bench_workload *w, size_t capacity, size_t slice, unsigned timeout_s,
                     lat_result *out)
{
    lat_result *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(out, 0, sizeof *out);
    if (shared == MAP_FAILED) {
        snprintf(out->note, sizeof out->note, "mmap: %s", strerror(errno));
        return;
    }
    memset(shared, 0, sizeof *shared);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (timeout_s)
            alarm(timeout_s);
        lat_child(w, capacity, slice, shared);
        _exit(0);
    }
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    *out = *shared;
    if (pid < 0)
        snprintf(out->note, sizeof out->note, "fork: %s", strerror(errno));
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        out->ok = 0;
        snprintf(out->note, sizeof out->note, "the child died (status %d)", st);
    }
    munmap(shared, sizeof *shared);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t median3(uint64_t *v)
{
    qsort(v, BENCH_LATENCY_REPS, sizeof v[0], cmp_u64);
    return v[BENCH_LATENCY_REPS / 2];
}

/* Each figure, the median of the repetitions: a stall the code makes
 * comes back every run, the machine's noise (a preemption on a shared
 * host) mostly does not. */
static void lat_median(const lat_result *rep, lat_result *out)
{
    *out = rep[0];
    for (int i = 0; i < BENCH_LATENCY_REPS; i++) {
        if (!rep[i].ok) {
            *out = rep[i];
            return;
        }
    }
    for (int op = 0; op < LAT_N_OPS; op++) {
        uint64_t v[BENCH_LATENCY_REPS];
#define LAT_MEDIAN(field)                                   \
    do {                                                    \
        for (int i = 0; i < BENCH_LATENCY_REPS; i++)        \
            v[i] = rep[i].op[op].field;                     \
        out->op[op].field = median3(v);                     \
    } while (0)
        LAT_MEDIAN(p50);
        LAT_MEDIAN(p99);
        LAT_MEDIAN(p999);
        LAT_MEDIAN(max);
#undef LAT_MEDIAN
    }
}

/* ---- report ---------------------------------------------------------------- */

static const char *fmt_us(uint64_t ns, char *buf, size_t n)
{
    if (ns >= 10000000)
        snprintf(buf, n, "%.0f ms", (double)ns / 1e6);
    else if (ns >= 1000000)
        snprintf(buf, n, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, n, "%.1f", (double)ns / 1e3);
    return buf;
}

static void print_stats(const lat_stats *s)
{
    char a[24], b[24], c[24], d[24];
    printf(" | %7s %7s %7s %8s", fmt_us(s->p50, a, sizeof a), fmt_us(s->p99, b, sizeof b),
           fmt_us(s->p999, c, sizeof c), fmt_us(s->max, d, sizeof d));
}

static void print_size(size_t records, size_t slice, const lat_result r[2])
{
    printf("\nLatency per call at %zu records, in us (p50 p99 p99.9 worst, each the median of "
           "%d runs); expire_max slices of %zu\n",
           records, BENCH_LATENCY_REPS, slice);
    printf("%-20s | %-33s | %-33s\n", "operation", "no capacity", "capacity = records");
    for (int op = 0; op < LAT_N_OPS; op++) {
        printf("%-20s", lat_name[op]);
        for (int k = 0; k < 2; k++)
            print_stats(&r[k].op[op]);
        printf("\n");
    }
    for (int k = 0; k < 2; k++)
        if (!r[k].ok)
            printf("  %s: FAILED: %s\n", k ? "capacity" : "no capacity", r[k].note);
    double created = (double)r[1].mem_created / (double)records;
    double full_diff = ((double)r[1].mem_full - (double)r[0].mem_full) / (double)records;
    printf("memory: the capacity holds %.1f bytes per record from creation on; full, the "
           "registry takes %+.1f bytes per record against none\n",
           created, full_diff);
}

static void json_stats(FILE *f, const lat_stats *s)
{
    fprintf(f,
            "{\"calls\": %" PRIu64 ", \"p50_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
            ", \"p999_ns\": %" PRIu64 ", \"max_ns\": %" PRIu64 "}",
            s->n, s->p50, s->p99, s->p999, s->max);
}

static void json_size(FILE *f, size_t records, const lat_result r[2], int last)
{
    fprintf(f, "    {\"records\": %zu, \"runs\": [\n", records);
    for (int k = 0; k < 2; k++) {
        fprintf(f,
                "      {\"capacity\": %zu, \"ok\": %s, \"elapsed_s\": %.2f, "
                "\"bytes_after_create\": %" PRIu64 ", \"bytes_full\": %" PRIu64 ",\n",
                k ? records : 0, r[k].ok ? "true" : "false", r[k].elapsed_s, r[k].mem_created,
                r[k].mem_full);
        for (int op = 0; op < LAT_N_OPS; op++) {
            fprintf(f, "       \"%s\": ", lat_key[op]);
            json_stats(f, &r[k].op[op]);
            fprintf(f, "%s\n", op + 1 < LAT_N_OPS ? "," : "");
        }
        fprintf(f, "      }%s\n", k ? "" : ",");
    }
    fprintf(f, "    ]}%s\n", last ? "" : ",");
}

/* The targets, informational: with a capacity the worst register at the
 * largest N at least 20 times below the worst without; and no call whose
 * cost grows with N as the registry's size does: at 10x the records, the
 * p99.9 of each kind at most 5x (cache misses, not work). The worst call
 * is no measure of that on a shared machine: a preemption costs
 * milliseconds, in a find as in anything else. */
static int print_targets(const size_t *records, size_t n, const lat_result (*r)[2])
{
    size_t big = 0;
    for (size_t k = 1; k < n; k++)
        if (records[k] > records[big])
            big = k;
    double without = (double)r[big][0].op[LAT_REGISTER].max;
    double with = (double)r[big][1].op[LAT_REGISTER].max;
    double ratio = with > 0 ? without / with : 0;
    printf("\nLatency targets (informational):\n");
    printf("  [%s] worst register at %zu records, no capacity / capacity >= 20: %.1f\n",
           ratio >= 20 ? "ok" : "MISSED", records[big], ratio);
    for (size_t k = 0; k < n; k++) {
        if (k == big || records[k] * 10 != records[big])
            continue;
        static const int bounded[] = {LAT_REGISTER, LAT_REFRESH,     LAT_FIND,
                                      LAT_DEREGISTER, LAT_REFILL, LAT_EXPIRE_SLICE};
        for (size_t j = 0; j < sizeof bounded / sizeof bounded[0]; j++) {
            int op = bounded[j];
            double small = (double)r[k][1].op[op].p999, large = (double)r[big][1].op[op].p999;
            double g = small > 0 ? large / small : 0;
            printf("  [%s] capacity, p99.9 %s at %zu records / at %zu <= 5: %.1f\n",
                   g <= 5 ? "ok" : "MISSED", lat_name[op], records[big], records[k], g);
        }
    }
    return ratio >= 20;
}

int bench_latency_run(const size_t *records, size_t n, size_t slice, uint64_t seed,
                      unsigned timeout_s, const char *json_path)
{
    static lat_result r[BENCH_LATENCY_MAX_SIZES][2];
    int harness_ok = 1;
    for (size_t k = 0; k < n; k++) {
        bench_workload w;
        size_t users = records[k] / 2 ? records[k] / 2 : 1;
        if (bench_workload_init(&w, users, 1, seed) < 0) {
            fprintf(stderr, "mcreg-bench: cannot build a workload of %zu users\n", users);
            return -1;
        }
        for (int c = 0; c < 2; c++) {
            lat_result rep[BENCH_LATENCY_REPS];
            for (int i = 0; i < BENCH_LATENCY_REPS; i++)
                lat_fork(&w, c ? w.n_records : 0, slice, timeout_s, &rep[i]);
            lat_median(rep, &r[k][c]);
        }
        harness_ok &= r[k][0].ok && r[k][1].ok;
        print_size(w.n_records, slice, r[k]);
        bench_workload_free(&w);
    }
    print_targets(records, n, (const lat_result(*)[2])r);
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            fprintf(stderr, "mcreg-bench: %s: %s\n", json_path, strerror(errno));
            return -1;
        }
        fprintf(f, "{\n  \"libmcreg\": \"%s\",\n  \"expire_slice\": %zu,\n  \"sizes\": [\n",
                mcreg_version(), slice);
        for (size_t k = 0; k < n; k++)
            json_size(f, records[k] / 2 * 2, r[k], k + 1 == n);
        fprintf(f, "  ]\n}\n");
        if (fclose(f) != 0)
            return -1;
        printf("latency results: %s\n", json_path);
    }
    return harness_ok ? 0 : -1;
}
