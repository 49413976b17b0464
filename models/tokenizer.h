/* Tokenizers, pluggable: a tokenizer is a small table of functions, so another (BPE, say) can be
 * added without touching the corpus, sampler or trainer. Token ids are int32 in [0, vocab_size).
 * The default is byte-level: token = byte value, vocabulary 256, every byte string round-trips.
 */
#ifndef FLOE_MODELS_TOKENIZER_H
#define FLOE_MODELS_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_tokenizer floe_tokenizer;

struct floe_tokenizer {
    const char *name; /* "byte" */
    int vocab_size;
    /* Encodes n bytes of text. Writes at most cap ids to out (out may be NULL when cap is 0) and
     * returns how many ids the whole text needs, so a caller may size a buffer with cap = 0 first. */
    size_t (*encode)(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t *out, size_t cap);
    /* Decodes n ids into at most cap bytes; *len receives the bytes the whole text needs. Returns -1
     * (err names the position and id) for an id outside the vocabulary. */
    int (*decode)(const floe_tokenizer *tok, const int32_t *ids, size_t n, uint8_t *out, size_t cap, size_t *len,
                  floe_err *err);
    void *state; /* for tokenizers with tables */
};

/* The byte-level tokenizer (a static object; never freed). */
const floe_tokenizer *floe_tokenizer_byte(void);

/* A tokenizer by name ("byte"), or NULL with err listing the known names. */
const floe_tokenizer *floe_tokenizer_find(const char *name, floe_err *err);

/* Encodes into a malloc'ed array (caller frees). */
int floe_tokenizer_encode_alloc(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t **ids,
                                size_t *n_ids, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
