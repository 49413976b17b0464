/* IEEE binary16 (F16) and bfloat16 (BF16) <-> binary32, exact bit manipulation (no libm, no
 * hardware conversion instructions, so every compiler and machine gives the same bits).
 * Widening is exact for every input, subnormals, infinities and NaNs included (NaN payloads are
 * kept). Narrowing rounds to nearest, ties to even; overflow gives infinity; NaNs stay (quiet) NaNs.
 */
#ifndef FLOE_MODELS_HALF_H
#define FLOE_MODELS_HALF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

float floe_f16_to_f32(uint16_t h);
uint16_t floe_f32_to_f16(float f);
float floe_bf16_to_f32(uint16_t b);
uint16_t floe_f32_to_bf16(float f);

#ifdef __cplusplus
}
#endif

#endif
