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
    if (!(theta > 1.0) || !isfinite(theta))
        return floe_err_set(err, "rope: theta must be a finite number above 1, got %g", theta);
    int h = head_dim / 2;
    double *inv_freq = malloc(sizeof(double) * (size_t)h);
    if (!inv_freq)
        return floe_err_set(err, "rope: out of memory for %d frequencies", h);
    for (int i = 0; i < h; i++)
        inv_freq[i] = pow(theta, -(2.0 * i) / head_dim);
    int rc = floe_rope_table_build_freq(t, n_pos, head_dim, inv_freq, err);
    free(inv_freq);
    return rc;
}

int floe_rope_table_build_freq(floe_rope_table *t, int n_pos, int head_dim, const double *inv_freq, floe_err *err)
{
    t->cos = t->sin = NULL;
    if (head_dim <= 0 || head_dim % 2)
        return floe_err_set(err, "rope: head_dim must be positive and even, got %d", head_dim);
    if (n_pos <= 0 || n_pos > (1 << 24))
        return floe_err_set(err, "rope: number of positions must be in [1, 2^24], got %d", n_pos);
    int h = head_dim / 2;
    for (int i = 0; i < h; i++)
        if (!(inv_freq[i] > 0.0) || !isfinite(inv_freq[i]))
            return floe_err_set(err, "rope: inverse frequency %d is %g (must be positive and finite)", i, inv_freq[i]);
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
        const double f = inv_freq[i];
        for (int p = 0; p < n_pos; p++) {
            double a = p * f;
            t->cos[(size_t)p * h + i] = (int16_t)floe_round_clamp_d(cos(a) * one, -one, one);
            t->sin[(size_t)p * h + i] = (int16_t)floe_round_clamp_d(sin(a) * one, -one, one);
        }
    }
    return 0;
}

double floe_rope_llama3_freq(int i, int hd, double theta, double factor, double low_freq_factor,
                             double high_freq_factor, int original_context)
{
    const double pi = 3.14159265358979323846, L = (double)original_context;
    const double low = low_freq_factor, high = high_freq_factor;
    double f = pow(theta, -2.0 * i / hd), w = 2.0 * pi / f;
    if (w > L / low)
        return f / factor;
    if (w < L / high)
        return f;
    double s = (L / w - low) / (high - low);
    return (1.0 - s) * f / factor + s * f;
}

void floe_rope_llama3_inv_freq(double *inv_freq, int hd, double theta, double factor, double low_freq_factor,
                               double high_freq_factor, int original_context)
{
    for (int i = 0; i < hd / 2; i++)
        inv_freq[i] = floe_rope_llama3_freq(i, hd, theta, factor, low_freq_factor, high_freq_factor, original_context);
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
