/* The outputs of a sweep (explore/explore.h): OUT/explore.csv, OUT/front-<x>-<y>.png (the first
 * objective against each other one: the points within the constraints, the front highlighted) and
 * OUT/report.html (self-contained: the plots inline and every point in a table sorted by a click).
 * Each written atomically. */
#ifndef FLOE_EXPLORE_EXPLORE_OUTPUT_H
#define FLOE_EXPLORE_EXPLORE_OUTPUT_H

#include <stdint.h>

#include "common/error.h"
#include "explore/pareto.h"
#include "explore/point.h"
#include "explore/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

int floe_explore_write_outputs(const floe_sweep *s, const floe_explore_point *pts, const floe_explore_result *res,
                               uint64_t n, const char *dir, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
