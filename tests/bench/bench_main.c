/*
 * mcreg-bench: libmcreg against a bare uthash table (the floor), SQLite in
 * memory and Redis, on the same workload, for several numbers of users U.
 *
 * For each U the parent builds the workload once, then runs each backend in
 * a forked child of its own, one after the other (so the ratios of one U
 * come from the same minutes of a noisy machine). A child's peak RSS is
 * then its own, and a crash costs one backend, not the run. The child
 * sends its figures back through a pipe as one struct (same binary on both
 * ends). The parent prints a table per U, the targets (informational), and
 * writes everything as JSON.
 *
 * Exit status: 0 when every backend that ran did so without an error or a
 * count mismatch (a skipped backend is fine), 1 otherwise, 2 for a usage
 * error. Speed never changes it.
 */
/* wait4 (a child's own rusage) is a BSD/GNU interface, not POSIX. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "bench.h"

/* ---- operations ------------------------------------------------------------ */

enum {
    OP_REGISTER,
    OP_REFRESH,
    OP_FIND,
    OP_FIND_UE,
    OP_USER_FOREACH,
    OP_DEREGISTER,
    OP_EXPIRE,
    OP_SNAPSHOT,
    OP_RESTORE,
    N_OPS
};

/* The operations every backend runs: the ones the "every operation"
 * targets compare. */
#define N_COMMON_OPS (OP_EXPIRE + 1)

static const char *const op_name[N_OPS] = {"register", "refresh", "find", "find_ue",
                                           "user_foreach", "deregister", "expire", "snapshot",
                                           "restore"};
/* What one "op" of each operation is. */
static const char *const op_unit[N_OPS] = {"record", "record", "lookup", "lookup", "user",
                                           "record", "expired record", "record", "record"};

/* ---- backends --------------------------------------------------------------- */

enum { B_MCREG, B_FLOOR, B_SQLITE, B_REDIS, N_BACKENDS };

static const bench_backend *const backends[N_BACKENDS] = {
    &bench_backend_mcreg, &bench_backend_floor, &bench_backend_sqlite, &bench_backend_redis};

/* ---- results (sent from the child to the parent as they are) ------------------ */

enum { RES_NOT_RUN = 0, RES_OK, RES_SKIPPED, RES_FAILED };

typedef struct op_result {
    uint64_t n;    /* ops per repetition */
    uint32_t reps; /* repetitions done */
    double ns[BENCH_MAX_REPS]; /* ns per op, each repetition */
} op_result;

typedef struct result {
    int status;
    char note[320];
    char version[64];
    op_result op[N_OPS];
    /* Memory over the first register pass. */
    int have_mem;
    int64_t mem_empty; /* the empty store */
    int64_t mem_delta; /* added by the records */
    int have_heap;
    uint64_t heap_allocs;      /* allocations during the pass */
    uint64_t heap_live_allocs; /* blocks live after it, less the empty store's */
    uint64_t heap_peak;        /* peak live bytes during it, less the empty store's */
    uint64_t snapshot_bytes;
    long start_rss_kb;       /* the child's RSS when it started: the workload */
    long self_maxrss_kb;     /* the child's own peak (RUSAGE_SELF) */
    long children_maxrss_kb; /* processes it ran: redis-server */
    long wait_maxrss_kb;     /* wait4's figure: the larger of the two */
    double elapsed_s;
} result;

/* ---- configuration ------------------------------------------------------------ */

#define MAX_US 16

typedef struct config {
    size_t users[MAX_US];
    size_t n_users;
    size_t max_users; /* 0: no cap */
    int reps;
    int reps_asked;
    const char *json;
    int run_backend[N_BACKENDS];
    uint64_t seed;
    unsigned timeout_s;
    size_t latency[BENCH_LATENCY_MAX_SIZES]; /* records, for the latency section */
    size_t n_latency;
    int latency_only;
    const char *latency_json;
} config;

/* One U's run. */
typedef struct run {
    size_t users, records;
    uint64_t string_bytes;
    size_t n_find, n_user_sample, n_due;
    long baseline_rss_kb;
    double workload_s, elapsed_s;
    result res[N_BACKENDS];
} run;

/* ---- small helpers ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the repetitions; NAN when the op did not run. */
static double median_ns(const op_result *o)
{
    if (o->reps == 0)
        return NAN;
    double v[BENCH_MAX_REPS];
    memcpy(v, o->ns, o->reps * sizeof v[0]);
    qsort(v, o->reps, sizeof v[0], cmp_double);
    return o->reps % 2 ? v[o->reps / 2] : (v[o->reps / 2 - 1] + v[o->reps / 2]) / 2;
}

static double op_median(const run *r, int b, int op)
{
    if (r->res[b].status != RES_OK)
        return NAN;
    return median_ns(&r->res[b].op[op]);
}

static void usleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long current_rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static const char *u_label(size_t u, char *buf, size_t n)
{
    size_t p = 1;
    int e = 0;
    while (p < u && e < 19) {
        p *= 10;
        e++;
    }
    if (p == u && e >= 2)
        snprintf(buf, n, "10^%d", e);
    else
        snprintf(buf, n, "%zu", u);
    return buf;
}

static const char *fmt_ns(double ns, char *buf, size_t n)
{
    if (isnan(ns))
        snprintf(buf, n, "-");
    else if (ns < 10)
        snprintf(buf, n, "%.2f", ns);
    else if (ns < 1000)
        snprintf(buf, n, "%.1f", ns);
    else
        snprintf(buf, n, "%.0f", ns);
    return buf;
}

static const char *fmt_rate(double ns, char *buf, size_t n)
{
    double r = 1e9 / ns;
    if (isnan(ns) || ns <= 0)
        snprintf(buf, n, "-");
    else if (r >= 1e6)
        snprintf(buf, n, "%.2fM", r / 1e6);
    else if (r >= 1e3)
        snprintf(buf, n, "%.1fk", r / 1e3);
    else
        snprintf(buf, n, "%.0f", r);
    return buf;
}

static const char *fmt_ratio(double x, char *buf, size_t n)
{
    if (isnan(x))
        snprintf(buf, n, "-");
    else if (x < 10)
        snprintf(buf, n, "%.2f", x);
    else
        snprintf(buf, n, "%.1f", x);
    return buf;
}

