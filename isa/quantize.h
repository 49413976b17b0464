/* Quantize and dequantize float values with a step size: the trainer's side of the numeric contract
 * (docs/numerics.md §3). The rounding rule is the chip's: half up, floor(v/s + 1/2), computed without
 * the inexact add (so 0.49999997f rounds to 0, not 1).
 *
 *   q = clamp(round_half_up(v / s), lo, hi)     v / s is one IEEE division in the float's precision
 *   v_hat = q * s
 * NaN quantizes to 0; +-infinity saturates.
 */
#ifndef FLOE_ISA_QUANTIZE_H
#define FLOE_ISA_QUANTIZE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The integer range of a b-bit quantizer (2 <= bits <= 16): signed [-2^(b-1), 2^(b-1) - 1]
 * (LSQ's -Q_N, Q_P), unsigned [0, 2^b - 1]. Returns -1 for an unsupported width. */
int floe_qrange(int bits, int is_signed, int32_t *lo, int32_t *hi);

/* round-half-up to an integer, clamped to [lo, hi]; NaN gives 0 clamped into range. */
static inline int32_t floe_round_clamp_f(float x, int32_t lo, int32_t hi)
{
    if (x != x)
        return lo > 0 ? lo : hi < 0 ? hi : 0;
    if (x >= (float)hi)
        return hi;
    if (x <= (float)lo)
        return lo;
    float r = floorf(x);
    return (int32_t)r + ((x - r) >= 0.5f ? 1 : 0); /* x - r is exact for |x| < 2^24 */
}

static inline int32_t floe_round_clamp_d(double x, int32_t lo, int32_t hi)
{
    if (x != x)
        return lo > 0 ? lo : hi < 0 ? hi : 0;
    if (x >= (double)hi)
        return hi;
    if (x <= (double)lo)
        return lo;
    double r = floor(x);
    return (int32_t)r + ((x - r) >= 0.5 ? 1 : 0);
}

static inline int32_t floe_quantize_f(float v, float step, int32_t lo, int32_t hi)
{
    return floe_round_clamp_f(v / step, lo, hi);
}

static inline float floe_dequantize_f(int32_t q, float step) { return (float)q * step; }

/* Arrays: q[i] = quantize(v[i], step), v_hat[i] = dequantize(q[i]). */
void floe_quantize_array_f(int32_t *q, const float *v, size_t n, float step, int32_t lo, int32_t hi);
void floe_dequantize_array_f(float *v, const int32_t *q, size_t n, float step);
/* Fake quantization in place: v[i] = q * step (the value the integer model sees). */
void floe_fake_quantize_array_f(float *v, size_t n, float step, int32_t lo, int32_t hi);

#ifdef __cplusplus
}
#endif

#endif
