/* The QAT student (SiLQ): float master weights in the Hugging Face Llama layout, LSQ step sizes, and
 * a forward that is the chip's integer forward (trainer/qforward.h) of the quantized model they
 * define; the backward is the straight-through estimator with LSQ step gradients through the float
 * view of the same integers (docs/trainer.md, "Quantization-aware training").
 *
 *   W'     = W * g (the following RMSNorm gain folded per input column; o/down have none)
 *   codes  = clamp(round(W' / s_w[row])), a learned step per output row
 *   embed  = clamp(round(E / s_res)) in int16, the LM head = its own quantized copy of E (tied) or
 *            lm_head, with the final norm's gain folded in
 *   learned activation steps: attn_in, kc, vc, o_in, mlp_in, down_in per layer, head_in
 *   fixed 16-bit steps (set at initialisation, trained by nothing): s_res, and per layer s_q, s_k,
 *            s_g, s_u, s_silu, plus s_logit. At 16 bits their rounding is ~2^-15 of their range;
 *            the 16-bit quantizers pass gradients straight through.
 *
 * Ownership: everything belongs to the floe_qat. params/grads share models/param_names.h's layout
 * (so a student is a Llama checkpoint plus steps); steps/dsteps is one flat array (layout below).
 */
#ifndef FLOE_TRAINER_QAT_MODEL_H
#define FLOE_TRAINER_QAT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/param_names.h"
#include "models/qmodel.h"
#include "trainer/qforward.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The learned activation steps of one layer, in the order they sit in the steps array. */
enum {
    FLOE_QAT_ATTN_IN,
    FLOE_QAT_KC,
    FLOE_QAT_VC,
    FLOE_QAT_O_IN,
    FLOE_QAT_MLP_IN,
    FLOE_QAT_DOWN_IN,
    FLOE_QAT_ACTS_PER_LAYER
};

/* One quantized linear layer of the student. */
typedef struct floe_qat_linear {
    floe_param_kind kind; /* weight source (FLOE_P_EMBED for a tied head) */
    floe_param_kind gain; /* folded RMSNorm gain, FLOE_P_KIND_COUNT for none */
    int layer;            /* -1 for the LM head */
    int in, out, bits;
    size_t step_off;      /* s_w = steps + step_off, [out] */
    floe_qlinear *q;      /* codes and steps in the student's floe_qmodel; the backward forms W' = W * g
                             and W_hat = codes * s_w from them and the master weights when it needs
                             them (no copies are kept: each would be as large as the weights) */
} floe_qat_linear;

typedef struct floe_qat {
    floe_model_config cfg;
    floe_qconfig qc;
    floe_param_table table;
    float *params, *grads;  /* table.total floats each */
    float *steps, *dsteps;  /* n_steps: every linear's s_w, then acts[layer][FLOE_QAT_ACTS_PER_LAYER], head_in */
    size_t n_steps, act_off;
    float *step_floor;      /* [n_steps] lower bounds of the learned steps (floe_qat_set_floor) */
    floe_qat_linear *lin;   /* n_layers * 7 (q k v o gate up down) + 1 (LM head) */
    int n_lin;
    floe_qmodel qm;         /* the quantized model of the last floe_qat_quantize (codes, steps, constants) */
    floe_qfwd fwd;          /* integer forward and its saved tensors */
    int maxB, maxT;
    int32_t *tokens;        /* [N] the last forward's tokens */
    void *scratch;          /* backward buffers (qat_model.c) */
    /* E2E-QP (EfficientQAT): the weight codes frozen at floe_qat_freeze; then only the steps learn */
    int frozen;
    float *frozen_steps;    /* [act_off] the weight steps the frozen codes were computed with */
} floe_qat;

/* Allocates a student for batches up to maxB x maxT: parameters zero, every step 1. */
int floe_qat_init(floe_qat *s, const floe_model_config *cfg, const floe_qconfig *qc, int maxB, int maxT,
                  floe_err *err);
void floe_qat_free(floe_qat *s);

/* The step layout of a student of config cfg, computed from the config alone (nothing allocated):
 * act_off = the weight steps (one per output channel of every linear: per layer q, o, down d_model,
 * k, v n_kv_heads * head_dim, gate, up ffn_dim; the head vocab_size), n_steps = act_off +
 * FLOE_QAT_ACTS_PER_LAYER * n_layers + 1; floe_qat_init gives the same. For checking a checkpoint's
 * tensors before a student is allocated. */
void floe_qat_step_layout(const floe_model_config *cfg, size_t *act_off, size_t *n_steps);

/* The learned step of layer l's activation point (FLOE_QAT_*), or head_in for l = -1. */
float *floe_qat_act_step(floe_qat *s, int l, int which);

/* Codes and steps from the float parameters into s->qm, then its integer constants. Refuses a step
 * that is not positive and finite or an unrepresentable multiplier, naming it. */
int floe_qat_quantize(floe_qat *s, floe_err *err);

/* Quantize, then the integer forward over tokens [B, T]: the logits are s->fwd.logits (int16 codes)
 * times s->qm.s_logit (no float copy is kept: [N, V] floats are 1 GB for Llama 3 at 2,048 tokens). */
int floe_qat_forward(floe_qat *s, const int32_t *tokens, int B, int T, floe_err *err);

/* Backward of the last forward given dL/dlogits [B*T, V] (float view): grads += dL/dparams,
 * dsteps += dL/dsteps. */
void floe_qat_backward(floe_qat *s, const float *dlogits);

/* The same with dL/dlogits given a slice of the vocabulary at a time, as the LM head's backward takes
 * them (slices of a multiple of 128 words, as large as the largest block linear allows, in ascending
 * order): fn returns columns c0..c0+cn-1 of every row, rows *ld floats apart, either in buf ([N, cn],
 * floats the callee may fill) or in an array of its own. The same bits as floe_qat_backward on the
 * whole array. */
typedef const float *(*floe_qat_dlogits_fn)(void *ctx, int c0, int cn, float *buf, int *ld);
void floe_qat_backward_sliced(floe_qat *s, floe_qat_dlogits_fn fn, void *ctx);
/* The slices' width (words; the last slice may be narrower). */
int floe_qat_head_slice(const floe_qat *s);

void floe_qat_zero_grad(floe_qat *s);

/* Freezes the integer weight codes at their current values (EfficientQAT's E2E-QP): from then on
 * floe_qat_quantize keeps the codes and takes only the weight steps, w_hat = code * s_w, and the
 * backward gives the steps their exact gradient dL/ds_w = sum_i dL/dw_hat_i * code_i and the
 * weights none (the parameters stay as they are). The codes are a pure function of the parameters
 * and frozen_steps (code = clamp(round(W' / frozen_step))), so a checkpoint holding both restores
 * them: floe_qat_freeze_with(s, frozen_steps). */
int floe_qat_freeze(floe_qat *s, floe_err *err);
int floe_qat_freeze_with(floe_qat *s, const float *frozen_steps, floe_err *err);

/* Keeps every learned step positive after an optimizer update (floor: 1e-3 of its value at the
 * last floe_qat_set_floor, so a step cannot collapse to zero or flip sign). */
void floe_qat_clamp_steps(floe_qat *s);
void floe_qat_set_floor(floe_qat *s);

#ifdef __cplusplus
}
#endif

#endif
