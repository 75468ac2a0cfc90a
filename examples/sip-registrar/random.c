/*
 * random.c - tags, branches and Call-IDs.
 *
 * RFC 3261 asks for globally unique branches and Call-IDs, and at least 32
 * random bits in tags. xorshift64* seeded from the kernel is plenty: none
 * of these is a secret. The library's hash seed is a secret, and takes a
 * fresh value straight from the kernel.
 */
#include <sys/random.h>
#include <unistd.h>

#include "registrar.h"

uint64_t random_seed(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s)
        s = mono_ms() ^ ((uint64_t)getpid() << 32);
    return s ? s : 0x9e3779b97f4a7c15u;
}

static uint64_t next_random(registrar *r)
{
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 0x2545f4914f6cdd1du;
}

void random_hex(registrar *r, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 16 == 0)
            bits = next_random(r);
        out[i] = hex[bits & 15];
        bits >>= 4;
    }
    out[n] = '\0';
}
