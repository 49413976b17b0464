/* LSQ quantizers with the straight-through estimator (Esser et al. 2020; ../shared/reference.md).
 *
 * A b-bit signed quantizer with step s maps v to code = clamp(round_half_up(v / s), lo, hi), lo =
 * -2^(b-1), hi = 2^(b-1) - 1, and its float view v_hat = code * s. Backward, given g = dL/dv_hat:
 *   dL/dv  = g                       where lo <= v/s <= hi, else 0           (STE)
 *   dL/ds += gscale * g * (code - v/s)   inside,  gscale * g * code  outside   (LSQ)
 * with gscale = 1 / sqrt(n * hi), n the number of values one step covers (a weight row's length; an
 * activation's features per token).
 *
 * In the QAT forward the activation codes come from the chip's integer arithmetic (requant), not
 * from v / s: the backward takes those codes as given and uses v (the float value the integer path
 * approximates) only for the gradients, as SiLQ trains through the deployed integer graph.
 */
#ifndef FLOE_TRAINER_LSQ_H
#define FLOE_TRAINER_LSQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int32_t floe_lsq_hi(int bits) { return (int32_t)((1ll << (bits - 1)) - 1); }

/* The code of v for step s (round half up, saturated; NaN gives the lowest code), as the trainer's
 * weight quantizer. Inline: it runs on every weight of every step. */
static inline int32_t floe_lsq_code(float v, float s, int bits)
{
    int32_t hi = floe_lsq_hi(bits), lo = -hi - 1;
    float x = __builtin_floorf(v / s + 0.5f);
    if (!(x >= (float)lo))
        return lo;
    return x > (float)hi ? hi : (int32_t)x;
}

/* 1 / sqrt(n * hi): LSQ's gradient scale. */
float floe_lsq_grad_scale(size_t n, int bits);

/* One quantized tensor of `rows` x `width` values sharing one step (activations): given the float
 * values v (before quantization; v_scale multiplies them, per column when v_col_scale is non-NULL),
 * the codes (int8 activation codes, or int16 codes16 for the KV cache; one of them non-NULL) and
 * g = dL/dv_hat, writes dv (STE; may alias g) and returns the summed dL/ds (already scaled by gscale). The sum is
 * per row, then over rows in order: the same bits for any thread count. row_scratch: [rows]. */
double floe_lsq_act_backward(float *dv, const float *g, const float *v, float v_scale, const float *v_col_scale,
                             const int8_t *codes, const int16_t *codes16, size_t rows, size_t width, float s, int bits,
                             double *row_scratch);

/* The same with per-token scaling (docs/numerics.md §10): row r's step is s_r = s * 2^-row_k[r]
 * (row_k NULL: every k 0, exactly floe_lsq_act_backward). k_r is a constant of the forward, so
 *   dL/dv  = g                       where lo <= v/s_r <= hi, else 0
 *   dL/ds += gscale * 2^-k_r * g * (code - v/s_r)   inside,  gscale * 2^-k_r * g * code  outside
 * with LSQ's gscale (width = features per token). */
double floe_lsq_act_backward_tok(float *dv, const float *g, const float *v, float v_scale, const float *v_col_scale,
                                 const int8_t *codes, const int16_t *codes16, const int8_t *row_k, size_t rows,
                                 size_t width, float s, int bits, double *row_scratch);

/* Weights: W' [out, in], step per row s[out], codes [out, in], g = dL/dW_hat [out, in]. Writes
 * dW' (STE, may alias g) and adds the scaled step gradients to ds[out]. Rows are independent. */
void floe_lsq_weight_backward(float *dw, const float *g, const float *w, const float *s, const int8_t *codes,
                              int out, int in, int bits, float *ds);

#ifdef __cplusplus
}
#endif

#endif
