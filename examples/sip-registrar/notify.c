/*
 * notify.c - the library's events.
 *
 * Every event becomes one log line. NOTIFY_LOGON and NOTIFY_LOGOFF also
 * become a SIP MESSAGE to the recipient UE (TS 22.179 R-6.11-001: tell the
 * user they are logged on elsewhere). The callback runs inside a library
 * call, so it only encodes and queues; notify_flush() sends once the call
 * has returned and the REGISTER's response is out.
 *
 * MESSAGE body (text/plain), one "name: value" a line:
 *   event: logon | logoff
 *   user: <user id>
 *   ue: <the UE that logged on or off>
 *   recipient: <the UE this MESSAGE goes to>
 *   other-ue: <id>      one line per other UE of the user, in logon order,
 *                       MESSAGE_MAX_OTHERS at most
 *   other-ues-omitted: <n>   when there were more
 * A control byte in an id is written \xHH, so no id adds a line.
 */
#include <stdlib.h>
#include <string.h>

#include "registrar.h"

typedef struct notification {
    char branch[32];
    char *bytes;
    size_t len;
    address to;
    char *recipient;
} notification;

/* ---- a growing text buffer -------------------------------------------------- */

typedef struct text {
    char *p;
    size_t len, cap;
    int failed;
} text;

static void text_add(text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_str(text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

/* For the log: every byte outside 0x21..0x7e as \xHH. */
static void text_log_id(text *t, const char *id)
{
    size_t n = strlen(id);
    char *esc = malloc(LOG_ESCAPE_SIZE(n));
    if (!esc) {
        t->failed = 1;
        return;
    }
    text_str(t, log_escape(esc, LOG_ESCAPE_SIZE(n), id, n));
    free(esc);
}

/* For a MESSAGE body: UTF-8 kept, control bytes as \xHH. */
static void text_body_id(text *t, const char *id)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            char esc[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};
            text_add(t, esc, 4);
        } else {
            text_add(t, (const char *)p, 1);
        }
    }
}

/* ---- log lines ---------------------------------------------------------------- */

static void log_event(const mcreg_event *ev)
{
    text t = {0};
    text_str(&t, "event ");
    text_str(&t, mcreg_event_name(ev->type));
    text_str(&t, " user=");
    text_log_id(&t, ev->user_id);
    text_str(&t, " ue=");
    text_log_id(&t, ev->ue_id);
    if (ev->type == MCREG_EV_CREATED || ev->type == MCREG_EV_REFRESHED ||
        ev->type == MCREG_EV_SHORTENED) {
        uint64_t at = mcreg_record_expires_at(ev->record);
        char s[32];
        snprintf(s, sizeof s, " expires=%llu",
                 (unsigned long long)(at > ev->at_ms ? (at - ev->at_ms + 999) / 1000 : 0));
        text_str(&t, s);
    }
    if (ev->type == MCREG_EV_NOTIFY_LOGON || ev->type == MCREG_EV_NOTIFY_LOGOFF) {
        text_str(&t, " to=");
        text_log_id(&t, ev->recipient_ue_id);
        text_str(&t, " others=");
        size_t shown = ev->n_other < MESSAGE_MAX_OTHERS ? ev->n_other : MESSAGE_MAX_OTHERS;
        for (size_t i = 0; i < shown; i++) {
            if (i)
                text_str(&t, ",");
            text_log_id(&t, ev->other_ue_ids[i]);
        }
        if (shown < ev->n_other) {
            char more[32];
            snprintf(more, sizeof more, ",+%zu", ev->n_other - shown);
            text_str(&t, more);
        }
    }
    if (!t.failed)
        log_line("%s", t.p);
    free(t.p);
}

/* ---- MESSAGE ------------------------------------------------------------------- */

static void body_line(text *t, const char *name, const char *id)
{
    text_str(t, name);
    text_str(t, ": ");
    text_body_id(t, id);
    text_str(t, "\n");
}

