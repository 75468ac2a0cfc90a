/* What the snapshot tests (test_snapshot_encode.c, test_snapshot_restore.c,
 * test_snapshot_hostile.c) share: registries and their states, a rich state
 * described record by record, the golden state, comparisons of states and
 * bytes, and the data files of tests/data. The CBOR bytes themselves are
 * written with cbor_builder.h. */
#ifndef MCREG_TEST_SNAPSHOT_UTIL_H
#define MCREG_TEST_SNAPSHOT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "cbor_builder.h"
#include "mcreg.h"
#include "testutil.h"

/* A list of names (users or UEs), without repeats. */
typedef struct names {
    char **v;
    size_t n, cap;
} names;

typedef struct exp_setting {
    const char *key;
    mcreg_value_type type;
    int64_t i; /* INT; BOOL as 0 or 1 */
    const char *data; /* TEXT, BYTES */
    size_t len;
} exp_setting;

typedef struct exp_record {
    const char *user, *ue, *contact, *call_id;
    uint32_t cseq;
    uint64_t registered_at, expires_at;
    size_t n_settings;
    exp_setting settings[8];
} exp_record;

typedef struct exp_limit {
    const char *user;
    uint32_t max;
} exp_limit;

typedef struct sn_rec {
    char *user, *ue;
    uint64_t now;
    uint32_t expires_s;
    const char *contact, *call_id;
    uint32_t cseq;
    const mcreg_setting *settings;
    size_t n_settings;
} sn_rec;

typedef struct sn_lim {
    char *user;
    uint32_t max;
} sn_lim;

typedef struct sn_spec {
    sn_rec *recs;
    size_t n_recs, cap_recs;
    sn_lim *lims;
    size_t n_lims, cap_lims;
    names users, ues; /* every name of the state, and a few unused ones */
} sn_spec;

/* The golden state (tests/data/golden-v1.cbor). */
#define G_ALICE "sip:alice@mcptt.example"
#define G_BOB "sip:bob@mcptt.example"
#define G_CAROL "sip:carol@mcptt.example"
#define G_ZED "sip:zed@mcptt.example"
#define G_NOW 5000 /* restore time: before every expiry of the golden state */

const char *sn_hex(char *out, size_t cap, const uint8_t *p, size_t len);
double sn_seconds(void);
void sn_assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want,
                     size_t want_len, const char *what);
void sn_assert_text(const char *got, const char *want, const char *what);
void names_add(names *s, const char *x);
void names_free(names *s);
void names_from(names *s, const char *const *v, size_t n);
char *sn_dump(const mcreg_registry *reg, const names *users, const names *ues);
void sn_assert_same_records(const mcreg_registry *want, const mcreg_registry *got,
                            const char *what);
mcreg_registry *sn_new(int shared, tu_events *ev);
uint8_t *sn_take(const mcreg_registry *reg, size_t *len);
void sn_restore_ok(mcreg_registry *reg, const uint8_t *buf, size_t len, uint64_t now,
                   const char *what);
void sn_reg(mcreg_registry *reg, const char *user, const char *ue, uint32_t exp,
            uint64_t now);
void sn_reg_full(mcreg_registry *reg, const char *user, const char *ue, uint64_t now,
                 uint32_t exp, const char *contact, const char *call_id, uint32_t cseq,
                 const mcreg_setting *s, size_t n);
void sn_limit(mcreg_registry *reg, const char *user, uint32_t max);
void sn_check_state(const mcreg_registry *reg, const exp_record *recs, size_t n,
                    const exp_limit *lims, size_t nl, const char *const *no_limit,
                    size_t nn, const char *what);
uint8_t *sn_read_data(const char *name, size_t *len);
void sn_write_file(const char *path, const uint8_t *p, size_t len);
extern char sn_uri_max[MCREG_MAX_URI_LEN + 1];
extern char sn_user_max[MCREG_MAX_ID_LEN + 1];
extern char sn_ue_max[MCREG_MAX_ID_LEN + 1];
/* How many settings the record of sn_spec_rich() with every value type holds. */
extern const size_t sn_pool_n;
void sn_spec_free(sn_spec *s);
void sn_spec_rich(sn_spec *s, int shared);
void sn_apply(mcreg_registry *reg, const sn_spec *s, uint64_t seed);
void sn_other_state(mcreg_registry *reg, names *users, names *ues);
void sn_check_roundtrip(const mcreg_registry *src, mcreg_registry *dst,
                        const names *users, const names *ues, uint64_t now,
                        const char *what);
void golden_build(mcreg_registry *reg);
void golden_check(const mcreg_registry *reg, const char *what);

#endif
