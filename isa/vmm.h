/* The vector-matrix multiply's arithmetic (docs/numerics.md §9): the reference every vmm
 * implementation (simulator fast paths, RTL, trainer) must equal.
 *
 * acc[n] += sum_k x[k] * w[n][k], each product exact, accumulated in int32 with two's-complement
 * wrap-around. Wrapping (rather than saturating) makes the sum independent of the order and tiling
 * of the reduction; the compiler proves no wrap happens for real layers (K * max|x| * max|w| < 2^31).
 */
#ifndef FLOE_ISA_VMM_H
#define FLOE_ISA_VMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int32_t floe_mac_wrap(int32_t acc, int32_t x, int32_t w)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(x * w)); /* |x * w| < 2^31 for int16 x int16 */
}

/* w: [N][K] int4 packed row by row ((K + 1) / 2 bytes per row); x: K int8 values. */
void floe_vmm_i8_i4_ref(int32_t *acc, const int8_t *x, const uint8_t *w_packed, size_t K, size_t N);
/* w: [N][K] int8. */
void floe_vmm_i8_i8_ref(int32_t *acc, const int8_t *x, const int8_t *w, size_t K, size_t N);
/* int16 activations: two int8 passes (high byte signed, low byte unsigned): acc += 256 * hi + lo,
 * which equals the direct int16 product in wrapped int32 arithmetic. w: [N][K] int8 (int4 values
 * may be passed unpacked). */
void floe_vmm_i16_i8_ref(int32_t *acc, const int16_t *x, const int8_t *w, size_t K, size_t N);

#ifdef __cplusplus
}
#endif

#endif
