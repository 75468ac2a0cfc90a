/*
 * SQLite in memory, tuned the way one would for this job: a WITHOUT ROWID
 * table keyed by (user, ue), an index on ue for find_ue and one on exp for
 * expiry, no journal, no syncing, prepared statements with SQLITE_STATIC
 * bindings (the workload's strings outlive every statement), and
 * BENCH_BATCH statements per transaction. The settings are three typed
 * columns.
 *
 * The per-user visit has no ORDER BY (libmcreg's has an order): sorting
 * would cost SQLite a temporary b-tree per user, so the comparison
 * flatters SQLite there.
 */
#define _POSIX_C_SOURCE 200809L

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

enum {
    ST_INSERT,
    ST_UPDATE,
    ST_FIND,
    ST_FIND_UE,
    ST_USER,
    ST_DELETE,
    ST_EXPIRE,
    ST_BEGIN,
    ST_COMMIT,
    ST_COUNT
};

static const char *const sql_text[ST_COUNT] = {
    [ST_INSERT] = "INSERT INTO reg(user, ue, contact, call_id, cseq, registered_at, exp, "
                  "priority, client_version, emergency) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                  "?9, ?10)",
    /* The RFC 3261 ordering check is part of the WHERE clause, as a SQL
     * registrar would write it. */
    [ST_UPDATE] = "UPDATE reg SET contact = ?3, call_id = ?4, cseq = ?5, exp = ?6, priority = ?7, "
                  "client_version = ?8, emergency = ?9 WHERE user = ?1 AND ue = ?2 AND "
                  "NOT (call_id = ?4 AND cseq >= ?5)",
    [ST_FIND] = "SELECT contact, call_id, cseq, registered_at, exp, priority, client_version, "
                "emergency FROM reg WHERE user = ?1 AND ue = ?2",
    [ST_FIND_UE] = "SELECT user, contact, call_id, cseq, registered_at, exp, priority, "
                   "client_version, emergency FROM reg WHERE ue = ?1",
    [ST_USER] = "SELECT ue, contact, call_id, cseq, registered_at, exp, priority, "
                "client_version, emergency FROM reg WHERE user = ?1",
    [ST_DELETE] = "DELETE FROM reg WHERE user = ?1 AND ue = ?2",
    [ST_EXPIRE] = "DELETE FROM reg WHERE exp <= ?1",
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
};

static const char schema[] =
    "PRAGMA journal_mode = OFF;"
    "PRAGMA synchronous = OFF;"
    "CREATE TABLE reg(user TEXT NOT NULL, ue TEXT NOT NULL, contact TEXT, call_id TEXT, "
    "cseq INT, registered_at INT, exp INT, priority INT, client_version TEXT, emergency INT, "
    "PRIMARY KEY(user, ue)) WITHOUT ROWID;"
    "CREATE INDEX reg_ue ON reg(ue);"
    "CREATE INDEX reg_exp ON reg(exp);";

typedef struct sqlite_ctx {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    unsigned in_batch; /* statements in the open transaction */
    uint64_t sink;
} sqlite_ctx;

static int db_fail(sqlite_ctx *c, bench_err *e, const char *what)
{
    return bench_fail(e, "sqlite %s: %s", what, c->db ? sqlite3_errmsg(c->db) : "no database");
}

static void db_close(sqlite_ctx *c)
{
    for (int k = 0; k < ST_COUNT; k++) {
        sqlite3_finalize(c->st[k]);
        c->st[k] = NULL;
    }
    sqlite3_close(c->db);
    c->db = NULL;
}

