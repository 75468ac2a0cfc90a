/*
 * identity.c - who is registering, from where, and for how long.
 *
 * user id   the To URI reduced to scheme:user@host: the address-of-record
 *           without port or parameters (RFC 3261 10.3 step 5 compares
 *           AORs; MCPTT IDs are SIP URIs). Scheme and host are lowercased,
 *           the user part is case-sensitive.
 * UE id     the <mcptt-client-id> of an application/vnd.3gpp.mcptt-info+xml
 *           body (TS 24.379), else the Contact's +sip.instance (RFC 5626),
 *           else the Contact URI.
 */
#include <ctype.h>
#include <string.h>

#include "registrar.h"

static const char MCPTT_INFO_SUBTYPE[] = "vnd.3gpp.mcptt-info+xml";

static void lowercase(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

char *identity_user_id(const osip_uri_t *uri)
{
    if (!uri || !uri->scheme || !uri->host || !uri->host[0])
        return NULL;
    const char *user = uri->username;
    size_t n = strlen(uri->scheme) + 1 + (user ? strlen(user) + 1 : 0) + strlen(uri->host) + 1;
    char *id = osip_malloc(n);
    if (!id)
        return NULL;
    strcpy(id, uri->scheme);
    lowercase(id);
    strcat(id, ":");
    if (user) {
        strcat(id, user);
        strcat(id, "@");
    }
    char *host = id + strlen(id);
    strcat(id, uri->host);
    lowercase(host);
    return id;
}

static char *copy_range(const char *s, size_t n)
{
    char *out = osip_malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* A tag's name without its namespace prefix: <ns:name ...> gives name. */
static const char *local_name(const char *name, const char *gt)
{
    const char *stop = name;
    while (stop < gt && *stop != ' ' && *stop != '\t' && *stop != '\r' && *stop != '\n' &&
           *stop != '/')
        stop++;
    const char *colon = memchr(name, ':', (size_t)(stop - name));
    return colon ? colon + 1 : name;
}

/* Whether the tag whose name starts at `n` and which ends at `gt` is
 * `name` (with nothing but white space, attributes or '/' after it). */
static int tag_is(const char *n, const char *gt, const char *name, size_t name_len)
{
    n = local_name(n, gt);
    if ((size_t)(gt - n) < name_len || memcmp(n, name, name_len) != 0)
        return 0;
    char after = n[name_len];
    return n + name_len == gt || after == ' ' || after == '\t' || after == '\r' ||
           after == '\n' || after == '/';
}

/* The bytes between <name ...> and </name>, or NULL. A scanner for one
 * element, not an XML parser: enough for the one value taken here. It never
 * reads past `end` and each byte is looked at a bounded number of times,
 * whatever the body holds (one pass: each tag is skipped to its '>'). */
static const char *element_text(const char *s, const char *end, const char *name,
                                const char **text_end)
{
    size_t name_len = strlen(name);
    const char *text = NULL;
    for (const char *p = s; p < end;) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt)
            return NULL;
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt)
            return NULL;
        if (!text && lt[1] != '/' && tag_is(lt + 1, gt, name, name_len)) {
            if (gt[-1] == '/')
                return NULL; /* <name/>: empty */
            text = gt + 1;
        } else if (text && lt[1] == '/' && tag_is(lt + 2, gt, name, name_len)) {
            *text_end = lt;
            return text;
        }
        p = gt + 1;
    }
    return NULL;
}

/* The text of an element, nested tags (such as <mcpttString>) removed,
 * the five predefined entities decoded, surrounding white space trimmed. */
static char *element_value(const char *text, const char *end)
{
    char *out = osip_malloc((size_t)(end - text) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    static const struct { const char *name; char c; } entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (const char *p = text; p < end;) {
        if (*p == '<') {
            const char *gt = memchr(p, '>', (size_t)(end - p));
            if (!gt)
                break;
            p = gt + 1;
            continue;
        }
        if (*p == '&') {
            size_t k;
            for (k = 0; k < sizeof entities / sizeof entities[0]; k++) {
                size_t len = strlen(entities[k].name);
                if ((size_t)(end - p) >= len && memcmp(p, entities[k].name, len) == 0) {
                    out[o++] = entities[k].c;
                    p += len;
                    break;
                }
            }
            if (k < sizeof entities / sizeof entities[0])
                continue;
        }
        out[o++] = *p++;
    }
    size_t start = 0;
    while (start < o && isspace((unsigned char)out[start]))
        start++;
    while (o > start && isspace((unsigned char)out[o - 1]))
        o--;
    memmove(out, out + start, o - start);
    out[o - start] = '\0';
    if (!out[0]) {
        osip_free(out);
        return NULL;
    }
    return out;
}

static int is_mcptt_info(const osip_content_type_t *ct)
{
    return ct && ct->type && ct->subtype && osip_strcasecmp(ct->type, "application") == 0 &&
           osip_strcasecmp(ct->subtype, MCPTT_INFO_SUBTYPE) == 0;
}

static char *ue_id_from_body(const osip_message_t *msg)
{
    int single = is_mcptt_info(msg->content_type);
    osip_body_t *body;
    /* A multipart body comes split into parts, each with its own type. */
    for (int pos = 0; osip_message_get_body(msg, pos, &body) >= 0; pos++) {
        if (!body->body || !(single || is_mcptt_info(body->content_type)))
            continue;
        const char *text_end;
        const char *end = body->body + body->length;
        const char *text = element_text(body->body, end, "mcptt-client-id", &text_end);
        if (text)
            return element_value(text, text_end);
    }
    return NULL;
}

static char *ue_id_from_instance(const osip_contact_t *contact)
{
    osip_generic_param_t *param = NULL;
    if (osip_contact_param_get_byname((osip_contact_t *)contact, "+sip.instance", &param) < 0 ||
        !param || !param->gvalue)
        return NULL;
    const char *v = param->gvalue;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
        v++;
        n -= 2;
    }
    return n ? copy_range(v, n) : NULL;
}

char *identity_ue_id(const osip_message_t *msg, const osip_contact_t *contact,
                     const char *contact_uri)
{
    char *id = ue_id_from_body(msg);
    if (!id)
        id = ue_id_from_instance(contact);
    if (!id)
        id = copy_range(contact_uri, strlen(contact_uri));
    return id;
}

int parse_decimal(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned digit = (unsigned)(*p - '0');
        v = v > (UINT64_MAX - digit) / 10 ? UINT64_MAX : v * 10 + digit;
    }
    *out = v;
    return 0;
}

int identity_delta_seconds(const char *text, uint32_t *out)
{
    /* RFC 3261 20.19: delta-seconds, 1*DIGIT. Values past 2^32-1 are
     * taken as 2^32-1 (the cap then applies). */
    uint64_t v;
    if (parse_decimal(text, &v) != 0)
        return -1;
    *out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return 0;
}
