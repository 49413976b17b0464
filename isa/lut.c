#include "isa/lut.h"

#include "isa/quantize.h"
#include "isa/saturate.h"

void floe_lut8_build(floe_lut8 *t, floe_real_fn fn, const void *ctx, double s_in, double s_out,
                     int out_bits)
{
    int32_t hi = (1 << (out_bits - 1)) - 1, lo = -hi - 1;
    for (int i = 0; i < 256; i++)
        t->v[i] = (int16_t)floe_round_clamp_d(fn((i - 128) * s_in, ctx) / s_out, lo, hi);
}

void floe_lut16_build(floe_lut16 *t, floe_real_fn fn, const void *ctx, double s_in, double s_out,
                      int out_bits)
{
    t->hi = (1 << (out_bits - 1)) - 1;
    t->lo = -t->hi - 1;
    const double h = 256.0 * s_in; /* knot spacing in real units */
    for (int k = 0; k < FLOE_LUT16_KNOTS; k++) {
        double x = (-32768.0 + 256.0 * k) * s_in;
        double f0 = fn(x, ctx);
        /* A chord between two knots sags by about h^2 f''/8 at mid-segment; lowering each knot by
         * half of that (the second difference / 16) splits the error evenly on both sides. */
        double d2 = fn(x - h, ctx) - 2.0 * f0 + fn(x + h, ctx);
        t->v[k] = floe_round_clamp_d((f0 - d2 / 16.0) / s_out, -FLOE_LUT16_KNOT_LIMIT, FLOE_LUT16_KNOT_LIMIT);
    }
}