static int build_body(const mcreg_event *ev, text *t)
{
    text_str(t, ev->type == MCREG_EV_NOTIFY_LOGON ? "event: logon\n" : "event: logoff\n");
    body_line(t, "user", ev->user_id);
    body_line(t, "ue", ev->ue_id);
    body_line(t, "recipient", ev->recipient_ue_id);
    size_t shown = ev->n_other < MESSAGE_MAX_OTHERS ? ev->n_other : MESSAGE_MAX_OTHERS;
    for (size_t i = 0; i < shown; i++)
        body_line(t, "other-ue", ev->other_ue_ids[i]);
    if (shown < ev->n_other) {
        char more[64];
        snprintf(more, sizeof more, "other-ues-omitted: %zu\n", ev->n_other - shown);
        text_str(t, more);
    }
    return t->failed ? -1 : 0;
}

static int set_headers(registrar *r, osip_message_t *m, const char *branch, const char *user_id)
{
    char tag[17], call_id[33];
    random_hex(r, tag, 16);
    random_hex(r, call_id, 32);
    size_t n = strlen(user_id) + 3 * ADDRESS_STR_MAX + 128;
    char *buf = malloc(n);
    if (!buf)
        return -1;
    int bad = 0;
    snprintf(buf, n, "SIP/2.0/UDP %s;branch=%s;rport", r->local_str, branch);
    bad |= osip_message_set_via(m, buf) != 0;
    snprintf(buf, n, "<sip:registrar@%s>;tag=%s", r->local_str, tag);
    bad |= osip_message_set_from(m, buf) != 0;
    snprintf(buf, n, "<%s>", user_id);
    bad |= osip_message_set_to(m, buf) != 0;
    bad |= osip_message_set_call_id(m, call_id) != 0;
    bad |= osip_message_set_cseq(m, "1 MESSAGE") != 0;
    bad |= osip_message_set_max_forwards(m, "70") != 0;
    bad |= osip_message_set_content_type(m, "text/plain;charset=UTF-8") != 0;
    free(buf);
    return bad ? -1 : 0;
}

int route_contact(const osip_uri_t *uri, const address *source, address *to)
{
    if (uri->host && net_numeric_address(uri->host, uri->port, to) == 0)
        return 0;
    if (!source)
        return -1;
    *to = *source;
    return 0;
}

/* The address a record's REGISTER came from (its "source" setting). */
static int record_source(const mcreg_record *rec, address *out)
{
    const mcreg_setting *source = mcreg_record_setting_find(rec, "source");
    char s[ADDRESS_STR_MAX];
    if (!source || source->type != MCREG_VAL_TEXT || source->v.text.len >= sizeof s)
        return -1;
    memcpy(s, source->v.text.ptr, source->v.text.len);
    s[source->v.text.len] = '\0';
    return net_parse_address(s, out);
}

static int route(const mcreg_record *rec, const osip_uri_t *uri, address *to)
{
    address source;
    int have_source = record_source(rec, &source) == 0;
    return route_contact(uri, have_source ? &source : NULL, to);
}

int route_record(const mcreg_record *rec, address *to)
{
    const char *contact = mcreg_record_contact(rec);
    osip_uri_t *uri = NULL;
    int rc = -1;
    if (contact && osip_uri_init(&uri) == 0 && osip_uri_parse(uri, contact) == 0)
        rc = route(rec, uri, to);
    osip_uri_free(uri);
    return rc;
}

/* Encodes the MESSAGE for one NOTIFY_* event into `n`: 0, or 1 when its
 * destination has no credit left (credit.c: not worth encoding), or -1. */
static int build_message(registrar *r, const mcreg_event *ev, notification *n)
{
    const char *contact = mcreg_record_contact(ev->recipient);
    if (!contact)
        return -1;
    osip_message_t *m = NULL;
    osip_uri_t *uri = NULL;
    text body = {0};
    int rc = -1;
    if (osip_message_init(&m) != 0)
        goto out;
    if (osip_uri_init(&uri) != 0 || osip_uri_parse(uri, contact) != 0)
        goto out;
    if (route(ev->recipient, uri, &n->to) != 0)
        goto out;
    if (!credit_may_send(r, &n->to)) {
        rc = 1;
        goto out;
    }
    osip_message_set_method(m, osip_strdup("MESSAGE"));
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_message_set_uri(m, uri);
    uri = NULL; /* the message owns it now */
    memcpy(n->branch, "z9hG4bK", 7);
    random_hex(r, n->branch + 7, 24);
    if (set_headers(r, m, n->branch, ev->user_id) != 0 || build_body(ev, &body) != 0)
        goto out;
    if (osip_message_set_body(m, body.p, body.len) != 0)
        goto out;
    char length[24];
    snprintf(length, sizeof length, "%zu", body.len);
    osip_message_set_content_length(m, length);
    char *bytes;
    size_t len;
    if (osip_message_to_str(m, &bytes, &len) != 0)
        goto out;
    n->bytes = bytes;
    n->len = len;
    rc = 0;
out:
    free(body.p);
    osip_uri_free(uri);
    osip_message_free(m);
    return rc;
}

