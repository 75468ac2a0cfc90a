/* mcreg_options_set_capacity: the tables and the heap are sized at
 * creation, so that below the capacity no call grows or rehashes them,
 * through emptying and refilling, restore included. Seen from outside,
 * through a counting allocator: below the capacity a register allocates
 * its record and, for a new user, the user, and nothing else. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "testutil.h"

#define CAP 1000

static mcreg_registry *cap_registry(tu_alloc *a, mcreg_allocator *al, size_t capacity,
                                    int exclusive)
{
    memset(a, 0, sizeof(*a));
    *al = tu_allocator(a);
    tu_opts o = {.rules = {.shared_ues = !exclusive}, .capacity = capacity, .alloc = al};
    return tu_registry_new(&o);
}

/* Register users first..first+n-1 with two UEs each (2n records) at now;
 * returns the allocations made. A record of these ids is a few hundred
 * bytes, a user less: `largest` gets the largest single request. */
static size_t fill(mcreg_registry *reg, tu_alloc *a, int first, int n, uint64_t now,
                   size_t *largest)
{
    char user[32], ue[32];
    size_t calls0 = a->calls;
    a->max_request = 0;
    for (int i = first; i < first + n; i++) {
        for (int k = 0; k < 2; k++) {
            snprintf(user, sizeof(user), "sip:user%05d@mcptt.example", i);
            snprintf(ue, sizeof(ue), "urn:uuid:%05d-%d", i, k);
            mcreg_binding b = tu_binding(user, ue, 60);
            ck_assert_int_eq(mcreg_register(reg, &b, now + (uint64_t)i, NULL), MCREG_OK);
        }
    }
    *largest = a->max_request;
    return a->calls - calls0;
}

static void drop_users(mcreg_registry *reg, int n, uint64_t now)
{
    char user[32];
    for (int i = 0; i < n; i++) {
        snprintf(user, sizeof(user), "sip:user%05d@mcptt.example", i);
        ck_assert_int_eq(mcreg_deregister_user(reg, user, now, NULL), MCREG_OK);
    }
}

/* The fill makes 2n records and n users: exactly that many allocations,
 * none larger than a record. Without a capacity the tables double and the
 * heap grows along the way (requests of kilobytes: the test fails). */
START_TEST(test_below_capacity_only_records_and_users_allocate)
{
    tu_alloc a;
    mcreg_allocator al;
    mcreg_registry *reg = cap_registry(&a, &al, CAP, _i);
    size_t largest = 0;
    size_t calls = fill(reg, &a, 0, CAP / 2, 1000, &largest);
    ck_assert_uint_eq(mcreg_record_count(reg), CAP);
    ck_assert_uint_eq(calls, CAP + CAP / 2);
    ck_assert_uint_lt(largest, 512);
    /* a refresh that changes the contact makes one block */
    mcreg_binding b = tu_binding("sip:user00007@mcptt.example", "urn:uuid:00007-1", 60);
    b.contact = "sip:user7@192.0.2.7";
    size_t c0 = a.calls;
    ck_assert_int_eq(mcreg_register(reg, &b, 5000, NULL), MCREG_OK);
    ck_assert_uint_eq(a.calls - c0, 1);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
}
END_TEST

/* Emptied (deregistered, expired in slices, or restored empty), the
 * registry keeps its tables and its heap: the memory left is what creation
 * allocated, and the next fill again allocates only records and users. */
START_TEST(test_empty_and_refill_keeps_the_room)
{
    tu_alloc a;
    mcreg_allocator al;
    mcreg_registry *reg = cap_registry(&a, &al, CAP, 1);
    size_t created_bytes = a.live_bytes, created_blocks = a.live;
    ck_assert_uint_ge(created_bytes, (size_t)CAP * 2 * 16); /* a bucket per record per table */
    size_t largest;
    fill(reg, &a, 0, CAP / 2, 1000, &largest);
    for (int round = 0; round < 3; round++) {
        ck_assert_uint_eq(mcreg_record_count(reg), CAP);
        if (round == 0) {
            drop_users(reg, CAP / 2, 2000);
        } else if (round == 1) {
            size_t n;
            do
                ck_assert_int_eq(mcreg_expire_max(reg, UINT64_MAX, 64, &n), MCREG_OK);
            while (n);
        } else {
            tu_alloc ea;
            mcreg_allocator eal;
            mcreg_registry *empty = cap_registry(&ea, &eal, 0, 1);
            uint8_t *buf = NULL;
            size_t len = 0;
            ck_assert_int_eq(mcreg_snapshot(empty, &buf, &len), MCREG_OK);
            ck_assert_int_eq(mcreg_restore(reg, buf, len, 3000), MCREG_OK);
            mcreg_buffer_free(empty, buf);
            mcreg_registry_free(empty);
        }
        ck_assert_uint_eq(mcreg_record_count(reg), 0);
        ck_assert_uint_eq(a.live, created_blocks);
        ck_assert_uint_eq(a.live_bytes, created_bytes);
        size_t calls = fill(reg, &a, 0, CAP / 2, 5000, &largest);
        ck_assert_uint_eq(calls, CAP + CAP / 2);
        ck_assert_uint_lt(largest, 512);
    }
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
}
END_TEST

