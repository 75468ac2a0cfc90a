/* The indexes from the inside: after every step of a random workload, the
 * uthash tables, the UE lists, the user lists, the heap and the counters
 * are checked link by link. The model test checks what the API shows; this
 * checks what it rests on (the in-place handle substitution in index.c
 * above all). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "heap.h"
#include "index.h"
#include "record.h"
#include "common/rng.h"
#include "suites.h"

/* Check's ck_assert reports every passed assertion to the runner; with
 * millions of link checks only failures may cost anything. */
#define INV(cond)                                                          \
    do {                                                                   \
        if (!(cond))                                                       \
            ck_abort_msg("invariant broken: %s (line %d)", #cond, __LINE__); \
    } while (0)

/* Every item reachable from the app-order list sits in the bucket of its
 * hash, with consistent links and counts. Returns the item count. */
static size_t check_table(void *head)
{
    if (!head)
        return 0;
    UT_hash_table *tbl = ((UT_hash_handle *)head)->tbl; /* hh is the first member */
    size_t count = 0;
    void *prev = NULL;
    UT_hash_handle *last = NULL;
    for (UT_hash_handle *h = HH_FROM_ELMT(tbl, head); h;
         h = h->next ? HH_FROM_ELMT(tbl, h->next) : NULL) {
        INV(h->tbl == tbl);
        INV(h->prev == prev);
        prev = ELMT_FROM_HH(tbl, h);
        last = h;
        count++;
    }
    INV(tbl->tail == last);
    INV(count == tbl->num_items);
    size_t in_buckets = 0;
    for (unsigned b = 0; b < tbl->num_buckets; b++) {
        unsigned n = 0;
        UT_hash_handle *p = NULL;
        for (UT_hash_handle *x = tbl->buckets[b].hh_head; x; x = x->hh_next) {
            INV(x->hh_prev == p);
            INV((x->hashv & (tbl->num_buckets - 1)) == b);
            p = x;
            n++;
        }
        INV(n == tbl->buckets[b].count);
        in_buckets += n;
    }
    INV(in_buckets == count);
    return count;
}

/* A UE's list: ordered by (registered_at, user_id), one UE id throughout,
 * the first record's prev the last one. Returns its length. */
static size_t check_ue_list(const struct mcreg_record *first, int exclusive)
{
    INV(first->hh.key == first->ue_id);
    INV(first->hh.keylen == strlen(first->ue_id));
    size_t n = 0;
    const struct mcreg_record *last = NULL;
    /* Records have UE links exactly when UE exclusive is off. */
    INV(!(first->flags & MCREG_RECORD_HAS_UE_LINKS) == !!exclusive);
    for (const struct mcreg_record *r = first; r; r = mcreg__record_next_at_ue(r)) {
        INV(!(r->flags & MCREG_RECORD_HAS_UE_LINKS) == !!exclusive);
        INV(strcmp(r->ue_id, first->ue_id) == 0);
        INV(r->hh.key == r->ue_id); /* every record's, in the table or not */
        INV(r->hh.keylen == strlen(r->ue_id));
        if (last) {
            INV(mcreg__record_ue_links(r)->prev == last);
            int later = r->registered_at > last->registered_at ||
                        (r->registered_at == last->registered_at &&
                         mcreg__user_cmp(last->user, r->user) < 0);
            INV(later);
        }
        last = r;
        n++;
    }
    if (!exclusive)
        INV(mcreg__record_ue_links(first)->prev == last);
    if (exclusive)
        INV(n == 1);
    return n;
}

static void check_registry(const mcreg_registry *reg)
{
    check_table(reg->st.users);
    size_t on_ue_lists = 0;
    if (check_table(reg->st.ues))
        for (const struct mcreg_record *r = reg->st.ues; r; r = r->hh.next)
            on_ue_lists += check_ue_list(r, reg->opt.ue_exclusive);

    size_t records = 0, active = 0, largest = 0;
    for (const mcreg_user *u = reg->st.users; u; u = u->hh.next) {
        INV(!u->doomed);
        INV(u->n_records || u->has_max); /* no empty user lingers */
        INV(u->hh.key == u->id);
        size_t n = 0;
        const struct mcreg_record *prev = NULL;
        for (const struct mcreg_record *r = u->first; r; r = r->user_next) {
            INV(r->user == u);
            if (prev)
                INV(r->user_prev == prev);
            if (prev)
                INV(mcreg__record_logon_cmp(prev, r) < 0);
            INV(r->heap_index < reg->st.heap.n);
            INV(reg->st.heap.items[r->heap_index] == r);
            INV(reg->st.heap.keys[r->heap_index] == r->expires_at);
            mcreg_index_key uk, ek;
            mcreg__index_key_init(&uk, u->id, strlen(u->id));
            mcreg__index_key_init(&ek, r->ue_id, strlen(r->ue_id));
            INV(mcreg__index_pair_find(reg, &uk, &ek) == r);
            prev = r;
            n++;
        }
        INV(!u->first || u->first->user_prev == prev); /* the first's prev: the last */
        INV(n == u->n_records);
        records += n;
        active += n > 0;
        largest = n > largest ? n : largest;
    }
    INV(records == reg->st.n_records);
    INV(records == reg->st.heap.n);
    INV(records == on_ue_lists);
    INV(active == reg->st.n_active_users);
    INV(reg->st.scratch_cap >= largest); /* events never allocate */
    /* A capacity's tables: never lost when empty, never fewer buckets. */
    size_t cap = reg->opt.capacity;
    if (cap) {
        const UT_hash_table *ut = reg->st.users ? reg->st.users->hh.tbl : reg->st.users_spare;
        const UT_hash_table *et = reg->st.ues ? reg->st.ues->hh.tbl : reg->st.ues_spare;
        INV(ut && ut->num_buckets >= cap && et && et->num_buckets >= cap);
        INV(reg->st.heap.cap >= cap);
    }
    INV(!reg->st.users || !reg->st.users_spare);
    INV(!reg->st.ues || !reg->st.ues_spare);
    for (size_t i = 1; i < reg->st.heap.n; i++)
        INV(mcreg__heap_expiry_cmp(reg->st.heap.items[(i - 1) / 8], reg->st.heap.items[i]) <= 0);
}

/* Many users and UEs, so the tables grow and shrink through several bucket
 * counts; a clock with ties and steps back, so lists are entered anywhere. */
static void random_workload(int exclusive, mcreg_limit_policy policy, uint64_t seed,
                            size_t capacity)
{
    mcreg_options *o;
    ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
    mcreg_options_set_capacity(o, capacity);
    mcreg_options_set_ue_exclusive(o, exclusive);
    mcreg_options_set_limit_policy(o, policy);
    mcreg_options_set_max_ues(o, policy == MCREG_LIMIT_REJECT ? 0 : 6);
    mcreg_options_set_hash_seed(o, seed);
    mcreg_registry *reg;
    ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
    mcreg_options_free(o);

    uint64_t s = seed, now = 1000;
    char user[16], ue[16];
    for (int step = 0; step < 4000; step++) {
        uint64_t r = test_splitmix64(&s);
        now += r % 4 == 0 ? 0 : r % 3; /* many same-millisecond steps */
        if (r % 97 == 0)
            now -= now > 50 ? 50 : 0; /* the host's clock steps back */
        snprintf(user, sizeof(user), "u%u", (unsigned)(r >> 8) % 150);
        snprintf(ue, sizeof(ue), "e%u", (unsigned)(r >> 20) % (exclusive ? 300 : 40));
        unsigned op = (unsigned)(r >> 40) % 10;
        if (op < 6) {
            mcreg_binding b = {.user_id = user, .ue_id = ue,
                               .expires_s = (uint32_t)(r >> 50) % 120};
            int rc = mcreg_register(reg, &b, now, NULL);
            INV(rc == MCREG_OK || rc == MCREG_ERR_NOT_FOUND);
        } else if (op < 8) {
            int rc = mcreg_deregister(reg, user, ue, now);
            INV(rc == MCREG_OK || rc == MCREG_ERR_NOT_FOUND);
        } else if (op < 9 && r % 2) {
            INV(mcreg_expire(reg, now + (r >> 52) % 60000, NULL) == MCREG_OK);
        } else if (op < 9) {
            INV(mcreg_expire_max(reg, now + (r >> 52) % 60000, (r >> 3) % 20, NULL) == MCREG_OK);
        } else {
            int rc = mcreg_deregister_user(reg, user, now, NULL);
            INV(rc == MCREG_OK || rc == MCREG_ERR_NOT_FOUND);
        }
        check_registry(reg);
    }
    mcreg_registry_free(reg);
}

START_TEST(index_invariants_ue_exclusive)
{
    random_workload(1, MCREG_LIMIT_REJECT, 1 + (uint64_t)_i, 0);
}
END_TEST

START_TEST(index_invariants_shared_ues)
{
    random_workload(0, MCREG_LIMIT_REJECT, 11 + (uint64_t)_i, 0);
}
END_TEST

START_TEST(index_invariants_with_evictions)
{
    random_workload(_i % 2, _i < 2 ? MCREG_LIMIT_EVICT_OLDEST : MCREG_LIMIT_EVICT_SOONEST,
                    21 + (uint64_t)_i, 0);
}
END_TEST

/* With a capacity the workload crosses (64: the tables grow past it and
 * the registry often empties) and one it never reaches (1000). */
START_TEST(index_invariants_with_capacity)
{
    random_workload(_i % 2, _i < 4 ? MCREG_LIMIT_REJECT : MCREG_LIMIT_EVICT_OLDEST,
                    31 + (uint64_t)_i, _i / 2 % 2 ? 1000 : 64);
}
END_TEST

Suite *suite_index(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("invariants");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, index_invariants_ue_exclusive, 0, 2);
    tcase_add_loop_test(tc, index_invariants_shared_ues, 0, 3);
    tcase_add_loop_test(tc, index_invariants_with_evictions, 0, 4);
    tcase_add_loop_test(tc, index_invariants_with_capacity, 0, 6);
    suite_add_tcase(s, tc);
    return s;
}
