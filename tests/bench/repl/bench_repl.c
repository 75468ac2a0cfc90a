/*
 * bench_repl.c - replication's costs, side by side in one run (make bench,
 * make bench-quick; tests/bench/bench.mk).
 *
 *   mcreg-bench-repl [--records N,N,...] [--reps R]
 *
 * For each N (default 100000,1000000; one record per user, every id
 * distinct), each figure the median of R runs (default 3) on a fresh
 * registry:
 * - register: N creations without a node id, and with one (node id 1,
 *   max_expires 3600): time per record and the ratio (target <= 1.3x), and
 *   the bytes held per record;
 * - apply: the node's drained buffer of N puts applied to a fresh peer:
 *   changes per second against the register rate;
 * - tombstones: N records deregistered (UE exclusive off, so that no UE put
 *   is kept beside them): bytes held per tombstone;
 * - merge: the N-record snapshot of the node merged into a fresh peer by
 *   mcreg_changes_apply, against mcreg_restore of the same bytes: time and
 *   the allocator's peak during the call.
 * With --plain-only, or built against a library without replication
 * (MCREG_HAS_REPLICATION undefined), it measures the register row without
 * node id only: "nothing is paid without a node id", compared with the
 * same source built against the previous library.
 * Prints a table; exit status 0, or 1 when a call fails (never on speed).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcreg.h"

/* ---- a counting allocator: live bytes and their peak ---------------------- */

typedef struct counter {
    size_t live, peak;
} counter;

static void *c_malloc(size_t n, void *ctx)
{
    counter *c = ctx;
    size_t *p = malloc(n + sizeof(size_t) * 2);
    if (!p)
        return NULL;
    p[0] = n;
    c->live += n;
    if (c->live > c->peak)
        c->peak = c->live;
    return p + 2;
}

static void c_free(void *q, void *ctx)
{
    if (!q)
        return;
    counter *c = ctx;
    size_t *p = (size_t *)q - 2;
    c->live -= p[0];
    free(p);
}

static void *c_realloc(void *q, size_t n, void *ctx)
{
    counter *c = ctx;
    if (!q)
        return c_malloc(n, ctx);
    size_t *p = (size_t *)q - 2, old = p[0];
    size_t *np = realloc(p, n + sizeof(size_t) * 2);
    if (!np)
        return NULL;
    np[0] = n;
    c->live = c->live - old + n;
    if (c->live > c->peak)
        c->peak = c->live;
    return np + 2;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "mcreg-bench-repl: %s: %s\n", what, mcreg_strerror(rc));
    exit(1);
}

static mcreg_registry *open_reg(counter *c, uint64_t node_id, int ue_exclusive)
{
    mcreg_options *o;
    mcreg_registry *r;
    mcreg_allocator a = {c_malloc, c_realloc, c_free, c};
    if (mcreg_options_new(&o) != MCREG_OK)
        die("options", MCREG_ERR_NOMEM);
    mcreg_options_set_allocator(o, &a);
    mcreg_options_set_hash_seed(o, 42);
    mcreg_options_set_ue_exclusive(o, ue_exclusive);
#ifdef MCREG_HAS_REPLICATION
    if (node_id) {
        mcreg_options_set_node_id(o, node_id);
        mcreg_options_set_max_expires(o, 3600);
    }
#else
    (void)node_id;
#endif
    int rc = mcreg_registry_new(&r, o);
    mcreg_options_free(o);
    if (rc != MCREG_OK)
        die("registry", rc);
    return r;
}

/* Ids as a registrar sees them: a common prefix, then a number. */
static char **make_ids(size_t n, const char *fmt)
{
    char **ids = malloc(n * sizeof(*ids));
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), fmt, i);
        ids[i] = strdup(buf);
    }
    return ids;
}

typedef struct ids {
    char **users, **ues;
} ids;

#define T0 UINT64_C(1000000)

