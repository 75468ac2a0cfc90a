/*
 * fuzz_roundtrip.c - libFuzzer target: what restores, snapshots and
 * restores again to the same bytes.
 *
 * Restore the input (UE exclusive off, now_ms 5000). When that succeeds:
 * snapshot A; restore A into a fresh registry, which must succeed; snapshot
 * B; A and B must be equal, and so must the record and user counts. Then
 * restore A over the first registry's own state: the snapshot is A again.
 * Any violation aborts; ASan, UBSan and LeakSanitizer catch the rest.
 * Public API only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mcreg.h"

#define NOW_MS 5000u

static mcreg_registry *new_registry(uint64_t seed)
{
    mcreg_options *o;
    mcreg_registry *reg;
    ASSERT(mcreg_options_new(&o) == MCREG_OK);
    mcreg_options_set_ue_exclusive(o, 0);
    mcreg_options_set_hash_seed(o, seed);
    ASSERT(mcreg_registry_new(&reg, o) == MCREG_OK);
    mcreg_options_free(o);
    return reg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcreg_registry *r1 = new_registry(1);
    int rc = mcreg_restore(r1, data, size, NOW_MS);
    if (rc != MCREG_OK) {
        ASSERT(rc == MCREG_ERR_FORMAT || rc == MCREG_ERR_VERSION);
        ASSERT(mcreg_record_count(r1) == 0);
        mcreg_registry_free(r1);
        return 0;
    }

    uint8_t *a, *b, *c;
    size_t la, lb, lc;
    ASSERT(mcreg_snapshot(r1, &a, &la) == MCREG_OK);

    mcreg_registry *r2 = new_registry(2);
    ASSERT(mcreg_restore(r2, a, la, NOW_MS) == MCREG_OK);
    ASSERT(mcreg_snapshot(r2, &b, &lb) == MCREG_OK);
    if (la != lb || memcmp(a, b, la) != 0) {
        fprintf(stderr, "snapshot A (%zu bytes) restored gives snapshot B (%zu bytes)\n", la, lb);
        abort();
    }
    ASSERT(mcreg_record_count(r1) == mcreg_record_count(r2));
    ASSERT(mcreg_user_count(r1) == mcreg_user_count(r2));

    ASSERT(mcreg_restore(r1, a, la, NOW_MS) == MCREG_OK);
    ASSERT(mcreg_snapshot(r1, &c, &lc) == MCREG_OK);
    ASSERT(la == lc && memcmp(a, c, la) == 0);

    mcreg_buffer_free(r1, a);
    mcreg_buffer_free(r1, c);
    mcreg_buffer_free(r2, b);
    mcreg_registry_free(r1);
    mcreg_registry_free(r2);
    return 0;
}
