/* Lookup tables for elementwise nonlinearities (docs/numerics.md §6).
 *
 * A table is built once from a real function and the input and output step sizes, by the trainer or
 * compiler, and exported with the model: the chip and the trainer's integer forward apply the same
 * table bits, so they agree exactly whatever libm did while building it.
 *
 * lut8:  int8 input x, output v[x + 128] (any width up to 16 bits).
 * lut16: int16 input x, 257 knots at x_k = -32768 + 256 k, linear interpolation between knots:
 *          u = x + 32768, k = u >> 8, f = u & 255
 *          y = clamp(v[k] + floor(((v[k+1] - v[k]) * f + 128) / 256), lo, hi)
 *        (the knot at k = 256, x = +32768, is one past the int16 range and exists for interpolation).
 */
#ifndef FLOE_ISA_LUT_H
#define FLOE_ISA_LUT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_LUT16_KNOTS 257
#define FLOE_LUT16_KNOT_LIMIT (1 << 20) /* knots are clamped to +-2^20 so products stay in int32 */

typedef struct floe_lut8 {
    int16_t v[256];
} floe_lut8;

typedef struct floe_lut16 {
    int32_t v[FLOE_LUT16_KNOTS];
    int32_t lo, hi; /* output saturation range */
} floe_lut16;

typedef double (*floe_real_fn)(double x, const void *ctx);

static inline int16_t floe_lut8_apply(const floe_lut8 *t, int8_t x) { return t->v[x + 128]; }

static inline int32_t floe_lut16_apply(const floe_lut16 *t, int16_t x)
{
    int32_t u = (int32_t)x + 32768;
    int32_t k = u >> 8, f = u & 255;
    int32_t d = t->v[k + 1] - t->v[k];
    int32_t y = t->v[k] + ((d * f + 128) >> 8); /* |d * f| < 2^29: exact */
    return y < t->lo ? t->lo : y > t->hi ? t->hi : y;
}

/* v[i] = clamp(round_half_up(fn((i - 128) * s_in) / s_out)) to the signed out_bits range (2..16). */
void floe_lut8_build(floe_lut8 *t, floe_real_fn fn, const void *ctx, double s_in, double s_out,
                     int out_bits);

/* v[k] = round_half_up((f(x_k) - (f(x_k - h) - 2 f(x_k) + f(x_k + h)) / 16) / s_out), f(x) = fn(x s_in)
 * in real units, h the knot spacing: the knot sits below the curve by half the chord's sag. Knots
 * are clamped to +-2^20; the output range is signed out_bits. */
void floe_lut16_build(floe_lut16 *t, floe_real_fn fn, const void *ctx, double s_in, double s_out,
                      int out_bits);

#ifdef __cplusplus
}
#endif

#endif
