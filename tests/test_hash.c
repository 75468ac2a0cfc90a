/* The seeded hash: SipHash-1-3 against the reference vectors, and the
 * seed really keys it. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"
#include "mcreg.h"
#include "suites.h"

/* SipHash-1-3 of the bytes 00 01 02 .. (len-1) under the all-zero key,
 * from the reference implementation (github.com/veorq/SipHash). */
static const uint64_t zero_key_vectors[] = {
    UINT64_C(0xd1fba762150c532c), UINT64_C(0x68a914128e01e473), UINT64_C(0x010bac45c41e3669),
    UINT64_C(0x4d4c9a4a8ef6e0ad), UINT64_C(0x7cc43f98813e4dbd), UINT64_C(0x5abe2169dff36275),
    UINT64_C(0xe3c25f87624f1cdb), UINT64_C(0x2f098ab0c751325a), UINT64_C(0xead411e67ebe2eea),
    UINT64_C(0x75927f9d95124362), UINT64_C(0xaf9f77a65ab51a1d), UINT64_C(0xfe64ce8b6617fcff),
    UINT64_C(0xa6baf4fb0f9fe1c2), UINT64_C(0xa0cf3211850f8e0d), UINT64_C(0x7f86049379fbfe67),
    UINT64_C(0xf30eb725bb91c9ea), UINT64_C(0x8972188433a5c5b7), UINT64_C(0x4883c49a2c009c1d),
    UINT64_C(0xadc2c0b63044067d), UINT64_C(0x091f4a3329f87d19), UINT64_C(0x639e355ae68c0100),
};

START_TEST(siphash13_matches_reference_vectors)
{
    mcreg_hash_key key = {0, 0};
    uint8_t in[32];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)i;
    size_t n = sizeof(zero_key_vectors) / sizeof(zero_key_vectors[0]);
    for (size_t len = 0; len < n; len++)
        ck_assert_msg(mcreg__hash_siphash13(&key, in, len) == zero_key_vectors[len],
                      "length %zu", len);
}
END_TEST

START_TEST(seed_changes_every_hash)
{
    mcreg_hash_key a = mcreg__hash_key_from_seed(1), b = mcreg__hash_key_from_seed(2);
    ck_assert(a.k0 != b.k0 || a.k1 != b.k1);
    const char *ids[] = {"sip:alice@mcptt.example", "urn:uuid:1", "x"};
    for (size_t i = 0; i < 3; i++)
        ck_assert(mcreg__hash_siphash13(&a, ids[i], strlen(ids[i])) !=
                  mcreg__hash_siphash13(&b, ids[i], strlen(ids[i])));
}
END_TEST

START_TEST(same_seed_same_hash)
{
    mcreg_hash_key a = mcreg__hash_key_from_seed(42), b = mcreg__hash_key_from_seed(42);
    ck_assert(mcreg__hash_siphash13(&a, "abc", 3) == mcreg__hash_siphash13(&b, "abc", 3));
    ck_assert(mcreg__hash_siphash13(&a, "abc", 3) != mcreg__hash_siphash13(&a, "abd", 3));
}
END_TEST

/* Registries with different seeds hold the same ids identically. */
START_TEST(registries_with_any_seed_behave_alike)
{
    const uint64_t seeds[] = {0, 1, UINT64_MAX};
    for (size_t s = 0; s < 3; s++) {
        mcreg_options *o;
        ck_assert_int_eq(mcreg_options_new(&o), MCREG_OK);
        mcreg_options_set_hash_seed(o, seeds[s]);
        mcreg_registry *reg;
        ck_assert_int_eq(mcreg_registry_new(&reg, o), MCREG_OK);
        mcreg_options_free(o);
        char user[32], ue[32];
        for (int i = 0; i < 500; i++) {
            snprintf(user, sizeof(user), "sip:u%d@x", i % 100);
            snprintf(ue, sizeof(ue), "ue-%d", i);
            mcreg_binding b = {.user_id = user, .ue_id = ue, .expires_s = 60};
            ck_assert_int_eq(mcreg_register(reg, &b, 0, NULL), MCREG_OK);
        }
        ck_assert_uint_eq(mcreg_record_count(reg), 500);
        ck_assert_uint_eq(mcreg_user_count(reg), 100);
        for (int i = 0; i < 500; i++) {
            snprintf(user, sizeof(user), "sip:u%d@x", i % 100);
            snprintf(ue, sizeof(ue), "ue-%d", i);
            ck_assert_ptr_nonnull(mcreg_find(reg, user, ue));
            ck_assert_str_eq(mcreg_record_user_id(mcreg_find_ue(reg, ue)), user);
        }
        mcreg_registry_free(reg);
    }
}
END_TEST

Suite *suite_hash(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("siphash");
    tcase_add_test(tc, siphash13_matches_reference_vectors);
    tcase_add_test(tc, seed_changes_every_hash);
    tcase_add_test(tc, same_seed_same_hash);
    tcase_add_test(tc, registries_with_any_seed_behave_alike);
    suite_add_tcase(s, tc);
    return s;
}
