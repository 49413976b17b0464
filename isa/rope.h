/* Rotary position embedding in fixed point (docs/numerics.md §7).
 *
 * Tables: for position p and frequency index i < head_dim/2, angle = p * theta^(-2i/head_dim) (double)
 * (llama3 scaling: p * floe_rope_llama3_freq(i, ...) instead),
 *   c[p][i] = round_half_up(cos(angle) * 2^14),  s[p][i] = round_half_up(sin(angle) * 2^14)   (Q14).
 * Rotation of an int16 head vector x in the Hugging Face "rotate_half" convention (h = head_dim/2):
 *   y[i]     = sat16(floor((x[i]   * c - x[i+h] * s + 2^13) / 2^14))
 *   y[i + h] = sat16(floor((x[i+h] * c + x[i]   * s + 2^13) / 2^14))
 * Every product fits in int32 (|x c| <= 2^29) and so does the sum. The tables are exported with the
 * model, like every other table.
 */
#ifndef FLOE_ISA_ROPE_H
#define FLOE_ISA_ROPE_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_ROPE_FRAC_BITS 14

typedef struct floe_rope_table {
    int n_pos;     /* positions 0..n_pos-1 */
    int half_dim;  /* head_dim / 2 */
    int16_t *cos;  /* [n_pos][half_dim], Q14; owned */
    int16_t *sin;  /* [n_pos][half_dim], Q14; owned */
} floe_rope_table;

/* Builds the tables. head_dim must be even and positive; theta > 1. Returns 0 or -1 with err set.
 * The same bits as floe_rope_table_build_freq with inv_freq[i] = pow(theta, -(2.0 * i) / head_dim). */
int floe_rope_table_build(floe_rope_table *t, int n_pos, int head_dim, double theta, floe_err *err);

/* Builds the tables from given inverse frequencies inv_freq[head_dim / 2] (double, each finite and
 * positive): angle = p * inv_freq[i] (double), then cos and sin as above. For scaled RoPE (llama3,
 * floe_rope_llama3_inv_freq): the rotation itself does not change, only the angles. */
int floe_rope_table_build_freq(floe_rope_table *t, int n_pos, int head_dim, const double *inv_freq, floe_err *err);

/* Llama 3.1's scaled inverse frequency i (transformers' _compute_llama3_parameters), in double; the
 * float trainer's RoPE (trainer/rope.h) and the integer tables both take them from here. With
 * f_i = pow(theta, -2.0 * i / hd), wavelength w_i = 2 pi / f_i, L = original context,
 *   w_i > L / low_freq_factor (low frequencies):   f_i / factor
 *   w_i < L / high_freq_factor (high frequencies): f_i
 *   otherwise:  (1 - s) f_i / factor + s f_i,  s = (L / w_i - low_freq_factor) / (high_freq_factor - low_freq_factor)
 * each evaluated left to right in double exactly as written (docs/numerics.md §7). */
double floe_rope_llama3_freq(int i, int hd, double theta, double factor, double low_freq_factor,
                             double high_freq_factor, int original_context);
/* All hd/2 of them into inv_freq[hd/2]. */
void floe_rope_llama3_inv_freq(double *inv_freq, int hd, double theta, double factor, double low_freq_factor,
                               double high_freq_factor, int original_context);
void floe_rope_table_free(floe_rope_table *t);

/* Rotates one head vector (2 * half_dim values) for position pos, in place. */
void floe_rope_rotate_i16(int16_t *x, const floe_rope_table *t, int pos);

#ifdef __cplusplus
}
#endif

#endif
