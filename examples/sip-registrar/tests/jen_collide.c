/*
 * jen_collide - branches whose transaction keys collide in uthash's default
 * hash, for test_hostile.py's hash-flooding scenario.
 *
 *   jen_collide N BITS SENT-BY METHOD
 *
 * prints N branch suffixes S (16 characters of [a-z0-9]) such that the key
 * "z9hG4bKS SENT-BY METHOD" (the registrar's server transaction key: top
 * Via branch, sent-by, method) has the same low BITS bits under HASH_JEN,
 * the hash uthash uses unless told otherwise. A table hashed that way keeps
 * every such key in one bucket, and uthash stops expanding it; a keyed hash
 * (SipHash under a random key) spreads them like any others.
 *
 * A brute-force search: about N << BITS hashes. Exit status 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#define TARGET 0x2a5u /* any value: the bucket they all share */

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || v == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long n, bits;
    if (argc != 5 || parse_count(argv[1], 1000000, &n) || parse_count(argv[2], 20, &bits)) {
        fprintf(stderr, "usage: jen_collide N(1..1000000) BITS(1..20) SENT-BY METHOD\n");
        return 2;
    }
    const unsigned mask = (1u << bits) - 1;
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char key[512];
    /* The key is written once; only its 16 suffix characters change, as an
     * odometer over alpha (digit[i] indexes alpha), so each candidate
     * costs one hash and no formatting. */
    int len = snprintf(key, sizeof key, "z9hG4bK%s %s %s", "aaaaaaaaaaaaaaaa", argv[3], argv[4]);
    if (len < 0 || (size_t)len >= sizeof key) {
        fprintf(stderr, "jen_collide: SENT-BY and METHOD too long\n");
        return 2;
    }
    char *suffix = key + 7;
    unsigned char digit[16] = {0};
    unsigned long found = 0;
    while (found < n) {
        unsigned hashv;
        HASH_JEN(key, (unsigned)len, hashv);
        if ((hashv & mask) == (TARGET & mask)) {
            printf("%.16s\n", suffix);
            found++;
        }
        for (int i = 0; i < 16; i++) {
            if (++digit[i] < sizeof alpha - 1) {
                suffix[i] = alpha[digit[i]];
                break;
            }
            digit[i] = 0;
            suffix[i] = alpha[0];
        }
    }
    return 0;
}
