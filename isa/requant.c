#include "isa/requant.h"

#include <math.h>

int floe_requant_mult_from_real(double M, floe_requant_mult *out)
{
    if (!(M >= 0.0) || !isfinite(M))
        return -1;
    if (M == 0.0) {
        *out = (floe_requant_mult){0, 0};
        return 0;
    }
    int e;
    double f = frexp(M, &e); /* M = f * 2^e, f in [0.5, 1) */
    /* f * 2^31 is exact in double; round half up without an inexact add. */
    double x = ldexp(f, 31);
    double fl = floor(x);
    int64_t m = (int64_t)fl + ((x - fl) >= 0.5 ? 1 : 0);
    if (m == ((int64_t)1 << 31)) {
        m >>= 1;
        e += 1;
    }
    int shift = 31 - e;
    if (shift < 0)
        return -1;
    if (shift > FLOE_REQUANT_MAX_SHIFT) {
        /* Too small for a normalised mantissa: denormalise to shift 62 (one more rounding of the
         * exact value M * 2^62, not of m). */
        double y = ldexp(M, FLOE_REQUANT_MAX_SHIFT);
        double yf = floor(y);
        m = (int64_t)yf + ((y - yf) >= 0.5 ? 1 : 0);
        shift = FLOE_REQUANT_MAX_SHIFT;
    }
    out->m = (int32_t)m;
    out->shift = shift;
    return 0;
}

double floe_requant_mult_to_real(floe_requant_mult q) { return ldexp((double)q.m, -q.shift); }

static int bit_length_u64(uint64_t x) { return x ? 64 - __builtin_clzll(x) : 0; }

/* round-half-up(x / 2^r) for r >= 1 */
static uint64_t rshift_round(uint64_t x, int r)
{
    if (r <= 0)
        return x;
    if (r >= 64)
        return 0;
    return (x >> r) + ((x >> (r - 1)) & 1u);
}

floe_requant_mult floe_requant_mult_mul(floe_requant_mult a, floe_requant_mult b)
{
    uint64_t p = (uint64_t)(uint32_t)a.m * (uint64_t)(uint32_t)b.m; /* < 2^62 */
    int64_t shift = (int64_t)a.shift + b.shift;
    if (p == 0)
        return (floe_requant_mult){0, 0};
    int r = bit_length_u64(p) - 31;
    if (r < 0)
        r = 0;
    if (shift - r > FLOE_REQUANT_MAX_SHIFT)
        r = (int)(shift - FLOE_REQUANT_MAX_SHIFT); /* denormalise: fewer mantissa bits */
    uint64_t m = rshift_round(p, r);
    shift -= r;
    if (m >= ((uint64_t)1 << 31)) { /* rounding carried into bit 31 */
        m >>= 1;
        shift -= 1;
    }
    if (shift < 0)
        return (floe_requant_mult){INT32_MAX, 0};
    return (floe_requant_mult){(int32_t)m, (int32_t)shift};
}

void floe_requant_matrix(int32_t *out, const int32_t *acc, size_t rows, size_t channels,
                         const floe_requant_mult *mult, int per_channel, int32_t lo, int32_t hi)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < channels; c++)
            out[r * channels + c] =
                floe_requant(acc[r * channels + c], mult[per_channel ? c : 0], lo, hi);
}
