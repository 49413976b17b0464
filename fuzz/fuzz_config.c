/* libFuzzer target: a model's config.json (models/model_config.c, floe_model_config_parse_json). Any
 * bytes must be refused with an error naming the source, or parse into a valid config whose
 * config.json (floe_model_config_to_json) parses into the same config. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/fuzz_file.h"
#include "models/model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const floe_model_config *a, const floe_model_config *b)
{
    return strcmp(a->name, b->name) == 0 && a->vocab_size == b->vocab_size && a->d_model == b->d_model &&
           a->n_layers == b->n_layers && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
           a->head_dim == b->head_dim && a->ffn_dim == b->ffn_dim && a->context == b->context &&
           a->rope_theta == b->rope_theta && a->rms_eps == b->rms_eps && a->tied_embeddings == b->tied_embeddings;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    floe_model_config c, r;
    floe_err err;
    if (floe_model_config_parse_json((const char *)data, size, "fuzz.json", &c, &err) != 0) {
        fuzz_require(strstr(err.msg, "fuzz.json") != NULL, "error does not name the source", err.msg);
        return 0;
    }
    fuzz_require(floe_model_config_validate(&c, "fuzz.json", &err) == 0, "a parsed config is invalid", err.msg);
    (void)floe_model_param_count(&c);
    char *js = floe_model_config_to_json(&c);
    fuzz_require(js != NULL, "out of memory", NULL);
    fuzz_require(floe_model_config_parse_json(js, strlen(js), "fuzz.json", &r, &err) == 0,
                 "the written config.json does not parse", err.msg);
    fuzz_require(same(&c, &r), "parse -> write -> parse changed the config", js);
    free(js);
    return 0;
}
