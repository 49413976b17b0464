#include "trainer/residual.h"

#define PAR_MIN 65536

void floe_residual_forward(float *out, const float *a, const float *b, size_t n)
{
    long long nn = (long long)n;
#pragma omp parallel for simd schedule(static) if (nn >= PAR_MIN)
    for (long long i = 0; i < nn; i++)
        out[i] = a[i] + b[i];
}

void floe_residual_backward(float *restrict da, float *restrict db, const float *restrict dout, size_t n)
{
    long long nn = (long long)n;
#pragma omp parallel for simd schedule(static) if (nn >= PAR_MIN)
    for (long long i = 0; i < nn; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}
