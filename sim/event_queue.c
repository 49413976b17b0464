#include "sim/event_queue.h"

#include <stdlib.h>

static int before(const floe_event *a, const floe_event *b)
{
    if (a->time != b->time)
        return a->time < b->time;
    if (a->prio != b->prio)
        return a->prio < b->prio;
    return a->seq < b->seq;
}

void floe_eq_init(floe_event_queue *q)
{
    q->heap = NULL;
    q->len = q->cap = 0;
    q->next_seq = 0;
}

void floe_eq_free(floe_event_queue *q)
{
    free(q->heap);
    floe_eq_init(q);
}

int floe_eq_push(floe_event_queue *q, uint64_t time, uint32_t kind, uint32_t target, uint64_t arg)
{
    return floe_eq_push_prio(q, time, 0, kind, target, arg);
}

int floe_eq_push_prio(floe_event_queue *q, uint64_t time, uint32_t prio, uint32_t kind, uint32_t target,
                      uint64_t arg)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        floe_event *h = realloc(q->heap, cap * sizeof *h);
        if (!h)
            return -1;
        q->heap = h;
        q->cap = cap;
    }
    floe_event e = {time, prio, q->next_seq++, kind, target, arg};
    size_t i = q->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = e;
    return 0;
}

int floe_eq_pop(floe_event_queue *q, floe_event *out)
{
    if (q->len == 0)
        return -1;
    *out = q->heap[0];
    floe_event last = q->heap[--q->len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->len)
            break;
        if (c + 1 < q->len && before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!before(&q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (q->len)
        q->heap[i] = last;
    return 0;
}
