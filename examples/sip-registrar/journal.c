/*
 * journal.c - --journal FILE: the changes the library drains, appended and
 * fdatasync'ed each turn of the loop before any datagram of that turn is
 * sent (group commit), replayed at start after the snapshot.
 *
 * The file is the drained buffers back to back, nothing else: each is one
 * self-delimiting CBOR item with a CRC-32C, so the whole file is also what
 * mcreg_changes_apply takes in one call. At start they are applied one by
 * one, so that a last buffer cut short by a crash fails on its own and the
 * buffers before it are kept. A write cut short leaves a prefix of a
 * buffer (or, on some file systems, zeros) at the end, never bytes in the
 * middle: a bad buffer followed by a good one is damage, not a crash, and
 * stops the start with the file left as it is.
 *
 * Compaction (after a snapshot is written, persist.c): the bytes appended
 * since the snapshot's fork are copied to FILE.tmp, fdatasync'ed and
 * renamed over FILE, then the directory is fsynced. A crash before the
 * rename leaves the whole journal beside the new snapshot: replaying
 * buffers the snapshot already holds changes nothing (apply is
 * idempotent).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registrar.h"

/* A journal longer than this is refused at start (it is compacted at each
 * snapshot; without --snapshot it grows without bound). */
#define JOURNAL_MAX_BYTES ((uint64_t)4 << 30)
/* Arrays and maps of a change buffer nest a few levels deep. */
#define CBOR_MAX_DEPTH 16

enum { ITEM_WHOLE = 0, ITEM_CUT = 1, ITEM_BAD = -1 };

/* Where the CBOR item at b[pos] ends (*end): ITEM_WHOLE; ITEM_CUT when the
 * bytes stop inside it; ITEM_BAD for what no drained buffer holds
 * (indefinite lengths, reserved heads, deeper nesting). Only to find the
 * buffers' bounds: the library checks their contents. */
static int cbor_item_end(const uint8_t *b, size_t len, size_t pos, int depth, size_t *end)
{
    if (depth > CBOR_MAX_DEPTH)
        return ITEM_BAD;
    if (pos >= len)
        return ITEM_CUT;
    unsigned major = b[pos] >> 5, ai = b[pos] & 31u;
    pos++;
    uint64_t val = ai;
    if (ai >= 24 && ai <= 27) {
        size_t n = (size_t)1 << (ai - 24);
        if (len - pos < n)
            return ITEM_CUT;
        val = 0;
        for (size_t i = 0; i < n; i++)
            val = val << 8 | b[pos + i];
        pos += n;
    } else if (ai > 27) {
        return ITEM_BAD;
    }
    switch (major) {
    case 2:
    case 3:
        if (val > len - pos)
            return ITEM_CUT;
        pos += (size_t)val;
        break;
    case 4:
    case 5:
        if (major == 5 && val > UINT64_MAX / 2)
            return ITEM_BAD;
        for (uint64_t i = 0, n = major == 5 ? 2 * val : val; i < n; i++) {
            if (pos >= len) /* every item takes a byte at least */
                return ITEM_CUT;
            int rc = cbor_item_end(b, len, pos, depth + 1, &pos);
            if (rc != ITEM_WHOLE)
                return rc;
        }
        break;
    case 6:
        return cbor_item_end(b, len, pos, depth + 1, end);
    default: /* 0, 1, 7: the head is the item */
        break;
    }
    *end = pos;
    return ITEM_WHOLE;
}

static int all_zero(const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (b[i])
            return 0;
    return 1;
}

