#include "trainer/rmsnorm.h"

#include <math.h>
#include <omp.h>
#include <stddef.h>

#include "trainer/vec.h"

#define PAR_MIN_WORK 65536LL

void floe_rmsnorm_forward(float *restrict out, float *restrict rstd, const float *restrict inp,
                          const float *restrict g, int N, int C)
{
    floe_rmsnorm_forward_eps(out, rstd, inp, g, N, C, FLOE_RMSNORM_EPS);
}

void floe_rmsnorm_forward_eps(float *restrict out, float *restrict rstd, const float *restrict inp,
                              const float *restrict g, int N, int C, float eps)
{
#pragma omp parallel for schedule(static) if ((long long)N * C >= PAR_MIN_WORK)
    for (int i = 0; i < N; i++) {
        const float *restrict x = inp + (size_t)i * C;
        float *restrict y = out + (size_t)i * C;
        float r = 1.0f / sqrtf(floe_dot(x, x, C) / (float)C + eps);
        rstd[i] = r;
        for (int c = 0; c < C; c++)
            y[c] = (x[c] * r) * g[c];
    }
}

void floe_rmsnorm_backward(float *restrict dinp, float *restrict dg, const float *restrict dout,
                           const float *restrict inp, const float *restrict g, const float *restrict rstd, int N,
                           int C)
{
#pragma omp parallel if ((long long)N * C >= PAR_MIN_WORK)
    {
#pragma omp for schedule(static) nowait
        for (int i = 0; i < N; i++) {
            const float *restrict x = inp + (size_t)i * C;
            const float *restrict dy = dout + (size_t)i * C;
            float *restrict dx = dinp + (size_t)i * C;
            float r = rstd[i];
            float k = floe_dot3(dy, g, x, C) * (r * r * r) / (float)C;
            for (int c = 0; c < C; c++)
                dx[c] += r * g[c] * dy[c] - x[c] * k;
        }
        if (dg) {
            int c0, c1;
            floe_split(C, omp_get_num_threads(), omp_get_thread_num(), 16, &c0, &c1);
            for (int i = 0; i < N; i++) {
                const float *restrict x = inp + (size_t)i * C;
                const float *restrict dy = dout + (size_t)i * C;
                float r = rstd[i];
                for (int c = c0; c < c1; c++)
                    dg[c] += dy[c] * x[c] * r;
            }
        }
    }
}
