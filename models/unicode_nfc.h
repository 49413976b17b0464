/* Unicode Normalization Form C (canonical decomposition, canonical ordering, canonical composition),
 * for the tokenizers' NFC normalizer (docs/tokenizers.md). The tables are generated from Python's
 * unicodedata (scripts/gen_unicode_tables.py --nfc; its Unicode version is floe_unicode_version's);
 * Hangul syllables are decomposed and composed by arithmetic. */
#ifndef FLOE_MODELS_UNICODE_NFC_H
#define FLOE_MODELS_UNICODE_NFC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_nfc_class {
    uint32_t cp, ccc;
} floe_nfc_class;

typedef struct floe_nfc_pair {
    uint32_t a, b, c; /* decomp: a -> (b, c), c 0 for one code point; comp: (a, b) -> c */
} floe_nfc_pair;

extern const floe_nfc_class floe_nfc_ccc[];
extern const size_t floe_nfc_ccc_n;
extern const floe_nfc_pair floe_nfc_decomp[];
extern const size_t floe_nfc_decomp_n;
extern const floe_nfc_pair floe_nfc_comp[];
extern const size_t floe_nfc_comp_n;

/* The NFC form of UTF-8 text s[0..n) (ill-formed sequences read as U+FFFD) in a malloc'ed buffer
 * (caller frees; NUL after the data, not counted in *out_n). NULL when out of memory. */
uint8_t *floe_nfc(const uint8_t *s, size_t n, size_t *out_n);

#ifdef __cplusplus
}
#endif

#endif
