/* libFuzzer target: the JSON of a Hugging Face model folder (models/hf_folder.h), config.json and
 * model.safetensors.index.json; every input goes to both parsers. Any bytes must be refused cleanly
 * or give: a config that passes validation and survives floe_model_config_to_json unchanged (what
 * checkpoints and quantized models store); an index whose every shard is a plain file name of the
 * folder and whose every tensor names one of them. Seeds: the fixtures' files (tests/fixtures/hf). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/hf_folder.h"
#include "models/model_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const floe_model_config *a, const floe_model_config *b)
{
    return a->family == b->family && a->vocab_size == b->vocab_size && a->d_model == b->d_model &&
           a->n_layers == b->n_layers && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
           a->head_dim == b->head_dim && a->ffn_dim == b->ffn_dim && a->context == b->context &&
           a->rope_theta == b->rope_theta && a->rms_eps == b->rms_eps && a->tied_embeddings == b->tied_embeddings &&
           (a->family != FLOE_FAMILY_GRANITE ||
            (a->embedding_multiplier == b->embedding_multiplier && a->residual_multiplier == b->residual_multiplier &&
             a->attention_multiplier == b->attention_multiplier && a->logits_scaling == b->logits_scaling)) &&
           a->rope_scaling == b->rope_scaling &&
           (a->rope_scaling == FLOE_ROPE_DEFAULT ||
            (a->rope_factor == b->rope_factor && a->rope_low_freq_factor == b->rope_low_freq_factor &&
             a->rope_high_freq_factor == b->rope_high_freq_factor &&
             a->rope_original_context == b->rope_original_context));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    floe_err err;
    floe_model_config c, back;
    if (floe_model_config_parse_json((const char *)data, size, "fuzz", &c, &err) == 0) {
        if (floe_model_config_validate(&c, "fuzz", &err) != 0)
            abort();
        char *j = floe_model_config_to_json(&c);
        if (!j || floe_model_config_parse_json(j, strlen(j), "round trip", &back, &err) != 0 || !same(&c, &back))
            abort();
        free(j);
    }
    floe_hf_index ix;
    if (floe_hf_index_parse((const char *)data, size, "fuzz", &ix, &err) == 0) {
        if (ix.n == 0 || ix.n_shards == 0 || ix.n_shards > ix.n)
            abort();
        for (size_t i = 0; i < ix.n_shards; i++)
            if (!ix.shards[i][0] || strchr(ix.shards[i], '/') || strcmp(ix.shards[i], "..") == 0)
                abort();
        for (size_t i = 0; i < ix.n; i++)
            if (ix.shard[i] < 0 || (size_t)ix.shard[i] >= ix.n_shards)
                abort();
        floe_hf_index_free(&ix);
    }
    return 0;
}
