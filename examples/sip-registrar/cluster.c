/*
 * cluster.c - --redis: the nodes of one cluster share the library's change
 * feed through one Redis stream.
 *
 * Writer (its own connection): each loop turn's drained buffer is one
 * XADD entry {n: node id, c: buffer}, in order, pipelined. Without
 * --journal the turn's responses wait here until Redis acknowledges the
 * entry (and every earlier one): a 200 then means the change is in Redis.
 * With --journal they have left already (the journal made them durable)
 * and the entries go when Redis can take them; the journal is not
 * compacted past what Redis has acknowledged, so a restart sends again what
 * it may not have (applying is idempotent: a duplicate changes nothing).
 *
 * Reader (a second connection, since XREAD BLOCK holds its connection):
 * XREAD BLOCK from the last entry applied, and every entry applied, this
 * node's own included. Every couple of seconds, and on every connect, a
 * Lua script reads the stream's XINFO (without its entries) and whether the
 * last entry applied is still there. A stream that is gone, went back
 * (entries-added, last-generated-id) or lost this node's position (trimmed
 * away, flushed) is a loss: the node merges every state published in Redis
 * and, if it holds records, republishes its whole state as one entry {n, s:
 * snapshot}, so that nothing any node holds is lost. A node with no
 * position joining a stream that has been trimmed merges the published
 * states the same way and reads on from the newest position among them.
 *
 * Published states: the snapshot child (persist.c) writes, in its own
 * blocking connection, KEY:snapshot:NODE {state, position, records}, adds
 * NODE to KEY:nodes and trims the stream below the oldest position
 * published (XTRIM MINID ~), so that a published state and the stream after
 * it always hold everything. A node with no records never publishes: an
 * empty node is never a source. XADD's MAXLEN ~ bounds the stream whatever
 * a dead node's old position says.
 *
 * Every reply from Redis is hostile: shapes are checked, ids parsed, and
 * the library checks every byte it applies.
 */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registrar.h"

/* Not yet in Redis, at most (beyond it, 503 to every REGISTER). */
#define QUEUE_MAX_BYTES ((size_t)256 << 20)
/* XADDs in flight on the writer, at most. */
#define XADD_WINDOW 256u
/* Entries one XREAD returns, at most, and how long it blocks. */
#define XREAD_COUNT "256"
#define XREAD_COUNT_N 256u
#define XREAD_BLOCK_MS 1000u
#define REPLY_TIMEOUT_MS 2000u
/* A published state may be large (10^6 records: 100 MB or more). */
#define MERGE_TIMEOUT_MS 30000u
#define CHECK_EVERY_MS 2000u
/* A journal replayed at start goes to Redis in entries of about this. */
#define REQUEUE_CHUNK ((size_t)1 << 20)
#define NODE_NAME_MAX 20u /* a node id in decimal */

enum { R_DOWN, R_CHECK, R_MERGE, R_READ };

typedef struct publish_batch {
    struct publish_batch *next;
    uint8_t *buf;
    size_t len;
    int from_library; /* mcreg_buffer_free, else free */
    int whole_state;  /* field s: a snapshot, else c: a change buffer */
    uint64_t journal_end;
    uint64_t made_ms; /* wall clock at the turn's end (0: replayed at start) */
    held_list held; /* without --journal: sent once Redis has it */
} publish_batch;

/* ---- stream ids ------------------------------------------------------------- */

/* "ms-seq", both decimal: 0, or -1 when malformed. */
static int parse_id(const char *s, size_t len, uint64_t *ms, uint64_t *seq)
{
    char text[STREAM_ID_MAX];
    if (len == 0 || len >= sizeof text)
        return -1;
    memcpy(text, s, len);
    text[len] = '\0';
    char *dash = strchr(text, '-');
    if (!dash)
        return -1;
    *dash = '\0';
    return parse_decimal(text, ms) == 0 && parse_decimal(dash + 1, seq) == 0 ? 0 : -1;
}

static int valid_id(const char *s, size_t len)
{
    uint64_t ms, seq;
    return parse_id(s, len, &ms, &seq) == 0;
}

/* <0, 0, >0; both valid ids. */
static int cmp_id(const char *a, const char *b)
{
    uint64_t am = 0, as = 0, bm = 0, bs = 0;
    parse_id(a, strlen(a), &am, &as);
    parse_id(b, strlen(b), &bm, &bs);
    if (am != bm)
        return am < bm ? -1 : 1;
    return as < bs ? -1 : as > bs;
}

/* LEN < STREAM_ID_MAX: a valid id. */
static void copy_id(char dst[STREAM_ID_MAX], const char *id, size_t len)
{
    memcpy(dst, id, len);
    dst[len] = '\0';
}

/* ---- flags and start ---------------------------------------------------------- */

