/* mcreg_snapshot: the state as deterministic CBOR (README, "Snapshot
 * format"), written in one pass over the records into a buffer that grows
 * by half, then trimmed to size. (A measuring pass first would read every
 * record twice: at a million records, each read is a cache miss.) */
#include <stdint.h>
#include <string.h>

#include "cbor_writer.h"
#include "crc32c.h"
#include "repl.h"

#include "index.h"
#include "record.h"
#include "registry.h"
#include "snapshot.h"
#include "sort.h"

/* Ids compare bytewise: strcmp compares as unsigned char, and ids hold no
 * NUL. */
static int ue_id_cmp(const void *a, const void *b)
{
    const struct mcreg_record *x = a, *y = b;
    return strcmp(x->ue_id, y->ue_id);
}

/* What the document needs besides the registry: its users sorted by id,
 * and room to sort the records of the largest one. */
typedef struct {
    void **users;
    size_t n_users;
    size_t n_limits;
    void **records;
} snapshot_order;

static void put_records(mcreg_cbor_writer *w, const mcreg_registry *reg, const snapshot_order *o)
{
    mcreg__cbor_writer_array(w, reg->st.n_records);
    for (size_t i = 0; i < o->n_users; i++) {
        const mcreg_user *u = o->users[i];
        size_t n = 0;
        for (struct mcreg_record *r = u->first; r; r = r->user_next)
            o->records[n++] = r;
        mcreg__sort(o->records, n, ue_id_cmp);
        for (size_t k = 0; k < n; k++)
            mcreg__cbor_writer_record(w, o->records[k], 1); /* versions: 1.1 only */
    }
}

static void put_limits(mcreg_cbor_writer *w, const snapshot_order *o)
{
    mcreg__cbor_writer_array(w, o->n_limits);
    for (size_t i = 0; i < o->n_users; i++) {
        const mcreg_user *u = o->users[i];
        if (!u->has_max)
            continue;
        mcreg__cbor_writer_array(w, 2);
        mcreg__cbor_writer_text(w, u->id, mcreg__user_id_len(u));
        mcreg__cbor_writer_uint(w, u->max_ues);
    }
}

/* ---- 1.1: the replicated state's side tables ---------------------------- */

/* Nodes in key order: bytewise over "user NUL ue" is (user, ue) order. */
static int node_cmp(const void *va, const void *vb)
{
    const mcreg_repl_node *a = va, *b = vb;
    size_t la = mcreg__rtable_key_len(a), lb = mcreg__rtable_key_len(b);
    int c = memcmp(a->key, b->key, la < lb ? la : lb);
    return c ? c : (la < lb ? -1 : la > lb);
}

/* NUL-terminated ids (which hold no NUL), bytewise. */
static int cstr_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* A table's nodes, sorted, into `order` (room for t->n). */
static void sorted_nodes(const mcreg_rtable *t, void **order)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i])
            order[n++] = t->slots[i];
    mcreg__sort(order, n, node_cmp);
}

