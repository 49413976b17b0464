/* The parts of a Hugging Face tokenizer.json as Floe holds them (docs/tokenizers.md): internal to
 * models/, shared by the loader (tokenizer_json.c), the encoder (tokenizer_encode.c) and the decoder
 * (tokenizer_decode.c). Every string is owned by the floe_hf_tokenizer. */
#ifndef FLOE_MODELS_HF_TOKENIZER_H
#define FLOE_MODELS_HF_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "models/bpe.h"
#include "models/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_hf_str {
    char *s; /* NUL-terminated */
    size_t n;
} floe_hf_str;

typedef enum { FLOE_NORM_PREPEND, FLOE_NORM_REPLACE, FLOE_NORM_NFC } floe_hf_norm_kind;
typedef struct floe_hf_norm {
    floe_hf_norm_kind kind;
    floe_hf_str a, b; /* PREPEND: a; REPLACE: every a -> b; NFC: none */
} floe_hf_norm;

typedef enum {
    FLOE_PRE_BYTELEVEL,
    FLOE_PRE_SPLIT,
    FLOE_PRE_SPLIT_STRING,
    FLOE_PRE_DIGITS,
    FLOE_PRE_METASPACE
} floe_hf_pre_kind;
enum { FLOE_PREPEND_ALWAYS, FLOE_PREPEND_FIRST, FLOE_PREPEND_NEVER };
typedef struct floe_hf_pre {
    floe_hf_pre_kind kind;
    int add_prefix_space, use_regex; /* BYTELEVEL */
    int pattern;                     /* SPLIT: a floe_split_pattern */
    floe_hf_str literal;             /* SPLIT_STRING */
    int individual_digits;           /* DIGITS */
    uint8_t repl[4];                 /* METASPACE: the replacement character, UTF-8 */
    int repl_len, prepend_scheme, split;
} floe_hf_pre;

typedef enum {
    FLOE_DEC_BYTELEVEL,
    FLOE_DEC_METASPACE,
    FLOE_DEC_REPLACE,
    FLOE_DEC_BYTEFALLBACK,
    FLOE_DEC_FUSE,
    FLOE_DEC_STRIP
} floe_hf_dec_kind;
typedef struct floe_hf_dec {
    floe_hf_dec_kind kind;
    floe_hf_str a, b;   /* REPLACE: every a -> b */
    uint32_t ch;        /* METASPACE: the replacement; STRIP: the character stripped */
    int prepend_scheme; /* METASPACE */
    int start, stop;    /* STRIP: at most this many from each end */
} floe_hf_dec;

typedef struct floe_hf_added {
    floe_hf_str content; /* as written (what decoding gives) */
    floe_hf_str match;   /* as matched: the content normalized when `normalized`, else the content */
    int32_t id;
    int special, lstrip, rstrip, single_word, normalized;
} floe_hf_added;

/* Added tokens matched in one pass (raw or normalized text): indices into added[], ordered by first
 * byte and then longest first; first[b]..first[b + 1] are those starting with byte b. */
typedef struct floe_hf_matcher {
    int32_t *order;
    int32_t first[257];
} floe_hf_matcher;

typedef struct floe_hf_tokenizer {
    floe_tokenizer base; /* first: a floe_tokenizer * points here */
    char *path;
    floe_bpe bpe;
    floe_hf_norm *norm;
    int n_norm;
    floe_hf_pre *pre;
    int n_pre;
    floe_hf_dec *dec;
    int n_dec, has_decoder;
    floe_hf_added *added;
    int n_added;
    int32_t *added_of_id;        /* id -> index in added[] or -1; n_ids entries */
    floe_hf_matcher raw, normed; /* tokens with normalized false / true */
    int32_t *tmpl;               /* the single template's ids: tmpl[0..n_before) then $A then the rest */
    size_t n_before, n_tmpl;
} floe_hf_tokenizer;

/* The GPT-2 byte-to-unicode map: byte -> code point, and code point (< 324) -> byte or -1. */
uint32_t floe_hf_byte_char(uint8_t b);
int floe_hf_char_byte(uint32_t cp);

/* Applies the normalizers to s[0..n) into a malloc'ed string (NUL-terminated). NULL: out of memory. */
char *floe_hf_normalize(const floe_hf_tokenizer *t, const char *s, size_t n, size_t *out_n);

int floe_hf_encode(const floe_tokenizer *tok, const uint8_t *text, size_t n, int add_special, int32_t **ids,
                   size_t *n_ids, floe_err *err);
int floe_hf_decode(const floe_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, uint8_t **text,
                   size_t *len, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
