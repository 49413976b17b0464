/* `floe design` as a library (docs/design-choice.md): given an FP teacher, a machine and budgets,
 * the per-decoder-layer (or per-linear) weight widths that minimise the total sensitivity within the
 * budgets, then (optionally) QAT of that choice verified on the chip, and the deployed figures.
 *
 * Phases: sensitivity per layer or linear (design/sensitivity.h), cost per layer and width, or per
 * combination of a layer's seven widths (design/layer_cost.h), the exact choice (design/mck.h; a
 * chips budget checked against the compiler's plan, compiler/compile.h), the budget sweep (the
 * front), PTQ of the choice, QAT (trainer/qat_job.h), deployment check (verify/deploy_check.h).
 * Writes OUT/design.csv, OUT/front.csv, OUT/front.png and, with QAT, OUT/qat/ (the QAT run's files). */
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

typedef struct floe_design_result {
    int n_layers;
    int per_linear;                          /* the job's granularity */
    char wbits_layer[16384];                 /* the choice as --wbits-layer takes it, every layer named
                                                (its most frequent width), then the linears that differ */
    double sensitivity;                      /* the optimum's total (of the optimised estimate) */
    double predicted[FLOE_DESIGN_RESOURCES]; /* the layers' costs plus the fixed part */
    double spearman;                         /* measured vs Fisher over the non-base choices */
    int chips;                               /* the compiler's plan of the choice */
    int chips_rounds;                        /* solves repeated at fewer weight bytes to meet the chips budget */
    double base_loss, ptq_loss;              /* all layers at the base width; the chosen mix, PTQ */
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
