/* How much each decoder layer's weight width costs in accuracy (docs/design-choice.md,
 * "Sensitivity"), two ways:
 *
 * - measured: the validation-loss change (nats per token) of the quantized model with layer l's
 *   weights at b bits and every other layer at the base width, against all layers at the base width,
 *   through the integer forward (trainer/qeval.h) after the PTQ calibration (trainer/qat_init.h);
 *   0 at the base width itself.
 * - Fisher: the second-order estimate 0.5 * sum_i F_i (dW_i(b)^2 - dW_i(base)^2) over the layer's
 *   seven weight matrices, F_i the mean squared gradient of the FP teacher's loss on the calibration
 *   batches (the empirical Fisher, a Hessian-diagonal proxy), dW_i(b) = W_i - (the b-bit dequantized
 *   weight, gain unfolded); needs one backward per batch and no evaluation.
 *
 * Per linear (o->per_linear), the same for each linear of each layer alone (q_proj .. down_proj:
 * its width b, everything else at the base width; the Fisher sum over that matrix only).
 *
 * Cost: 1 + groups * (n_widths - 1) calibrations and evaluations, each over val_windows windows
 * (groups: n_layers, or 7 n_layers per linear). */
#ifndef FLOE_DESIGN_SENSITIVITY_H
#define FLOE_DESIGN_SENSITIVITY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "design/layer_cost.h"
#include "models/corpus.h"
#include "models/qmodel.h"
#include "trainer/qat_init.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_sens_opts {
    floe_qconfig q; /* activation, cache and head widths; q.wbits is the base width */
    int n_widths;   /* candidate widths (2, 4, 8), one of them q.wbits */
    int widths[FLOE_DESIGN_MAX_WIDTHS];
    floe_qinit_cfg init; /* calibration: batches and seed (calib method) */
    int batch, context;  /* calibration and evaluation batch shape (context <= the model's) */
    size_t val_windows;  /* validation windows per evaluation (0: all) */
    int per_linear;      /* 1: one group per linear (layer l's linear j is group 7 l + j), else per layer */
    FILE *log;           /* a line per evaluation; NULL: silent */
} floe_sens_opts;

typedef struct floe_sens {
    int n_layers, n_groups, n_widths; /* groups: n_layers, or 7 n_layers per linear */
    double base_loss; /* every layer at the base width */
    double *measured; /* [n_groups * n_widths] loss change, owned */
    double *fisher;   /* [n_groups * n_widths] estimate, owned */
    double seconds_measured, seconds_fisher;
} floe_sens;

/* Measures both for the teacher checkpoint at teacher_path on train (calibration) and val. Returns
 * 0, or -1 with err (the teacher, the data, the widths). Free with floe_sens_free. */
int floe_sens_run(const char *teacher_path, const floe_tokens *train, const floe_tokens *val, const floe_sens_opts *o,
                  floe_sens *out, floe_err *err);
void floe_sens_free(floe_sens *s);

/* The validation loss of the PTQ model at widths q (o's calibration and windows; o->q ignored). */
int floe_sens_ptq_loss(const char *teacher_path, const floe_tokens *train, const floe_tokens *val,
                       const floe_sens_opts *o, const floe_qconfig *q, double *loss, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
