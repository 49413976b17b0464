/* Fixed-point requantization (docs/numerics.md §2): the one place where a scale changes.
 *
 * A positive real multiplier M (for a linear layer, s_in * s_w / s_out) is held as an int32 mantissa
 * m and a right shift: M ~= m * 2^-shift, with
 *   m in [2^30, 2^31) and shift in [0, 62]            (normalised), or
 *   m in [0, 2^30)    and shift = 62                   (M < 2^-32: precision degrades gracefully).
 * The result of requantizing an int32 accumulator is
 *   out = clamp( floor( (acc * m + 2^(shift-1)) / 2^shift ), lo, hi )      (shift > 0)
 *   out = clamp( acc * m, lo, hi )                                         (shift = 0)
 * i.e. acc * m / 2^shift rounded half up (towards +infinity on ties), computed exactly in 64 bits
 * (|acc * m| < 2^62, plus the rounding term < 2^61: no overflow), then saturated. One rounding, one
 * rule, everywhere in Floe.
 */
#ifndef FLOE_ISA_REQUANT_H
#define FLOE_ISA_REQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "isa/saturate.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_REQUANT_MAX_SHIFT 62

typedef struct floe_requant_mult {
    int32_t m;     /* mantissa, 0 <= m < 2^31 */
    int32_t shift; /* right shift, 0..62 */
} floe_requant_mult;

/* acc * m / 2^shift rounded half up, before saturation. Exact for every int32 acc. */
static inline int64_t floe_requant_raw(int32_t acc, floe_requant_mult q)
{
    int64_t p = (int64_t)acc * (int64_t)q.m;
    if (q.shift == 0)
        return p;
    /* Arithmetic right shift of a negative value is floor division in gcc and clang (documented
     * implementation-defined behaviour; checked by tests/isa/test_requant.c). */
    return (p + ((int64_t)1 << (q.shift - 1))) >> q.shift;
}

/* Requantize and saturate to [lo, hi]. */
static inline int32_t floe_requant(int32_t acc, floe_requant_mult q, int32_t lo, int32_t hi)
{
    return floe_clamp_i32(floe_requant_raw(acc, q), lo, hi);
}

/* Requantize and saturate to a signed width of `bits` bits (2..32). */
static inline int32_t floe_requant_bits(int32_t acc, floe_requant_mult q, int bits)
{
    return floe_sat_bits(floe_requant_raw(acc, q), bits);
}

/* Converts a real multiplier: m = round-half-up(f * 2^31) for M = f * 2^e, f in [0.5, 1).
 * Returns 0, or -1 when M is negative, not finite, or >= 2^31 (not representable). M = 0 gives {0, 0}. */
int floe_requant_mult_from_real(double M, floe_requant_mult *out);

/* The exact real value m * 2^-shift. */
double floe_requant_mult_to_real(floe_requant_mult q);

/* Product of two multipliers, renormalised with one round-half-up: the result is the multiplier
 * closest (ties up) to a.m * b.m * 2^-(a.shift + b.shift) that has the form above. A product of
 * 2^31 or more saturates to {2^31 - 1, 0}. */
floe_requant_mult floe_requant_mult_mul(floe_requant_mult a, floe_requant_mult b);

/* Requantizes a [rows x channels] accumulator matrix (row-major) to [lo, hi].
 * mult has `channels` entries when per_channel is non-zero (one per output channel), else one. */
void floe_requant_matrix(int32_t *out, const int32_t *acc, size_t rows, size_t channels,
                         const floe_requant_mult *mult, int per_channel, int32_t lo, int32_t hi);

#ifdef __cplusplus
}
#endif

#endif