/* ---- the child ---------------------------------------------------------------- */

/* Records one timed call: `got` is what the backend reports, `want` what
 * the workload expects (-1: any count), `per` the number of ops the time
 * is divided by. */
static int record_op(result *r, int op, int rep, int64_t got, int64_t want, uint64_t per,
                     uint64_t ns, const bench_err *e)
{
    if (got < 0) {
        snprintf(r->note, sizeof r->note, "%s: %s", op_name[op], e->msg);
        return -1;
    }
    if (want >= 0 && got != want) {
        snprintf(r->note, sizeof r->note, "%s: count %" PRId64 ", expected %" PRId64,
                 op_name[op], got, want);
        return -1;
    }
    op_result *o = &r->op[op];
    o->n = per;
    o->ns[rep] = (double)ns / (double)(per ? per : 1);
    o->reps = (uint32_t)rep + 1;
    return 0;
}

#define TIMED(op, call, want, per)                                                     \
    do {                                                                               \
        uint64_t t0_ = bench_now_ns();                                                 \
        int64_t got_ = (call);                                                         \
        uint64_t t1_ = bench_now_ns();                                                 \
        if (record_op(r, (op), rep, got_, (want), (per), t1_ - t0_, &e) < 0)           \
            goto out;                                                                  \
        last = got_;                                                                   \
    } while (0)

static void child_run(const bench_backend *b, const bench_workload *w, int reps, result *r)
{
    const int64_t n = (int64_t)w->n_records;
    const bench_pass reg = {.refresh = 0,
                            .now_ms = BENCH_T0_MS,
                            .cseq_add = 0,
                            .expires_s = BENCH_REGISTER_EXPIRES_S};
    const bench_pass ref = {.refresh = 1,
                            .now_ms = BENCH_REFRESH_NOW_MS + w->n_records,
                            .cseq_add = 1,
                            .expires_s = BENCH_REFRESH_EXPIRES_S};
    const bench_pass exp = {.refresh = 0,
                            .now_ms = BENCH_T0_MS,
                            .cseq_add = 0,
                            .expires_s = BENCH_LATE_EXPIRES_S,
                            .due_expires_s = BENCH_DUE_EXPIRES_S};
    bench_err e = {{0}};
    void *ctx = NULL;
    int rep = 0;
    int64_t last = 0; /* what the last TIMED call returned */

    r->status = RES_FAILED;
    if (b->open(&ctx, w, &e) < 0) {
        snprintf(r->note, sizeof r->note, "open: %s", e.msg);
        ctx = NULL;
        goto out;
    }
    snprintf(r->version, sizeof r->version, "%s", b->version(ctx));
    for (rep = 0; rep < reps; rep++) {
        if (b->clear(ctx, &e) < 0) {
            snprintf(r->note, sizeof r->note, "clear: %s", e.msg);
            goto out;
        }
        bench_heap *heap = b->heap ? b->heap(ctx) : NULL;
        if (heap)
            heap->peak_bytes = heap->live_bytes; /* the peak of this pass only */
        bench_heap before = heap ? *heap : (bench_heap){0, 0, 0, 0};
        int64_t mem0 = b->mem_bytes(ctx);

        TIMED(OP_REGISTER, b->put(ctx, w, &reg, &e), n, (uint64_t)n);
        if (rep == 0) {
            int64_t mem1 = b->mem_bytes(ctx);
            if (mem0 >= 0 && mem1 >= 0) {
                r->have_mem = 1;
                r->mem_empty = mem0;
                r->mem_delta = mem1 - mem0;
            }
            if (heap) {
                r->have_heap = 1;
                r->heap_allocs = heap->n_allocs - before.n_allocs;
                r->heap_live_allocs = heap->live_allocs - before.live_allocs;
                r->heap_peak = heap->peak_bytes - before.live_bytes;
            }
        }
        TIMED(OP_REFRESH, b->put(ctx, w, &ref, &e), n, (uint64_t)n);
        TIMED(OP_FIND, b->find(ctx, w, &e), (int64_t)w->n_find, w->n_find);
        TIMED(OP_FIND_UE, b->find_ue(ctx, w, &e), (int64_t)w->n_find, w->n_find);
        TIMED(OP_USER_FOREACH, b->user_foreach(ctx, w, &e), 2 * (int64_t)w->n_user_sample,
              w->n_user_sample);
        if (b->snapshot) {
            TIMED(OP_SNAPSHOT, b->snapshot(ctx, &e), -1, (uint64_t)n);
            r->snapshot_bytes = (uint64_t)last;
            if (b->restore_prepare(ctx, &e) < 0) {
                snprintf(r->note, sizeof r->note, "restore: %s", e.msg);
                goto out;
            }
            TIMED(OP_RESTORE, b->restore(ctx, BENCH_REFRESH_NOW_MS, &e), n, (uint64_t)n);
            b->restore_done(ctx);
        }
        TIMED(OP_DEREGISTER, b->deregister(ctx, w, &e), n, (uint64_t)n);
    }

    /* The expire store, built once (untimed); repetition r expires round
     * r, exactly 1% of the records (see BENCH_ROUND_GAP_S). */
    if (b->clear(ctx, &e) < 0) {
        snprintf(r->note, sizeof r->note, "clear: %s", e.msg);
        goto out;
    }
    int64_t put = b->put(ctx, w, &exp, &e);
    if (put != n) {
        snprintf(r->note, sizeof r->note, "expire store: %s", put < 0 ? e.msg : "wrong count");
        goto out;
    }
    for (rep = 0; rep < reps; rep++)
        TIMED(OP_EXPIRE, b->expire(ctx, bench_expire_round_ms(w, (size_t)rep), &e),
              (int64_t)w->n_due, w->n_due);
    r->status = RES_OK;
out:
    if (ctx)
        b->close(ctx);
}

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        p += k;
        n -= (size_t)k;
    }
}

static void child_main(const bench_backend *b, const bench_workload *w, const config *cfg,
                       int fd)
{
    static result r; /* static: large, and the child's stack need not hold it */
    memset(&r, 0, sizeof r);
    if (cfg->timeout_s)
        alarm(cfg->timeout_s);
    r.start_rss_kb = current_rss_kb();
    child_run(b, w, cfg->reps, &r);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        r.self_maxrss_kb = ru.ru_maxrss;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        r.children_maxrss_kb = ru.ru_maxrss;
    write_all(fd, &r, sizeof r);
    close(fd);
    _exit(0);
}

