/* The energy table: per-action energies the energy model multiplies by action counts, loaded from a
 * key,value[,comment] CSV (configs/energy-northpole.csv; format in isa/machine_csv.h, keys in
 * docs/machine.md). It lives in isa/ next to the machine description because the simulator, the
 * compiler's reports and the CLI all read it; nothing in it is simulator-specific.
 *
 * The file states dynamic energies at a reference process (Horowitz's 45 nm figures, ISSCC 2014)
 * and two scale factors to the target process, so a study changes one number, not every line:
 *   logic_scale multiplies MAC, vector, LUT, SRAM and frame buffer energies,
 *   wire_scale  multiplies NoC energies (wire energy scales with V^2, not with feature size).
 * Chip-to-chip link energies and static power are given at the target directly.
 * floe_energy_costs() applies the scales; the energy model uses only its result.
 */
#ifndef FLOE_ISA_ENERGY_TABLE_H
#define FLOE_ISA_ENERGY_TABLE_H

#include <stdint.h>

#include "common/error.h"
#include "isa/machine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* As in the file. */
typedef struct floe_energy_table {
    double logic_scale, wire_scale;        /* reference process -> target, dimensionless */
    double mac_pj[FLOE_PREC_COUNT];        /* one vmm MAC incl. accumulation, indexed by floe_prec */
    double vector_op_pj, afu_op_pj;        /* one vector-unit op; one lookup (with interpolation) */
    double sram_read_pj_per_byte, sram_write_pj_per_byte; /* core SRAM */
    double framebuffer_pj_per_byte;        /* frame buffer read or write */
    double noc_pj_per_byte_hop[FLOE_NOC_COUNT]; /* indexed by floe_noc_id */
    double pcie_pj_per_byte, eth_pj_per_byte;   /* target process, end to end */
    double static_mw_per_core, static_mw_per_chip; /* leakage and always-on logic at the target */
} floe_energy_table;

/* At the target process, scales applied: what the energy model multiplies counts by. */
typedef struct floe_energy_cost {
    double mac_pj[FLOE_PREC_COUNT];
    double vector_op_pj, afu_op_pj;
    double sram_read_pj_per_byte, sram_write_pj_per_byte;
    double framebuffer_pj_per_byte;
    double noc_pj_per_byte_hop[FLOE_NOC_COUNT];
    double pcie_pj_per_byte, eth_pj_per_byte;
    double static_w_per_core, static_w_per_chip;
} floe_energy_cost;

/* Loads and validates an energy table. Returns 0, or -1 with err naming file:line:field. */
int floe_energy_table_load(const char *path, floe_energy_table *e, floe_err *err);
int floe_energy_table_parse(const char *name, const char *text, size_t len, floe_energy_table *e, floe_err *err);
int floe_energy_table_write(const char *path, const floe_energy_table *e, const char *comment, floe_err *err);
int floe_energy_table_validate(const floe_energy_table *e, floe_err *err);

/* Same definition as floe_machine_fingerprint, over the energy keys (domain "floe-energy-v1"). */
uint64_t floe_energy_table_fingerprint(const floe_energy_table *e);

void floe_energy_costs(const floe_energy_table *e, floe_energy_cost *c);

/* Static power of one chip of machine m, in W: cores * per-core + per-chip. */
double floe_energy_static_w(const floe_energy_cost *c, const floe_machine *m);

/* Dynamic power, in W, of one chip running precision p's vmm at its peak rate on every core with the
 * core SRAM read at full bandwidth: an upper bound used as a sanity figure. */
double floe_energy_peak_vmm_w(const floe_energy_cost *c, const floe_machine *m, floe_prec p);

const floe_kv_key *floe_energy_table_keys(size_t *n);

#ifdef __cplusplus
}
#endif

#endif
