/* Sizing a registry's state in advance and tearing it down: below
 * events.c, which frees a registry once a callback's deferred
 * mcreg_registry_free comes due, and below registry.c and restore.c. */
#include "state.h"

#include <string.h>

#include "heap.h"
#include "index.h"
#include "record.h"
#include "registry.h"

int mcreg__state_reserve(mcreg_registry *reg, size_t records)
{
    mcreg_state *st = &reg->st;
    if (mcreg__heap_presize(&reg->alloc, &st->heap, records) != MCREG_OK)
        return MCREG_ERR_NOMEM;
    /* The scratch area's first room too (users of up to 8 UEs), which the
     * first register would otherwise allocate. */
    void *scratch = mcreg__alloc_grow(&reg->alloc, st->scratch, &st->scratch_cap, 1,
                                      sizeof(void *));
    if (!scratch)
        return MCREG_ERR_NOMEM;
    st->scratch = scratch;
    return mcreg__index_reserve(reg, records);
}

void mcreg__state_clear(mcreg_registry *reg)
{
    mcreg_alloc *a = &reg->alloc;
    mcreg__index_clear(reg); /* reads the first record: before freeing them */
    for (size_t i = 0; i < reg->st.heap.n; i++)
        mcreg__record_free(a, reg->st.heap.items[i]);
    mcreg__heap_free(a, &reg->st.heap);
    mcreg__alloc_free(a, reg->st.scratch, reg->st.scratch_cap * sizeof(void *));
    mcreg__rtable_free(a, &reg->st.tombs);
    mcreg__rtable_free(a, &reg->st.ue_puts);
    mcreg__rtable_free(a, &reg->st.limits);
    memset(&reg->st, 0, sizeof(reg->st));
}

void mcreg__state_destroy(mcreg_registry *reg)
{
    mcreg__state_clear(reg);
    mcreg__alloc_free(&reg->alloc, reg->pending.out, reg->pending.cap);
    mcreg__alloc_free(&reg->alloc, reg->stage.items, reg->stage.cap * sizeof(*reg->stage.items));
    mcreg_alloc a = reg->alloc;
    mcreg__alloc_free(&a, reg, sizeof(*reg));
}