static void put_side_tables(mcreg_cbor_writer *w, const mcreg_registry *reg, void **order)
{
    const mcreg_rtable *tombs = &reg->st.tombs, *ues = &reg->st.ue_puts, *lims = &reg->st.limits;
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_KEY_TOMBSTONES);
    mcreg__cbor_writer_array(w, tombs->n);
    sorted_nodes(tombs, order);
    for (size_t i = 0; i < tombs->n; i++) {
        const mcreg_repl_node *n = order[i];
        mcreg__cbor_writer_array(w, 4);
        mcreg__cbor_writer_text(w, n->key, n->len1);
        mcreg__cbor_writer_text(w, mcreg__rtable_id2(n), n->len2);
        mcreg__cbor_writer_version(w, n->v);
        mcreg__cbor_writer_version(w, n->logon);
    }
    /* Each UE's highest put: the UEs with a node, and (UE exclusive) the
     * held UEs without one, whose record's version it is; in UE id order. */
    size_t n_ues = 0;
    for (size_t i = 0; i < ues->cap; i++)
        if (ues->slots[i])
            order[n_ues++] = (void *)(uintptr_t)ues->slots[i]->key;
    for (size_t i = 0; reg->opt.ue_exclusive && i < reg->st.heap.n; i++) {
        const struct mcreg_record *r = reg->st.heap.items[i];
        if (!mcreg__repl_ue_find(reg, r->ue_id, mcreg__record_ue_len(r)))
            order[n_ues++] = (void *)(uintptr_t)r->ue_id;
    }
    mcreg__sort(order, n_ues, cstr_cmp);
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_KEY_UE_PUTS);
    mcreg__cbor_writer_array(w, n_ues);
    for (size_t i = 0; i < n_ues; i++) {
        const char *ue = order[i];
        size_t len = strlen(ue);
        mcreg__cbor_writer_array(w, 2);
        mcreg__cbor_writer_text(w, ue, len);
        mcreg__cbor_writer_version(w, mcreg__repl_ue_high(reg, ue, len));
    }
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_KEY_LIMIT_ENTRIES);
    mcreg__cbor_writer_array(w, lims->n);
    sorted_nodes(lims, order);
    for (size_t i = 0; i < lims->n; i++) {
        const mcreg_repl_node *n = order[i];
        mcreg__cbor_writer_array(w, 3);
        mcreg__cbor_writer_text(w, n->key, n->len1);
        mcreg__cbor_writer_version(w, n->v);
        if (n->has_max)
            mcreg__cbor_writer_uint(w, n->max_ues);
        else
            mcreg__cbor_writer_null(w);
    }
    /* The checksum of every byte so far, the key's included. */
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_KEY_CRC);
    if (w->failed)
        return;
    uint32_t crc = mcreg__crc32c(w->out, w->len);
    uint8_t be[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    mcreg__cbor_writer_bytes(w, be, sizeof(be));
}

static void put_document(mcreg_cbor_writer *w, const mcreg_registry *reg, const snapshot_order *o,
                         void **side)
{
    /* A registry without a node id writes 1.0, byte for byte as before. */
    int v11 = mcreg__repl_on(reg);
    mcreg__cbor_writer_tag(w, MCREG_SNAPSHOT_SELF_DESCRIBE);
    mcreg__cbor_writer_map(w, v11 ? 7 : 3);
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_KEY_VERSION);
    mcreg__cbor_writer_array(w, 2);
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_MAJOR);
    mcreg__cbor_writer_uint(w, v11 ? MCREG_SNAPSHOT_REPL_MINOR : MCREG_SNAPSHOT_MINOR);
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_KEY_RECORDS);
    put_records(w, reg, o);
    mcreg__cbor_writer_uint(w, MCREG_SNAPSHOT_KEY_LIMITS);
    put_limits(w, o);
    if (v11)
        put_side_tables(w, reg, side);
}

/* A user and the 8 bytes of its id that follow the prefix every id
 * shares (big-endian, zero past the end: in byte order, a shorter id comes
 * first). Sorting by these compares in a contiguous array and reads an id
 * only to break a tie: ids such as "sip:user0000123@..." all share their
 * first bytes, and reading each one is a cache miss. */
typedef struct {
    uint64_t key;
    const mcreg_user *user;
} user_key;

static int user_key_cmp(const void *a, const void *b)
{
    const user_key *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return mcreg__user_cmp(x->user, y->user);
}

static size_t common_prefix(const char *a, const char *b, size_t max)
{
    size_t n = 0;
    while (n < max && a[n] == b[n] && a[n])
        n++;
    return n;
}

static uint64_t key_at(const mcreg_user *u, size_t at)
{
    size_t len = mcreg__user_id_len(u);
    uint64_t key = 0;
    for (size_t i = 0; i < 8; i++)
        key = key << 8 | (at + i < len ? (unsigned char)u->id[at + i] : 0u);
    return key;
}

/* Sort users[0..n) by id, with `keys` (n entries) and `order` (n
 * pointers) as room. */
