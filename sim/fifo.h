/* A byte FIFO whose bytes arrive at known cycles: a receive queue of the activation or partial-sum
 * network (one per source core and channel). Senders append chunks stamped with their arrival cycle;
 * a receiver takes bytes in order and learns when the last of them arrived. */
#ifndef FLOE_SIM_FIFO_H
#define FLOE_SIM_FIFO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_fifo_chunk {
    uint8_t *data;    /* owned */
    uint64_t len, off; /* bytes in the chunk; bytes already taken */
    uint64_t arrival; /* cycle at which the whole chunk has arrived */
} floe_fifo_chunk;

typedef struct floe_fifo {
    floe_fifo_chunk *chunks; /* ring of chunks; owned */
    size_t head, count, cap;
    uint64_t bytes;          /* bytes present (not yet taken) */
} floe_fifo;

void floe_fifo_init(floe_fifo *f);
void floe_fifo_free(floe_fifo *f);
/* Appends a copy of len bytes arriving at cycle `arrival`. Returns 0 or -1 (out of memory). */
int floe_fifo_push(floe_fifo *f, const void *data, uint64_t len, uint64_t arrival);
/* Takes n <= f->bytes bytes into out; returns the latest arrival cycle among them. */
uint64_t floe_fifo_take(floe_fifo *f, void *out, uint64_t n);

#ifdef __cplusplus
}
#endif

#endif
