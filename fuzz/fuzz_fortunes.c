/* libFuzzer target: the fortunes reader (models/corpus.c, floe_corpus_load_fortunes) on the input as
 * one fortune file, then the byte tokenizer over both splits. Any bytes must be read (a fortune file
 * is any text) or refused with an error naming the folder or file; the splits hold no more bytes
 * than the file plus a newline and a separator line per document. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "models/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    fuzz_write(path, sizeof path, "fortunes", data, size);
    floe_corpus c;
    floe_err err;
    if (floe_corpus_load_fortunes(&c, fuzz_dir(), &err) != 0) {
        fuzz_require(strstr(err.msg, fuzz_dir()) != NULL, "error does not name the folder or file", err.msg);
        return 0;
    }
    fuzz_require(c.n_train + c.n_val <= size + 3 * (c.docs_train + c.docs_val), "the splits grew", NULL);
    floe_tokens t;
    const floe_tokenizer *tok = floe_tokenizer_byte();
    if (floe_tokens_encode(&t, tok, c.train, c.n_train, &err) == 0) {
        fuzz_require(t.n == c.n_train, "a byte per token", NULL);
        floe_tokens_free(&t);
    }
    floe_corpus_free(&c);
    return 0;
}
