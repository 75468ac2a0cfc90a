/*
 * transaction.c - RFC 3261 section 17 over UDP, the two halves this server
 * needs.
 *
 * Client (17.1.2, non-INVITE): each MESSAGE is sent, then sent again when
 * Timer E fires: after T1, doubling up to T2; after a provisional response
 * every T2. A final response ends it; Timer F (64*T1) gives up. The
 * outstanding transactions sit in a hash by branch and in a min-heap on
 * their next deadline, with the heap index kept in each, so the poll loop
 * asks for the next timer in O(1).
 *
 * Server (17.2.2): a request that is a retransmission (same top Via branch,
 * sent-by and method) gets the response it got before, without being
 * handled again, for Timer J (64*T1). Without this a retransmitted REGISTER
 * would meet the library's CSeq check and get 400. All entries live equally
 * long, so the oldest is always first in the hash's insertion order: expiry
 * is a walk from the head. The number kept is bounded (SERVER_TX_MAX); past
 * it the oldest goes early, and a retransmission of its request is handled
 * again (a REGISTER would then meet the CSeq check).
 *
 * A response counts only from the address its MESSAGE was sent to.
 *
 * The timers run on the monotonic clock, not the library's wall clock.
 */
#include <stdlib.h>
#include <string.h>

#include "registrar.h"

#include "table.h"

int table_oom;

/* Bounded by count and by bytes (a 200 can list 16 KiB of Contacts); past
 * either the oldest go early. 64 MiB keeps Timer J's 32 s of ordinary
 * 200s (about 700 bytes with the entry) up to some 3,000 requests/s, and
 * the retransmissions of the first 12 s (T1 doubling to T2) at 8,000/s. */
#define SERVER_TX_MAX 262144u
#define SERVER_TX_MAX_BYTES ((size_t)64 << 20)

typedef struct client_tx {
    UT_hash_handle hh;
    char branch[32];
    char *bytes; /* osip_malloc'd */
    size_t len;
    address to;
    char *recipient;
    uint64_t next_ms;     /* the next retransmission or Timer F */
    uint64_t interval_ms; /* Timer E's current value */
    uint64_t deadline_ms; /* Timer F */
    size_t heap_index;
} client_tx;

typedef struct server_tx {
    UT_hash_handle hh;
    char *key;
    char *bytes;
    size_t len;
    size_t cost; /* what it holds, for SERVER_TX_MAX_BYTES */
    uint64_t expires_ms;
} server_tx;

/* ---- the timer heap ----------------------------------------------------- */

static void heap_set(registrar *r, size_t i, client_tx *t)
{
    r->timers[i] = t;
    t->heap_index = i;
}

static void heap_up(registrar *r, size_t i)
{
    client_tx *t = r->timers[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (r->timers[parent]->next_ms <= t->next_ms)
            break;
        heap_set(r, i, r->timers[parent]);
        i = parent;
    }
    heap_set(r, i, t);
}

static void heap_down(registrar *r, size_t i)
{
    client_tx *t = r->timers[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->n_timers)
            break;
        if (c + 1 < r->n_timers && r->timers[c + 1]->next_ms < r->timers[c]->next_ms)
            c++;
        if (t->next_ms <= r->timers[c]->next_ms)
            break;
        heap_set(r, i, r->timers[c]);
        i = c;
    }
    heap_set(r, i, t);
}

static int heap_push(registrar *r, client_tx *t)
{
    if (r->n_timers == r->cap_timers) {
        size_t cap = r->cap_timers ? 2 * r->cap_timers : 64;
        client_tx **p = realloc(r->timers, cap * sizeof *p);
        if (!p)
            return -1;
        r->timers = p;
        r->cap_timers = cap;
    }
    heap_set(r, r->n_timers++, t);
    heap_up(r, t->heap_index);
    return 0;
}

static void heap_remove(registrar *r, client_tx *t)
{
    size_t i = t->heap_index;
    client_tx *last = r->timers[--r->n_timers];
    if (last == t)
        return;
    heap_set(r, i, last);
    heap_up(r, i);
    heap_down(r, last->heap_index);
}

/* ---- client transactions ------------------------------------------------ */

static void client_tx_free(client_tx *t)
{
    osip_free(t->bytes);
    free(t->recipient);
    free(t);
}

