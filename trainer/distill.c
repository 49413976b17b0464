#include "trainer/distill.h"

#include <math.h>
#include <stdlib.h>

/* log of the partition function of x / tau (double accumulation), and the log-softmax into out. */
static double log_partition(const float *x, int V, double tau)
{
    double mx = -INFINITY;
    for (int v = 0; v < V; v++)
        mx = fmax(mx, x[v] / tau);
    double sum = 0.0;
    for (int v = 0; v < V; v++)
        sum += exp(x[v] / tau - mx);
    return mx + log(sum);
}

static void log_softmax(double *out, const float *x, int V, double tau, double lz)
{
    for (int v = 0; v < V; v++)
        out[v] = x[v] / tau - lz;
}

floe_distill_result floe_distill_rows(double *row_stats, const float *z, const int16_t *zc, float zscale,
                                      const float *t, const int *targets, int N, int V, float tau, float alpha,
                                      double *rows)
{
    const double wk = (1.0 - alpha) * tau * tau;
#pragma omp parallel
    {
        double *lp = malloc(sizeof(double) * (size_t)V * 2), *lq = lp + V;
        float *zrow = zc ? malloc(sizeof(float) * (size_t)V) : NULL;
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *ti = t + (size_t)i * V, *zi = z ? z + (size_t)i * V : zrow;
            if (zc)
                for (int v = 0; v < V; v++) /* the float the student's logit view holds */
                    zrow[v] = (float)zc[(size_t)i * V + v] * zscale;
            double *st = row_stats + 3 * (size_t)i;
            st[0] = log_partition(ti, V, tau); /* teacher */
            st[1] = log_partition(zi, V, tau); /* student */
            st[2] = targets ? log_partition(zi, V, 1.0) : NAN;
            log_softmax(lp, ti, V, tau, st[0]);
            log_softmax(lq, zi, V, tau, st[1]);
            double kl = 0.0;
            for (int v = 0; v < V; v++)
                kl += exp(lp[v]) * (lp[v] - lq[v]);
            rows[2 * i] = kl;
            rows[2 * i + 1] = targets ? -((double)zi[targets[i]] / 1.0 - st[2]) : NAN;
        }
        free(lp);
        free(zrow);
    }
    floe_distill_result r = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        r.kl += rows[2 * i];
        r.ce += rows[2 * i + 1];
    }
    r.kl /= N;
    r.ce = targets ? r.ce / N : NAN;
    r.loss = wk * r.kl + (targets ? alpha * r.ce : 0.0);
    return r;
}

void floe_distill_cols(float *d, int ldd, int c0, int cn, const float *z, const int16_t *zc, float zscale,
                       const float *t, const int *targets, int N, int V, float tau, float alpha, float dloss,
                       const double *row_stats)
{
    const double gk = (1.0 - alpha) * tau / N, gc = (double)alpha / N;
    const int ce = targets && alpha != 0.0f;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const double *st = row_stats + 3 * (size_t)i;
        const float *ti = t + (size_t)i * V;
        float *di = d + (size_t)i * ldd;
        for (int j = 0; j < cn; j++) {
            const int v = c0 + j;
            const float zv = z ? z[(size_t)i * V + v] : (float)zc[(size_t)i * V + v] * zscale;
            double p = exp(ti[v] / (double)tau - st[0]);
            float g = (float)(dloss * gk * (exp(zv / (double)tau - st[1]) - p));
            if (ce)
                g += (float)(dloss * gc * (exp(zv / 1.0 - st[2]) - (v == targets[i])));
            di[j] = g;
        }
    }
}

floe_distill_result floe_distill(float *dlogits, const float *z, const float *t, const int *targets, int N, int V,
                                 float tau, float alpha, float dloss, double *rows)
{
    double *st = malloc(sizeof(double) * 3 * (size_t)N);
    if (!st) { /* the result's NaN loss says it; callers size N x V buffers far larger than this */
        floe_distill_result r = {NAN, NAN, NAN};
        return r;
    }
    floe_distill_result r = floe_distill_rows(st, z, NULL, 1.0f, t, targets, N, V, tau, alpha, rows);
    floe_distill_cols(dlogits, V, 0, V, z, NULL, 1.0f, t, targets, N, V, tau, alpha, dloss, st);
    free(st);
    return r;
}
