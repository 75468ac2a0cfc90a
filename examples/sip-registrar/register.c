/*
 * register.c - requests in, responses out.
 *
 * REGISTER (RFC 3261 10.3, one binding per request):
 *   - no Contact: a query; 200 lists the user's bindings;
 *   - Contact: * with Expires: 0: every UE of the user goes, after the same
 *     Call-ID/CSeq check the library makes for one binding;
 *   - one Contact: mcreg_register() with the UE id of identity.c, the
 *     expiry of the Contact's expires parameter, else Expires, else the
 *     default (a malformed value counts as absent, as 10.2.1.1 says),
 *     capped at the maximum; under the minimum: 423 with Min-Expires;
 *   - two or more Contacts: 400 (an MCPTT UE registers one).
 * Every 200 lists each binding the user holds after the request, with the
 * seconds it has left, in the order the UEs logged on.
 *
 * With --trust, a REGISTER from another source gets 403.
 * OPTIONS gets 200; ACK nothing; anything else 405 with Allow.
 */
#include <errno.h>
#include <string.h>

#include "registrar.h"

static const char ALLOWED_METHODS[] = "REGISTER, OPTIONS";

/* A request already checked to carry a top Via and a CSeq. */
typedef struct request {
    registrar *r;
    osip_message_t *msg;
    const address *from;
    size_t len; /* the datagram's bytes */
    char from_str[ADDRESS_STR_MAX];
    /* For the reply log line; NULL until known. */
    const char *user_id;
    const char *ue_id;
} request;

/* ---- building and sending a response ------------------------------------- */

static int clone_vias(const osip_message_t *req, osip_message_t *resp)
{
    osip_via_t *via;
    for (int pos = 0; (via = osip_list_get(&req->vias, pos)) != NULL; pos++) {
        osip_via_t *copy;
        if (osip_via_clone(via, &copy) != 0)
            return -1;
        osip_list_add(&resp->vias, copy, -1);
    }
    return 0;
}

static int add_to_tag(registrar *r, osip_to_t *to)
{
    osip_generic_param_t *tag = NULL;
    if (osip_to_get_tag(to, &tag) >= 0 && tag)
        return 0;
    char value[17];
    random_hex(r, value, 16);
    char *copy = osip_strdup(value);
    return copy && osip_to_set_tag(to, copy) == 0 ? 0 : -1;
}

/* A response with the request's Vias, From, To (tagged), Call-ID and CSeq:
 * whichever of them the request had (RFC 3261 8.2.6.2). */
static osip_message_t *response_new(request *q, int code, const char *reason)
{
    const osip_message_t *req = q->msg;
    osip_message_t *resp;
    if (osip_message_init(&resp) != 0)
        return NULL;
    osip_message_set_version(resp, osip_strdup("SIP/2.0"));
    osip_message_set_status_code(resp, code);
    osip_message_set_reason_phrase(resp, osip_strdup(reason));
    int bad = clone_vias(req, resp) != 0;
    if (req->from)
        bad |= osip_from_clone(req->from, &resp->from) != 0;
    if (req->to)
        bad |= osip_to_clone(req->to, &resp->to) != 0 || add_to_tag(q->r, resp->to) != 0;
    if (req->call_id)
        bad |= osip_call_id_clone(req->call_id, &resp->call_id) != 0;
    bad |= osip_cseq_clone(req->cseq, &resp->cseq) != 0;
    if (bad) {
        osip_message_free(resp);
        return NULL;
    }
    return resp;
}

