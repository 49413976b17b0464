/* Unicode code-point classes and UTF-8 for the Hugging Face tokenizers (docs/tokenizers.md).
 *
 * Classes: \p{L} (letters: Lu Ll Lt Lm Lo), \p{N} (numbers: Nd Nl No) and \s (the White_Space
 * property, as the regex engines and Rust's char::is_whitespace use it). The L and N ranges are
 * generated (scripts/gen_unicode_tables.py) from the Unicode version in floe_unicode_version.
 *
 * UTF-8: text is decoded leniently: an ill-formed sequence decodes as U+FFFD covering its maximal
 * subpart (the Unicode / WHATWG rule that Rust's String::from_utf8_lossy and Python's
 * errors="replace" both follow), so any bytes have one well-defined reading.
 */
#ifndef FLOE_MODELS_UNICODE_CLASS_H
#define FLOE_MODELS_UNICODE_CLASS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_ucp_range {
    uint32_t lo, hi; /* inclusive */
} floe_ucp_range;

extern const char floe_unicode_version[];
extern const floe_ucp_range floe_ucp_letter[];
extern const size_t floe_ucp_letter_n;
extern const floe_ucp_range floe_ucp_number[];
extern const size_t floe_ucp_number_n;

int floe_ucp_is_letter(uint32_t cp); /* \p{L} */
int floe_ucp_is_number(uint32_t cp); /* \p{N} */
int floe_ucp_is_space(uint32_t cp);  /* \s, White_Space */

/* Decodes the code point at s[0..n) (n > 0). Returns its length in bytes (1 to 4) and the code point
 * in *cp; an ill-formed sequence gives U+FFFD and the length of its maximal subpart (at least 1). */
int floe_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Encodes cp (<= 0x10FFFF) into out (room for 4); returns the length. */
int floe_utf8_encode(uint32_t cp, uint8_t *out);

/* 1 when s[0..n) is well-formed UTF-8. */
int floe_utf8_valid(const uint8_t *s, size_t n);

/* Rewrites s[0..n) with every ill-formed subpart replaced by U+FFFD into a malloc'ed buffer (caller
 * frees; NUL after the data, not counted in *out_n). Returns NULL when out of memory. */
uint8_t *floe_utf8_lossy(const uint8_t *s, size_t n, size_t *out_n);

#ifdef __cplusplus
}
#endif

#endif
