/* Post-training quantization beyond the RTN/calib baselines of trainer/qat_init.h
 * (docs/trainer.md, "GPTQ", "SmoothQuant", "Weight-only PTQ").
 *
 * - floe_ptq_gptq: the chip path. A calib-initialised student (trainer/qat_init.h), then for each
 *   block in order, sub-layer group by sub-layer group ({q,k,v}, {o}, {gate,up}, {down}: GPTQ's
 *   "true sequential"), the group's Hessian from the calibration inputs it multiplies, then GPTQ
 *   (trainer/gptq.h) of W' = W * g with the row steps of calib kept fixed (symmetric, per output
 *   channel: the chip's format). The student keeps params = w_hat / g (0 where g = 0), so
 *   floe_qat_quantize reproduces GPTQ's codes exactly (checked). The LM head stays calib.
 *   Hessian source: FLOE_GPTQ_H_STUDENT (default) the student's integer forward, codes of the
 *   int8 inputs (h1, o, h2, down_in), with every earlier group already GPTQ'd; FLOE_GPTQ_H_TEACHER
 *   the FP teacher's inputs to the same points (normalised without gain, as W' sees them), one
 *   pass, not sequential.
 * - floe_ptq_weight_only: quantizes only the blocks' linear weights of an FP model in place
 *   (embeddings, norms, head stay FP) with a floe_wquant (bits, group, asym): RTN (min-max) or
 *   GPTQ with Hessians from the FP model's inputs to each layer, sequentially through the
 *   already-quantized earlier layers.
 * - floe_smoothquant_fold: SmoothQuant's migration f_j = max|X_j|^alpha / max|W_j|^(1 - alpha) at
 *   o_proj's input (folded into v_proj's rows, f shared by the query heads of a KV head) and
 *   down_proj's input (folded into up_proj's rows): an exact FP rewrite of the teacher, which the
 *   calib initialisation then quantizes.
 * Calibration batches are the calib initialisation's (same sampling stream), so every method sees
 * the same tokens. Everything is deterministic for any thread count. The teacher t may be a
 * training model or a forward-only one (floe_model_init_forward): its inputs are read a layer at a
 * time in floe_model_forward_tapped's callback, with the same bits either way.
 */
#ifndef FLOE_TRAINER_PTQ_H
#define FLOE_TRAINER_PTQ_H

#include <stdint.h>

#include "common/error.h"
#include "models/corpus.h"
#include "trainer/gptq.h"
#include "trainer/model.h"
#include "trainer/qat_init.h"
#include "trainer/qat_model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum floe_gptq_hsrc { FLOE_GPTQ_H_STUDENT, FLOE_GPTQ_H_TEACHER } floe_gptq_hsrc;

/* "student" / "teacher" -> source; -1 otherwise. */
int floe_gptq_hsrc_parse(const char *name, floe_gptq_hsrc *out);

/* s: floe_qat_init'd with the teacher's config. ic: the calib settings (method is forced to calib). */
int floe_ptq_gptq(floe_qat *s, floe_model *t, const floe_tokens *train, const floe_qinit_cfg *ic,
                  const floe_gptq_cfg *gc, floe_gptq_hsrc hsrc, floe_err *err);

typedef struct floe_wo_cfg {
    int gptq;          /* 0: RTN (min-max), 1: GPTQ */
    int bits, group, asym;
    floe_gptq_cfg gptq_cfg;
    int batches;       /* calibration batches of t->maxB x t->maxT (GPTQ) */
    uint64_t seed;
} floe_wo_cfg;

int floe_ptq_weight_only(floe_model *t, const floe_tokens *train, const floe_wo_cfg *c, floe_err *err);

/* Refuses alpha outside (0, 1]. */
int floe_smoothquant_fold(floe_model *t, const floe_tokens *train, double alpha, int batches, uint64_t seed,
                          floe_err *err);

/* SmoothQuant on the chip path: floe_smoothquant_fold (o_in, down_in), then, if norms, the same
 * migration at attn_in and mlp_in, where X is the normalised residual the chip quantizes (x / rms,
 * the gain being folded into W' = W * g) and W the gain-folded q/k/v (or gate/up) columns: the
 * quantized model's norm carries h_j = 1 / f_j (floe_qmodel_set_smoothing: the integer RMSNorm's
 * per-channel multiplier), the student's gain becomes g * f so that W' = W * g * f. Steps: calib
 * (trainer/qat_init.h), with the weight steps of q/k/v/gate/up and the attn_in/mlp_in steps
 * recomputed on the smoothed values in calib's way. The student is for PTQ only: its QAT backward
 * knows no smoothing. */
int floe_ptq_smoothquant(floe_qat *s, floe_model *t, const floe_tokens *train, const floe_qinit_cfg *ic, double alpha,
                         int norms, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
