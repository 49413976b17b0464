/* Model configurations: the shape of a Llama-style decoder (design.md, "Reference model").
 *
 * A config comes from a built-in name (`tiny`, `S`, `M`, `granite-8b`), from a Hugging Face
 * `config.json`, or from a Hugging Face model folder (its config.json). Two families are read:
 * Llama (LlamaForCausalLM / model_type llama, and a config.json naming neither) and Granite
 * (GraniteForCausalLM / granite: a Llama with four scalar multipliers, docs/hf-models.md). Any other
 * architecture is refused. Every config that leaves this module has passed floe_model_config_validate, so
 * the rest of Floe may rely on: d_model = n_heads * head_dim, n_heads divisible by n_kv_heads,
 * even head_dim (RoPE rotates pairs), positive sizes within sane limits.
 */
#ifndef FLOE_MODELS_MODEL_CONFIG_H
#define FLOE_MODELS_MODEL_CONFIG_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_MODEL_NAME_MAX 64

typedef enum floe_model_family {
    FLOE_FAMILY_LLAMA = 0, /* zero, so a memset config is a Llama */
    FLOE_FAMILY_GRANITE = 1
} floe_model_family;

typedef enum floe_rope_scaling {
    FLOE_ROPE_DEFAULT = 0, /* inv_freq[i] = theta^(-2i/hd) */
    FLOE_ROPE_LLAMA3 = 1   /* Llama 3.1's band-wise rescaling of inv_freq (trainer/rope.h) */
} floe_rope_scaling;

typedef struct floe_model_config {
    char name[FLOE_MODEL_NAME_MAX]; /* built-in name, or the file's "_name_or_path"/file name */
    int vocab_size;
    int d_model;
    int n_layers;
    int n_heads;
    int n_kv_heads;      /* grouped-query attention: n_heads / n_kv_heads query heads share a KV head */
    int head_dim;        /* always d_model / n_heads */
    int ffn_dim;         /* SwiGLU hidden size (gate/up output, down input) */
    int context;         /* maximum sequence length */
    double rope_theta;   /* 10000 by default */
    double rms_eps;      /* 1e-5 by default */
    int tied_embeddings; /* 1: lm_head shares model.embed_tokens.weight (default) */
    floe_model_family family;
    /* Granite's multipliers (read only when family is FLOE_FAMILY_GRANITE; a Llama behaves as 1, 1,
     * 1/sqrt(head_dim), 1 whatever they hold): x0 = embed * embedding_multiplier; attention scores
     * q.k * attention_multiplier; each branch output * residual_multiplier before its residual add;
     * logits = head(x) / logits_scaling. */
    double embedding_multiplier, residual_multiplier, attention_multiplier, logits_scaling;
    /* RoPE scaling (FLOE_ROPE_LLAMA3 only): factor, low/high frequency factors and the context the
     * model was first trained at (original_max_position_embeddings); unused for FLOE_ROPE_DEFAULT. */
    floe_rope_scaling rope_scaling;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_context;
} floe_model_config;

/* Limits checked by validation (far above any real model; they keep products from overflowing). */
#define FLOE_MODEL_MAX_VOCAB (1 << 24)
#define FLOE_MODEL_MAX_DIM (1 << 17)
#define FLOE_MODEL_MAX_LAYERS 1024
#define FLOE_MODEL_MAX_HEADS 1024
#define FLOE_MODEL_MAX_FFN (1 << 20)
#define FLOE_MODEL_MAX_CONTEXT (1 << 22)

/* Fills cfg from a built-in name (case-sensitive). Returns 0, or -1 listing the known names. */
int floe_model_config_builtin(const char *name, floe_model_config *cfg, floe_err *err);

/* Number of built-ins, and the i-th one's name (NULL past the end), for listings. */
int floe_model_config_builtin_count(void);
const char *floe_model_config_builtin_name(int i);

/* Parses a Hugging Face config.json held in `json` (len bytes). `source` names it in errors. */
int floe_model_config_parse_json(const char *json, size_t len, const char *source, floe_model_config *cfg,
                                 floe_err *err);

/* Reads a Hugging Face config.json file. */
int floe_model_config_read(const char *path, floe_model_config *cfg, floe_err *err);

/* A built-in name, a path to a config.json, or a model folder (its config.json). */
int floe_model_config_load(const char *name_or_path, floe_model_config *cfg, floe_err *err);

/* Checks the invariants listed above; `source` (a file or built-in name) prefixes the message. */
int floe_model_config_validate(const floe_model_config *cfg, const char *source, floe_err *err);

/* The config as a Hugging Face config.json: LlamaForCausalLM, or GraniteForCausalLM with its four
 * multipliers; rope_scaling {"rope_type": "llama3", ...} when set (malloc'ed string, caller frees;
 * NULL if out of memory). Round-trips through floe_model_config_parse_json. */
char *floe_model_config_to_json(const floe_model_config *cfg);

/* Sets the Llama defaults of the fields a plain Llama config.json does not name: family llama, the
 * multipliers 1, 1, 1/sqrt(head_dim), 1, no RoPE scaling (head_dim must be set). */
void floe_model_config_llama_defaults(floe_model_config *cfg);

/* "llama" / "granite". */
const char *floe_model_family_name(floe_model_family f);

/* Total number of parameters (the lm_head counts only when untied). */
uint64_t floe_model_param_count(const floe_model_config *cfg);

#ifdef __cplusplus
}
#endif

#endif
