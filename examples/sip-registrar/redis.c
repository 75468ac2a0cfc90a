/*
 * redis.c - one hiredis 0.14 asynchronous connection, driven by the
 * registrar's own ppoll() loop, with the timeouts hiredis 0.14 lacks.
 *
 * hiredis asks for read and write interest through the ev hooks below;
 * the loop polls the descriptor for what was asked and hands the readiness
 * back (rconn_handle). Replies come in the order the commands were sent, so
 * each command's callback and deadline wait in one ring, and the reply at
 * the head is the head's. A command past its deadline, or a connect that
 * takes too long, drops the connection: hiredis then calls every pending
 * callback with no reply, and the owner sees the drop (rconn.went_down)
 * after the loop's I/O, never from inside hiredis. Reconnects back off
 * from 100 ms to 2 s.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "registrar.h"

#define BACKOFF_FIRST_MS 100u
#define BACKOFF_MAX_MS 2000u
#define CONNECT_TIMEOUT_MS 2000u

void rconn_init(rconn *c, registrar *r, const char *role)
{
    memset(c, 0, sizeof *c);
    c->r = r;
    c->role = role;
    c->backoff_ms = BACKOFF_FIRST_MS;
}

/* ---- the event hooks: hiredis says what it waits for -------------------------- */

static void hook_add_read(void *p) { ((rconn *)p)->want_read = 1; }
static void hook_del_read(void *p) { ((rconn *)p)->want_read = 0; }
static void hook_add_write(void *p) { ((rconn *)p)->want_write = 1; }
static void hook_del_write(void *p) { ((rconn *)p)->want_write = 0; }

/* Called as hiredis frees the context, whatever the cause (a connect
 * that failed, EOF, an error, our own rconn_drop): the context is gone. */
static void hook_cleanup(void *p)
{
    rconn *c = p;
    c->ac = NULL;
    c->want_read = c->want_write = 0;
    if (c->up)
        c->went_down = 1;
    c->up = 0;
    c->retry_at_ms = mono_ms() + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static void note_error(rconn *c, const char *what)
{
    snprintf(c->error, sizeof c->error, "%s", what && *what ? what : "closed");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    if (status != REDIS_OK) {
        note_error(c, ac->errstr);
        LOG_LIMITED("redis connect-failed role=%s addr=%s error=%s", c->role, c->addr, c->error);
        return; /* hiredis frees it: hook_cleanup */
    }
    c->up = 1;
    c->went_up = 1;
    c->backoff_ms = BACKOFF_FIRST_MS;
    log_line("redis connected role=%s addr=%s", c->role, c->addr);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn *c = ac->data;
    (void)status;
    if (!c->error[0])
        note_error(c, ac->err ? ac->errstr : "closed");
    if (!c->quiet)
        log_line("redis lost role=%s addr=%s error=%s", c->role, c->addr, c->error);
}

/* ---- connecting -------------------------------------------------------------- */

int rconn_connect(rconn *c, const char *host, int port, const char *addr_text)
{
    c->addr = addr_text;
    c->error[0] = '\0';
    c->head = c->n = 0;
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        note_error(c, ac ? ac->errstr : "out of memory");
        LOG_LIMITED("redis connect-failed role=%s addr=%s error=%s", c->role, c->addr, c->error);
        if (ac)
            redisAsyncFree(ac);
        c->retry_at_ms = mono_ms() + c->backoff_ms;
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
        return -1;
    }
    ac->data = c;
    ac->ev.data = c;
    ac->ev.addRead = hook_add_read;
    ac->ev.delRead = hook_del_read;
    ac->ev.addWrite = hook_add_write;
    ac->ev.delWrite = hook_del_write;
    ac->ev.cleanup = hook_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    c->ac = ac;
    /* The connect completes when the socket turns writable. */
    c->want_write = 1;
    c->connect_deadline_ms = mono_ms() + CONNECT_TIMEOUT_MS;
    return 0;
}

void rconn_drop(rconn *c, const char *why)
{
    if (!c->ac)
        return;
    note_error(c, why);
    redisAsyncFree(c->ac); /* calls the pending callbacks, then hook_cleanup */
}

/* ---- commands ------------------------------------------------------------------ */

/* hiredis's callback for every command: the ring's head is this reply's. */
static void trampoline(redisAsyncContext *ac, void *reply, void *privdata)
{
    rconn *c = privdata;
    (void)ac;
    if (!c->n)
        return;
    rconn_pending p = c->ring[c->head];
    c->head = (c->head + 1) % RCONN_MAX_PENDING;
    c->n--;
    p.fn(c->r, reply, p.arg);
}

int rconn_command(rconn *c, rconn_reply_fn *fn, void *arg, uint64_t timeout_ms, int argc,
                  const char **argv, const size_t *argvlen)
{
    if (!c->up || c->n == RCONN_MAX_PENDING)
        return -1;
    size_t slot = (c->head + c->n) % RCONN_MAX_PENDING;
    c->ring[slot] = (rconn_pending){fn, arg, mono_ms() + timeout_ms};
    c->n++;
    if (redisAsyncCommandArgv(c->ac, trampoline, c, argc, argv, argvlen) != REDIS_OK) {
        c->n--;
        return -1;
    }
    return 0;
}

int rconn_ready(const rconn *c, size_t room)
{
    return c->up && RCONN_MAX_PENDING - c->n >= room;
}

/* ---- the loop's side ------------------------------------------------------------------ */

int rconn_pollfd(const rconn *c, struct pollfd *p)
{
    if (!c->ac || !(c->want_read || c->want_write))
        return 0;
    p->fd = c->ac->c.fd;
    p->events = (short)((c->want_read ? POLLIN : 0) | (c->want_write ? POLLOUT : 0));
    p->revents = 0;
    return 1;
}

void rconn_handle(rconn *c, short revents)
{
    if (c->ac && (revents & (POLLIN | POLLHUP | POLLERR)))
        redisAsyncHandleRead(c->ac);
    /* The read may have freed it (EOF). */
    if (c->ac && (revents & (POLLOUT | POLLERR)))
        redisAsyncHandleWrite(c->ac);
}

void rconn_tick(rconn *c, uint64_t now)
{
    if (c->ac && !c->up && now >= c->connect_deadline_ms)
        rconn_drop(c, "connect timeout");
    else if (c->ac && c->n && now >= c->ring[c->head].deadline_ms)
        rconn_drop(c, "reply timeout");
}

int64_t rconn_next(const rconn *c, uint64_t now)
{
    uint64_t at;
    if (!c->ac)
        at = c->retry_at_ms;
    else if (!c->up)
        at = c->connect_deadline_ms;
    else if (c->n)
        at = c->ring[c->head].deadline_ms;
    else
        return -1;
    return at > now ? (int64_t)(at - now) : 0;
}

void rconn_free(rconn *c)
{
    c->quiet = 1;
    if (c->ac)
        rconn_drop(c, "stopping");
    c->went_down = 0;
}
