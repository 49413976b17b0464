/* Energy of a simulated run: action counts times per-action energies (docs/sim.md, "Energy").
 *
 * The simulator counts actions per core (MACs by precision pair, vector and lookup ops, SRAM bytes,
 * frame-buffer bytes, NoC byte-hops per network, chip-link bytes); the energy is those counts times
 * the target-process costs of the energy table (isa/energy_table.h, floe_energy_cost), plus static
 * power over the run's duration.
 */
#ifndef FLOE_SIM_ENERGY_H
#define FLOE_SIM_ENERGY_H

#include <stdint.h>
#include <stdio.h>

#include "isa/energy_table.h"
#include "isa/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_actions {
    uint64_t macs[FLOE_PREC_COUNT];
    uint64_t vector_ops, afu_ops;
    uint64_t sram_read_bytes, sram_write_bytes;
    uint64_t framebuffer_bytes;
    uint64_t noc_byte_hops[FLOE_NOC_COUNT];
    uint64_t pcie_bytes, eth_bytes;
} floe_actions;

typedef struct floe_energy_breakdown {
    double mac_j, vector_j, afu_j, sram_j, framebuffer_j, noc_j, link_j; /* dynamic */
    double static_j;
    double total_j;
} floe_energy_breakdown;

/* dst += src, field by field. */
void floe_actions_add(floe_actions *dst, const floe_actions *src);

/* dst = a1 + (n - 1) (a2 - a1), field by field, never below 0: the counts of a model of n layers
 * composed from runs of the same shape with one and with two (floe deploy-check). */
void floe_actions_compose(floe_actions *dst, const floe_actions *a1, const floe_actions *a2, int n);

/* One CSV row per action kind, `<label>,<action>,<unit>,<count>,<pj_each>,<energy_j>`: the kinds named
 * as the energy table's keys (mac_w8a8 .. mac_w4a16, vector_op, lut_op, sram_read, sram_write,
 * framebuffer, noc_act .. noc_instr, pcie, eth), pj_each at the target process. The caller writes the
 * header. */
void floe_actions_csv_rows(FILE *f, const char *label, const floe_actions *a, const floe_energy_cost *c);

/* Energy of `a` on `chips` chips of `cores` cores each, running for `seconds`. */
void floe_energy_of(const floe_actions *a, const floe_energy_cost *c, double seconds, uint64_t cores,
                    uint64_t chips, floe_energy_breakdown *out);

#ifdef __cplusplus
}
#endif

#endif
