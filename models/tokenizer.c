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

static const floe_tokenizer byte_tokenizer = {
    .name = "byte", .vocab_size = 256, .encode = byte_encode, .decode = byte_decode, .bos_id = -1, .eos_id = -1};

const floe_tokenizer *floe_tokenizer_byte(void) { return &byte_tokenizer; }

const floe_tokenizer *floe_tokenizer_find(const char *name, floe_err *err)
{
    if (strcmp(name, "byte") == 0)
        return &byte_tokenizer;
    floe_err_set(err, "unknown tokenizer '%s' (known: byte)", name);
    return NULL;
}

void floe_tokenizer_free(const floe_tokenizer *tok)
{
    if (tok && tok->destroy)
        tok->destroy((floe_tokenizer *)tok);
}

int floe_tokenizer_encode(const floe_tokenizer *tok, const uint8_t *text, size_t n, int add_special, int32_t **ids,
                          size_t *n_ids, floe_err *err)
{
    if (tok->encode_ex)
        return tok->encode_ex(tok, text, n, add_special, ids, n_ids, err);
    return floe_tokenizer_encode_alloc(tok, text, n, ids, n_ids, err);
}

int floe_tokenizer_decode(const floe_tokenizer *tok, const int32_t *ids, size_t n, int skip_special, uint8_t **text,
                          size_t *len, floe_err *err)
{
    *text = NULL;
    *len = 0;
    if (tok->decode_ex)
        return tok->decode_ex(tok, ids, n, skip_special, text, len, err);
    size_t need = 0;
    if (tok->decode(tok, ids, n, NULL, 0, &need, err))
        return -1;
    uint8_t *buf = malloc(need + 1);
    if (!buf)
        return floe_err_set(err, "%s tokenizer: out of memory for %zu bytes", tok->name, need);
    if (tok->decode(tok, ids, n, buf, need, &need, err)) {
        free(buf);
        return -1;
    }
    buf[need] = 0;
    *text = buf;
    *len = need;
    return 0;
}

int floe_tokenizer_encode_alloc(const floe_tokenizer *tok, const uint8_t *text, size_t n, int32_t **ids,
                                size_t *n_ids, floe_err *err)
{
    if (tok->encode_ex)
        return tok->encode_ex(tok, text, n, 0, ids, n_ids, err);
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