int cluster_parse(config *cfg, cluster *cl)
{
    address a;
    if (net_parse_address(cfg->redis, &a) != 0) {
        fprintf(stderr, "mcreg-registrar: --redis %s: not ADDR:PORT (numeric; [::1]:6379 for "
                        "IPv6)\n", cfg->redis);
        return -1;
    }
    char text[ADDRESS_STR_MAX];
    net_format_address(&a, text);
    /* "1.2.3.4:6379" or "[::1]:6379": the host without brackets. */
    const char *colon = strrchr(text, ':');
    const char *host = text[0] == '[' ? text + 1 : text;
    size_t host_len = (size_t)(colon - host) - (text[0] == '[');
    uint64_t port = 0;
    if (host_len >= sizeof cl->host || parse_decimal(colon + 1, &port) != 0 || port == 0) {
        fprintf(stderr, "mcreg-registrar: --redis %s: no port\n", cfg->redis);
        return -1;
    }
    memcpy(cl->host, host, host_len);
    cl->host[host_len] = '\0';
    cl->port = (int)port;
    size_t key_len = strlen(cfg->redis_stream);
    if (key_len == 0 || key_len > 256) {
        fprintf(stderr, "mcreg-registrar: --redis-stream: 1 to 256 bytes\n");
        return -1;
    }
    snprintf(cl->key_nodes, sizeof cl->key_nodes, "%s:nodes", cfg->redis_stream);
    snprintf(cl->key_prefix, sizeof cl->key_prefix, "%s:snapshot:", cfg->redis_stream);
    strcpy(cl->position, "0-0");
    cl->on = 1;
    return 0;
}

/* FILE.cursor: the stream position the snapshot holds. Absent: none (a
 * first start, or a snapshot from before --redis). */
