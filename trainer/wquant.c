/* Weight quantizers (trainer/wquant.h). */
#include "trainer/wquant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WQ_MIN_STEP 1e-8f

int floe_wquant_init(floe_wquant *q, int out, int in, int bits, int group, int asym, floe_err *err)
{
    memset(q, 0, sizeof *q);
    if (bits < 2 || bits > 8)
        return floe_err_set(err, "weight quantizer: %d bits (supported: 2 to 8)", bits), -1;
    if (group < 0)
        return floe_err_set(err, "weight quantizer: group size %d (0 is per output channel)", group), -1;
    if (out <= 0 || in <= 0)
        return floe_err_set(err, "weight quantizer: shape %d x %d", out, in), -1;
    q->out = out;
    q->in = in;
    q->bits = bits;
    q->asym = asym != 0;
    q->group = group == 0 || group > in ? in : group;
    q->groups = (in + q->group - 1) / q->group;
    size_t n = (size_t)out * (size_t)q->groups;
    q->s = malloc(n * sizeof *q->s);
    q->z = calloc(n, sizeof *q->z);
    if (!q->s || !q->z) {
        floe_wquant_free(q);
        return floe_err_set(err, "weight quantizer: out of memory"), -1;
    }
    for (size_t i = 0; i < n; i++)
        q->s[i] = 1.0f;
    return 0;
}

void floe_wquant_free(floe_wquant *q)
{
    free(q->s);
    free(q->z);
    q->s = q->z = NULL;
}

int floe_wquant_lo(const floe_wquant *q)
{
    return q->asym ? 0 : -(1 << (q->bits - 1));
}

int floe_wquant_hi(const floe_wquant *q)
{
    return q->asym ? (1 << q->bits) - 1 : (1 << (q->bits - 1)) - 1;
}

static inline float rz(const floe_wquant *q, int gi)
{
    return q->asym ? floorf(q->z[gi] + 0.5f) : 0.0f;
}

static void fit_group(floe_wquant *q, int gi, const float *w, int n)
{
    float mn = 0.0f, mx = 0.0f;
    for (int i = 0; i < n; i++) {
        mn = fminf(mn, w[i]);
        mx = fmaxf(mx, w[i]);
    }
    if (q->asym) {
        float s = (mx - mn) / (float)floe_wquant_hi(q);
        q->s[gi] = s > WQ_MIN_STEP ? s : WQ_MIN_STEP;
        q->z[gi] = -mn / q->s[gi];
    } else {
        float s = fmaxf(mx, -mn) / (float)floe_wquant_hi(q);
        q->s[gi] = s > WQ_MIN_STEP ? s : WQ_MIN_STEP;
        q->z[gi] = 0.0f;
    }
}

void floe_wquant_minmax(floe_wquant *q, const float *W)
{
    for (int c0 = 0; c0 < q->in; c0 += q->group)
        floe_wquant_minmax_cols(q, W, q->in, c0);
}

void floe_wquant_minmax_cols(floe_wquant *q, const float *W, int ld, int c0)
{
    int len = q->in - c0 < q->group ? q->in - c0 : q->group;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++)
        fit_group(q, floe_wquant_gi(q, r, c0), W + (size_t)r * ld + c0, len);
}

int floe_wquant_code1(const floe_wquant *q, int r, int c, float w)
{
    int gi = floe_wquant_gi(q, r, c);
    float x = floorf(w / q->s[gi] + 0.5f) + rz(q, gi);
    float lo = (float)floe_wquant_lo(q), hi = (float)floe_wquant_hi(q);
    if (!(x >= lo))
        return (int)lo;
    return x > hi ? (int)hi : (int)x;
}

float floe_wquant_dequant1(const floe_wquant *q, int r, int c, int code)
{
    int gi = floe_wquant_gi(q, r, c);
    return ((float)code - rz(q, gi)) * q->s[gi];
}

static double group_sq_error(const floe_wquant *q, int r, int c0, const float *w, int n)
{
    double e = 0.0;
    for (int i = 0; i < n; i++) {
        double d = (double)floe_wquant_dequant1(q, r, c0 + i, floe_wquant_code1(q, r, c0 + i, w[i])) - (double)w[i];
        e += d * d;
    }
    return e;
}

