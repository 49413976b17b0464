/* Rotary position embedding, Hugging Face "rotate_half" convention, applied in place.
 *
 * Tables cos, sin: [T, hd/2] row-major, angle(p, i) = p * theta^(-2i/hd), computed in double and
 * stored as float (floe_rope_tables). For each head vector x of size hd (h = hd/2) at position t:
 *   x[i] <- x[i] cos - x[i+h] sin        x[i+h] <- x[i+h] cos + x[i] sin
 * x: [B, T, NH, hd] row-major (positions 0..T-1 in every sequence).
 * Backward applies the transposed rotation to the gradient, in place:
 *   dx[i] <- dx[i] cos + dx[i+h] sin     dx[i+h] <- dx[i+h] cos - dx[i] sin
 * RoPE has no parameters and needs no saved input, hence in place on both passes.
 */
#ifndef FLOE_TRAINER_ROPE_H
#define FLOE_TRAINER_ROPE_H

#include "isa/rope.h" /* floe_rope_llama3_freq: the float and integer RoPE share the frequencies */
#include "models/model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_ROPE_THETA 10000.0

void floe_rope_tables(float *cos_tab, float *sin_tab, int T, int hd, double theta);

/* The tables for a config: floe_rope_tables for FLOE_ROPE_DEFAULT (the same bits); for FLOE_ROPE_LLAMA3,
 * angle(p, i) = p * floe_rope_llama3_freq(i, ...) (isa/rope.h), in double, stored as float. */
void floe_rope_tables_cfg(float *cos_tab, float *sin_tab, int T, const floe_model_config *cfg);
void floe_rope_forward(float *x, const float *cos_tab, const float *sin_tab, int B, int T, int NH, int hd);
void floe_rope_backward(float *dx, const float *cos_tab, const float *sin_tab, int B, int T, int NH, int hd);

#ifdef __cplusplus
}
#endif

#endif