/* ---- the parent: one backend at one U ----------------------------------------- */

/* The parent is a subreaper (Linux): a program a child started (a
 * redis-server) whose child died is handed to the parent instead of init,
 * and is reaped here once its parent-death signal has ended it. */
static void reap_orphans(void)
{
    for (int t = 0; t < 500; t++) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p < 0 && errno == EINTR)
            continue;
        if (p < 0)
            return; /* ECHILD: none left */
        if (p == 0)
            usleep_ms(10); /* one still dying */
    }
    fprintf(stderr, "mcreg-bench: a program started by a backend is still running\n");
}

static void run_backend(int bi, const bench_workload *w, const config *cfg, result *r)
{
    const bench_backend *b = backends[bi];
    memset(r, 0, sizeof *r);
    if (b->available && b->available(r->note, sizeof r->note) != 0) {
        r->status = RES_SKIPPED;
        return;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        r->status = RES_FAILED;
        snprintf(r->note, sizeof r->note, "pipe: %s", strerror(errno));
        return;
    }
    /* Programs a child starts (redis-server) must not hold the pipe open. */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fflush(stdout);
    fflush(stderr);
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        r->status = RES_FAILED;
        snprintf(r->note, sizeof r->note, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
#ifdef __linux__
        /* A bench killed by a signal takes its children along. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1);
#endif
        child_main(b, w, cfg, fds[1]);
    }
    close(fds[1]);
    /* Read until EOF before waiting, so a child never blocks on a full pipe. */
    static result got;
    size_t have = 0;
    for (;;) {
        ssize_t k = read(fds[0], (char *)&got + have, sizeof got - have);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        have += (size_t)k;
        if (have == sizeof got)
            break;
    }
    close(fds[0]);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
    }
    reap_orphans();
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    if (have == sizeof got) {
        *r = got;
    } else {
        r->status = RES_FAILED;
        snprintf(r->note, sizeof r->note, "the child died before reporting");
    }
    r->wait_maxrss_kb = ru.ru_maxrss;
    r->elapsed_s = elapsed; /* fork to reap: right even when the child died */
    if (WIFSIGNALED(st)) {
        r->status = RES_FAILED;
        int sig = WTERMSIG(st);
        snprintf(r->note, sizeof r->note, "killed by signal %d%s", sig,
                 sig == SIGALRM ? " (BENCH_TIMEOUT reached)" : "");
    } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && r->status == RES_OK) {
        r->status = RES_FAILED;
        snprintf(r->note, sizeof r->note, "exit status %d", WEXITSTATUS(st));
    }
}

/* ---- memory figures ------------------------------------------------------------- */

typedef struct mem_figures {
    int have;
    double per_record;         /* bytes added per record */
    int have_beyond;           /* counting allocator: strings are known */
    double beyond;             /* less strings and setting descriptors */
    double beyond_strings;     /* less strings only */
    double allocs_per_record;  /* live blocks per record */
} mem_figures;

static mem_figures mem_of(const run *u, int b)
{
    mem_figures m;
    memset(&m, 0, sizeof m);
    const result *r = &u->res[b];
    if (r->status != RES_OK || !r->have_mem)
        return m;
    double n = (double)u->records;
    m.have = 1;
    m.per_record = (double)r->mem_delta / n;
    if (r->have_heap) {
        double strings = (double)u->string_bytes;
        double desc = n * BENCH_N_SETTINGS * (double)sizeof(mcreg_setting);
        m.have_beyond = 1;
        m.beyond_strings = ((double)r->mem_delta - strings) / n;
        m.beyond = ((double)r->mem_delta - strings - desc) / n;
        m.allocs_per_record = (double)r->heap_live_allocs / n;
    }
    return m;
}

/* ---- targets ------------------------------------------------------------------- */

typedef struct target {
    char name[72];
    char detail[160];
    int applicable;
    int ok;
    double value, limit;
} target;

#define MAX_TARGETS 12

static void target_set(target *t, const char *name, double value, double limit, int ok,
                       const char *detail)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->detail, sizeof t->detail, "%s", detail ? detail : "");
    t->value = value;
    t->limit = limit;
    t->applicable = !isnan(value);
    t->ok = t->applicable && ok;
}

/* floor ns/op ÷ libmcreg ns/op: libmcreg's rate as a fraction of the floor's. */
static double floor_rate(const run *u, int op)
{
    return op_median(u, B_FLOOR, op) / op_median(u, B_MCREG, op);
}

/* alternative ns/op ÷ libmcreg ns/op: > 1 when libmcreg is faster. */
static double ratio_to_mcreg(const run *u, int b, int op)
{
    return op_median(u, b, op) / op_median(u, B_MCREG, op);
}

static void every_op_target(target *t, const run *u, int b, double limit, const char *name)
{
    double min = NAN;
    char detail[160] = "";
    size_t len = 0;
    for (int op = 0; op < N_COMMON_OPS; op++) {
        double x = ratio_to_mcreg(u, b, op);
        if (isnan(x))
            continue;
        if (isnan(min) || x < min)
            min = x;
        if (x < limit && len < sizeof detail)
            len += (size_t)snprintf(detail + len, sizeof detail - len, "%s%s %.2fx",
                                    len ? ", " : "below: ", op_name[op], x);
    }
    target_set(t, name, min, limit, !isnan(min) && min >= limit, detail);
}

