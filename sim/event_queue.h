/* A deterministic priority queue of timed events for the event-driven simulator.
 *
 * Events are ordered by (time, sequence number): two events at the same cycle come out in the order
 * they were pushed, so a simulation never depends on heap internals. The simulator advances time by
 * popping the next event instead of ticking every cycle of every core.
 */
#ifndef FLOE_SIM_EVENT_QUEUE_H
#define FLOE_SIM_EVENT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct floe_event {
    uint64_t time;   /* cycle at which the event fires */
    uint64_t seq;    /* push order: the tie-break */
    uint32_t kind;   /* what happens (simulator-defined) */
    uint32_t target; /* whom it concerns (e.g. core * threads + thread) */
    uint64_t arg;    /* payload */
} floe_event;

typedef struct floe_event_queue {
    floe_event *heap; /* owned */
    size_t len, cap;
    uint64_t next_seq;
} floe_event_queue;

void floe_eq_init(floe_event_queue *q);
void floe_eq_free(floe_event_queue *q);
/* Returns 0, or -1 when out of memory. */
int floe_eq_push(floe_event_queue *q, uint64_t time, uint32_t kind, uint32_t target, uint64_t arg);
/* Removes the earliest event into *out; returns 0, or -1 when empty. */
int floe_eq_pop(floe_event_queue *q, floe_event *out);
static inline size_t floe_eq_size(const floe_event_queue *q) { return q->len; }

#endif
