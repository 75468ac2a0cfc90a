/* Shared test helpers: a counting allocator that can fail on demand, an
 * event recorder that renders events as text, and a full state dump walked
 * through the public API only. */
#ifndef MCREG_TESTUTIL_H
#define MCREG_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mcreg.h"
#include "model.h"

/* ---- counting allocator ------------------------------------------------ */
typedef struct tu_alloc {
    size_t calls;      /* malloc + realloc calls seen */
    size_t live;       /* blocks currently allocated */
    size_t live_bytes; /* bytes currently allocated */
    size_t fail_at;    /* 1-based call number to fail; 0 = never */
    int fail_all_after; /* with fail_at: fail every call from fail_at on */
    size_t peak_bytes;  /* highest live_bytes seen (reset it to live_bytes to
                           measure one call) */
    size_t max_request; /* largest size asked of malloc or realloc */
} tu_alloc;

/* An mcreg_allocator whose ctx is `a`. Blocks carry a size header so the
 * counters stay exact. */
mcreg_allocator tu_allocator(tu_alloc *a);

/* ---- event recorder ---------------------------------------------------- */
/* Each event is appended to a text log as
 *   TYPE(user,ue)                       for record events
 *   TYPE(user,ue>recipient:[o1,o2])     for NOTIFY_LOGON / NOTIFY_LOGOFF
 * joined by ';'. TYPE is mcreg_event_name(). */
typedef struct tu_events {
    char *log;     /* NUL-terminated, malloc'd */
    size_t len, cap;
    size_t count;
    mcreg_registry *reg; /* when set, the callback also tries a mutation */
    int busy_seen;       /* ...and counts MCREG_ERR_BUSY answers */
    int busy_wrong;      /* ...and counts any other answer */
} tu_events;

void tu_events_init(tu_events *e);
void tu_events_reset(tu_events *e); /* empty the log, keep the buffer */
void tu_events_free(tu_events *e);
void tu_events_cb(const mcreg_event *ev, void *user_data); /* user_data = tu_events* */
/* Append an event's text to an arbitrary growing string (used by the model
 * test to render its expected events the same way). */
void tu_events_append(tu_events *e, const char *text);

/* ---- state dump ---------------------------------------------------------- */
/* Everything observable, in a canonical text form: counts, next expiry,
 * and every record (mcreg_foreach order) with all fields and settings.
 * Returns a malloc'd string (NULL if the dump itself ran out of memory). */
char *tu_state_dump(const mcreg_registry *reg);

/* ---- visitors --------------------------------------------------------------- */
/* mcreg_visit_fn visitors that append what they see to a tu_events text
 * (ud), comma-separated: the UE id, or "user/ue". */
int tu_collect_ue(const mcreg_record *r, void *ud);
int tu_collect_pair(const mcreg_record *r, void *ud);

/* ---- convenience ----------------------------------------------------------- */
/* A binding with only the ids and expiry set. */
mcreg_binding tu_binding(const char *user, const char *ue, uint32_t expires_s);
/* mcreg_registry_new with a default options object plus the given knobs. */
mcreg_registry *tu_registry(tu_events *ev, const mcreg_allocator *a);

/* ---- registry fixture ------------------------------------------------------- */
/* Every option a test sets. All zero is the registry's defaults: the rules'
 * options as the model has them, the hash seed the library picks, no
 * callback, the default allocator. */
typedef struct tu_opts {
    model_options rules;
    size_t capacity; /* mcreg_options_set_capacity; 0: none */
    int set_seed; /* 1: hash seed `seed` */
    uint64_t seed;
    mcreg_event_fn fn; /* the event callback and its user data; NULL: none */
    void *ud;
    const mcreg_allocator *alloc;
} tu_opts;

/* A registry with these options; fails the test when mcreg_registry_new
 * does. */
mcreg_registry *tu_registry_new(const tu_opts *o);
/* The same with the event recorder `ev` (initialised here) as callback. */
mcreg_registry *tu_registry_rec(const model_options *rules, tu_events *ev);

#endif
