/* The simulator's vmm functional unit: fast int8 x int8 vector-matrix products that are bit-identical
 * to the reference arithmetic of isa/vmm.h (docs/numerics.md §9: exact products, int32 wrap-around).
 *
 * Weights are stationary on a core, so they are expanded once (int4 or int2 codes unpacked to int8
 * rows padded to 64 bytes) into a floe_vmm_weights, and every product after that runs on the
 * expanded copy. Two implementations: AVX-512 VNNI (vpdpbusd, chosen at run time when the CPU has it)
 * and portable C; tests check they agree bit for bit with each other and with the reference.
 */
#ifndef FLOE_SIM_VMM_H
#define FLOE_SIM_VMM_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct floe_vmm_weights {
    size_t K, N;       /* input length, output channels */
    size_t stride;     /* bytes per expanded row: K rounded up to 64 */
    int8_t *w;         /* [N][stride], zero padded, 64-byte aligned; owned */
    int32_t *row_sum;  /* [N]: sum_k w[n][k] (exact), for the unsigned-input correction; owned */
} floe_vmm_weights;

typedef enum {
    FLOE_VMM_AUTO = 0,      /* the fastest this CPU supports */
    FLOE_VMM_PORTABLE = 1,  /* plain C (auto-vectorised) */
    FLOE_VMM_AVX512VNNI = 2,
} floe_vmm_impl;

/* Expand row-major [N][K] weights. int4: packed as isa/saturate.h (each row (K + 1) / 2 bytes).
 * int8: one byte each (int2 codes are int8 values in [-2, 1]). Returns 0 or -1 (out of memory). */
int floe_vmm_weights_from_i4(floe_vmm_weights *out, const uint8_t *packed, size_t K, size_t N, floe_err *err);
int floe_vmm_weights_from_i8(floe_vmm_weights *out, const int8_t *w, size_t K, size_t N, floe_err *err);
void floe_vmm_weights_free(floe_vmm_weights *w);

/* acc[m][n] += sum_k x[m][k] * w[n][k] (int32 wrap-around) for M input vectors x [M][K] (int8). */
void floe_vmm_i8(int32_t *acc, const int8_t *x, size_t M, const floe_vmm_weights *w);
/* The same for int16 inputs, as the chip does it: two int8 passes (docs/numerics.md §9). */
void floe_vmm_i16(int32_t *acc, const int16_t *x, size_t M, const floe_vmm_weights *w);

/* Selects the implementation (for tests and benchmarks); AUTO falls back to PORTABLE when the CPU
 * lacks VNNI. Returns the implementation now in use. Not thread-safe: call before starting work. */
floe_vmm_impl floe_vmm_select(floe_vmm_impl impl);
const char *floe_vmm_impl_name(floe_vmm_impl impl);

#endif
