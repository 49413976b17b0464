/* Global gradient-norm clipping and gradient scaling.
 *
 * floe_sumsq sums squares in double over 64 fixed blocks (boundaries depend on n only), the blocks
 * run in parallel and their partials are added in block order: the same bits for any thread count.
 * For gradients held in several tensors, add their floe_sumsq in a fixed order, take the sqrt, and
 * scale each by floe_clip_coef. floe_scale also serves gradient accumulation (multiply summed
 * micro-batch gradients by 1/steps), unless dloss already carried that factor.
 */
#ifndef FLOE_TRAINER_GRAD_CLIP_H
#define FLOE_TRAINER_GRAD_CLIP_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

double floe_sumsq(const float *x, size_t n);
/* max_norm / norm when norm > max_norm, else 1. */
float floe_clip_coef(double norm, float max_norm);
void floe_scale(float *x, size_t n, float s);
/* Clips one contiguous gradient buffer to max_norm; returns its norm before clipping. */
double floe_grad_clip(float *grad, size_t n, float max_norm);

#ifdef __cplusplus
}
#endif

#endif
