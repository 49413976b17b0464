#include "isa/saturate.h"

void floe_pack_i4_array(uint8_t *dst, const int8_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 1 < n; i += 2)
        dst[i / 2] = floe_pack_i4(floe_sat_i4(src[i]), floe_sat_i4(src[i + 1]));
    if (i < n)
        dst[i / 2] = floe_pack_i4(floe_sat_i4(src[i]), 0);
}

void floe_unpack_i4_array(int8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (i & 1) ? floe_unpack_i4_hi(src[i / 2]) : floe_unpack_i4_lo(src[i / 2]);
}
