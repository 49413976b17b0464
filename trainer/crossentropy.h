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

#ifdef __cplusplus
}
#endif

#endif
