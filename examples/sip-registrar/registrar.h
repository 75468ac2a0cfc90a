/*
 * mcreg-registrar - an MCPTT registration server on libosip2 and libmcreg.
 *
 * The library keeps the state and decides; this program owns every byte of
 * I/O: the UDP socket, the clocks, the snapshot file and the log. One
 * thread, one poll loop (main.c).
 *
 * Files:
 *   main.c         flags, start-up, the poll loop, signals
 *   clock.c        the wall clock (the library's) and the monotonic one
 *   random.c       tags, branches, Call-IDs, the hash seed
 *   net.c          the socket, addresses, sending
 *   log.c          one line per happening on stderr, hostile bytes escaped
 *   identity.c     user id, UE id and expiry from a REGISTER
 *   screen.c       the cheap pass that bounds a datagram before osip
 *   register.c     REGISTER / OPTIONS / other requests and their responses
 *   notify.c       library events: log lines, MESSAGEs for NOTIFY_*
 *   credit.c       what may be sent towards a destination that never answered
 *   siphash.c      the keyed hash of the tables (table.h)
 *   transaction.c  RFC 3261 17 for UDP: client MESSAGE retransmission
 *                  (Timers E, F) and server response replay (Timer J)
 *   persist.c      snapshot restore at start, write-rename-fsync, the
 *                  background writer (a forked child)
 *   journal.c      --journal: group commit of drained changes, replay
 *   redis.c        a hiredis async connection in the poll loop, timeouts
 *   cluster.c      --redis: the change feed through a Redis stream, the
 *                  published states, bootstrap and resync, FILE.cursor
 */
#ifndef MCREG_REGISTRAR_H
#define MCREG_REGISTRAR_H

#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h> /* osip_malloc and osip_free expand to malloc and free */
#include <sys/socket.h>

#include <hiredis/async.h>
#include <osipparser2/osip_parser.h>

#include "mcreg.h"

/* RFC 3261 timers for an unreliable transport, in ms. */
#define SIP_T1_MS 500u
#define SIP_T2_MS 4000u
#define SIP_TIMER_F_MS (64u * SIP_T1_MS) /* client transaction gives up */
#define SIP_TIMER_J_MS (64u * SIP_T1_MS) /* server keeps its response */

/* The receive buffer: any UDP payload, so that a larger one is seen as
 * such (MSG_TRUNC) and dropped. */
#define SIP_MAX_DATAGRAM 65535u
/* What screen.c lets through to osip (see there). RFC 3261 18.1.1 keeps
 * requests over UDP under the path MTU; an MCPTT REGISTER with its
 * mcptt-info body takes a few KiB. fuzz_sip needs -max_len at
 * SIP_MAX_ACCEPTED to reach osip's slow paths. */
#define SIP_MAX_ACCEPTED 16384u
#define SIP_MAX_HEADER_BYTES 8192u
#define SIP_MAX_LINES 256u
#define SIP_MAX_PARAMS 32u /* ';' and '&' in one header */
#define SIP_MAX_COMMAS 32u /* ',' in one header */

/* An address block for --trust: the first `bits` bits of `addr`. */
typedef struct cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned bits;
} cidr;
#define TRUST_MAX 32

typedef struct config {
    const char *listen;     /* ADDR:PORT */
    const char *snapshot;   /* NULL: no persistence */
    const char *journal;    /* NULL: none */
    uint64_t node_id;       /* 0: no replication */
    const char *redis;      /* HOST:PORT, NULL: no cluster */
    const char *redis_stream; /* the stream's key */
    uint64_t redis_maxlen;  /* XADD's MAXLEN ~ */
    uint32_t snapshot_interval_s; /* 0: on stop and SIGUSR1 only */
    uint32_t max_ues;
    uint32_t capacity; /* records the registry is sized for at start (0: none) */
    mcreg_limit_policy limit_policy;
    mcreg_notify_policy notify;
    int notify_logoff;
    uint32_t min_expires_s;
    uint32_t max_expires_s;
    uint32_t default_expires_s;
    cidr trust[TRUST_MAX]; /* REGISTER only from these; none: from anyone */
    size_t n_trust;
} config;