static void send_response(request *q, osip_message_t *resp)
{
    char *bytes = NULL;
    size_t len = 0;
    osip_message_set_content_length(resp, "0");
    if (osip_message_to_str(resp, &bytes, &len) != 0) {
        LOG_LIMITED("drop cannot-encode-response from=%s", q->from_str);
        osip_message_free(resp);
        return;
    }
    /* reply_bindings keeps a 200 far under the limit; this is the check. */
    int sent = len <= SIP_MAX_UDP_PAYLOAD ? net_send(q->r, q->from, bytes, len) : -1;
    const char *error = len > SIP_MAX_UDP_PAYLOAD ? "too-large" : sent != 0 ? strerror(errno) : NULL;
    if (!error)
        server_tx_keep(q->r, q->msg, bytes, len);

    char user[LOG_ESCAPE_SIZE(MCREG_MAX_ID_LEN)] = "";
    char ue[LOG_ESCAPE_SIZE(MCREG_MAX_ID_LEN)] = "";
    char method[LOG_ESCAPE_SIZE(LOG_METHOD_MAX)];
    log_escape(method, sizeof method, q->msg->sip_method, strlen(q->msg->sip_method));
    if (q->user_id)
        log_escape(user, sizeof user, q->user_id, strlen(q->user_id));
    if (q->ue_id)
        log_escape(ue, sizeof ue, q->ue_id, strlen(q->ue_id));
    /* A response that did not leave is a failure, not a "reply". */
    log_line("%s %d %s from=%s%s%s%s%s%s%s", error ? "reply-failed" : "reply", resp->status_code,
             method, q->from_str, q->user_id ? " user=" : "", user, q->ue_id ? " ue=" : "", ue,
             error ? " error=" : "", error ? error : "");
    osip_free(bytes);
    osip_message_free(resp);
}

static void reply(request *q, int code, const char *reason)
{
    osip_message_t *resp = response_new(q, code, reason);
    if (resp)
        send_response(q, resp);
}

static void reply_with_header(request *q, int code, const char *reason, const char *name,
                              const char *value)
{
    osip_message_t *resp = response_new(q, code, reason);
    if (!resp)
        return;
    osip_message_set_header(resp, name, value);
    send_response(q, resp);
}

/* ---- 200 with the user's bindings ---------------------------------------- */

typedef struct binding_list {
    osip_message_t *resp;
    uint64_t now;
    uint32_t max_expires_s;
    const mcreg_record *own; /* the requester's binding: always listed */
    size_t room;             /* Contact bytes left for the others */
    unsigned others_left;
    size_t omitted;
    int failed;
} binding_list;

/* Whether a binding other than the requester's still fits in the 200. */
static int other_fits(binding_list *list, size_t contact_len)
{
    if (list->others_left == 0 || contact_len > list->room) {
        list->omitted++;
        return 0;
    }
    list->others_left--;
    list->room -= contact_len;
    return 1;
}

static int add_binding_contact(const mcreg_record *rec, void *ud)
{
    binding_list *list = ud;
    const char *contact = mcreg_record_contact(rec);
    if (!contact)
        return 0;
    size_t n = strlen(contact) + 48;
    if (rec != list->own && !other_fits(list, n))
        return 0;
    uint64_t at = mcreg_record_expires_at(rec);
    /* Seconds left, rounded up: a binding still held is never shown as 0. */
    uint64_t left = at > list->now ? (at - list->now + 999) / 1000 : 0;
    /* Never more than the maximum: after the wall clock steps back a
     * record seems to have longer left than it was ever granted. */
    if (left > list->max_expires_s)
        left = list->max_expires_s;
    char *value = osip_malloc(n);
    if (!value) {
        list->failed = 1;
        return 1;
    }
    snprintf(value, n, "<%s>;expires=%llu", contact, (unsigned long long)left);
    if (osip_message_set_contact(list->resp, value) != 0)
        list->failed = 1;
    osip_free(value);
    return list->failed;
}

/* 200 with the user's bindings, in logon order: the requester's own (when
 * it has one) and as many others as REPLY_MAX_CONTACTS and
 * REPLY_MAX_CONTACT_BYTES allow, so that the answer always fits in a
 * datagram whatever --max-ues allows. */
static void reply_bindings(request *q, const char *user_id, uint64_t now)
{
    osip_message_t *resp = response_new(q, 200, "OK");
    if (!resp)
        return;
    binding_list list = {resp, now, q->r->cfg.max_expires_s, NULL, REPLY_MAX_CONTACT_BYTES,
                         REPLY_MAX_CONTACTS, 0, 0};
    if (q->ue_id)
        list.own = mcreg_find(q->r->reg, user_id, q->ue_id);
    if (list.own) {
        list.others_left--;
        const char *own_contact = mcreg_record_contact(list.own);
        size_t own_len = own_contact ? strlen(own_contact) + 48 : 0;
        list.room = own_len < list.room ? list.room - own_len : 0;
    }
    mcreg_user_foreach(q->r->reg, user_id, add_binding_contact, &list);
    if (list.failed) {
        osip_message_free(resp);
        reply(q, 500, "Server Internal Error");
        return;
    }
    if (list.omitted) {
        char user[LOG_ESCAPE_SIZE(MCREG_MAX_ID_LEN)];
        LOG_LIMITED("reply-contacts-omitted user=%s omitted=%zu",
                    log_escape(user, sizeof user, user_id, strlen(user_id)), list.omitted);
    }
    send_response(q, resp);
}

