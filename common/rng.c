#include "common/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void floe_rng_seed(floe_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

void floe_rng_split(floe_rng *out, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ 0xD1B54A32D192ED03ull;
    uint64_t mixed = splitmix64(&x) ^ (stream * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
    floe_rng_seed(out, mixed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t floe_rng_u64(floe_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t floe_rng_below(floe_rng *r, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t x;
    do {
        x = floe_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

int64_t floe_rng_range(floe_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX)
        return (int64_t)floe_rng_u64(r);
    return (int64_t)((uint64_t)lo + floe_rng_below(r, span + 1));
}

double floe_rng_uniform(floe_rng *r) { return (double)(floe_rng_u64(r) >> 11) * 0x1.0p-53; }

float floe_rng_uniformf(floe_rng *r) { return (float)(floe_rng_u64(r) >> 40) * 0x1.0p-24f; }

double floe_rng_normal(floe_rng *r)
{
    double u1 = 1.0 - floe_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = floe_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}
