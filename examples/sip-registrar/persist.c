/*
 * persist.c - the snapshot file.
 *
 * Written whole to FILE.tmp, fsynced, renamed over FILE, then the directory
 * fsynced: after a crash at any point FILE is the old snapshot or the new
 * one, never a mix. Read at start; a file that cannot be read or that the
 * library refuses stops the start and is left as it is, for a person to
 * look at: starting empty would drop every registration on the next write.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "registrar.h"

/* Far above any real registry (10^6 records take about 260 MB). */
#define SNAPSHOT_MAX_BYTES ((size_t)4 << 30)

static int read_all(int fd, uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int persist_restore(registrar *r)
{
    const char *file = r->cfg.snapshot;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 1; /* first start */
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "mcreg-registrar: snapshot %s: cannot read it: %s; not starting\n", file,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > SNAPSHOT_MAX_BYTES) {
        fprintf(stderr, "mcreg-registrar: snapshot %s: not a regular file of at most %zu bytes; "
                        "not starting, the file is left as it is\n", file, SNAPSHOT_MAX_BYTES);
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf || read_all(fd, buf, len) != 0) {
        fprintf(stderr, "mcreg-registrar: snapshot %s: cannot read it: %s; not starting\n", file,
                buf ? strerror(errno) : "out of memory");
        free(buf);
        close(fd);
        return -1;
    }
    close(fd);
    int rc = mcreg_restore(r->reg, buf, len, wall_ms());
    free(buf);
    if (rc != MCREG_OK) {
        fprintf(stderr, "mcreg-registrar: snapshot %s: %s (%d); not starting, the file is left "
                        "as it is\n", file, mcreg_strerror(rc), rc);
        return -1;
    }
    return 0;
}

int persist_check_writable(registrar *r)
{
    const char *file = r->cfg.snapshot;
    char *tmp = persist_sibling(file, ".tmp");
    if (!tmp) {
        fprintf(stderr, "mcreg-registrar: snapshot %s: out of memory; not starting\n", file);
        return -1;
    }
    /* What persist_write does first: create FILE.tmp beside FILE. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int created = fd >= 0;
    if (fd < 0 && errno == EEXIST) /* left by a crash: the next write truncates it */
        fd = open(tmp, O_WRONLY | O_CLOEXEC);
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    free(tmp);
    if (fd < 0) {
        fprintf(stderr, "mcreg-registrar: snapshot %s: cannot write %s.tmp beside it: %s; not "
                        "starting (the directory must exist and be writable)\n", file, file,
                strerror(err));
        return -1;
    }
    return 0;
}

char *persist_sibling(const char *file, const char *suffix)
{
    size_t n = strlen(file) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", file, suffix);
    return s;
}

