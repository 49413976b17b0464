/* `floe design` as a library (docs/design-choice.md): given an FP teacher, a machine and budgets,
 * the per-decoder-layer (or per-linear) weight widths, and optionally the model-wide activation and
 * KV-cache widths, that minimise the total sensitivity within the budgets, then (optionally) QAT of
 * that choice verified on the chip, and the deployed figures.
 *
 * Phases, for each (abits, kvbits) pair asked for: cost per layer and width, or per combination of a
 * layer's seven widths, with the cores of the compiler's placement (design/layer_cost.h), sensitivity
 * per layer or linear at that pair (design/sensitivity.h) and the pair's own loss change, the exact
 * choice (design/mck.h; a chips budget inside the solver); then the best pair's optimum, the budget
 * sweep (the front, per pair), PTQ of the choice, QAT (trainer/qat_job.h), deployment check
 * (verify/deploy_check.h). Writes OUT/design.csv, OUT/front.csv, OUT/front.png and, with QAT,
 * OUT/qat/ (the QAT run's files). */
#ifndef FLOE_DESIGN_DESIGN_JOB_H
#define FLOE_DESIGN_DESIGN_JOB_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "design/layer_cost.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/qmodel.h"
#include "trainer/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "latency=US", "energy=UJ", "memory=BYTES", "chips=N", comma-separated, into limit[FLOE_DESIGN_RESOURCES]
 * (INFINITY where not given) and *chips (0 where not given). -1 with err naming the item on a
 * malformed or repeated one, a non-positive limit, or chips not a whole number. */
int floe_design_parse_budget(const char *spec, double limit[FLOE_DESIGN_RESOURCES], int *chips, floe_err *err);

typedef struct floe_design_job {
    const char *teacher;             /* FP checkpoint */
    const char *corpus;              /* NULL: the teacher's */
    const char *out;                 /* output folder */
    const floe_machine *mach;        /* borrowed */
    const floe_energy_table *energy; /* NULL: no energy figures (an energy budget is then refused) */
    const char *machine_name;        /* for the log */
    floe_qconfig q;                  /* activation, cache, head widths; q.wbits the base width */
    int choose_abits, choose_kvbits; /* 1: try abits (kvbits) 4 and 8 (q's ignored) and take the best pair */
    double budget[FLOE_DESIGN_RESOURCES];
    int chips;          /* > 0: at most this many chips in the compiler's plan of the choice */
    int per_linear;     /* 1: a width per linear (q_proj .. down_proj of each layer), else per layer */
    int calib_batches;  /* calibration batches (0: 2) */
    size_t val_windows; /* validation windows per evaluation (0: 32) */
    int batch;          /* sequences per calibration batch (0: 4) */
    int use_fisher;     /* 1: optimise the Fisher estimate instead of the measured change */
    int front_points;   /* budgets in the sweep (below 2: 12) */
    int qat_steps;      /* 0: no QAT */
    int verify;         /* 1: QAT steps verified on the machine */
    int deploy;         /* 1: floe_deploy_check of the result */
    FILE *log;          /* progress; NULL silent */
} floe_design_job;

#define FLOE_DESIGN_MAX_PAIRS 4

/* One (abits, kvbits) pair's outcome. */
typedef struct floe_design_pair {
    int abits, kvbits;
    int solved;                              /* 0: no choice at this pair meets the budgets (why) */
    double base_loss;                        /* every weight at the base width, at this pair */
    double pair_dloss;                       /* base_loss less the same model's at A8 KV8 (0 with one pair) */
    double sensitivity;                      /* its optimum's weights' total */
    double total;                            /* pair_dloss + sensitivity: the pairs are compared by it */
    double predicted[FLOE_DESIGN_RESOURCES]; /* its optimum's costs */
    int chips;                               /* the compiler's plan of its optimum (0: not mapped) */
    char why[256];
} floe_design_pair;

typedef struct floe_design_result {
    int n_layers;
    int per_linear;                          /* the job's granularity */
    char wbits_layer[16384];                 /* the choice as --wbits-layer takes it, every layer named
                                                (its most frequent width), then the linears that differ */
    int abits, kvbits;                       /* the chosen pair */
    double sensitivity;                      /* the optimum's weights' total (of the optimised estimate) */
    double pair_dloss;                       /* the chosen pair's loss change against A8 KV8 */
    double predicted[FLOE_DESIGN_RESOURCES]; /* the layers' costs plus the fixed part */
    double spearman;                         /* measured vs Fisher over the non-base choices */
    int chips;                               /* the compiler's plan of the choice */
    double base_loss, ptq_loss;              /* all layers at the base width (chosen pair); the chosen mix, PTQ */
    int n_pairs;
    floe_design_pair pair[FLOE_DESIGN_MAX_PAIRS]; /* widest first */
    int qat_done;
    double qat_loss; /* the QAT result's validation loss */
    int deployed;
    double deploy_latency_us, deploy_energy_uj; /* floe_deploy_check's decode token */
    int deploy_chips;
    double seconds[5]; /* sensitivity, cost, choice and front, QAT, deployment */
} floe_design_result;

/* Runs the job. Returns 0, or -1 with err (an impossible budget names the smallest achievable cost). */
int floe_design_run(const floe_design_job *j, floe_design_result *r, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
