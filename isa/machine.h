/* The machine description: every figure of the chip and the system it sits in, loaded from a
 * key,value[,comment] CSV (configs/northpole.csv, configs/small.csv; format in isa/machine_csv.h,
 * every key in docs/machine.md). It is the one source the simulator, the compiler's capacity checks,
 * the energy model and the RTL parameters read; nothing copies these numbers by hand.
 *
 * Conventions: rates are per core per cycle unless the name says otherwise; 1 MAC = 2 ops (a multiply
 * and an add) whenever ops are quoted, as in the usual TOPS figures.
 */
#ifndef FLOE_ISA_MACHINE_H
#define FLOE_ISA_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "isa/machine_csv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Operand precision pairs of the vmm engine: weight (stationary operand) bits, activation bits. */
typedef enum {
    FLOE_PREC_W8A8,
    FLOE_PREC_W4A8,
    FLOE_PREC_W2A8,
    FLOE_PREC_W4A4,
    FLOE_PREC_W2A2,
    FLOE_PREC_W8A16, /* int16 activations (query, softmax probabilities) against 8-bit operands */
    FLOE_PREC_W4A16,
    FLOE_PREC_COUNT
} floe_prec;

/* The four networks on chip (NorthPole's ANoC, PSNoC, MNoC, INoC). */
typedef enum {
    FLOE_NOC_ACT,    /* activations among all cores (2D mesh) */
    FLOE_NOC_PSUM,   /* partial sums between neighbouring cores */
    FLOE_NOC_WEIGHT, /* weights streamed into cores during a layer */
    FLOE_NOC_INSTR,  /* instructions loaded before a layer */
    FLOE_NOC_COUNT
} floe_noc_id;

typedef struct floe_noc {
    uint64_t link_bytes_per_cycle; /* per link, per direction */
    uint64_t hop_cycles;           /* router + wire latency of one hop */
} floe_noc;

typedef struct floe_machine {
    /* chip */
    uint64_t cores_x, cores_y;  /* the 2D grid of cores */
    uint64_t clock_hz;
    uint64_t threads_per_core;
    /* compute, per core per cycle */
    uint64_t vmm_macs_per_cycle[FLOE_PREC_COUNT]; /* indexed by floe_prec */
    uint64_t vector_ops_per_cycle;                /* 16-bit integer elementwise ops */
    uint64_t afu_ops_per_cycle;                   /* activation-function (lookup table) unit */
    /* memory */
    uint64_t core_mem_bytes;              /* SRAM per core: weights, activations, KV cache */
    uint64_t sram_bytes_per_cycle;        /* per core, reads + writes */
    uint64_t framebuffer_bytes;           /* chip-wide I/O buffer */
    uint64_t framebuffer_bytes_per_cycle; /* chip-wide */
    /* pipeline latencies, cycles from issue to result */
    uint64_t vmm_latency_cycles, vector_latency_cycles, afu_latency_cycles, sram_latency_cycles;
    uint64_t recip_latency_cycles, rsqrt_latency_cycles; /* the afu's pipelined divider and root (recip, rsqrt) */
    floe_noc noc[FLOE_NOC_COUNT]; /* indexed by floe_noc_id */
    /* system */
    uint64_t chips_per_card, cards_per_server, servers_per_system;
    uint64_t pcie_bytes_per_s, pcie_latency_ns; /* chip to chip within a server, per direction */
    uint64_t eth_bytes_per_s, eth_latency_ns;   /* between servers, per card, per direction */
} floe_machine;

/* Figures computed from a machine; "chip" figures are for one chip, "system" ones for all chips. */
typedef struct floe_machine_derived {
    uint64_t cores;                          /* per chip */
    uint64_t chips;                          /* in the system */
    double cycle_ns;
    double peak_macs_per_s[FLOE_PREC_COUNT]; /* chip */
    double peak_ops_per_s[FLOE_PREC_COUNT];  /* chip, 2 ops per MAC */
    double system_peak_ops_per_s[FLOE_PREC_COUNT];
    double vector_ops_per_s, afu_ops_per_s;  /* chip */
    uint64_t core_mem_total_bytes;           /* chip: cores * core_mem_bytes */
    uint64_t chip_mem_bytes;                 /* chip: core memory + frame buffer */
    double system_mem_bytes;                 /* double: can exceed 2^64 at the extreme of the ranges */
    double sram_bytes_per_s;                 /* chip: all cores at once */
    double system_sram_bytes_per_s;
    uint64_t mesh_diameter_hops;             /* (cores_x - 1) + (cores_y - 1) */
    uint64_t bisection_links;                /* mesh links cut by the narrowest halving (0 for 1 core) */
    uint64_t noc_bisection_bytes_per_cycle[FLOE_NOC_COUNT]; /* both directions */
    double noc_bisection_bytes_per_s[FLOE_NOC_COUNT];
    uint64_t noc_diameter_cycles[FLOE_NOC_COUNT]; /* corner to corner, no contention */
} floe_machine_derived;

/* Loads and validates a machine description. Returns 0, or -1 with err naming file:line:field. */
int floe_machine_load(const char *path, floe_machine *m, floe_err *err);

/* The same from text in memory (tests, embedded configs); `name` stands for the file name. */
int floe_machine_parse(const char *name, const char *text, size_t len, floe_machine *m, floe_err *err);

/* Writes m as a machine description file (every key, canonical values, unit and meaning as comments),
 * atomically; `comment` (may be NULL) becomes "# " lines at the top. Loading it gives back m. */
int floe_machine_write(const char *path, const floe_machine *m, const char *comment, floe_err *err);

/* Range-checks a machine built in code; returns 0 or -1 with err naming the field. */
int floe_machine_validate(const floe_machine *m, floe_err *err);

/* Stable 64-bit fingerprint of every key's value in the fixed order of floe_machine_keys (FNV-1a, see
 * machine_csv.h): comments, order of lines and spelling of numbers in the file do not change it; any
 * value does. Programs store it so a program built for one machine is refused by another. */
uint64_t floe_machine_fingerprint(const floe_machine *m);

void floe_machine_derive(const floe_machine *m, floe_machine_derived *d);

/* The schema: every key in fingerprint order (for printing, CSV export, RTL parameter generation). */
const floe_kv_key *floe_machine_keys(size_t *n);

const char *floe_prec_name(floe_prec p); /* "w8a8", ... */
/* The rate an instruction's (activation, weight) precision pair runs at (docs/sim.md): xp a
 * floe_xprec, wp a floe_wprec; pairs the machine does not list run at the rate of the nearest listed
 * pair with at least as many bits. */
floe_prec floe_prec_of(int xp, int wp);
const char *floe_noc_name(floe_noc_id n); /* "act", "psum", "weight", "instr" */

#ifdef __cplusplus
}
#endif

#endif