int persist_write_all(int fd, const uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* The rename is durable only once the directory entry is. */
void persist_sync_directory(const char *file)
{
    char *copy = strdup(file);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

/* The steps of a write, for the log; a child's exit status is one. */
static const char *const write_steps[] = {"done", "snapshot", "out of memory", "open", "write",
                                          "fsync", "close", "rename"};
enum { STEP_DONE, STEP_SNAPSHOT, STEP_NOMEM, STEP_OPEN, STEP_WRITE, STEP_FSYNC, STEP_CLOSE,
       STEP_RENAME };

/* Test hook: ms the background writer waits before its rename, so that a
 * test can watch the loop while a large snapshot is being written. */
static unsigned delay_before_rename_ms(void)
{
    const char *v = getenv("MCREG_REGISTRAR_SNAPSHOT_DELAY_MS");
    uint64_t ms;
    return v && parse_decimal(v, &ms) == 0 && ms <= 60000 ? (unsigned)ms : 0;
}

/* FILE.tmp, fsync, rename over FILE, fsync the directory: STEP_DONE and
 * *bytes, or the step that failed (errno set). No log line: the
 * background writer runs it in a child, whose stdio belongs to the parent. */
static int write_snapshot_file(const registrar *r, const uint8_t *buf, size_t len,
                               unsigned delay_ms)
{
    const char *file = r->cfg.snapshot;
    char *tmp = persist_sibling(file, ".tmp");
    int fd = -1, step = STEP_NOMEM;
    if (tmp) {
        step = STEP_OPEN;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    int ok = fd >= 0 && (step = STEP_WRITE, persist_write_all(fd, buf, len) == 0) &&
             (step = STEP_FSYNC, fsync(fd) == 0);
    if (fd >= 0 && close(fd) != 0 && ok) {
        step = STEP_CLOSE;
        ok = 0;
    }
    if (ok && delay_ms)
        usleep(delay_ms * 1000u);
    if (ok && (step = STEP_RENAME, rename(tmp, file) != 0))
        ok = 0;
    int err = errno;
    if (ok)
        persist_sync_directory(file);
    else if (fd >= 0)
        unlink(tmp);
    free(tmp);
    errno = err;
    return ok ? STEP_DONE : step;
}

int persist_write(registrar *r)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int step = mcreg_snapshot(r->reg, &buf, &len) == MCREG_OK ? write_snapshot_file(r, buf, len, 0)
                                                              : STEP_SNAPSHOT;
    mcreg_buffer_free(r->reg, buf);
    /* After the snapshot: a position older than the snapshot's is
     * harmless (applying again changes nothing), a newer one is not. */
    if (step == STEP_DONE && cluster_write_cursor(r) < 0)
        log_line("cursor failed %s.cursor error=%s", r->cfg.snapshot, strerror(errno));
    if (step != STEP_DONE) {
        log_line("snapshot failed %s step=%s error=%s", r->cfg.snapshot, write_steps[step],
                 strerror(errno));
        return -1;
    }
    log_line("snapshot written %s records=%zu bytes=%zu", r->cfg.snapshot,
             mcreg_record_count(r->reg), len);
    /* The snapshot holds everything the journal did (and Redis, what
     * the compaction may drop). */
    if (r->journal_fd >= 0)
        journal_compact(r, cluster_compact_limit(r, r->journal_len));
    return 0;
}

/* ---- the background writer ---------------------------------------------------- */

/* The child: the stats line of the state at the fork (with its digest)
 * down the pipe, then the snapshot file and its cursor, then (--redis) the
 * state published in Redis, whose outcome follows down the pipe; its exit
 * status
 * is the write step (STEP_DONE: written). It touches none of the parent's
 * sockets and no stdio (a connection of its own to Redis), and leaves by
 * _exit: what the parent has buffered (log lines) or registered (atexit)
 * is the parent's. */
static void run_child(registrar *r, int pipe_fd)
{
    uint64_t digest = 0;
    int have_digest = r->cfg.node_id && mcreg_state_digest(r->reg, &digest) == MCREG_OK;
    /* The stats line of the fork's moment: digest, counters and stream
     * position together. */
    char stats[STATS_LINE_MAX] = "";
    format_stats(r, have_digest ? &digest : NULL, stats, sizeof stats);
    if (write(pipe_fd, stats, sizeof stats) != (ssize_t)sizeof stats)
        _exit(STEP_WRITE);
    if (!r->cfg.snapshot && !r->cl.on)
        _exit(STEP_DONE);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (mcreg_snapshot(r->reg, &buf, &len) != MCREG_OK)
        _exit(STEP_SNAPSHOT);
    int step = r->cfg.snapshot ? write_snapshot_file(r, buf, len, delay_before_rename_ms())
                               : STEP_DONE;
    int32_t published = 0;
    if (step == STEP_DONE) {
        cluster_write_cursor(r);
        published = cluster_publish(r, buf, len);
    }
    if (write(pipe_fd, &published, sizeof published) != (ssize_t)sizeof published)
        step = STEP_WRITE;
    _exit(step);
}

int persist_background(registrar *r, int log_stats)
{
    snapshot_child *c = &r->child;
    if (c->pid) {
        c->again = 1;
        c->log_stats |= log_stats;
        return 0;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        log_line("snapshot failed %s step=pipe error=%s", r->cfg.snapshot ? r->cfg.snapshot : "-",
                 strerror(errno));
        return -1;
    }
    uint64_t t0 = mono_us();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        run_child(r, fds[1]);
    }
    uint64_t pause_us = mono_us() - t0;
    close(fds[1]);
    if (pid < 0) {
        log_line("snapshot failed %s step=fork error=%s", r->cfg.snapshot ? r->cfg.snapshot : "-",
                 strerror(errno));
        close(fds[0]);
        return -1;
    }
    *c = (snapshot_child){.pid = pid, .pipe_fd = fds[0], .journal_end = r->journal_len,
                          .started_ms = mono_ms(), .records = mcreg_record_count(r->reg),
                          .log_stats = log_stats};
    memcpy(c->position, r->cl.position, sizeof c->position);
    log_line("snapshot started pid=%d records=%zu fork_us=%llu", (int)pid, c->records,
             (unsigned long long)pause_us);
    return 0;
}

static void child_done(registrar *r, int status)
{
    snapshot_child *c = &r->child;
    char stats[STATS_LINE_MAX];
    int32_t published = 0;
    int have_stats = read(c->pipe_fd, stats, sizeof stats) == (ssize_t)sizeof stats;
    if (have_stats && read(c->pipe_fd, &published, sizeof published) != (ssize_t)sizeof published)
        published = 0;
    close(c->pipe_fd);
    if (published > 0)
        log_line("cluster published position=%s records=%zu", c->position, c->records);
    else if (published < 0)
        log_line("cluster publish-failed position=%s", c->position);
    int step = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (c->log_stats && have_stats) {
        stats[sizeof stats - 1] = '\0';
        log_line("%s", stats);
    } else if (c->log_stats) {
        log_stats(r, NULL); /* the child died first: the parent's, no digest */
    }
    if (r->cfg.snapshot && step == STEP_DONE) {
        struct stat st;
        long long bytes = stat(r->cfg.snapshot, &st) == 0 ? (long long)st.st_size : -1;
        log_line("snapshot written %s records=%zu bytes=%lld ms=%llu", r->cfg.snapshot,
                 c->records, bytes, (unsigned long long)(mono_ms() - c->started_ms));
        if (r->journal_fd >= 0)
            journal_compact(r, cluster_compact_limit(r, c->journal_end));
    } else if (r->cfg.snapshot) {
        const char *why = step > 0 && step < (int)(sizeof write_steps / sizeof *write_steps)
                              ? write_steps[step] : "killed";
        log_line("snapshot failed %s step=%s", r->cfg.snapshot, why);
    }
    int again = c->again;
    *c = (snapshot_child){0};
    if (again)
        persist_background(r, 0);
}

void persist_reap(registrar *r, int wait)
{
    int status;
    while (r->child.pid) {
        pid_t got = waitpid(r->child.pid, &status, wait ? 0 : WNOHANG);
        if (got < 0 && errno == EINTR)
            continue;
        if (got == 0)
            return;
        if (got < 0)
            status = -1;
        if (wait)
            r->child.again = 0;
        child_done(r, status);
    }
}
