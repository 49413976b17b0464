/* The parameter table: every tensor of a config, by its Hugging Face Llama name, as a view into one
 * contiguous float buffer (llm.c style: one allocation, one table of offsets).
 *
 * Order in the buffer (documented in docs/models.md; offsets are dense, no padding):
 *   model.embed_tokens.weight                         [vocab, d]
 *   for each layer i = 0 .. n_layers-1:
 *     model.layers.{i}.input_layernorm.weight         [d]
 *     model.layers.{i}.self_attn.q_proj.weight        [n_heads*head_dim, d]
 *     model.layers.{i}.self_attn.k_proj.weight        [n_kv_heads*head_dim, d]
 *     model.layers.{i}.self_attn.v_proj.weight        [n_kv_heads*head_dim, d]
 *     model.layers.{i}.self_attn.o_proj.weight        [d, n_heads*head_dim]
 *     model.layers.{i}.post_attention_layernorm.weight [d]
 *     model.layers.{i}.mlp.gate_proj.weight           [ffn, d]
 *     model.layers.{i}.mlp.up_proj.weight             [ffn, d]
 *     model.layers.{i}.mlp.down_proj.weight           [d, ffn]
 *   model.norm.weight                                 [d]
 *   lm_head.weight                                    [vocab, d]   (only when untied)
 * Linear weights are [out, in], row-major, as PyTorch stores nn.Linear.weight: y = W x.
 * One block's tensors are contiguous, so block-wise code (EfficientQAT) can take a block as a slice.
 */
#ifndef FLOE_MODELS_PARAM_NAMES_H
#define FLOE_MODELS_PARAM_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/model_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_PARAM_NAME_MAX 96

typedef enum floe_param_kind {
    FLOE_P_EMBED,     /* model.embed_tokens.weight */
    FLOE_P_ATTN_NORM, /* model.layers.{i}.input_layernorm.weight */
    FLOE_P_Q,
    FLOE_P_K,
    FLOE_P_V,
    FLOE_P_O,
    FLOE_P_MLP_NORM, /* model.layers.{i}.post_attention_layernorm.weight */
    FLOE_P_GATE,
    FLOE_P_UP,
    FLOE_P_DOWN,
    FLOE_P_FINAL_NORM, /* model.norm.weight */
    FLOE_P_LM_HEAD,    /* lm_head.weight (untied configs only) */
    FLOE_P_KIND_COUNT
} floe_param_kind;

#define FLOE_P_PER_LAYER 9 /* ATTN_NORM .. DOWN */

typedef struct floe_param {
    char name[FLOE_PARAM_NAME_MAX];
    floe_param_kind kind;
    int layer;       /* block index, or -1 for embed, final norm and lm_head */
    int ndim;        /* 1 (norm gains) or 2 (matrices) */
    size_t shape[2]; /* [out, in] for matrices; [d] for gains (shape[1] = 1) */
    size_t numel;
    size_t offset; /* in floats, into the flat parameter buffer */
} floe_param;

typedef struct floe_param_table {
    floe_param *params; /* in buffer order */
    size_t count;
    size_t total; /* floats in the buffer = floe_model_param_count(cfg) */
} floe_param_table;

/* Builds the table for a validated config. Free with floe_param_table_free. */
int floe_param_table_init(floe_param_table *t, const floe_model_config *cfg, floe_err *err);
void floe_param_table_free(floe_param_table *t);

/* Index of the tensor called `name`, or -1. */
int floe_param_find(const floe_param_table *t, const char *name);

/* The tensor of `kind` in block `layer` (layer ignored for the non-block kinds), or NULL (e.g.
 * FLOE_P_LM_HEAD of a tied config). */
const floe_param *floe_param_get(const floe_param_table *t, floe_param_kind kind, int layer);

/* Deterministic initial values (GPT-2 style): embedding, lm_head and linear weights N(0, 0.02^2),
 * except the projections that write into the residual stream (o_proj, down_proj) which get std
 * 0.02 / sqrt(2 * n_layers); RMSNorm gains 1. Tensor i draws from RNG stream (seed, i), so each
 * tensor's values do not depend on the others. */
void floe_param_init(const floe_param_table *t, float *params, uint64_t seed);

/* The Hugging Face name of (kind, layer) into out. */
void floe_param_name(char out[FLOE_PARAM_NAME_MAX], floe_param_kind kind, int layer);

#ifdef __cplusplus
}
#endif

#endif
