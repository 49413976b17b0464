/* Scoring text with a language model, as the field evaluates: log-probabilities of a token sequence,
 * and perplexity with a sliding window (the Hugging Face perplexity guide's definition), on the float
 * model or on the integer forward (what the chip computes). docs/trainer.md, "Evaluation".
 *
 * Log-probabilities are computed in double from the logits: the float model's, or the integer
 * forward's int16 codes times s_logit; log p(t) = z_t - max - log(sum exp(z - max)).
 */
#ifndef FLOE_TRAINER_LM_SCORE_H
#define FLOE_TRAINER_LM_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/corpus.h"
#include "models/qmodel.h"
#include "trainer/model.h"
#include "trainer/qforward.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A model to score with. Either fp, or qf + qm, is set; both borrowed unless the floe_lm was made by
 * floe_lm_open (then owned, freed by floe_lm_close). maxT: the most tokens one forward reads. */
typedef struct floe_lm {
    floe_model *fp;
    floe_qfwd *qf;
    const floe_qmodel *qm;
    int vocab, maxT;
    void *owned; /* floe_lm_open's models */
} floe_lm;

/* Borrowing wrappers (maxT from the model's buffers). */
floe_lm floe_lm_float(floe_model *m);
floe_lm floe_lm_integer(floe_qfwd *f, const floe_qmodel *qm);

/* Loads a float model (a checkpoint or a Hugging Face model folder: floe_model_load) when ckpt is
 * set, else a quantized model (floe_qmodel_load) for the integer forward, with buffers for maxT
 * tokens (0: the model's context). Errors name the file. */
int floe_lm_open(floe_lm *lm, const char *ckpt, const char *qmodel, int maxT, floe_err *err);
void floe_lm_close(floe_lm *lm);

/* One sequence ids[0..n), 2 <= n <= maxT + 1: the model reads ids[0..n-1) and logp[j] =
 * log p(ids[j+1] | ids[0..j]) for j in [0, n-1); hit[j] (hit may be NULL) is 1 when ids[j+1] is the
 * most likely token (the first of equal maxima). Ids outside the vocabulary are an error naming the
 * position. */
int floe_lm_logprobs(floe_lm *lm, const int32_t *ids, size_t n, double *logp, int *hit, floe_err *err);

typedef struct floe_ppl_result {
    double nll;      /* sum of -log p over the scored tokens (nats) */
    size_t tokens;   /* scored tokens */
    size_t windows;  /* forward passes */
    double loss;     /* nll / tokens */
    double ppl;      /* exp(loss) */
    double accuracy; /* fraction of scored tokens that were the most likely */
} floe_ppl_result;

/* Sliding-window perplexity of the stream s (n >= 2 tokens). Windows [begin, end) with begin = 0,
 * stride, 2 stride, ... and end = min(begin + context, n), until end = n; each window scores the
 * tokens k in [max(begin + 1, previous end), end), predicted from ids[begin..k), with up to
 * context - 1 tokens of left context. With stride < context every token but the first is scored
 * exactly once; with stride = context (disjoint windows) each window's first token is not scored,
 * as in the guide. r->tokens counts what was scored. 1 <= stride <= context; 2 <= context <= maxT + 1 (the model reads context - 1 tokens; the guide's max_length is
 * context). */
int floe_lm_perplexity(floe_lm *lm, const floe_tokens *s, int context, int stride, floe_ppl_result *r, floe_err *err);

/* The text file at path encoded whole, as the guide does (add_special: the tokenizer's
 * post-processor adds BOS where it has one), with the tokenizer `tokenizer` (floe_tokenizer_load's
 * argument), into owned tokens. */
int floe_lm_text_tokens(const char *tokenizer, const char *path, floe_tokens *out, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
