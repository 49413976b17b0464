/* Residual connection: out = a + b over n values; backward (+=): da += dout, db += dout.
 * floe_residual_forward may run in place (out == a): each element is read before it is written. */
#ifndef FLOE_TRAINER_RESIDUAL_H
#define FLOE_TRAINER_RESIDUAL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void floe_residual_forward(float *out, const float *a, const float *b, size_t n);
void floe_residual_backward(float *da, float *db, const float *dout, size_t n);

#ifdef __cplusplus
}
#endif

#endif