static size_t targets_of(const run *u, target *t)
{
    size_t k = 0;
    double x;
    x = floor_rate(u, OP_FIND);
    target_set(&t[k++], "find >= 0.8x floor lookup rate", x, 0.8, x >= 0.8, NULL);
    x = floor_rate(u, OP_FIND_UE);
    target_set(&t[k++], "find_ue >= 0.8x floor lookup rate", x, 0.8, x >= 0.8, NULL);
    x = floor_rate(u, OP_REGISTER);
    target_set(&t[k++], "register >= 0.5x floor insert rate", x, 0.5, x >= 0.5, NULL);
    every_op_target(&t[k++], u, B_SQLITE, 3.0, "every op >= 3x SQLite (lowest ratio)");
    every_op_target(&t[k++], u, B_REDIS, 10.0, "every op >= 10x Redis (lowest ratio)");
    x = op_median(u, B_MCREG, OP_SNAPSHOT) / op_median(u, B_MCREG, OP_REGISTER);
    target_set(&t[k++], "snapshot faster than register (time ratio)", x, 1.0, x < 1.0, NULL);
    x = op_median(u, B_MCREG, OP_RESTORE) / op_median(u, B_MCREG, OP_REGISTER);
    target_set(&t[k++], "restore <= 1.5x register time", x, 1.5, x <= 1.5, NULL);
    mem_figures m = mem_of(u, B_MCREG);
    x = m.have_beyond ? m.beyond : NAN;
    target_set(&t[k++], "<= 160 B/record beyond strings and settings", x, 160, x <= 160, NULL);
    return k;
}

static void print_targets(const target *t, size_t n)
{
    printf("targets (informational; they never change the exit status):\n");
    for (size_t k = 0; k < n; k++) {
        char v[32];
        if (t[k].applicable)
            snprintf(v, sizeof v, "%.2f", t[k].value);
        else
            snprintf(v, sizeof v, "-");
        printf("  %-46s %9s  %-7s %s\n", t[k].name, v,
               !t[k].applicable ? "n/a" : t[k].ok ? "ok" : "MISSED", t[k].detail);
    }
}

/* ---- the table ------------------------------------------------------------------ */

static const char *status_word(const result *r)
{
    switch (r->status) {
    case RES_OK:
        return "ok";
    case RES_SKIPPED:
        return "skipped";
    case RES_FAILED:
        return "FAILED";
    default:
        return "not run";
    }
}

static void print_table(const run *u, const config *cfg)
{
    char lab[32], a[32], b[32];
    printf("\n== U = %s: %zu users, %zu records; median of %d repetitions ==\n",
           u_label(u->users, lab, sizeof lab), u->users, u->records, cfg->reps);
    printf("%-20s %-21s", "", "libmcreg");
    for (int bi = B_FLOOR; bi < N_BACKENDS; bi++) {
        char head[40];
        const result *r = &u->res[bi];
        snprintf(head, sizeof head, "%s%s%s", backends[bi]->name, r->status == RES_OK ? "" : " ",
                 r->status == RES_OK ? "" : status_word(r));
        printf(" | %-19s", head);
    }
    printf("\n%-20s %10s %10s", "operation", "ns/op", "ops/s");
    printf(" | %10s %8s", "ns/op", "rate");
    printf(" | %10s %8s", "ns/op", "ratio");
    printf(" | %10s %8s\n", "ns/op", "ratio");
    for (int op = 0; op < N_OPS; op++) {
        char label[40];
        snprintf(label, sizeof label, "%s%s", op_name[op],
                 op == OP_EXPIRE ? " /rec" : op == OP_SNAPSHOT || op == OP_RESTORE ? " /rec" : "");
        double m = op_median(u, B_MCREG, op);
        printf("%-20s %10s %10s", label, fmt_ns(m, a, sizeof a), fmt_rate(m, b, sizeof b));
        for (int bi = B_FLOOR; bi < N_BACKENDS; bi++) {
            double x = op_median(u, bi, op);
            printf(" | %10s %8s", fmt_ns(x, a, sizeof a), fmt_ratio(x / m, b, sizeof b));
        }
        printf("\n");
    }
    printf("rate  = floor ns/op / libmcreg ns/op: libmcreg's rate as a fraction of the floor's\n"
           "ratio = alternative ns/op / libmcreg ns/op: > 1 means libmcreg is faster\n"
           "user_foreach: ns per user visited (2 records each); expire: ns per expired record "
           "(%zu of %zu)\n",
           u->n_due, u->records);

    /* Memory. */
    printf("\nmemory added by the register pass (first repetition)\n");
    printf("%-44s", "");
    for (int bi = 0; bi < N_BACKENDS; bi++)
        printf(" %10s", backends[bi]->name);
    printf("\n");
    mem_figures m[N_BACKENDS];
    for (int bi = 0; bi < N_BACKENDS; bi++)
        m[bi] = mem_of(u, bi);
#define MEM_ROW(label, cond, expr)                                         \
    do {                                                                   \
        printf("%-44s", label);                                            \
        for (int bi = 0; bi < N_BACKENDS; bi++) {                          \
            if (cond)                                                      \
                printf(" %10.1f", (double)(expr));                         \
            else                                                           \
                printf(" %10s", "-");                                      \
        }                                                                  \
        printf("\n");                                                      \
    } while (0)
    MEM_ROW("bytes per record", m[bi].have, m[bi].per_record);
    MEM_ROW("  beyond strings and settings", m[bi].have_beyond, m[bi].beyond);
    MEM_ROW("  beyond strings (setting descriptors kept)", m[bi].have_beyond,
            m[bi].beyond_strings);
    MEM_ROW("live allocations per record", m[bi].have_beyond, m[bi].allocs_per_record);
    MEM_ROW("peak RSS of the child, MiB", u->res[bi].status == RES_OK,
            u->res[bi].self_maxrss_kb / 1024.0);
    MEM_ROW("  less its RSS at start (the workload), MiB",
            u->res[bi].status == RES_OK && u->res[bi].start_rss_kb > 0,
            (u->res[bi].self_maxrss_kb - u->res[bi].start_rss_kb) / 1024.0);
    MEM_ROW("redis-server peak RSS, MiB",
            u->res[bi].status == RES_OK && u->res[bi].children_maxrss_kb > 0,
            u->res[bi].children_maxrss_kb / 1024.0);
#undef MEM_ROW
    printf("strings: %.1f B/record (user id once per user; UE id, contact, Call-ID, 3 setting "
           "keys, the text value; strlen + 1 each); setting descriptors: %d x %zu B/record\n"
           "libmcreg, floor: requested bytes through the counting allocator; sqlite: "
           "sqlite3_memory_used(); redis: INFO used_memory\n",
           (double)u->string_bytes / (double)u->records, BENCH_N_SETTINGS,
           sizeof(mcreg_setting));

    const result *mr = &u->res[B_MCREG];
    double snap = op_median(u, B_MCREG, OP_SNAPSHOT), rest = op_median(u, B_MCREG, OP_RESTORE),
           regt = op_median(u, B_MCREG, OP_REGISTER);
    if (!isnan(snap) && !isnan(rest) && mr->snapshot_bytes) {
        double total_snap_s = snap * (double)u->records / 1e9;
        double total_rest_s = rest * (double)u->records / 1e9;
        printf("\nsnapshot: %" PRIu64 " bytes (%.1f B/record); snapshot %.1f MB/s, %s records/s; "
               "restore %.1f MB/s, %s records/s\n"
               "snapshot/register time %.2f, restore/register time %.2f\n",
               mr->snapshot_bytes, (double)mr->snapshot_bytes / (double)u->records,
               (double)mr->snapshot_bytes / total_snap_s / 1e6, fmt_rate(snap, a, sizeof a),
               (double)mr->snapshot_bytes / total_rest_s / 1e6, fmt_rate(rest, b, sizeof b),
               snap / regt, rest / regt);
    }
    for (int bi = 0; bi < N_BACKENDS; bi++) {
        const result *r = &u->res[bi];
        if (r->status != RES_OK)
            printf("%s: %s%s%s\n", backends[bi]->name, status_word(r), r->note[0] ? ": " : "",
                   r->note);
    }
}

