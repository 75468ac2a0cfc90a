#include "hash.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

mcreg_hash_key mcreg__hash_key_from_seed(uint64_t seed)
{
    mcreg_hash_key key;
    key.k0 = splitmix64(&seed);
    key.k1 = splitmix64(&seed);
    return key;
}

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = ROTL64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = ROTL64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = ROTL64(v2, 32);                                                                       \
    } while (0)

/* SipHash reads its input as little-endian words, whatever the host's byte
 * order. */
static uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

/* SipHash-1-3 (one compression round, three finalization rounds), as in
 * the reference implementation with cROUNDS=1 and dROUNDS=3. */
uint64_t mcreg__hash_siphash13(const mcreg_hash_key *key, const void *data, size_t len)
{
    const unsigned char *in = data;
    uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ key->k0;
    uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ key->k1;
    uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ key->k0;
    uint64_t v3 = UINT64_C(0x7465646279746573) ^ key->k1;
    const unsigned char *end = in + (len - (len % 8));

    for (; in != end; in += 8) {
        uint64_t m = load_le64(in);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }

    unsigned char tail[8] = {0};
    memcpy(tail, in, len % 8);
    uint64_t b = ((uint64_t)len) << 56 | load_le64(tail);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;

    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