typedef struct address {
    struct sockaddr_storage sa;
    socklen_t len;
} address;

/* A datagram net_send() kept for the end of the loop's turn. */
typedef struct held_datagram {
    address to;
    char *bytes;
    size_t len;
} held_datagram;

/* Datagrams kept back until what they answer is durable. */
typedef struct held_list {
    held_datagram *items;
    size_t n, cap;
} held_list;

/* The background snapshot writer (persist.c). */
typedef struct snapshot_child {
    int pid;              /* 0: none running */
    int pipe_fd;          /* the child's stats line (STATS_LINE_MAX bytes), then
                           * its publication's outcome (int32), then EOF */
    uint64_t journal_end; /* the journal's length when it forked */
    uint64_t started_ms;  /* monotonic */
    size_t records;       /* at fork */
    int log_stats;        /* a SIGUSR1's: log the stats line when done */
    int again;            /* another was asked for meanwhile */
    char position[48];    /* --redis: the stream position at fork */
} snapshot_child;

/* What one REGISTER can make the registrar send or write, whatever
 * --max-ues allows: the other UEs a MESSAGE lists, the NOTIFY_* events
 * logged in full per library call, the bindings a 200 lists (the
 * requester's own always among them) and the bytes of their Contacts. */
#define MESSAGE_MAX_OTHERS 16u
#define NOTIFY_LOG_MAX 8u
#define REPLY_MAX_CONTACTS 16u
#define REPLY_MAX_CONTACT_BYTES 16384u
/* Outstanding MESSAGEs (queued or awaiting their final response): past
 * these a new one is dropped (logged). */
#define CLIENT_TX_MAX 1024u
#define CLIENT_TX_MAX_BYTES ((size_t)4 << 20)

/* Formatted address: "1.2.3.4:5060" or "[::1]:5060". */
#define ADDRESS_STR_MAX 64

/* ---- a Redis connection (redis.c) ---- */
struct registrar;
typedef void rconn_reply_fn(struct registrar *r, redisReply *reply, void *arg);
typedef struct rconn_pending {
    rconn_reply_fn *fn;
    void *arg;
    uint64_t deadline_ms; /* monotonic */
} rconn_pending;
/* Commands in flight on one connection, at most. */
#define RCONN_MAX_PENDING 1024u
typedef struct rconn {
    struct registrar *r;
    redisAsyncContext *ac; /* NULL: no connection */
    const char *role, *addr; /* for the log */
    int want_read, want_write;
    int up;                    /* connected */
    int quiet;                 /* stopping: no log line for the close */
    int went_up, went_down;    /* for the owner, after the loop's I/O */
    uint64_t connect_deadline_ms, retry_at_ms;
    unsigned backoff_ms;
    rconn_pending ring[RCONN_MAX_PENDING];
    size_t head, n;
    char error[128];
} rconn;

/* "ms-seq": two 20-digit numbers and a dash. */
#define STREAM_ID_MAX 48
/* Replication lag counted per ms up to this, then in the last bin. */
#define LAG_BINS 10001u

struct publish_batch;
struct merge_source;

