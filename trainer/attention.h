/* Causal grouped-query attention (softmax of the scores times `scale`: 1/sqrt(hd) for Llama, Granite's
 * attention_multiplier), after RoPE.
 *
 * q, dq: [B, T, NH, hd]; k, v, dk, dv: [B, T, NKV, hd]; out, dout: [B, T, NH, hd]; all row-major.
 * Query head h reads KV head h / (NH / NKV) (Hugging Face repeat_kv); NH must be a multiple of NKV.
 * att: [B, NH, T, T], the softmax probabilities saved by forward (row t holds s <= t; zeros above
 * the diagonal). dscratch: [B, NH, T, T] workspace for backward (contents on entry do not matter).
 *
 *   S = q_h k_g^T * scale (causal)   P = softmax(S)   out_h = P v_g
 * Backward (+=): dv_g += P^T dout_h; dP = dout_h v_g^T; dS = P * (dP - rowsum(P * dP));
 *   dq_h += dS k_g * scale; dk_g += dS^T q_h * scale.
 * Only the 32 x 32 blocks on or below the diagonal are multiplied.
 * Forward is parallel over (b, h); backward over (b, KV head), each task summing its group's query
 * heads in ascending order into dk, dv: no two threads write the same element.
 */
#ifndef FLOE_TRAINER_ATTENTION_H
#define FLOE_TRAINER_ATTENTION_H

#ifdef __cplusplus
extern "C" {
#endif

void floe_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int B, int T,
                            int NH, int NKV, int hd, float scale);
void floe_attention_backward(float *dq, float *dk, float *dv, float *dscratch, const float *dout, const float *att,
                             const float *q, const float *k, const float *v, int B, int T, int NH, int NKV, int hd,
                             float scale);

#ifdef __cplusplus
}
#endif

#endif
