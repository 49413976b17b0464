/* Building a token file (models/token_file.h) from text: `floe corpus --output`.
 *
 * Inputs, in the order given: a file ending in .jsonl holds one JSON object per line whose string
 * field "text" is a document (blank lines are skipped; anything else is an error naming file:line);
 * any other file is one document (its bytes); a folder adds every regular file below it, recursively,
 * in strcmp order of path (hidden entries, those starting with '.', skipped).
 *
 * Each document is encoded without special tokens, then gets the tokenizer's BOS in front when its
 * tokenizer_config.json says add_bos_token (and it has a BOS) and its EOS at the end when it has one.
 * It goes wholly to validation when floe_corpus_is_validation(its text bytes) (about 1 in 20), else to
 * train; within a split documents keep input order. The file is written atomically; the tokenizer is
 * loaded once and every input is read once.
 */
#ifndef FLOE_MODELS_CORPUS_BUILD_H
#define FLOE_MODELS_CORPUS_BUILD_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_corpus_build_stats {
    uint64_t files, bytes;         /* inputs read and their total size */
    uint64_t skipped_binary;       /* files skipped as not text (a NUL byte; e.g. a folder's index files) */
    uint64_t docs_train, docs_val; /* documents per split */
    uint64_t n_train, n_val;       /* tokens per split */
    uint64_t tokenizer_digest;     /* floe_tokenizer_digest */
    int vocab_size, width;
} floe_corpus_build_stats;

/* Tokenizes inputs[0..n_inputs) with the tokenizer `tokenizer` (floe_tokenizer_load's argument) into
 * the token file `output`. progress (may be NULL) receives a line per 10% of the input bytes when
 * they exceed 16 MiB. A file (not .jsonl) holding a NUL byte is not text and is skipped, counted in
 * st->skipped_binary. st (may be NULL) receives the figures. */
int floe_corpus_build(const char *tokenizer, const char *const *inputs, size_t n_inputs, const char *output,
                      FILE *progress, floe_corpus_build_stats *st, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
