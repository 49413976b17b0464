/* The area proxy of design-space exploration (docs/explore.md, "The area proxy"): a chip's silicon
 * area estimated from its machine description (core SRAM and frame buffer, MAC units, vector and
 * lookup lanes, SRAM port width, NoC link widths, cores) and an area table of mm^2 per unit, loaded
 * from a key,value[,comment] CSV (configs/area-northpole.csv; format in isa/machine_csv.h). The table
 * states where each figure comes from; configs/area-northpole.csv lands the NorthPole machine near its
 * published 800 mm^2 die at 12 nm.
 *
 * Units: mm^2, bytes, MiB = 2^20 bytes. */
#ifndef FLOE_EXPLORE_AREA_H
#define FLOE_EXPLORE_AREA_H

#include <stddef.h>

#include "common/error.h"
#include "isa/machine.h"
#include "isa/machine_csv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* As in the file: mm^2 per unit at the target process. */
typedef struct floe_area_table {
    double sram_mm2_per_mib;       /* core memory and frame buffer, per MiB (bit cells and periphery) */
    double sram_port_mm2_per_byte; /* per byte per cycle of a core's SRAM port (banks, sense amps, muxes) */
    double mac_mm2;                /* one int8 x int8 MAC with its accumulator */
    double vector_lane_mm2;        /* one 16-bit vector op per cycle */
    double afu_lane_mm2;           /* one lookup (activation-function) op per cycle */
    double noc_mm2_per_link_bit;   /* per core, per bit of one network's link width (router, buffers, wires) */
    double core_overhead_mm2;      /* per core: control, instruction buffer, threads, clock and power grid */
    double chip_overhead_mm2;      /* per chip: PCIe, I/O ring, clocking, frame-buffer control */
} floe_area_table;

/* A chip's area by category, mm^2. */
typedef struct floe_area {
    double sram_mm2, sram_port_mm2, mac_mm2, vector_mm2, afu_mm2, noc_mm2, core_overhead_mm2, chip_overhead_mm2;
    double chip_mm2;  /* their sum */
    double macs_int8; /* int8-equivalent MAC units per core (below) */
} floe_area;

/* Loads and validates an area table: every key once, each a finite value in its range. Returns 0, or
 * -1 with err naming file:line:key. */
int floe_area_table_load(const char *path, floe_area_table *t, floe_err *err);
int floe_area_table_parse(const char *name, const char *text, size_t len, floe_area_table *t, floe_err *err);
const floe_kv_key *floe_area_table_keys(size_t *n);

/* The area of one chip of machine m. The vmm engine is counted in int8-equivalent MACs: the largest
 * over its precision pairs of rate x (weight bits x activation bits) / 64, so an engine that runs int4
 * at twice the int8 rate (bit-sliced) costs no more than its int8 array. */
void floe_area_of(const floe_machine *m, const floe_area_table *t, floe_area *a);

#ifdef __cplusplus
}
#endif

#endif
