/*
 * log.c - one line per happening on stderr.
 *
 * Every id in a line comes from the network, so each is escaped: a byte
 * outside 0x21..0x7e, or a backslash, becomes \xHH. Fields stay split by
 * single spaces and a line never carries a newline of its own.
 */
#include <stdarg.h>
#include <stdio.h>

#include "registrar.h"

/* NULL: stderr. */
static FILE *log_stream;

void log_set_stream(FILE *stream)
{
    log_stream = stream;
}

static void log_vline(const char *fmt, va_list ap)
{
    char line[8192];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0)
        return;
    /* One write per line, so lines from a crash-restart loop or a shared
     * terminal do not interleave; an over-long line is cut, not split. */
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len] = '\n';
    fwrite(line, 1, len + 1, log_stream ? log_stream : stderr);
}

void log_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vline(fmt, ap);
    va_end(ap);
}

void log_limited(log_limit *limit, const char *fmt, ...)
{
    uint64_t now = mono_ms();
    if (now - limit->window_ms >= 1000u) {
        if (limit->suppressed)
            log_line("log suppressed=%lu lines like the next in the last second(s)",
                     limit->suppressed);
        limit->window_ms = now;
        limit->lines = 0;
        limit->suppressed = 0;
    }
    if (limit->lines >= LOG_BURST) {
        limit->suppressed++;
        return;
    }
    limit->lines++;
    va_list ap;
    va_start(ap, fmt);
    log_vline(fmt, ap);
    va_end(ap);
}

const char *log_escape(char *out, size_t out_size, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (out_size == 0)
        return "";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= out_size)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 4 >= out_size)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

/* The library's counters (mcreg_stat) as the stats line's text:
 * "stats records=N users=N limits=N tombstones=N bytes=N events=CREATED:N,...",
 * then " digest=HEX" (mcreg_state_digest) with a node id, then the
 * cluster's fields. */
void format_stats(const registrar *r, const uint64_t *digest, char *out, size_t size)
{
    const mcreg_registry *reg = r->reg;
    char digest_field[32] = "";
    if (digest)
        snprintf(digest_field, sizeof digest_field, " digest=%016llx", (unsigned long long)*digest);
    char events[512];
    size_t n = 0;
    events[0] = '\0';
    for (int t = MCREG_EV_CREATED; t <= MCREG_EV_NOTIFY_LOGOFF && n < sizeof(events); t++)
        n += (size_t)snprintf(events + n, sizeof(events) - n, "%s%s:%llu", t ? "," : "",
                              mcreg_event_name((mcreg_event_type)t),
                              (unsigned long long)mcreg_stat(reg, MCREG_STAT_EVENTS_BASE + t));
    char cluster_fields[320];
    cluster_stats(r, cluster_fields, sizeof cluster_fields);
    snprintf(out, size, "stats records=%llu users=%llu limits=%llu tombstones=%llu bytes=%llu "
                        "events=%s%s%s",
             (unsigned long long)mcreg_stat(reg, MCREG_STAT_RECORDS),
             (unsigned long long)mcreg_stat(reg, MCREG_STAT_USERS),
             (unsigned long long)mcreg_stat(reg, MCREG_STAT_USER_LIMITS),
             (unsigned long long)mcreg_stat(reg, MCREG_STAT_TOMBSTONES),
             (unsigned long long)mcreg_stat(reg, MCREG_STAT_BYTES), events, digest_field,
             cluster_fields);
}

void log_stats(const registrar *r, const uint64_t *digest)
{
    char line[STATS_LINE_MAX];
    format_stats(r, digest, line, sizeof line);
    log_line("%s", line);
}
