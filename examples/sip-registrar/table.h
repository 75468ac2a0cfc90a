/* The one way the registrar includes uthash:
 * - a failed allocation in a table add rolls the add back and sets
 *   table_oom (uthash would exit);
 * - every table is hashed with SipHash under a secret key (siphash.c):
 *   its keys come from the network. */
#ifndef MCREG_REGISTRAR_TABLE_H
#define MCREG_REGISTRAR_TABLE_H

#include <stddef.h>
#include <stdint.h>

extern int table_oom;
/* Set once at start from getrandom (random_seed). */
extern uint64_t table_key[2];
uint64_t table_hash(const void *data, size_t len);

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (table_oom = 1)
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = (unsigned)table_hash((keyptr), (keylen)))
#include <uthash.h>

#endif
