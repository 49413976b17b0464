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

/* ---- 8-bit moments -------------------------------------------------------------------------------
 * A scaled value y in [0, 1] as a small float of e exponent bits (emax = 2^e - 1) and 3 mantissa
 * bits: code (E << 3) | M is 2^(E - emax) (1 + M/8) for E >= 1 and M/8 2^(1 - emax) for E = 0.
 * Rounded stochastically: r (20 random bits) is added below the kept bits, so a value rounds up with
 * the probability of its distance from the code below, and the stored moment is the float one in
 * expectation. Round to nearest would lose every change smaller than half a code (1/16 of the
 * value): with beta2 0.95 a step moves v by at most 5% when the gradient falls, so v would never
 * decay. The normal codes come straight from the float's bits (a carry into the exponent is the next
 * code); below 2^(1 - emax) the subnormal codes by a scale (the two meet at code 8). */
static inline uint32_t q8_encode(float y, int emax, uint32_t r)
{
    uint32_t b;
    memcpy(&b, &y, sizeof b);
    int32_t c = (int32_t)((b + r) >> 20) - ((127 - emax) << 3);
    if (c < 8)
        c = (int32_t)floorf(ldexpf(y, emax + 2) + ldexpf((float)r, -20));
    return (uint32_t)c;
}

/* 20 random bits for value i of a step's update, stream s (m or v): a hash of the three, so the
 * rounding is the same on any thread count and after a resume. */
static inline uint32_t q8_random(uint64_t i, uint32_t step, uint32_t s)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)step << 32 | s) * 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return (uint32_t)h & 0xFFFFFu;
}

static inline float q8_decode(uint32_t c, int emax)
{
    if (c < 8)
        return ldexpf((float)c, -(emax + 2));
    uint32_t b = (c + ((uint32_t)(127 - emax) << 3)) << 20;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

#define Q8_EM 15 /* m: 4 exponent bits below a sign */
#define Q8_EV 31 /* v: 5 exponent bits */

size_t floe_adamw_q8_blocks(size_t n) { return (n + FLOE_ADAMW_Q8_BLOCK - 1) / FLOE_ADAMW_Q8_BLOCK; }

float floe_adamw_q8_m(int8_t code, float scale)
{
    float y = q8_decode((uint32_t)(code == -128 ? 127 : code < 0 ? -(int)code : code), Q8_EM) * scale;
    return code < 0 ? -y : y;
}

float floe_adamw_q8_v(uint8_t code, float scale) { return q8_decode(code, Q8_EV) * scale; }

void floe_adamw_update_q8(float *restrict param, const float *restrict grad, int8_t *restrict m, uint8_t *restrict v,
                          float *restrict m_scale, float *restrict v_scale, size_t n, int step, float lr, float beta1,
                          float beta2, float eps, float weight_decay)
{
    const adamw_k k = adamw_consts(step, lr, beta1, beta2, eps, weight_decay);
    /* the codes' values, computed once: the magnitudes of m (-128, which the update never writes but
     * a file may hold, reads as -127's), 256 values of v */
    float lm[129], lv[256];
    for (uint32_t c = 0; c < 128; c++)
        lm[c] = q8_decode(c, Q8_EM);
    lm[128] = lm[127];
    for (uint32_t c = 0; c < 256; c++)
        lv[c] = q8_decode(c, Q8_EV);
    const long long nb = (long long)floe_adamw_q8_blocks(n);
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (long long b = 0; b < nb; b++) {
        const size_t lo = (size_t)b * FLOE_ADAMW_Q8_BLOCK;
        const size_t cnt = n - lo < FLOE_ADAMW_Q8_BLOCK ? n - lo : FLOE_ADAMW_Q8_BLOCK;
        float mb[FLOE_ADAMW_Q8_BLOCK], vb[FLOE_ADAMW_Q8_BLOCK], mx = 0.0f, vx = 0.0f;
        const float sm = m_scale[b], sv = v_scale[b];
        for (size_t j = 0; j < cnt; j++) {
            const size_t i = lo + j;
            const int8_t cm = m[i];
            float mi = (cm < 0 ? -lm[-(int)cm] : lm[cm]) * sm, vi = lv[v[i]] * sv;
            adamw_elem(k, &param[i], grad[i], &mi, &vi);
            mb[j] = mi, vb[j] = vi;
            mx = fmaxf(mx, fabsf(mi));
            vx = fmaxf(vx, vi);
        }
        m_scale[b] = mx, v_scale[b] = vx;
        for (size_t j = 0; j < cnt; j++) {
            const size_t i = lo + j;
            uint32_t cm = mx > 0.0f ? q8_encode(fabsf(mb[j]) / mx, Q8_EM, q8_random(i, (uint32_t)step, 0)) : 0;
            uint32_t cv = vx > 0.0f ? q8_encode(vb[j] / vx, Q8_EV, q8_random(i, (uint32_t)step, 1)) : 0;
            cm = cm > 127 ? 127 : cm;
            cv = cv > 255 ? 255 : cv == 0 && vb[j] > 0.0f ? 1 : cv;
            m[i] = (int8_t)(mb[j] < 0.0f ? -(int32_t)cm : (int32_t)cm);
            v[i] = (uint8_t)cv;
        }
    }
}
