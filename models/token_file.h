/* Token files: a corpus tokenized once (floe corpus --output), read back memory-mapped.
 *
 * Layout (docs/corpus.md; every integer little-endian):
 *   header, 64 bytes:
 *     0  magic "FLOETOK1" (8 bytes)       32 n_docs            (u64)
 *     8  version = 1          (u32)       40 n_train_docs      (u64; documents 0 .. n_train_docs-1 train)
 *     12 width = 2 or 4       (u32)       48 n_train tokens    (u64)
 *     16 vocab_size           (u32)       56 n_val tokens      (u64)
 *     20 reserved = 0         (u32)
 *     24 tokenizer digest     (u64, floe_tokenizer_digest)
 *   tokens: n_train + n_val ids of `width` bytes (the train split, then the validation split), each
 *           in [0, vocab_size); width is 2 when vocab_size <= 65536, else 4;
 *   zero padding to a multiple of 8 bytes;
 *   offsets: n_docs + 1 u64, offsets[i] = index of document i's first token in the token stream,
 *           offsets[0] = 0, non-decreasing, offsets[n_train_docs] = n_train, offsets[n_docs] = n_train + n_val.
 * The file size must be exactly what the header implies.
 *
 * Errors name the file and the header field (or offset / token index) at fault. A header is checked
 * against the file size before anything is mapped or allocated.
 */
#ifndef FLOE_MODELS_TOKEN_FILE_H
#define FLOE_MODELS_TOKEN_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/corpus.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_TOKFILE_MAGIC "FLOETOK1"
#define FLOE_TOKFILE_VERSION 1u
#define FLOE_TOKFILE_HEADER 64u

typedef struct floe_tokfile_info {
    uint32_t version, width, vocab_size;
    uint64_t tokenizer_digest;
    uint64_t n_docs, n_train_docs;
    uint64_t n_train, n_val; /* tokens */
    uint64_t offsets_at;     /* byte offset of the offsets table (derived) */
    uint64_t file_size;      /* what the header implies */
} floe_tokfile_info;

/* Reads and checks the first `len` bytes of a file of `file_size` bytes (len >= FLOE_TOKFILE_HEADER);
 * `name` stands for the file in messages. Pure: allocates nothing. */
int floe_tokfile_parse_header(const uint8_t *hdr, size_t len, uint64_t file_size, const char *name,
                              floe_tokfile_info *info, floe_err *err);

/* The whole check of a token file held in memory (data[0..size)): header against size, offsets, every
 * token. floe_tokfile_open runs it on the mapping. */
int floe_tokfile_check(const uint8_t *data, size_t size, const char *name, floe_tokfile_info *info, floe_err *err);

/* Encodes info into a 64-byte header. */
void floe_tokfile_write_header(const floe_tokfile_info *info, uint8_t hdr[FLOE_TOKFILE_HEADER]);

/* 1 if path is a regular file starting with the magic (0 otherwise, errors included). */
int floe_tokfile_is(const char *path);

/* Maps path read-only, checks header, offsets and every token, and gives views of the two splits
 * (train, val: no copy; they share the mapping, which lives until both are freed with
 * floe_tokens_free). info may be NULL. On error nothing is left mapped. */
int floe_tokfile_open(const char *path, floe_tokfile_info *info, floe_tokens *train, floe_tokens *val, floe_err *err);

/* Drops one view's reference to a mapping (floe_tokens_free calls it); unmaps after the last. */
void floe_tokfile_map_release(struct floe_tokfile_map *m);

/* The digest a token file records for a tokenizer spec (floe_tokenizer_load's argument): "byte" ->
 * FNV-1a 64 of the string "byte"; a tokenizer.json file, or a folder holding one -> FNV-1a 64 of the
 * file's bytes. */
int floe_tokenizer_digest(const char *path_or_name, uint64_t *digest, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
