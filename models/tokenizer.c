#include "models/tokenizer.h"

#include <stdlib.h>
#include <string.h>

static size_t byte_encode(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t *out, size_t cap)
{
    (void)tok;
    size_t m = n < cap ? n : cap;
    for (size_t i = 0; i < m; i++)
        out[i] = text[i];
    return n;
}

static int byte_decode(const floe_tokenizer *tok, const int32_t *ids, size_t n, uint8_t *out, size_t cap,
                       size_t *len, floe_err *err)
{
    (void)tok;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] > 255)
            return floe_err_set(err, "byte tokenizer: token %zu is id %d, outside the vocabulary [0, 255]", i,
                                (int)ids[i]);
        if (i < cap)
            out[i] = (uint8_t)ids[i];
    }
    *len = n;
    return 0;
}

static const floe_tokenizer byte_tokenizer = {"byte", 256, byte_encode, byte_decode, NULL};

const floe_tokenizer *floe_tokenizer_byte(void) { return &byte_tokenizer; }

const floe_tokenizer *floe_tokenizer_find(const char *name, floe_err *err)
{
    if (strcmp(name, "byte") == 0)
        return &byte_tokenizer;
    floe_err_set(err, "unknown tokenizer '%s' (known: byte)", name);
    return NULL;
}

int floe_tokenizer_encode_alloc(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t **ids,
                                size_t *n_ids, floe_err *err)
{
    *ids = NULL;
    *n_ids = 0;
    size_t need = tok->encode(tok, text, n, NULL, 0);
    int32_t *buf = malloc((need ? need : 1) * sizeof *buf);
    if (!buf)
        return floe_err_set(err, "%s tokenizer: out of memory for %zu tokens", tok->name, need);
    tok->encode(tok, text, n, buf, need);
    *ids = buf;
    *n_ids = need;
    return 0;
}
