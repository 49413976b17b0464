#include "isa/recip.h"

uint32_t floe_isqrt64(uint64_t x)
{
    uint64_t res = 0, one = (uint64_t)1 << 62;
    while (one > x)
        one >>= 2;
    while (one) {
        if (x >= res + one) {
            x -= res + one;
            res = (res >> 1) + one;
        } else {
            res >>= 1;
        }
        one >>= 2;
    }
    return (uint32_t)res;
}

static floe_requant_mult renormalise(uint64_t m, int shift)
{
    if (m == ((uint64_t)1 << 31)) {
        m >>= 1;
        shift -= 1;
    }
    return (floe_requant_mult){(int32_t)m, shift};
}

floe_requant_mult floe_recip_u32(uint32_t x)
{
    if (x == 0)
        return (floe_requant_mult){INT32_MAX, 0};
    int lz = __builtin_clz(x);
    uint64_t xn = (uint64_t)x << lz;
    uint64_t m = (((uint64_t)1 << 63) + xn) / (2 * xn);
    return renormalise(m, 62 - lz);
}

floe_requant_mult floe_rsqrt_u64(uint64_t x)
{
    if (x == 0)
        return (floe_requant_mult){INT32_MAX, 0};
    int lz = __builtin_clzll(x) & ~1;
    uint64_t xn = x << lz;
    uint64_t a;
    if (xn == ((uint64_t)1 << 62)) {
        a = (uint64_t)1 << 32; /* floor(2^126 / 2^62) = 2^64 does not fit: its root is exact */
    } else {
        __extension__ typedef unsigned __int128 u128;
        uint64_t q = (uint64_t)(((u128)1 << 126) / xn); /* < 2^64 for xn > 2^62 */
        a = floe_isqrt64(q);
    }
    return renormalise((a + 1) >> 1, 62 - lz / 2);
}
