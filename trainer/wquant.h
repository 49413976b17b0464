/* Weight quantizers of a matrix W [out][in] (row = output channel), shared by EfficientQAT, GPTQ
 * and the weight-only studies (docs/trainer.md, "Weight quantizers").
 *
 * Each row is split along the input dimension into groups of `group` columns (the last one may be
 * shorter); group 0 (or >= in) is one group per row, i.e. per output channel. Each group has a step
 * s and, if asymmetric, a zero point z (a float that is rounded where it is used):
 *   symmetric  (the chip's):        q = clamp(round(w / s), -2^(b-1), 2^(b-1) - 1),  w_hat = q * s
 *   asymmetric (EfficientQAT's):    q = clamp(round(w / s) + round(z), 0, 2^b - 1),  w_hat = (q - round(z)) * s
 * round is round-half-up (floor(x + 0.5)) as everywhere in Floe. Bits 2..8.
 *
 * Backward (straight-through estimator on round, as EfficientQAT/OmniQuant's round_ste), given
 * g = dL/dw_hat, with u = w / s:
 *   inside the range:  dL/dw += g,  dL/ds += g * (round(u) - u),           dL/dz += 0
 *   clamped:           dL/dw += 0,  dL/ds += g * (q - round(z)),            dL/dz += -g * s (asym)
 * E2E-QP freezes the codes: w_hat = (q - round(z)) * s with q fixed, and dL/ds = g * (q - round(z))
 * exactly (floe_wquant_frozen_backward).
 *
 * Ownership: s and z belong to the floe_wquant (z is allocated for symmetric quantizers too and
 * stays 0). Every function is deterministic and row-parallel (rows are independent).
 */
#ifndef FLOE_TRAINER_WQUANT_H
#define FLOE_TRAINER_WQUANT_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_wquant {
    int out, in, bits, group, asym;
    int groups;  /* per row: ceil(in / group) */
    float *s, *z; /* [out * groups] */
} floe_wquant;

/* group 0 or >= in: per output channel. Refuses bits outside 2..8 or a negative group. */
int floe_wquant_init(floe_wquant *q, int out, int in, int bits, int group, int asym, floe_err *err);
void floe_wquant_free(floe_wquant *q);

/* Code range: [lo, hi] = [-2^(b-1), 2^(b-1)-1] symmetric, [0, 2^b - 1] asymmetric. */
int floe_wquant_lo(const floe_wquant *q);
int floe_wquant_hi(const floe_wquant *q);

/* Group index and step/zero index of column c in row r. */
static inline int floe_wquant_gi(const floe_wquant *q, int r, int c)
{
    return r * q->groups + c / q->group;
}

/* Min-max init of every group (EfficientQAT's): asym s = (max - min) / (2^b - 1), z = -min / s with
 * min <= 0 <= max widened to include 0; sym s = max|w| / (2^(b-1) - 1). An all-zero group gets
 * s = 1e-8. */
void floe_wquant_minmax(floe_wquant *q, const float *W);
/* The same for the group holding columns [c0, c0 + len) of every row, from those columns of W
 * (leading dimension ld): GPTQ fits a group when it reaches the group's first column. */
void floe_wquant_minmax_cols(floe_wquant *q, const float *W, int ld, int c0);
/* Symmetric only: per group, the clip ratio in {1, 0.99, ..., 0.21} of max|w| that minimises the
 * group's quantization MSE (SiLQ's weight init, trainer/qat_init.c). */
void floe_wquant_mse(floe_wquant *q, const float *W);

/* The code and dequantized value of one weight of row r, column c. */
int floe_wquant_code1(const floe_wquant *q, int r, int c, float w);
float floe_wquant_dequant1(const floe_wquant *q, int r, int c, int code);

/* w_hat = fake-quantized W (may alias W). */
void floe_wquant_forward(const floe_wquant *q, const float *W, float *What);
/* Codes of W [out * in] (int16: asymmetric 8-bit codes reach 255). */
void floe_wquant_codes(const floe_wquant *q, const float *W, int16_t *codes);
/* w_hat from frozen codes. */
void floe_wquant_dequant(const floe_wquant *q, const int16_t *codes, float *What);

/* STE backward (above): dW += (may be NULL), ds += , dz += (may be NULL; ignored when symmetric). */
void floe_wquant_backward(const floe_wquant *q, const float *W, const float *g, float *dW, float *ds, float *dz);
/* Frozen codes: ds += g * (q - round(z)). */
void floe_wquant_frozen_backward(const floe_wquant *q, const int16_t *codes, const float *g, float *ds);

/* Sum of (w_hat - w)^2 over the matrix (double). */
double floe_wquant_sq_error(const floe_wquant *q, const float *W);

#ifdef __cplusplus
}
#endif

#endif
