#include "models/half.h"

#include <string.h>

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float floe_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) {
        if (man == 0)
            return from_bits(sign);
        /* Subnormal man * 2^-24: shift until the implicit bit appears; each shift lowers the exponent. */
        int e = -14;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        return from_bits(sign | (uint32_t)(e + 127) << 23 | (man & 0x3ffu) << 13);
    }
    if (exp == 31)
        return from_bits(sign | 0x7f800000u | man << 13);
    return from_bits(sign | (exp - 15 + 127) << 23 | man << 13);
}

uint16_t floe_f32_to_f16(float f)
{
    uint32_t x = to_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* NaN: keep the top payload bits, force quiet so it stays a NaN */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    if (x >= 0x477ff000u) /* >= 65520 rounds to infinity (65504 is the largest half) */
        return (uint16_t)(sign | 0x7c00u);
    if (x >= 0x38800000u) { /* normal half: >= 2^-14 */
        uint32_t h = ((x >> 23) - 127 + 15) << 10 | (x & 0x7fffffu) >> 13, rem = x & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++; /* a carry into the exponent is the correct result */
        return (uint16_t)(sign | h);
    }
    if (x <= 0x33000000u) /* <= 2^-25: rounds to zero (2^-25 itself is a tie, zero is even) */
        return sign;
    /* Subnormal half: count units of 2^-24. */
    uint32_t exp = x >> 23, m = (x & 0x7fffffu) | 0x800000u, shift = 126 - exp;
    uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

float floe_bf16_to_f32(uint16_t b) { return from_bits((uint32_t)b << 16); }

uint16_t floe_f32_to_bf16(float f)
{
    uint32_t x = to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}
