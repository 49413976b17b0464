#include "isa/token.h"

#include "isa/recip.h"
#include "isa/rmsnorm.h"

int floe_token_k(uint64_t amax, floe_requant_mult M, int K, int32_t hi)
{
    int kmax = K < M.shift ? K : M.shift;
    /* amax <= 2^31 and m < 2^31: the product is below 2^62, the rounding term below 2^61 */
    int64_t p = (int64_t)amax * (int64_t)M.m;
    for (int k = kmax; k > 0; k--) {
        int s = M.shift - k;
        int64_t r = s == 0 ? p : (p + ((int64_t)1 << (s - 1))) >> s;
        if (r <= hi)
            return k;
    }
    return 0;
}

int floe_token_requant_row(int32_t *out, const int32_t *x, size_t n, floe_requant_mult M, int K, int32_t lo,
                           int32_t hi)
{
    uint64_t amax = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = x[i] < 0 ? (uint64_t)(-(int64_t)x[i]) : (uint64_t)x[i];
        amax = a > amax ? a : amax;
    }
    int k = floe_token_k(amax, M, K, hi);
    floe_requant_mult up = floe_token_mult_up(M, k);
    for (size_t i = 0; i < n; i++)
        out[i] = floe_requant(x[i], up, lo, hi);
    return k;
}

int floe_rmsnorm_row_token(int32_t *y, const int16_t *q, size_t d, uint64_t eps_q, floe_requant_mult c, int K,
                           int32_t lo, int32_t hi)
{
    if (d == 0)
        return 0;
    uint64_t s = eps_q, amax = 0;
    for (size_t j = 0; j < d; j++) {
        int32_t v = q[j];
        s += (uint64_t)(v * v);
        uint64_t a = (uint64_t)(v < 0 ? -v : v);
        amax = a > amax ? a : amax;
    }
    floe_requant_mult M = floe_requant_mult_mul(floe_rsqrt_u64(s), c);
    int k = floe_token_k(amax, M, K, hi);
    floe_requant_mult up = floe_token_mult_up(M, k);
    for (size_t j = 0; j < d; j++)
        y[j] = floe_requant(q[j], up, lo, hi);
    return k;
}
