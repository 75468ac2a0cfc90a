/*
 * mcreg-dump.c - print a snapshot file as JSON lines.
 *
 *   mcreg-dump [--user ID] FILE     (FILE "-" reads standard input)
 *
 * Restores the snapshot into a registry with UE exclusive off (so that any
 * valid snapshot loads, shared UEs included) at now_ms 0 (so that no record
 * is dropped as expired, but for one with expires_at 0, which a restore
 * always drops), then prints one JSON object a line:
 *
 *   {"user":"...","ue":"...","contact":"..."|null,"call_id":"..."|null,
 *    "cseq":N,"registered_at":N,"expires_at":N,
 *    "settings":[{"key":"...","type":"int|text|bytes|bool","value":...},...]}
 *
 * for each record (on one line), then {"user":"...","max_ues":N} for each
 * per-user limit. Records come in snapshot order, sorted by user id then UE
 * id, bytewise; limits sorted by user id. Settings keep their order. Text is
 * JSON-escaped (quote, backslash, and every control character: \b \f \n \r
 * \t, else \u00XX, so U+0000 is \u0000); other characters are copied as the
 * UTF-8 they are. Bytes are lowercase hex. Integers are exact: int settings
 * are int64, times uint64.
 *
 * --user ID prints only that user's records and limit.
 *
 * Exit status: 0 printed; 1 usage; 2 the file could not be read (or the
 * output not written); 3 the library refused the snapshot (its
 * mcreg_strerror() and mcreg_error_detail(), which says at which byte and
 * why, go to standard error) or failed.
 *
 * Records are read through mcreg_foreach() (mcreg_user_foreach() with
 * --user) and sorted here; limits through mcreg_limit_foreach(), which
 * gives them in user id order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcreg.h"

#define EXIT_USAGE 1
#define EXIT_READ 2
#define EXIT_LIBRARY 3

static const char *prog = "mcreg-dump";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--user ID] FILE\n"
            "Print the libmcreg snapshot in FILE (- for standard input) as JSON, one\n"
            "record a line sorted by user id then UE id, then one line per user limit.\n"
            "  --user ID   only that user's records and limit\n"
            "  --help      this text\n"
            "Exit status: 0 ok, 1 usage, 2 unreadable file, 3 snapshot refused.\n",
            prog);
}

/* ---- input ---------------------------------------------------------------- */

/* The whole stream into a malloc'd buffer. 0 on success. */
static int read_all(FILE *f, uint8_t **buf, size_t *len)
{
    size_t cap = 65536, n = 0;
    uint8_t *p = malloc(cap);
    if (!p)
        return -1;
    for (;;) {
        if (n == cap) {
            uint8_t *q = cap > SIZE_MAX / 2 ? NULL : realloc(p, cap * 2);
            if (!q) {
                free(p);
                errno = ENOMEM;
                return -1;
            }
            p = q;
            cap *= 2;
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(p);
                return -1;
            }
            break;
        }
    }
    *buf = p;
    *len = n;
    return 0;
}

/* ---- JSON output ------------------------------------------------------------ */

static void json_string(FILE *out, const char *s, size_t len)
{
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (c < 0x20)
                fprintf(out, "\\u%04x", c);
            else
                putc(c, out);
        }
    }
    putc('"', out);
}

static void json_cstring(FILE *out, const char *s)
{
    if (s)
        json_string(out, s, strlen(s));
    else
        fputs("null", out);
}

static void print_setting(FILE *out, const mcreg_setting *s)
{
    fputs("{\"key\":", out);
    json_cstring(out, s->key);
    switch (s->type) {
    case MCREG_VAL_INT:
        fprintf(out, ",\"type\":\"int\",\"value\":%" PRId64 "}", s->v.i);
        break;
    case MCREG_VAL_TEXT:
        fputs(",\"type\":\"text\",\"value\":", out);
        json_string(out, s->v.text.ptr, s->v.text.len);
        putc('}', out);
        break;
    case MCREG_VAL_BYTES:
        fputs(",\"type\":\"bytes\",\"value\":\"", out);
        for (size_t i = 0; i < s->v.bytes.len; i++)
            fprintf(out, "%02x", s->v.bytes.ptr[i]);
        fputs("\"}", out);
        break;
    case MCREG_VAL_BOOL:
        fprintf(out, ",\"type\":\"bool\",\"value\":%s}", s->v.b ? "true" : "false");
        break;
    }
}

static void print_record(FILE *out, const mcreg_record *r)
{
    fputs("{\"user\":", out);
    json_cstring(out, mcreg_record_user_id(r));
    fputs(",\"ue\":", out);
    json_cstring(out, mcreg_record_ue_id(r));
    fputs(",\"contact\":", out);
    json_cstring(out, mcreg_record_contact(r));
    fputs(",\"call_id\":", out);
    json_cstring(out, mcreg_record_call_id(r));
    fprintf(out,
            ",\"cseq\":%" PRIu32 ",\"registered_at\":%" PRIu64 ",\"expires_at\":%" PRIu64
            ",\"settings\":[",
            mcreg_record_cseq(r), mcreg_record_registered_at(r), mcreg_record_expires_at(r));
    size_t n = mcreg_record_setting_count(r);
    for (size_t i = 0; i < n; i++) {
        if (i)
            putc(',', out);
        print_setting(out, mcreg_record_setting_at(r, i));
    }
    fputs("]}\n", out);
}

