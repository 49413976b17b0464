/* Rotary position embedding in fixed point (docs/numerics.md §7).
 *
 * Tables: for position p and frequency index i < head_dim/2, angle = p * theta^(-2i/head_dim) (double),
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

/* Builds the tables. head_dim must be even and positive; theta > 1. Returns 0 or -1 with err set. */
int floe_rope_table_build(floe_rope_table *t, int n_pos, int head_dim, double theta, floe_err *err);
void floe_rope_table_free(floe_rope_table *t);

/* Rotates one head vector (2 * half_dim values) for position pos, in place. */
void floe_rope_rotate_i16(int16_t *x, const floe_rope_table *t, int pos);

#ifdef __cplusplus
}
#endif

#endif
