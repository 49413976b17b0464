/* Integer RMSNorm of one row (docs/numerics.md §8).
 *
 * Real RMSNorm: y_j = g_j * x_j / sqrt(mean(x^2) + eps). With x = s_x * q (q int16) and an output step
 * s_y, this is exactly
 *   y_j / s_y = q_j * C_j / sqrt(sum_k q_k^2 + E),   C_j = g_j * sqrt(d) / s_y,   E = eps * d / s_x^2
 * and the integer version is
 *   S = sum_k q_k^2 (uint64) + E_q,  E_q = max(1, round_half_up(E))
 *   R = rsqrt(S)                         (isa/recip.h)
 *   M_j = R * C_j                        (floe_requant_mult_mul: one rounding)
 *   y_j = clamp(requant(q_j, M_j), lo, hi)
 * C is one multiplier (gains folded into the next linear layer) or one per channel.
 */
#ifndef FLOE_ISA_RMSNORM_H
#define FLOE_ISA_RMSNORM_H

#include <stddef.h>
#include <stdint.h>

#include "isa/requant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* E_q for eps, row length d and input step s_x (>= 1, saturates at 2^62). */
uint64_t floe_rmsnorm_eps_q(double eps, size_t d, double s_x);

void floe_rmsnorm_row(int32_t *y, const int16_t *q, size_t d, uint64_t eps_q, const floe_requant_mult *c,
                      int per_channel, int32_t lo, int32_t hi);

#ifdef __cplusplus
}
#endif

#endif
