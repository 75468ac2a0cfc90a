#include "events.h"

#include <string.h>

#include "heap.h"
#include "index.h"
#include "record.h"
#include "repl.h"
#include "state.h"

void mcreg__events_init(mcreg_events_op *op, mcreg_registry *reg, uint64_t now)
{
    memset(op, 0, sizeof(*op));
    op->reg = reg;
    op->now = now;
    op->origin = reg->opt.node_id;
}

void mcreg__events_removed(mcreg_events_op *op, struct mcreg_record *r, mcreg_event_type why)
{
    r->removal = (uint8_t)why;
    r->user_next = NULL; /* unlinked from its user: free for the queue */
    if (op->removed_tail)
        op->removed_tail->user_next = r;
    else
        op->removed = r;
    op->removed_tail = r;
}

/* Queries take a const registry, but their visitors may still try a
 * mutating call or mcreg_registry_free: the busy depth must change under a
 * const registry, and `self` is the registry's own mutable view of itself. */
void mcreg__events_busy_enter(const mcreg_registry *reg)
{
    atomic_fetch_add_explicit(&reg->self->busy, 1, memory_order_relaxed);
}

int mcreg__events_busy_leave(const mcreg_registry *reg)
{
    mcreg_registry *r = reg->self;
    unsigned was = atomic_fetch_sub_explicit(&r->busy, 1, memory_order_acq_rel);
    if (was == 1 && mcreg__events_free_pending(r)) {
        mcreg__state_destroy(r);
        return 1;
    }
    return 0;
}

/* ---- delivery ------------------------------------------------------------ */

/* Once a callback has freed the registry (deferred: see
 * mcreg_registry_free), the host hears nothing more from it. */
static void emit(mcreg_events_op *op, mcreg_event *ev)
{
    if (mcreg__events_free_pending(op->reg))
        return;
    ev->at_ms = op->now;
    ev->registry = op->reg;
    op->reg->events_delivered[ev->type]++; /* before: the callback may read it */
    ev->origin = op->origin;
    op->reg->opt.event_fn(ev, op->reg->opt.event_user_data);
}

static void event_init(mcreg_event *ev, mcreg_event_type type, const char *user_id,
                       const char *ue_id, const struct mcreg_record *r)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->user_id = user_id;
    ev->ue_id = ue_id;
    ev->record = r;
}

static void emit_record_event(mcreg_events_op *op, mcreg_event_type type, struct mcreg_record *r)
{
    mcreg_event ev;
    event_init(&ev, type, r->user->id, r->ue_id, r);
    emit(op, &ev);
}

/* Tell `recipient` that `subject` logged on or off. */
static void emit_notify(mcreg_events_op *op, mcreg_event_type type, struct mcreg_record *subject,
                        const struct mcreg_record *recipient, const char *const *others,
                        size_t n_others)
{
    mcreg_event ev;
    event_init(&ev, type, subject->user->id, subject->ue_id, subject);
    ev.recipient_ue_id = recipient->ue_id;
    ev.recipient = recipient;
    ev.other_ue_ids = others;
    ev.n_other = n_others;
    emit(op, &ev);
}

/* s, or the record after it in its user's list if s is `hidden`. */
static const struct mcreg_record *unless_hidden(const struct mcreg_record *s,
                                                const struct mcreg_record *hidden)
{
    return s && s == hidden ? s->user_next : s;
}

/* The UE ids of u's records in order, less `hidden` and `except`, into
 * `others`; returns how many. */
static size_t fill_others(const char **others, const mcreg_user *u,
                          const struct mcreg_record *hidden, const struct mcreg_record *except)
{
    size_t n = 0;
    for (const struct mcreg_record *s = u->first; s; s = s->user_next)
        if (s != hidden && s != except)
            others[n++] = s->ue_id;
    return n;
}

/* Tell each of the subject's user's UEs, in order, about the subject,
 * except `hidden` (neither told nor named) and `skip` (named, not told).
 * With L the user's UEs less `hidden`, the recipient L[j] is told L less
 * L[j]. Going from L[j] to L[j+1] changes one slot of that array (slot j
 * becomes L[j]), so a round of n notifications costs O(n), not O(n^2). */
static void notify_each(mcreg_events_op *op, mcreg_event_type type, struct mcreg_record *subject,
                        const struct mcreg_record *hidden, const struct mcreg_record *skip)
{
    const char **others = op->reg->st.scratch;
    const struct mcreg_record *first = unless_hidden(subject->user->first, hidden);
    if (!first)
        return;
    size_t n = fill_others(others, subject->user, hidden, first);
    size_t j = 0;
    for (const struct mcreg_record *cur = first; cur;) {
        if (cur != skip)
            emit_notify(op, type, subject, cur, others, n);
        const struct mcreg_record *next = unless_hidden(cur->user_next, hidden);
        if (next)
            others[j++] = cur->ue_id;
        cur = next;
    }
}

static void deliver_removal(mcreg_events_op *op, struct mcreg_record *gone)
{
    emit_record_event(op, (mcreg_event_type)gone->removal, gone);
    if (!op->reg->opt.notify_logoff)
        return;
    /* The survivors, less a UE logging on in this call: it was not there. */
    const struct mcreg_record *created =
        op->changed_type == MCREG_EV_CREATED ? op->changed : NULL;
    notify_each(op, MCREG_EV_NOTIFY_LOGOFF, gone, created, NULL);
}

