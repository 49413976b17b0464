/* Which points of a sweep count (docs/explore.md): those whose figures satisfy the sweep's
 * constraints, and among them the Pareto front over the sweep's objectives. */
#ifndef FLOE_EXPLORE_PARETO_H
#define FLOE_EXPLORE_PARETO_H

#include <stdint.h>

#include "explore/point.h"
#include "explore/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A point's outcome as reported. */
typedef struct floe_explore_result {
    floe_explore_figures figures;
    int tier;     /* floe_sweep_tier that priced it; -1: not priced (status says why) */
    char *status; /* "ok", "does not fit: ...", or the error (owned) */
    int within;   /* priced, fits, and every constraint holds */
    int front;    /* within, and no other such point is at least as good in every objective and better
                     in one */
} floe_explore_result;

/* The objectives of s (its own, or the default for what its figures hold); returns their count. */
int floe_explore_objectives(const floe_sweep *s, const floe_explore_result *res, uint64_t n, const char *names[8]);
/* 1 when a figure is better larger (tokens_per_s, users_served). */
int floe_explore_maximised(const char *figure);

/* Sets within and front for res[0..n). */
void floe_explore_select(const floe_sweep *s, floe_explore_result *res, uint64_t n);

/* A point's value of a constraint's name: a figure, or the point's value of that axis. */
double floe_explore_value(const floe_sweep *s, const floe_explore_result *r, uint64_t p, const char *name);

#ifdef __cplusplus
}
#endif

#endif
