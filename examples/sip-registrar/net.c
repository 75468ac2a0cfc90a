/*
 * net.c - the UDP socket and addresses.
 *
 * Numeric addresses only: the registrar resolves no names, so a contact
 * whose host is a name is reached at the address its REGISTER came from.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registrar.h"

static int parse_port(const char *text, uint16_t *port)
{
    uint64_t v;
    if (parse_decimal(text, &v) != 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int net_numeric_address(const char *host, const char *port, address *out)
{
    uint16_t p = 5060;
    if (port && parse_port(port, &p) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    /* A URI writes an IPv6 host in brackets. */
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof buf) {
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(p);
        out->len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(p);
        out->len = sizeof *v6;
        return 0;
    }
    return -1;
}

int net_parse_address(const char *text, address *out)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    /* An unbracketed IPv6 address has more than one colon: refuse it
     * rather than guess where the port starts. */
    if (host[0] != '[' && strchr(host, ':'))
        return -1;
    return net_numeric_address(host, colon + 1, out);
}

const char *net_format_address(const address *a, char out[ADDRESS_STR_MAX])
{
    char host[INET6_ADDRSTRLEN];
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->sa;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(out, ADDRESS_STR_MAX, "%s:%u", host, ntohs(v4->sin_port));
    } else if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(out, ADDRESS_STR_MAX, "[%s]:%u", host, ntohs(v6->sin6_port));
    } else {
        snprintf(out, ADDRESS_STR_MAX, "?");
    }
    return out;
}

int net_open(registrar *r)
{
    address want;
    if (net_parse_address(r->cfg.listen, &want) != 0) {
        fprintf(stderr, "mcreg-registrar: --listen %s: not a numeric ADDR:PORT\n", r->cfg.listen);
        return -1;
    }
    int fd = socket(want.sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&want.sa, want.len) != 0) {
        fprintf(stderr, "mcreg-registrar: --listen %s: %s\n", r->cfg.listen, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* Bursts of REGISTERs arrive faster than one loop turn: a larger
     * receive buffer turns them into latency instead of loss. */
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    r->local.len = sizeof r->local.sa;
    if (getsockname(fd, (struct sockaddr *)&r->local.sa, &r->local.len) != 0) {
        fprintf(stderr, "mcreg-registrar: getsockname: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    r->fd = fd;
    net_format_address(&r->local, r->local_str);
    return 0;
}

/* A copy of the datagram, sent by net_send_held(). Out of memory it is
 * dropped, as the network may drop it: the retransmission gets it. */
static int hold(held_list *h, const address *to, const char *data, size_t len)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 256;
        held_datagram *grown = realloc(h->items, cap * sizeof *grown);
        if (!grown)
            return 0;
        h->items = grown;
        h->cap = cap;
    }
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, len);
    h->items[h->n++] = (held_datagram){*to, copy, len};
    return 0;
}

static int send_now(registrar *r, const address *to, const char *data, size_t len)
{
    if (sendto(r->fd, data, len, 0, (const struct sockaddr *)&to->sa, to->len) < 0) {
        int err = errno;
        char where[ADDRESS_STR_MAX];
        /* UDP: a lost datagram is what retransmission is for. */
        LOG_LIMITED("send-failed to=%s bytes=%zu error=%s", net_format_address(to, where), len,
                    strerror(err));
        errno = err;
        return -1;
    }
    return 0;
}

int net_send(registrar *r, const address *to, const char *data, size_t len)
{
    if (r->fd < 0)
        return 0;
    return r->hold_sends ? hold(&r->held, to, data, len) : send_now(r, to, data, len);
}

void net_send_list(registrar *r, held_list *h)
{
    for (size_t i = 0; i < h->n; i++) {
        held_datagram *d = &h->items[i];
        send_now(r, &d->to, d->bytes, d->len);
        free(d->bytes);
    }
    h->n = 0;
}

void net_send_held(registrar *r)
{
    net_send_list(r, &r->held);
}

void net_free_list(held_list *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->items[i].bytes);
    free(h->items);
    *h = (held_list){0};
}

void net_free_held(registrar *r)
{
    net_free_list(&r->held);
}

int net_same_address(const address *a, const address *b)
{
    if (a->sa.ss_family != b->sa.ss_family)
        return 0;
    if (a->sa.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->sa;
        const struct sockaddr_in *y = (const struct sockaddr_in *)&b->sa;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->sa;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return 0;
}

int net_parse_cidr(const char *text, cidr *out)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, text, n);
    host[n] = '\0';
    char *h = host;
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h[n - 1] = '\0';
        h++;
    }
    memset(out, 0, sizeof *out);
    unsigned max;
    if (inet_pton(AF_INET, h, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, h, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    uint64_t bits = max;
    if (slash && (parse_decimal(slash + 1, &bits) != 0 || bits > max))
        return -1;
    out->bits = (unsigned)bits;
    return 0;
}

static int prefix_matches(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int net_in_blocks(const address *from, const cidr *blocks, size_t n)
{
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const unsigned char *v4 = NULL, *v6 = NULL;
    if (from->sa.ss_family == AF_INET) {
        v4 = (const unsigned char *)&((const struct sockaddr_in *)&from->sa)->sin_addr;
    } else if (from->sa.ss_family == AF_INET6) {
        v6 = (const unsigned char *)&((const struct sockaddr_in6 *)&from->sa)->sin6_addr;
        if (memcmp(v6, v4_mapped, sizeof v4_mapped) == 0)
            v4 = v6 + 12;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *a = blocks[i].family == AF_INET ? v4 : v6;
        if (a && prefix_matches(a, blocks[i].addr, blocks[i].bits))
            return 1;
    }
    return 0;
}