static void deliver_logon(mcreg_events_op *op, struct mcreg_record *r)
{
    int policy = op->reg->opt.notify_logon;
    if (policy == MCREG_NOTIFY_NONE || r->user->n_records < 2)
        return;
    /* The new UE first, told of all the others... */
    const char **others = op->reg->st.scratch;
    size_t n = fill_others(others, r->user, NULL, r);
    emit_notify(op, MCREG_EV_NOTIFY_LOGON, r, r, others, n);
    /* ...then each of the others, in order. */
    if (policy == MCREG_NOTIFY_ALL)
        notify_each(op, MCREG_EV_NOTIFY_LOGON, r, NULL, r);
}

/* A run of an apply's NOTIFY_LOGONs to one user's UEs, items[i..end),
 * each told the user's UEs but itself: rounds through the user's list,
 * each taking the items whose recipients come in list order, with
 * notify_each's sliding array (O(1) per event). Returns the end. */
static size_t deliver_logons(mcreg_events_op *op, size_t i)
{
    const mcreg_events_item *items = op->items;
    const mcreg_user *u = items[i].recipient->user;
    size_t end = i;
    while (end < op->n_items && items[end].type == MCREG_EV_NOTIFY_LOGON &&
           items[end].recipient->user == u)
        end++;
    const char **others = op->reg->st.scratch;
    while (i < end) {
        size_t at_start = i, j = 0;
        size_t n = fill_others(others, u, NULL, u->first);
        for (const struct mcreg_record *cur = u->first; cur && i < end;) {
            if (items[i].recipient == cur) {
                op->origin = items[i].origin;
                emit_notify(op, MCREG_EV_NOTIFY_LOGON, items[i].record, cur, others, n);
                i++;
            }
            const struct mcreg_record *next = cur->user_next;
            if (next)
                others[j++] = cur->ue_id;
            cur = next;
        }
        if (i == at_start)
            i++; /* a recipient not in the list: cannot happen */
    }
    return end;
}

static void deliver_items(mcreg_events_op *op)
{
    for (size_t i = 0; i < op->n_items;) {
        const mcreg_events_item *it = &op->items[i];
        if (it->type == MCREG_EV_NOTIFY_LOGON) {
            i = deliver_logons(op, i);
            continue;
        }
        op->origin = it->origin;
        emit_record_event(op, it->type, it->record);
        i++;
    }
}

static void deliver(mcreg_events_op *op)
{
    if (op->items) {
        deliver_items(op);
        return;
    }
    if (op->rejected) {
        mcreg_event ev;
        event_init(&ev, MCREG_EV_REJECTED, op->rejected->user_id, op->rejected->ue_id, NULL);
        emit(op, &ev);
        return;
    }
    for (struct mcreg_record *r = op->removed; r; r = r->user_next)
        if (r->removal != MCREG_EVENTS_NO_EVENT)
            deliver_removal(op, r);
    if (op->changed)
        emit_record_event(op, op->changed_type, op->changed);
    if (op->changed && op->changed_type == MCREG_EV_CREATED)
        deliver_logon(op, op->changed);
}

/* ---- cleanup ------------------------------------------------------------- */

/* Users left with no record and no limit of their own leave the index now
 * (so callbacks no longer see them) and are freed after the events, with
 * their last queued record. A doomed user has no records, so n_records
 * then counts its records still in the queue. */
static void doom_empty_users(mcreg_events_op *op)
{
    for (struct mcreg_record *r = op->removed; r; r = r->user_next) {
        mcreg_user *u = r->user;
        if (u->doomed) {
            u->n_records++;
            continue;
        }
        if (u->n_records || u->has_max)
            continue;
        mcreg__index_user_remove(op->reg, u);
        u->doomed = 1;
        u->n_records = 1;
    }
}

static void free_removed(mcreg_events_op *op)
{
    mcreg_alloc *a = &op->reg->alloc;
    struct mcreg_record *r = op->removed;
    while (r) {
        struct mcreg_record *next = r->user_next;
        mcreg_user *u = r->user;
        mcreg__record_free(a, r);
        if (u->doomed && --u->n_records == 0)
            mcreg__user_free(a, u);
        r = next;
    }
    mcreg__record_free(a, op->old_record);
}

int mcreg__events_finish(mcreg_events_op *op)
{
    mcreg_registry *reg = op->reg;
    mcreg__repl_commit(op); /* the call's change, staged before it began */
    doom_empty_users(op);
    if (reg->opt.event_fn) {
        mcreg__events_busy_enter(reg);
        deliver(op);
        atomic_fetch_sub_explicit(&reg->busy, 1, memory_order_relaxed); /* freed below */
    }
    int removed_any = op->removed != NULL;
    free_removed(op);
    if (removed_any)
        mcreg__heap_trim(&reg->alloc, &reg->st.heap, reg->opt.capacity);
    if (!mcreg__events_busy(reg) && mcreg__events_free_pending(reg)) {
        mcreg__state_destroy(reg);
        return 1;
    }
    return 0;
}