static int read_cursor(registrar *r)
{
    char *file = persist_sibling(r->cfg.snapshot, ".cursor");
    if (!file) {
        fprintf(stderr, "mcreg-registrar: out of memory\n");
        return -1;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (fd >= 0) {
        char text[STREAM_ID_MAX + 2];
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        size_t len = n > 0 ? (size_t)n : 0;
        while (len && (text[len - 1] == '\n'))
            len--;
        if (!valid_id(text, len)) {
            fprintf(stderr, "mcreg-registrar: %s: not a stream id; not starting, the file is "
                            "left as it is\n", file);
            rc = -1;
        } else {
            copy_id(r->cl.position, text, len);
        }
    } else if (errno != ENOENT) {
        fprintf(stderr, "mcreg-registrar: %s: %s; not starting\n", file, strerror(errno));
        rc = -1;
    }
    free(file);
    return rc;
}

int cluster_open(registrar *r)
{
    cluster *cl = &r->cl;
    cl->lag = calloc(LAG_BINS, sizeof *cl->lag);
    if (!cl->lag) {
        fprintf(stderr, "mcreg-registrar: out of memory\n");
        return -1;
    }
    if (r->cfg.snapshot && read_cursor(r) != 0)
        return -1;
    rconn_init(&cl->writer, r, "writer");
    rconn_init(&cl->reader, r, "reader");
    /* The journal replayed at start is queued whole (cluster_requeue):
     * none of it is known to be in Redis. */
    cl->published_journal_end = 0;
    return 0;
}

void cluster_connect(registrar *r)
{
    cluster *cl = &r->cl;
    log_line("cluster start node=%" PRIu64 " stream=%s position=%s queued_bytes=%zu",
             r->cfg.node_id, r->cfg.redis_stream, cl->position, cl->queued_bytes);
    rconn_connect(&cl->writer, cl->host, cl->port, r->cfg.redis);
    rconn_connect(&cl->reader, cl->host, cl->port, r->cfg.redis);
}

/* ---- the writer ------------------------------------------------------------------ */

static void free_batch(registrar *r, publish_batch *b)
{
    if (b->from_library)
        mcreg_buffer_free(r->reg, b->buf);
    else
        free(b->buf);
    net_free_list(&b->held);
    free(b);
}

static void append_batch(cluster *cl, publish_batch *b)
{
    if (cl->tail)
        cl->tail->next = b;
    else
        cl->head = b;
    cl->tail = b;
    if (!cl->next_send)
        cl->next_send = b;
    cl->queued_bytes += b->len;
}

static publish_batch *new_batch(uint8_t *buf, size_t len, int from_library, int whole_state,
                                uint64_t journal_end)
{
    publish_batch *b = calloc(1, sizeof *b);
    if (b)
        *b = (publish_batch){.buf = buf, .len = len, .from_library = from_library,
                             .whole_state = whole_state, .journal_end = journal_end};
    return b;
}

/* Moves every datagram of FROM to the end of TO; what does not fit in
 * memory is dropped, as the network may drop it. */
static void move_held(held_list *to, held_list *from)
{
    if (!from->n)
        return;
    if (!to->items) {
        *to = *from;
        *from = (held_list){0};
        return;
    }
    if (to->cap - to->n < from->n) {
        size_t cap = to->n + from->n;
        held_datagram *grown = realloc(to->items, cap * sizeof *grown);
        if (grown) {
            to->items = grown;
            to->cap = cap;
        }
    }
    size_t fit = to->cap - to->n < from->n ? to->cap - to->n : from->n;
    memcpy(to->items + to->n, from->items, fit * sizeof *from->items);
    to->n += fit;
    for (size_t i = fit; i < from->n; i++)
        free(from->items[i].bytes);
    from->n = 0;
}

/* Redis has the head: its datagrams go. */
static void on_xadd(registrar *r, redisReply *reply, void *arg)
{
    cluster *cl = &r->cl;
    (void)arg;
    /* The connection went, or is going (an earlier reply failed): the
     * writer sends again from the head on a new one. */
    if (!reply || cl->writer_reset)
        return;
    publish_batch *b = cl->head;
    if (!b || b == cl->next_send)
        return; /* not ours (cannot happen: replies come in order) */
    if (reply->type != REDIS_REPLY_STRING) {
        LOG_LIMITED("redis xadd-failed error=%.*s", reply->type == REDIS_REPLY_ERROR
                    ? (int)reply->len : 1, reply->type == REDIS_REPLY_ERROR ? reply->str : "?");
        /* Sent again from here on a new connection, so that no entry is
         * acknowledged out of turn. */
        cl->writer_reset = "bad reply";
        return;
    }
    cl->writer_ok = 1;
    cl->head = b->next;
    if (!cl->head)
        cl->tail = NULL;
    cl->queued_bytes -= b->len;
    if (r->journal_fd >= 0)
        cl->published_journal_end = b->journal_end;
    net_send_list(r, &b->held);
    free_batch(r, b);
}

/* A connection counts as Redis reachable once Redis has answered on it: a
 * stopped server still completes the TCP handshake. */
static void on_ping(registrar *r, redisReply *reply, void *arg)
{
    (void)arg;
    if (reply && reply->type != REDIS_REPLY_ERROR)
        r->cl.writer_ok = 1;
}

static void send_ping(registrar *r)
{
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    if (rconn_command(&r->cl.writer, on_ping, NULL, REPLY_TIMEOUT_MS, 1, argv, lens) != 0)
        r->cl.writer_reset = "cannot send";
}

static int send_batch(registrar *r, publish_batch *b)
{
    cluster *cl = &r->cl;
    char node[NODE_NAME_MAX + 1], maxlen[NODE_NAME_MAX + 1], made[NODE_NAME_MAX + 1];
    snprintf(node, sizeof node, "%" PRIu64, r->cfg.node_id);
    snprintf(maxlen, sizeof maxlen, "%" PRIu64, r->cfg.redis_maxlen);
    snprintf(made, sizeof made, "%" PRIu64, b->made_ms);
    /* t: when the turn ended, what its 200s wait for at most (the
     * replication lag is measured from there). */
    const char *argv[] = {"XADD", r->cfg.redis_stream, "MAXLEN", "~", maxlen, "*", "n", node,
                          "t", made, b->whole_state ? "s" : "c", (const char *)b->buf};
    int argc = 12;
    size_t lens[12];
    for (int i = 0; i < argc - 1; i++)
        lens[i] = strlen(argv[i]);
    lens[argc - 1] = b->len;
    if (!b->made_ms) { /* no t */
        argv[8] = argv[10];
        argv[9] = argv[11];
        lens[8] = lens[10];
        lens[9] = lens[11];
        argc = 10;
    }
    return rconn_command(&cl->writer, on_xadd, NULL, REPLY_TIMEOUT_MS, argc, argv, lens);
}

static void send_queued(registrar *r)
{
    cluster *cl = &r->cl;
    while (cl->next_send && rconn_ready(&cl->writer, RCONN_MAX_PENDING - XADD_WINDOW + 1)) {
        if (send_batch(r, cl->next_send) != 0)
            break;
        cl->next_send = cl->next_send->next;
    }
}

void cluster_commit(registrar *r, uint8_t *buf, size_t len)
{
    cluster *cl = &r->cl;
    int journaled = r->journal_fd >= 0;
    if (buf) {
        publish_batch *b = new_batch(buf, len, 1, 0, r->journal_len);
        if (b)
            b->made_ms = wall_ms();
        if (!b) {
            /* Unsent: the resync of a peer, or this node's next
             * republication, carries it. */
            LOG_LIMITED("cluster queue-failed bytes=%zu error=out of memory", len);
            mcreg_buffer_free(r->reg, buf);
        } else {
            if (!journaled)
                move_held(&b->held, &r->held);
            append_batch(cl, b);
        }
    } else if (!journaled && cl->tail) {
        /* Behind what is not yet in Redis: a replayed 200 or a MESSAGE
         * about a change leaves only after the change is in Redis. */
        move_held(&cl->tail->held, &r->held);
    }
    send_queued(r);
}

void cluster_requeue(registrar *r, const uint8_t *buf, size_t len, uint64_t journal_end)
{
    cluster *cl = &r->cl;
    publish_batch *t = cl->tail;
    /* Buffers back to back are one valid entry: fewer, larger XADDs. */
    if (t && !t->from_library && !t->whole_state && t->len + len <= REQUEUE_CHUNK) {
        uint8_t *grown = realloc(t->buf, t->len + len);
        if (grown) {
            memcpy(grown + t->len, buf, len);
            t->buf = grown;
            t->len += len;
            t->journal_end = journal_end;
            cl->queued_bytes += len;
            return;
        }
    }
    uint8_t *copy = malloc(len ? len : 1);
    publish_batch *b = copy ? new_batch(copy, len, 0, 0, journal_end) : NULL;
    if (!b) {
        free(copy);
        LOG_LIMITED("cluster queue-failed bytes=%zu error=out of memory", len);
        return;
    }
    memcpy(copy, buf, len);
    append_batch(cl, b);
}

int cluster_unavailable(const registrar *r)
{
    const cluster *cl = &r->cl;
    if (!cl->on)
        return 0;
    return (r->journal_fd < 0 && !cl->writer_ok) || cl->queued_bytes > QUEUE_MAX_BYTES;
}

uint64_t cluster_compact_limit(const registrar *r, uint64_t from)
{
    const cluster *cl = &r->cl;
    if (!cl->on || cl->published_journal_end >= from)
        return from;
    return cl->published_journal_end;
}

/* The journal lost the bytes before FROM: offsets shift. */
void cluster_journal_compacted(registrar *r, uint64_t from)
{
    cluster *cl = &r->cl;
    if (!cl->on)
        return;
    cl->published_journal_end -= from < cl->published_journal_end ? from : cl->published_journal_end;
    for (publish_batch *b = cl->head; b; b = b->next)
        b->journal_end -= from < b->journal_end ? from : b->journal_end;
}

/* Whole state as one entry, queued behind what is pending. */
static void republish(registrar *r)
{
    uint8_t *snap;
    size_t len;
    int rc = mcreg_snapshot(r->reg, &snap, &len);
    publish_batch *b = rc == MCREG_OK ? new_batch(snap, len, 1, 1, r->journal_len) : NULL;
    if (!b) {
        if (rc == MCREG_OK)
            mcreg_buffer_free(r->reg, snap);
        log_line("cluster republish-failed error=%s", rc == MCREG_OK ? "out of memory"
                                                                     : mcreg_strerror(rc));
        return;
    }
    append_batch(&r->cl, b);
    log_line("cluster republished bytes=%zu records=%zu", len, mcreg_record_count(r->reg));
    send_queued(r);
}

/* ---- the reader ---------------------------------------------------------------------- */

/* The check: XINFO STREAM without its entries (a republished state may be
 * large). {0}: no stream. */
static const char CHECK_SCRIPT[] =
    "local info = redis.pcall('XINFO', 'STREAM', KEYS[1])\n"
    "if type(info) ~= 'table' or info.err then return {0} end\n"
    "local f = {}\n"
    "for i = 1, #info, 2 do f[info[i]] = info[i + 1] end\n"
    "return {1, f['length'], f['entries-added'], f['last-generated-id'],\n"
    "        f['recorded-first-entry-id']}\n";

static void on_check(registrar *r, redisReply *reply, void *arg);
static void on_xread(registrar *r, redisReply *reply, void *arg);
static void start_merge(registrar *r, const char *reason, int reset);

static void send_check(registrar *r)
{
    cluster *cl = &r->cl;
    const char *argv[] = {"EVAL", CHECK_SCRIPT, "1", r->cfg.redis_stream};
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        lens[i] = strlen(argv[i]);
    cl->next_check_ms = mono_ms() + CHECK_EVERY_MS;
    if (rconn_command(&cl->reader, on_check, NULL, REPLY_TIMEOUT_MS, 4, argv, lens) != 0)
        cl->reader_reset = "cannot send";
}

static void send_xread(registrar *r)
{
    cluster *cl = &r->cl;
    char block[16];
    snprintf(block, sizeof block, "%u", XREAD_BLOCK_MS);
    const char *argv[] = {"XREAD", "COUNT", XREAD_COUNT, "BLOCK", block, "STREAMS",
                          r->cfg.redis_stream, cl->position};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    cl->rstate = R_READ;
    if (rconn_command(&cl->reader, on_xread, NULL, XREAD_BLOCK_MS + REPLY_TIMEOUT_MS, 8, argv,
                      lens) != 0)
        cl->reader_reset = "cannot send";
}

static int reply_is(const redisReply *x, int type)
{
    return x && x->type == type;
}

static int reply_text(const redisReply *x)
{
    return x && (x->type == REDIS_REPLY_STRING || x->type == REDIS_REPLY_STATUS);
}

/* What the check found: NULL (nothing lost), or the reason for a resync.
 * Entries after this node's position are gone when the stream's first
 * entry is beyond it (or, the stream empty, its last): trimmed or flushed.
 * The position itself may be gone (trimmed up to it exactly, or the
 * node bootstrapped from a published position): nothing after it is. */
static const char *judge(cluster *cl, const redisReply *x, int *reset)
{
    *reset = 0;
    int fresh = strcmp(cl->position, "0-0") == 0;
    if (x->element[0]->integer == 0) {
        if (!fresh || cl->seen_stream) {
            *reset = 1;
            return "stream-missing";
        }
        return NULL; /* nothing yet: the first XADD creates it */
    }
    if (x->elements < 5 || !reply_is(x->element[1], REDIS_REPLY_INTEGER) ||
        !reply_is(x->element[2], REDIS_REPLY_INTEGER) || !reply_text(x->element[3]) ||
        !reply_text(x->element[4]) || !valid_id(x->element[3]->str, x->element[3]->len) ||
        !valid_id(x->element[4]->str, x->element[4]->len))
        return "bad-reply";
    uint64_t length = (uint64_t)x->element[1]->integer;
    uint64_t added = (uint64_t)x->element[2]->integer;
    const char *last = x->element[3]->str, *first = x->element[4]->str;
    uint64_t seen = cl->seen_entries_added;
    cl->seen_stream = 1;
    cl->seen_entries_added = added;
    if (added < seen) {
        *reset = 1;
        return "entries-added-back";
    }
    if (fresh) {
        /* Entries were trimmed before this node read them. */
        if (added > length)
            return "joined-trimmed";
        return NULL;
    }
    if (cmp_id(last, cl->position) < 0) {
        *reset = 1;
        return "last-id-back";
    }
    if (length ? cmp_id(first, cl->position) > 0 : cmp_id(last, cl->position) > 0)
        return "trimmed";
    return NULL;
}

static void on_check(registrar *r, redisReply *reply, void *arg)
{
    cluster *cl = &r->cl;
    (void)arg;
    if (!reply || cl->reader_reset)
        return; /* the connection went, or is going */
    if (!reply_is(reply, REDIS_REPLY_ARRAY) || reply->elements < 1 ||
        !reply_is(reply->element[0], REDIS_REPLY_INTEGER)) {
        LOG_LIMITED("cluster check-failed error=%.*s", reply_is(reply, REDIS_REPLY_ERROR)
                    ? (int)reply->len : 9, reply_is(reply, REDIS_REPLY_ERROR) ? reply->str
                                                                           : "bad-reply");
        cl->reader_reset = "bad reply";
        return;
    }
    int reset;
    const char *gap = judge(cl, reply, &reset);
    if (gap && strcmp(gap, "bad-reply") == 0) {
        LOG_LIMITED("cluster check-failed error=bad-reply");
        cl->reader_reset = "bad reply";
        return;
    }
    if (cl->rstate == R_CHECK) {
        /* On connect: decide before reading. */
        if (gap)
            start_merge(r, gap, reset);
        else
            send_xread(r);
    } else if (gap) {
        /* An XREAD is in flight behind this: its entries are dropped and
         * the merge starts from its reply. */
        cl->gap = gap;
        cl->gap_reset = reset;
    }
}

static void record_lag(cluster *cl, uint64_t id_ms)
{
    uint64_t now = wall_ms();
    uint64_t lag = now > id_ms ? now - id_ms : 0;
    cl->lag[lag < LAG_BINS ? lag : LAG_BINS - 1]++;
    cl->lag_n++;
}

/* A decimal field of an entry; 0 when it is not one. */
static uint64_t field_number(const redisReply *v)
{
    char text[NODE_NAME_MAX + 1];
    uint64_t x;
    if (v->len > NODE_NAME_MAX)
        return 0;
    memcpy(text, v->str, v->len);
    text[v->len] = '\0';
    return parse_decimal(text, &x) == 0 ? x : 0;
}

/* One entry [id, [field, value, ...]]: 0 applied or refused (skipped),
 * -1 not now (out of memory: read again from here). */
static int apply_entry(registrar *r, const redisReply *e)
{
    cluster *cl = &r->cl;
    if (!reply_is(e, REDIS_REPLY_ARRAY) || e->elements != 2 || !reply_text(e->element[0]) ||
        !valid_id(e->element[0]->str, e->element[0]->len) ||
        !reply_is(e->element[1], REDIS_REPLY_ARRAY)) {
        cl->refused++;
        LOG_LIMITED("cluster entry-refused error=malformed");
        return 0; /* no id to move to: the next XREAD returns what follows */
    }
    const redisReply *id = e->element[0], *fields = e->element[1];
    const redisReply *body = NULL;
    uint64_t node = 0, made_ms = 0;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (!reply_is(k, REDIS_REPLY_STRING) || !reply_is(v, REDIS_REPLY_STRING) || k->len != 1)
            continue;
        if (k->str[0] == 'c' || k->str[0] == 's')
            body = v;
        else if (k->str[0] == 'n')
            node = field_number(v);
        else if (k->str[0] == 't')
            made_ms = field_number(v);
    }
    int rc = body ? mcreg_changes_apply(r->reg, (const uint8_t *)body->str, body->len, wall_ms())
                  : MCREG_ERR_FORMAT;
    notify_flush(r);
    if (rc == MCREG_ERR_NOMEM) {
        LOG_LIMITED("cluster apply-failed id=%.*s error=%s", (int)id->len, id->str,
                    mcreg_strerror(rc));
        return -1;
    }
    if (rc == MCREG_OK) {
        cl->applied++;
        uint64_t ms = made_ms, seq;
        if (node != r->cfg.node_id && (ms || parse_id(id->str, id->len, &ms, &seq) == 0))
            record_lag(cl, ms);
    } else {
        cl->refused++;
        LOG_LIMITED("cluster entry-refused id=%.*s node=%" PRIu64 " error=%s%s%s", (int)id->len,
                    id->str, node, mcreg_strerror(rc), *mcreg_error_detail(r->reg) ? ": " : "",
                    mcreg_error_detail(r->reg));
    }
    copy_id(cl->position, id->str, id->len);
    return 0;
}

