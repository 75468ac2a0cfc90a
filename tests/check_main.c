/* The test runner: every suite of suites.h in one Check run. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(suite_validate());
    srunner_add_suite(sr, suite_hash());
    srunner_add_suite(sr, suite_cbor_reader());
    srunner_add_suite(sr, suite_heap());
    srunner_add_suite(sr, suite_index());
    srunner_add_suite(sr, suite_registry());
    srunner_add_suite(sr, suite_limits());
    srunner_add_suite(sr, suite_events());
    srunner_add_suite(sr, suite_expire());
    srunner_add_suite(sr, suite_capacity());
    srunner_add_suite(sr, suite_failmalloc());
    srunner_add_suite(sr, suite_model());
    srunner_add_suite(sr, suite_snapshot_encode());
    srunner_add_suite(sr, suite_snapshot_restore());
    srunner_add_suite(sr, suite_snapshot_hostile());
    srunner_add_suite(sr, suite_replication());
    srunner_add_suite(sr, suite_replication_model());
    srunner_add_suite(sr, suite_repl());
    srunner_add_suite(sr, suite_version());
    srunner_add_suite(sr, suite_detail());
    srunner_add_suite(sr, suite_stat());
    srunner_add_suite(sr, suite_threads());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
