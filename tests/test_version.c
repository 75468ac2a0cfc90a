/* Version numbers: the header's macros agree with each other, and the
 * library reports the version it was built as. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mcreg.h"
#include "suites.h"

/* MCREG_VERSION_NUMBER must work in the preprocessor, where hosts test it. */
#if !defined(MCREG_VERSION_NUMBER) || MCREG_VERSION_NUMBER < 100
#error "MCREG_VERSION_NUMBER is missing, or below 0.1.0, or not a preprocessor constant"
#endif

START_TEST(test_version_number_is_major_minor_patch)
{
    ck_assert_int_lt(MCREG_VERSION_MINOR, 100);
    ck_assert_int_lt(MCREG_VERSION_PATCH, 100);
    ck_assert_int_eq(MCREG_VERSION_NUMBER,
                     MCREG_VERSION_MAJOR * 10000 + MCREG_VERSION_MINOR * 100 + MCREG_VERSION_PATCH);
}
END_TEST

START_TEST(test_version_string_spells_the_numbers)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MCREG_VERSION_MAJOR, MCREG_VERSION_MINOR,
             MCREG_VERSION_PATCH);
    ck_assert_str_eq(MCREG_VERSION_STRING, want);
}
END_TEST

START_TEST(test_library_reports_the_header_version)
{
    ck_assert_uint_eq(mcreg_version_number(), MCREG_VERSION_NUMBER);
    ck_assert_str_eq(mcreg_version(), MCREG_VERSION_STRING);
}
END_TEST

Suite *suite_version(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("version");
    tcase_add_test(tc, test_version_number_is_major_minor_patch);
    tcase_add_test(tc, test_version_string_spells_the_numbers);
    tcase_add_test(tc, test_library_reports_the_header_version);
    suite_add_tcase(s, tc);
    return s;
}