static void on_xread(registrar *r, redisReply *reply, void *arg)
{
    cluster *cl = &r->cl;
    (void)arg;
    if (!reply || cl->reader_reset)
        return; /* the connection went, or is going */
    if (cl->gap) {
        const char *gap = cl->gap;
        cl->gap = NULL;
        start_merge(r, gap, cl->gap_reset);
        return;
    }
    size_t n = 0;
    if (reply_is(reply, REDIS_REPLY_ARRAY) && reply->elements >= 1 &&
        reply_is(reply->element[0], REDIS_REPLY_ARRAY) && reply->element[0]->elements == 2 &&
        reply_is(reply->element[0]->element[1], REDIS_REPLY_ARRAY)) {
        const redisReply *entries = reply->element[0]->element[1];
        for (; n < entries->elements; n++)
            if (apply_entry(r, entries->element[n]) != 0)
                break;
    } else if (!reply_is(reply, REDIS_REPLY_NIL)) {
        LOG_LIMITED("cluster read-failed error=%.*s", reply_is(reply, REDIS_REPLY_ERROR)
                    ? (int)reply->len : 9, reply_is(reply, REDIS_REPLY_ERROR) ? reply->str
                                                                           : "bad-reply");
        cl->reader_reset = "bad reply";
        return;
    }
    if (n < XREAD_COUNT_N && !cl->synced) {
        cl->synced = 1;
        log_line("cluster synced position=%s records=%zu", cl->position,
                 mcreg_record_count(r->reg));
    }
    if (mono_ms() >= cl->next_check_ms)
        send_check(r);
    send_xread(r);
}

