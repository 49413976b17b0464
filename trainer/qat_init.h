/* Initialising a QAT student from an FP teacher, which is also the post-training quantization
 * (PTQ) baselines: a student right after initialisation is the RTN or calibrated PTQ model.
 *
 * - Parameters: copied from the teacher (the shapes must match exactly).
 * - Weight steps, one per output row of W' (the gain-folded weight):
 *     RTN:   s = max|W'_row| / hi                          (absmax, no data)
 *     calib: the s = r * max|W'_row| / hi, r in a grid of 80 clip ratios from 1 down to 0.21,
 *            that minimises the row's quantization MSE (SiLQ's weight initialisation)
 * - 4/8-bit activation and cache steps: from the teacher's activations on `batches` calibration
 *   batches of the training split (their own sampling stream): s = P(|x|) / hi, P the
 *   `percentile` (calib; by default 99.99 at 8 bits and 99.9 at 4; RTN uses 100, the absmax). Values at each point are the float values the
 *   quantized graph quantizes there (normalised RMSNorm outputs without gain, q/k after RoPE, ...).
 * - 16-bit steps (q, k, gate, up, SiLU output, logits): max|x| * headroom / 32767, headroom
 *   leaving room for QAT to grow them. The residual stream's (and the embeddings'): max|x| *
 *   res_headroom / 32767, by default the largest value itself: one step holds embeddings of about
 *   0.05 and the later layers' largest residual values (thousands in a trained model), so every
 *   bit of its range counts (docs/trainer.md, "The residual stream's step").
 * docs/trainer.md gives the reasoning; every figure is a setting.
 */
#ifndef FLOE_TRAINER_QAT_INIT_H
#define FLOE_TRAINER_QAT_INIT_H

#include <stdint.h>

#include "common/error.h"
#include "models/corpus.h"
#include "trainer/model.h"
#include "trainer/qat_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* GPTQ: calib's steps, then GPTQ of the block weights (trainer/ptq.h, default settings); only
 * floe_qat_run acts on it, floe_qat_init_from_teacher treats it as calib. */
typedef enum floe_qinit_method { FLOE_QINIT_RTN, FLOE_QINIT_CALIB, FLOE_QINIT_GPTQ } floe_qinit_method;

typedef struct floe_qinit_cfg {
    floe_qinit_method method;
    double percentile; /* of |x| for 4/8-bit activation steps with calib; 0 (default): 99.99 for
                        * 8-bit points, 99.9 for 4-bit ones */
    double headroom;   /* 16-bit steps cover headroom * max|x| (default 2) */
    int batches;       /* calibration batches (default 4) */
    uint64_t seed;     /* their sampling stream (default 1) */
    double res_headroom; /* the residual stream's step covers res_headroom * max|x| (default 1) */
} floe_qinit_cfg;

floe_qinit_cfg floe_qinit_defaults(void);

/* "rtn", "calib" or "gptq" -> method; -1 otherwise. */
int floe_qinit_method_parse(const char *name, floe_qinit_method *out);

/* Checks that a teacher's config is the student's, naming the first field that differs. */
int floe_qat_check_teacher(const floe_model_config *student, const floe_model_config *teacher, floe_err *err);

/* Initialises s (floe_qat_init'd, same config as the teacher) from the teacher: parameters, weight
 * steps, activation steps (calibration batches of teacher->maxB x teacher->maxT from train), then
 * floe_qat_quantize and the step floors. The teacher needs the whole LM head (floe_model_init or the
 * forward-only floe_model_init_forward, whose taps it reads through floe_model_forward_tapped): one
 * with a chunked head (a trainer's model) is refused with err set. */
int floe_qat_init_from_teacher(floe_qat *s, floe_model *teacher, const floe_tokens *train, const floe_qinit_cfg *c,
                               floe_err *err);

/* The weight step of one row for the method (exposed for tests). */
float floe_qinit_weight_step(const float *w, int n, int bits, floe_qinit_method method);

#ifdef __cplusplus
}
#endif

#endif
