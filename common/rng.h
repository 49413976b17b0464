/* Deterministic pseudo-random numbers: xoshiro256** seeded through splitmix64.
 *
 * The same seed gives the same sequence on every machine, compiler and thread count. Parallel code
 * derives one independent stream per work item with floe_rng_split (never shares a generator).
 */
#ifndef FLOE_COMMON_RNG_H
#define FLOE_COMMON_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_rng {
    uint64_t s[4];
} floe_rng;

void floe_rng_seed(floe_rng *r, uint64_t seed);
/* A generator for sub-stream `stream` of `seed`: independent of the parent's draws. */
void floe_rng_split(floe_rng *out, uint64_t seed, uint64_t stream);
uint64_t floe_rng_u64(floe_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t floe_rng_below(floe_rng *r, uint64_t n);
/* Uniform integer in [lo, hi] (inclusive). */
int64_t floe_rng_range(floe_rng *r, int64_t lo, int64_t hi);
/* Uniform double in [0, 1) with 53 random bits. */
double floe_rng_uniform(floe_rng *r);
/* Uniform float in [0, 1) with 24 random bits. */
float floe_rng_uniformf(floe_rng *r);
/* Standard normal (Box-Muller; one value per call, deterministic). */
double floe_rng_normal(floe_rng *r);

#ifdef __cplusplus
}
#endif

#endif