/* ---- merging the published states -------------------------------------------------- */

static void free_merge(cluster *cl)
{
    for (size_t i = 0; i < cl->n_merge; i++)
        free(cl->merge_nodes[i]);
    free(cl->merge_nodes);
    cl->merge_nodes = NULL;
    cl->n_merge = cl->i_merge = 0;
}

static void merge_next(registrar *r);

static void finish_merge(registrar *r)
{
    cluster *cl = &r->cl;
    if (cl->merge_reset)
        strcpy(cl->position, "0-0"); /* a new stream: all of it */
    else if (cl->merge_best[0] && cmp_id(cl->merge_best, cl->position) > 0)
        strcpy(cl->position, cl->merge_best);
    log_line("cluster merged states=%zu position=%s records=%zu", cl->merged, cl->position,
             mcreg_record_count(r->reg));
    free_merge(cl);
    if (cl->merge_republish)
        republish(r);
    cl->synced = 0;
    send_xread(r);
}

static void on_published_state(registrar *r, redisReply *reply, void *arg)
{
    cluster *cl = &r->cl;
    (void)arg;
    if (!reply || cl->reader_reset)
        return; /* the connection went, or is going */
    const char *node = cl->merge_nodes[cl->i_merge];
    if (reply_is(reply, REDIS_REPLY_ARRAY) && reply->elements == 3 &&
        reply_text(reply->element[0]) && reply_text(reply->element[1]) &&
        reply_is(reply->element[2], REDIS_REPLY_STRING) &&
        valid_id(reply->element[0]->str, reply->element[0]->len) &&
        strcmp(reply->element[1]->str, "0") != 0) {
        const redisReply *pos = reply->element[0], *state = reply->element[2];
        int rc = mcreg_changes_apply(r->reg, (const uint8_t *)state->str, state->len, wall_ms());
        notify_flush(r);
        if (rc == MCREG_OK) {
            cl->merged++;
            if (!cl->merge_best[0] || cmp_id(pos->str, cl->merge_best) > 0)
                copy_id(cl->merge_best, pos->str, pos->len);
            log_line("cluster bootstrap from=%s position=%.*s records=%zu", node, (int)pos->len,
                     pos->str, mcreg_record_count(r->reg));
        } else if (rc == MCREG_ERR_NOMEM) {
            /* Again on a new connection. */
            log_line("cluster merge-failed from=%s error=%s", node, mcreg_strerror(rc));
            cl->reader_reset = "out of memory";
            return;
        } else {
            log_line("cluster merge-refused from=%s error=%s", node, mcreg_strerror(rc));
        }
    }
    cl->i_merge++;
    merge_next(r);
}