/* ---- JSON --------------------------------------------------------------------- */

static void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double x)
{
    if (isnan(x) || isinf(x))
        fputs("null", f);
    else
        fprintf(f, "%.6g", x);
}

static void json_result(FILE *f, const run *u, int bi)
{
    const result *r = &u->res[bi];
    static const char *const st[] = {"not run", "ok", "skipped", "failed"};
    fprintf(f, "{\"status\": ");
    json_str(f, st[r->status]);
    fprintf(f, ", \"note\": ");
    json_str(f, r->note[0] ? r->note : NULL);
    fprintf(f, ", \"version\": ");
    json_str(f, r->version[0] ? r->version : NULL);
    fprintf(f, ", \"elapsed_s\": ");
    json_num(f, r->status == RES_SKIPPED ? NAN : r->elapsed_s);
    fprintf(f, ",\n          \"ops\": {");
    int first = 1;
    for (int op = 0; op < N_OPS; op++) {
        const op_result *o = &r->op[op];
        if (o->reps == 0)
            continue;
        double m = median_ns(o);
        fprintf(f, "%s\n            \"%s\": {\"unit\": \"%s\", \"n\": %" PRIu64
                   ", \"median_ns_per_op\": ",
                first ? "" : ",", op_name[op], op_unit[op], o->n);
        json_num(f, m);
        fprintf(f, ", \"ops_per_s\": ");
        json_num(f, 1e9 / m);
        fprintf(f, ", \"reps_ns_per_op\": [");
        for (uint32_t k = 0; k < o->reps; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_num(f, o->ns[k]);
        }
        fprintf(f, "]}");
        first = 0;
    }
    fprintf(f, "%s},\n          \"memory\": ", first ? "" : "\n          ");
    mem_figures m = mem_of(u, bi);
    if (!m.have) {
        fprintf(f, "null");
    } else {
        fprintf(f, "{\"source\": ");
        json_str(f, bi == B_SQLITE  ? "sqlite3_memory_used()"
                    : bi == B_REDIS ? "INFO memory used_memory"
                                    : "counting allocator, requested bytes");
        fprintf(f, ", \"empty_store_bytes\": %" PRId64 ", \"register_added_bytes\": %" PRId64
                   ", \"bytes_per_record\": ",
                r->mem_empty, r->mem_delta);
        json_num(f, m.per_record);
        if (m.have_beyond) {
            fprintf(f, ", \"beyond_strings_and_settings_per_record\": ");
            json_num(f, m.beyond);
            fprintf(f, ", \"beyond_strings_per_record\": ");
            json_num(f, m.beyond_strings);
            fprintf(f, ", \"live_allocs_per_record\": ");
            json_num(f, m.allocs_per_record);
            fprintf(f, ", \"register_allocs\": %" PRIu64 ", \"register_peak_bytes\": %" PRIu64,
                    r->heap_allocs, r->heap_peak);
        }
        fprintf(f, "}");
    }
    fprintf(f, ",\n          \"rss_kb\": {\"child_peak\": %ld, \"wait4_peak\": %ld, "
               "\"started_programs_peak\": %ld, \"child_at_start\": %ld}",
            r->self_maxrss_kb, r->wait_maxrss_kb, r->children_maxrss_kb, r->start_rss_kb);
    if (bi == B_MCREG && r->snapshot_bytes) {
        double snap = op_median(u, bi, OP_SNAPSHOT), rest = op_median(u, bi, OP_RESTORE),
               regt = op_median(u, bi, OP_REGISTER), n = (double)u->records;
        fprintf(f, ",\n          \"snapshot\": {\"bytes\": %" PRIu64 ", \"snapshot_mb_per_s\": ",
                r->snapshot_bytes);
        json_num(f, (double)r->snapshot_bytes / (snap * n / 1e9) / 1e6);
        fprintf(f, ", \"restore_mb_per_s\": ");
        json_num(f, (double)r->snapshot_bytes / (rest * n / 1e9) / 1e6);
        fprintf(f, ", \"snapshot_records_per_s\": ");
        json_num(f, 1e9 / snap);
        fprintf(f, ", \"restore_records_per_s\": ");
        json_num(f, 1e9 / rest);
        fprintf(f, ", \"register_ns_per_record\": ");
        json_num(f, regt);
        fprintf(f, ", \"snapshot_over_register\": ");
        json_num(f, snap / regt);
        fprintf(f, ", \"restore_over_register\": ");
        json_num(f, rest / regt);
        fprintf(f, "}");
    }
    fprintf(f, "}");
}

static void json_targets(FILE *f, const target *t, size_t n, const char *indent)
{
    fprintf(f, "[");
    for (size_t k = 0; k < n; k++) {
        fprintf(f, "%s\n%s{\"name\": ", k ? "," : "", indent);
        json_str(f, t[k].name);
        fprintf(f, ", \"value\": ");
        json_num(f, t[k].applicable ? t[k].value : NAN);
        fprintf(f, ", \"limit\": ");
        json_num(f, t[k].limit);
        fprintf(f, ", \"met\": %s, \"detail\": ",
                !t[k].applicable ? "null" : t[k].ok ? "true" : "false");
        json_str(f, t[k].detail[0] ? t[k].detail : NULL);
        fprintf(f, "}");
    }
    fprintf(f, "]");
}

