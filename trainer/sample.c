/* Sampling from a float model (trainer/sample.h). */
#include "trainer/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "models/tokenizer.h"
#include "trainer/kv_decode.h"
#include "trainer/train.h"

int floe_sample_pick(const float *z, int V, double temperature, floe_rng *r)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        if (z[j] > z[best])
            best = j;
    if (temperature <= 0.0)
        return best;
    double sum = 0.0;
    for (int j = 0; j < V; j++)
        sum += exp(((double)z[j] - z[best]) / temperature);
    double u = floe_rng_uniform(r) * sum, acc = 0.0;
    for (int j = 0; j < V; j++) {
        acc += exp(((double)z[j] - z[best]) / temperature);
        if (u < acc)
            return j;
    }
    return best;
}

/* Bytes of a complete UTF-8 prefix of s[0..n): a character split over tokens waits for the rest. */
static size_t utf8_whole(const uint8_t *s, size_t n)
{
    size_t i = n;
    for (int back = 0; back < 4 && i > 0; back++) {
        uint8_t b = s[i - 1];
        if ((b & 0xC0) != 0x80) { /* a lead byte (or ASCII) at i - 1 */
            size_t need = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
            return n - (i - 1) >= need ? n : i - 1;
        }
        i--;
    }
    return n;
}

int floe_sample_run(const floe_sample_opts *o, FILE *out, floe_err *err)
{
    if (!o->prompt || !o->prompt[0])
        return floe_err_set(err, "--prompt: empty (the model needs at least one token to continue)");
    const floe_tokenizer *tok = floe_tokenizer_load(o->tokenizer ? o->tokenizer : "byte", err);
    if (!tok)
        return -1;
    floe_model m;
    if (floe_model_load_forward(&m, o->ckpt, 1, 0, err) != 0) {
        floe_tokenizer_free(tok);
        return -1;
    }
    int32_t *prompt_ids = NULL, *ids = NULL;
    size_t np = 0;
    uint8_t *text = NULL;
    floe_decoder d = {0};
    int rc = -1;
    if (floe_tokenizer_encode_alloc(tok, (const uint8_t *)o->prompt, strlen(o->prompt), &prompt_ids, &np, err) != 0)
        goto out;
    if (np == 0) {
        floe_err_set(err, "--prompt: no tokens");
        goto out;
    }
    if (floe_model_check_ids(&m, prompt_ids, np, err) != 0) {
        floe_err_prefix(err, "--prompt: ");
        goto out;
    }
    /* draw only ids the tokenizer can write (a model's vocabulary is often padded past it) */
    int V = m.cfg.vocab_size < tok->vocab_size ? m.cfg.vocab_size : tok->vocab_size;
    if (V < m.cfg.vocab_size && strcmp(tok->name, "byte") == 0) {
        floe_err_set(err,
                     "%s: a vocabulary of %d tokens, but the tokenizer is bytes (256): give --tokenizer, the "
                     "model's tokenizer.json or folder",
                     o->ckpt, m.cfg.vocab_size);
        goto out;
    }
    size_t cap = np + (size_t)o->tokens;
    if (!(ids = malloc(cap * sizeof *ids))) {
        floe_err_set(err, "out of memory");
        goto out;
    }
    memcpy(ids, prompt_ids, np * sizeof *ids);
    if (floe_decoder_init(&d, &m, err) != 0)
        goto out;
    floe_rng r;
    floe_rng_seed(&r, o->seed);
    fputs(o->prompt, out);
    fflush(out);
    size_t n = np, shown = 0;
    int W = d.cap, first = (int)(np < (size_t)W ? np : (size_t)W);
    const float *z = floe_decoder_prefill(&d, ids + n - first, first);
    for (long long i = 0; i < o->tokens; i++) {
        ids[n++] = floe_sample_pick(z, V, o->temperature, &r);
        /* the generated text so far, printed up to its last whole character */
        size_t len;
        free(text);
        text = NULL;
        if (floe_tokenizer_decode(tok, ids + np, n - np, 0, &text, &len, err) != 0)
            goto out;
        size_t whole = utf8_whole(text, len);
        if (whole > shown) {
            fwrite(text + shown, 1, whole - shown, out);
            fflush(out);
            shown = whole;
        }
        if (i + 1 == o->tokens)
            break;
        if (d.pos == d.cap) { /* the window is full: its last half again, as a new prompt */
            int keep = W / 2 > 0 ? W / 2 : 1;
            z = floe_decoder_prefill(&d, ids + n - keep, keep);
        } else
            z = floe_decoder_step(&d, ids[n - 1]);
    }
    fputc('\n', out);
    rc = 0;
out:
    free(text);
    free(ids);
    free(prompt_ids);
    floe_decoder_free(&d);
    floe_model_free(&m);
    floe_tokenizer_free(tok);
    return rc;
}