static int db_open(sqlite_ctx *c, bench_err *e)
{
    if (sqlite3_open_v2(":memory:", &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        db_fail(c, e, "open");
        db_close(c);
        return -1;
    }
    char *msg = NULL;
    if (sqlite3_exec(c->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        bench_fail(e, "sqlite schema: %s", msg ? msg : "?");
        sqlite3_free(msg);
        db_close(c);
        return -1;
    }
    for (int k = 0; k < ST_COUNT; k++) {
        if (sqlite3_prepare_v2(c->db, sql_text[k], -1, &c->st[k], NULL) != SQLITE_OK) {
            db_fail(c, e, sql_text[k]);
            db_close(c);
            return -1;
        }
    }
    return 0;
}

static int run_simple(sqlite_ctx *c, int k, bench_err *e)
{
    sqlite3_stmt *s = c->st[k];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : db_fail(c, e, sql_text[k]);
}

static int batch_begin(sqlite_ctx *c, bench_err *e)
{
    c->in_batch = 0;
    return run_simple(c, ST_BEGIN, e);
}

/* After each statement: commit every BENCH_BATCH and open the next. */
static int batch_tick(sqlite_ctx *c, bench_err *e)
{
    if (++c->in_batch < BENCH_BATCH)
        return 0;
    if (run_simple(c, ST_COMMIT, e) < 0)
        return -1;
    return batch_begin(c, e);
}

static int batch_end(sqlite_ctx *c, bench_err *e)
{
    return run_simple(c, ST_COMMIT, e);
}

static int s_open(void **ctx, const bench_workload *w, bench_err *e)
{
    (void)w;
    sqlite_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return bench_fail(e, "out of memory");
    if (db_open(c, e) < 0) {
        free(c);
        return -1;
    }
    *ctx = c;
    return 0;
}

static void s_close(void *ctx)
{
    sqlite_ctx *c = ctx;
    if (!c)
        return;
    db_close(c);
    free(c);
}

/* A new database rather than DELETE FROM: the store is rebuilt from
 * nothing, as it is for the other backends. */
static int s_clear(void *ctx, bench_err *e)
{
    sqlite_ctx *c = ctx;
    db_close(c);
    return db_open(c, e);
}

static int64_t s_put(void *ctx, const bench_workload *w, const bench_pass *p, bench_err *e)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *s = c->st[p->refresh ? ST_UPDATE : ST_INSERT];
    int64_t done = 0;
    if (batch_begin(c, e) < 0)
        return -1;
    for (size_t i = 0; i < w->n_records; i++) {
        uint64_t exp = bench_expires_at(bench_pass_now(p, i), bench_pass_expires_s(p, w, i));
        const char *ver = bench_versions[w->version[i]];
        int ver_len = (int)w->version_len[w->version[i]];
        sqlite3_bind_text(s, 1, w->user_id[i], (int)w->user_id_len[i], SQLITE_STATIC);
        sqlite3_bind_text(s, 2, w->ue[i], (int)w->ue_len[i], SQLITE_STATIC);
        sqlite3_bind_text(s, 3, w->contact[i], (int)w->contact_len[i], SQLITE_STATIC);
        sqlite3_bind_text(s, 4, w->call_id[i], (int)w->call_id_len[i], SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, (sqlite3_int64)w->cseq[i] + p->cseq_add);
        if (p->refresh) {
            sqlite3_bind_int64(s, 6, (sqlite3_int64)exp);
            sqlite3_bind_int(s, 7, w->priority[i]);
            sqlite3_bind_text(s, 8, ver, ver_len, SQLITE_STATIC);
            sqlite3_bind_int(s, 9, w->emergency[i]);
        } else {
            sqlite3_bind_int64(s, 6, (sqlite3_int64)bench_pass_now(p, i));
            sqlite3_bind_int64(s, 7, (sqlite3_int64)exp);
            sqlite3_bind_int(s, 8, w->priority[i]);
            sqlite3_bind_text(s, 9, ver, ver_len, SQLITE_STATIC);
            sqlite3_bind_int(s, 10, w->emergency[i]);
        }
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return db_fail(c, e, p->refresh ? "update" : "insert");
        if (sqlite3_changes(c->db) != 1)
            return bench_fail(e, "sqlite %s (%s, %s): %d rows changed",
                              p->refresh ? "update" : "insert", w->user_id[i], w->ue[i],
                              sqlite3_changes(c->db));
        done++;
        if (batch_tick(c, e) < 0)
            return -1;
    }
    return batch_end(c, e) < 0 ? -1 : done;
}

/* One row expected: read a column so the row is really produced. */
static int64_t one_row(sqlite_ctx *c, sqlite3_stmt *s, int cseq_col, bench_err *e)
{
    int rc = sqlite3_step(s);
    int64_t found = 0;
    if (rc == SQLITE_ROW) {
        c->sink += (uint64_t)sqlite3_column_int64(s, cseq_col);
        found = 1;
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_fail(c, e, "select");
    return found;
}

static int64_t s_find(void *ctx, const bench_workload *w, bench_err *e)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *s = c->st[ST_FIND];
    int64_t found = 0;
    if (batch_begin(c, e) < 0)
        return -1;
    for (size_t k = 0; k < w->n_find; k++) {
        sqlite3_bind_text(s, 1, w->find_user[k], (int)w->find_user_len[k], SQLITE_STATIC);
        sqlite3_bind_text(s, 2, w->find_ue[k], (int)w->find_ue_len[k], SQLITE_STATIC);
        int64_t n = one_row(c, s, 2, e);
        if (n < 0)
            return -1;
        found += n;
        if (batch_tick(c, e) < 0)
            return -1;
    }
    return batch_end(c, e) < 0 ? -1 : found;
}

static int64_t s_find_ue(void *ctx, const bench_workload *w, bench_err *e)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *s = c->st[ST_FIND_UE];
    int64_t found = 0;
    if (batch_begin(c, e) < 0)
        return -1;
    for (size_t k = 0; k < w->n_find; k++) {
        sqlite3_bind_text(s, 1, w->ue_probe[k], (int)w->ue_probe_len[k], SQLITE_STATIC);
        int64_t n = one_row(c, s, 3, e);
        if (n < 0)
            return -1;
        found += n;
        if (batch_tick(c, e) < 0)
            return -1;
    }
    return batch_end(c, e) < 0 ? -1 : found;
}

