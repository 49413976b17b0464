/* SwiGLU gate: out = silu(gate) * up, elementwise over n values (the gate/up/down projections are
 * floe_matmul). silu(x) = x * sigmoid(x). Buffers are [N, FFN] row-major in the model, but any
 * contiguous n works.
 * Backward (+=), recomputing sigmoid instead of saving it:
 *   dgate += dout * up * s * (1 + gate * (1 - s))      dup += dout * silu(gate)
 */
#ifndef FLOE_TRAINER_SWIGLU_H
#define FLOE_TRAINER_SWIGLU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void floe_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
void floe_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                          size_t n);

#ifdef __cplusplus
}
#endif

#endif
