/* EfficientQAT phase 2, E2E-QP, on the float path (weights quantized, activations float;
 * docs/trainer.md "EfficientQAT").
 *
 * The integer codes (and zero points) of every block linear are frozen; only the step sizes s train,
 * end to end, with the ordinary next-token cross-entropy of the whole model whose block linears are
 * w_hat = (code - round(z)) * s (floe_wquant_dequant), d w_hat / d s = code - round(z) exactly
 * (floe_wquant_frozen_backward). Everything else (embeddings, norms, head) is frozen too. AdamW
 * without weight decay, linear warmup + cosine, global gradient-norm clipping over all steps s.
 *
 * State = codes, s, z per linear + the step count + AdamW moments of s. The batch of step k is
 * floe_batch_sample(train, seed, k, ...), a pure function of (seed, k), and the learning rate a
 * function of k, so floe_e2eqp_save / floe_e2eqp_load resume a killed run with identical bits, given
 * the same base model (the non-quantized tensors: the folded teacher, or the weight-only model file).
 * Same bits for any OpenMP thread count.
 */
#ifndef FLOE_TRAINER_E2E_QP_H
#define FLOE_TRAINER_E2E_QP_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/safetensors.h"
#include "models/corpus.h"
#include "trainer/model.h"
#include "trainer/wquant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_e2eqp_cfg {
    int steps;            /* optimizer steps of the whole run (the schedule's length) */
    int batch;            /* sequences per step */
    int context;          /* tokens per sequence (0: the model's maxT) */
    float lr, min_lr;     /* peak and floor of the cosine */
    int warmup;           /* linear warmup steps */
    float clip;           /* global norm limit of the step gradients (0: none) */
    float beta1, beta2, eps;
    uint64_t seed;        /* batch sampling */
} floe_e2eqp_cfg;

/* Floe's defaults (docs/trainer.md): steps 300, batch 8, context 0, lr 5e-4 (1e-3 at 2 bits),
 * min_lr lr/20, warmup 10, clip 0.3, AdamW (0.9, 0.999, 1e-8), seed 2. */
floe_e2eqp_cfg floe_e2eqp_defaults(int bits);

typedef struct floe_e2eqp {
    int n;             /* quantized linears: n_layers * 7, floe_blockap_kinds order */
    floe_wquant *wq;   /* owned: s trained, z frozen */
    int16_t **codes;   /* [n][out * in], frozen */
    float **m, **v;    /* AdamW moments of s */
    float **ds;        /* gradient scratch */
    int step;          /* optimizer steps done */
} floe_e2eqp;

/* Codes of the model's block linears under wq (copied: wq is not kept), step 0, zero moments. */
int floe_e2eqp_init(floe_e2eqp *st, const floe_model *m, const floe_wquant *wq, floe_err *err);
void floe_e2eqp_free(floe_e2eqp *st);

/* The model's block linears := w_hat from the frozen codes and the current s. */
void floe_e2eqp_apply(const floe_e2eqp *st, floe_model *m);

typedef struct floe_e2eqp_stats {
    int step;          /* steps done after this one */
    float loss, lr;
    double grad_norm;  /* of the step gradients, before clipping */
} floe_e2eqp_stats;

/* One optimizer step (m: maxB >= batch, maxT >= context). Leaves the block linears = w_hat. */
int floe_e2eqp_step(floe_e2eqp *st, floe_model *m, const floe_tokens *train, const floe_e2eqp_cfg *c,
                    floe_e2eqp_stats *s, floe_err *err);

/* Steps from st->step to c->steps (or until stop_after steps are done, if > 0), on_step (may be
 * NULL) after each. */
int floe_e2eqp_run(floe_e2eqp *st, floe_model *m, const floe_tokens *train, const floe_e2eqp_cfg *c, int stop_after,
                   void (*on_step)(void *ctx, const floe_e2eqp_stats *s), void *ctx, floe_err *err);

/* The quantizer state as one safetensors file, atomically: per linear (Hugging Face name N of its
 * weight) "N.codes" (I16 [out, in]), "N.scale", "N.zero" (asymmetric only), "N.adam_m", "N.adam_v"
 * (F32 [out, groups]); metadata floe.method = "efficientqat", floe.e2eqp.step, floe.wbits,
 * floe.group, floe.asym, floe.config and the run's hyperparameters (floe.e2eqp.*), plus extra pairs. */
int floe_e2eqp_save(const floe_e2eqp *st, const floe_model *m, const floe_e2eqp_cfg *c, const char *path,
                    const char *const *extra, size_t n_extra, floe_err *err);
/* Loads such a file into a state initialised (floe_e2eqp_init) for the same model config, bits,
 * group and asymmetry; every tensor checked by name and shape, codes checked against the code range;
 * errors name the file and tensor. Codes, s, z, moments and step all come from the file, so to resume
 * without the Block-AP quantizers at hand, init from floe_wquants_init's quantizers (s = 1) on the
 * base model and load. */
int floe_e2eqp_load(floe_e2eqp *st, const floe_model *m, const char *path, floe_err *err);
/* Every tensor of such a file against a model config and the quantizers' group (0: per output
 * channel) and asymmetry, reading no data and allocating nothing sized by mc beyond its parameter
 * table: N.codes I16 [out, in], N.scale, N.zero (asymmetric only), N.adam_m, N.adam_v [out, groups]
 * (a float dtype) of every block linear, and no other tensor. Errors name the file and tensor. */
int floe_e2eqp_check_file(const floe_st_file *f, const floe_model_config *mc, int group, int asym, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
