/*
 * mcreg-registrar - an MCPTT registration server: SIP over UDP through
 * libosip2, the state in libmcreg. See README.md for how to run it.
 *
 * The loop: wait in ppoll() until a datagram, a signal or the nearest
 * deadline (a record's expiry from mcreg_next_expiry(), a MESSAGE
 * retransmission, a kept response's Timer J, the next periodic snapshot);
 * then handle whatever is due.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "registrar.h"
#include "table.h"

/* At most this many datagrams a turn, so that timers run under load. */
#define BATCH 256

/* At most this many records expire a turn (a fraction of a millisecond):
 * a mass expiry (a restart after a long stop, a clock jump) then goes a
 * slice per turn between batches of datagrams, never holding up SIP. */
#define EXPIRE_SLICE 256

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t snapshot_asked;
static volatile sig_atomic_t child_exited;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        snapshot_asked = 1;
    else if (sig == SIGCHLD)
        child_exited = 1;
    else
        stop_signal = sig;
}

static void discard_osip_trace(const char *file, int line, osip_trace_level_t level,
                               const char *fmt, va_list ap)
{
    (void)file, (void)line, (void)level, (void)fmt, (void)ap;
}

/* ---- flags --------------------------------------------------------------- */

static void usage(FILE *to)
{
    fputs("usage: mcreg-registrar [options]\n"
          "An MCPTT registration server: SIP REGISTER over UDP, one record per (user, UE),\n"
          "a MESSAGE to each of a user's UEs when another logs on.\n"
          "\n"
          "  --listen ADDR:PORT        UDP address (default 127.0.0.1:5060; [::1]:5060 for\n"
          "                            IPv6; port 0 picks a free one, logged at start)\n"
          "  --snapshot FILE           restore FILE at start; write it on SIGTERM, SIGINT,\n"
          "                            SIGUSR1 and every --snapshot-interval seconds\n"
          "  --snapshot-interval S     0 (default): only on those signals; with --redis each\n"
          "                            also publishes the state (default there: 60)\n"
          "  --journal FILE            append each turn's changes to FILE, fdatasync'ed\n"
          "                            before any response of the turn is sent; applied\n"
          "                            at start after --snapshot, compacted by each\n"
          "                            snapshot (needs --node-id)\n"
          "  --node-id N               this node's id, 1 to 2^64-1 (the library's: change\n"
          "                            feed, versions, digest)\n"
          "  --redis ADDR:PORT         a cluster: each turn's changes go to a Redis stream\n"
          "                            and every node applies the stream (needs --node-id;\n"
          "                            without --journal a 200 waits for Redis, and while\n"
          "                            Redis is unreachable REGISTERs get 503)\n"
          "  --redis-stream KEY        the stream (default mcreg:changes); KEY:nodes and\n"
          "                            KEY:snapshot:NODE hold the published states\n"
          "  --redis-maxlen N          XADD trims the stream to about N entries (default\n"
          "                            1000000); also trimmed below the oldest state published\n"
          "  --max-ues N               UEs per user (default 8), 0 = unlimited\n"
          "  --limit-policy P          reject (default), evict-oldest or evict-soonest\n"
          "  --notify P                logon MESSAGEs to: all (default) UEs, the new UE, none\n"
          "  --notify-logoff           also tell the remaining UEs when one leaves\n"
          "  --min-expires S           shortest registration (default 60; shorter: 423)\n"
          "  --max-expires S           longest registration (default 7200; longer is capped);\n"
          "                            also the library's max_expires: the same on every node\n"
          "  --default-expires S       when the REGISTER asks for none (default 3600)\n"
          "  --trust CIDR              REGISTERs only from there (the S-CSCF), 403 from\n"
          "                            elsewhere; repeatable, IPv4 or IPv6 (default: any)\n"
          "  --capacity N              size the registry for N records at start, so that\n"
          "                            no REGISTER stalls on a table growing (0: none)\n"
          "  --help                    this text\n"
          "\n"
          "Log: one line per event on stderr. Exit: 0 stopped by SIGTERM/SIGINT;\n"
          "1 bad flags, socket or snapshot trouble.\n",
          to);
}

