/* The expiry heap and the record sort, on records built by hand. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "sort.h"
#include "record.h"
#include "suites.h"
#include "testutil.h"

typedef struct fixture {
    mcreg_alloc a;
    mcreg_user *users[3];
    struct mcreg_record **recs;
    size_t n;
    mcreg_heap heap;
} fixture;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return *s >> 33;
}

/* A bare record of u at ue (no contact, Call-ID or settings). */
static struct mcreg_record *record_at(mcreg_alloc *a, mcreg_user *u, const char *ue)
{
    mcreg_binding b = {.user_id = u->id, .ue_id = ue};
    return mcreg__record_new(a, u, &b, strlen(ue), NULL, 0);
}

/* n records with expiries drawn from a small range, so ties are common. */
static void fixture_init(fixture *f, size_t n, uint64_t seed)
{
    memset(f, 0, sizeof(*f));
    f->a = (mcreg_alloc){mcreg__alloc_default(), 0};
    const char *names[3] = {"sip:b@x", "sip:a@x", "sip:c@x"};
    for (int i = 0; i < 3; i++)
        f->users[i] = mcreg__user_new(&f->a, names[i], strlen(names[i]));
    f->recs = calloc(n, sizeof(*f->recs));
    f->n = n;
    ck_assert_int_eq(mcreg__heap_reserve(&f->a, &f->heap, n), MCREG_OK);
    for (size_t i = 0; i < n; i++) {
        char ue[32];
        snprintf(ue, sizeof(ue), "ue%zu", lcg(&seed) % 7);
        struct mcreg_record *r = record_at(&f->a, f->users[lcg(&seed) % 3], ue);
        r->expires_at = lcg(&seed) % 20;
        r->registered_at = lcg(&seed) % 4;
        f->recs[i] = r;
    }
}

static void fixture_free(fixture *f)
{
    for (size_t i = 0; i < f->n; i++)
        mcreg__record_free(&f->a, f->recs[i]);
    for (int i = 0; i < 3; i++)
        mcreg__user_free(&f->a, f->users[i]);
    mcreg__heap_free(&f->a, &f->heap);
    ck_assert_uint_eq(f->a.held, 0); /* every block's size given back exactly */
    free(f->recs);
}

/* Every parent expires no later than its children, and every record knows
 * its own position. */
static void assert_heap_ok(const mcreg_heap *h)
{
    for (size_t i = 0; i < h->n; i++) {
        ck_assert_uint_eq(h->items[i]->heap_index, i);
        ck_assert_uint_eq(h->keys[i], h->items[i]->expires_at);
        if (i > 0)
            ck_assert_int_le(mcreg__heap_expiry_cmp(h->items[(i - 1) / 8], h->items[i]), 0);
    }
}

START_TEST(expiry_order_is_total)
{
    fixture f;
    fixture_init(&f, 1, 1);
    mcreg_alloc a = f.a;
    struct mcreg_record *x = record_at(&a, f.users[0], "ue1");
    struct mcreg_record *y = record_at(&a, f.users[1], "ue1");
    x->expires_at = y->expires_at = 5;
    x->registered_at = y->registered_at = 1;
    /* Same expiry, registration and UE: user id decides ("sip:a" < "sip:b"). */
    ck_assert_int_gt(mcreg__heap_expiry_cmp(x, y), 0);
    ck_assert_int_lt(mcreg__heap_expiry_cmp(y, x), 0);
    ck_assert_int_eq(mcreg__heap_expiry_cmp(x, x), 0);
    y->registered_at = 2; /* then registration time */
    ck_assert_int_lt(mcreg__heap_expiry_cmp(x, y), 0);
    y->expires_at = 4; /* and first of all expiry */
    ck_assert_int_gt(mcreg__heap_expiry_cmp(x, y), 0);
    mcreg__record_free(&a, x);
    mcreg__record_free(&a, y);
    fixture_free(&f);
}
END_TEST

static int by_expiry(const void *pa, const void *pb)
{
    return mcreg__heap_expiry_cmp(*(struct mcreg_record *const *)pa,
                                  *(struct mcreg_record *const *)pb);
}

START_TEST(pops_in_expiry_order)
{
    fixture f;
    fixture_init(&f, 500, 7);
    for (size_t i = 0; i < f.n; i++) {
        mcreg__heap_push(&f.heap, f.recs[i]);
        assert_heap_ok(&f.heap);
    }
    struct mcreg_record **sorted = malloc(f.n * sizeof(*sorted));
    memcpy(sorted, f.recs, f.n * sizeof(*sorted));
    qsort(sorted, f.n, sizeof(*sorted), by_expiry);
    for (size_t i = 0; i < f.n; i++) {
        struct mcreg_record *top = mcreg__heap_top(&f.heap);
        ck_assert_int_eq(mcreg__heap_expiry_cmp(top, sorted[i]), 0);
        mcreg__heap_remove(&f.heap, top);
        assert_heap_ok(&f.heap);
    }
    ck_assert_ptr_null(mcreg__heap_top(&f.heap));
    free(sorted);
    fixture_free(&f);
}
END_TEST

