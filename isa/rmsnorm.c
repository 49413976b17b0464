#include "isa/rmsnorm.h"

#include <math.h>

#include "isa/recip.h"

uint64_t floe_rmsnorm_eps_q(double eps, size_t d, double s_x)
{
    double e = eps * (double)d / (s_x * s_x);
    if (!(e < 0x1p62))
        return (uint64_t)1 << 62;
    double fl = floor(e);
    uint64_t q = (uint64_t)fl + ((e - fl) >= 0.5 ? 1u : 0u);
    return q ? q : 1;
}

void floe_rmsnorm_row(int32_t *y, const int16_t *q, size_t d, uint64_t eps_q, const floe_requant_mult *c,
                      int per_channel, int32_t lo, int32_t hi)
{
    if (d == 0) /* an empty row has nothing to normalise (and c may hold no multiplier) */
        return;
    uint64_t s = eps_q;
    for (size_t j = 0; j < d; j++)
        s += (uint64_t)((int32_t)q[j] * (int32_t)q[j]);
    floe_requant_mult r = floe_rsqrt_u64(s);
    floe_requant_mult m = floe_requant_mult_mul(r, c[0]);
    for (size_t j = 0; j < d; j++) {
        if (per_channel)
            m = floe_requant_mult_mul(r, c[j]);
        y[j] = floe_requant(q[j], m, lo, hi);
    }
}
