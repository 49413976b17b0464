/* GPTQ (Frantar et al., ICLR 2023): a layer's weight matrix W [out][in] quantized column by column,
 * each column's rounding error spread over the columns not yet quantized through the upper
 * Cholesky factor U of the damped inverse Hessian (H + lambda I)^-1 = U^T U, H = sum_x x x^T over
 * the layer's calibration inputs (the factor 2 of 2 X X^T cancels). docs/trainer.md, "GPTQ".
 *
 *   dead inputs (H_ii = 0): H_ii = 1 and column i of W is zeroed (it never meets a nonzero input)
 *   lambda = damp * mean(diag H)                       (damp 0.01 by default)
 *   act-order: columns in order of decreasing H_ii (ties by index)
 *   for each column i (in blocks of `block` columns, lazy batch updates):
 *       q_i = Q(w_i), err = (w_i - q_i) / U_ii, w_j -= err * U_ij for j > i
 *   Q: a floe_wquant (trainer/wquant.h). With fit = 0 its steps/zeros are used as given (the chip
 *   path: one symmetric step per row fixed before the loop). With fit = 1 each group is fitted by
 *   min-max on the error-updated weights when the loop reaches the group's first column; with
 *   act-order and fit all groups are fitted up front on W ("static groups").
 *
 * Every sum runs in double in a fixed order (OpenBLAS single-threaded, rows split among OpenMP
 * threads without reductions): the result does not depend on the thread count.
 */
#ifndef FLOE_TRAINER_GPTQ_H
#define FLOE_TRAINER_GPTQ_H

#include <stddef.h>

#include "common/error.h"
#include "trainer/wquant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_gptq_cfg {
    double damp;   /* fraction of the mean Hessian diagonal added to it, in (0, 1] (default 0.01) */
    int block;     /* lazy-update block in columns, >= 1 (default 128) */
    int act_order; /* 1: quantize columns in order of decreasing H_ii (default 0) */
} floe_gptq_cfg;

floe_gptq_cfg floe_gptq_defaults(void);
/* Refuses damp outside (0, 1] or block < 1, naming the setting. */
int floe_gptq_check(const floe_gptq_cfg *c, floe_err *err);

/* H [in][in] += X^T X for X [rows][in] (row-major floats). */
void floe_gptq_hessian_add(double *H, const float *X, size_t rows, int in);

/* W [out][in] -> its GPTQ-quantized (dequantized) values, in place. H [in][in] is the layer's
 * Hessian (sum x x^T, any positive scale); it is left unchanged. q has W's shape. Returns -1 with
 * err set on a shape mismatch, out of memory, or a Hessian that stays not positive definite. */
int floe_gptq_layer(float *W, int out, int in, const double *H, floe_wquant *q, int fit, const floe_gptq_cfg *c,
                    floe_err *err);

/* sum_r (w_r - w_hat_r)^T H (w_r - w_hat_r) = ||W X - W_hat X||^2 for H = X^T X. */
double floe_gptq_output_error(const float *W, const float *What, int out, int in, const double *H);

#ifdef __cplusplus
}
#endif

#endif
