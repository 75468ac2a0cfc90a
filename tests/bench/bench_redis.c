/*
 * Redis through hiredis, pipelined: commands are appended in batches of
 * about BENCH_BATCH, then every reply is read and checked. The bench starts
 * its own redis-server (no persistence, loopback only, a free port) in the
 * backend's child process and stops it in close(), which the driver calls
 * on every path once open() has succeeded.
 *
 * Data model:
 *   r:{user}|{ue}  hash: contact, call_id, cseq, reg, exp and the settings
 *   u:{user}       set of the user's UE ids
 *   e:{ue}         string: the user at the UE (find_ue)
 *   exp            sorted set of {user}|{ue} scored by expiry (expire)
 *
 * What Redis does not do here: the RFC 3261 CSeq check on refresh (it
 * would need a Lua script or a read before each write), and atomic
 * multi-key updates (MULTI/EXEC). Both flatter Redis.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "bench.h"

/* Fields of a record's hash, and so twice that many HGETALL elements. */
#define N_FIELDS 8
/* Room for "r:" + user + "|" + ue. */
#define KEY_ROOM 256

typedef struct redis_ctx {
    pid_t pid;
    int port;
    redisContext *c;
    char version[32];
    uint64_t sink;
} redis_ctx;

/* ---- finding and running the server -------------------------------------- */

static int executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* BENCH_REDIS_SERVER, else redis-server in PATH, /usr/bin or /usr/sbin. */
static int find_server(char *out, size_t n)
{
    const char *env = getenv("BENCH_REDIS_SERVER");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return executable(out) ? 0 : -1;
    }
    const char *path = getenv("PATH");
    if (path) {
        const char *p = path;
        while (*p) {
            const char *end = strchr(p, ':');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len > 0 && (size_t)snprintf(out, n, "%.*s/redis-server", (int)len, p) < n &&
                executable(out))
                return 0;
            p += len;
            if (*p == ':')
                p++;
        }
    }
    static const char *const fallback[] = {"/usr/bin/redis-server", "/usr/sbin/redis-server"};
    for (size_t k = 0; k < sizeof fallback / sizeof fallback[0]; k++) {
        snprintf(out, n, "%s", fallback[k]);
        if (executable(out))
            return 0;
    }
    return -1;
}

static int r_available(char *note, size_t n)
{
    char path[1024];
    if (find_server(path, sizeof path) == 0)
        return 0;
    snprintf(note, n, "redis-server not found (BENCH_REDIS_SERVER, PATH, /usr/bin, /usr/sbin)");
    return 1;
}

