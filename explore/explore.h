/* Design-space exploration (docs/explore.md; `floe explore`): every point of a sweep priced by the
 * analytical tier (explore/cost_model.h) or the simulator (verify/deploy_check.h), the Pareto front
 * of the points within the constraints re-priced by the simulator, and the results as one CSV, front
 * plots and an HTML report.
 *
 * Points run in worker processes (one fork each, `jobs` at a time), so a point that crashes or is
 * killed is recorded with its error and the sweep goes on. Every finished point is appended to
 * OUT/points.journal at once (one line, keyed by the point's digest and tier): a sweep killed midway
 * and run again prices only what is missing. Under MPI (a transport), rank r takes the points
 * i = r (mod size) and sends their rows to rank 0, which alone writes files: the CSV is the same as
 * a single process's, byte for byte.
 *
 * Outputs (rank 0): OUT/explore.csv (one row per point in point order: every key of the sweep, the
 * figures, the tier that priced them, within (the constraints hold), front (on the Pareto front) and
 * status ("ok", "does not fit: ...", or the error)), OUT/front-<x>-<y>.png for pairs of objectives,
 * OUT/report.html (self-contained: plots and a sortable table). All written atomically. */
#ifndef FLOE_EXPLORE_EXPLORE_H
#define FLOE_EXPLORE_EXPLORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "explore/point.h"
#include "explore/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the processes of an MPI run talk (explore/explore_mpi.h makes one); NULL: one process. */
typedef struct floe_explore_transport {
    int rank, size;
    void *ctx;
    /* rank > 0: a finished point's journal line to rank 0 */
    int (*send_row)(void *ctx, const char *line, floe_err *err);
    /* rank > 0: this rank's share of the phase is done */
    int (*send_done)(void *ctx, floe_err *err);
    /* rank 0: hands every line that has arrived to on_line and counts the ranks done; wait_ms: how long
       to wait for the first message */
    int (*receive)(void *ctx, int wait_ms, void (*on_line)(void *arg, const char *line), void *arg, int *done,
                   floe_err *err);
    /* rank 0's bytes to every rank (*buf malloc'ed on the others; the caller frees) */
    int (*broadcast)(void *ctx, char **buf, size_t *len, floe_err *err);
} floe_explore_transport;

typedef struct floe_explore_opts {
    const char *out_dir;
    int jobs;                          /* worker processes at a time in this process (>= 1) */
    const floe_explore_transport *mpi; /* NULL: one process */
    FILE *log;                         /* progress (points done / total, time left) and notes; NULL: none */
} floe_explore_opts;

typedef struct floe_explore_summary {
    uint64_t points, priced, reused; /* priced now; reused from the journal */
    uint64_t failed, unfit, within, front;
    uint64_t sim_priced; /* by the simulator, this run and reused */
    double seconds;
} floe_explore_summary;

/* Runs the sweep. Returns 0 when every point has a row (failed points included), -1 with err set when
 * the sweep could not run (its output folder, a transport error). */
int floe_explore_run(const floe_sweep *s, const floe_explore_opts *o, floe_explore_summary *sum, floe_err *err);

/* Prices one point with one tier (in this process). status receives "ok", "does not fit: ..." or
 * the error; returns 0 when priced (fitting or not), -1 when the point could not be priced. */
int floe_explore_price(const floe_sweep *s, const floe_explore_point *pt, floe_sweep_tier tier, floe_explore_figures *f,
                       char *status, size_t status_n);

#ifdef __cplusplus
}
#endif

#endif
