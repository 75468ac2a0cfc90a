/*
 * siphash.c - the keyed hash of the registrar's tables.
 *
 * Transaction branches, hosts and ports come from the network: under
 * uthash's unkeyed default an attacker chose branches that all fell in one
 * bucket, and each lookup walked them all (60,000 OPTIONS cost 8 times
 * their CPU). SipHash-1-3 under a key from getrandom (table_key, set at
 * start) keeps collisions out of reach. The same function as the
 * library's, which is internal to it (lib/hash.c).
 */
#include <string.h>

#include "table.h"

uint64_t table_key[2];

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                 \
    do {                         \
        v0 += v1;                \
        v1 = ROTL64(v1, 13);     \
        v1 ^= v0;                \
        v0 = ROTL64(v0, 32);     \
        v2 += v3;                \
        v3 = ROTL64(v3, 16);     \
        v3 ^= v2;                \
        v0 += v3;                \
        v3 = ROTL64(v3, 21);     \
        v3 ^= v0;                \
        v2 += v1;                \
        v1 = ROTL64(v1, 17);     \
        v1 ^= v2;                \
        v2 = ROTL64(v2, 32);     \
    } while (0)

/* Little-endian words, whatever the host's byte order. */
static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t table_hash(const void *data, size_t len)
{
    const unsigned char *in = data;
    uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ table_key[0];
    uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ table_key[1];
    uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ table_key[0];
    uint64_t v3 = UINT64_C(0x7465646279746573) ^ table_key[1];
    const unsigned char *end = in + (len - len % 8);
    for (; in != end; in += 8) {
        uint64_t m = load_le64(in);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    unsigned char tail[8] = {0};
    memcpy(tail, in, len % 8);
    uint64_t b = (uint64_t)len << 56 | load_le64(tail);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
