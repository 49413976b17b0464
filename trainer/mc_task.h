/* Zero-shot multiple-choice tasks scored by log-likelihood, as lm-evaluation-harness scores them
 * (docs/trainer.md, "Zero-shot tasks").
 *
 * A task file is JSONL, one item a line: {"context": str, "choices": [str, ...], "gold": int} (other
 * fields ignored; blank lines skipped). A choice is the continuation exactly as appended to the
 * context: it usually starts with a space (" Paris"). Every line is checked before any is scored; a
 * bad one is an error naming file:line and the field.
 *
 * Tokens, as the harness's _encode_pair (add_special_tokens false, its default for causal models):
 * trailing whitespace of the context moves to the front of the continuation; ctx = encode(context),
 * cont = encode(context + continuation) with its first len(ctx) ids removed; an empty context
 * becomes [BOS] (else [EOS]). The model reads ctx + cont, left-truncated to the last maxT + 1 tokens,
 * and a choice's log-likelihood is the sum of log p of the cont tokens.
 *
 * acc: the item counts when the gold choice has the greatest log-likelihood; acc_norm: the greatest
 * log-likelihood divided by the choice's length in bytes (UTF-8). Ties go to the first choice (numpy's
 * argmax). Standard errors sqrt(p (1 - p) / (n - 1)), the harness's mean_stderr for 0/1 scores
 * (NaN for n < 2).
 */
#ifndef FLOE_TRAINER_MC_TASK_H
#define FLOE_TRAINER_MC_TASK_H

#include <stddef.h>

#include "common/error.h"
#include "models/tokenizer.h"
#include "trainer/lm_score.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_mc_result {
    size_t n; /* items */
    double acc, acc_stderr;
    double acc_norm, acc_norm_stderr;
} floe_mc_result;

/* ll[i] = log-likelihood of choices[i] given context (i < n_choices), tokens as above. */
int floe_mc_score_item(floe_lm *lm, const floe_tokenizer *tok, const char *context, const char *const *choices,
                       int n_choices, double *ll, floe_err *err);

/* Index of the greatest of v[0..n), the first of equal ones. */
int floe_mc_argmax(const double *v, int n);

/* Scores every item of the task file at path. */
int floe_mc_evaluate(floe_lm *lm, const floe_tokenizer *tok, const char *path, floe_mc_result *r, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