/* A port nobody listens on now: bind to port 0 and ask which one the
 * kernel gave. Another process could take it before redis-server binds;
 * open() then tries again with a new one. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void server_stop(redis_ctx *x)
{
    if (x->c) {
        redisFree(x->c);
        x->c = NULL;
    }
    if (x->pid <= 0)
        return;
    kill(x->pid, SIGTERM);
    /* It saves nothing, so SIGTERM ends it at once; SIGKILL if it hangs. */
    for (int t = 0; t < 500; t++) {
        if (waitpid(x->pid, NULL, WNOHANG) == x->pid) {
            x->pid = 0;
            return;
        }
        sleep_ms(10);
    }
    kill(x->pid, SIGKILL);
    while (waitpid(x->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    x->pid = 0;
}

static pid_t server_spawn(const char *path, int port, int log_fd)
{
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
#ifdef __linux__
    /* Dies with the bench child, even if that one crashes. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
#else
    (void)parent;
#endif
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
        dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execl(path, path, "--port", port_s, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
          "--daemonize", "no", "--loglevel", "warning", (char *)NULL);
    _exit(127);
}

/* Up to 10 s for PING to answer; 0 ready, -1 the server died or never
 * answered. */
static int server_wait(redis_ctx *x)
{
    for (int t = 0; t < 500; t++) {
        if (waitpid(x->pid, NULL, WNOHANG) == x->pid) {
            x->pid = 0;
            return -1;
        }
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", x->port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            freeReplyObject(r);
            if (ok) {
                x->c = c;
                return 0;
            }
        }
        if (c)
            redisFree(c);
        sleep_ms(20);
    }
    return -1;
}

/* The last non-empty line of the log, for an error message. */
static void last_log_line(int fd, char *out, size_t n)
{
    char buf[4096];
    out[0] = '\0';
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
    if (size <= 0 || lseek(fd, from, SEEK_SET) < 0)
        return;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    if (k <= 0)
        return;
    buf[k] = '\0';
    while (k > 0 && (buf[k - 1] == '\n' || buf[k - 1] == '\r'))
        buf[--k] = '\0';
    const char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    size_t len = strlen(line);
    if (len >= n)
        len = n - 1;
    memcpy(out, line, len);
    out[len] = '\0';
}

/* ---- replies -------------------------------------------------------------- */

static int conn_fail(redis_ctx *x, bench_err *e, const char *what)
{
    return bench_fail(e, "redis %s: %s", what, x->c && x->c->err ? x->c->errstr : "failed");
}

static int append(redis_ctx *x, int argc, const char **argv, const size_t *len, bench_err *e)
{
    if (redisAppendCommandArgv(x->c, argc, argv, len) != REDIS_OK)
        return conn_fail(x, e, "append");
    return 0;
}

static redisReply *get_reply(redis_ctx *x, bench_err *e)
{
    void *r = NULL;
    if (redisGetReply(x->c, &r) != REDIS_OK || !r) {
        conn_fail(x, e, "reply");
        return NULL;
    }
    redisReply *rr = r;
    if (rr->type == REDIS_REPLY_ERROR) {
        bench_fail(e, "redis error reply: %s", rr->str);
        freeReplyObject(rr);
        return NULL;
    }
    return rr;
}

/* Reads one reply and checks it is the integer `want` (want < 0: any
 * integer). */
static int expect_int(redis_ctx *x, long long want, const char *what, bench_err *e)
{
    redisReply *r = get_reply(x, e);
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_INTEGER && (want < 0 || r->integer == want);
    long long got = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return ok ? 0 : bench_fail(e, "redis %s: got %lld, expected %lld", what, got, want);
}

static int expect_status(redis_ctx *x, const char *want, const char *what, bench_err *e)
{
    redisReply *r = get_reply(x, e);
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, want) == 0;
    freeReplyObject(r);
    return ok ? 0 : bench_fail(e, "redis %s: unexpected reply", what);
}

/* A blocking command with its reply (INFO, FLUSHALL, ZRANGEBYSCORE). */
static redisReply *command(redis_ctx *x, int argc, const char **argv, bench_err *e)
{
    if (append(x, argc, argv, NULL, e) < 0)
        return NULL;
    return get_reply(x, e);
}

/* The value of `field:` in an INFO reply, or -1. */
static long long info_field(const char *info, const char *field)
{
    size_t n = strlen(field);
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, field, n) == 0 && p[n] == ':')
            return strtoll(p + n + 1, NULL, 10);
    }
    return -1;
}

/* ---- keys ----------------------------------------------------------------- */

/* "r:{user}|{ue}" into buf (KEY_ROOM bytes, ids of at most 100 bytes);
 * the member "{user}|{ue}" is buf + 2. */
static size_t record_key(char *buf, const char *user, size_t ul, const char *ue, size_t el)
{
    buf[0] = 'r';
    buf[1] = ':';
    memcpy(buf + 2, user, ul);
    buf[2 + ul] = '|';
    memcpy(buf + 3 + ul, ue, el);
    return 3 + ul + el;
}

static size_t prefixed(char *buf, char prefix, const char *s, size_t len)
{
    buf[0] = prefix;
    buf[1] = ':';
    memcpy(buf + 2, s, len);
    return len + 2;
}

static size_t u64_str(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t k = 0; k < n; k++)
        buf[k] = tmp[n - 1 - k];
    return n;
}

/* ---- backend -------------------------------------------------------------- */

static void r_close(void *ctx)
{
    redis_ctx *x = ctx;
    if (!x)
        return;
    server_stop(x);
    free(x);
}

