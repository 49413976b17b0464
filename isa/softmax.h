/* The softmax exponential and the integer softmax (docs/numerics.md §5).
 *
 * Softmax is taken in base 2: softmax(z)_i = 2^(y_i) / sum_j 2^(y_j) with y = z * log2(e). The factor
 * log2(e) and the attention scale 1/sqrt(head_dim) are folded into the requantization multiplier that
 * produces the scores, so the chip never multiplies by them. Scores arrive as int32 fixed point with
 * FLOE_EXP2_FRAC_BITS fractional bits.
 *
 * exp2 of a non-positive input x (real value x / 256):
 *   u = -x, n = u >> 8, r = u & 255
 *   exp2(x) = round_half_up(T[r] / 2^n)  with T[r] = round_half_up(2^15 * 2^(-r/256)), T[0] = 32768
 * so exp2(0) = 32768 (1.0 in Q15) and the result is 0 once n >= 17. Positive inputs saturate to 0.
 */
#ifndef FLOE_ISA_SOFTMAX_H
#define FLOE_ISA_SOFTMAX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_EXP2_FRAC_BITS 8   /* input: x / 2^8 in the log2 domain */
#define FLOE_EXP2_OUT_BITS 15   /* output: Q15, exp2(0) = 2^15 */
#define FLOE_SOFTMAX_PROB_BITS 15 /* probabilities: Q15 in int16, 1.0 saturates to 32767 */
#define FLOE_SOFTMAX_MAX_LEN 65536 /* the sum of exponentials stays below 2^31 */

/* The 256-entry table T (exported so the RTL generator and docs print the same values). */
extern const uint16_t floe_exp2_table[256];

/* 2^(x / 256) in Q15 for x <= 0 (x > 0 is treated as 0). */
uint32_t floe_exp2_neg(int32_t x);

/* Softmax of one row of n (1..65536) scores in exp2 fixed point (see above):
 *   mx = max z; e_i = exp2(z_i - mx) (differences below INT32_MIN saturate); S = sum e_i (< 2^32);
 *   (m, k) = recip(S); p_i = clamp(round_half_up(e_i * m / 2^(k - 15)), 0, 32767).
 * p is Q15: the row sums to about 32768. */
void floe_softmax_row(int16_t *p, const int32_t *z, size_t n);

#ifdef __cplusplus
}
#endif

#endif
