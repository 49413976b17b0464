/* One point of a sweep (explore/sweep.h) made concrete: its machine, energy table, model shape,
 * widths and load, a digest that keys its results, and the figures either tier prices it at. */
#ifndef FLOE_EXPLORE_POINT_H
#define FLOE_EXPLORE_POINT_H

#include <stdint.h>

#include "common/error.h"
#include "explore/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_explore_point {
    uint64_t index;
    floe_machine machine;
    floe_energy_table energy;
    int has_energy;
    floe_model_config model;
    floe_qconfig q;
    int context;      /* KV-cache positions per user (default: the model's context) */
    int users;        /* > 0: that many; -1: every cache that fits (default 1) */
    int prompt;       /* 0: the simulator's default */
    int decode_steps; /* 0: the simulator's default */
    uint64_t digest;  /* of everything above that prices the point, and of the tier */
} floe_explore_point;

/* Builds point p of s. A point the machine's checks refuse (a combination of values out of range) is
 * -1 with err naming the point's values. */
int floe_explore_point_make(const floe_sweep *s, uint64_t p, floe_explore_point *pt, floe_err *err);

/* The figures of a point (NaN where a tier or a table does not give one). */
typedef struct floe_explore_figures {
    int fits;
    int chips, cards, users_served;
    uint64_t cores, mem_high_water; /* cores in use; bytes of the fullest core */
    double latency_us;              /* one decode token, one user */
    double prefill_us_per_token;
    double tokens_per_s;                 /* decode throughput with users_served users */
    double energy_uj_per_token, power_w; /* power: every card's */
    double area_mm2;                     /* the chips' silicon (explore/area.h) */
    double ppl;                          /* validation perplexity of the point's quantized model */
} floe_explore_figures;

/* All NaN / 0: nothing priced. */
floe_explore_figures floe_explore_figures_none(void);

/* A figure by its column name (sweep.h's constraint names); NaN when unknown. An axis's value is read
 * from the sweep (numbers only). */
double floe_explore_figure(const floe_explore_figures *f, const char *name);
int floe_explore_figure_known(const char *name);
/* Sets a figure by name (integers saturate; NaN leaves them 0); an unknown name changes nothing. */
void floe_explore_figure_set(floe_explore_figures *f, const char *name, double v);
/* The i-th figure's column name (0 ..), NULL past the last: the order of explore.csv's columns. */
const char *floe_explore_figure_name(int i);

#ifdef __cplusplus
}
#endif

#endif
