/* Per-token (dynamic) activation scaling by a power of two (docs/numerics.md §10).
 *
 * A linear-layer input with learned step s may be stored per token row t with the step
 * s_t = s * 2^-k_t, k_t in [0, K]. The row is produced by a requantization of wide integers with one
 * multiplier M = {m, shift}; with per-token scaling it uses M * 2^k_t = {m, shift - k_t} (exact), and
 *   k_t = the largest k in [0, min(K, shift)] with round_half_up(amax_t * m / 2^(shift - k)) <= hi
 * where amax_t = max_i |wide_t[i]| and hi = 2^(b-1) - 1 (0 when no k qualifies). Requantization is
 * monotone in |x|, so the row's largest magnitude decides: for k_t > 0 no element saturates. The
 * consuming linear layer requantizes row t with its per-channel multipliers {m_n, shift_n + k_t}
 * (exactly s_t s_w[n] / s_out), a right shift of 63 or more giving 0 (the exact rounding: |acc m| <
 * 2^62). k_t travels with the row as one signed byte after it.
 */
#ifndef FLOE_ISA_TOKEN_H
#define FLOE_ISA_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "isa/requant.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_TOKEN_K_MAX 8     /* the largest K the contract allows */
#define FLOE_TOKEN_K_DEFAULT 4 /* the default K (docs/numerics.md §10) */

/* The per-token shift of a row whose largest magnitude is amax (<= 2^31), produced by M, into a
 * signed range whose top is hi; K in 0..FLOE_TOKEN_K_MAX. */
int floe_token_k(uint64_t amax, floe_requant_mult M, int K, int32_t hi);

/* M * 2^k (k <= M.shift): the producer's multiplier for a row with shift k. */
static inline floe_requant_mult floe_token_mult_up(floe_requant_mult M, int k)
{
    return (floe_requant_mult){M.m, M.shift - k};
}

/* acc * m / 2^(shift + k) rounded half up (k >= 0): the consumer's requantization of row t before
 * saturation. A total shift of 63 or more gives 0. */
static inline int64_t floe_requant_raw_k(int32_t acc, floe_requant_mult q, int k)
{
    int s = q.shift + k;
    if (s > 62)
        return 0;
    return floe_requant_raw(acc, (floe_requant_mult){q.m, s});
}

static inline int32_t floe_requant_k(int32_t acc, floe_requant_mult q, int k, int32_t lo, int32_t hi)
{
    return floe_clamp_i32(floe_requant_raw_k(acc, q, k), lo, hi);
}

/* Requantizes one row of n wide values by M with per-token scaling into [lo, hi] (lo = -hi - 1):
 * picks k (floe_token_k over max |x|) and writes clamp(requant(x, M * 2^k)). Returns k. */
int floe_token_requant_row(int32_t *out, const int32_t *x, size_t n, floe_requant_mult M, int K, int32_t lo,
                           int32_t hi);

/* RMSNorm of one int16 row (numerics §8, one multiplier C) with per-token scaling: the row's
 * multiplier M = rsqrt(S) * C, k from max |q|, then y = clamp(requant(q, M * 2^k)). Returns k. */
int floe_rmsnorm_row_token(int32_t *y, const int16_t *q, size_t d, uint64_t eps_q, floe_requant_mult c, int K,
                           int32_t lo, int32_t hi);

#ifdef __cplusplus
}
#endif

#endif