static int r_open(void **ctx, const bench_workload *w, bench_err *e)
{
    (void)w;
    char path[1024];
    if (find_server(path, sizeof path) < 0)
        return bench_fail(e, "redis-server not found");
    redis_ctx *x = calloc(1, sizeof *x);
    if (!x)
        return bench_fail(e, "out of memory");
    /* The server logs into an unlinked temporary file: nothing is left
     * behind however the run ends, and a start-up failure can still quote
     * it. */
    const char *tmp = getenv("TMPDIR");
    char log[512];
    snprintf(log, sizeof log, "%s/mcreg-bench-redis-XXXXXX",
             tmp && *tmp && strlen(tmp) < 400 ? tmp : "/tmp");
    int log_fd = mkstemp(log);
    if (log_fd < 0) {
        free(x);
        return bench_fail(e, "mkstemp for the redis-server log failed");
    }
    unlink(log);
    int ready = -1;
    for (int attempt = 0; attempt < 3 && ready < 0; attempt++) {
        x->port = free_port();
        if (x->port <= 0)
            continue;
        x->pid = server_spawn(path, x->port, log_fd);
        if (x->pid < 0) {
            x->pid = 0;
            continue;
        }
        ready = server_wait(x);
        if (ready < 0)
            server_stop(x);
    }
    if (ready < 0) {
        char last[160];
        last_log_line(log_fd, last, sizeof last);
        close(log_fd);
        bench_fail(e, "%s did not answer PING on 127.0.0.1 (log: %s)", path,
                   last[0] ? last : "empty");
        free(x);
        return -1;
    }
    close(log_fd);
    struct timeval tv = {60, 0};
    redisSetTimeout(x->c, tv);
    const char *argv[] = {"INFO", "server"};
    redisReply *r = command(x, 2, argv, e);
    if (!r) {
        r_close(x);
        return -1;
    }
    const char *v = r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    snprintf(x->version, sizeof x->version, "redis %.*s", v ? (int)strcspn(v + 14, "\r\n") : 1,
             v ? v + 14 : "?");
    freeReplyObject(r);
    *ctx = x;
    return 0;
}

static int r_clear(void *ctx, bench_err *e)
{
    redis_ctx *x = ctx;
    if (append(x, 1, (const char *[]){"FLUSHALL"}, NULL, e) < 0)
        return -1;
    return expect_status(x, "OK", "FLUSHALL", e);
}

static int64_t r_put(void *ctx, const bench_workload *w, const bench_pass *p, bench_err *e)
{
    redis_ctx *x = ctx;
    const size_t cmds = p->refresh ? 2 : 4; /* commands per record */
    const size_t per = BENCH_BATCH / cmds;
    int64_t done = 0;
    for (size_t base = 0; base < w->n_records; base += per) {
        size_t end = base + per < w->n_records ? base + per : w->n_records;
        for (size_t i = base; i < end; i++) {
            char key[KEY_ROOM], ukey[KEY_ROOM], ekey[KEY_ROOM];
            char cseq[24], reg[24], exp[24], prio[24];
            uint64_t at = bench_expires_at(bench_pass_now(p, i), bench_pass_expires_s(p, w, i));
            size_t key_len =
                record_key(key, w->user_id[i], w->user_id_len[i], w->ue[i], w->ue_len[i]);
            size_t cseq_len = u64_str(cseq, (uint64_t)w->cseq[i] + p->cseq_add);
            size_t reg_len = u64_str(reg, bench_pass_now(p, i));
            size_t exp_len = u64_str(exp, at);
            size_t prio_len = u64_str(prio, w->priority[i]);
            const char *emerg = w->emergency[i] ? "1" : "0";
            /* HSET key contact C call_id I cseq S [reg R] exp E + settings */
            const char *hv[2 + 2 * N_FIELDS];
            size_t hl[2 + 2 * N_FIELDS];
            int n = 0;
#define ARG(s, l) (hv[n] = (s), hl[n] = (l), n++)
            ARG("HSET", 4);
            ARG(key, key_len);
            ARG("contact", 7);
            ARG(w->contact[i], w->contact_len[i]);
            ARG("call_id", 7);
            ARG(w->call_id[i], w->call_id_len[i]);
            ARG("cseq", 4);
            ARG(cseq, cseq_len);
            if (!p->refresh) {
                ARG("reg", 3);
                ARG(reg, reg_len);
            }
            ARG("exp", 3);
            ARG(exp, exp_len);
            ARG(bench_setting_keys[0], strlen(bench_setting_keys[0]));
            ARG(prio, prio_len);
            ARG(bench_setting_keys[1], strlen(bench_setting_keys[1]));
            ARG(bench_versions[w->version[i]], w->version_len[w->version[i]]);
            ARG(bench_setting_keys[2], strlen(bench_setting_keys[2]));
            ARG(emerg, 1);
#undef ARG
            if (append(x, n, hv, hl, e) < 0)
                return -1;
            if (!p->refresh) {
                const char *sv[] = {"SADD", ukey, w->ue[i]};
                size_t sl[] = {4, prefixed(ukey, 'u', w->user_id[i], w->user_id_len[i]),
                               w->ue_len[i]};
                const char *ev[] = {"SET", ekey, w->user_id[i]};
                size_t el[] = {3, prefixed(ekey, 'e', w->ue[i], w->ue_len[i]), w->user_id_len[i]};
                if (append(x, 3, sv, sl, e) < 0 || append(x, 3, ev, el, e) < 0)
                    return -1;
            }
            const char *zv[] = {"ZADD", "exp", exp, key + 2};
            size_t zl[] = {4, 3, exp_len, key_len - 2};
            if (append(x, 4, zv, zl, e) < 0)
                return -1;
        }
        for (size_t k = base; k < end; k++) {
            if (p->refresh) {
                /* No new field; the member's score changes, none is added. */
                if (expect_int(x, 0, "HSET (refresh)", e) < 0 ||
                    expect_int(x, 0, "ZADD (refresh)", e) < 0)
                    return -1;
            } else if (expect_int(x, N_FIELDS, "HSET", e) < 0 || expect_int(x, 1, "SADD", e) < 0 ||
                       expect_status(x, "OK", "SET", e) < 0 || expect_int(x, 1, "ZADD", e) < 0) {
                return -1;
            }
            done++;
        }
    }
    return done;
}

