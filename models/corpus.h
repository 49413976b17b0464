/* Training text: the default corpus (Debian's `fortunes`), a generated corpus for tests, the fixed
 * train/validation split, and deterministic batch sampling.
 *
 * A corpus is a list of documents (one fortune each). Each goes wholly to train or validation by a
 * hash of its text (floe_corpus_is_validation: about 1 in 20 to validation), so the split does not
 * depend on file order, and duplicated fortunes never straddle it. Each split is one byte stream
 * in which every document is followed by the line "%\n", the fortune files' own separator: the
 * model sees where one fortune ends (docs/models.md).
 */
#ifndef FLOE_MODELS_CORPUS_H
#define FLOE_MODELS_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_FORTUNES_DIR "/usr/share/games/fortunes"
#define FLOE_CORPUS_VAL_MODULUS 20 /* 1 in 20 documents -> validation */

typedef struct floe_corpus {
    uint8_t *train, *val; /* text of each split (not NUL-terminated) */
    size_t n_train, n_val;
    size_t cap_train, cap_val;
    size_t docs_train, docs_val;
    size_t n_files; /* source files read (0 for generated corpora) */
} floe_corpus;

/* 64-bit FNV-1a, the split hash's first stage (also handy as a content digest). */
uint64_t floe_fnv1a64(const void *data, size_t n);

/* The split rule: 1 if the document goes to validation. */
int floe_corpus_is_validation(const uint8_t *text, size_t n);

/* Starts an empty corpus / adds one document (its split chosen by the rule above) / frees. */
void floe_corpus_init(floe_corpus *c);
int floe_corpus_add_doc(floe_corpus *c, const uint8_t *text, size_t n, floe_err *err);
void floe_corpus_free(floe_corpus *c);

/* The fortunes corpus from `dir` (NULL: FLOE_FORTUNES_DIR): every regular file not ending in .dat or
 * .u8 (sub-folders such as off/ are skipped), in strcmp order of file name; fortunes are separated by
 * lines holding only "%"; overstrike sequences (x BACKSPACE y) are resolved to y. A missing folder
 * is an error naming it and scripts/setup.sh. */
int floe_corpus_load_fortunes(floe_corpus *c, const char *dir, floe_err *err);

/* A generated English-like corpus of n_docs documents, the same for the same seed everywhere. */
int floe_corpus_generate(floe_corpus *c, uint64_t seed, size_t n_docs, floe_err *err);

/* A corpus by name, for command-line options: NULL, "" or "fortunes" -> the fortunes corpus from
 * FLOE_FORTUNES_DIR; "generated[:N[:SEED]]" -> the generated corpus (default 2000 documents, seed 1);
 * anything else -> a folder of fortune-format files. */
int floe_corpus_open(floe_corpus *c, const char *spec, floe_err *err);

/* A token stream (one split, tokenized): owned int32 ids, or (ids NULL) a view of a token file's
 * split, `width` bytes per id, kept alive by the shared mapping `map` (models/token_file.h). Read
 * windows with floe_tokens_copy; floe_tokens_free frees the ids or drops the view. vocab is the
 * vocabulary a token file records (0 for streams encoded in memory: not checked). */
struct floe_tokfile_map;
typedef struct floe_tokens {
    int32_t *ids;
    size_t n;
    const uint8_t *view; /* a token file's ids (little-endian) when ids is NULL */
    int width;           /* 2 or 4 for a view */
    int vocab;
    uint64_t tokenizer_digest; /* a token file's (floe_tokenizer_digest); 0 when not recorded */
    struct floe_tokfile_map *map;
} floe_tokens;

/* out[0..count) = ids at..at+count-1 (the caller checks the range). */
void floe_tokens_copy(const floe_tokens *s, size_t at, size_t count, int32_t *out);

/* -1 with err set when the stream's vocabulary (when recorded) exceeds a model's vocab_size. */
int floe_tokens_check_vocab(const floe_tokens *s, int vocab_size, floe_err *err);

/* The tokenizer a stream was made with, as a checkpoint records it (metadata floe.tokenizer):
 * "byte" for streams without a digest or with the byte tokenizer's, else "fnv1a64:<16 hex digits>" of the digest. */
void floe_tokens_tokenizer_label(const floe_tokens *s, char *out, size_t n);

int floe_tokens_encode(floe_tokens *s, const floe_tokenizer *tok, const uint8_t *text, size_t n, floe_err *err);
void floe_tokens_free(floe_tokens *s);

/* Training batch for (seed, step): B rows of T+1 tokens into out (B*(T+1) ids, row-major). Row b is
 * the window starting at a uniformly drawn position; inputs are row[0..T-1], targets row[1..T].
 * The same (stream, seed, step, B, T) gives the same batch on every machine. */
int floe_batch_sample(const floe_tokens *s, uint64_t seed, uint64_t step, int B, int T, int32_t *out,
                      floe_err *err);

/* Validation: the windows of T+1 tokens starting at 0, T, 2T, ... that fit, in order, B at a time.
 * Every token after the first is a target exactly once (except a tail shorter than T+1). */
typedef struct floe_val_iter {
    const floe_tokens *s;
    int B, T;
    size_t next;      /* index of the next window */
    size_t n_windows; /* (n - 1) / T */
} floe_val_iter;

int floe_val_iter_init(floe_val_iter *it, const floe_tokens *s, int B, int T, floe_err *err);
/* Fills up to B rows of T+1 ids; returns the number of rows (0 when exhausted). */
int floe_val_iter_next(floe_val_iter *it, int32_t *out);
void floe_val_iter_reset(floe_val_iter *it);

#ifdef __cplusplus
}
#endif

#endif
