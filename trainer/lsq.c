#include "trainer/lsq.h"

#include <math.h>

float floe_lsq_grad_scale(size_t n, int bits)
{
    return (float)(1.0 / sqrt((double)n * (double)floe_lsq_hi(bits)));
}

double floe_lsq_act_backward(float *dv, const float *g, const float *v, float v_scale, const float *v_col_scale,
                             const float *codes, const int16_t *codes16, size_t rows, size_t width, float s,
                             int bits, double *row_scratch)
{
    return floe_lsq_act_backward_tok(dv, g, v, v_scale, v_col_scale, codes, codes16, NULL, rows, width, s, bits,
                                     row_scratch);
}

double floe_lsq_act_backward_tok(float *dv, const float *g, const float *v, float v_scale, const float *v_col_scale,
                                 const float *codes, const int16_t *codes16, const int8_t *row_k, size_t rows,
                                 size_t width, float s, int bits, double *row_scratch)
{
    const float hi = (float)floe_lsq_hi(bits), lo = -hi - 1.0f;
    long long nr = (long long)rows;
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < nr; r++) {
        const int k = row_k ? row_k[r] : 0;
        const float inv = 1.0f / ldexpf(s, -k); /* 1 / s_r; k = 0: 1 / s */
        double acc = 0.0;
        for (size_t j = 0; j < width; j++) {
            size_t i = (size_t)r * width + j;
            float x = v[i] * v_scale * (v_col_scale ? v_col_scale[j] : 1.0f) * inv;
            float c = codes ? codes[i] : (float)codes16[i];
            float gi = g[i];
            int inside = x >= lo && x <= hi;
            acc += (double)(gi * (inside ? c - x : c));
            dv[i] = inside ? gi : 0.0f;
        }
        row_scratch[r] = ldexp(acc, -k); /* d s_r / d s = 2^-k: exact */
    }
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++)
        sum += row_scratch[r];
    return sum * floe_lsq_grad_scale(width, bits);
}

void floe_lsq_weight_backward(float *dw, const float *g, const float *w, const float *s, const int8_t *codes,
                              int out, int in, int bits, float *ds)
{
    const float hi = (float)floe_lsq_hi(bits), lo = -hi - 1.0f;
    const float gs = floe_lsq_grad_scale((size_t)in, bits);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < out; n++) {
        float inv = 1.0f / s[n];
        double acc = 0.0;
        for (int i = 0; i < in; i++) {
            size_t k = (size_t)n * in + i;
            float x = w[k] * inv, gi = g[k], c = (float)codes[k];
            int inside = x >= lo && x <= hi;
            acc += (double)(gi * (inside ? c - x : c));
            dw[k] = inside ? gi : 0.0f;
        }
        ds[n] += (float)acc * gs;
    }
}