/* Reads one HGETALL reply: 1 when it holds a whole record. */
static int64_t read_record(redis_ctx *x, bench_err *e)
{
    redisReply *r = get_reply(x, e);
    if (!r)
        return -1;
    int64_t found = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 * N_FIELDS) {
        x->sink += r->element[1]->len;
        found = 1;
    }
    freeReplyObject(r);
    return found;
}

static int append_hgetall(redis_ctx *x, const char *key, size_t len, bench_err *e)
{
    const char *v[] = {"HGETALL", key};
    size_t l[] = {7, len};
    return append(x, 2, v, l, e);
}

static int64_t r_find(void *ctx, const bench_workload *w, bench_err *e)
{
    redis_ctx *x = ctx;
    int64_t found = 0;
    for (size_t base = 0; base < w->n_find; base += BENCH_BATCH) {
        size_t end = base + BENCH_BATCH < w->n_find ? base + BENCH_BATCH : w->n_find;
        for (size_t k = base; k < end; k++) {
            char key[KEY_ROOM];
            size_t len = record_key(key, w->find_user[k], w->find_user_len[k], w->find_ue[k],
                                    w->find_ue_len[k]);
            if (append_hgetall(x, key, len, e) < 0)
                return -1;
        }
        for (size_t k = base; k < end; k++) {
            int64_t n = read_record(x, e);
            if (n < 0)
                return -1;
            found += n;
        }
    }
    return found;
}

/* Two round trips per batch: GET e:{ue} for the users, then HGETALL of
 * each record, since the record's key needs the user. */
static int64_t r_find_ue(void *ctx, const bench_workload *w, bench_err *e)
{
    redis_ctx *x = ctx;
    redisReply *users[BENCH_BATCH];
    int64_t found = 0;
    for (size_t base = 0; base < w->n_find; base += BENCH_BATCH) {
        size_t end = base + BENCH_BATCH < w->n_find ? base + BENCH_BATCH : w->n_find;
        for (size_t k = base; k < end; k++) {
            char key[KEY_ROOM];
            const char *v[] = {"GET", key};
            size_t l[] = {3, prefixed(key, 'e', w->ue_probe[k], w->ue_probe_len[k])};
            if (append(x, 2, v, l, e) < 0)
                return -1;
        }
        size_t got = 0;
        int64_t rc = 0;
        for (size_t k = base; k < end; k++) {
            users[got] = get_reply(x, e);
            if (!users[got]) {
                rc = -1;
                break;
            }
            got++;
        }
        size_t asked = 0;
        for (size_t k = 0; k < got && rc == 0; k++) {
            const char *ue = w->ue_probe[base + k];
            size_t ue_len = w->ue_probe_len[base + k];
            if (users[k]->type != REDIS_REPLY_STRING)
                continue;
            char key[KEY_ROOM];
            if (users[k]->len + ue_len + 3 > sizeof key) {
                rc = bench_fail(e, "redis: user id too long");
                break;
            }
            size_t len = record_key(key, users[k]->str, users[k]->len, ue, ue_len);
            if (append_hgetall(x, key, len, e) < 0) {
                rc = -1;
                break;
            }
            asked++;
        }
        for (size_t k = 0; k < got; k++)
            freeReplyObject(users[k]);
        if (rc < 0)
            return -1;
        for (size_t k = 0; k < asked; k++) {
            int64_t n = read_record(x, e);
            if (n < 0)
                return -1;
            found += n;
        }
    }
    return found;
}

