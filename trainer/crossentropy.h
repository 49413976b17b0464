/* Softmax over the vocabulary + cross-entropy, mean over the N = B*T positions.
 *
 * logits, probs, dlogits: [N, V] row-major; targets: [N] ids in [0, V); losses: [N].
 * Forward writes probs and per-position losses (-log p[target]) and returns the mean loss, summed
 * in double in position order (the same bits for any thread count).
 * Fused backward of softmax + loss (+=):  dlogits[i, v] += (probs[i, v] - [v == targets[i]]) * dloss / N
 * dloss is the gradient of the mean loss: 1, or 1/steps when accumulating micro-batches.
 */
#ifndef FLOE_TRAINER_CROSSENTROPY_H
#define FLOE_TRAINER_CROSSENTROPY_H

#ifdef __cplusplus
extern "C" {
#endif

float floe_crossentropy_forward(float *losses, float *probs, const float *logits, const int *targets, int N,
                                int V);
void floe_crossentropy_backward(float *dlogits, const float *probs, const int *targets, int N, int V, float dloss);

/* The same over R rows at a time, for a head that never holds all N rows of logits (trainer/model.h,
 * floe_model_init_chunked). Forward: logits [R, V] is consumed (overwritten with exp(logit - max));
 * writes losses [R], the row's max and sum of exp (rowmax, rowsum [R], what the backward needs to form
 * the probabilities again without a second pass) and top1 [R], the first index of the row's largest
 * logit. The caller forms the mean loss. Backward: logits [R, V] holds the row's logits again
 * (recomputed, the same bits as the forward's) and is overwritten with the gradient
 *   dlogits[i, v] = (exp(logit - rowmax[i]) * (1 / rowsum[i]) - [v == targets[i]]) * dloss / N
 * N being all positions of the mean, not R. Per element the same operations as the whole-row
 * functions, so losses and dlogits are the same bits as theirs. */
void floe_crossentropy_forward_rows(float *losses, float *rowmax, float *rowsum, int *top1, float *logits,
                                    const int *targets, int R, int V);
void floe_crossentropy_backward_rows(float *logits, const float *rowmax, const float *rowsum, const int *targets, int R,
                                     int V, int N, float dloss);

#ifdef __cplusplus
}
#endif

#endif
