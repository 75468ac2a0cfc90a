/* mcreg_changes_drain and mcreg_state_digest: the pending entries wrapped
 * into one checksummed item, and a digest of the replicated state. */
#include <string.h>

#include "changes.h"
#include "crc32c.h"
#include "hash.h"
#include "record.h"
#include "registry.h"
#include "repl.h"
#include "snapshot.h"

/* The envelope around n entries of `body` bytes, into w: 55799([[1, 0],
 * [entries], h'crc']). */
static void put_envelope(mcreg_cbor_writer *w, const uint8_t *body, size_t len, size_t n)
{
    mcreg__cbor_writer_tag(w, MCREG_SNAPSHOT_SELF_DESCRIBE);
    mcreg__cbor_writer_array(w, 3);
    mcreg__cbor_writer_array(w, 2);
    mcreg__cbor_writer_uint(w, MCREG_CHANGES_MAJOR);
    mcreg__cbor_writer_uint(w, MCREG_CHANGES_MINOR);
    mcreg__cbor_writer_array(w, n);
    if (mcreg__cbor_writer_room(w, len)) {
        memcpy(w->out + w->len, body, len);
        w->len += len;
    }
    if (!mcreg__cbor_writer_room(w, 1 + MCREG_CHANGES_CRC_LEN))
        return;
    uint32_t crc = mcreg__crc32c(w->out, w->len);
    uint8_t be[MCREG_CHANGES_CRC_LEN] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16),
                                         (uint8_t)(crc >> 8), (uint8_t)crc};
    mcreg__cbor_writer_bytes(w, be, sizeof(be));
}

/* The room of the pending buffer kept across drains. */
#define PENDING_KEEP 65536u

int mcreg_changes_drain(mcreg_registry *reg, uint8_t **buf, size_t *len)
{
    if (!reg || !buf || !len)
        return MCREG_ERR_MISUSE;
    if (!mcreg__repl_on(reg))
        return MCREG_ERR_INVALID;
    if (!reg->pending_n)
        return MCREG_ERR_NOT_FOUND;
    /* The host's buffer (mcreg_buffer_free): not the state's, uncounted. */
    mcreg_cbor_writer w = {.alloc = &reg->alloc.fns};
    size_t need = reg->pending.len + 48;
    if (!mcreg__cbor_writer_room(&w, need))
        return MCREG_ERR_NOMEM;
    put_envelope(&w, reg->pending.out, reg->pending.len, reg->pending_n);
    if (w.failed) { /* cannot happen: room for it all was made */
        mcreg__alloc_temp_free(&reg->alloc.fns, w.out);
        return MCREG_ERR_NOMEM;
    }
    *buf = w.out;
    *len = w.len;
    /* A large pending buffer goes back: a burst (a startup, a restore)
     * must not keep its room for good. */
    if (reg->pending.cap > PENDING_KEEP) {
        mcreg__alloc_free(&reg->alloc, reg->pending.out, reg->pending.cap);
        reg->pending.out = NULL;
        reg->pending.cap = 0;
    }
    reg->pending.len = 0;
    reg->pending_n = 0;
    return MCREG_OK;
}

/* ---- digest ------------------------------------------------------------ */

/* A fixed key: digests must agree across nodes, whatever their seeds. */
#define DIGEST_SEED UINT64_C(0x6d637265672d6467) /* "mcreg-dg" */

typedef struct {
    mcreg_hash_key key;
    mcreg_cbor_writer w;
    uint64_t sum;
} digest_acc;

/* Adds the hash of the item written into acc->w, then empties it. The
 * sum of distinct items' hashes does not depend on their order. */
static void digest_add(digest_acc *acc)
{
    if (!acc->w.failed)
        acc->sum += mcreg__hash_siphash13(&acc->key, acc->w.out, acc->w.len);
    acc->w.len = 0;
}

static void digest_tomb(digest_acc *acc, const mcreg_repl_node *n)
{
    mcreg__cbor_writer_array(&acc->w, 5);
    mcreg__cbor_writer_uint(&acc->w, MCREG_CHANGES_TOMBSTONE);
    mcreg__cbor_writer_text(&acc->w, n->key, n->len1);
    mcreg__cbor_writer_text(&acc->w, mcreg__rtable_id2(n), n->len2);
    mcreg__cbor_writer_version(&acc->w, n->v);
    mcreg__cbor_writer_version(&acc->w, n->logon);
    digest_add(acc);
}

static void digest_ue_put(digest_acc *acc, const char *ue, size_t len, mcreg_change_version v)
{
    mcreg__cbor_writer_array(&acc->w, 3);
    mcreg__cbor_writer_uint(&acc->w, MCREG_CHANGES_UE_PUT);
    mcreg__cbor_writer_text(&acc->w, ue, len);
    mcreg__cbor_writer_version(&acc->w, v);
    digest_add(acc);
}

/* Each UE's highest put: its node's, or its record's (UE exclusive: a held
 * UE's highest put is its record's version, kept in no node), whichever
 * is higher: one representation of one state, whatever the tables hold. */
static void digest_ues(digest_acc *acc, const mcreg_registry *reg)
{
    const mcreg_rtable *t = &reg->st.ue_puts;
    for (size_t i = 0; i < t->cap; i++) {
        const mcreg_repl_node *n = t->slots[i];
        if (n)
            digest_ue_put(acc, n->key, n->len1, mcreg__repl_ue_high(reg, n->key, n->len1));
    }
    if (!reg->opt.ue_exclusive)
        return;
    for (size_t i = 0; i < reg->st.heap.n; i++) {
        const struct mcreg_record *r = reg->st.heap.items[i];
        if (!mcreg__repl_ue_find(reg, r->ue_id, mcreg__record_ue_len(r)))
            digest_ue_put(acc, r->ue_id, mcreg__record_ue_len(r), mcreg__record_versions(r)->write);
    }
}

static void digest_limit(digest_acc *acc, const mcreg_repl_node *n)
{
    mcreg__repl_limit_entry(&acc->w, n->key, n->len1, n->v, n->has_max, n->max_ues);
    digest_add(acc);
}

static void digest_table(digest_acc *acc, const mcreg_rtable *t,
                         void (*add)(digest_acc *, const mcreg_repl_node *))
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i])
            add(acc, t->slots[i]);
}

int mcreg_state_digest(const mcreg_registry *reg, uint64_t *digest)
{
    if (!reg || !digest)
        return MCREG_ERR_MISUSE;
    if (!mcreg__repl_on(reg))
        return MCREG_ERR_INVALID;
    digest_acc acc = {.key = mcreg__hash_key_from_seed(DIGEST_SEED)};
    acc.w.alloc = &reg->alloc.fns; /* a query's own block: uncounted */
    for (size_t i = 0; i < reg->st.heap.n; i++) {
        mcreg__repl_put_entry(&acc.w, reg->st.heap.items[i]);
        digest_add(&acc);
    }
    digest_table(&acc, &reg->st.tombs, digest_tomb);
    digest_ues(&acc, reg);
    digest_table(&acc, &reg->st.limits, digest_limit);
    int failed = acc.w.failed;
    mcreg__alloc_temp_free(&reg->alloc.fns, acc.w.out);
    if (failed)
        return MCREG_ERR_NOMEM;
    *digest = acc.sum;
    return MCREG_OK;
}
