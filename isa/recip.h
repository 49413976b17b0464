/* Integer square root, reciprocal and reciprocal square root (docs/numerics.md §4).
 *
 * Reciprocal and rsqrt return a multiplier in the requant form (isa/requant.h), so the following
 * multiply is one requantization: a softmax divides by its sum, an RMSNorm by its root mean square.
 * Both are exactly rounded (half up) to a 31-bit mantissa: within 0.5 LSB of the mantissa, i.e. a
 * relative error below 2^-31, with no dependence on any float library.
 */
#ifndef FLOE_ISA_RECIP_H
#define FLOE_ISA_RECIP_H

#include <stdint.h>

#include "isa/requant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* floor(sqrt(x)), exact, by the digit-by-digit method. */
uint32_t floe_isqrt64(uint64_t x);

/* 1/x for x >= 1: lz = clz32(x), xn = x << lz in [2^31, 2^32),
 * m = round_half_up(2^62 / xn) = floor((2^63 + xn) / (2 xn)), shift = 62 - lz;
 * m = 2^31 (x a power of two) becomes m = 2^30, shift - 1. x = 0 gives {2^31 - 1, 0} (saturated). */
floe_requant_mult floe_recip_u32(uint32_t x);

/* 1/sqrt(x) for x >= 1: lz = clz64(x) rounded down to even, xn = x << lz in [2^62, 2^64),
 * m = round_half_up(2^62 / sqrt(xn)) = (isqrt(floor(2^126 / xn)) + 1) >> 1, shift = 62 - lz/2;
 * m = 2^31 (x a power of four) becomes m = 2^30, shift - 1. x = 0 gives {2^31 - 1, 0}. */
floe_requant_mult floe_rsqrt_u64(uint64_t x);

#ifdef __cplusplus
}
#endif

#endif