void floe_wquant_mse(floe_wquant *q, const float *W)
{
    floe_wquant_minmax(q, W);
    if (q->asym)
        return;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++) {
        for (int c0 = 0; c0 < q->in; c0 += q->group) {
            int n = q->in - c0 < q->group ? q->in - c0 : q->group, gi = floe_wquant_gi(q, r, c0);
            const float *w = W + (size_t)r * q->in + c0;
            float s0 = q->s[gi], best = s0;
            if (s0 <= WQ_MIN_STEP)
                continue;
            double best_e = group_sq_error(q, r, c0, w, n);
            for (int j = 1; j < 80; j++) {
                q->s[gi] = (1.0f - 0.01f * (float)j) * s0;
                double e = group_sq_error(q, r, c0, w, n);
                if (e < best_e) {
                    best_e = e;
                    best = q->s[gi];
                }
            }
            q->s[gi] = best;
        }
    }
}

void floe_wquant_forward(const floe_wquant *q, const float *W, float *What)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++)
        for (int c = 0; c < q->in; c++) {
            size_t i = (size_t)r * q->in + c;
            What[i] = floe_wquant_dequant1(q, r, c, floe_wquant_code1(q, r, c, W[i]));
        }
}

void floe_wquant_codes(const floe_wquant *q, const float *W, int16_t *codes)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++)
        for (int c = 0; c < q->in; c++) {
            size_t i = (size_t)r * q->in + c;
            codes[i] = (int16_t)floe_wquant_code1(q, r, c, W[i]);
        }
}

void floe_wquant_dequant(const floe_wquant *q, const int16_t *codes, float *What)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++)
        for (int c = 0; c < q->in; c++) {
            size_t i = (size_t)r * q->in + c;
            What[i] = floe_wquant_dequant1(q, r, c, codes[i]);
        }
}

void floe_wquant_backward(const floe_wquant *q, const float *W, const float *g, float *dW, float *ds, float *dz)
{
    const int lo = floe_wquant_lo(q), hi = floe_wquant_hi(q);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++) {
        for (int c0 = 0; c0 < q->in; c0 += q->group) {
            int n = q->in - c0 < q->group ? q->in - c0 : q->group, gi = floe_wquant_gi(q, r, c0);
            float s = q->s[gi], z = rz(q, gi);
            double gs = 0.0, gz = 0.0;
            for (int c = c0; c < c0 + n; c++) {
                size_t i = (size_t)r * q->in + c;
                float u = W[i] / s, ru = floorf(u + 0.5f), x = ru + z;
                if (x >= (float)lo && x <= (float)hi) {
                    if (dW)
                        dW[i] += g[i];
                    gs += (double)g[i] * (double)(ru - u);
                } else {
                    float code = x < (float)lo ? (float)lo : (float)hi;
                    if (!(x == x))
                        code = (float)lo;
                    gs += (double)g[i] * (double)(code - z);
                    gz -= (double)g[i] * (double)s;
                }
            }
            ds[gi] += (float)gs;
            if (dz && q->asym)
                dz[gi] += (float)gz;
        }
    }
}

void floe_wquant_frozen_backward(const floe_wquant *q, const int16_t *codes, const float *g, float *ds)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < q->out; r++) {
        for (int c0 = 0; c0 < q->in; c0 += q->group) {
            int n = q->in - c0 < q->group ? q->in - c0 : q->group, gi = floe_wquant_gi(q, r, c0);
            float z = rz(q, gi);
            double gs = 0.0;
            for (int c = c0; c < c0 + n; c++) {
                size_t i = (size_t)r * q->in + c;
                gs += (double)g[i] * (double)((float)codes[i] - z);
            }
            ds[gi] += (float)gs;
        }
    }
}

double floe_wquant_sq_error(const floe_wquant *q, const float *W)
{
    double e = 0.0;
    for (int r = 0; r < q->out; r++)
        e += group_sq_error(q, r, 0, W + (size_t)r * q->in, q->in);
    return e;
}