/* Past the capacity the registry grows as without one, and every record
 * stays findable; back below it, the room is still there. */
START_TEST(test_past_capacity_grows)
{
    tu_alloc a;
    mcreg_allocator al;
    mcreg_registry *reg = cap_registry(&a, &al, 64, _i);
    size_t largest;
    fill(reg, &a, 0, 2000, 1000, &largest);
    ck_assert_uint_eq(mcreg_record_count(reg), 4000);
    ck_assert_uint_gt(largest, 512); /* it grew */
    char user[32], ue[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(user, sizeof(user), "sip:user%05d@mcptt.example", i);
        snprintf(ue, sizeof(ue), "urn:uuid:%05d-1", i);
        ck_assert_ptr_nonnull(mcreg_find(reg, user, ue));
    }
    size_t n = 0;
    ck_assert_int_eq(mcreg_expire(reg, UINT64_MAX, &n), MCREG_OK);
    ck_assert_uint_eq(n, 4000);
    size_t calls = fill(reg, &a, 0, 32, 1000, &largest);
    ck_assert_uint_eq(calls, 64 + 32);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
}
END_TEST

/* A restore into a registry with a capacity keeps it: the restored state
 * then fills to the capacity with records and users alone. */
START_TEST(test_restore_keeps_the_capacity)
{
    tu_alloc a, sa;
    mcreg_allocator al, sal;
    mcreg_registry *src = cap_registry(&sa, &sal, 0, 1);
    size_t largest;
    fill(src, &sa, 0, 5, 1000, &largest);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(src, &buf, &len), MCREG_OK);
    mcreg_registry *reg = cap_registry(&a, &al, CAP, 1);
    ck_assert_int_eq(mcreg_restore(reg, buf, len, 1000), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 10);
    size_t calls = fill(reg, &a, 5, CAP / 2 - 5, 2000, &largest);
    ck_assert_uint_eq(mcreg_record_count(reg), CAP);
    ck_assert_uint_eq(calls, CAP - 10 + CAP / 2 - 5);
    ck_assert_uint_lt(largest, 512);
    mcreg_buffer_free(src, buf);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
}
END_TEST

/* Without a capacity, a restore sizes the tables and the heap from the
 * snapshot's record count: it makes no more allocations than its records,
 * users and a few buffers, where growing as records come would double
 * each table five times and grow the heap a dozen times. */
START_TEST(test_restore_presizes_from_the_count)
{
    tu_alloc a, sa;
    mcreg_allocator al, sal;
    mcreg_registry *src = cap_registry(&sa, &sal, 0, 1);
    size_t largest;
    fill(src, &sa, 0, CAP / 2, 1000, &largest);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(mcreg_snapshot(src, &buf, &len), MCREG_OK);
    mcreg_registry *reg = cap_registry(&a, &al, 0, 1);
    size_t c0 = a.calls;
    ck_assert_int_eq(mcreg_restore(reg, buf, len, 1000), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), CAP);
    /* records and users; the heap's two arrays, the two tables (a block
     * and buckets each), the decoder's string area, the sorting array and
     * the scratch area: 9, and room for the string area to grow thrice */
    ck_assert_uint_le(a.calls - c0, CAP + CAP / 2 + 12);
    mcreg_buffer_free(src, buf);
    mcreg_registry_free(src);
    mcreg_registry_free(reg);
}
END_TEST

START_TEST(test_capacity_limits)
{
    mcreg_options *o = NULL;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_capacity(NULL, 5); /* no-op */
    mcreg_options_set_capacity(o, MCREG_MAX_CAPACITY + 1);
    mcreg_registry *reg = NULL;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_ERR_INVALID);
    ck_assert_ptr_null(reg);
    /* the allocator refuses the tables: NOMEM, nothing leaked */
    tu_alloc a = {0};
    mcreg_allocator al = tu_allocator(&a);
    a.fail_at = 3;
    mcreg_options_set_allocator(o, &al);
    mcreg_options_set_capacity(o, (size_t)1 << 20);
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_ERR_NOMEM);
    ck_assert_ptr_null(reg);
    ck_assert_uint_eq(a.live, 0);
    a.fail_at = 0;
    mcreg_options_set_capacity(o, 1);
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_binding b = tu_binding("u", "e", 5);
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    b.ue_id = "f";
    ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
    ck_assert_uint_eq(mcreg_record_count(reg), 2);
    mcreg_registry_free(reg);
    ck_assert_uint_eq(a.live, 0);
    mcreg_options_free(o);
}
END_TEST

Suite *suite_capacity(void)
{
    Suite *s = suite_create("capacity");
    TCase *tc = tcase_create("capacity");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_below_capacity_only_records_and_users_allocate, 0, 2);
    tcase_add_test(tc, test_empty_and_refill_keeps_the_room);
    tcase_add_loop_test(tc, test_past_capacity_grows, 0, 2);
    tcase_add_test(tc, test_restore_keeps_the_capacity);
    tcase_add_test(tc, test_restore_presizes_from_the_count);
    tcase_add_test(tc, test_capacity_limits);
    suite_add_tcase(s, tc);
    return s;
}
