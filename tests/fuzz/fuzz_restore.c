/*
 * fuzz_restore.c - libFuzzer target: mcreg_restore of any bytes.
 *
 * Each input is restored (at now_ms 5000, so that short expiries are
 * dropped) into a registry that already holds a small state: two users,
 * one UE shared when UE exclusive is off, settings of every type, a limit,
 * and a user with a limit and no record. UE exclusive is on when the
 * input's last byte is odd. Then:
 * - on error (only MCREG_ERR_FORMAT or MCREG_ERR_VERSION may come back),
 *   the registry is exactly as it was: same record count, same snapshot;
 * - on success, the new state snapshots, and one allocation of the restore
 *   (picked from the input) is made to fail in a second registry with the
 *   same state: that restore gives MCREG_ERR_NOMEM and leaves the state as it
 *   was, or succeeds with the same state (an allocation whose failure the
 *   library tolerates);
 * - no restore emits an event, and no single allocation is far larger than
 *   the input (MAX_ALLOC_FACTOR bytes per input byte, plus MAX_ALLOC_SLACK).
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
#define MAX_ALLOC_FACTOR 64u
#define MAX_ALLOC_SLACK 65536u

/* ---- events: none may come from a restore --------------------------------- */

static int restoring;

static void on_event(const mcreg_event *ev, void *ud)
{
    (void)ev;
    (void)ud;
    ASSERT(!restoring);
}

/* ---- the state the input replaces ------------------------------------------- */

#define TEXT(k, s) {.key = (k), .type = MCREG_VAL_TEXT, .v.text = {(s), sizeof(s) - 1}}
#define BYTES(k, s) \
    {.key = (k), .type = MCREG_VAL_BYTES, .v.bytes = {(const uint8_t *)(s), sizeof(s) - 1}}
#define INT(k, n) {.key = (k), .type = MCREG_VAL_INT, .v.i = (n)}
#define BOOL(k, n) {.key = (k), .type = MCREG_VAL_BOOL, .v.b = (n)}

static const mcreg_setting settings[] = {INT("priority", -5), TEXT("display", "Al\0ce"),
                                         BYTES("token", "\x00\xff"), BOOL("emergency", 1)};

static mcreg_registry *new_registry(fz_alloc *a, int ue_exclusive)
{
    mcreg_options *o;
    mcreg_registry *reg;
    mcreg_allocator al = {fz_malloc, fz_realloc, fz_free, a};
    ASSERT(mcreg_options_new(&o) == MCREG_OK);
    mcreg_options_set_allocator(o, &al);
    mcreg_options_set_ue_exclusive(o, ue_exclusive);
    mcreg_options_set_event_callback(o, on_event, NULL);
    mcreg_options_set_hash_seed(o, 0x5eed);
    ASSERT(mcreg_registry_new(&reg, o) == MCREG_OK);
    mcreg_options_free(o);

    mcreg_binding b = {.user_id = "sip:alice@mcptt.example", .ue_id = "phone",
                       .contact = "sip:alice@192.0.2.1", .call_id = "c1", .cseq = 7,
                       .expires_s = 3600, .settings = settings, .n_settings = 4};
    ASSERT(mcreg_register(reg, &b, 1000, NULL) == MCREG_OK);
    b = (mcreg_binding){.user_id = "sip:alice@mcptt.example", .ue_id = "tablet",
                        .expires_s = 2};
    ASSERT(mcreg_register(reg, &b, 2000, NULL) == MCREG_OK);
    b = (mcreg_binding){.user_id = "sip:bob@mcptt.example",
                        .ue_id = ue_exclusive ? "desk" : "phone", .contact = "sip:bob@h",
                        .expires_s = UINT32_MAX};
    ASSERT(mcreg_register(reg, &b, 2000, NULL) == MCREG_OK);
    ASSERT(mcreg_set_user_max_ues(reg, "sip:alice@mcptt.example", 3) == MCREG_OK);
    ASSERT(mcreg_set_user_max_ues(reg, "sip:carol@mcptt.example", 0) == MCREG_OK);
    return reg;
}

typedef struct state {
    uint8_t *snap;
    size_t len, records, users;
} state;

static state capture(const mcreg_registry *reg)
{
    state s;
    ASSERT(mcreg_snapshot(reg, &s.snap, &s.len) == MCREG_OK);
    s.records = mcreg_record_count(reg);
    s.users = mcreg_user_count(reg);
    return s;
}

static int same_state(const state *a, const state *b)
{
    return a->len == b->len && memcmp(a->snap, b->snap, a->len) == 0 &&
           a->records == b->records && a->users == b->users;
}

static int restore(mcreg_registry *reg, fz_alloc *a, const uint8_t *data, size_t size)
{
    a->max_request = 0;
    restoring = 1;
    int rc = mcreg_restore(reg, data, size, NOW_MS);
    restoring = 0;
    ASSERT(a->max_request <= MAX_ALLOC_FACTOR * size + MAX_ALLOC_SLACK);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int exclusive = size > 0 && (data[size - 1] & 1);
    fz_alloc a = {0};
    mcreg_registry *reg = new_registry(&a, exclusive);
    state before = capture(reg);

    size_t calls = a.calls;
    int rc = restore(reg, &a, data, size);
    size_t used = a.calls - calls;
    state after = capture(reg);

    if (rc != MCREG_OK) {
        ASSERT(rc == MCREG_ERR_FORMAT || rc == MCREG_ERR_VERSION);
        ASSERT(same_state(&before, &after));
        /* The detail says why, and where: "snapshot: byte N: ...", N inside
         * the input (or just past its end). */
        const char *why = mcreg_error_detail(reg);
        unsigned long long at = 0;
        ASSERT(strncmp(why, "snapshot: ", 10) == 0);
        if (strncmp(why, "snapshot: byte ", 15) == 0) {
            at = strtoull(why + 15, NULL, 10);
            ASSERT(at <= size);
        }
    } else {
        ASSERT(mcreg_error_detail(reg)[0] == '\0');
        /* The same restore with one of its allocations failing. */
        fz_alloc b = {0};
        mcreg_registry *again = new_registry(&b, exclusive);
        state before2 = capture(again);
        ASSERT(same_state(&before, &before2));
        if (used > 0) {
            uint32_t h = 2166136261u; /* FNV-1a of the input picks the call */
            for (size_t i = 0; i < size; i++)
                h = (h ^ data[i]) * 16777619u;
            b.fail_at = b.calls + 1 + h % used;
            int rc2 = restore(again, &b, data, size);
            b.fail_at = 0;
            state after2 = capture(again);
            if (rc2 == MCREG_ERR_NOMEM)
                ASSERT(same_state(&before2, &after2));
            else
                ASSERT(rc2 == MCREG_OK && same_state(&after, &after2));
            mcreg_buffer_free(again, after2.snap);
        }
        mcreg_buffer_free(again, before2.snap);
        mcreg_registry_free(again);
    }
    mcreg_buffer_free(reg, before.snap);
    mcreg_buffer_free(reg, after.snap);
    mcreg_registry_free(reg);
    return 0;
}