START_TEST(remove_and_update_anywhere)
{
    fixture f;
    fixture_init(&f, 300, 11);
    uint64_t seed = 99;
    for (size_t i = 0; i < f.n; i++)
        mcreg__heap_push(&f.heap, f.recs[i]);
    /* Re-key half of them, earlier or later, then remove a third. */
    for (size_t i = 0; i < f.n; i += 2) {
        f.recs[i]->expires_at = lcg(&seed) % 40;
        mcreg__heap_update(&f.heap, f.recs[i]);
        assert_heap_ok(&f.heap);
    }
    size_t left = f.n;
    for (size_t i = 0; i < f.n; i += 3) {
        mcreg__heap_remove(&f.heap, f.recs[i]);
        left--;
        assert_heap_ok(&f.heap);
    }
    ck_assert_uint_eq(f.heap.n, left);
    struct mcreg_record *prev = NULL;
    while (f.heap.n) {
        struct mcreg_record *top = mcreg__heap_top(&f.heap);
        if (prev)
            ck_assert_int_le(mcreg__heap_expiry_cmp(prev, top), 0);
        prev = top;
        mcreg__heap_remove(&f.heap, top);
    }
    fixture_free(&f);
}
END_TEST

static int expiry_cmp_v(const void *a, const void *b)
{
    return mcreg__heap_expiry_cmp(a, b);
}

START_TEST(sort_matches_qsort)
{
    for (size_t n = 0; n < 70; n++) {
        fixture f;
        fixture_init(&f, n, n + 3);
        void **mine = malloc((n + 1) * sizeof(*mine));
        struct mcreg_record **ref = malloc((n + 1) * sizeof(*ref));
        if (n) {
            for (size_t i = 0; i < n; i++)
                mine[i] = f.recs[i];
            memcpy(ref, f.recs, n * sizeof(*ref));
        }
        mcreg__sort(mine, n, expiry_cmp_v);
        qsort(ref, n, sizeof(*ref), by_expiry);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(mcreg__heap_expiry_cmp(mine[i], ref[i]), 0);
        free(mine);
        free(ref);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(reserve_grows_and_keeps_on_failure)
{
    mcreg_alloc a = {mcreg__alloc_default(), 0};
    mcreg_heap h;
    memset(&h, 0, sizeof(h));
    ck_assert_int_eq(mcreg__heap_reserve(&a, &h, 1), MCREG_OK);
    ck_assert_uint_ge(h.cap, 1);
    size_t cap = h.cap;
    ck_assert_int_eq(mcreg__heap_reserve(&a, &h, cap), MCREG_OK);
    ck_assert_uint_eq(h.cap, cap); /* no growth when there is room */
    ck_assert_int_eq(mcreg__heap_reserve(&a, &h, SIZE_MAX / 2), MCREG_ERR_NOMEM);
    ck_assert_uint_eq(h.cap, cap);
    ck_assert_ptr_nonnull(h.items);
    mcreg__heap_free(&a, &h);
    ck_assert_uint_eq(a.held, 0);
}
END_TEST

/* Emptied below a quarter, the heap keeps room for twice its records, keeps its order, and
 * keeps its room when the allocator refuses. */
START_TEST(trim_gives_room_back)
{
    fixture f;
    fixture_init(&f, 1000, 5);
    tu_alloc counts = {0};
    mcreg_alloc a = {tu_allocator(&counts), 0};
    mcreg_heap h;
    memset(&h, 0, sizeof(h));
    ck_assert_int_eq(mcreg__heap_reserve(&a, &h, f.n), MCREG_OK);
    for (size_t i = 0; i < f.n; i++)
        mcreg__heap_push(&h, f.recs[i]);
    size_t full = h.cap;
    mcreg__heap_trim(&a, &h, 0);
    ck_assert_uint_eq(h.cap, full); /* full: nothing to give back */
    while (h.n > full / 4 - 1)
        mcreg__heap_remove(&h, mcreg__heap_top(&h));

    counts.fail_at = counts.calls + 1;
    counts.fail_all_after = 1;
    mcreg__heap_trim(&a, &h, 0);
    ck_assert_uint_eq(h.cap, full); /* refused: the room stays */
    assert_heap_ok(&h);

    counts.fail_at = 0;
    size_t bytes = counts.live_bytes;
    mcreg__heap_trim(&a, &h, 0);
    ck_assert_uint_eq(h.cap, h.n * 2 > 64 ? h.n * 2 : 64);
    ck_assert_uint_lt(h.cap, full / 2);
    ck_assert_uint_lt(counts.live_bytes, bytes);
    ck_assert_uint_eq(a.held, counts.live_bytes); /* the count follows every size */
    assert_heap_ok(&h);
    ck_assert_int_eq(mcreg__heap_reserve(&a, &h, h.cap + 1), MCREG_OK); /* grows again */
    ck_assert_uint_eq(a.held, counts.live_bytes);
    assert_heap_ok(&h);
    mcreg__heap_free(&a, &h);
    ck_assert_uint_eq(counts.live, 0);
    fixture_free(&f);
}
END_TEST

Suite *suite_heap(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("heap");
    tcase_add_test(tc, expiry_order_is_total);
    tcase_add_test(tc, pops_in_expiry_order);
    tcase_add_test(tc, remove_and_update_anywhere);
    tcase_add_test(tc, sort_matches_qsort);
    tcase_add_test(tc, reserve_grows_and_keeps_on_failure);
    tcase_add_test(tc, trim_gives_room_back);
    suite_add_tcase(s, tc);
    return s;
}
