#include "isa/vmm.h"

#include "isa/saturate.h"

void floe_vmm_i8_i4_ref(int32_t *acc, const int8_t *x, const uint8_t *w_packed, size_t K, size_t N)
{
    size_t row_bytes = (K + 1) / 2;
    for (size_t n = 0; n < N; n++) {
        const uint8_t *row = w_packed + n * row_bytes;
        int32_t a = acc[n];
        for (size_t k = 0; k < K; k++) {
            int8_t w = (k & 1) ? floe_unpack_i4_hi(row[k / 2]) : floe_unpack_i4_lo(row[k / 2]);
            a = floe_mac_wrap(a, x[k], w);
        }
        acc[n] = a;
    }
}

void floe_vmm_i8_i8_ref(int32_t *acc, const int8_t *x, const int8_t *w, size_t K, size_t N)
{
    for (size_t n = 0; n < N; n++) {
        int32_t a = acc[n];
        for (size_t k = 0; k < K; k++)
            a = floe_mac_wrap(a, x[k], w[n * K + k]);
        acc[n] = a;
    }
}

void floe_vmm_i16_i8_ref(int32_t *acc, const int16_t *x, const int8_t *w, size_t K, size_t N)
{
    for (size_t n = 0; n < N; n++) {
        int32_t hi = 0, lo = 0;
        for (size_t k = 0; k < K; k++) {
            int32_t xh = (int32_t)x[k] >> 8;   /* signed high byte */
            int32_t xl = (int32_t)x[k] & 0xFF; /* unsigned low byte */
            hi = floe_mac_wrap(hi, xh, w[n * K + k]);
            lo = floe_mac_wrap(lo, xl, w[n * K + k]);
        }
        acc[n] = (int32_t)((uint32_t)acc[n] + ((uint32_t)hi << 8) + (uint32_t)lo);
    }
}
