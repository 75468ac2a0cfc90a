/*
 * credit.c - what may be sent towards a destination that has never
 * answered.
 *
 * A MESSAGE goes to whatever Contact a REGISTER names (SIP requires it),
 * and UDP sources are not authenticated: without a bound, 53 KB of
 * REGISTERs naming one victim made the registrar send it 262 MB of
 * MESSAGEs and retransmissions. A plain rate per destination would not do:
 * in IMS every MESSAGE leaves through the same S-CSCF.
 *
 * So each destination (address and port) has a credit, earned by the
 * REGISTERs that name it (CREDIT_FACTOR times their bytes) and spent by
 * every datagram sent there, retransmissions included, until the
 * destination answers once (a response matched to a MESSAGE sent to it,
 * from it). From then on it has shown it wants the traffic and is not
 * limited. The bytes towards a destination that never answered thus stay
 * within CREDIT_FACTOR times the bytes that named it.
 *
 * The table holds CREDIT_MAX_DESTS destinations; past that the oldest
 * goes (its next MESSAGE needs credit again, which its next REGISTER
 * earns). Records restored from a snapshot earn the credit of the REGISTER
 * that made them.
 */
#include <stdlib.h>
#include <string.h>

#include "registrar.h"
#include "table.h"

#define CREDIT_FACTOR 10u
#define CREDIT_MAX_BYTES ((size_t)1 << 20)
#define CREDIT_MAX_DESTS 65536u
/* No MESSAGE is smaller (start line, six headers, a four-line body). */
#define CREDIT_SMALLEST_MESSAGE 300u

typedef struct credit {
    UT_hash_handle hh;
    unsigned char key[1 + 16 + 2]; /* family, address, port */
    size_t key_len;
    size_t bytes;
    int answered;
} credit;

static size_t destination_key(const address *a, unsigned char key[19])
{
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->sa;
        key[0] = 4;
        memcpy(key + 1, &v4->sin_addr, 4);
        memcpy(key + 5, &v4->sin_port, 2);
        return 7;
    }
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->sa;
    key[0] = 6;
    memcpy(key + 1, &v6->sin6_addr, 16);
    memcpy(key + 17, &v6->sin6_port, 2);
    return 19;
}

static credit *find(registrar *r, const address *a)
{
    unsigned char key[19];
    size_t n = destination_key(a, key);
    credit *c = NULL;
    HASH_FIND(hh, r->credits, key, n, c);
    return c;
}

static credit *find_or_add(registrar *r, const address *a)
{
    credit *c = find(r, a);
    if (c)
        return c;
    if (HASH_COUNT(r->credits) >= CREDIT_MAX_DESTS) {
        credit *oldest = r->credits;
        HASH_DEL(r->credits, oldest);
        free(oldest);
    }
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->key_len = destination_key(a, c->key);
    table_oom = 0;
    HASH_ADD(hh, r->credits, key, c->key_len, c);
    if (table_oom) {
        free(c);
        return NULL;
    }
    return c;
}

void credit_earn(registrar *r, const address *to, size_t request_bytes)
{
    credit *c = find_or_add(r, to);
    if (!c || c->answered)
        return;
    size_t earned = CREDIT_FACTOR * request_bytes;
    c->bytes = c->bytes + earned < CREDIT_MAX_BYTES ? c->bytes + earned : CREDIT_MAX_BYTES;
}

int credit_spend(registrar *r, const address *to, size_t bytes)
{
    credit *c = find(r, to);
    if (c && c->answered)
        return 1;
    if (!c || c->bytes < bytes)
        return 0;
    c->bytes -= bytes;
    return 1;
}

int credit_may_send(registrar *r, const address *to)
{
    credit *c = find(r, to);
    return c && (c->answered || c->bytes >= CREDIT_SMALLEST_MESSAGE);
}

void credit_answered(registrar *r, const address *from)
{
    credit *c = find_or_add(r, from);
    if (c)
        c->answered = 1;
}

/* About the bytes of the REGISTER that made a record: its strings and the
 * headers around them. */
void credit_earn_record(registrar *r, const mcreg_record *rec)
{
    address to;
    if (route_record(rec, &to) != 0)
        return;
    const char *contact = mcreg_record_contact(rec), *call_id = mcreg_record_call_id(rec);
    size_t bytes = 2 * strlen(mcreg_record_user_id(rec)) + strlen(mcreg_record_ue_id(rec)) +
                   (contact ? strlen(contact) : 0) + (call_id ? strlen(call_id) : 0) + 200;
    credit_earn(r, &to, bytes);
}

static int earn_restored(const mcreg_record *rec, void *ud)
{
    credit_earn_record(ud, rec);
    return 0;
}

void credit_earn_restored(registrar *r)
{
    mcreg_foreach(r->reg, earn_restored, r);
}

void credit_free_all(registrar *r)
{
    credit *c, *tmp;
    HASH_ITER(hh, r->credits, c, tmp) {
        HASH_DEL(r->credits, c);
        free(c);
    }
}