static void merge_next(registrar *r)
{
    cluster *cl = &r->cl;
    if (cl->i_merge == cl->n_merge) {
        finish_merge(r);
        return;
    }
    char key[sizeof cl->key_prefix + NODE_NAME_MAX];
    snprintf(key, sizeof key, "%s%s", cl->key_prefix, cl->merge_nodes[cl->i_merge]);
    const char *argv[] = {"HMGET", key, "position", "records", "state"};
    size_t lens[5];
    for (int i = 0; i < 5; i++)
        lens[i] = strlen(argv[i]);
    if (rconn_command(&cl->reader, on_published_state, NULL, MERGE_TIMEOUT_MS, 5, argv, lens) != 0)
        cl->reader_reset = "cannot send";
}

static void on_nodes(registrar *r, redisReply *reply, void *arg)
{
    cluster *cl = &r->cl;
    (void)arg;
    if (!reply || cl->reader_reset)
        return; /* the connection went, or is going */
    free_merge(cl);
    if (reply_is(reply, REDIS_REPLY_ARRAY) && reply->elements) {
        cl->merge_nodes = calloc(reply->elements, sizeof *cl->merge_nodes);
        for (size_t i = 0; cl->merge_nodes && i < reply->elements; i++) {
            const redisReply *x = reply->element[i];
            uint64_t id;
            /* Node ids only: the key is built from it. */
            if (!reply_is(x, REDIS_REPLY_STRING) || x->len > NODE_NAME_MAX ||
                memchr(x->str, '\0', x->len) || parse_decimal(x->str, &id) != 0)
                continue;
            if ((cl->merge_nodes[cl->n_merge] = strdup(x->str)) != NULL)
                cl->n_merge++;
        }
    }
    merge_next(r);
}

