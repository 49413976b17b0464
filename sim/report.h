/* Reports of a simulated run (docs/sim.md, "Output"): a text summary, per-core and per-region
 * (layer) CSV profiles. All files are written atomically. */
#ifndef FLOE_SIM_REPORT_H
#define FLOE_SIM_REPORT_H

#include <stdio.h>

#include "sim/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Totals: cycles, time, instructions, energy by category, unit utilisation, memory, host speed. */
void floe_sim_print_summary(const floe_sim *s, FILE *out);

/* One row per core: x, y, finish cycle, busy cycles and utilisation per unit, actions, energy. */
int floe_sim_write_core_csv(const floe_sim *s, const char *path, floe_err *err);

/* One row per region (code label): cores, instructions, first/last cycle, span, busy cycles per
 * unit, MACs, energy by category. */
int floe_sim_write_region_csv(const floe_sim *s, const char *path, floe_err *err);

/* Utilisation of a unit over the run: busy cycles / (cycles x cores that have code). */
double floe_sim_unit_utilisation(const floe_sim *s, floe_unit u);

#ifdef __cplusplus
}
#endif

#endif
