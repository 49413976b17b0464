/* Plots of simulator profiles (`floe plot`): per-region (layer) latency and energy breakdown from a
 * region CSV, and a heat map of one unit's utilisation over the core grid from a core CSV. */
#ifndef FLOE_SIM_PROFILE_PLOT_H
#define FLOE_SIM_PROFILE_PLOT_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of CSV `floe plot` recognises by their header. */
typedef enum { FLOE_CSV_UNKNOWN, FLOE_CSV_REGIONS, FLOE_CSV_CORES } floe_profile_kind;

floe_profile_kind floe_profile_kind_of(const char *header_line);

int floe_plot_regions(const char *csv, const char *png, floe_err *err);
/* unit: "vmm", "vector", "afu", "mem" or "noc". */
int floe_plot_core_heatmap(const char *csv, const char *png, const char *unit, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
