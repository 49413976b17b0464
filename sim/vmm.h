/* The simulator's vmm functional unit: fast int8 x int8 vector-matrix products that are bit-identical
 * to the reference arithmetic of isa/vmm.h (docs/numerics.md §9: exact products, int32 wrap-around).
 *
 * Weights are stationary on a core, so a floe_vmm_weights is prepared once and reused by every
 * product: either an expanded int8 copy (rows padded to 64 bytes), or a view of packed int4 rows left
 * where they are (only the row sums are stored). The packed view moves half the bytes of the
 * expanded copy per product and costs no copy, which is what makes the simulator fast on int4 layers.
 * Two implementations: AVX-512 VNNI (vpdpbusd, chosen at run time when the CPU has it) and portable
 * C; tests check they agree bit for bit with each other and with the reference.
 */
#ifndef FLOE_SIM_VMM_H
#define FLOE_SIM_VMM_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_vmm_weights {
    size_t K, N;           /* input length, output channels */
    size_t stride;         /* bytes per row: K rounded up to 64 (expanded), (K + 1) / 2 (packed) */
    int8_t *w;             /* expanded: [N][stride], zero padded, 64-byte aligned; owned. Else NULL */
    const uint8_t *packed; /* packed int4 view: [N][stride], any alignment; borrowed. Else NULL */
    int32_t *row_sum;      /* [N]: sum_k w[n][k] (exact), for the unsigned-input correction; owned */
} floe_vmm_weights;

typedef enum {
    FLOE_VMM_AUTO = 0,      /* the fastest this CPU supports */
    FLOE_VMM_PORTABLE = 1,  /* plain C (auto-vectorised) */
    FLOE_VMM_AVX512VNNI = 2,
} floe_vmm_impl;

/* Expand row-major [N][K] weights. int4: packed as isa/saturate.h (each row (K + 1) / 2 bytes).
 * int8: one byte each (int2 codes are int8 values in [-2, 1]). Returns 0 or -1 (out of memory). */
int floe_vmm_weights_from_i4(floe_vmm_weights *out, const uint8_t *packed, size_t K, size_t N, floe_err *err);
/* A view of packed int4 weights (same layout; the padding nibble of odd K is ignored): nothing is
 * copied, `packed` must stay alive and unchanged while the view is used (rebuild it after a write). */
int floe_vmm_weights_view_i4(floe_vmm_weights *out, const uint8_t *packed, size_t K, size_t N, floe_err *err);
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

#ifdef __cplusplus
}
#endif

#endif
