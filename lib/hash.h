/* Keyed hashing of ids. Ids come from the network, so the table hash is
 * SipHash-1-3 under a host-supplied seed: without the seed an attacker
 * cannot precompute ids that collide. */
#ifndef MCREG_HASH_H
#define MCREG_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct mcreg_hash_key {
    uint64_t k0, k1;
} mcreg_hash_key;

/* Expand a 64-bit host seed into a 128-bit SipHash key. */
mcreg_hash_key mcreg__hash_key_from_seed(uint64_t seed);

uint64_t mcreg__hash_siphash13(const mcreg_hash_key *key, const void *data, size_t len);

#endif