static int read_journal(int fd, const char *file, uint8_t **out, size_t *out_len)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > JOURNAL_MAX_BYTES) {
        fprintf(stderr, "mcreg-registrar: journal %s: not a regular file of at most %llu bytes; "
                        "not starting, the file is left as it is\n", file,
                (unsigned long long)JOURNAL_MAX_BYTES);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    size_t done = 0;
    while (buf && done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (!buf || done < len) {
        fprintf(stderr, "mcreg-registrar: journal %s: cannot read it: %s; not starting\n", file,
                buf ? strerror(errno) : "out of memory");
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Applies the buffers one by one; *kept: the bytes of the whole ones. 0, or
 * -1 with a message (damage before the end, an unknown version, memory). */
static int replay(registrar *r, const uint8_t *buf, size_t len, size_t *kept, size_t *applied)
{
    size_t pos = 0;
    *applied = 0;
    while (pos < len) {
        size_t end = len;
        int shape = cbor_item_end(buf, len, pos, 0, &end);
        if (shape == ITEM_BAD)
            end = pos + 1;
        int rc = mcreg_changes_apply(r->reg, buf + pos, end - pos, wall_ms());
        notify_flush(r);
        if (rc == MCREG_OK) {
            (*applied)++;
            /* Redis may not have had it before the stop. */
            if (r->cl.on)
                cluster_requeue(r, buf + pos, end - pos, end);
            pos = end;
            continue;
        }
        /* A crash mid-write leaves a cut buffer last, or zeros. */
        if (rc == MCREG_ERR_FORMAT && (shape == ITEM_CUT || all_zero(buf + end, len - end))) {
            log_line("journal torn %s at=%zu dropped=%zu error=%s: the last buffer, cut short "
                     "by a crash, is dropped; the %zu before it are kept", r->cfg.journal, pos,
                     len - pos, mcreg_strerror(rc), *applied);
            break;
        }
        fprintf(stderr, "mcreg-registrar: journal %s: the buffer at byte %zu: %s (%d), and %zu "
                        "bytes follow it: damage, not a torn end; not starting, the file is "
                        "left as it is\n", r->cfg.journal, pos, mcreg_strerror(rc), rc, len - end);
        return -1;
    }
    *kept = pos;
    return 0;
}

/* Test hook: µs each commit waits before its write, a slow disk, so that
 * a test's SIGKILL lands between a turn's handling and its journal write. */
static unsigned commit_delay_us;

int journal_open(registrar *r)
{
    const char *delay = getenv("MCREG_REGISTRAR_JOURNAL_DELAY_US");
    uint64_t us;
    commit_delay_us = delay && parse_decimal(delay, &us) == 0 && us <= 1000000 ? (unsigned)us : 0;
    const char *file = r->cfg.journal;
    r->journal_fd = -1;
    char *tmp = persist_sibling(file, ".tmp");
    if (!tmp) {
        fprintf(stderr, "mcreg-registrar: journal %s: out of memory; not starting\n", file);
        return -1;
    }
    /* A compaction cut short: the journal itself is whole. */
    unlink(tmp);
    free(tmp);
    int fd = open(file, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "mcreg-registrar: journal %s: cannot open it: %s; not starting (the "
                        "directory must exist and be writable)\n", file, strerror(errno));
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, kept = 0, applied = 0;
    if (read_journal(fd, file, &buf, &len) != 0 || replay(r, buf, len, &kept, &applied) != 0) {
        free(buf);
        close(fd);
        return -1;
    }
    free(buf);
    if (kept < len && (ftruncate(fd, (off_t)kept) != 0 || fsync(fd) != 0)) {
        fprintf(stderr, "mcreg-registrar: journal %s: cannot cut its torn end: %s; not starting\n",
                file, strerror(errno));
        close(fd);
        return -1;
    }
    r->journal_fd = fd;
    r->journal_len = kept;
    log_line("journal replayed %s buffers=%zu bytes=%zu records=%zu", file, applied, kept,
             mcreg_record_count(r->reg));
    return 0;
}

int journal_commit(registrar *r, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!r->cfg.node_id)
        return 0;
    uint8_t *buf;
    size_t len;
    int rc = mcreg_changes_drain(r->reg, &buf, &len);
    if (rc == MCREG_ERR_NOT_FOUND)
        return 0;
    if (rc != MCREG_OK) {
        /* The changes stay pending: the next turn tries again, and this
         * turn's datagrams wait for it. */
        LOG_LIMITED("journal drain-failed error=%s", mcreg_strerror(rc));
        return 1;
    }
    if (r->journal_fd >= 0) {
        if (commit_delay_us)
            usleep(commit_delay_us);
        if (persist_write_all(r->journal_fd, buf, len) != 0 || fdatasync(r->journal_fd) != 0) {
            log_line("journal failed %s error=%s: stopping, nothing of this turn was answered",
                     r->cfg.journal, strerror(errno));
            mcreg_buffer_free(r->reg, buf);
            return -1;
        }
        r->journal_len += len;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Copies [from, end) of the journal to out_fd. */
static int copy_tail(int in_fd, uint64_t from, uint64_t end, int out_fd)
{
    static uint8_t chunk[1 << 16];
    while (from < end) {
        size_t want = end - from < sizeof chunk ? (size_t)(end - from) : sizeof chunk;
        ssize_t n = pread(in_fd, chunk, want, (off_t)from);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || persist_write_all(out_fd, chunk, (size_t)n) != 0)
            return -1;
        from += (uint64_t)n;
    }
    return 0;
}

void journal_compact(registrar *r, uint64_t from)
{
    const char *file = r->cfg.journal;
    if (r->journal_fd < 0 || from > r->journal_len)
        return;
    char *tmp = persist_sibling(file, ".tmp");
    int fd = tmp ? open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600) : -1;
    const char *step = tmp ? "open" : "out of memory";
    int ok = fd >= 0 && (step = "copy", copy_tail(r->journal_fd, from, r->journal_len, fd) == 0) &&
             (step = "fdatasync", fdatasync(fd) == 0) &&
             (step = "rename", rename(tmp, file) == 0);
    if (ok) {
        persist_sync_directory(file);
        close(r->journal_fd);
        r->journal_fd = fd;
        log_line("journal compacted %s bytes=%llu dropped=%llu", file,
                 (unsigned long long)(r->journal_len - from), (unsigned long long)from);
        r->journal_len -= from;
        cluster_journal_compacted(r, from);
    } else {
        /* The whole journal stays: longer, as correct. */
        log_line("journal compact-failed %s step=%s error=%s", file, step, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
    }
    free(tmp);
}

void journal_close(registrar *r)
{
    if (r->journal_fd >= 0)
        close(r->journal_fd);
    r->journal_fd = -1;
}
