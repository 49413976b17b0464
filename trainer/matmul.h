/* Linear layer without bias, PyTorch nn.Linear layout.
 *
 *   out[N, OC] = inp[N, C] @ w[OC, C]^T        (N = B*T rows, all row-major)
 *
 * Backward accumulates (+=, like every backward in trainer/; the caller zeroes gradients):
 *   dinp[N, C] += dout[N, OC] @ w      dw[OC, C] += dout^T @ inp
 * dinp or dw may be NULL when that gradient is not wanted (frozen weight, first layer).
 * Threads: out/dinp rows and dw rows are split among OpenMP threads, each running a
 * single-threaded sgemm on the rows it owns (trainer/blas.h).
 */
#ifndef FLOE_TRAINER_MATMUL_H
#define FLOE_TRAINER_MATMUL_H

#ifdef __cplusplus
extern "C" {
#endif

void floe_matmul_forward(float *out, const float *inp, const float *w, int N, int C, int OC);
void floe_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int N,
                          int C, int OC);
/* The same products, with a choice per output: add (1, as floe_matmul_backward) or overwrite (0, for
 * a caller that would otherwise zero the buffer first: one pass over memory less). */
void floe_matmul_backward_into(float *dinp, int dinp_add, float *dw, int dw_add, const float *dout,
                               const float *inp, const float *w, int N, int C, int OC);
/* The same with dout's rows ldo floats apart (ldo >= OC): the products of a slice of OC columns of a
 * wider dout, e.g. rows of the LM head's weight at a time. dw's rows are computed in blocks of 128
 * from the slice's first: a slice starting at a multiple of 128 gives its rows the bits the whole
 * product gives them. */
void floe_matmul_backward_ld(float *dinp, int dinp_add, float *dw, int dw_add, const float *dout, int ldo,
                             const float *inp, const float *w, int N, int C, int OC);

#ifdef __cplusplus
}
#endif

#endif