/* ---- --redis (cluster.c) ---- */
typedef struct cluster {
    int on;
    char host[64];
    int port;
    char key_nodes[320], key_prefix[320]; /* KEY:nodes, KEY:snapshot: */
    rconn writer, reader;
    /* Changes not yet acknowledged by Redis, oldest first; next_send is
     * the first not yet sent on this connection. */
    struct publish_batch *head, *tail, *next_send;
    size_t queued_bytes;
    int writer_ok; /* Redis has answered on the writer since it connected */
    uint64_t published_journal_end; /* the journal up to here is in Redis */
    /* The reader. */
    int rstate;
    char position[STREAM_ID_MAX]; /* the last entry applied; "0-0": none */
    uint64_t seen_entries_added;
    int seen_stream;
    int synced;          /* caught up since the start or the last resync */
    uint64_t next_check_ms;
    const char *gap;     /* a loss the check found: resync after this read */
    int gap_reset;       /* ... and the stream is a new one */
    /* Drop and reconnect, asked from a callback: why (NULL: no). */
    const char *writer_reset, *reader_reset;
    /* A merge of the published states in progress. */
    char **merge_nodes;
    size_t n_merge, i_merge;
    char merge_best[STREAM_ID_MAX];
    int merge_reset, merge_republish;
    size_t merged;
    /* Counters, for the stats line. */
    uint64_t applied, refused, resyncs;
    uint32_t *lag;
    uint64_t lag_n;
} cluster;

struct client_tx;
struct server_tx;
struct credit;
struct notification;

typedef struct registrar {
    config cfg;
    mcreg_registry *reg;
    int fd;
    address local;
    char local_str[ADDRESS_STR_MAX]; /* what goes in Via and From */
    uint64_t rng; /* random.c's fallback generator, should getrandom fail */

    /* Notifications the library asked for during the current call; sent
     * once the call has returned and its response is out (notify.c). */
    struct notification *pending;
    size_t n_pending, cap_pending;
    size_t pending_bytes;
    /* NOTIFY_* events of the current call logged, and left out. */
    unsigned notify_logged, notify_unlogged;

    /* Outstanding MESSAGEs, by branch, and a min-heap on their next timer. */
    struct client_tx *clients;
    struct client_tx **timers;
    size_t n_timers, cap_timers; /* n_timers: one per transaction */
    size_t client_bytes;
    /* Send credit by destination (credit.c). */
    struct credit *credits;

    /* With --journal every datagram waits for the turn's journal write
     * (net_send_held): nothing leaves before what it answers is durable. */
    int hold_sends;
    held_list held;

    cluster cl;

    /* The journal's descriptor (-1: none) and length. */
    int journal_fd;
    uint64_t journal_len;
    snapshot_child child;

    /* Responses kept for request retransmissions, oldest first. */
    struct server_tx *servers;
    size_t n_servers, server_bytes;
} registrar;

/* ---- clock.c -------------------------------------------------------------- */
/* Wall clock in ms: the library's now_ms. Records carry absolute times and
 * snapshots outlive the process, so the clock has to be the wall clock. */
uint64_t wall_ms(void);
/* Monotonic ms: retransmission timers, which must not jump. */
uint64_t mono_ms(void);
uint64_t mono_us(void);

/* ---- log.c -------------------------------------------------------------- */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line that traffic from outside can repeat at will: past LOG_BURST
 * lines of one kind in a second the rest are counted, and the next line of
 * that kind written says how many were left out. One limit per call site:
 * use LOG_LIMITED. */
