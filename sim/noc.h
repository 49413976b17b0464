/* A network on chip: a 2-D mesh of cores with dimension-ordered (XY) routing (docs/sim.md).
 *
 * Each core has four outgoing links (east, west, north, south) to its neighbours. A message of B
 * bytes crossing a link of width W bytes/cycle occupies it for S = ceil(B / W) cycles. Timing is
 * cut-through: the head reaches hop i at
 *     t_i = max(t_(i-1) + hop_latency, free_at(link_i)),   t_0 = max(send time, free_at(link_1))
 * and the link is then busy until t_i + S; the message has arrived when its tail leaves the last
 * link, at t_h + S. Contention is first come, first served in the order the simulator issues
 * transfers (which is deterministic); a blocked downstream link does not back-pressure upstream
 * links (an optimistic simplification, stated in docs/sim.md). Multicast follows the XY tree: a link
 * shared by several destinations is crossed once.
 *
 * The chip has several such networks (activations, partial sums, weights, instructions), each a
 * floe_noc_model with its own width and latency.
 */
#ifndef FLOE_SIM_NOC_H
#define FLOE_SIM_NOC_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FLOE_NOC_E = 0, FLOE_NOC_W = 1, FLOE_NOC_N = 2, FLOE_NOC_S = 3 };

typedef struct floe_noc_link_stats {
    uint64_t bytes;       /* bytes that crossed the link */
    uint64_t busy_cycles; /* cycles the link was occupied */
} floe_noc_link_stats;

typedef struct floe_noc_model {
    const char *name;       /* "activation", "psum", ... (not owned) */
    int cols, rows;         /* mesh size: core id = y * cols + x */
    uint32_t width;         /* bytes per cycle per link */
    uint32_t hop_latency;   /* cycles per hop for the head of a message */
    uint64_t *free_at;      /* [cores * 4]: cycle each link is next free; owned */
    floe_noc_link_stats *links; /* [cores * 4]; owned */
    uint64_t messages, byte_hops;
} floe_noc_model;

int floe_noc_init(floe_noc_model *noc, const char *name, int cols, int rows, uint32_t width, uint32_t hop_latency,
                  floe_err *err);
void floe_noc_free(floe_noc_model *noc);
/* Forgets all reservations and statistics. */
void floe_noc_reset(floe_noc_model *noc);

/* Number of hops from src to dst (Manhattan distance). */
int floe_noc_hops(const floe_noc_model *noc, int src, int dst);

/* Sends `bytes` from src to dst starting no earlier than cycle t; reserves the links and returns the
 * cycle at which the whole message has arrived. src == dst costs nothing (returns t). */
uint64_t floe_noc_send(floe_noc_model *noc, int src, int dst, uint64_t bytes, uint64_t t);

/* Multicast along the XY tree to n destinations; arrival[i] receives each destination's arrival
 * cycle. Returns the latest arrival. */
uint64_t floe_noc_multicast(floe_noc_model *noc, int src, const int *dst, size_t n, uint64_t bytes, uint64_t t,
                            uint64_t *arrival);

/* Bisection bandwidth in bytes/cycle (links crossing the middle cut, both directions). */
uint64_t floe_noc_bisection_bytes_per_cycle(const floe_noc_model *noc);

#ifdef __cplusplus
}
#endif

#endif
