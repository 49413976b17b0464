/* The exact solver behind `floe design` (docs/design-choice.md): a multiple-choice knapsack with up
 * to FLOE_MCK_MAX_RES resources. n groups (decoder layers), k choices each (weight widths); choice j
 * of group i has a value v[i*k + j] (a sensitivity, to be minimised; any sign) and a cost
 * c[(i*k + j)*R + r] >= 0 of each resource r; fixed[r] is added to every solution's cost. A solution
 * picks one choice per group; it is feasible when its total cost of every resource r is within
 * budget[r] (INFINITY: no budget on r).
 *
 * Method: dynamic programming over the groups on the set of Pareto-optimal partial solutions (cost
 * vector, value): a partial solution dominated by another (no more of any cost, no more value) cannot
 * complete to a better solution than that one, and one that cannot stay within a budget even with the
 * cheapest choices of the remaining groups is dropped. What remains holds an optimal solution, so the
 * result is exact (costs compared in double, no rounding to units); the number of states is bounded
 * by the distinct cost vectors, small when groups have alike costs (as layers do). Ties go to the
 * partial solution found first (groups in order, choices in order), so the answer is deterministic.
 * With one or two resources the dominance rule runs as a sorted sweep (n log n; two with a Fenwick
 * tree of prefix minima: per-linear choices have up to hundreds of choices per group); with three it
 * compares pairs, and refuses more than 40,000 partial solutions at a group rather than take hours.
 *
 * Errors: -1 with err set, naming the smallest achievable total of each over-budget resource (or,
 * budgets that are each achievable but not together, that they contradict); bad sizes; more than
 * max_states states at a group (then no inexact answer is given). */
#ifndef FLOE_DESIGN_MCK_H
#define FLOE_DESIGN_MCK_H

#include <stddef.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_MCK_MAX_RES 3

typedef struct floe_mck {
    int n, k, R;                         /* groups, choices per group, resources (1..FLOE_MCK_MAX_RES) */
    const double *v;                     /* [n*k] values (borrowed) */
    const double *c;                     /* [n*k*R] costs (borrowed) */
    double fixed[FLOE_MCK_MAX_RES];      /* added to every solution */
    double budget[FLOE_MCK_MAX_RES];     /* INFINITY: none */
    const char *names[FLOE_MCK_MAX_RES]; /* resource names for errors ("latency_us", ...) */
    size_t max_states;                   /* 0: 1 << 20 */
} floe_mck;

typedef struct floe_mck_result {
    double value;                  /* the optimal total value */
    double cost[FLOE_MCK_MAX_RES]; /* its total cost, fixed part included */
    size_t states;                 /* the largest state set met (for reports) */
} floe_mck_result;

/* Fills choice[n] (indices 0..k-1) with an optimal feasible solution. Returns 0, or -1 with err. */
int floe_mck_solve(const floe_mck *p, int *choice, floe_mck_result *res, floe_err *err);

/* The smallest achievable total of resource r (fixed part included, other budgets ignored). */
double floe_mck_min_cost(const floe_mck *p, int r);

#ifdef __cplusplus
}
#endif

#endif