/* Two round trips per batch: SMEMBERS u:{user}, then HGETALL of each UE's
 * record. */
static int64_t r_user_foreach(void *ctx, const bench_workload *w, bench_err *e)
{
    redis_ctx *x = ctx;
    enum { USERS = BENCH_BATCH / 2 };
    redisReply *sets[USERS];
    int64_t visited = 0;
    for (size_t base = 0; base < w->n_user_sample; base += USERS) {
        size_t end = base + USERS < w->n_user_sample ? base + USERS : w->n_user_sample;
        for (size_t k = base; k < end; k++) {
            char key[KEY_ROOM];
            const char *v[] = {"SMEMBERS", key};
            size_t l[] = {8, prefixed(key, 'u', w->user_probe[k], w->user_probe_len[k])};
            if (append(x, 2, v, l, e) < 0)
                return -1;
        }
        size_t got = 0;
        int64_t rc = 0;
        for (size_t k = base; k < end; k++) {
            sets[got] = get_reply(x, e);
            if (!sets[got]) {
                rc = -1;
                break;
            }
            got++;
        }
        size_t asked = 0;
        for (size_t k = 0; k < got && rc == 0; k++) {
            const char *user = w->user_probe[base + k];
            size_t user_len = w->user_probe_len[base + k];
            if (sets[k]->type != REDIS_REPLY_ARRAY) {
                rc = bench_fail(e, "redis SMEMBERS: not an array");
                break;
            }
            for (size_t m = 0; m < sets[k]->elements && rc == 0; m++) {
                const redisReply *ue = sets[k]->element[m];
                char key[KEY_ROOM];
                if (ue->len + user_len + 3 > sizeof key) {
                    rc = bench_fail(e, "redis: UE id too long");
                    break;
                }
                size_t len = record_key(key, user, user_len, ue->str, ue->len);
                if (append_hgetall(x, key, len, e) < 0)
                    rc = -1;
                else
                    asked++;
            }
        }
        for (size_t k = 0; k < got; k++)
            freeReplyObject(sets[k]);
        if (rc < 0)
            return -1;
        for (size_t k = 0; k < asked; k++) {
            int64_t n = read_record(x, e);
            if (n < 0)
                return -1;
            visited += n;
        }
    }
    return visited;
}

/* DEL r:, SREM u:, DEL e: for the record of `user` at `ue`. */
static int append_remove(redis_ctx *x, const char *user, size_t user_len, const char *ue,
                         size_t ue_len, bench_err *e)
{
    char key[KEY_ROOM], ukey[KEY_ROOM], ekey[KEY_ROOM];
    if (user_len + ue_len + 3 > sizeof key)
        return bench_fail(e, "redis: ids too long");
    size_t len = record_key(key, user, user_len, ue, ue_len);
    const char *dv[] = {"DEL", key};
    size_t dl[] = {3, len};
    const char *sv[] = {"SREM", ukey, ue};
    size_t sl[] = {4, prefixed(ukey, 'u', user, user_len), ue_len};
    const char *ev[] = {"DEL", ekey};
    size_t el[] = {3, prefixed(ekey, 'e', ue, ue_len)};
    if (append(x, 2, dv, dl, e) < 0 || append(x, 3, sv, sl, e) < 0 || append(x, 2, ev, el, e) < 0)
        return -1;
    return 0;
}

