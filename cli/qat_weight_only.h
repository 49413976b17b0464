/* `floe qat --method efficientqat --weight-only`: EfficientQAT's own setting (weights quantized,
 * activations float), a study that the chip does not run (docs/quantized-model.md). */
#ifndef FLOE_CLI_QAT_WEIGHT_ONLY_H
#define FLOE_CLI_QAT_WEIGHT_ONLY_H

#include "trainer/efficientqat.h"

typedef struct floe_qat_wonly_args {
    const char *teacher, *corpus, *out, *resume;
    floe_blockap_cfg bap;
    floe_e2eqp_cfg e2e;
    int stop_after, ckpt_every;
    int steps; /* --steps as given (0: none): on resume it replaces the saved schedule's length */
} floe_qat_wonly_args;

/* Runs Block-AP then E2E-QP (or resumes E2E-QP from a state file), writing OUT/blockap.csv,
 * OUT/e2eqp.csv, OUT/e2eqp-<step>.safetensors (resumable) and OUT/model.safetensors (the weight-only
 * model, `floe eval --ckpt`), and prints the validation perplexity. Returns the exit status. */
int floe_qat_weight_only(const floe_qat_wonly_args *a);

#endif