static void client_tx_end(registrar *r, client_tx *t)
{
    HASH_DEL(r->clients, t);
    heap_remove(r, t);
    r->client_bytes -= t->len;
    client_tx_free(t);
}

static void log_client(const client_tx *t, const char *outcome)
{
    char esc[LOG_ESCAPE_SIZE(MCREG_MAX_ID_LEN)];
    log_line("message %s %s", log_escape(esc, sizeof esc, t->recipient, strlen(t->recipient)),
             outcome);
}

static void log_withheld(const char *recipient)
{
    char esc[LOG_ESCAPE_SIZE(MCREG_MAX_ID_LEN)];
    LOG_LIMITED("message %s withheld", log_escape(esc, sizeof esc, recipient, strlen(recipient)));
}

void client_tx_start(registrar *r, const char *branch, char *bytes, size_t len,
                     const address *to, const char *recipient)
{
    if (!credit_spend(r, to, len)) {
        /* Its destination never answered and has no credit left. */
        log_withheld(recipient);
        osip_free(bytes);
        return;
    }
    net_send(r, to, bytes, len);
    client_tx *t = calloc(1, sizeof *t);
    if (t)
        t->recipient = strdup(recipient);
    if (!t || !t->recipient) {
        /* Sent once, not retransmitted: memory is short. */
        osip_free(bytes);
        if (t)
            free(t);
        return;
    }
    snprintf(t->branch, sizeof t->branch, "%s", branch);
    t->bytes = bytes;
    t->len = len;
    t->to = *to;
    uint64_t now = mono_ms();
    t->interval_ms = SIP_T1_MS;
    t->next_ms = now + SIP_T1_MS;
    t->deadline_ms = now + SIP_TIMER_F_MS;
    table_oom = 0;
    HASH_ADD_STR(r->clients, branch, t);
    if (table_oom || heap_push(r, t) != 0) {
        if (!table_oom)
            HASH_DEL(r->clients, t);
        client_tx_free(t);
        return;
    }
    r->client_bytes += len;
}

static const char *top_branch(const osip_message_t *msg)
{
    osip_via_t *via = osip_list_get(&msg->vias, 0);
    osip_generic_param_t *branch = NULL;
    if (!via || osip_via_param_get_byname(via, "branch", &branch) < 0 || !branch)
        return NULL;
    return branch->gvalue;
}

void client_tx_on_response(registrar *r, const osip_message_t *resp, const address *from)
{
    const char *branch = top_branch(resp);
    client_tx *t = NULL;
    if (branch && strlen(branch) < sizeof t->branch)
        HASH_FIND_STR(r->clients, branch, t);
    if (!t)
        return; /* a stray or a late response: nothing waits for it */
    if (!net_same_address(from, &t->to)) {
        /* RFC 3261 18.1.2 asks only for the branch; but a response from
         * elsewhere than where the MESSAGE went is a forgery waiting to
         * happen (a guessed branch would end the transaction). */
        char where[ADDRESS_STR_MAX];
        LOG_LIMITED("drop response-from-elsewhere from=%s", net_format_address(from, where));
        return;
    }
    credit_answered(r, from);
    if (resp->status_code >= 200) {
        char code[16];
        snprintf(code, sizeof code, "%d", resp->status_code);
        log_client(t, code);
        client_tx_end(r, t);
    } else if (t->interval_ms != SIP_T2_MS) {
        /* Proceeding: from now on every T2 (17.1.2.2). */
        t->interval_ms = SIP_T2_MS;
        uint64_t next = mono_ms() + SIP_T2_MS;
        t->next_ms = next < t->deadline_ms ? next : t->deadline_ms;
        heap_down(r, t->heap_index);
        heap_up(r, t->heap_index);
    }
}

void client_tx_run_timers(registrar *r, uint64_t now)
{
    while (r->n_timers && r->timers[0]->next_ms <= now) {
        client_tx *t = r->timers[0];
        if (now >= t->deadline_ms) {
            log_client(t, "timeout");
            client_tx_end(r, t);
            continue;
        }
        if (!credit_spend(r, &t->to, t->len)) {
            log_withheld(t->recipient);
            client_tx_end(r, t);
            continue;
        }
        net_send(r, &t->to, t->bytes, t->len);
        /* 17.1.2.2: each retransmission resets Timer E to twice its last
         * value (at most T2): copies at T1, 3*T1, 7*T1, ... */
        t->interval_ms = 2 * t->interval_ms < SIP_T2_MS ? 2 * t->interval_ms : SIP_T2_MS;
        uint64_t next = now + t->interval_ms;
        t->next_ms = next < t->deadline_ms ? next : t->deadline_ms;
        heap_down(r, 0);
    }
}

