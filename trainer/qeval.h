/* Evaluation of a quantized model through the integer forward (what the chip computes): loss,
 * perplexity and next-token accuracy over the validation windows, as floe_model_evaluate does for
 * the float model. Logits are the int16 codes times s_logit. */
#ifndef FLOE_TRAINER_QEVAL_H
#define FLOE_TRAINER_QEVAL_H

#include "common/error.h"
#include "models/corpus.h"
#include "models/qmodel.h"
#include "trainer/qforward.h"
#include "trainer/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Windows of f->maxT tokens, f->maxB at a time; max_windows > 0 stops after that many. */
int floe_qmodel_evaluate(floe_qfwd *f, const floe_qmodel *m, const floe_tokens *val, size_t max_windows,
                         floe_eval_result *r, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