static int expect_removed(redis_ctx *x, bench_err *e)
{
    if (expect_int(x, 1, "DEL r:", e) < 0 || expect_int(x, 1, "SREM", e) < 0 ||
        expect_int(x, 1, "DEL e:", e) < 0)
        return -1;
    return 0;
}

static int64_t r_deregister(void *ctx, const bench_workload *w, bench_err *e)
{
    redis_ctx *x = ctx;
    const size_t per = BENCH_BATCH / 4;
    int64_t done = 0;
    for (size_t base = 0; base < w->n_records; base += per) {
        size_t end = base + per < w->n_records ? base + per : w->n_records;
        for (size_t i = base; i < end; i++) {
            char member[KEY_ROOM];
            size_t len =
                record_key(member, w->user_id[i], w->user_id_len[i], w->ue[i], w->ue_len[i]);
            if (append_remove(x, w->user_id[i], w->user_id_len[i], w->ue[i], w->ue_len[i], e) < 0)
                return -1;
            const char *zv[] = {"ZREM", "exp", member + 2};
            size_t zl[] = {4, 3, len - 2};
            if (append(x, 3, zv, zl, e) < 0)
                return -1;
        }
        for (size_t k = base; k < end; k++) {
            if (expect_removed(x, e) < 0 || expect_int(x, 1, "ZREM", e) < 0)
                return -1;
            done++;
        }
    }
    return done;
}

/* ZRANGEBYSCORE for the due members, their keys deleted in pipelined
 * batches, then ZREMRANGEBYSCORE drops them from the sorted set. */
static int64_t r_expire(void *ctx, uint64_t now_ms, bench_err *e)
{
    redis_ctx *x = ctx;
    char at[24];
    at[u64_str(at, now_ms)] = '\0';
    const char *qv[] = {"ZRANGEBYSCORE", "exp", "-inf", at};
    redisReply *due = command(x, 4, qv, e);
    if (!due)
        return -1;
    if (due->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(due);
        return bench_fail(e, "redis ZRANGEBYSCORE: not an array");
    }
    const size_t per = BENCH_BATCH / 3;
    int64_t rc = 0;
    for (size_t base = 0; base < due->elements && rc == 0; base += per) {
        size_t end = base + per < due->elements ? base + per : due->elements;
        for (size_t k = base; k < end && rc == 0; k++) {
            const redisReply *m = due->element[k];
            const char *bar = memchr(m->str, '|', m->len);
            if (!bar) {
                rc = bench_fail(e, "redis: member without '|'");
                break;
            }
            size_t user_len = (size_t)(bar - m->str);
            if (append_remove(x, m->str, user_len, bar + 1, m->len - user_len - 1, e) < 0)
                rc = -1;
        }
        for (size_t k = base; k < end && rc == 0; k++)
            if (expect_removed(x, e) < 0)
                rc = -1;
    }
    int64_t n = (int64_t)due->elements;
    freeReplyObject(due);
    if (rc < 0)
        return -1;
    const char *rv[] = {"ZREMRANGEBYSCORE", "exp", "-inf", at};
    if (append(x, 4, rv, NULL, e) < 0 || expect_int(x, n, "ZREMRANGEBYSCORE", e) < 0)
        return -1;
    return n;
}

/* INFO memory used_memory: what the server's allocator holds. */
static int64_t r_mem_bytes(void *ctx)
{
    redis_ctx *x = ctx;
    bench_err e;
    const char *argv[] = {"INFO", "memory"};
    redisReply *r = command(x, 2, argv, &e);
    if (!r)
        return -1;
    long long v = r->type == REDIS_REPLY_STRING ? info_field(r->str, "used_memory") : -1;
    freeReplyObject(r);
    return v;
}

static const char *r_version(void *ctx)
{
    redis_ctx *x = ctx;
    return x->version;
}

const bench_backend bench_backend_redis = {
    .name = "redis",
    .available = r_available,
    .open = r_open,
    .close = r_close,
    .clear = r_clear,
    .put = r_put,
    .find = r_find,
    .find_ue = r_find_ue,
    .user_foreach = r_user_foreach,
    .deregister = r_deregister,
    .expire = r_expire,
    .mem_bytes = r_mem_bytes,
    .version = r_version,
};
