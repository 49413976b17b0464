/* Saturating casts and int4 packing: the narrowing rules of the numeric contract (docs/numerics.md §1).
 *
 * Every narrowing in Floe saturates: a value outside the target range becomes the nearest end of the
 * range. int4 values travel packed two per byte, element 2i in bits 3..0 and element 2i+1 in bits 7..4,
 * each in two's complement.
 */
#ifndef FLOE_ISA_SATURATE_H
#define FLOE_ISA_SATURATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Clamp to the signed range of `bits` bits, 2 <= bits <= 32: [-2^(bits-1), 2^(bits-1) - 1]. */
static inline int32_t floe_sat_bits(int64_t v, int bits)
{
    int64_t hi = ((int64_t)1 << (bits - 1)) - 1;
    int64_t lo = -hi - 1;
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

/* Clamp to [lo, hi]. */
static inline int32_t floe_clamp_i32(int64_t v, int32_t lo, int32_t hi)
{
    return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

static inline int8_t floe_sat_i4(int64_t v) { return (int8_t)floe_sat_bits(v, 4); }
static inline int8_t floe_sat_i8(int64_t v) { return (int8_t)floe_sat_bits(v, 8); }
static inline int16_t floe_sat_i16(int64_t v) { return (int16_t)floe_sat_bits(v, 16); }
static inline int32_t floe_sat_i32(int64_t v) { return floe_sat_bits(v, 32); }

/* Packs two int4 values (each already in [-8, 7]; only the low 4 bits are kept). */
static inline uint8_t floe_pack_i4(int8_t lo, int8_t hi)
{
    return (uint8_t)(((uint8_t)lo & 0x0Fu) | (((uint8_t)hi & 0x0Fu) << 4));
}

/* Sign-extends the low or high nibble of a packed byte. */
static inline int8_t floe_unpack_i4_lo(uint8_t b) { return (int8_t)((b & 0x0F) ^ 0x08) - 8; }
static inline int8_t floe_unpack_i4_hi(uint8_t b) { return (int8_t)((b >> 4) ^ 0x08) - 8; }

/* Packs n int4 values (saturating each first) into (n + 1) / 2 bytes; an odd tail's high nibble is 0. */
void floe_pack_i4_array(uint8_t *dst, const int8_t *src, size_t n);
/* Unpacks n int4 values from (n + 1) / 2 bytes. */
void floe_unpack_i4_array(int8_t *dst, const uint8_t *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif
