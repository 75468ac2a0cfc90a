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
    size_t n = strlen(file) + 5;
    char *tmp = malloc(n);
    if (!tmp) {
        fprintf(stderr, "mcreg-registrar: snapshot %s: out of memory; not starting\n", file);
        return -1;
    }
    snprintf(tmp, n, "%s.tmp", file);
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

static int write_all(int fd, const uint8_t *buf, size_t len)
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
static void sync_directory(const char *file)
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

int persist_write(registrar *r)
{
    const char *file = r->cfg.snapshot;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = mcreg_snapshot(r->reg, &buf, &len);
    if (rc != MCREG_OK) {
        log_line("snapshot failed %s error=%s", file, mcreg_strerror(rc));
        return -1;
    }
    size_t n = strlen(file) + 5;
    char *tmp = malloc(n);
    int fd = -1;
    const char *step = "out of memory";
    if (tmp) {
        snprintf(tmp, n, "%s.tmp", file);
        step = "open";
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    int ok = fd >= 0 && (step = "write", write_all(fd, buf, len) == 0) &&
             (step = "fsync", fsync(fd) == 0);
    if (fd >= 0 && close(fd) != 0 && ok) {
        step = "close";
        ok = 0;
    }
    if (ok && (step = "rename", rename(tmp, file) != 0))
        ok = 0;
    if (ok) {
        sync_directory(file);
        log_line("snapshot written %s records=%zu bytes=%zu", file, mcreg_record_count(r->reg), len);
    } else {
        log_line("snapshot failed %s step=%s error=%s", file, step, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    }
    free(tmp);
    mcreg_buffer_free(r->reg, buf);
    return ok ? 0 : -1;
}