/* N creations; returns the seconds they took. */
static double fill(mcreg_registry *r, const ids *id, size_t n)
{
    double t = now_s();
    for (size_t i = 0; i < n; i++) {
        mcreg_binding b = {.user_id = id->users[i], .ue_id = id->ues[i],
                           .contact = "sip:ue@192.0.2.1:5060", .call_id = NULL,
                           .expires_s = 3600};
        int rc = mcreg_register(r, &b, T0 + i / 1000, NULL);
        if (rc != MCREG_OK)
            die("register", rc);
    }
    return now_s() - t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

#define MAX_REPS 15

typedef struct row {
    size_t n;
    double reg_plain_s, reg_node_s;
    double bytes_plain, bytes_node;
    double apply_s, tomb_bytes;
    double merge_s, restore_s;
    size_t merge_peak, restore_peak, snapshot_len, buffer_len;
} row;

/* --plain-only: the register row without a node id alone, in a process
 * that never made a registry with one (as the baseline binary). */
static int plain_only;

static void register_rows(row *w, const ids *id, int reps)
{
    double plain[MAX_REPS], node[MAX_REPS];
    for (int k = 0; k < reps; k++) {
        counter c = {0};
        mcreg_registry *r = open_reg(&c, 0, 1);
        size_t before = c.live;
        plain[k] = fill(r, id, w->n);
        w->bytes_plain = (double)(c.live - before) / (double)w->n;
        mcreg_registry_free(r);
        node[k] = 0;
#ifdef MCREG_HAS_REPLICATION
        if (plain_only)
            continue;
        counter d = {0};
        r = open_reg(&d, 1, 1);
        before = d.live;
        node[k] = fill(r, id, w->n);
        /* held by the records and side tables, less the pending changes */
        uint8_t *buf;
        size_t len;
        if (mcreg_changes_drain(r, &buf, &len) == MCREG_OK)
            mcreg_buffer_free(r, buf);
        w->bytes_node = (double)(d.live - before) / (double)w->n;
        mcreg_registry_free(r);
#endif
    }
    w->reg_plain_s = median(plain, reps);
    w->reg_node_s = median(node, reps);
}

#ifdef MCREG_HAS_REPLICATION
static void replication_rows(row *w, const ids *id, int reps)
{
    /* The node's history: N puts, one buffer; its snapshot. */
    counter c = {0};
    mcreg_registry *src = open_reg(&c, 1, 1);
    fill(src, id, w->n);
    uint8_t *changes, *snap;
    size_t changes_len, snap_len;
    int rc = mcreg_changes_drain(src, &changes, &changes_len);
    if (rc != MCREG_OK)
        die("drain", rc);
    if ((rc = mcreg_snapshot(src, &snap, &snap_len)) != MCREG_OK)
        die("snapshot", rc);
    w->buffer_len = changes_len;
    w->snapshot_len = snap_len;
    uint64_t now = T0 + w->n / 1000 + 1;
    double apply[MAX_REPS], merge[MAX_REPS], restore[MAX_REPS];
    for (int k = 0; k < reps; k++) {
        counter p = {0};
        mcreg_registry *peer = open_reg(&p, 2, 1);
        double t = now_s();
        if ((rc = mcreg_changes_apply(peer, changes, changes_len, now)) != MCREG_OK)
            die("apply", rc);
        apply[k] = now_s() - t;
        if (mcreg_record_count(peer) != w->n)
            die("apply: a record missing", MCREG_ERR_FORMAT);
        mcreg_registry_free(peer);

        counter m = {0};
        peer = open_reg(&m, 2, 1);
        m.peak = m.live;
        size_t base = m.live;
        t = now_s();
        if ((rc = mcreg_changes_apply(peer, snap, snap_len, now)) != MCREG_OK)
            die("merge", rc);
        merge[k] = now_s() - t;
        w->merge_peak = m.peak - base;
        mcreg_registry_free(peer);

        counter s = {0};
        peer = open_reg(&s, 2, 1);
        s.peak = s.live;
        base = s.live;
        t = now_s();
        if ((rc = mcreg_restore(peer, snap, snap_len, now)) != MCREG_OK)
            die("restore", rc);
        restore[k] = now_s() - t;
        w->restore_peak = s.peak - base;
        mcreg_registry_free(peer);
    }
    w->apply_s = median(apply, reps);
    w->merge_s = median(merge, reps);
    w->restore_s = median(restore, reps);
    mcreg_buffer_free(src, changes);
    mcreg_buffer_free(src, snap);
    mcreg_registry_free(src);

    /* Tombstones: every record removed, UE exclusive off. */
    counter t = {0};
    mcreg_registry *r = open_reg(&t, 1, 0);
    size_t empty = t.live;
    fill(r, id, w->n);
    for (size_t i = 0; i < w->n; i++)
        if ((rc = mcreg_deregister(r, id->users[i], id->ues[i], now)) != MCREG_OK)
            die("deregister", rc);
    uint8_t *buf;
    size_t len;
    if (mcreg_changes_drain(r, &buf, &len) == MCREG_OK)
        mcreg_buffer_free(r, buf);
    if (mcreg_stat(r, MCREG_STAT_TOMBSTONES) != w->n)
        die("tombstones: not one per removal", MCREG_ERR_FORMAT);
    w->tomb_bytes = (double)(t.live - empty) / (double)w->n;
    mcreg_registry_free(r);
}
#endif

#ifdef MCREG_HAS_REPLICATION
static void print_rows(const row *rows, size_t n)
{
    printf("\n%-9s %-26s %-22s %-22s\n", "records", "register (ns/record)", "bytes/record",
           "apply");
    for (size_t i = 0; i < n; i++) {
        const row *w = &rows[i];
        double plain = w->reg_plain_s * 1e9 / (double)w->n, node = w->reg_node_s * 1e9 / (double)w->n;
        printf("%-9zu plain %6.0f node %6.0f x%.2f  plain %5.0f node %5.0f  ", w->n, plain, node,
               node / plain, w->bytes_plain, w->bytes_node);
        printf("%.2f M changes/s vs register %.2f M/s\n", (double)w->n / w->apply_s / 1e6,
               (double)w->n / w->reg_node_s / 1e6);
    }
    printf("\n%-9s %-16s %-40s %-40s\n", "records", "bytes/tombstone", "merge snapshot (apply)",
           "restore snapshot");
    for (size_t i = 0; i < n; i++) {
        const row *w = &rows[i];
        printf("%-9zu %-16.0f %8.1f ms, peak %7.1f MB (%.1f MB in) %8.1f ms, peak %7.1f MB\n",
               w->n, w->tomb_bytes, w->merge_s * 1e3, (double)w->merge_peak / 1e6,
               (double)w->snapshot_len / 1e6, w->restore_s * 1e3, (double)w->restore_peak / 1e6);
    }
    printf("\ntargets: register with a node id <= 1.3x without:");
    for (size_t i = 0; i < n; i++) {
        double x = rows[i].reg_node_s / rows[i].reg_plain_s;
        printf(" %zu: x%.2f %s", rows[i].n, x, x <= 1.3 ? "met" : "MISSED");
    }
    printf("\n");
}
#endif

int main(int argc, char **argv)
{
    size_t ns[8] = {100000, 1000000}, n_ns = 2;
    int reps = 3;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--plain-only"))
            plain_only = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--plain-only")) {
            i--;
            continue;
        }
        if (!strcmp(argv[i], "--records")) {
            n_ns = 0;
            for (char *s = argv[i + 1]; *s && n_ns < 8;) {
                ns[n_ns++] = strtoull(s, &s, 10);
                if (*s == ',')
                    s++;
            }
        } else if (!strcmp(argv[i], "--reps")) {
            reps = atoi(argv[i + 1]);
            if (reps < 1 || reps > MAX_REPS)
                reps = 3;
        }
    }
    row rows[8];
    memset(rows, 0, sizeof(rows));
    for (size_t k = 0; k < n_ns; k++) {
        size_t n = ns[k];
        ids id = {make_ids(n, "sip:user%07zu@mcptt.example"), make_ids(n, "urn:uuid:ue-%07zu")};
        rows[k].n = n;
        register_rows(&rows[k], &id, reps);
#ifdef MCREG_HAS_REPLICATION
        if (!plain_only)
            replication_rows(&rows[k], &id, reps);
#endif
        for (size_t i = 0; i < n; i++) {
            free(id.users[i]);
            free(id.ues[i]);
        }
        free(id.users);
        free(id.ues);
    }
#ifdef MCREG_HAS_REPLICATION
    if (!plain_only) {
        printf("mcreg-bench-repl: libmcreg %s, %d reps, medians", mcreg_version(), reps);
        print_rows(rows, n_ns);
        return 0;
    }
#endif
    printf("mcreg-bench-repl (register without node id only): libmcreg %s, %d reps\n",
           mcreg_version(), reps);
    for (size_t i = 0; i < n_ns; i++)
        printf("%-9zu register plain %6.0f ns/record, %5.0f bytes/record\n", rows[i].n,
               rows[i].reg_plain_s * 1e9 / (double)rows[i].n, rows[i].bytes_plain);
    return 0;
}
