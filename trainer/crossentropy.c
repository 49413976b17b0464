#include "trainer/crossentropy.h"

#include <math.h>
#include <stddef.h>

#include "trainer/vec.h"

float floe_crossentropy_forward(float *restrict losses, float *restrict probs, const float *restrict logits,
                                const int *restrict targets, int N, int V)
{
#pragma omp parallel for schedule(static) if ((long long)N * V >= 65536)
    for (int i = 0; i < N; i++) {
        const float *restrict l = logits + (size_t)i * V;
        float *restrict p = probs + (size_t)i * V;
        float m = floe_max(l, V);
        for (int v = 0; v < V; v++)
            p[v] = floe_expf(l[v] - m);
        float sum = floe_sum(p, V);
        float inv = 1.0f / sum;
        for (int v = 0; v < V; v++)
            p[v] *= inv;
        /* log-sum-exp form: stays accurate where p[target] underflows and -log(p) would not */
        losses[i] = logf(sum) - (l[targets[i]] - m);
    }
    double total = 0.0;
    for (int i = 0; i < N; i++)
        total += losses[i];
    return (float)(total / N);
}

void floe_crossentropy_backward(float *restrict dlogits, const float *restrict probs, const int *restrict targets,
                                int N, int V, float dloss)
{
    const float k = dloss / (float)N;
#pragma omp parallel for schedule(static) if ((long long)N * V >= 65536)
    for (int i = 0; i < N; i++) {
        const float *restrict p = probs + (size_t)i * V;
        float *restrict d = dlogits + (size_t)i * V;
        for (int v = 0; v < V; v++)
            d[v] += p[v] * k;
        d[targets[i]] -= k;
    }
}

void floe_crossentropy_forward_rows(float *restrict losses, float *restrict rowmax, float *restrict rowsum,
                                    int *restrict top1, float *restrict logits, const int *restrict targets, int R,
                                    int V)
{
#pragma omp parallel for schedule(static) if ((long long)R * V >= 65536)
    for (int i = 0; i < R; i++) {
        float *restrict l = logits + (size_t)i * V;
        float m = floe_max(l, V);
        int best = 0;
        while (best < V - 1 && l[best] != m) /* the first index of the maximum, as a scan with > finds it */
            best++;
        float lt = l[targets[i]];
        for (int v = 0; v < V; v++)
            l[v] = floe_expf(l[v] - m);
        float sum = floe_sum(l, V);
        losses[i] = logf(sum) - (lt - m);
        rowmax[i] = m;
        rowsum[i] = sum;
        top1[i] = best;
    }
}

void floe_crossentropy_backward_rows(float *restrict logits, const float *restrict rowmax, const float *restrict rowsum,
                                     const int *restrict targets, int R, int V, int N, float dloss)
{
    const float k = dloss / (float)N;
#pragma omp parallel for schedule(static) if ((long long)R * V >= 65536)
    for (int i = 0; i < R; i++) {
        float *restrict d = logits + (size_t)i * V;
        const float m = rowmax[i], inv = 1.0f / rowsum[i];
        for (int v = 0; v < V; v++) {
            float p = floe_expf(d[v] - m);
            p *= inv;
            d[v] = p * k;
        }
        d[targets[i]] -= k;
    }
}
