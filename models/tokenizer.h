/* Tokenizers, pluggable: a tokenizer is a small table of functions, so another can be added without
 * touching the corpus, sampler or trainer. Token ids are int32 in [0, vocab_size).
 * The default is byte-level: token = byte value, vocabulary 256, every byte string round-trips.
 * floe_tokenizer_load also reads Hugging Face tokenizer.json files (BPE models), encoding and decoding
 * exactly as the `tokenizers` library does (docs/tokenizers.md).
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
    int32_t bos_id, eos_id; /* begin/end-of-text ids, -1 when the tokenizer has none */
    int add_bos;            /* tokenizer_config.json's add_bos_token (0 when absent); informational: encoding
                               with add_special applies the tokenizer's own post-processor */
    /* Optional (NULL for the byte tokenizer): encode with add_special (the post-processor's special
     * tokens, e.g. BOS) into a malloc'ed array; decode with skip_special (special added tokens left
     * out) into a malloc'ed, NUL-terminated text. Use floe_tokenizer_encode / floe_tokenizer_decode. */
    int (*encode_ex)(const floe_tokenizer *tok, const uint8_t *text, size_t n, int add_special, int32_t **ids,
                     size_t *n_ids, floe_err *err);
    int (*decode_ex)(const floe_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, uint8_t **text,
                     size_t *len, floe_err *err);
    void (*destroy)(floe_tokenizer *tok); /* frees a loaded tokenizer; NULL for static ones */
};

/* The byte-level tokenizer (a static object; never freed). */
const floe_tokenizer *floe_tokenizer_byte(void);

/* A tokenizer by name ("byte"), or NULL with err listing the known names. */
const floe_tokenizer *floe_tokenizer_find(const char *name, floe_err *err);

/* A tokenizer by name or path: "byte" (the static byte tokenizer), a Hugging Face tokenizer.json
 * file, or a folder holding tokenizer.json. tokenizer_config.json beside it, when present, gives
 * bos_id / eos_id (bos_token / eos_token) and add_bos. Returns NULL with err naming the file and
 * the JSON field for anything unsupported or malformed. Free with floe_tokenizer_free. */
const floe_tokenizer *floe_tokenizer_load(const char *path_or_name, floe_err *err);

/* A tokenizer from the text of a tokenizer.json held in memory (json[0..len), NUL-terminated or not);
 * `name` stands for the file in error messages. No tokenizer_config.json is read. */
const floe_tokenizer *floe_tokenizer_from_json(const char *name, const char *json, size_t len, floe_err *err);

/* Frees a tokenizer from floe_tokenizer_load (nothing for static ones or NULL). */
void floe_tokenizer_free(const floe_tokenizer *tok);

/* Encodes text (UTF-8; an ill-formed sequence reads as U+FFFD) into a malloc'ed array (caller
 * frees); add_special adds the post-processor's special tokens (BOS for Llama). */
int floe_tokenizer_encode(const floe_tokenizer *tok, const uint8_t *text, size_t n, int add_special, int32_t **ids,
                          size_t *n_ids, floe_err *err);

/* Decodes ids into a malloc'ed, NUL-terminated text (caller frees; *len excludes the NUL);
 * skip_special leaves special added tokens out. An id outside the vocabulary is an error naming its
 * position. */
int floe_tokenizer_decode(const floe_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, uint8_t **text,
                          size_t *len, floe_err *err);

/* Encodes into a malloc'ed array (caller frees), without special tokens. */
int floe_tokenizer_encode_alloc(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t **ids,
                                size_t *n_ids, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
