#include "trainer/swiglu.h"

#include "trainer/vec.h"

#define PAR_MIN 65536

void floe_swiglu_forward(float *restrict out, const float *restrict gate, const float *restrict up, size_t n)
{
    long long nn = (long long)n;
#pragma omp parallel for simd schedule(static) if (nn >= PAR_MIN)
    for (long long i = 0; i < nn; i++) {
        float x = gate[i];
        float s = 1.0f / (1.0f + floe_expf(-x));
        out[i] = (x * s) * up[i];
    }
}

void floe_swiglu_backward(float *restrict dgate, float *restrict dup, const float *restrict dout,
                          const float *restrict gate, const float *restrict up, size_t n)
{
    long long nn = (long long)n;
#pragma omp parallel for simd schedule(static) if (nn >= PAR_MIN)
    for (long long i = 0; i < nn; i++) {
        float x = gate[i];
        float s = 1.0f / (1.0f + floe_expf(-x));
        float dy = dout[i];
        dgate[i] += dy * up[i] * (s * (1.0f + x * (1.0f - s)));
        dup[i] += dy * (x * s);
    }
}
