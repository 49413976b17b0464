/* SiLU, silu(x) = x / (1 + e^-x), as lookup tables (docs/numerics.md §6): lut8 for an int8 input,
 * interpolated lut16 for an int16 input. The tables are what the chip runs; floe_silu_ref is the real
 * function they approximate. */
#ifndef FLOE_ISA_SILU_H
#define FLOE_ISA_SILU_H

#include "isa/lut.h"

#ifdef __cplusplus
extern "C" {
#endif

double floe_silu_ref(double x);

/* Tables for input step s_in and output step s_out, signed out_bits output (<= 16). */
void floe_silu_lut8_build(floe_lut8 *t, double s_in, double s_out, int out_bits);
void floe_silu_lut16_build(floe_lut16 *t, double s_in, double s_out, int out_bits);

#ifdef __cplusplus
}
#endif

#endif
