#include "trainer/distill.h"

#include <math.h>
#include <stdlib.h>

/* log-softmax of x / tau into out (double accumulation of the normaliser). */
static void log_softmax(double *out, const float *x, int V, double tau)
{
    double mx = -INFINITY;
    for (int v = 0; v < V; v++)
        mx = fmax(mx, x[v] / tau);
    double sum = 0.0;
    for (int v = 0; v < V; v++)
        sum += exp(x[v] / tau - mx);
    double lz = mx + log(sum);
    for (int v = 0; v < V; v++)
        out[v] = x[v] / tau - lz;
}

floe_distill_result floe_distill(float *dlogits, const float *z, const float *t, const int *targets, int N, int V,
                                 float tau, float alpha, float dloss, double *rows)
{
    const double wk = (1.0 - alpha) * tau * tau, gk = (1.0 - alpha) * tau / N, gc = (double)alpha / N;
#pragma omp parallel
    {
        double *lp = malloc(sizeof(double) * (size_t)V * 3), *lq = lp + V, *l1 = lq + V;
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *zi = z + (size_t)i * V, *ti = t + (size_t)i * V;
            float *di = dlogits + (size_t)i * V;
            log_softmax(lp, ti, V, tau); /* teacher */
            log_softmax(lq, zi, V, tau); /* student */
            if (targets)                 /* before di is written: dlogits may be z itself */
                log_softmax(l1, zi, V, 1.0);
            double kl = 0.0;
            for (int v = 0; v < V; v++) {
                double p = exp(lp[v]);
                kl += p * (lp[v] - lq[v]);
                di[v] = (float)(dloss * gk * (exp(lq[v]) - p));
            }
            double ce = NAN;
            if (targets) {
                ce = -l1[targets[i]];
                if (alpha != 0.0f)
                    for (int v = 0; v < V; v++)
                        di[v] += (float)(dloss * gc * (exp(l1[v]) - (v == targets[i])));
            }
            rows[2 * i] = kl;
            rows[2 * i + 1] = ce;
        }
        free(lp);
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
