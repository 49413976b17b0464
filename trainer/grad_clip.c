#include "trainer/grad_clip.h"

#include <math.h>

#define NBLOCKS 64

double floe_sumsq(const float *restrict x, size_t n)
{
    double part[NBLOCKS];
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (int b = 0; b < NBLOCKS; b++) {
        size_t lo = n / NBLOCKS * b + (n % NBLOCKS < (size_t)b ? n % NBLOCKS : (size_t)b);
        size_t len = n / NBLOCKS + ((size_t)b < n % NBLOCKS ? 1 : 0);
        /* 8 double lanes, fixed order: vectorises, and the bits do not depend on the ISA. */
        double acc[8] = {0};
        size_t i = 0;
        for (; i + 8 <= len; i += 8)
            for (int k = 0; k < 8; k++)
                acc[k] += (double)x[lo + i + k] * (double)x[lo + i + k];
        for (int k = 0; i + k < len; k++)
            acc[k] += (double)x[lo + i + k] * (double)x[lo + i + k];
        part[b] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    }
    double total = 0.0;
    for (int b = 0; b < NBLOCKS; b++)
        total += part[b];
    return total;
}

float floe_clip_coef(double norm, float max_norm)
{
    return norm > max_norm ? (float)(max_norm / norm) : 1.0f;
}

void floe_scale(float *restrict x, size_t n, float s)
{
    long long nn = (long long)n;
#pragma omp parallel for simd schedule(static) if (nn >= 65536)
    for (long long i = 0; i < nn; i++)
        x[i] *= s;
}

double floe_grad_clip(float *grad, size_t n, float max_norm)
{
    double norm = sqrt(floe_sumsq(grad, n));
    float c = floe_clip_coef(norm, max_norm);
    if (c != 1.0f)
        floe_scale(grad, n, c);
    return norm;
}
