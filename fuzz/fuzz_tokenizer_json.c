/* libFuzzer target: the tokenizer.json loader (docs/tokenizers.md). Any bytes must be refused with a
 * message or load into a tokenizer that encodes a short text (with and without special tokens) and
 * decodes the ids (with and without special tokens) without a fault. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    floe_err err;
    const floe_tokenizer *tok = floe_tokenizer_from_json("fuzz.json", (const char *)data, size, &err);
    if (!tok) {
        if (!err.msg[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    /* letters, digits, accents precomposed and not, CJK, jamo, a special token, a contraction, white
     * space runs and a byte that is not UTF-8 */
    static const char text[] = "Hello, world! 12345 caf\xc3\xa9 e\xcc\x81\xcc\xa3 \xe6\x97\xa5\xe6\x9c\xac "
                               "\xe1\x84\x80\xe1\x85\xa1 <s> it's\n\n  x\xff";
    for (int special = 0; special < 2; special++) {
        int32_t *ids;
        size_t n;
        if (floe_tokenizer_encode(tok, (const uint8_t *)text, sizeof text - 1, special, &ids, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++)
                if (ids[i] < 0 || ids[i] >= tok->vocab_size)
                    abort(); /* encoding only ever gives ids of the vocabulary */
            uint8_t *back;
            size_t len;
            if (floe_tokenizer_decode(tok, ids, n, special, &back, &len, &err) == 0)
                free(back);
            else
                abort(); /* ids from encode always decode */
            free(ids);
        }
    }
    floe_tokenizer_free(tok);
    return 0;
}
