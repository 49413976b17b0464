/* The pre-tokenizer split patterns of the Hugging Face tokenizers, as exact hand-written matchers
 * (docs/tokenizers.md). A tokenizer.json names its pattern by the regex text; floe_split_pattern_find
 * recognises the supported texts byte for byte and anything else is refused, so no general regex
 * engine is needed. Each matcher returns what the backtracking engine (leftmost alternative first,
 * greedy quantifiers) matches at a position:
 *
 *   GPT2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   LLAMA3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *           \s*[\r\n]+|\s+(?!\S)|\s+
 *   QWEN2   the same with \p{N} for \p{N}{1,3}
 */
#ifndef FLOE_MODELS_SPLIT_PATTERN_H
#define FLOE_MODELS_SPLIT_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { FLOE_PAT_GPT2, FLOE_PAT_LLAMA3, FLOE_PAT_QWEN2 } floe_split_pattern;

/* The pattern whose regex text is `regex`, or -1. */
int floe_split_pattern_find(const char *regex);

/* The regex texts, for error messages: "'...', '...'". */
const char *floe_split_pattern_list(void);

/* The length in bytes of the match starting at s[i] (s[0..n) well-formed UTF-8), 0 for none. */
size_t floe_split_pattern_match(floe_split_pattern p, const uint8_t *s, size_t n, size_t i);

#ifdef __cplusplus
}
#endif

#endif