static void sort_users(void **users, size_t n, user_key *keys, void **order)
{
    if (n == 0)
        return;
    const mcreg_user *first = users[0];
    size_t shared = mcreg__user_id_len(first);
    for (size_t i = 1; i < n; i++)
        shared = common_prefix(first->id, ((const mcreg_user *)users[i])->id, shared);
    for (size_t i = 0; i < n; i++) {
        keys[i] = (user_key){key_at(users[i], shared), users[i]};
        order[i] = &keys[i];
    }
    mcreg__sort(order, n, user_key_cmp);
    for (size_t i = 0; i < n; i++)
        users[i] = (void *)(uintptr_t)((const user_key *)order[i])->user;
}

/* Fill o: the users sorted, the limits counted, and room for the records
 * of the largest user. The one array holds both. */
static int order_users(const mcreg_registry *reg, snapshot_order *o)
{
    const mcreg_allocator *a = &reg->alloc.fns;
    size_t n = mcreg__index_user_total(reg);
    size_t largest = 0;
    *o = (snapshot_order){0};
    for (const mcreg_user *u = mcreg__index_user_iter(reg, NULL); u;
         u = mcreg__index_user_iter(reg, u))
        if (u->n_records > largest)
            largest = u->n_records;
    if (n + largest == 0)
        return MCREG_OK;
    /* Room for the sort too: n keys and n more pointers. */
    size_t room = n + (largest > n ? largest : n);
    if (n > SIZE_MAX / sizeof(user_key) || room > (SIZE_MAX - n * sizeof(user_key)) / sizeof(void *))
        return MCREG_ERR_NOMEM;
    void **all = mcreg__alloc_temp_malloc(a, room * sizeof(void *) + n * sizeof(user_key));
    if (!all)
        return MCREG_ERR_NOMEM;
    size_t i = 0;
    for (mcreg_user *u = mcreg__index_user_iter(reg, NULL); u; u = mcreg__index_user_iter(reg, u)) {
        all[i++] = u;
        o->n_limits += u->has_max;
    }
    sort_users(all, n, (user_key *)(void *)(all + room), all + n);
    o->users = all;
    o->n_users = n;
    o->records = all + n;
    return MCREG_OK;
}

int mcreg_snapshot(const mcreg_registry *reg, uint8_t **buf, size_t *len)
{
    if (!reg || !buf || !len)
        return MCREG_ERR_MISUSE;
    const mcreg_allocator *a = &reg->alloc.fns;
    snapshot_order o;
    int rc = order_users(reg, &o);
    if (rc != MCREG_OK)
        return rc;
    /* A realistic record takes about 200 bytes; start a little under, as a
     * minimal one takes 20: growing by half costs little (and large blocks
     * grow in place, by remapping, with most allocators). */
    /* Room to sort the largest side table (1.1). */
    size_t side_n = reg->st.tombs.n;
    if (reg->st.ue_puts.n + reg->st.n_records > side_n)
        side_n = reg->st.ue_puts.n + reg->st.n_records;
    if (reg->st.limits.n > side_n)
        side_n = reg->st.limits.n;
    void **side = side_n ? mcreg__alloc_temp_malloc(a, side_n * sizeof(void *)) : NULL;
    if (side_n && !side) {
        mcreg__alloc_temp_free(a, o.users);
        return MCREG_ERR_NOMEM;
    }
    mcreg_cbor_writer w = {.alloc = a};
    size_t guess = reg->st.n_records < SIZE_MAX / 160 ? 64 + reg->st.n_records * 160 : 64;
    w.out = mcreg__alloc_temp_grow(a, NULL, &w.cap, guess, 1);
    w.failed = w.out == NULL;
    put_document(&w, reg, &o, side);
    mcreg__alloc_temp_free(a, o.users);
    mcreg__alloc_temp_free(a, side);
    if (w.failed) {
        mcreg__alloc_temp_free(a, w.out);
        return MCREG_ERR_NOMEM;
    }
    /* Give the slack back; if that fails, the larger block does as well. */
    uint8_t *trimmed = mcreg__alloc_temp_realloc(a, w.out, w.len);
    *buf = trimmed ? trimmed : w.out;
    *len = w.len;
    return MCREG_OK;
}
void mcreg_buffer_free(const mcreg_registry *reg, uint8_t *buf)
{
    if (reg && buf)
        mcreg__alloc_temp_free(&reg->alloc.fns, buf);
}