/* ---- REGISTER --------------------------------------------------------------- */

static int parse_cseq(const char *text, uint32_t *out)
{
    /* RFC 3261 8.1.1.5: a 32-bit unsigned integer (less than 2^31 when
     * chosen by a UAC; larger values are still read exactly). */
    uint64_t v;
    if (!text || strlen(text) > 10 || parse_decimal(text, &v) != 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int is_star(const osip_contact_t *c)
{
    return c && !c->url && c->displayname && strcmp(c->displayname, "*") == 0;
}

static const char *expires_header(const osip_message_t *msg)
{
    osip_header_t *h = NULL;
    if (osip_message_get_expires(msg, 0, &h) < 0 || !h)
        return NULL;
    return h->hvalue;
}

/* The expiry asked for, before the minimum check. */
static uint32_t requested_expiry(registrar *r, const osip_message_t *msg,
                                 osip_contact_t *contact)
{
    uint32_t s;
    osip_generic_param_t *p = NULL;
    int from_contact = osip_contact_param_get_byname(contact, "expires", &p) >= 0 && p &&
                       identity_delta_seconds(p->gvalue, &s) == 0;
    if (!from_contact && identity_delta_seconds(expires_header(msg), &s) != 0)
        s = r->cfg.default_expires_s;
    return s > r->cfg.max_expires_s ? r->cfg.max_expires_s : s;
}

typedef struct stale_check {
    const char *call_id;
    uint32_t cseq;
} stale_check;

static int binding_is_newer(const mcreg_record *rec, void *ud)
{
    const stale_check *c = ud;
    const char *stored = mcreg_record_call_id(rec);
    return stored && strcmp(stored, c->call_id) == 0 && c->cseq <= mcreg_record_cseq(rec);
}

static void remove_all(request *q, const char *user_id, const char *call_id, uint32_t cseq,
                       uint64_t now)
{
    const char *exp = expires_header(q->msg);
    uint32_t s;
    if (identity_delta_seconds(exp, &s) != 0 || s != 0) {
        reply(q, 400, "Contact * needs Expires: 0");
        return;
    }
    /* RFC 3261 10.3 step 6: the ordering check applies to each binding. */
    stale_check check = {call_id, cseq};
    if (mcreg_user_foreach(q->r->reg, user_id, binding_is_newer, &check) > 0) {
        reply(q, 400, "Invalid CSeq");
        return;
    }
    int rc = mcreg_deregister_user(q->r->reg, user_id, now, NULL);
    if (rc != MCREG_OK && rc != MCREG_ERR_NOT_FOUND) {
        reply(q, 500, mcreg_strerror(rc));
        return;
    }
    reply_bindings(q, user_id, now);
    notify_flush(q->r);
}

static int status_of(int rc, const char **reason)
{
    switch (rc) {
    case MCREG_ERR_LIMIT:
        *reason = "UE limit reached";
        return 403;
    case MCREG_ERR_STALE:
        *reason = "Invalid CSeq";
        return 400;
    case MCREG_ERR_INVALID:
        *reason = "Invalid identity, contact or setting";
        return 400;
    default:
        *reason = "Server Internal Error";
        return 500;
    }
}

/* "BASE: DETAIL", DETAIL being the library's account of bad input
 * (mcreg_error_detail: the field and the rule it broke), into out. A
 * reason phrase may hold no CR, LF or other control byte (RFC 3261 25.1),
 * so those, and '%' itself, are written %HH. The detail names fields, not
 * input bytes, but it is escaped all the same: the phrase goes on the wire. */
static const char *reason_with_detail(char *out, size_t size, const char *base,
                                      const char *detail)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = (size_t)snprintf(out, size, "%s%s", base, *detail ? ": " : "");
    for (const unsigned char *p = (const unsigned char *)detail; *p && n + 4 < size; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '%') {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    return out;
}

/* The per-UE settings stored with the record: where the REGISTER came from
 * (the route of last resort for a contact with a host name) and the
 * User-Agent, as bytes since nothing promises it is UTF-8. */
static size_t collect_settings(request *q, mcreg_setting out[2])
{
    size_t n = 0;
    out[n].key = "source";
    out[n].type = MCREG_VAL_TEXT;
    out[n].v.text.ptr = q->from_str;
    out[n].v.text.len = strlen(q->from_str);
    n++;
    osip_header_t *ua = NULL;
    if (osip_message_header_get_byname(q->msg, "user-agent", 0, &ua) >= 0 && ua && ua->hvalue &&
        strlen(ua->hvalue) <= MCREG_MAX_SETTING_LEN) {
        out[n].key = "user-agent";
        out[n].type = MCREG_VAL_BYTES;
        out[n].v.bytes.ptr = (const uint8_t *)ua->hvalue;
        out[n].v.bytes.len = strlen(ua->hvalue);
        n++;
    }
    return n;
}

static void register_binding(request *q, const char *user_id, osip_contact_t *contact,
                             const char *call_id, uint32_t cseq, uint64_t now)
{
    registrar *r = q->r;
    uint32_t expires = requested_expiry(r, q->msg, contact);
    if (expires != 0 && expires < r->cfg.min_expires_s) {
        char min[16];
        snprintf(min, sizeof min, "%u", r->cfg.min_expires_s);
        reply_with_header(q, 423, "Interval Too Brief", "Min-Expires", min);
        return;
    }
    char *contact_uri = NULL;
    if (osip_uri_to_str(contact->url, &contact_uri) != 0) {
        reply(q, 400, "Bad Contact");
        return;
    }
    char *ue_id = identity_ue_id(q->msg, contact, contact_uri);
    if (!ue_id) {
        osip_free(contact_uri);
        reply(q, 500, "Server Internal Error");
        return;
    }
    q->ue_id = ue_id;

    mcreg_setting settings[2];
    mcreg_binding b = {
        .user_id = user_id,
        .ue_id = ue_id,
        .contact = contact_uri,
        .call_id = call_id,
        .cseq = cseq,
        .expires_s = expires,
        .settings = settings,
        .n_settings = collect_settings(q, settings),
    };
    /* Before the call: its MESSAGEs are encoded inside it, the new UE's
     * own among them. A REGISTER the library then refuses still counts:
     * the bound is on bytes sent against bytes that named the address. */
    address to;
    if (expires != 0 && route_contact(contact->url, q->from, &to) == 0)
        credit_earn(r, &to, q->len);
    int rc = mcreg_register(r->reg, &b, now, NULL);
    if (rc == MCREG_OK || (rc == MCREG_ERR_NOT_FOUND && expires == 0)) {
        /* Removing a binding that is not there is no error (10.3 step 8
         * answers with the bindings there are). */
        reply_bindings(q, user_id, now);
    } else {
        const char *reason;
        char phrase[256];
        int code = status_of(rc, &reason);
        if (rc == MCREG_ERR_INVALID)
            reason = reason_with_detail(phrase, sizeof phrase, reason, mcreg_error_detail(r->reg));
        reply(q, code, reason);
    }
    /* After the response: a UE hears of its own logon once it is in. */
    notify_flush(r);
    q->ue_id = NULL;
    osip_free(ue_id);
    osip_free(contact_uri);
}

static void handle_register(request *q)
{
    osip_message_t *msg = q->msg;
    if (!msg->to || !msg->from || !msg->call_id) {
        reply(q, 400, "Missing To, From or Call-ID");
        return;
    }
    uint32_t cseq;
    if (parse_cseq(msg->cseq->number, &cseq) != 0) {
        reply(q, 400, "Bad CSeq");
        return;
    }
    char *user_id = identity_user_id(msg->to->url);
    if (!user_id) {
        reply(q, 400, "To is not a URI with a host");
        return;
    }
    q->user_id = user_id;
    char *call_id = NULL;
    if (osip_call_id_to_str(msg->call_id, &call_id) != 0) {
        osip_free(user_id);
        reply(q, 400, "Bad Call-ID");
        return;
    }
    uint64_t now = wall_ms();
    int n_contacts = osip_list_size(&msg->contacts);
    osip_contact_t *contact = osip_list_get(&msg->contacts, 0);
    if (n_contacts <= 0)
        reply_bindings(q, user_id, now);
    else if (is_star(contact) && n_contacts == 1)
        remove_all(q, user_id, call_id, cseq, now);
    else if (n_contacts > 1 || !contact->url)
        reply(q, 400, "One Contact per REGISTER");
    else
        register_binding(q, user_id, contact, call_id, cseq, now);
    q->user_id = NULL;
    osip_free(call_id);
    osip_free(user_id);
}

/* ---- dispatch ---------------------------------------------------------------- */

/* The bytes before the body (start line and headers, with the empty line). */
static size_t header_bytes(const char *data, size_t len)
{
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    return end ? (size_t)(end + 4 - data) : len;
}

/* RFC 3261 18.3: over UDP, a body shorter than its Content-Length is a
 * truncated datagram. */
static int body_is_truncated(const osip_message_t *msg, size_t body_bytes)
{
    if (!msg->content_length || !msg->content_length->value)
        return 0;
    uint32_t declared;
    if (identity_delta_seconds(msg->content_length->value, &declared) != 0)
        return 1;
    return declared > body_bytes;
}

static void handle_request(request *q, const char *data, size_t len)
{
    osip_message_t *msg = q->msg;
    if (MSG_IS_ACK(msg))
        return; /* never answered (17.2.1) */
    if (osip_strcasecmp(msg->cseq->method, msg->sip_method) != 0) {
        reply(q, 400, "CSeq method does not match");
        return;
    }
    size_t head = header_bytes(data, len);
    if (body_is_truncated(msg, len - head)) {
        LOG_LIMITED("drop truncated-body from=%s", q->from_str);
        return;
    }
    osip_header_t *require = NULL;
    if (osip_message_header_get_byname(msg, "require", 0, &require) >= 0 && require &&
        require->hvalue) {
        reply_with_header(q, 420, "Bad Extension", "Unsupported", require->hvalue);
        return;
    }
    if (MSG_IS_REGISTER(msg) && q->r->cfg.n_trust &&
        !net_in_blocks(q->from, q->r->cfg.trust, q->r->cfg.n_trust))
        reply(q, 403, "Forbidden");
    else if (MSG_IS_REGISTER(msg) && cluster_unavailable(q->r))
        /* --redis without --journal: a 200 must mean "in Redis". */
        reply_with_header(q, 503, "Service Unavailable", "Retry-After", "5");
    else if (MSG_IS_REGISTER(msg))
        handle_register(q);
    else if (MSG_IS_OPTIONS(msg))
        reply_with_header(q, 200, "OK", "Allow", ALLOWED_METHODS);
    else
        reply_with_header(q, 405, "Method Not Allowed", "Allow", ALLOWED_METHODS);
}

void sip_handle_datagram(registrar *r, const char *data, size_t len, const address *from)
{
    request q = {.r = r, .from = from, .len = len};
    net_format_address(from, q.from_str);
    const char *refused = screen_datagram(data, len);
    if (refused) {
        LOG_LIMITED("drop %s from=%s bytes=%zu", refused, q.from_str, len);
        return;
    }
    if (osip_message_init(&q.msg) != 0)
        return;
    if (osip_message_parse(q.msg, data, len) != 0) {
        LOG_LIMITED("drop unparsable from=%s bytes=%zu", q.from_str, len);
    } else if (MSG_IS_RESPONSE(q.msg)) {
        client_tx_on_response(r, q.msg, from);
    } else if (!osip_list_get(&q.msg->vias, 0) || !q.msg->cseq || !q.msg->cseq->method ||
               !q.msg->cseq->number || !q.msg->sip_method) {
        /* No Via or CSeq: no response can be matched to it. */
        LOG_LIMITED("drop no-via-or-cseq from=%s", q.from_str);
    } else if (!server_tx_replay(r, q.msg, from)) {
        handle_request(&q, data, len);
    }
    osip_message_free(q.msg);
}
