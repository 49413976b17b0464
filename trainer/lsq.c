#include "trainer/lsq.h"

#include <math.h>

#include "trainer/vec.h"

float floe_lsq_grad_scale(size_t n, int bits)
{
    return (float)(1.0 / sqrt((double)n * (double)floe_lsq_hi(bits)));
}

double floe_lsq_act_backward(float *dv, const float *g, const float *v, float v_scale, const float *v_col_scale,
                             const int8_t *codes, const int16_t *codes16, size_t rows, size_t width, float s, int bits,
                             double *row_scratch)
{
    return floe_lsq_act_backward_tok(dv, g, v, v_scale, v_col_scale, codes, codes16, NULL, rows, width, s, bits,
                                     row_scratch);
}

/* The row sums of the step gradients: FLOE_LANES independent double lanes combined by a fixed
 * pairwise tree (trainer/vec.h), so the loops vectorise and the bits depend on neither the vector
 * width nor the thread count. */
#define LSQ_LANES FLOE_LANES

/* One element of an LSQ backward: the straight-through gradient into dv and the step term. */
#define LSQ_TERM(acc, i, x, c)                                    \
    do {                                                          \
        float gi_ = g[i];                                         \
        int in_ = (x) >= lo && (x) <= hi;                         \
        (acc) += (double)(gi_ * (in_ ? (c) - (x) : (c)));         \
        dv[i] = in_ ? gi_ : 0.0f;                                 \
    } while (0)

double floe_lsq_act_backward_tok(float *dv, const float *g, const float *v, float v_scale, const float *v_col_scale,
                                 const int8_t *codes, const int16_t *codes16, const int8_t *row_k, size_t rows,
                                 size_t width, float s, int bits, double *row_scratch)
{
    const float hi = (float)floe_lsq_hi(bits), lo = -hi - 1.0f;
    long long nr = (long long)rows;
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < nr; r++) {
        const int k = row_k ? row_k[r] : 0;
        const float inv = 1.0f / ldexpf(s, -k); /* 1 / s_r; k = 0: 1 / s */
        const size_t base = (size_t)r * width;
        double acc[LSQ_LANES] = {0};
        size_t j0 = 0;
        /* the common forms get their own loops (no per-element branch on the operands' kind) */
        if (!v_col_scale && codes) {
            for (; j0 + LSQ_LANES <= width; j0 += LSQ_LANES)
                for (int l = 0; l < LSQ_LANES; l++) {
                    size_t i = base + j0 + (size_t)l;
                    float x = v[i] * v_scale * inv; /* the general form's * 1.0f is exact */
                    LSQ_TERM(acc[l], i, x, (float)codes[i]);
                }
        } else if (!v_col_scale && codes16) {
            for (; j0 + LSQ_LANES <= width; j0 += LSQ_LANES)
                for (int l = 0; l < LSQ_LANES; l++) {
                    size_t i = base + j0 + (size_t)l;
                    float x = v[i] * v_scale * inv;
                    LSQ_TERM(acc[l], i, x, (float)codes16[i]);
                }
        }
        for (size_t j = j0; j < width; j++) {
            size_t i = base + j;
            float x = v[i] * v_scale * (v_col_scale ? v_col_scale[j] : 1.0f) * inv;
            float c = codes ? (float)codes[i] : (float)codes16[i];
            LSQ_TERM(acc[(j - j0) % LSQ_LANES], i, x, c);
        }
        row_scratch[r] = ldexp(floe_hsum16d(acc), -k); /* d s_r / d s = 2^-k: exact */
    }
    double sum = 0.0;
    for (size_t r = 0; r < rows; r++)
        sum += row_scratch[r];
    return sum * floe_lsq_grad_scale(width, bits);
}

void floe_lsq_weight_backward(float *dv, const float *g, const float *w, const float *s, const int8_t *codes,
                              int out, int in, int bits, float *ds)
{
    const float hi = (float)floe_lsq_hi(bits), lo = -hi - 1.0f;
    const float gs = floe_lsq_grad_scale((size_t)in, bits);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < out; n++) {
        const float inv = 1.0f / s[n];
        const size_t base = (size_t)n * in;
        double acc[LSQ_LANES] = {0};
        int j0 = 0;
        for (; j0 + LSQ_LANES <= in; j0 += LSQ_LANES)
            for (int l = 0; l < LSQ_LANES; l++) {
                size_t k = base + (size_t)(j0 + l);
                float x = w[k] * inv;
                LSQ_TERM(acc[l], k, x, (float)codes[k]);
            }
        for (int j = j0; j < in; j++) {
            size_t k = base + (size_t)j;
            float x = w[k] * inv;
            LSQ_TERM(acc[j - j0], k, x, (float)codes[k]);
        }
        ds[n] += (float)floe_hsum16d(acc) * gs;
    }
}
