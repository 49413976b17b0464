/* Byte-pair encoding as the Hugging Face `tokenizers` BPE model does it (docs/tokenizers.md).
 *
 * A floe_bpe holds the vocabulary (token bytes <-> id) and the merge table ((left id, right id) ->
 * rank, merged id). floe_bpe_word splits one pre-token into characters and applies merges lowest rank
 * first (leftmost among equal ranks) with a heap over a linked list of symbols, so a word of n
 * characters costs O(n log n), never O(n^2). Unknown characters become <0xNN> byte tokens
 * (byte_fallback) or the unknown token (fused when fuse_unk), or are dropped when neither exists.
 * With ignore_merges a pre-token that is itself in the vocabulary is emitted whole.
 *
 * The table is read-only once built; the per-call state (symbols, heap, a word cache) lives in a
 * floe_bpe_work that each caller owns, so several threads may encode with one floe_bpe.
 */
#ifndef FLOE_MODELS_BPE_H
#define FLOE_MODELS_BPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_bpe {
    int32_t n_ids;       /* ids are in [0, n_ids); piece[id] is NULL for an id not in the vocabulary */
    char **piece;        /* owned, NUL-terminated */
    uint32_t *piece_len; /* bytes */
    int32_t *slot;       /* hash of piece -> id (-1 empty), slot_cap entries */
    size_t slot_cap;
    uint64_t *merge_key; /* (left << 32 | right), UINT64_MAX empty; merge_cap entries */
    int32_t *merge_rank;
    int32_t *merge_new;
    size_t merge_cap, n_merges;
    int32_t unk_id; /* -1 when there is no unknown token */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t byte_id[256]; /* the id of "<0xNN>", -1 when absent */
} floe_bpe;

/* An empty table for ids [0, n_ids) with room for n_pieces pieces and n_merges merges. Returns -1
 * when out of memory. */
int floe_bpe_init(floe_bpe *b, int32_t n_ids, size_t n_pieces, size_t n_merges);
void floe_bpe_free(floe_bpe *b);

/* Adds a piece. Returns 0, 1 when the id is already taken, 2 when the piece already has an id
 * (*other receives that other id), -1 when out of memory. */
int floe_bpe_add_piece(floe_bpe *b, const char *s, size_t n, int32_t id, int32_t *other);

/* The id of a piece, or -1. */
int32_t floe_bpe_find(const floe_bpe *b, const char *s, size_t n);

/* Adds (or replaces, as a later duplicate does in `tokenizers`) the merge left+right -> merged. */
void floe_bpe_add_merge(floe_bpe *b, int32_t left, int32_t right, int32_t rank, int32_t merged);

/* Finds the byte-fallback pieces <0x00>..<0xFF>. */
void floe_bpe_find_bytes(floe_bpe *b);

/* Growable id list. */
typedef struct floe_ids {
    int32_t *v;
    size_t n, cap;
} floe_ids;
int floe_ids_push(floe_ids *ids, int32_t id); /* -1 when out of memory */

typedef struct floe_bpe_work floe_bpe_work;
floe_bpe_work *floe_bpe_work_new(void);
void floe_bpe_work_free(floe_bpe_work *w);

/* Encodes one pre-token (well-formed UTF-8) and appends its ids. Returns -1 when out of memory. */
int floe_bpe_word(const floe_bpe *b, floe_bpe_work *w, const uint8_t *s, size_t n, floe_ids *out);

#ifdef __cplusplus
}
#endif

#endif
