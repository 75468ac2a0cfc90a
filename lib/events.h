/* One mutating call's journal and its events.
 *
 * A call first makes its whole change, queueing what it removed; then
 * mcreg__events_finish() delivers the events in the order mcreg.h gives, and
 * only then frees what was removed, so that a callback can still read a
 * removed record. Delivery never allocates: the buffer for other_ue_ids is
 * grown before any change (see mcreg_state.scratch). */
#ifndef MCREG_EVENTS_H
#define MCREG_EVENTS_H

#include "registry.h"

/* One event of an apply (apply.c), which makes many changes at once: a
 * record event, or a NOTIFY_LOGON of `record`'s logon to `recipient`. */
typedef struct mcreg_events_item {
    mcreg_event_type type;
    struct mcreg_record *record;
    const struct mcreg_record *recipient; /* NOTIFY_LOGON only */
    uint64_t origin;
} mcreg_events_item;

/* r->removal of a record queued only to be freed after the events (a
 * block an apply replaced), with no event of its own. */
#define MCREG_EVENTS_NO_EVENT 0xffu

typedef struct mcreg_events_op {
    mcreg_registry *reg;
    uint64_t now;
    struct mcreg_record *removed, *removed_tail; /* removal order, via user_next */
    struct mcreg_record *changed;    /* the record created or refreshed, if any */
    mcreg_event_type changed_type;   /* CREATED, REFRESHED or SHORTENED */
    struct mcreg_record *old_record; /* replaced by a refresh's new block */
    const mcreg_binding *rejected;   /* the binding refused at the limit */
    uint64_t origin;                 /* the events' origin: the registry's node id */
    /* An apply's events, in order, instead of those of `removed` and
     * `changed` (which then only say what to free). */
    const mcreg_events_item *items;
    size_t n_items;
} mcreg_events_op;

void mcreg__events_init(mcreg_events_op *op, mcreg_registry *reg, uint64_t now);
/* Queue an unlinked record for its removal event (why: DEREGISTERED,
 * EXPIRED, EVICTED or REPLACED). */
void mcreg__events_removed(mcreg_events_op *op, struct mcreg_record *r, mcreg_event_type why);
/* Deliver the events, then free what the call removed. Returns 1 when a
 * callback freed the registry (the caller must not touch it again). */
int mcreg__events_finish(mcreg_events_op *op);

/* Callbacks and visitors run inside these: mutating calls made meanwhile
 * get MCREG_ERR_BUSY. busy_leave returns 1 when it freed the registry.
 * Visitors of several threads may enter and leave at once: the depth is
 * atomic. Relaxed order is enough for the depth itself (a mutating call
 * that reads it runs on a thread already inside a visitor, or alone);
 * leaving is acquire-release so that the thread that frees a registry
 * after a deferred mcreg_registry_free sees every other visitor done. */
void mcreg__events_busy_enter(const mcreg_registry *reg);
int mcreg__events_busy_leave(const mcreg_registry *reg);

/* Whether a callback or visitor is running on reg. */
static inline int mcreg__events_busy(const mcreg_registry *reg)
{
    return atomic_load_explicit(&reg->self->busy, memory_order_relaxed) != 0;
}

/* Whether mcreg_registry_free was called while busy: no further event or
 * visit. */
static inline int mcreg__events_free_pending(const mcreg_registry *reg)
{
    return atomic_load_explicit(&reg->self->free_pending, memory_order_relaxed) != 0;
}

#endif
