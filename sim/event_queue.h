/* A deterministic priority queue of timed events for the event-driven simulator.
 *
 * Events are ordered by (time, priority, sequence number): at the same cycle a lower priority value
 * comes first (the simulator uses the thread number, so ties go to the lower thread as docs/isa.md
 * requires), then push order, so a simulation never depends on heap internals. The simulator advances time by
 * popping the next event instead of ticking every cycle of every core.
 */
#ifndef FLOE_SIM_EVENT_QUEUE_H
#define FLOE_SIM_EVENT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_event {
    uint64_t time;   /* cycle at which the event fires */
    uint32_t prio;   /* tie-break at equal time: lower first */
    uint64_t seq;    /* push order: the last tie-break */
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
/* The same with a priority (floe_eq_push uses 0). */
int floe_eq_push_prio(floe_event_queue *q, uint64_t time, uint32_t prio, uint32_t kind, uint32_t target,
                      uint64_t arg);
/* Removes the earliest event into *out; returns 0, or -1 when empty. */
int floe_eq_pop(floe_event_queue *q, floe_event *out);
static inline size_t floe_eq_size(const floe_event_queue *q) { return q->len; }

#ifdef __cplusplus
}
#endif

#endif