static int64_t s_user_foreach(void *ctx, const bench_workload *w, bench_err *e)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *s = c->st[ST_USER];
    int64_t n = 0;
    if (batch_begin(c, e) < 0)
        return -1;
    for (size_t k = 0; k < w->n_user_sample; k++) {
        sqlite3_bind_text(s, 1, w->user_probe[k], (int)w->user_probe_len[k], SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            c->sink += (uint64_t)sqlite3_column_int64(s, 5);
            n++;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return db_fail(c, e, "select by user");
        if (batch_tick(c, e) < 0)
            return -1;
    }
    return batch_end(c, e) < 0 ? -1 : n;
}

static int64_t s_deregister(void *ctx, const bench_workload *w, bench_err *e)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *s = c->st[ST_DELETE];
    int64_t done = 0;
    if (batch_begin(c, e) < 0)
        return -1;
    for (size_t i = 0; i < w->n_records; i++) {
        sqlite3_bind_text(s, 1, w->user_id[i], (int)w->user_id_len[i], SQLITE_STATIC);
        sqlite3_bind_text(s, 2, w->ue[i], (int)w->ue_len[i], SQLITE_STATIC);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            return db_fail(c, e, "delete");
        if (sqlite3_changes(c->db) != 1)
            return bench_fail(e, "sqlite delete (%s, %s): %d rows", w->user_id[i], w->ue[i],
                              sqlite3_changes(c->db));
        done++;
        if (batch_tick(c, e) < 0)
            return -1;
    }
    return batch_end(c, e) < 0 ? -1 : done;
}

static int64_t s_expire(void *ctx, uint64_t now_ms, bench_err *e)
{
    sqlite_ctx *c = ctx;
    sqlite3_stmt *s = c->st[ST_EXPIRE];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)now_ms);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_fail(c, e, "expire");
    return sqlite3_changes(c->db);
}

/* SQLite's own count of the memory it holds (the page cache of the
 * in-memory database included); process-wide, so the driver's delta over
 * the register pass is this store's. */
static int64_t s_mem_bytes(void *ctx)
{
    (void)ctx;
    return (int64_t)sqlite3_memory_used();
}

static const char *s_version(void *ctx)
{
    (void)ctx;
    return sqlite3_libversion();
}

const bench_backend bench_backend_sqlite = {
    .name = "sqlite",
    .open = s_open,
    .close = s_close,
    .clear = s_clear,
    .put = s_put,
    .find = s_find,
    .find_ue = s_find_ue,
    .user_foreach = s_user_foreach,
    .deregister = s_deregister,
    .expire = s_expire,
    .mem_bytes = s_mem_bytes,
    .version = s_version,
};
