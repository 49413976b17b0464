/* Generation with a KV cache on the float model (docs/trainer.md, "Sampling"): a prompt runs through
 * the batched forward once, its keys (after RoPE) and values fill the cache from the forward's taps,
 * then each new token costs one row through every layer and attention over the cached positions, as
 * a deployed model decodes, instead of the whole window again.
 *
 * The logits equal the full forward's over the same tokens to float rounding (the sums run in
 * another order: tested to 1e-5 of the largest logit). Every result is the same for any thread count.
 *
 * Ownership: the decoder borrows the model (its parameters and RoPE tables, for positions up to
 * m->maxT) and owns its cache and scratch. */
#ifndef FLOE_TRAINER_KV_DECODE_H
#define FLOE_TRAINER_KV_DECODE_H

#include <stdint.h>

#include "common/error.h"
#include "trainer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_decoder {
    floe_model *m;
    int cap;      /* positions the cache holds: m->maxT */
    int pos;      /* positions cached */
    float *k, *v; /* [n_layers][cap][n_kv_heads * head_dim] */
    float *x, *ln, *q, *kr, *vr, *att, *mid, *gate, *up, *swi, *logits, *scores;
} floe_decoder;

/* Allocates the cache for m (loaded with maxB >= 1 and maxT positions). -1 with err when out of memory. */
int floe_decoder_init(floe_decoder *d, floe_model *m, floe_err *err);
void floe_decoder_free(floe_decoder *d);

/* Empties the cache and runs tokens[0..n) (1 <= n <= cap) as positions 0..n-1 through the batched
 * forward; returns the logits after the last of them [vocab] (valid until the next call). */
const float *floe_decoder_prefill(floe_decoder *d, const int32_t *tokens, int n);

/* Runs one token at position d->pos (< cap) against the cache and appends its keys and values;
 * returns the logits of the next token [vocab]. */
const float *floe_decoder_step(floe_decoder *d, int32_t token);

#ifdef __cplusplus
}
#endif

#endif
