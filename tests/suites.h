/* Every Check suite of the test runner; check_main.c runs them all. */
#ifndef MCREG_TEST_SUITES_H
#define MCREG_TEST_SUITES_H

#include <check.h>

Suite *suite_validate(void);   /* test_validate.c: input validation, UTF-8 */
Suite *suite_hash(void);       /* test_hash.c: seeded hash */
Suite *suite_cbor_reader(void); /* test_cbor_reader.c: the CBOR pull reader */
Suite *suite_heap(void);       /* test_heap.c: expiry heap */
Suite *suite_index(void);      /* test_index.c: hash tables and lists, link by link */
Suite *suite_registry(void);   /* test_registry.c: register/refresh/remove/queries */
Suite *suite_limits(void);     /* test_limits.c: max_ues, policies, UE exclusive */
Suite *suite_events(void);     /* test_events.c: event order, notifications, BUSY */
Suite *suite_expire(void);     /* test_expire.c: expiry, next_expiry */
Suite *suite_capacity(void);   /* test_capacity.c: presized tables and heap */
Suite *suite_failmalloc(void); /* test_failmalloc.c: allocation failure at every point */
Suite *suite_model(void);      /* test_model.c: randomized model-based test */
Suite *suite_snapshot_encode(void);  /* test_snapshot_encode.c: round trips, deterministic bytes, golden files */
Suite *suite_snapshot_restore(void); /* test_snapshot_restore.c: restore semantics */
Suite *suite_snapshot_hostile(void); /* test_snapshot_hostile.c: truncations and malformed input */
Suite *suite_replication(void);       /* test_replication.c: directed replication cases */
Suite *suite_replication_model(void); /* test_replication_model.c: randomized cluster against the model */
Suite *suite_repl(void);       /* test_repl.c: drain, apply, digest, hostile buffers */
Suite *suite_version(void);    /* test_version.c: version macros and mcreg_version_number */
Suite *suite_detail(void);     /* test_detail.c: MCREG_ERR_MISUSE, mcreg_error_detail */
Suite *suite_stat(void);       /* test_stat.c: mcreg_stat, bytes exact under a counting allocator */
Suite *suite_threads(void);    /* test_threads.c: queries from four threads at once */

#endif