static char *cpu_model(char *buf, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    buf[0] = '\0';
    if (!f)
        return NULL;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    fclose(f);
    return buf[0] ? buf : NULL;
}

static int write_json(const config *cfg, const run *runs, size_t n_runs, const target *cross,
                      size_t n_cross, const char *started, int harness_ok, double total_s,
                      int complete)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", cfg->json) >= sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "mcreg-bench: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    struct utsname un;
    int have_un = uname(&un) == 0;
    char cpu[256];
    fprintf(f, "{\n  \"tool\": \"mcreg-bench\",\n  \"format\": 1,\n  \"started_at\": ");
    json_str(f, started);
    fprintf(f, ",\n  \"total_s\": ");
    json_num(f, total_s);
    fprintf(f, ",\n  \"complete\": %s,\n  \"harness_ok\": %s,\n  \"git_commit\": ",
            complete ? "true" : "false", harness_ok ? "true" : "false");
    const char *commit = getenv("BENCH_GIT_COMMIT");
    json_str(f, commit && *commit ? commit : NULL);
    fprintf(f, ",\n  \"machine\": {\"sysname\": ");
    json_str(f, have_un ? un.sysname : NULL);
    fprintf(f, ", \"nodename\": ");
    json_str(f, have_un ? un.nodename : NULL);
    fprintf(f, ", \"release\": ");
    json_str(f, have_un ? un.release : NULL);
    fprintf(f, ", \"version\": ");
    json_str(f, have_un ? un.version : NULL);
    fprintf(f, ", \"machine\": ");
    json_str(f, have_un ? un.machine : NULL);
    fprintf(f, ", \"nproc\": %ld, \"cpu\": ", sysconf(_SC_NPROCESSORS_ONLN));
    json_str(f, cpu_model(cpu, sizeof cpu));
    fprintf(f, "},\n  \"config\": {\"users\": [");
    for (size_t k = 0; k < cfg->n_users; k++)
        fprintf(f, "%s%zu", k ? ", " : "", cfg->users[k]);
    fprintf(f, "], \"max_users\": ");
    if (cfg->max_users)
        fprintf(f, "%zu", cfg->max_users);
    else
        fprintf(f, "null");
    fprintf(f, ", \"reps\": %d, \"reps_asked\": %d, \"batch\": %d, \"max_sample\": %d, "
               "\"seed\": %" PRIu64 ", \"settings_per_record\": %d, "
               "\"setting_descriptor_bytes\": %zu, \"cc\": ",
            cfg->reps, cfg->reps_asked, BENCH_BATCH, BENCH_MAX_SAMPLE, cfg->seed,
            BENCH_N_SETTINGS, sizeof(mcreg_setting));
#if defined(__clang__)
    json_str(f, "clang " __clang_version__);
#elif defined(__GNUC__)
    json_str(f, "gcc " __VERSION__);
#else
    json_str(f, NULL);
#endif
    fprintf(f, "},\n  \"definitions\": {\"ratio\": \"alternative ns/op / libmcreg ns/op (> 1: "
               "libmcreg faster)\", \"floor_rate\": \"floor ns/op / libmcreg ns/op (libmcreg's "
               "rate as a fraction of the floor's)\", \"beyond_strings_and_settings\": \"(bytes "
               "added by the register pass - distinct string bytes (strlen + 1: user id once per "
               "user; UE id, contact, Call-ID, setting keys, text values per record) - "
               "records * settings * sizeof(mcreg_setting)) / records\", "
               "\"beyond_strings\": \"the same without subtracting the setting descriptors\"},\n"
               "  \"runs\": [");
    for (size_t k = 0; k < n_runs; k++) {
        const run *u = &runs[k];
        fprintf(f, "%s\n    {\"users\": %zu, \"records\": %zu, \"elapsed_s\": ", k ? "," : "",
                u->users, u->records);
        json_num(f, u->elapsed_s);
        fprintf(f, ",\n      \"workload\": {\"build_s\": ");
        json_num(f, u->workload_s);
        fprintf(f, ", \"string_bytes\": %" PRIu64 ", \"string_bytes_per_record\": ",
                u->string_bytes);
        json_num(f, (double)u->string_bytes / (double)u->records);
        fprintf(f, ", \"find_sample\": %zu, \"user_sample\": %zu, \"expire_due\": %zu, "
                   "\"baseline_rss_kb\": %ld},\n      \"backends\": {",
                u->n_find, u->n_user_sample, u->n_due, u->baseline_rss_kb);
        for (int bi = 0; bi < N_BACKENDS; bi++) {
            fprintf(f, "%s\n        \"%s\": ", bi ? "," : "", backends[bi]->name);
            json_result(f, u, bi);
        }
        fprintf(f, "},\n      \"vs_libmcreg\": {");
        for (int bi = B_FLOOR; bi < N_BACKENDS; bi++) {
            fprintf(f, "%s\n        \"%s\": {", bi > B_FLOOR ? "," : "", backends[bi]->name);
            for (int op = 0; op < N_COMMON_OPS; op++) {
                fprintf(f, "%s\"%s\": ", op ? ", " : "", op_name[op]);
                json_num(f, ratio_to_mcreg(u, bi, op));
            }
            fprintf(f, "}");
        }
        fprintf(f, "},\n      \"targets\": ");
        target t[MAX_TARGETS];
        size_t nt = targets_of(u, t);
        json_targets(f, t, nt, "        ");
        fprintf(f, "}");
    }
    fprintf(f, "\n  ],\n  \"targets_across_users\": ");
    json_targets(f, cross, n_cross, "    ");
    fprintf(f, "\n}\n");
    if (fclose(f) != 0 || rename(tmp, cfg->json) != 0) {
        fprintf(stderr, "mcreg-bench: cannot write %s: %s\n", cfg->json, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- options --------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mcreg-bench [--users N[,N...]] [--max-users N] [--reps N] [--json FILE]\n"
            "                   [--backends NAME[,NAME...]] [--seed N] [--timeout S]\n"
            "                   [--latency N[,N...]] [--latency-only 1] [--latency-json FILE]\n"
            "  --users      numbers of users U (default 10000,100000,1000000; env BENCH_USERS)\n"
            "  --max-users  drop every U above N (env BENCH_MAX_USERS)\n"
            "  --reps       repetitions per operation, at least %d (default %d; env BENCH_REPS)\n"
            "  --json       where to write the results (default bench.json; env BENCH_JSON)\n"
            "  --backends   a subset of libmcreg,floor,sqlite,redis (env BENCH_BACKENDS)\n"
            "  --seed       workload seed (env BENCH_SEED)\n"
            "  --timeout    seconds one backend may take at one U, 0 = none (default 7200;\n"
            "               env BENCH_TIMEOUT)\n"
            "  --latency    numbers of records N[,N...] for the latency section (per-call\n"
            "               p50/p99/p99.9/worst, without and with a capacity; env\n"
            "               BENCH_LATENCY; none by default)\n"
            "  --latency-only 1  the latency section alone (env BENCH_LATENCY_ONLY)\n"
            "  --latency-json    where to write its results (default bench-latency.json;\n"
            "               env BENCH_LATENCY_JSON)\n"
            "environment: BENCH_GIT_COMMIT goes into the JSON; BENCH_REDIS_SERVER names the\n"
            "redis-server to run (else PATH, /usr/bin, /usr/sbin; none: Redis is skipped)\n",
            BENCH_MIN_REPS, BENCH_MIN_REPS);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || s[0] == '-' || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* A list "N,N,..." of at most `max` counts, each at most UINT32_MAX / 4. */
static int parse_counts(const char *s, size_t *out, size_t *n, size_t max)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return -1;
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (*n == max || parse_size(t, &out[*n]) < 0 || out[*n] > UINT32_MAX / 4)
            return -1;
        (*n)++;
    }
    return *n ? 0 : -1;
}

