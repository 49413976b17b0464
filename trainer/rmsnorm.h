/* RMSNorm over the last dimension (eps FLOE_RMSNORM_EPS = 1e-5, as Llama).
 *
 *   rstd[i] = 1 / sqrt(mean_c inp[i, c]^2 + eps)       out[i, c] = (inp[i, c] * rstd[i]) * g[c]
 * inp, out, dinp, dout: [N, C] row-major; g, dg: [C]; rstd: [N] saved by forward for backward.
 * Backward (+=):
 *   dinp[i, c] += rstd g[c] dout[i, c] - inp[i, c] rstd^3 / C * sum_k dout[i, k] g[k] inp[i, k]
 *   dg[c]      += sum_i dout[i, c] inp[i, c] rstd[i]
 * Rows are split among threads for out/dinp; channels for dg (each thread sums all rows in order).
 */
#ifndef FLOE_TRAINER_RMSNORM_H
#define FLOE_TRAINER_RMSNORM_H

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_RMSNORM_EPS 1e-5f

void floe_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *g, int N, int C);
/* The same with another eps (a config's rms_norm_eps); eps = FLOE_RMSNORM_EPS gives the same bits. */
void floe_rmsnorm_forward_eps(float *out, float *rstd, const float *inp, const float *g, int N, int C, float eps);
void floe_rmsnorm_backward(float *dinp, float *dg, const float *dout, const float *inp, const float *g,
                           const float *rstd, int N, int C);

#ifdef __cplusplus
}
#endif

#endif