static int parse_u32(const char *flag, const char *text, uint32_t *out)
{
    uint64_t v;
    if (parse_decimal(text, &v) != 0 || v > UINT32_MAX) {
        fprintf(stderr, "mcreg-registrar: --%s %s: not a number from 0 to %u\n", flag, text,
                UINT32_MAX);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* 1 to 2^64 - 1: parse_decimal saturates, so the top value is compared as
 * text. */
static int parse_node_id(const char *text, uint64_t *out)
{
    uint64_t v;
    if (parse_decimal(text, &v) != 0 || v == 0 ||
        (v == UINT64_MAX && strcmp(text, "18446744073709551615") != 0)) {
        fprintf(stderr, "mcreg-registrar: --node-id %s: not a number from 1 to %llu\n", text,
                (unsigned long long)UINT64_MAX);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_maxlen(const char *text, uint64_t *out)
{
    if (parse_decimal(text, out) != 0 || *out == 0 || *out > (uint64_t)1 << 40) {
        fprintf(stderr, "mcreg-registrar: --redis-maxlen %s: not a number from 1 to 2^40\n", text);
        return -1;
    }
    return 0;
}

static int parse_choice(const char *flag, const char *text, const char *const *names, int n,
                        int *out)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    fprintf(stderr, "mcreg-registrar: --%s %s: unknown value\n", flag, text);
    return -1;
}

static int parse_trust(const char *text, config *cfg)
{
    if (cfg->n_trust == TRUST_MAX) {
        fprintf(stderr, "mcreg-registrar: --trust: at most %d\n", TRUST_MAX);
        return -1;
    }
    if (net_parse_cidr(text, &cfg->trust[cfg->n_trust]) != 0) {
        fprintf(stderr, "mcreg-registrar: --trust %s: not ADDR/BITS (IPv4 or IPv6)\n", text);
        return -1;
    }
    cfg->n_trust++;
    return 0;
}

enum { OPT_LISTEN = 256, OPT_SNAPSHOT, OPT_INTERVAL, OPT_MAX_UES, OPT_LIMIT, OPT_NOTIFY,
       OPT_LOGOFF, OPT_MIN, OPT_MAX, OPT_DEFAULT, OPT_TRUST, OPT_CAPACITY, OPT_JOURNAL,
       OPT_NODE_ID, OPT_REDIS, OPT_REDIS_STREAM, OPT_REDIS_MAXLEN, OPT_HELP };

/* 0 to run, 1 to exit 0 (help), -1 to exit 1. */
static int parse_flags(int argc, char **argv, config *cfg, cluster *cl)
{
    static const struct option options[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
        {"snapshot-interval", required_argument, NULL, OPT_INTERVAL},
        {"max-ues", required_argument, NULL, OPT_MAX_UES},
        {"limit-policy", required_argument, NULL, OPT_LIMIT},
        {"notify", required_argument, NULL, OPT_NOTIFY},
        {"notify-logoff", no_argument, NULL, OPT_LOGOFF},
        {"min-expires", required_argument, NULL, OPT_MIN},
        {"max-expires", required_argument, NULL, OPT_MAX},
        {"default-expires", required_argument, NULL, OPT_DEFAULT},
        {"trust", required_argument, NULL, OPT_TRUST},
        {"capacity", required_argument, NULL, OPT_CAPACITY},
        {"journal", required_argument, NULL, OPT_JOURNAL},
        {"node-id", required_argument, NULL, OPT_NODE_ID},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"redis-stream", required_argument, NULL, OPT_REDIS_STREAM},
        {"redis-maxlen", required_argument, NULL, OPT_REDIS_MAXLEN},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    /* Indexed by mcreg_limit_policy and mcreg_notify_policy. */
    static const char *const limits[] = {"reject", "evict-oldest", "evict-soonest"};
    static const char *const notify[] = {"all", "new", "none"};
    int opt, choice, bad = 0, interval_given = 0;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        const char *name = opt >= OPT_LISTEN && opt <= OPT_HELP ? options[opt - OPT_LISTEN].name : "";
        switch (opt) {
        case OPT_LISTEN: cfg->listen = optarg; break;
        case OPT_SNAPSHOT: cfg->snapshot = optarg; break;
        case OPT_INTERVAL:
            bad |= parse_u32(name, optarg, &cfg->snapshot_interval_s);
            interval_given = 1;
            break;
        case OPT_MAX_UES: bad |= parse_u32(name, optarg, &cfg->max_ues); break;
        case OPT_LIMIT:
            bad |= parse_choice(name, optarg, limits, 3, &choice);
            cfg->limit_policy = (mcreg_limit_policy)choice;
            break;
        case OPT_NOTIFY:
            bad |= parse_choice(name, optarg, notify, 3, &choice);
            cfg->notify = (mcreg_notify_policy)choice;
            break;
        case OPT_LOGOFF: cfg->notify_logoff = 1; break;
        case OPT_MIN: bad |= parse_u32(name, optarg, &cfg->min_expires_s); break;
        case OPT_MAX: bad |= parse_u32(name, optarg, &cfg->max_expires_s); break;
        case OPT_DEFAULT: bad |= parse_u32(name, optarg, &cfg->default_expires_s); break;
        case OPT_TRUST: bad |= parse_trust(optarg, cfg); break;
        case OPT_CAPACITY: bad |= parse_u32(name, optarg, &cfg->capacity); break;
        case OPT_JOURNAL: cfg->journal = optarg; break;
        case OPT_NODE_ID: bad |= parse_node_id(optarg, &cfg->node_id); break;
        case OPT_REDIS: cfg->redis = optarg; break;
        case OPT_REDIS_STREAM: cfg->redis_stream = optarg; break;
        case OPT_REDIS_MAXLEN: bad |= parse_maxlen(optarg, &cfg->redis_maxlen); break;
        case OPT_HELP: usage(stdout); return 1;
        default: bad = 1; break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mcreg-registrar: unexpected argument: %s\n", argv[optind]);
        bad = 1;
    }
    if (!bad && (cfg->min_expires_s > cfg->max_expires_s || cfg->default_expires_s == 0 ||
                 cfg->default_expires_s < cfg->min_expires_s ||
                 cfg->default_expires_s > cfg->max_expires_s)) {
        fprintf(stderr, "mcreg-registrar: need 0 < --min-expires <= --default-expires <= "
                        "--max-expires\n");
        bad = 1;
    }
    if (!bad && cfg->journal && !cfg->node_id) {
        fprintf(stderr, "mcreg-registrar: --journal needs --node-id\n");
        bad = 1;
    }
    if (!bad && cfg->redis && !cfg->node_id) {
        fprintf(stderr, "mcreg-registrar: --redis needs --node-id\n");
        bad = 1;
    }
    if (!bad && cfg->redis && cluster_parse(cfg, cl) != 0)
        bad = 1;
    /* The published states are what a joining node starts from. */
    if (!bad && cfg->redis && !interval_given)
        cfg->snapshot_interval_s = 60;
    if (!bad && cfg->capacity > MCREG_MAX_CAPACITY) {
        fprintf(stderr, "mcreg-registrar: --capacity: at most %zu\n", (size_t)MCREG_MAX_CAPACITY);
        bad = 1;
    }
    if (bad) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- set-up ---------------------------------------------------------------- */

static int open_registry(registrar *r)
{
    mcreg_options *o;
    int rc = mcreg_options_new(&o);
    if (rc != MCREG_OK) {
        fprintf(stderr, "mcreg-registrar: %s\n", mcreg_strerror(rc));
        return -1;
    }
    mcreg_options_set_event_callback(o, notify_on_event, r);
    mcreg_options_set_max_ues(o, r->cfg.max_ues);
    mcreg_options_set_limit_policy(o, r->cfg.limit_policy);
    mcreg_options_set_notify_logon(o, r->cfg.notify);
    mcreg_options_set_notify_logoff(o, r->cfg.notify_logoff);
    mcreg_options_set_capacity(o, r->cfg.capacity);
    mcreg_options_set_max_expires(o, r->cfg.max_expires_s);
    mcreg_options_set_node_id(o, r->cfg.node_id);
    /* Ids come from the network: a secret seed keeps collisions out of
     * reach (hash flooding). */
    mcreg_options_set_hash_seed(o, random_seed());
    rc = mcreg_registry_new(&r->reg, o);
    mcreg_options_free(o);
    if (rc != MCREG_OK) {
        fprintf(stderr, "mcreg-registrar: %s\n", mcreg_strerror(rc));
        return -1;
    }
    return 0;
}

static int install_signals(sigset_t *unblocked)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGCHLD);
    /* Blocked except inside ppoll(): a signal can never slip in between
     * the check of the flags and the wait. */
    if (sigprocmask(SIG_BLOCK, &block, unblocked) != 0)
        return -1;
    sigdelset(unblocked, SIGTERM);
    sigdelset(unblocked, SIGINT);
    sigdelset(unblocked, SIGUSR1);
    sigdelset(unblocked, SIGCHLD);
    signal(SIGPIPE, SIG_IGN);
    return sigaction(SIGTERM, &sa, NULL) | sigaction(SIGINT, &sa, NULL) |
           sigaction(SIGUSR1, &sa, NULL) | sigaction(SIGCHLD, &sa, NULL);
}

/* ---- the loop ---------------------------------------------------------------- */

static void receive_batch(registrar *r)
{
    static char buf[SIP_MAX_DATAGRAM + 1];
    for (int i = 0; i < BATCH; i++) {
        address from;
        from.len = sizeof from.sa;
        ssize_t n = recvfrom(r->fd, buf, SIP_MAX_DATAGRAM, MSG_TRUNC,
                             (struct sockaddr *)&from.sa, &from.len);
        if (n < 0)
            return; /* EAGAIN: drained */
        if ((size_t)n > SIP_MAX_DATAGRAM) {
            char where[ADDRESS_STR_MAX];
            LOG_LIMITED("drop too-large from=%s bytes=%zd", net_format_address(&from, where), n);
            continue;
        }
        buf[n] = '\0';
        sip_handle_datagram(r, buf, (size_t)n, &from);
    }
}

/* One slice of what is due: if more is, next_timeout() is 0 and the loop
 * comes back after the datagrams waiting now. */
static void run_expiry(registrar *r)
{
    uint64_t at, now = wall_ms();
    if (mcreg_next_expiry(r->reg, &at) == MCREG_OK && at <= now) {
        mcreg_expire_max(r->reg, now, EXPIRE_SLICE, NULL);
        notify_flush(r);
    }
}

static void take_min(int64_t *timeout, int64_t candidate)
{
    if (candidate >= 0 && (*timeout < 0 || candidate < *timeout))
        *timeout = candidate;
}

/* ms until the nearest deadline, -1 for none. */
static int64_t next_timeout(const registrar *r, uint64_t next_snapshot)
{
    int64_t timeout = -1;
    uint64_t at, wall = wall_ms(), mono = mono_ms();
    if (mcreg_next_expiry(r->reg, &at) == MCREG_OK)
        take_min(&timeout, at > wall ? (int64_t)(at - wall) : 0);
    take_min(&timeout, client_tx_next(r, mono));
    take_min(&timeout, server_tx_next(r, mono));
    if (next_snapshot)
        take_min(&timeout, next_snapshot > mono ? (int64_t)(next_snapshot - mono) : 0);
    take_min(&timeout, cluster_next(r, mono));
    return timeout;
}

/* The end of a turn: the changes drained (with --journal, written and
 * fdatasync'ed), then what the turn has to send. 0, or -1 when the journal
 * cannot be written: the datagrams are dropped, unsent, and the server
 * stops (what they answer is not durable). */
static int commit_turn(registrar *r)
{
    uint8_t *buf;
    size_t len;
    int rc = journal_commit(r, &buf, &len);
    if (rc == 0 && r->cl.on)
        cluster_commit(r, buf, len); /* takes buf (and, without --journal, the datagrams) */
    else if (buf)
        mcreg_buffer_free(r->reg, buf);
    if (rc == 0)
        net_send_held(r);
    return rc < 0 ? -1 : 0;
}

static int serve(registrar *r, const sigset_t *unblocked)
{
    uint64_t interval = (uint64_t)r->cfg.snapshot_interval_s * 1000u;
    uint64_t next_snapshot = (r->cfg.snapshot || r->cl.on) && interval ? mono_ms() + interval : 0;
    int failed = 0;
    while (!stop_signal) {
        run_expiry(r);
        uint64_t mono = mono_ms();
        client_tx_run_timers(r, mono);
        server_tx_expire(r, mono);
        if (child_exited) {
            child_exited = 0;
            persist_reap(r, 0);
        }
        if (next_snapshot && mono >= next_snapshot) {
            persist_background(r, 0);
            next_snapshot = mono_ms() + interval;
        }
        if (snapshot_asked) {
            snapshot_asked = 0;
            /* With a node id the digest comes from the child too: it is
             * O(n), as the snapshot is. */
            if (r->cfg.snapshot || r->cfg.node_id)
                persist_background(r, 1);
            else
                log_stats(r, NULL);
        }
        if (commit_turn(r) != 0) {
            failed = 1;
            break;
        }
        fflush(stderr);
        int64_t timeout = next_timeout(r, next_snapshot);
        struct timespec ts = {timeout / 1000, (timeout % 1000) * 1000000};
        struct pollfd pfd[3] = {{r->fd, POLLIN, 0}};
        int n_redis = cluster_pollfds(r, &pfd[1]);
        int n = ppoll(pfd, 1 + (nfds_t)n_redis, timeout >= 0 ? &ts : NULL, unblocked);
        if (n < 0 && errno != EINTR) {
            log_line("poll-failed error=%s", strerror(errno));
            return -1;
        }
        if (n > 0 && (pfd[0].revents & POLLIN))
            receive_batch(r);
        cluster_handle(r, &pfd[1], n > 0 ? n_redis : 0);
    }
    /* The last batch's changes, and its responses. */
    if (!failed && commit_turn(r) != 0)
        failed = 1;
    persist_reap(r, 1);
    if (failed) {
        log_line("stopping (journal)");
        return -1;
    }
    int rc = r->cfg.snapshot ? persist_write(r) : 0;
    log_line("stopping (%s)", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    return rc;
}

int main(int argc, char **argv)
{
    registrar r;
    memset(&r, 0, sizeof r);
    r.fd = -1;
    r.journal_fd = -1;
    r.cfg = (config){.listen = "127.0.0.1:5060",
                     /* An MCPTT user has a handful of devices. Without a
                      * limit each new UE of a user costs as much as all
                      * the user's others (a MESSAGE to each, listing each). */
                     .max_ues = 8,
                     .limit_policy = MCREG_LIMIT_REJECT,
                     .notify = MCREG_NOTIFY_ALL,
                     .min_expires_s = 60,
                     .max_expires_s = 7200,
                     .default_expires_s = 3600,
                     .redis_stream = "mcreg:changes",
                     .redis_maxlen = 1000000};
    int flags = parse_flags(argc, argv, &r.cfg, &r.cl);
    if (flags != 0)
        return flags > 0 ? 0 : 1;
    /* The log is written a batch at a time: the loop flushes it before it
     * sleeps, so no line waits longer than one turn. Line by line, the
     * write() calls took a tenth of the registrar's time at 10^4
     * REGISTERs/s. */
    static char log_buffer[1 << 16];
    setvbuf(stderr, log_buffer, _IOFBF, sizeof log_buffer);
    /* The tables' keys come from the network (hash flooding). */
    table_key[0] = random_seed();
    table_key[1] = random_seed();
    parser_init();
    /* osip writes its own trace lines to stdout, whatever level is
     * disabled, unless given a function: they go nowhere, and what osip
     * rejects is logged here as a drop. */
    osip_trace_initialize_func(TRACE_LEVEL0, discard_osip_trace);
    for (int level = 0; level < END_TRACE_LEVEL; level++)
        osip_trace_disable_level((osip_trace_level_t)level);

    sigset_t unblocked;
    int status = 1;
    if (install_signals(&unblocked) != 0 || open_registry(&r) != 0)
        goto out;
    int first_start = 0;
    if (r.cfg.snapshot) {
        int restored = persist_restore(&r);
        /* A snapshot that cannot be written would lose every
         * registration at the first write: refuse to start instead. */
        if (restored < 0 || persist_check_writable(&r) != 0)
            goto out;
        first_start = restored == 1;
    }
    if (r.cl.on && cluster_open(&r) != 0)
        goto out;
    if (net_open(&r) != 0)
        goto out;
    /* First line, always: whoever started the server reads its port here. */
    log_line("listening udp %s", r.local_str);
    if (!r.cfg.n_trust)
        log_line("warning no --trust: any source can register, deregister or query any user "
                 "(see README: what a deployment must add)");
    if (r.cfg.snapshot && first_start) {
        log_line("snapshot none %s: no snapshot yet, starting empty", r.cfg.snapshot);
        /* The file exists from now on: the next start restores it. */
        if (persist_write(&r) != 0)
            goto out;
    } else if (r.cfg.snapshot) {
        log_line("snapshot restored %s records=%zu users=%zu", r.cfg.snapshot,
                 mcreg_record_count(r.reg), mcreg_user_count(r.reg));
    }
    /* After the listening line: replaying logs (events, a torn end). The
     * socket is open and its datagrams wait in its buffer meanwhile. */
    r.hold_sends = r.cfg.node_id != 0;
    if (r.cfg.journal && journal_open(&r) != 0)
        goto out;
    /* After the journal: what it replayed is queued for Redis first. */
    if (r.cl.on)
        cluster_connect(&r);
    credit_earn_restored(&r);
    status = serve(&r, &unblocked) == 0 ? 0 : 1;
out:
    cluster_free(&r);
    notify_free(&r);
    client_tx_free_all(&r);
    server_tx_free_all(&r);
    net_free_held(&r);
    journal_close(&r);
    mcreg_registry_free(r.reg);
    if (r.fd >= 0)
        close(r.fd);
    fflush(stderr);
    return status;
}
