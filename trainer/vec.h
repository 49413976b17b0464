/* Small inline kernels shared by the float layers (internal to trainer/).
 *
 * Reductions use 16 independent float lanes combined by a fixed pairwise tree: the compiler can
 * vectorise them (the lanes are independent) and, since the order is written out in the source, the
 * bits do not depend on the vector width, the compiler, the optimisation level or the thread count.
 * floe_expf is a branch-free exp so softmax/SiLU loops vectorise (libm's expf is a call per element).
 */
#ifndef FLOE_TRAINER_VEC_H
#define FLOE_TRAINER_VEC_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_LANES 16

/* C99 `restrict`; C++ spells it `__restrict` (GCC and Clang). */
#ifdef __cplusplus
#define FLOE_RESTRICT __restrict
#else
#define FLOE_RESTRICT restrict
#endif

static inline float floe_hsum16(float *acc)
{
    for (int w = FLOE_LANES / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++)
            acc[k] += acc[k + w];
    return acc[0];
}

/* The same tree over 16 double lanes (row sums kept in double, e.g. LSQ's step gradients). */
static inline double floe_hsum16d(double *acc)
{
    for (int w = FLOE_LANES / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++)
            acc[k] += acc[k + w];
    return acc[0];
}

/* sum_i a[i] * b[i] */
static inline float floe_dot(const float *FLOE_RESTRICT a, const float *FLOE_RESTRICT b, int n)
{
    float acc[FLOE_LANES] = {0};
    int i = 0;
    for (; i + FLOE_LANES <= n; i += FLOE_LANES)
        for (int k = 0; k < FLOE_LANES; k++)
            acc[k] += a[i + k] * b[i + k];
    for (int k = 0; i + k < n; k++)
        acc[k] += a[i + k] * b[i + k];
    return floe_hsum16(acc);
}

/* sum_i (a[i] * b[i]) * c[i] */
static inline float floe_dot3(const float *FLOE_RESTRICT a, const float *FLOE_RESTRICT b, const float *FLOE_RESTRICT c,
                              int n)
{
    float acc[FLOE_LANES] = {0};
    int i = 0;
    for (; i + FLOE_LANES <= n; i += FLOE_LANES)
        for (int k = 0; k < FLOE_LANES; k++)
            acc[k] += a[i + k] * b[i + k] * c[i + k];
    for (int k = 0; i + k < n; k++)
        acc[k] += a[i + k] * b[i + k] * c[i + k];
    return floe_hsum16(acc);
}

/* sum_i a[i] */
static inline float floe_sum(const float *FLOE_RESTRICT a, int n)
{
    float acc[FLOE_LANES] = {0};
    int i = 0;
    for (; i + FLOE_LANES <= n; i += FLOE_LANES)
        for (int k = 0; k < FLOE_LANES; k++)
            acc[k] += a[i + k];
    for (int k = 0; i + k < n; k++)
        acc[k] += a[i + k];
    return floe_hsum16(acc);
}

/* max_i a[i], n >= 1 (max is exact, so any order gives the same value) */
static inline float floe_max(const float *FLOE_RESTRICT a, int n)
{
    float acc[FLOE_LANES];
    for (int k = 0; k < FLOE_LANES; k++)
        acc[k] = a[0];
    int i = 0;
    for (; i + FLOE_LANES <= n; i += FLOE_LANES)
        for (int k = 0; k < FLOE_LANES; k++)
            acc[k] = a[i + k] > acc[k] ? a[i + k] : acc[k];
    for (int k = 0; i + k < n; k++)
        acc[k] = a[i + k] > acc[k] ? a[i + k] : acc[k];
    float m = acc[0];
    for (int k = 1; k < FLOE_LANES; k++)
        m = acc[k] > m ? acc[k] : m;
    return m;
}

/* exp(x) for x in [-87, 88] (clamped outside; NaN stays NaN), relative error <= 1.03e-7 (every
 * float checked once; the test samples it). Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, then a
 * degree-7 Taylor polynomial (truncation < 1e-9 on that range). */
static inline float floe_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer k */
    float t = x * 1.44269504f + magic;
    uint32_t tb; /* t's low mantissa bits hold k: no float-to-int cast (UB for NaN) */
    memcpy(&tb, &t, sizeof tb);
    float kf = t - magic;
    float r = x - kf * 0.693145752f; /* ln2 split: hi has few bits, so kf * hi is exact */
    r = r - kf * 1.42860677e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (tb - 0x4B400000u + 127u) << 23; /* 2^k; unsigned, so garbage in stays defined */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* [lo, hi): part `part` of `parts` of n items, cut at multiples of `align` so that every part but
 * the last is a whole number of blocks. */
static inline void floe_split(int n, int parts, int part, int align, int *lo, int *hi)
{
    long long blocks = (n + align - 1) / align;
    long long b0 = blocks * part / parts, b1 = blocks * (part + 1) / parts;
    long long l = b0 * align, h = b1 * align;
    *lo = (int)(l < n ? l : n);
    *hi = (int)(h < n ? h : n);
}

#ifdef __cplusplus
}
#endif

#endif