static void start_merge(registrar *r, const char *reason, int reset)
{
    cluster *cl = &r->cl;
    size_t records = mcreg_record_count(r->reg);
    cl->rstate = R_MERGE;
    cl->merge_reset = reset;
    /* What this node holds may be what the stream lost. */
    cl->merge_republish = records > 0 && strcmp(reason, "joined-trimmed") != 0;
    cl->merge_best[0] = '\0';
    cl->merged = 0;
    cl->synced = 0;
    cl->resyncs++;
    if (reset)
        cl->seen_entries_added = 0;
    log_line("cluster resync reason=%s position=%s records=%zu", reason, cl->position, records);
    const char *argv[] = {"SMEMBERS", cl->key_nodes};
    size_t lens[] = {8, strlen(cl->key_nodes)};
    if (rconn_command(&cl->reader, on_nodes, NULL, REPLY_TIMEOUT_MS, 2, argv, lens) != 0)
        cl->reader_reset = "cannot send";
}

/* ---- the loop's side --------------------------------------------------------------------- */

int cluster_pollfds(const registrar *r, struct pollfd *p)
{
    const cluster *cl = &r->cl;
    if (!cl->on)
        return 0;
    int n = rconn_pollfd(&cl->writer, &p[0]);
    return n + rconn_pollfd(&cl->reader, &p[n]);
}

static void writer_events(registrar *r, uint64_t now)
{
    cluster *cl = &r->cl;
    rconn *w = &cl->writer;
    if (cl->writer_reset) {
        rconn_drop(w, cl->writer_reset);
        cl->writer_reset = NULL;
    }
    rconn_tick(w, now);
    if (w->went_down) {
        w->went_down = 0;
        cl->writer_ok = 0;
        /* What was in flight is sent again: it may or may not be in. */
        cl->next_send = cl->head;
    }
    if (w->went_up) {
        w->went_up = 0;
        cl->next_send = cl->head;
        send_ping(r);
    }
    if (!w->ac && now >= w->retry_at_ms)
        rconn_connect(w, cl->host, cl->port, r->cfg.redis);
    send_queued(r);
}

static void reader_events(registrar *r, uint64_t now)
{
    cluster *cl = &r->cl;
    rconn *rd = &cl->reader;
    if (cl->reader_reset) {
        rconn_drop(rd, cl->reader_reset);
        cl->reader_reset = NULL;
    }
    rconn_tick(rd, now);
    if (rd->went_down) {
        rd->went_down = 0;
        cl->rstate = R_DOWN;
        cl->gap = NULL;
        free_merge(cl);
    }
    if (rd->went_up) {
        rd->went_up = 0;
        cl->rstate = R_CHECK;
        send_check(r);
    }
    if (!rd->ac && now >= rd->retry_at_ms)
        rconn_connect(rd, cl->host, cl->port, r->cfg.redis);
}

void cluster_handle(registrar *r, const struct pollfd *p, int n)
{
    cluster *cl = &r->cl;
    if (!cl->on)
        return;
    for (int i = 0; i < n; i++) {
        rconn *c = cl->writer.ac && p[i].fd == cl->writer.ac->c.fd ? &cl->writer : &cl->reader;
        if (c->ac && p[i].fd == c->ac->c.fd && p[i].revents)
            rconn_handle(c, p[i].revents);
    }
    uint64_t now = mono_ms();
    writer_events(r, now);
    reader_events(r, now);
}

static void take_min(int64_t *timeout, int64_t candidate)
{
    if (candidate >= 0 && (*timeout < 0 || candidate < *timeout))
        *timeout = candidate;
}

int64_t cluster_next(const registrar *r, uint64_t now)
{
    const cluster *cl = &r->cl;
    if (!cl->on)
        return -1;
    if (cl->writer_reset || cl->reader_reset)
        return 0;
    int64_t t = rconn_next(&cl->writer, now);
    take_min(&t, rconn_next(&cl->reader, now));
    return t;
}

