/*
 * fuzz_apply.c - libFuzzer target: mcreg_changes_apply of any bytes.
 *
 * Each input is applied (at now_ms NOW_MS) to a registry with a node id
 * that already holds a replicated state of its own: records, a UE taken
 * by another user, a removal's tombstone, limits set and cleared. UE
 * exclusive is on when the input's last byte is odd. Then:
 * - on error (only MCREG_ERR_FORMAT or MCREG_ERR_VERSION may come back),
 *   the registry is exactly as it was (snapshot bytes and digest), with no
 *   event and no pending change;
 * - on success, applying the same input again changes nothing and emits
 *   nothing (idempotence), and one allocation of the apply (picked from
 *   the input) is made to fail in a second registry with the same state:
 *   MCREG_ERR_NOMEM with the state as it was, or success with the same
 *   state;
 * - no single allocation is far larger than the input.
 * Any violation aborts; ASan, UBSan and LeakSanitizer catch the rest.
 * Public API only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mcreg.h"

#define NOW_MS 5000u
#define MAX_ALLOC_FACTOR 64u
#define MAX_ALLOC_SLACK 262144u

static size_t events;

static void on_event(const mcreg_event *ev, void *ud)
{
    (void)ud;
    ASSERT(ev->type != MCREG_EV_NOTIFY_LOGOFF); /* applying never sends it */
    events++;
}

static void reg_ok(mcreg_registry *reg, const char *user, const char *ue, uint32_t s, uint64_t t)
{
    mcreg_binding b = {.user_id = user, .ue_id = ue, .contact = "sip:h@192.0.2.1", .expires_s = s};
    ASSERT(mcreg_register(reg, &b, t, NULL) == MCREG_OK);
}

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
    mcreg_options_set_node_id(o, 7);
    mcreg_options_set_max_expires(o, 3600);
    ASSERT(mcreg_registry_new(&reg, o) == MCREG_OK);
    mcreg_options_free(o);
    reg_ok(reg, "sip:alice@mcptt.example", "phone", 3600, 1000);
    reg_ok(reg, "sip:alice@mcptt.example", "tablet", 2, 2000);
    reg_ok(reg, "sip:bob@mcptt.example", "phone", 600, 3000); /* takes it, UE exclusive on */
    reg_ok(reg, "sip:carol@mcptt.example", "desk", 600, 3000);
    ASSERT(mcreg_deregister(reg, "sip:carol@mcptt.example", "desk", 3500) == MCREG_OK);
    ASSERT(mcreg_set_user_max_ues(reg, "sip:alice@mcptt.example", 3) == MCREG_OK);
    ASSERT(mcreg_set_user_max_ues(reg, "sip:dave@mcptt.example", 1) == MCREG_OK);
    ASSERT(mcreg_clear_user_max_ues(reg, "sip:dave@mcptt.example") == MCREG_OK);
    uint8_t *buf;
    size_t len;
    ASSERT(mcreg_changes_drain(reg, &buf, &len) == MCREG_OK);
    mcreg_buffer_free(reg, buf);
    return reg;
}

typedef struct state {
    uint8_t *snap;
    size_t len;
    uint64_t digest;
} state;

static state capture(const mcreg_registry *reg)
{
    state s;
    ASSERT(mcreg_snapshot(reg, &s.snap, &s.len) == MCREG_OK);
    ASSERT(mcreg_state_digest(reg, &s.digest) == MCREG_OK);
    return s;
}

static int same_state(const state *a, const state *b)
{
    return a->len == b->len && memcmp(a->snap, b->snap, a->len) == 0 && a->digest == b->digest;
}

static int apply(mcreg_registry *reg, fz_alloc *a, const uint8_t *data, size_t size)
{
    a->max_request = 0;
    int rc = mcreg_changes_apply(reg, data, size, NOW_MS);
    ASSERT(a->max_request <= MAX_ALLOC_FACTOR * size + MAX_ALLOC_SLACK);
    uint8_t *buf;
    size_t len;
    ASSERT(mcreg_changes_drain(reg, &buf, &len) == MCREG_ERR_NOT_FOUND); /* never recorded */
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int exclusive = size > 0 && (data[size - 1] & 1);
    fz_alloc a = {0};
    mcreg_registry *reg = new_registry(&a, exclusive);
    state before = capture(reg);
    events = 0;
    size_t calls = a.calls;
    int rc = apply(reg, &a, data, size);
    size_t used = a.calls - calls;
    state after = capture(reg);
    if (rc != MCREG_OK) {
        ASSERT(rc == MCREG_ERR_FORMAT || rc == MCREG_ERR_VERSION);
        ASSERT(same_state(&before, &after));
        ASSERT(events == 0);
    } else {
        events = 0;
        ASSERT(apply(reg, &a, data, size) == MCREG_OK);
        state again = capture(reg);
        ASSERT(same_state(&after, &again));
        ASSERT(events == 0);
        mcreg_buffer_free(reg, again.snap);
        fz_alloc b = {0};
        mcreg_registry *other = new_registry(&b, exclusive);
        state before2 = capture(other);
        if (used > 0) {
            uint32_t h = 2166136261u;
            for (size_t i = 0; i < size; i++)
                h = (h ^ data[i]) * 16777619u;
            b.fail_at = b.calls + 1 + h % used;
            int rc2 = apply(other, &b, data, size);
            b.fail_at = 0;
            state after2 = capture(other);
            if (rc2 == MCREG_ERR_NOMEM)
                ASSERT(same_state(&before2, &after2));
            else
                ASSERT(rc2 == MCREG_OK && same_state(&after, &after2));
            mcreg_buffer_free(other, after2.snap);
        }
        mcreg_buffer_free(other, before2.snap);
        mcreg_registry_free(other);
    }
    mcreg_buffer_free(reg, before.snap);
    mcreg_buffer_free(reg, after.snap);
    mcreg_registry_free(reg);
    return 0;
}
