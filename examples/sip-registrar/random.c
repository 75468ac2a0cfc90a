/*
 * random.c - tags, branches, Call-IDs and the hash seeds.
 *
 * All from the kernel's CSPRNG (getrandom), as RFC 3261 19.3 asks: a tag or
 * branch from a plain generator gives away its state, and with it the
 * branch of the next MESSAGE, which anyone could then answer. Read 256
 * bytes at a time, so a token costs one system call in 16.
 */
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "registrar.h"

static unsigned char pool[256];
static size_t pool_left;

static int fill(void *out, size_t n)
{
    unsigned char *p = out;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got <= 0)
            return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

uint64_t random_seed(void)
{
    uint64_t s = 0;
    if (fill(&s, sizeof s) != 0)
        s = mono_ms() ^ ((uint64_t)getpid() << 32);
    return s ? s : 0x9e3779b97f4a7c15u;
}

/* Past what getrandom gives (it cannot fail for 256 bytes once the kernel
 * has its entropy, which it has by the time a registrar answers): a
 * generator seeded from the kernel. Tokens are then unique, not secret. */
static uint64_t fallback(registrar *r)
{
    if (!r->rng)
        r->rng = random_seed();
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 0x2545f4914f6cdd1du;
}

static unsigned random_byte(registrar *r)
{
    if (!pool_left) {
        if (fill(pool, sizeof pool) != 0) {
            uint64_t v = fallback(r);
            return (unsigned)(v >> 56);
        }
        pool_left = sizeof pool;
    }
    return pool[--pool_left];
}

void random_hex(registrar *r, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i += 2) {
        unsigned b = random_byte(r);
        out[i] = hex[b >> 4];
        if (i + 1 < n)
            out[i + 1] = hex[b & 15];
    }
    out[n] = '\0';
}
