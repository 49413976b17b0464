#include "isa/rope.h"

#include <math.h>
#include <stdlib.h>

#include "isa/quantize.h"
#include "isa/saturate.h"

int floe_rope_table_build(floe_rope_table *t, int n_pos, int head_dim, double theta, floe_err *err)
{
    t->cos = t->sin = NULL;
    if (head_dim <= 0 || head_dim % 2)
        return floe_err_set(err, "rope: head_dim must be positive and even, got %d", head_dim);
    if (n_pos <= 0 || n_pos > (1 << 24))
        return floe_err_set(err, "rope: number of positions must be in [1, 2^24], got %d", n_pos);
    if (!(theta > 1.0) || !isfinite(theta))
        return floe_err_set(err, "rope: theta must be a finite number above 1, got %g", theta);
    int h = head_dim / 2;
    t->n_pos = n_pos;
    t->half_dim = h;
    t->cos = malloc(sizeof(int16_t) * (size_t)n_pos * h);
    t->sin = malloc(sizeof(int16_t) * (size_t)n_pos * h);
    if (!t->cos || !t->sin) {
        floe_rope_table_free(t);
        return floe_err_set(err, "rope: out of memory for %d x %d tables", n_pos, h);
    }
    const int32_t one = 1 << FLOE_ROPE_FRAC_BITS;
    for (int i = 0; i < h; i++) {
        double inv_freq = pow(theta, -(2.0 * i) / head_dim);
        for (int p = 0; p < n_pos; p++) {
            double a = p * inv_freq;
            t->cos[(size_t)p * h + i] = (int16_t)floe_round_clamp_d(cos(a) * one, -one, one);
            t->sin[(size_t)p * h + i] = (int16_t)floe_round_clamp_d(sin(a) * one, -one, one);
        }
    }
    return 0;
}

void floe_rope_table_free(floe_rope_table *t)
{
    free(t->cos);
    free(t->sin);
    t->cos = t->sin = NULL;
}

void floe_rope_rotate_i16(int16_t *x, const floe_rope_table *t, int pos)
{
    const int h = t->half_dim;
    const int16_t *c = t->cos + (size_t)pos * h;
    const int16_t *s = t->sin + (size_t)pos * h;
    const int32_t half = 1 << (FLOE_ROPE_FRAC_BITS - 1);
    for (int i = 0; i < h; i++) {
        int32_t a = x[i], b = x[i + h];
        int32_t ya = (a * c[i] - b * s[i] + half) >> FLOE_ROPE_FRAC_BITS;
        int32_t yb = (b * c[i] + a * s[i] + half) >> FLOE_ROPE_FRAC_BITS;
        x[i] = floe_sat_i16(ya);
        x[i + h] = floe_sat_i16(yb);
    }
}