static uint64_t lag_percentile(const cluster *cl, unsigned pct)
{
    if (!cl->lag_n)
        return 0;
    uint64_t want = (cl->lag_n * pct + 99) / 100, seen = 0;
    for (size_t i = 0; i < LAG_BINS; i++) {
        seen += cl->lag[i];
        if (seen >= want)
            return i;
    }
    return LAG_BINS - 1;
}

void cluster_stats(const registrar *r, char *out, size_t size)
{
    const cluster *cl = &r->cl;
    if (!cl->on) {
        out[0] = '\0';
        return;
    }
    snprintf(out, size,
             " position=%s applied=%" PRIu64 " refused=%" PRIu64 " resyncs=%" PRIu64
             " queued_bytes=%zu lag_n=%" PRIu64 " lag_p50_ms=%" PRIu64 " lag_p99_ms=%" PRIu64,
             cl->position, cl->applied, cl->refused, cl->resyncs, cl->queued_bytes, cl->lag_n,
             lag_percentile(cl, 50), lag_percentile(cl, 99));
}

void cluster_free(registrar *r)
{
    cluster *cl = &r->cl;
    if (!cl->on)
        return;
    rconn_free(&cl->writer);
    rconn_free(&cl->reader);
    while (cl->head) {
        publish_batch *b = cl->head;
        cl->head = b->next;
        free_batch(r, b);
    }
    cl->tail = cl->next_send = NULL;
    free_merge(cl);
    free(cl->lag);
    cl->lag = NULL;
}

/* ---- in the snapshot child ---------------------------------------------------------------- */

int cluster_write_cursor(const registrar *r)
{
    if (!r->cl.on || !r->cfg.snapshot)
        return 0;
    char *tmp = persist_sibling(r->cfg.snapshot, ".cursor.tmp");
    char *file = persist_sibling(r->cfg.snapshot, ".cursor");
    int fd = tmp && file ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    char text[STREAM_ID_MAX + 1];
    int n = snprintf(text, sizeof text, "%s\n", r->cl.position);
    int ok = fd >= 0 && persist_write_all(fd, (const uint8_t *)text, (size_t)n) == 0 &&
             fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    ok = ok && rename(tmp, file) == 0;
    if (ok)
        persist_sync_directory(file);
    else if (fd >= 0)
        unlink(tmp);
    free(tmp);
    free(file);
    return ok ? 1 : -1;
}

/* KEYS: the stream, KEY:nodes, this node's hash; ARGV: node, state,
 * position, records, KEY:snapshot: (the other nodes' hashes). Then the
 * stream is trimmed below the oldest position any node has published. */
static const char PUBLISH_SCRIPT[] =
    "redis.call('HSET', KEYS[3], 'state', ARGV[2], 'position', ARGV[3], 'records', ARGV[4])\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "local low, low_ms, low_seq\n"
    "for _, n in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "  local p = redis.call('HGET', ARGV[5] .. n, 'position')\n"
    "  local ms, seq = string.match(p or '', '^(%d+)-(%d+)$')\n"
    "  ms, seq = tonumber(ms), tonumber(seq)\n"
    "  if ms and (not low or ms < low_ms or (ms == low_ms and seq < low_seq)) then\n"
    "    low, low_ms, low_seq = p, ms, seq\n"
    "  end\n"
    "end\n"
    "if low then redis.call('XTRIM', KEYS[1], 'MINID', '~', low) end\n"
    "return 1\n";

int cluster_publish(const registrar *r, const uint8_t *snap, size_t len)
{
    const cluster *cl = &r->cl;
    size_t records = mcreg_record_count(r->reg);
    /* An empty node, or one still catching up, is no source. */
    if (!cl->on || !cl->synced || records == 0 || strcmp(cl->position, "0-0") == 0)
        return 0;
    redisContext *c = redisConnectWithTimeout(cl->host, cl->port, (struct timeval){2, 0});
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return -1;
    }
    redisSetTimeout(c, (struct timeval){30, 0});
    char node[NODE_NAME_MAX + 1], count[NODE_NAME_MAX + 1], key[sizeof cl->key_prefix + 24];
    snprintf(node, sizeof node, "%" PRIu64, r->cfg.node_id);
    snprintf(count, sizeof count, "%zu", records);
    snprintf(key, sizeof key, "%s%s", cl->key_prefix, node);
    const char *argv[] = {"EVAL", PUBLISH_SCRIPT, "3", r->cfg.redis_stream, cl->key_nodes, key,
                          node, (const char *)snap, cl->position, count, cl->key_prefix};
    size_t lens[11];
    for (int i = 0; i < 11; i++)
        lens[i] = strlen(argv[i]);
    lens[7] = len;
    redisReply *reply = redisCommandArgv(c, 11, argv, lens);
    int ok = reply && reply->type == REDIS_REPLY_INTEGER;
    if (reply)
        freeReplyObject(reply);
    redisFree(c);
    return ok ? 1 : -1;
}
