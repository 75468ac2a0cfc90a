/* The UTF-8 validator and the bounded length scan, byte by byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "validate.h"

static int valid(const char *s, size_t len)
{
    return mcreg__validate_utf8((const uint8_t *)s, len);
}

START_TEST(utf8_accepts_well_formed_text)
{
    ck_assert(valid("", 0));
    ck_assert(valid("sip:alice@mcptt.example", 23));
    ck_assert(valid("\xC2\x80", 2));                 /* U+0080, smallest 2-byte */
    ck_assert(valid("\xDF\xBF", 2));                 /* U+07FF */
    ck_assert(valid("\xE0\xA0\x80", 3));             /* U+0800, smallest 3-byte */
    ck_assert(valid("\xED\x9F\xBF", 3));             /* U+D7FF, just below surrogates */
    ck_assert(valid("\xEE\x80\x80", 3));             /* U+E000, just above */
    ck_assert(valid("\xEF\xBF\xBF", 3));             /* U+FFFF */
    ck_assert(valid("\xF0\x90\x80\x80", 4));         /* U+10000 */
    ck_assert(valid("\xF4\x8F\xBF\xBF", 4));         /* U+10FFFF, the last */
    ck_assert(valid("J\xC3\xBCrgen \xE2\x82\xAC \xF0\x9F\x93\xA1", 16));
    ck_assert(valid("a\0b", 3)); /* U+0000 is a code point like any other */
}
END_TEST

START_TEST(utf8_rejects_ill_formed_text)
{
    ck_assert(!valid("\x80", 1));                /* lone continuation */
    ck_assert(!valid("a\xBF", 2));
    ck_assert(!valid("\xC0\x80", 2));            /* overlong U+0000 */
    ck_assert(!valid("\xC1\xBF", 2));            /* overlong U+007F */
    ck_assert(!valid("\xE0\x9F\xBF", 3));        /* overlong U+07FF */
    ck_assert(!valid("\xF0\x8F\xBF\xBF", 4));    /* overlong U+FFFF */
    ck_assert(!valid("\xED\xA0\x80", 3));        /* U+D800 surrogate */
    ck_assert(!valid("\xED\xBF\xBF", 3));        /* U+DFFF surrogate */
    ck_assert(!valid("\xF4\x90\x80\x80", 4));    /* U+110000 */
    ck_assert(!valid("\xF5\x80\x80\x80", 4));
    ck_assert(!valid("\xFF", 1));
    ck_assert(!valid("\xC3", 1));                /* truncated 2-byte */
    ck_assert(!valid("\xE2\x82", 2));            /* truncated 3-byte */
    ck_assert(!valid("\xF0\x9F\x93", 3));        /* truncated 4-byte */
    ck_assert(!valid("\xE2\x28\xA1", 3));        /* bad second byte */
    ck_assert(!valid("\xE2\x82\x28", 3));        /* bad third byte */
    ck_assert(!valid("\xF0\x9F\x93\x28", 4));    /* bad fourth byte */
}
END_TEST

/* The validator reads nothing past len: a multi-byte lead at the very end
 * of an exactly-sized heap block is rejected (ASan would see an overread). */
START_TEST(utf8_never_reads_past_len)
{
    const char leads[] = {'\xC3', '\xE2', '\xF0'};
    for (size_t i = 0; i < sizeof(leads); i++) {
        char *buf = malloc(1);
        buf[0] = leads[i];
        ck_assert(!mcreg__validate_utf8((const uint8_t *)buf, 1));
        free(buf);
    }
}
END_TEST

/* Every 2-byte sequence agrees with the code point rules. */
START_TEST(utf8_two_byte_table)
{
    for (unsigned a = 0x80; a <= 0xFF; a++) {
        for (unsigned b = 0; b <= 0xFF; b++) {
            char s[2] = {(char)a, (char)b};
            int expect = a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF;
            ck_assert_int_eq(valid(s, 2), expect);
        }
    }
}
END_TEST

START_TEST(bounded_strlen_stops_at_the_bound)
{
    ck_assert_uint_eq(mcreg__validate_bounded_strlen("", 10), 0);
    ck_assert_uint_eq(mcreg__validate_bounded_strlen("abc", 10), 3);
    ck_assert_uint_eq(mcreg__validate_bounded_strlen("abc", 3), 3);
    ck_assert_uint_eq(mcreg__validate_bounded_strlen("abcd", 3), 4); /* max + 1: too long */
    /* An unterminated block of exactly max + 1 bytes is not overread. */
    char *buf = malloc(5);
    memset(buf, 'x', 5);
    ck_assert_uint_eq(mcreg__validate_bounded_strlen(buf, 4), 5);
    free(buf);
}
END_TEST

START_TEST(ids_within_limits)
{
    size_t len = 0;
    char *id = malloc(MCREG_MAX_ID_LEN + 2);
    memset(id, 'a', MCREG_MAX_ID_LEN + 1);
    id[MCREG_MAX_ID_LEN] = '\0';
    ck_assert(mcreg__validate_id(id, &len, "id", NULL));
    ck_assert_uint_eq(len, MCREG_MAX_ID_LEN);
    id[MCREG_MAX_ID_LEN] = 'a';
    id[MCREG_MAX_ID_LEN + 1] = '\0';
    ck_assert(!mcreg__validate_id(id, &len, "id", NULL));
    free(id);
    ck_assert(!mcreg__validate_id(NULL, &len, "id", NULL));
    ck_assert(!mcreg__validate_id("", &len, "id", NULL));
    ck_assert(!mcreg__validate_id("\xC0\x80", &len, "id", NULL));
    ck_assert(mcreg__validate_id("\xE2\x82\xAC", &len, "id", NULL));
    ck_assert_uint_eq(len, 3);
}
END_TEST

Suite *suite_validate(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, utf8_accepts_well_formed_text);
    tcase_add_test(tc, utf8_rejects_ill_formed_text);
    tcase_add_test(tc, utf8_never_reads_past_len);
    tcase_add_test(tc, utf8_two_byte_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("lengths");
    tcase_add_test(tc, bounded_strlen_stops_at_the_bound);
    tcase_add_test(tc, ids_within_limits);
    suite_add_tcase(s, tc);
    return s;
}
