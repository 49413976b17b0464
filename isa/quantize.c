#include "isa/quantize.h"

int floe_qrange(int bits, int is_signed, int32_t *lo, int32_t *hi)
{
    if (bits < 2 || bits > 16)
        return -1;
    if (is_signed) {
        *lo = -(1 << (bits - 1));
        *hi = (1 << (bits - 1)) - 1;
    } else {
        *lo = 0;
        *hi = (1 << bits) - 1;
    }
    return 0;
}

void floe_quantize_array_f(int32_t *q, const float *v, size_t n, float step, int32_t lo, int32_t hi)
{
    for (size_t i = 0; i < n; i++)
        q[i] = floe_quantize_f(v[i], step, lo, hi);
}

void floe_dequantize_array_f(float *v, const int32_t *q, size_t n, float step)
{
    for (size_t i = 0; i < n; i++)
        v[i] = floe_dequantize_f(q[i], step);
}

void floe_fake_quantize_array_f(float *v, size_t n, float step, int32_t lo, int32_t hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = floe_dequantize_f(floe_quantize_f(v[i], step, lo, hi), step);
}
