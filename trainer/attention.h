/* Causal grouped-query attention (softmax of the scores times `scale`: 1/sqrt(hd) for Llama, Granite's
 * attention_multiplier), after RoPE.
 *
 * q, dq: [B, T, NH, hd]; k, v, dk, dv: [B, T, NKV, hd]; out, dout: [B, T, NH, hd]; all row-major.
 * Query head h reads KV head h / (NH / NKV) (Hugging Face repeat_kv); NH must be a multiple of NKV.
 * stats: [B, NH, T, 2], per query row the score max m and 1/sum(exp(S - m)), written by forward: all
 * that backward keeps of the probabilities (O(T) per head instead of T x T). scratch: workspace of
 * floe_attention_scratch_floats(B, T, NH) floats (one [32, T] block pair per task; contents on entry
 * do not matter), so a layer at T = 2048 holds no T x T matrix.
 *
 *   S = q_h k_g^T * scale (causal)   P = softmax(S)   out_h = P v_g
 * Backward (+=), recomputing P block by block from q, k and stats with the forward's own operations
 * (same bits as storing it): dv_g += P^T dout_h; dP = dout_h v_g^T; dS = P * (dP - rowsum(P * dP));
 *   dq_h += dS k_g * scale; dk_g += dS^T q_h * scale.
 * Row blocks give dq and rowsum(P * dP); column strips (keys c0..c0+31, rows c0..T-1) give dk, dv.
 * Only the 32 x 32 blocks on or below the diagonal are multiplied.
 * Forward is parallel over (b, h, row block); backward's rows over (b, h), its columns over (b, KV
 * head, key block), each column task summing its group's query heads in ascending order into dk, dv:
 * no two threads write the same element, and the bits depend on neither the thread count nor the
 * schedule. A region that uses scratch takes one slot per thread and runs on at most B * NH threads.
 */
#ifndef FLOE_TRAINER_ATTENTION_H
#define FLOE_TRAINER_ATTENTION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

size_t floe_attention_stats_floats(int B, int T, int NH);
size_t floe_attention_scratch_floats(int B, int T, int NH);
void floe_attention_forward(float *out, float *stats, float *scratch, const float *q, const float *k, const float *v,
                            int B, int T, int NH, int NKV, int hd, float scale);
void floe_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *stats,
                             const float *q, const float *k, const float *v, int B, int T, int NH, int NKV, int hd,
                             float scale);

/* The same backward with the probabilities given row by row (the QAT student's come from the integer
 * forward and cannot be recomputed from the float q, k): prob(ctx, b, h, t, row, tmp) writes the
 * t + 1 probabilities of row t of head h of sequence b into row, and may use tmp (T floats) as
 * scratch. scratch: 2 T x T floats (one head's P and dS; nothing of size B x NH x T x T exists). Heads
 * run one after another, each with every thread: its rows in blocks (P, dP, dS, dq), then its key
 * blocks (dk, dv). Each dk, dv element sums its query heads in ascending order, and each sgemm call
 * is the one a whole [B, NH, T, T] P would give: the bits depend on neither the thread count nor the
 * schedule. */
typedef void (*floe_attention_prob_fn)(void *ctx, int b, int h, int t, float *row, float *tmp);
void floe_attention_backward_given(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                                   floe_attention_prob_fn prob, void *ctx, const float *q, const float *k,
                                   const float *v, int B, int T, int NH, int NKV, int hd, float scale);

#ifdef __cplusplus
}
#endif

#endif