static void log_dropped(const mcreg_event *ev, const char *reason)
{
    char esc[LOG_ESCAPE_SIZE(MCREG_MAX_ID_LEN)];
    LOG_LIMITED("message-dropped to=%s reason=%s",
                log_escape(esc, sizeof esc, ev->recipient_ue_id, strlen(ev->recipient_ue_id)),
                reason);
}

static void queue_message(registrar *r, const mcreg_event *ev)
{
    if (r->n_pending + r->n_timers >= CLIENT_TX_MAX ||
        r->pending_bytes + r->client_bytes >= CLIENT_TX_MAX_BYTES) {
        log_dropped(ev, "too-many-outstanding");
        return;
    }
    if (r->n_pending == r->cap_pending) {
        size_t cap = r->cap_pending ? 2 * r->cap_pending : 8;
        notification *p = realloc(r->pending, cap * sizeof *p);
        if (!p) {
            log_dropped(ev, "no-memory");
            return;
        }
        r->pending = p;
        r->cap_pending = cap;
    }
    notification *n = &r->pending[r->n_pending];
    memset(n, 0, sizeof *n);
    n->recipient = strdup(ev->recipient_ue_id);
    int built = n->recipient ? build_message(r, ev, n) : -1;
    if (built != 0) {
        if (built > 0) {
            char esc[LOG_ESCAPE_SIZE(MCREG_MAX_ID_LEN)];
            LOG_LIMITED("message %s withheld",
                        log_escape(esc, sizeof esc, n->recipient, strlen(n->recipient)));
        } else {
            log_dropped(ev, "no-route-or-no-memory");
        }
        free(n->recipient);
        return;
    }
    r->pending_bytes += n->len;
    r->n_pending++;
}

/* NOTIFY_* events come one per recipient: the first NOTIFY_LOG_MAX of a
 * call are logged in full, the rest counted (notify_flush logs the count). */
static int notify_log_allowed(registrar *r, const mcreg_event *ev)
{
    if (ev->type != MCREG_EV_NOTIFY_LOGON && ev->type != MCREG_EV_NOTIFY_LOGOFF)
        return 1;
    if (r->notify_logged < NOTIFY_LOG_MAX) {
        r->notify_logged++;
        return 1;
    }
    r->notify_unlogged++;
    return 0;
}

void notify_on_event(const mcreg_event *ev, void *user_data)
{
    registrar *r = user_data;
    if (notify_log_allowed(r, ev))
        log_event(ev);
    /* A peer's REGISTER (--redis): its contact may be told of logons
     * from here, as if it had registered here. */
    if ((ev->type == MCREG_EV_CREATED || ev->type == MCREG_EV_REFRESHED) && ev->record &&
        ev->origin != r->cfg.node_id)
        credit_earn_record(r, ev->record);
    if (ev->type == MCREG_EV_NOTIFY_LOGON || ev->type == MCREG_EV_NOTIFY_LOGOFF)
        queue_message(r, ev);
}

void notify_flush(registrar *r)
{
    if (r->notify_unlogged)
        log_line("event NOTIFY_* unlogged=%u (past %u in one call)", r->notify_unlogged,
                 NOTIFY_LOG_MAX);
    r->notify_logged = r->notify_unlogged = 0;
    r->pending_bytes = 0;
    for (size_t i = 0; i < r->n_pending; i++) {
        notification *n = &r->pending[i];
        client_tx_start(r, n->branch, n->bytes, n->len, &n->to, n->recipient);
        free(n->recipient);
    }
    r->n_pending = 0;
}

void notify_free(registrar *r)
{
    for (size_t i = 0; i < r->n_pending; i++) {
        osip_free(r->pending[i].bytes);
        free(r->pending[i].recipient);
    }
    free(r->pending);
    r->pending = NULL;
    r->n_pending = r->cap_pending = 0;
    r->pending_bytes = 0;
}
