/* Multi-chip systems (docs/sim.md, "Systems"): chips on cards in servers, joined by PCIe-like links
 * inside a server and Ethernet-like links between servers, and a pipeline of chip programs (one
 * stage per chip) run over them.
 *
 * Topology from the machine description: chip c is on card c / chips_per_card, in server
 * card / cards_per_server. A transfer inside a server occupies the source card's outbound PCIe link
 * and the destination card's inbound link (pcie_bytes_per_s each way, pcie_latency_ns); between
 * servers, each card's Ethernet port (eth_bytes_per_s, eth_latency_ns). Links are reserved first
 * come, first served; times are integer picoseconds, so results are exact and deterministic.
 *
 * Schedules on a chip are fixed at compile time (no data-dependent timing), so a stage's time does
 * not depend on its data: one functional pass through the stages gives every stage's time, and the
 * pipeline of many users (independent sequences) is timed from those. */
#ifndef FLOE_SIM_SYSTEM_H
#define FLOE_SIM_SYSTEM_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "isa/program.h"
#include "sim/energy.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_links {
    const floe_machine *m;      /* not owned */
    uint64_t chips;
    uint64_t *pcie_out, *pcie_in, *eth_out, *eth_in; /* per card: picosecond each link is next free; owned */
    uint64_t pcie_bytes, eth_bytes;
} floe_links;

int floe_links_init(floe_links *l, const floe_machine *m, floe_err *err);
void floe_links_free(floe_links *l);
/* Moves `bytes` from chip a to chip b, ready at `t_ps`; returns the arrival time (ps). a == b: t_ps. */
uint64_t floe_links_transfer(floe_links *l, uint64_t a, uint64_t b, uint64_t bytes, uint64_t t_ps);
/* A transfer of `bytes` from chip a to chip b on idle links: returns the picoseconds it occupies them
 * (bytes / bandwidth, rounded up) and sets *latency_ps (may be NULL) to the latency on top (the
 * arrival is latency + occupancy after the start). a == b: 0 and 0. */
uint64_t floe_links_wire_ps(const floe_machine *m, uint64_t a, uint64_t b, uint64_t bytes, uint64_t *latency_ps);

/* One pipeline stage: a program for one chip, where its input goes and where its output is read. */
typedef struct floe_stage {
    const floe_program *prog;
    unsigned in_x, in_y;   /* region "x" of this core receives the input */
    unsigned out_x, out_y; /* region `out_region` of this core holds the output */
    const char *out_region;
} floe_stage;

typedef struct floe_system_result {
    int stages, stages_run;
    uint64_t *stage_cycles;       /* [stages]; owned */
    uint64_t *transfer_ps;        /* [stages]: the hand-off into stage s (0 for the first); owned */
    double latency_s;             /* one user: first stage start to last stage end, transfers included */
    double interval_s;            /* steady state: time between users finishing */
    double users_per_s;           /* 1 / interval */
    double energy_per_user_j;     /* chips (dynamic + static over their busy time) and links */
    floe_actions actions;         /* one user, all chips and links */
} floe_system_result;

/* Runs `input` (bytes into region "x" of stage 0) through the stages; writes the last stage's output
 * region into `output` (out_bytes). Times a pipeline of `users` users. Stage s runs on chip s. */
typedef void (*floe_stage_fn)(void *ctx, int stage, const uint8_t *out, size_t n);

int floe_system_pipeline(const floe_machine *m, const floe_energy_table *e, const floe_stage *stages, int n_stages,
                         const void *input, size_t in_bytes, void *output, size_t out_bytes, int users,
                         floe_system_result *res, floe_err *err);
/* The same, calling on_stage (may be NULL) with every stage's output as it is handed on. */
int floe_system_pipeline_cb(const floe_machine *m, const floe_energy_table *e, const floe_stage *stages, int n_stages,
                            const void *input, size_t in_bytes, void *output, size_t out_bytes, int users,
                            floe_stage_fn on_stage, void *ctx, floe_system_result *res, floe_err *err);
void floe_system_result_free(floe_system_result *res);

#ifdef __cplusplus
}
#endif

#endif
