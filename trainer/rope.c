#include "trainer/rope.h"

#include <math.h>
#include <stddef.h>

void floe_rope_tables(float *cos_tab, float *sin_tab, int T, int hd, double theta)
{
    int h = hd / 2;
    for (int p = 0; p < T; p++)
        for (int i = 0; i < h; i++) {
            double a = (double)p * pow(theta, -2.0 * i / hd);
            cos_tab[(size_t)p * h + i] = (float)cos(a);
            sin_tab[(size_t)p * h + i] = (float)sin(a);
        }
}

void floe_rope_tables_cfg(float *cos_tab, float *sin_tab, int T, const floe_model_config *c)
{
    if (c->rope_scaling != FLOE_ROPE_LLAMA3) {
        floe_rope_tables(cos_tab, sin_tab, T, c->head_dim, c->rope_theta);
        return;
    }
    int h = c->head_dim / 2;
    for (int i = 0; i < h; i++) {
        double f = floe_rope_llama3_freq(i, c->head_dim, c->rope_theta, c->rope_factor, c->rope_low_freq_factor,
                                         c->rope_high_freq_factor, c->rope_original_context);
        for (int p = 0; p < T; p++) {
            double a = (double)p * f;
            cos_tab[(size_t)p * h + i] = (float)cos(a);
            sin_tab[(size_t)p * h + i] = (float)sin(a);
        }
    }
}

/* sign = +1: forward rotation, -1: its transpose. */
static void rotate(float *x, const float *cos_tab, const float *sin_tab, int B, int T, int NH, int hd, float sign)
{
    int h = hd / 2;
    long long rows = (long long)B * T;
#pragma omp parallel for schedule(static) if (rows * NH * hd >= 65536)
    for (long long r = 0; r < rows; r++) {
        int t = (int)(r % T);
        const float *restrict c = cos_tab + (size_t)t * h;
        const float *restrict s = sin_tab + (size_t)t * h;
        for (int head = 0; head < NH; head++) {
            /* The two halves never overlap, so they may be restrict and the loop vectorises. */
            float *restrict x1 = x + ((size_t)r * NH + head) * hd;
            float *restrict x2 = x1 + h;
            for (int i = 0; i < h; i++) {
                float u = x1[i], v = x2[i], ss = sign * s[i];
                x1[i] = u * c[i] - v * ss;
                x2[i] = v * c[i] + u * ss;
            }
        }
    }
}

void floe_rope_forward(float *x, const float *cos_tab, const float *sin_tab, int B, int T, int NH, int hd)
{
    rotate(x, cos_tab, sin_tab, B, T, NH, hd, 1.0f);
}

void floe_rope_backward(float *dx, const float *cos_tab, const float *sin_tab, int B, int T, int NH, int hd)
{
    rotate(dx, cos_tab, sin_tab, B, T, NH, hd, -1.0f);
}
