/* The one way the library includes uthash. Configure it here, and nowhere
 * else, so that every table in the library:
 * - survives allocation failure: HASH_NONFATAL_OOM makes a failed add roll
 *   itself back instead of ending the process; the failure is reported through
 *   the `uthash_oom` flag, which every caller declares (see index.c);
 * - allocates through the registry's allocator, named `uthash_alloc` in the
 *   caller's scope;
 * - is hashed by the library itself (SipHash, seeded): the tables are only
 *   used through the *_BYHASHVALUE macros, so HASH_FUNCTION is never run. */
#ifndef MCREG_UTHASH_H
#define MCREG_UTHASH_H

#include "alloc.h"

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) \
    do {                         \
        (void)(obj);             \
        uthash_oom = 1;          \
    } while (0)
#define uthash_malloc(sz) mcreg__alloc_malloc(uthash_alloc, (sz))
#define uthash_free(ptr, sz) mcreg__alloc_free(uthash_alloc, (ptr), (sz))
/* Never used: a stray call would not compile (no such function). */
#define HASH_FUNCTION(keyptr, keylen, hashv) mcreg__uthash_must_use_byhashvalue(keyptr, keylen, hashv)

#include <uthash.h>

#endif
