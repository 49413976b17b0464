#include "isa/silu.h"

#include <math.h>
#include <stddef.h>

double floe_silu_ref(double x) { return x / (1.0 + exp(-x)); }

static double silu_fn(double x, const void *ctx)
{
    (void)ctx;
    return floe_silu_ref(x);
}

void floe_silu_lut8_build(floe_lut8 *t, double s_in, double s_out, int out_bits)
{
    floe_lut8_build(t, silu_fn, NULL, s_in, s_out, out_bits);
}

void floe_silu_lut16_build(floe_lut16 *t, double s_in, double s_out, int out_bits)
{
    floe_lut16_build(t, silu_fn, NULL, s_in, s_out, out_bits);
}
