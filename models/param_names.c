#include "models/param_names.h"

#include "common/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const block_suffix[FLOE_P_PER_LAYER] = {
    "input_layernorm.weight",  "self_attn.q_proj.weight",          "self_attn.k_proj.weight",
    "self_attn.v_proj.weight", "self_attn.o_proj.weight",          "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",    "mlp.up_proj.weight",               "mlp.down_proj.weight",
};

void floe_param_name(char out[FLOE_PARAM_NAME_MAX], floe_param_kind kind, int layer)
{
    switch (kind) {
    case FLOE_P_EMBED:
        snprintf(out, FLOE_PARAM_NAME_MAX, "model.embed_tokens.weight");
        break;
    case FLOE_P_FINAL_NORM:
        snprintf(out, FLOE_PARAM_NAME_MAX, "model.norm.weight");
        break;
    case FLOE_P_LM_HEAD:
        snprintf(out, FLOE_PARAM_NAME_MAX, "lm_head.weight");
        break;
    default:
        snprintf(out, FLOE_PARAM_NAME_MAX, "model.layers.%d.%s", layer, block_suffix[kind - FLOE_P_ATTN_NORM]);
        break;
    }
}

static void add(floe_param_table *t, floe_param_kind kind, int layer, size_t rows, size_t cols)
{
    floe_param *p = &t->params[t->count++];
    floe_param_name(p->name, kind, layer);
    p->kind = kind;
    p->layer = layer;
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols ? cols : 1;
    p->numel = rows * p->shape[1];
    p->offset = t->total;
    t->total += p->numel;
}

int floe_param_table_init(floe_param_table *t, const floe_model_config *c, floe_err *err)
{
    memset(t, 0, sizeof *t);
    if (floe_model_config_validate(c, c->name, err))
        return -1;
    if (floe_model_param_count(c) > SIZE_MAX / sizeof(float))
        return floe_err_set(err, "%s: %llu parameters do not fit in this machine's address space", c->name,
                            (unsigned long long)floe_model_param_count(c));
    size_t n = 3 + (size_t)c->n_layers * FLOE_P_PER_LAYER;
    t->params = calloc(n, sizeof *t->params);
    if (!t->params)
        return floe_err_set(err, "%s: out of memory for the parameter table", c->name);
    size_t d = (size_t)c->d_model, v = (size_t)c->vocab_size, f = (size_t)c->ffn_dim;
    size_t q = (size_t)c->n_heads * (size_t)c->head_dim, kv = (size_t)c->n_kv_heads * (size_t)c->head_dim;
    add(t, FLOE_P_EMBED, -1, v, d);
    for (int i = 0; i < c->n_layers; i++) {
        add(t, FLOE_P_ATTN_NORM, i, d, 0);
        add(t, FLOE_P_Q, i, q, d);
        add(t, FLOE_P_K, i, kv, d);
        add(t, FLOE_P_V, i, kv, d);
        add(t, FLOE_P_O, i, d, q);
        add(t, FLOE_P_MLP_NORM, i, d, 0);
        add(t, FLOE_P_GATE, i, f, d);
        add(t, FLOE_P_UP, i, f, d);
        add(t, FLOE_P_DOWN, i, d, f);
    }
    add(t, FLOE_P_FINAL_NORM, -1, d, 0);
    if (!c->tied_embeddings)
        add(t, FLOE_P_LM_HEAD, -1, v, d);
    return 0;
}

void floe_param_table_free(floe_param_table *t)
{
    free(t->params);
    memset(t, 0, sizeof *t);
}

int floe_param_find(const floe_param_table *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

const floe_param *floe_param_get(const floe_param_table *t, floe_param_kind kind, int layer)
{
    size_t i;
    switch (kind) {
    case FLOE_P_EMBED:
        i = 0;
        break;
    case FLOE_P_FINAL_NORM:
    case FLOE_P_LM_HEAD: {
        size_t n_layers = (t->count - 2) / FLOE_P_PER_LAYER; /* tied: count = 2 + 9L, untied: 3 + 9L */
        i = 1 + n_layers * FLOE_P_PER_LAYER + (kind == FLOE_P_LM_HEAD);
        break;
    }
    default:
        if (layer < 0)
            return NULL;
        i = 1 + (size_t)layer * FLOE_P_PER_LAYER + (size_t)(kind - FLOE_P_ATTN_NORM);
        break;
    }
    if (i >= t->count || t->params[i].kind != kind || (t->params[i].layer != layer && t->params[i].layer >= 0))
        return NULL;
    return &t->params[i];
}

void floe_param_init(const floe_param_table *t, float *params, uint64_t seed)
{
    size_t n_layers = (t->count - 2) / FLOE_P_PER_LAYER;
    double resid_std = 0.02 / sqrt(2.0 * (double)(n_layers ? n_layers : 1));
    for (size_t i = 0; i < t->count; i++) {
        const floe_param *p = &t->params[i];
        float *w = params + p->offset;
        if (p->ndim == 1) {
            for (size_t k = 0; k < p->numel; k++)
                w[k] = 1.0f;
            continue;
        }
        double std = p->kind == FLOE_P_O || p->kind == FLOE_P_DOWN ? resid_std : 0.02;
        floe_rng r;
        floe_rng_split(&r, seed, i);
        for (size_t k = 0; k < p->numel; k++)
            w[k] = (float)(std * floe_rng_normal(&r));
    }
}
