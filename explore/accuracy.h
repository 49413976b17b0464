/* Accuracy on the axes of a sweep (docs/explore.md): the validation perplexity of each quantized
 * model the sweep names (`qmodel = FILE, ...`) through the integer forward, which is what the chip
 * computes. A point carries the perplexity of the model whose shape and widths are its own. Results
 * are cached in OUT/accuracy.journal by the file's content digest, the corpus and the windows. */
#ifndef FLOE_EXPLORE_ACCURACY_H
#define FLOE_EXPLORE_ACCURACY_H

#include <stdio.h>

#include "common/error.h"
#include "explore/point.h"
#include "explore/sweep.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_explore_accuracy {
    int n;
    floe_model_config cfg[FLOE_SWEEP_MAX_QMODELS];
    floe_qconfig q[FLOE_SWEEP_MAX_QMODELS];
    double ppl[FLOE_SWEEP_MAX_QMODELS];
} floe_explore_accuracy;

/* Evaluates (or reads from the cache) every quantized model of s. Returns 0, or -1 with err naming
 * the file. */
int floe_explore_accuracy_run(const floe_sweep *s, const char *out_dir, FILE *log, floe_explore_accuracy *a,
                              floe_err *err);

/* The perplexity of the model of pt's shape and widths, or NaN. */
double floe_explore_accuracy_of(const floe_explore_accuracy *a, const floe_explore_point *pt);

#ifdef __cplusplus
}
#endif

#endif