static int parse_users(const char *s, config *cfg)
{
    return parse_counts(s, cfg->users, &cfg->n_users, MAX_US);
}

static int parse_backends(const char *s, config *cfg)
{
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf)
        return -1;
    memset(cfg->run_backend, 0, sizeof cfg->run_backend);
    int any = 0;
    for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int found = 0;
        for (int bi = 0; bi < N_BACKENDS; bi++) {
            if (strcmp(t, backends[bi]->name) == 0) {
                cfg->run_backend[bi] = 1;
                found = any = 1;
            }
        }
        if (!found)
            return -1;
    }
    return any ? 0 : -1;
}

/* An option's value: the next argument, or the environment variable. */
static const char *opt_value(int argc, char **argv, const char *name, const char *env)
{
    const char *v = getenv(env);
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], name) == 0 && k + 1 < argc)
            v = argv[k + 1];
    }
    return v && *v ? v : NULL;
}

static int parse_config(int argc, char **argv, config *cfg)
{
    static const char *const known[] = {"--users",   "--max-users",    "--reps",
                                        "--json",    "--backends",     "--seed",
                                        "--timeout", "--latency",      "--latency-only",
                                        "--latency-json"};
    /* Options come in pairs: name, value. */
    for (int k = 1; k < argc; k += 2) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        int ok = 0;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            ok |= strcmp(argv[k], known[j]) == 0;
        if (!ok || k + 1 >= argc) {
            fprintf(stderr, "mcreg-bench: bad argument %s\n", argv[k]);
            return -1;
        }
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->users[0] = 10000;
    cfg->users[1] = 100000;
    cfg->users[2] = 1000000;
    cfg->n_users = 3;
    cfg->reps = BENCH_MIN_REPS;
    cfg->json = "bench.json";
    cfg->seed = UINT64_C(20240607);
    cfg->timeout_s = 7200;
    for (int bi = 0; bi < N_BACKENDS; bi++)
        cfg->run_backend[bi] = 1;
    const char *v;
    size_t x;
    if ((v = opt_value(argc, argv, "--users", "BENCH_USERS")) && parse_users(v, cfg) < 0) {
        fprintf(stderr, "mcreg-bench: bad user counts: %s\n", v);
        return -1;
    }
    if ((v = opt_value(argc, argv, "--max-users", "BENCH_MAX_USERS"))) {
        if (parse_size(v, &cfg->max_users) < 0 || cfg->max_users > UINT32_MAX / 4) {
            fprintf(stderr, "mcreg-bench: bad --max-users / BENCH_MAX_USERS: %s\n", v);
            return -1;
        }
    }
    if ((v = opt_value(argc, argv, "--reps", "BENCH_REPS"))) {
        if (parse_size(v, &x) < 0 || x > BENCH_MAX_REPS) {
            fprintf(stderr, "mcreg-bench: --reps / BENCH_REPS must be 1..%d: %s\n",
                    BENCH_MAX_REPS, v);
            return -1;
        }
        cfg->reps = (int)x;
    }
    cfg->reps_asked = cfg->reps;
    if (cfg->reps < BENCH_MIN_REPS) {
        fprintf(stderr, "mcreg-bench: %d repetitions asked; the median takes at least %d\n",
                cfg->reps, BENCH_MIN_REPS);
        cfg->reps = BENCH_MIN_REPS;
    }
    if ((v = opt_value(argc, argv, "--json", "BENCH_JSON")))
        cfg->json = v;
    if ((v = opt_value(argc, argv, "--backends", "BENCH_BACKENDS")) &&
        parse_backends(v, cfg) < 0) {
        fprintf(stderr, "mcreg-bench: bad backends: %s (libmcreg,floor,sqlite,redis)\n", v);
        return -1;
    }
    if ((v = opt_value(argc, argv, "--seed", "BENCH_SEED"))) {
        if (parse_size(v, &x) < 0) {
            fprintf(stderr, "mcreg-bench: bad seed: %s\n", v);
            return -1;
        }
        cfg->seed = x;
    }
    if ((v = opt_value(argc, argv, "--timeout", "BENCH_TIMEOUT"))) {
        if (strcmp(v, "0") == 0)
            cfg->timeout_s = 0;
        else if (parse_size(v, &x) < 0 || x > 1000000) {
            fprintf(stderr, "mcreg-bench: bad timeout: %s\n", v);
            return -1;
        } else
            cfg->timeout_s = (unsigned)x;
    }
    if ((v = opt_value(argc, argv, "--latency", "BENCH_LATENCY")) &&
        parse_counts(v, cfg->latency, &cfg->n_latency, BENCH_LATENCY_MAX_SIZES) < 0) {
        fprintf(stderr, "mcreg-bench: bad latency record counts: %s\n", v);
        return -1;
    }
    if ((v = opt_value(argc, argv, "--latency-only", "BENCH_LATENCY_ONLY")))
        cfg->latency_only = strcmp(v, "0") != 0;
    if (cfg->latency_only && !cfg->n_latency) {
        fprintf(stderr, "mcreg-bench: --latency-only needs --latency\n");
        return -1;
    }
    cfg->latency_json = "bench-latency.json";
    if ((v = opt_value(argc, argv, "--latency-json", "BENCH_LATENCY_JSON")))
        cfg->latency_json = v;
    /* The cap drops larger U; when it is below every U, it is the U. */
    if (cfg->max_users) {
        size_t kept = 0;
        for (size_t k = 0; k < cfg->n_users; k++)
            if (cfg->users[k] <= cfg->max_users)
                cfg->users[kept++] = cfg->users[k];
        if (kept == 0)
            cfg->users[kept++] = cfg->max_users;
        cfg->n_users = kept;
    }
    return 0;
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    config cfg;
    if (parse_config(argc, argv, &cfg) < 0) {
        usage(stderr);
        return 2;
    }
    static run runs[MAX_US];
    int harness_ok = 1;
    if (cfg.latency_only) {
        printf("mcreg-bench: libmcreg %s, latency section only\n", mcreg_version());
        int rc = bench_latency_run(cfg.latency, cfg.n_latency, BENCH_LATENCY_SLICE, cfg.seed,
                                   cfg.timeout_s, cfg.latency_json);
        printf("harness %s\n", rc == 0 ? "ok" : "FAILED");
        return rc == 0 ? 0 : 1;
    }
#ifdef __linux__
    prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
    uint64_t t_all = bench_now_ns();
    char started[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);

    char lab[32];
    printf("mcreg-bench: libmcreg %s, %d repetitions, users:", mcreg_version(), cfg.reps);
    for (size_t k = 0; k < cfg.n_users; k++)
        printf(" %s", u_label(cfg.users[k], lab, sizeof lab));
    printf("\n");

    for (size_t k = 0; k < cfg.n_users; k++) {
        run *u = &runs[k];
        uint64_t t0 = bench_now_ns();
        bench_workload w;
        if (bench_workload_init(&w, cfg.users[k], (size_t)cfg.reps, cfg.seed) < 0) {
            fprintf(stderr, "mcreg-bench: cannot build a workload of %zu users\n",
                    cfg.users[k]);
            return 1;
        }
        u->users = w.n_users;
        u->records = w.n_records;
        u->string_bytes = w.string_bytes;
        u->n_find = w.n_find;
        u->n_user_sample = w.n_user_sample;
        u->n_due = w.n_due;
        u->workload_s = (double)(bench_now_ns() - t0) / 1e9;
        u->baseline_rss_kb = current_rss_kb();
        printf("U = %s: workload built in %.2f s\n", u_label(u->users, lab, sizeof lab),
               u->workload_s);
        for (int bi = 0; bi < N_BACKENDS; bi++) {
            result *r = &u->res[bi];
            if (!cfg.run_backend[bi]) {
                memset(r, 0, sizeof *r);
                r->status = RES_SKIPPED;
                snprintf(r->note, sizeof r->note, "not selected");
                continue;
            }
            run_backend(bi, &w, &cfg, r);
            if (r->status == RES_FAILED)
                harness_ok = 0;
            printf("  %-9s %-7s", backends[bi]->name, status_word(r));
            if (r->status == RES_OK || r->status == RES_FAILED)
                printf(" %7.1f s", r->elapsed_s);
            if (r->note[0])
                printf("  %s", r->note);
            printf("\n");
            /* The results so far ("complete": false), so that a run cut
             * short keeps what it did. */
            u->elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
            write_json(&cfg, runs, k + 1, NULL, 0, started, harness_ok,
                       (double)(bench_now_ns() - t_all) / 1e9, 0);
        }
        bench_workload_free(&w);
        u->elapsed_s = (double)(bench_now_ns() - t0) / 1e9;
        print_table(u, &cfg);
        target t[MAX_TARGETS];
        size_t nt = targets_of(u, t);
        printf("\n");
        print_targets(t, nt);
        printf("U = %s took %.1f s\n", u_label(u->users, lab, sizeof lab), u->elapsed_s);
    }

    /* Across U: expire's cost per expired record should not grow with the
     * store (O(k log n) for k of n). */
    target cross[1];
    size_t n_cross = 0;
    const run *small = NULL, *large = NULL;
    for (size_t k = 0; k < cfg.n_users; k++) {
        if (runs[k].users == 10000)
            small = &runs[k];
        if (!large || runs[k].users > large->users)
            large = &runs[k];
    }
    if (small && large && large != small) {
        char detail[160], l1[32], l2[32];
        double a = op_median(small, B_MCREG, OP_EXPIRE), b = op_median(large, B_MCREG, OP_EXPIRE);
        snprintf(detail, sizeof detail, "U=%s %.1f ns, U=%s %.1f ns per expired record",
                 u_label(small->users, l1, sizeof l1), a, u_label(large->users, l2, sizeof l2),
                 b);
        target_set(&cross[n_cross++], "expire ns/record at the largest U <= 2x U=10^4", b / a,
                   2.0, b / a <= 2.0, detail);
        printf("\n");
        print_targets(cross, n_cross);
    }

    if (cfg.n_latency && bench_latency_run(cfg.latency, cfg.n_latency, BENCH_LATENCY_SLICE,
                                           cfg.seed, cfg.timeout_s, cfg.latency_json) != 0)
        harness_ok = 0;

    double total_s = (double)(bench_now_ns() - t_all) / 1e9;
    if (write_json(&cfg, runs, cfg.n_users, cross, n_cross, started, harness_ok, total_s, 1) < 0)
        harness_ok = 0;
    else
        printf("\nresults: %s\n", cfg.json);
    printf("total %.1f s; harness %s\n", total_s, harness_ok ? "ok" : "FAILED");
    return harness_ok ? 0 : 1;
}
