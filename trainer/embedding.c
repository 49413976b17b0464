#include "trainer/embedding.h"

#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "trainer/vec.h"

void floe_embedding_forward(float *restrict out, const int *restrict tokens, const float *restrict wte, int N,
                            int C)
{
#pragma omp parallel for schedule(static) if ((long long)N * C >= 65536)
    for (int i = 0; i < N; i++)
        memcpy(out + (size_t)i * C, wte + (size_t)tokens[i] * C, (size_t)C * sizeof(float));
}

void floe_embedding_backward(float *restrict dwte, const float *restrict dout, const int *restrict tokens, int N,
                             int C)
{
#pragma omp parallel if ((long long)N * C >= 65536)
    {
        int c0, c1;
        floe_split(C, omp_get_num_threads(), omp_get_thread_num(), 16, &c0, &c1);
        for (int i = 0; i < N; i++) {
            float *restrict d = dwte + (size_t)tokens[i] * C;
            const float *restrict g = dout + (size_t)i * C;
            for (int c = c0; c < c1; c++)
                d[c] += g[c];
        }
    }
}