/* ---- records ------------------------------------------------------------------- */

typedef struct collect {
    const mcreg_record **v;
    size_t n, cap;
} collect;

static int collect_one(const mcreg_record *r, void *ud)
{
    collect *c = ud;
    if (c->n == c->cap)
        return 1; /* cannot happen: the array has mcreg_record_count() slots */
    c->v[c->n++] = r;
    return 0;
}

/* Snapshot order: user id, then UE id, bytewise (strcmp compares bytes as
 * unsigned char). */
static int record_order(const void *a, const void *b)
{
    const mcreg_record *x = *(const mcreg_record *const *)a;
    const mcreg_record *y = *(const mcreg_record *const *)b;
    int c = strcmp(mcreg_record_user_id(x), mcreg_record_user_id(y));
    return c ? c : strcmp(mcreg_record_ue_id(x), mcreg_record_ue_id(y));
}

/* 0, or an MCREG_ERR_* code. */
static int print_records(FILE *out, const mcreg_registry *reg, const char *only_user)
{
    collect c = {0};
    c.cap = only_user ? mcreg_user_ue_count(reg, only_user) : mcreg_record_count(reg);
    if (c.cap == 0)
        return MCREG_OK;
    c.v = malloc(c.cap * sizeof *c.v);
    if (!c.v)
        return MCREG_ERR_NOMEM;
    int rc = only_user ? mcreg_user_foreach(reg, only_user, collect_one, &c)
                       : mcreg_foreach(reg, collect_one, &c);
    if (rc != MCREG_OK) {
        free(c.v);
        return rc > 0 ? MCREG_ERR_INVALID : rc;
    }
    qsort(c.v, c.n, sizeof *c.v, record_order);
    for (size_t i = 0; i < c.n; i++)
        print_record(out, c.v[i]);
    free(c.v);
    return MCREG_OK;
}

/* ---- limits ------------------------------------------------------------------ */

static void print_limit(FILE *out, const char *user_id, uint32_t max)
{
    fputs("{\"user\":", out);
    json_cstring(out, user_id);
    fprintf(out, ",\"max_ues\":%" PRIu32 "}\n", max);
}

static int limit_visit(const char *user_id, uint32_t max_ues, void *ud)
{
    print_limit(ud, user_id, max_ues);
    return 0;
}

/* 0, or an MCREG_ERR_* code. */
static int print_limits(FILE *out, const mcreg_registry *reg, const char *only_user)
{
    uint32_t max;
    if (!only_user)
        return mcreg_limit_foreach(reg, limit_visit, out);
    if (mcreg_user_max_ues(reg, only_user, &max) == MCREG_OK)
        print_limit(out, only_user, max);
    return MCREG_OK;
}

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *only_user = NULL, *path = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--user") == 0) {
            if (++i == argc) {
                fprintf(stderr, "%s: --user needs an ID\n", prog);
                usage(stderr);
                return EXIT_USAGE;
            }
            only_user = argv[i];
        } else if (strcmp(a, "--") == 0) {
            if (path || i + 2 != argc) {
                usage(stderr);
                return EXIT_USAGE;
            }
            path = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: unknown option %s\n", prog, a);
            usage(stderr);
            return EXIT_USAGE;
        } else if (path) {
            fprintf(stderr, "%s: one FILE only\n", prog);
            usage(stderr);
            return EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (!path) {
        usage(stderr);
        return EXIT_USAGE;
    }

    uint8_t *buf;
    size_t len;
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!in || read_all(in, &buf, &len) != 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(errno));
        if (in && in != stdin)
            fclose(in);
        return EXIT_READ;
    }
    if (in != stdin)
        fclose(in);

    mcreg_options *opt;
    mcreg_registry *reg = NULL;
    int rc = mcreg_options_new(&opt);
    if (rc == MCREG_OK) {
        mcreg_options_set_ue_exclusive(opt, 0);
        rc = mcreg_registry_new(&reg, opt);
        mcreg_options_free(opt);
    }
    if (rc == MCREG_OK)
        rc = mcreg_restore(reg, buf, len, 0);
    free(buf);
    if (rc != MCREG_OK) {
        /* The detail names the byte and the rule: "snapshot: byte 1234:
         * records[5]: map keys out of order". */
        const char *why = mcreg_error_detail(reg);
        fprintf(stderr, "%s: %s: %s%s%s\n", prog, path, mcreg_strerror(rc), *why ? ": " : "",
                why);
        mcreg_registry_free(reg);
        return EXIT_LIBRARY;
    }

    rc = print_records(stdout, reg, only_user);
    if (rc == MCREG_OK)
        rc = print_limits(stdout, reg, only_user);
    mcreg_registry_free(reg);
    if (rc != MCREG_OK) {
        fprintf(stderr, "%s: %s\n", prog, mcreg_strerror(rc));
        return EXIT_LIBRARY;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the output: %s\n", prog, strerror(errno));
        return EXIT_READ;
    }
    return 0;
}