typedef struct log_limit {
    uint64_t window_ms;
    unsigned lines;
    unsigned long suppressed;
} log_limit;
#define LOG_BURST 20u
void log_limited(log_limit *limit, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define LOG_LIMITED(...)                     \
    do {                                     \
        static log_limit limit_;             \
        log_limited(&limit_, __VA_ARGS__);   \
    } while (0)
/* Where log_line writes (default, and NULL: stderr). */
void log_set_stream(FILE *stream);
/* Writes `s` (n bytes) with every byte outside 0x21..0x7e, and '\\', as
 * \xHH: an id from the network never breaks a log line or its fields. */
const char *log_escape(char *out, size_t out_size, const char *s, size_t n);
#define LOG_ESCAPE_SIZE(n) (4 * (n) + 1)
/* A method is logged up to this many bytes (escaped), then cut. */
#define LOG_METHOD_MAX 64

/* ---- net.c -------------------------------------------------------------- */
int net_parse_address(const char *text, address *out);
const char *net_format_address(const address *a, char out[ADDRESS_STR_MAX]);
int net_open(registrar *r);
/* The largest UDP payload (IPv4); a larger datagram cannot be sent. */
#define SIP_MAX_UDP_PAYLOAD 65507u
/* Sends one datagram; with no socket (fd < 0: the fuzz target) drops it.
 * 0 when sent (or dropped so), -1 with errno and a log line otherwise.
 * With r->hold_sends it copies the datagram for net_send_held() (0). */
int net_send(registrar *r, const address *to, const char *data, size_t len);
/* Sends the datagrams held this turn, in order (a failure is logged). */
void net_send_held(registrar *r);
void net_free_held(registrar *r);
/* The same for a list taken from r->held (cluster.c keeps them until
 * Redis has the turn's changes). */
void net_send_list(registrar *r, held_list *h);
void net_free_list(held_list *h);
/* Resolves a numeric host and a port ("5060" when NULL). 0 on success. */
int net_numeric_address(const char *host, const char *port, address *out);
int net_same_address(const address *a, const address *b);
/* "ADDR/BITS" or "ADDR", IPv4 or IPv6 (brackets allowed): 0 on success. */
int net_parse_cidr(const char *text, cidr *out);
/* Whether `from` is in one of the blocks (an IPv4-mapped IPv6 source is
 * matched against the IPv4 blocks). */
int net_in_blocks(const address *from, const cidr *blocks, size_t n);

/* ---- identity.c --------------------------------------------------------- */
/* "scheme:user@host" from a URI, lowercase scheme and host. NULL when the
 * URI has no host or the allocation fails. Free with osip_free. */
char *identity_user_id(const osip_uri_t *uri);
/* The UE id (see the rules in register.c). NULL when none can be had. */
char *identity_ue_id(const osip_message_t *msg, const osip_contact_t *contact,
                     const char *contact_uri);
/* Parses 1*DIGIT (nothing else, not even blanks) into *out, saturating at
 * UINT64_MAX: 0 on success, -1 when malformed. Every number from the
 * network or the command line goes through here. */
int parse_decimal(const char *text, uint64_t *out);
/* Parses a delta-seconds value: 0 and *out on success, -1 when malformed. */
int identity_delta_seconds(const char *text, uint32_t *out);

/* ---- screen.c ----------------------------------------------------------- */
/* NULL when osip may parse the datagram; else why it is refused (a word
 * for the log). */
const char *screen_datagram(const char *data, size_t len);

/* ---- register.c --------------------------------------------------------- */
void sip_handle_datagram(registrar *r, const char *data, size_t len, const address *from);

/* ---- notify.c ----------------------------------------------------------- */
void notify_on_event(const mcreg_event *ev, void *user_data);
void notify_flush(registrar *r);
void notify_free(registrar *r);
/* Where a MESSAGE to a contact goes: its host and port when the host is an
 * address, else `source` (where its REGISTER came from; NULL: none). */
int route_contact(const osip_uri_t *uri, const address *source, address *to);
/* The same for a stored record. 0 on success. */
int route_record(const mcreg_record *rec, address *to);

/* ---- credit.c ------------------------------------------------------------ */
/* A REGISTER of `request_bytes` named `to`. */
void credit_earn(registrar *r, const address *to, size_t request_bytes);
/* 1 when `bytes` may be sent to `to` (and spends them), else 0. */
int credit_spend(registrar *r, const address *to, size_t bytes);
/* Whether a MESSAGE to `to` could be sent at all (checked before encoding
 * it); nothing is spent. */
int credit_may_send(registrar *r, const address *to);
/* `from` answered a MESSAGE sent to it: no limit from now on. */
void credit_answered(registrar *r, const address *from);
/* A record made elsewhere (a peer's REGISTER, applied) earns what its
 * REGISTER would have here. */
void credit_earn_record(registrar *r, const mcreg_record *rec);
/* Each restored record earns what its REGISTER would have. */
void credit_earn_restored(registrar *r);
/* (Called by client_tx_free_all.) */
void credit_free_all(registrar *r);

/* ---- transaction.c ------------------------------------------------------ */
/* Starts a client transaction for an encoded MESSAGE; takes `bytes`. */
void client_tx_start(registrar *r, const char *branch, char *bytes, size_t len,
                     const address *to, const char *recipient);
void client_tx_on_response(registrar *r, const osip_message_t *resp, const address *from);
void client_tx_run_timers(registrar *r, uint64_t now);
/* ms until the next client timer, or -1 when there is none. */
int64_t client_tx_next(const registrar *r, uint64_t now);
/* Frees the credit table too. */
void client_tx_free_all(registrar *r);

/* Replays a kept response to a retransmitted request: 1 when it did. */
int server_tx_replay(registrar *r, const osip_message_t *req, const address *from);
void server_tx_keep(registrar *r, const osip_message_t *req, const char *bytes, size_t len);
void server_tx_expire(registrar *r, uint64_t now);
/* ms until the oldest kept response expires (Timer J), or -1. */
int64_t server_tx_next(const registrar *r, uint64_t now);
void server_tx_free_all(registrar *r);

/* ---- persist.c ---------------------------------------------------------- */
/* 0 restored, 1 absent (first start); -1 and a message on stderr otherwise. */
int persist_restore(registrar *r);
/* 0 when FILE.tmp can be created beside FILE (what every write starts
 * with); -1 and a message on stderr otherwise. */
int persist_check_writable(registrar *r);
/* 0 written (and the journal compacted); -1 and a log line otherwise.
 * In the loop's own time: for the stop and the first start. */
int persist_write(registrar *r);
/* Starts the background writer (a forked child: the digest, then the
 * snapshot when there is one); one already running: another once it is
 * done. LOG_STATS: the stats line, with the digest, when done. 0 started. */
int persist_background(registrar *r, int log_stats);
/* Reaps a finished child (WAIT: waits for it): logs it, compacts the
 * journal down to what was appended since its fork. */
void persist_reap(registrar *r, int wait);
void persist_sync_directory(const char *file);
/* FILE followed by SUFFIX (FILE.tmp, FILE.cursor), malloc'ed; NULL out of
 * memory. */
char *persist_sibling(const char *file, const char *suffix);
/* Writes all LEN bytes (retrying short writes and EINTR): 0, or -1 with
 * errno. */
int persist_write_all(int fd, const uint8_t *buf, size_t len);

/* ---- journal.c ------------------------------------------------------------ */
/* Opens --journal, applies its buffers, cuts a torn end (logged). 0, or -1
 * and a message on stderr (the file left as it is). */
int journal_open(registrar *r);
/* Drains the library's changes; with a journal, appends and fdatasyncs
 * them. 0 done (or nothing to do), 1 not now (retry next turn, send
 * nothing), -1 the journal cannot be written (stop). On 0, *OUT is the
 * drained buffer (NULL: none) for the caller to free with
 * mcreg_buffer_free or to hand to cluster_commit. */
int journal_commit(registrar *r, uint8_t **out, size_t *out_len);
/* Keeps only the bytes appended since offset FROM (logged). */
void journal_compact(registrar *r, uint64_t from);
void journal_close(registrar *r);

/* ---- redis.c ------------------------------------------------------------------ */
void rconn_init(rconn *c, struct registrar *r, const char *role);
/* Starts a non-blocking connect. 0, or -1 (retried after the backoff). */
int rconn_connect(rconn *c, const char *host, int port, const char *addr_text);
/* Closes it: pending callbacks get NULL. Not from inside a callback. */
void rconn_drop(rconn *c, const char *why);
/* Sends one command; FN gets the reply (NULL: the connection went) within
 * TIMEOUT_MS or the connection is dropped. 0, or -1: not connected, or the
 * ring is full. */
int rconn_command(rconn *c, rconn_reply_fn *fn, void *arg, uint64_t timeout_ms, int argc,
                  const char **argv, const size_t *argvlen);
/* Connected with room for ROOM more commands. */
int rconn_ready(const rconn *c, size_t room);
/* The pollfd hiredis wants (1), or none (0). */
int rconn_pollfd(const rconn *c, struct pollfd *p);
void rconn_handle(rconn *c, short revents);
/* Drops a connection past a deadline. */
void rconn_tick(rconn *c, uint64_t now);
/* ms until rconn_tick has work (a deadline, a reconnect), -1 for none. */
int64_t rconn_next(const rconn *c, uint64_t now);
void rconn_free(rconn *c);

/* ---- cluster.c ------------------------------------------------------------------ */
/* --redis HOST:PORT: 0, or -1 and a message on stderr. */
int cluster_parse(config *cfg, cluster *cl);
/* Reads FILE.cursor (after the snapshot's restore, before any write of
 * it). 0, or -1 and a message on stderr. */
int cluster_open(struct registrar *r);
/* Starts both connections (after the journal's replay). */
void cluster_connect(struct registrar *r);
/* Takes this turn's drained buffer (NULL: none; free with
 * mcreg_buffer_free), for one XADD; without --journal, the turn's held
 * datagrams too, sent once Redis has it (and every earlier turn's). */
void cluster_commit(struct registrar *r, uint8_t *buf, size_t len);
/* Queues a copy of journal bytes [.., journal_end) replayed at start:
 * what Redis may not have received before the stop. */
void cluster_requeue(struct registrar *r, const uint8_t *buf, size_t len, uint64_t journal_end);
/* 1 while a REGISTER must get 503 (Redis unreachable without --journal,
 * or too much not yet in Redis). */
int cluster_unavailable(const struct registrar *r);
/* The Redis descriptors to poll (at most 2). */
int cluster_pollfds(const struct registrar *r, struct pollfd *p);
/* After ppoll: their readiness (P as filled, N of them), then timeouts,
 * reconnects, the queued XADDs and the reader's next command. */
void cluster_handle(struct registrar *r, const struct pollfd *p, int n);
int64_t cluster_next(const struct registrar *r, uint64_t now);
/* Where a compaction may cut the journal: not past what Redis has. */
uint64_t cluster_compact_limit(const struct registrar *r, uint64_t from);
/* The journal dropped its first FROM bytes (a compaction). */
void cluster_journal_compacted(struct registrar *r, uint64_t from);
/* " position=... applied=... lag_p50_ms=... lag_p99_ms=..." or "". */
void cluster_stats(const struct registrar *r, char *out, size_t size);
/* In the snapshot child: FILE.cursor (after the snapshot), then the state
 * published in Redis (blocking: the child may wait). 1 published, 0 not
 * asked or nothing to publish, -1 failed. */
int cluster_write_cursor(const struct registrar *r);
int cluster_publish(const struct registrar *r, const uint8_t *snap, size_t len);
void cluster_free(struct registrar *r);

/* ---- log.c: the stats line ------------------------------------------------ */
#define STATS_LINE_MAX 1024
/* The stats line (mcreg_stat), with digest= when DIGEST is given. */
void log_stats(const registrar *r, const uint64_t *digest);
/* Its text, for a line written later (the snapshot child's, of the
 * moment of its fork). */
void format_stats(const registrar *r, const uint64_t *digest, char *out, size_t size);

/* ---- random.c ------------------------------------------------------------ */
/* 64 bits from the kernel (never 0). */
uint64_t random_seed(void);
/* Writes `n` lowercase hex digits from getrandom and a NUL. */
void random_hex(registrar *r, char *out, size_t n);

#endif
