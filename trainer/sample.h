/* `floe sample` as one call (docs/trainer.md, "Sampling"): a checkpoint or model folder continues a
 * prompt, token by token through a KV cache (trainer/kv_decode.h), streaming the text as it comes. */
#ifndef FLOE_TRAINER_SAMPLE_H
#define FLOE_TRAINER_SAMPLE_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_sample_opts {
    const char *ckpt;      /* FP checkpoint or Hugging Face model folder */
    const char *tokenizer; /* "byte" or NULL (bytes), or a tokenizer.json / folder */
    const char *prompt;    /* text to continue (non-empty) */
    long long tokens;      /* tokens to generate */
    double temperature;    /* 0: greedy */
    uint64_t seed;
} floe_sample_opts;

/* Writes the prompt, then each generated token's text as soon as it is whole UTF-8, to out. When the
 * cache is full the last half of the window is run again as a new prompt (positions restart), as a
 * sliding window. Returns 0, or -1 with err naming the file or the option. */
int floe_sample_run(const floe_sample_opts *o, FILE *out, floe_err *err);

/* The next token from logits z[0..V): the argmax at temperature 0 (the first of equal ones), else a
 * draw from softmax(z / temperature) in double with the generator r. */
struct floe_rng;
int floe_sample_pick(const float *z, int V, double temperature, struct floe_rng *r);

#ifdef __cplusplus
}
#endif

#endif