int64_t client_tx_next(const registrar *r, uint64_t now)
{
    if (!r->n_timers)
        return -1;
    uint64_t at = r->timers[0]->next_ms;
    return at > now ? (int64_t)(at - now) : 0;
}

void client_tx_free_all(registrar *r)
{
    client_tx *t, *tmp;
    HASH_ITER(hh, r->clients, t, tmp) {
        HASH_DEL(r->clients, t);
        client_tx_free(t);
    }
    free(r->timers);
    r->timers = NULL;
    r->n_timers = r->cap_timers = 0;
    r->client_bytes = 0;
    credit_free_all(r);
}

/* ---- server transactions ------------------------------------------------ */

/* "branch sent-by method", or NULL for a request without an RFC 3261
 * branch (17.2.3: older requests are matched otherwise; here they are
 * simply handled again). */
static char *server_key(const osip_message_t *req)
{
    osip_via_t *via = osip_list_get(&req->vias, 0);
    const char *branch = top_branch(req);
    if (!branch || strncmp(branch, "z9hG4bK", 7) != 0 || !via->host)
        return NULL;
    const char *port = via->port ? via->port : "";
    size_t n = strlen(branch) + strlen(via->host) + strlen(port) + strlen(req->sip_method) + 4;
    char *key = malloc(n);
    if (key)
        snprintf(key, n, "%s %s:%s %s", branch, via->host, port, req->sip_method);
    return key;
}

static void server_tx_free(server_tx *s)
{
    free(s->key);
    free(s->bytes);
    free(s);
}

static void server_tx_drop(registrar *r, server_tx *s)
{
    HASH_DEL(r->servers, s);
    r->n_servers--;
    r->server_bytes -= s->cost;
    server_tx_free(s);
}

int server_tx_replay(registrar *r, const osip_message_t *req, const address *from)
{
    char *key = server_key(req);
    if (!key)
        return 0;
    server_tx *s = NULL;
    HASH_FIND_STR(r->servers, key, s);
    free(key);
    if (!s)
        return 0;
    if (s->expires_ms <= mono_ms()) {
        /* Past Timer J: the request is a new one (the loop may not have
         * woken since to expire it). */
        server_tx_drop(r, s);
        return 0;
    }
    net_send(r, from, s->bytes, s->len);
    char where[ADDRESS_STR_MAX], method[LOG_ESCAPE_SIZE(LOG_METHOD_MAX)];
    log_line("resend %s from=%s",
             log_escape(method, sizeof method, req->sip_method, strlen(req->sip_method)),
             net_format_address(from, where));
    return 1;
}

void server_tx_keep(registrar *r, const osip_message_t *req, const char *bytes, size_t len)
{
    server_tx *s = calloc(1, sizeof *s);
    if (!s)
        return;
    s->key = server_key(req);
    s->bytes = malloc(len);
    if (!s->key || !s->bytes) {
        server_tx_free(s);
        return;
    }
    memcpy(s->bytes, bytes, len);
    s->len = len;
    size_t key_len = strlen(s->key);
    s->cost = sizeof *s + key_len + len + 32; /* 32: the allocator's share */
    s->expires_ms = mono_ms() + SIP_TIMER_J_MS;
    while (r->servers &&
           (r->n_servers >= SERVER_TX_MAX || r->server_bytes + s->cost > SERVER_TX_MAX_BYTES))
        server_tx_drop(r, r->servers);
    table_oom = 0;
    HASH_ADD_KEYPTR(hh, r->servers, s->key, key_len, s);
    if (table_oom) {
        server_tx_free(s);
        return;
    }
    r->n_servers++;
    r->server_bytes += s->cost;
}

void server_tx_expire(registrar *r, uint64_t now)
{
    while (r->servers && r->servers->expires_ms <= now)
        server_tx_drop(r, r->servers);
}

int64_t server_tx_next(const registrar *r, uint64_t now)
{
    if (!r->servers)
        return -1;
    uint64_t at = r->servers->expires_ms;
    return at > now ? (int64_t)(at - now) : 0;
}

void server_tx_free_all(registrar *r)
{
    while (r->servers)
        server_tx_drop(r, r->servers);
}
