/* The chip simulator: runs a program (isa/program.h) on a machine description and reports what it
 * computed (bit-exact, docs/numerics.md) and what it cost (cycles, energy, utilisation, memory).
 *
 * Event-driven (docs/sim.md): each core thread is an in-order instruction stream; an instruction
 * reserves its unit first come, first served, and time jumps from event to event, so the cost of a
 * simulation grows with the instructions executed, not with cycles times cores.
 *
 * Ownership: floe_sim owns every core's memory, the frame buffer and all statistics. The program
 * passed to floe_sim_load must outlive floe_sim_run (its code is read, not copied).
 */
#ifndef FLOE_SIM_SIM_H
#define FLOE_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "isa/opcodes.h"
#include "isa/program.h"
#include "sim/energy.h"
#include "sim/memory.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_ACCUMULATORS (1u << FLOE_ACC_INDEX_BITS) /* per core: what the ACC operand can index */

typedef struct floe_sim floe_sim;

typedef struct floe_sim_options {
    int strict;                /* reads of uninitialised memory are errors (default: counted) */
    const char *trace_path;    /* Chrome trace JSON to write, or NULL */
    uint64_t trace_max_events; /* 0: no limit */
    uint64_t max_cycles;       /* stop with an error past this simulated cycle (0: no limit) */
} floe_sim_options;

typedef struct floe_core_stats {
    unsigned x, y;
    uint64_t insns;                     /* instructions executed (loop bodies counted per iteration) */
    uint64_t finish_cycle;              /* when its last thread finished */
    uint64_t busy[FLOE_UNIT_COUNT];     /* cycles each unit was occupied */
    uint64_t sram_bytes[FLOE_UNIT_COUNT]; /* core-memory bytes read + written by each unit's instructions */
    floe_actions actions;               /* for energy */
    uint64_t mem_high_water;            /* bytes */
} floe_core_stats;

typedef struct floe_region_stats {
    char name[FLOE_NAME_MAX + 1];       /* a code label; "(none)" before the first label */
    uint64_t cores;                     /* cores that executed it */
    uint64_t insns;
    uint64_t busy[FLOE_UNIT_COUNT];
    uint64_t first_cycle, last_cycle;   /* earliest start, latest end of its instructions */
    floe_actions actions;
} floe_region_stats;

typedef struct floe_sim_result {
    uint64_t cycles;                    /* when the last core finished */
    double seconds;                     /* cycles at the machine's clock */
    uint64_t instructions;
    uint64_t events;
    uint64_t load_cycles;               /* instruction loading before the first instruction */
    floe_actions actions;               /* all cores, networks and links */
    int have_energy;
    floe_energy_breakdown energy;
    uint64_t uninit_reads;              /* reads that touched never-written bytes (all memories) */
    uint64_t mem_high_water_max;        /* bytes, the fullest core */
    double host_seconds;                /* wall time of floe_sim_run */
} floe_sim_result;

/* A simulator for machine m; e (may be NULL) prices actions in joules. Refuses (-1, the bytes stated)
 * a machine whose memories this process cannot map: more than the address-space limit leaves (the
 * limit less what the process maps now), or than 128 TiB without a limit; checked before any is mapped. */
int floe_sim_new(floe_sim **out, const floe_machine *m, const floe_energy_table *e, floe_err *err);
void floe_sim_free(floe_sim *s);

/* Loads a program: refuses one built for another machine (fingerprint), code on cores outside the
 * grid, images that do not fit a memory (naming the core and the bytes short), and invalid streams. */
int floe_sim_load(floe_sim *s, const floe_program *p, floe_err *err);

/* Runs to completion. A fault (an address outside memory, a bad operand, a neighbour off the grid)
 * or a deadlock (a receive or wait nothing will satisfy) is an error naming the cores and threads
 * involved; the simulation never hangs. */
int floe_sim_run(floe_sim *s, const floe_sim_options *o, floe_err *err);

/* A core's memory, or the frame buffer for (FLOE_FB, FLOE_FB); NULL outside the grid. Use it to
 * write inputs before floe_sim_run and read outputs after. */
floe_memory *floe_sim_memory(floe_sim *s, unsigned x, unsigned y);
/* A core's accumulator file (FLOE_ACCUMULATORS int32), or NULL. */
int32_t *floe_sim_accumulators(floe_sim *s, unsigned x, unsigned y);

const floe_sim_result *floe_sim_result_get(const floe_sim *s);
/* Per-core statistics for every core of the grid, in (y, x) order. */
const floe_core_stats *floe_sim_core_stats(const floe_sim *s, size_t *n);
/* Per-region (code label) statistics, aggregated over cores by label name, in first-seen order. */
const floe_region_stats *floe_sim_region_stats(const floe_sim *s, size_t *n);
const floe_machine *floe_sim_machine(const floe_sim *s);

/* Cycles after an instruction's unit work (its busy time) before the thread may issue its next
 * instruction: the pipeline latency of its unit (vmm, vector, afu, sram), or of the afu's
 * pipelined divider for recip and root for rsqrt (docs/sim.md "Timing"). */
uint64_t floe_sim_latency(const floe_machine *m, int op);
/* Cycles from an instruction's start until its thread may issue the next: busy (its unit's
 * occupancy: max(compute, SRAM port cycles)) + latency, except for the deep pipelines of recip and
 * rsqrt, which overlap their operand reads: max(busy, latency + max(compute, result write
 * cycles)). compute: the unit's own cycles; write_bytes: the bytes the instruction writes. */
uint64_t floe_sim_done(const floe_machine *m, int op, uint64_t busy, uint64_t compute, uint64_t write_bytes);

#ifdef __cplusplus
}
#endif

#endif
