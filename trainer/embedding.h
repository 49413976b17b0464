/* Token embedding lookup.
 *
 *   out[N, C] = wte[tokens[i], :]     tokens: N ids in [0, V), wte: [V, C] row-major
 * Backward: dwte[tokens[i], :] += dout[i, :]. Each thread owns a slice of the C channels and visits
 * the tokens in index order, so repeated tokens accumulate in the same order for any thread count.
 * Precondition (not checked in this hot path): every token id is in [0, V).
 */
#ifndef FLOE_TRAINER_EMBEDDING_H
#define FLOE_TRAINER_EMBEDDING_H

#ifdef __cplusplus
extern "C" {
#endif

void floe_embedding_forward(float *out, const int *tokens, const float *wte, int N, int C);
void floe_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C);

#ifdef __cplusplus
}
#endif

#endif
