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
 * Chips (place, optional): each choice also places one or two parts of cores on chips, in group order
 * and then a fixed tail, by next fit (floe_plan_next_fit, the compiler's rule); a solution's chips
 * are those of its placement. Chips are not a sum, so the placement state (chip index, cores used on
 * it) is carried as a resource of its own: a partial solution is dominated only by one that also has
 * a placement state no greater (chip first, then cores), and dropped when even the fewest chips any
 * completion reaches (an exact table over the cores used, computed backwards) exceed max_chips.
 * Because next fit with the order fixed is monotone in the state (proved in mck.c), a dominated
 * partial solution cannot complete to anything better than its dominator: the result stays exact.
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

#define FLOE_MCK_MAX_PARTS 2

typedef struct floe_mck_place {
    int per_chip;     /* cores per chip (> 0) */
    const int *cores; /* [n*k*FLOE_MCK_MAX_PARTS]: the cores of each part choice j of group i places, in
                         order (0: no such part; each at most per_chip); a first part < 0: the choice
                         cannot be placed and is never chosen (borrowed) */
    const int *tail;  /* [n_tail] parts placed after the last group (the LM head's slices; borrowed) */
    int n_tail;
    int max_chips; /* > 0: at most this many chips */
} floe_mck_place;

typedef struct floe_mck {
    int n, k, R;                         /* groups, choices per group, resources (1..FLOE_MCK_MAX_RES) */
    const double *v;                     /* [n*k] values (borrowed) */
    const double *c;                     /* [n*k*R] costs (borrowed) */
    double fixed[FLOE_MCK_MAX_RES];      /* added to every solution */
    double budget[FLOE_MCK_MAX_RES];     /* INFINITY: none */
    const char *names[FLOE_MCK_MAX_RES]; /* resource names for errors ("latency_us", ...) */
    size_t max_states;                   /* 0: 1 << 20 */
    const floe_mck_place *place;         /* NULL: no chips (borrowed) */
} floe_mck;

typedef struct floe_mck_result {
    double value;                  /* the optimal total value */
    double cost[FLOE_MCK_MAX_RES]; /* its total cost, fixed part included */
    size_t states;                 /* the largest state set met (for reports) */
    int chips;                     /* with place: the chips of its placement (else 0) */
} floe_mck_result;

/* Fills choice[n] (indices 0..k-1) with an optimal feasible solution. Returns 0, or -1 with err. */
int floe_mck_solve(const floe_mck *p, int *choice, floe_mck_result *res, floe_err *err);

/* The smallest achievable total of resource r (fixed part included, other budgets ignored). */
double floe_mck_min_cost(const floe_mck *p, int r);

/* With p->place: the fewest chips any solution's placement takes (other budgets ignored); 0 when no
 * solution can be placed, -1 on bad sizes or out of memory. */
int floe_mck_min_chips(const floe_mck *p);

/* The chips of choice[n]'s placement under pl (n groups of k choices); 0 when a choice cannot be
 * placed. */
int floe_mck_chips_of(const floe_mck_place *pl, int n, int k, const int *choice);

#ifdef __cplusplus
}
#endif

#endif
