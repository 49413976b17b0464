/* libFuzzer target: token files (models/token_file.h). Any bytes must be refused cleanly or give a
 * header that re-encodes to the same 64 bytes, a size equal to what the header implies, and views
 * whose every id (read through floe_tokens_copy, as the sampler does) lies in the vocabulary.
 * Seeds: small token files written by `floe corpus` (fuzz/CMakeLists.txt). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/token_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    floe_err err;
    floe_tokfile_info in;
    if (floe_tokfile_check(data, size, "fuzz", &in, &err) != 0)
        return 0;
    uint8_t h[FLOE_TOKFILE_HEADER];
    floe_tokfile_write_header(&in, h);
    if (memcmp(h, data, sizeof h) != 0 || in.file_size != size)
        abort();
    const uint8_t *tok = data + FLOE_TOKFILE_HEADER;
    floe_tokens split[2] = {
        {NULL, (size_t)in.n_train, tok, (int)in.width, (int)in.vocab_size, in.tokenizer_digest, NULL},
        {NULL, (size_t)in.n_val, tok + in.n_train * in.width, (int)in.width, (int)in.vocab_size, in.tokenizer_digest,
         NULL},
    };
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < split[s].n; i++) {
            int32_t id;
            floe_tokens_copy(&split[s], i, 1, &id);
            if (id < 0 || (uint32_t)id >= in.vocab_size)
                abort();
        }
    return 0;
}
