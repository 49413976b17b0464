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

/* The mean of the rows' KL and cross-entropy terms, summed in row order, and the loss. */
static floe_distill_result sum_rows(const double *rows, int has_targets, int N, float tau, float alpha)
{
    const double wk = (1.0 - alpha) * tau * tau;
    floe_distill_result r = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        r.kl += rows[2 * i];
        r.ce += rows[2 * i + 1];
    }
    r.kl /= N;
    r.ce = has_targets ? r.ce / N : NAN;
    r.loss = wk * r.kl + (has_targets ? alpha * r.ce : 0.0);
    return r;
}

/* The student's logit v of row i: z, or the codes zc times zscale (the float its logit view holds). */
static inline float student_logit(const float *z, const int16_t *zc, float zscale, int i, int V, int v)
{
    return z ? z[(size_t)i * V + v] : (float)zc[(size_t)i * V + v] * zscale;
}

/* Row i of the student: its logits (z's row, or zc's widened into zrow [V]), its log-partitions of
 * z / tau and z into st[1], st[2] and its cross-entropy into *ce (NaN without targets). */
static const float *student_row(double *st, double *ce, const float *z, const int16_t *zc, float zscale, float *zrow,
                                const int *targets, int i, int V, float tau)
{
    const float *zi = z ? z + (size_t)i * V : zrow;
    if (!z)
        for (int v = 0; v < V; v++)
            zrow[v] = student_logit(z, zc, zscale, i, V, v);
    st[1] = log_partition(zi, V, tau);
    st[2] = targets ? log_partition(zi, V, 1.0) : NAN;
    *ce = targets ? -((double)zi[targets[i]] - st[2]) : NAN;
    return zi;
}

floe_distill_result floe_distill_rows(double *row_stats, const float *z, const int16_t *zc, float zscale,
                                      const float *t, const int *targets, int N, int V, float tau, float alpha,
                                      double *rows)
{
#pragma omp parallel
    {
        double *lp = malloc(sizeof(double) * (size_t)V * 2), *lq = lp + V;
        float *zrow = zc ? malloc(sizeof(float) * (size_t)V) : NULL;
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *ti = t + (size_t)i * V;
            double *st = row_stats + 3 * (size_t)i;
            const float *zi = student_row(st, &rows[2 * i + 1], z, zc, zscale, zrow, targets, i, V, tau);
            st[0] = log_partition(ti, V, tau); /* teacher */
            log_softmax(lp, ti, V, tau, st[0]);
            log_softmax(lq, zi, V, tau, st[1]);
            double kl = 0.0;
            for (int v = 0; v < V; v++)
                kl += exp(lp[v]) * (lp[v] - lq[v]);
            rows[2 * i] = kl;
        }
        free(lp);
        free(zrow);
    }
    return sum_rows(rows, targets != NULL, N, tau, alpha);
}

floe_distill_result floe_distill_rows_online(double *row_stats, const float *z, const int16_t *zc, float zscale,
                                             floe_distill_teacher_fn tf, void *ctx, float *tbuf, int slice,
                                             const int *targets, int N, int V, float tau, float alpha, double *rows)
{
    double *acc = malloc(sizeof(double) * (size_t)N); /* per row: the teacher's sum of exp */
    if (!acc) {
        floe_distill_result r = {NAN, NAN, NAN};
        return r;
    }
    /* the student's log-partitions and cross-entropy from its whole rows, as floe_distill_rows */
#pragma omp parallel
    {
        float *zrow = zc ? malloc(sizeof(float) * (size_t)V) : NULL;
#pragma omp for schedule(static)
        for (int i = 0; i < N; i++) {
            double *st = row_stats + 3 * (size_t)i;
            student_row(st, &rows[2 * i + 1], z, zc, zscale, zrow, targets, i, V, tau);
            st[0] = -INFINITY; /* the teacher's running max of t / tau until the end */
            rows[2 * i] = 0.0; /* sum of exp(t/tau - max) (t/tau - z/tau), rescaled with the max */
            acc[i] = 0.0;
        }
        free(zrow);
    }
    /* the teacher a slice of the vocabulary at a time: KL = E_p[t/tau - z/tau] - lz_t + lz_s with the
     * expectation and lz_t accumulated online (a rescale whenever a row's max grows) */
    for (int c0 = 0; c0 < V; c0 += slice) {
        const int cn = V - c0 < slice ? V - c0 : slice;
        tf(ctx, c0, cn, tbuf);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < N; i++) {
            const float *ti = tbuf + (size_t)i * cn;
            double *st = row_stats + 3 * (size_t)i;
            double mx = st[0];
            for (int j = 0; j < cn; j++)
                mx = fmax(mx, ti[j] / (double)tau);
            double r = exp(st[0] - mx), sum = acc[i] * r, a = rows[2 * i] * r;
            for (int j = 0; j < cn; j++) {
                const float zv = student_logit(z, zc, zscale, i, V, c0 + j);
                double x = ti[j] / (double)tau, e = exp(x - mx);
                sum += e;
                a += e * (x - zv / (double)tau);
            }
            st[0] = mx, acc[i] = sum, rows[2 * i] = a;
        }
    }
    for (int i = 0; i < N; i++) {
        double *st = row_stats + 3 * (size_t)i;
        st[0] += log(acc[i]);
        rows[2 * i] = rows[2 * i] / acc[i] - st[0] + st[1];
    }
    free(acc);
    return sum_rows(rows, targets != NULL, N, tau, alpha);
}

void floe_distill_cols(float *d, int ldd, int c0, int cn, const float *z, const int16_t *zc, float zscale,
                       const float *t, int ldt, const int *targets, int N, int V, float tau, float alpha, float dloss,
                       const double *row_stats)
{
    const double gk = (1.0 - alpha) * tau / N, gc = (double)alpha / N;
    const int ce = targets && alpha != 0.0f;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const double *st = row_stats + 3 * (size_t)i;
        const float *ti = t + (size_t)i * ldt;
        float *di = d + (size_t)i * ldd;
        for (int j = 0; j < cn; j++) {
            const int v = c0 + j;
            const float zv = student_logit(z, zc, zscale, i, V, v);
            double p = exp(ti[j] / (double)tau - st[0]);
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
    floe_distill_cols(dlogits, V, 0, V, z, NULL, 1.0f, t, V, targets, N, V, tau, alpha, dloss, st);
    free(st);
    return r;
}
