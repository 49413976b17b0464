#include "trainer/adamw.h"

#include <math.h>
#include <string.h>

floe_adamw_cfg floe_adamw_defaults(void)
{
    floe_adamw_cfg c = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f,
                        .decay_embeddings = 1, .decay_norms = 0};
    return c;
}

float floe_adamw_tensor_decay(const floe_adamw_cfg *cfg, floe_decay_class kind)
{
    switch (kind) {
    case FLOE_DECAY_MATRIX:
        return cfg->weight_decay;
    case FLOE_DECAY_EMBEDDING:
        return cfg->decay_embeddings ? cfg->weight_decay : 0.0f;
    case FLOE_DECAY_NORM:
        return cfg->decay_norms ? cfg->weight_decay : 0.0f;
    }
    return 0.0f;
}

/* The per-call constants: bias corrections once, in double (1 - b2^t is small early on). */
typedef struct {
    float b1, b2, a1, a2, inv_bc1, inv_bc2, lr, eps, wd;
} adamw_k;

static adamw_k adamw_consts(int step, float lr, float beta1, float beta2, float eps, float weight_decay)
{
    adamw_k k = {beta1,
                 beta2,
                 1.0f - beta1,
                 1.0f - beta2,
                 (float)(1.0 / (1.0 - pow(beta1, step))),
                 (float)(1.0 / (1.0 - pow(beta2, step))),
                 lr,
                 eps,
                 weight_decay};
    return k;
}

/* One element: the moments updated in float (in place), the parameter moved. */
static inline void adamw_elem(adamw_k k, float *p, float g, float *m, float *v)
{
    float mi = k.b1 * *m + k.a1 * g;
    float vi = k.b2 * *v + k.a2 * (g * g);
    *m = mi;
    *v = vi;
    float mhat = mi * k.inv_bc1, vhat = vi * k.inv_bc2;
    *p -= k.lr * (mhat / (sqrtf(vhat) + k.eps) + k.wd * *p);
}

void floe_adamw_update(float *restrict param, const float *restrict grad, float *restrict m, float *restrict v,
                       size_t n, int step, float lr, float beta1, float beta2, float eps, float weight_decay)
{
    const adamw_k k = adamw_consts(step, lr, beta1, beta2, eps, weight_decay);
    long long nn = (long long)n;
#pragma omp parallel for simd schedule(static) if (nn >= 65536)
    for (long long i = 0; i < nn; i++)
        adamw_elem(k, &param[i], grad[i], &m[i], &v[i]);
}

static inline float bf16_load(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* round to nearest, ties to even: a carry out of the low half rounds the upper half up */
static inline uint16_t bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void floe_adamw_update_bf16(float *restrict param, const float *restrict grad, uint16_t *restrict m,
                            uint16_t *restrict v, size_t n, int step, float lr, float beta1, float beta2, float eps,
                            float weight_decay)
{
    const adamw_k k = adamw_consts(step, lr, beta1, beta2, eps, weight_decay);
    long long nn = (long long)n;
#pragma omp parallel for simd schedule(static) if (nn >= 65536)
    for (long long i = 0; i < nn; i++) {
        float mi = bf16_load(m[i]), vi = bf16_load(v[i]);
        adamw_elem(k, &param[i], grad[i], &mi, &vi);
        m[i] = bf16_round(mi);
        v[i] = bf16_round(vi);
    }
}
