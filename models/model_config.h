/* Model configurations: the shape of a Llama-style decoder (design.md, "Reference model").
 *
 * A config comes from a built-in name (`tiny`, `S`, `M`, `granite-8b`) or from a Hugging Face
 * `config.json`. Every config that leaves this module has passed floe_model_config_validate, so
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

/* A built-in name, or else a path to a config.json. */
int floe_model_config_load(const char *name_or_path, floe_model_config *cfg, floe_err *err);

/* Checks the invariants listed above; `source` (a file or built-in name) prefixes the message. */
int floe_model_config_validate(const floe_model_config *cfg, const char *source, floe_err *err);

/* The config as a Hugging Face LlamaForCausalLM config.json (malloc'ed string, caller frees; NULL if
 * out of memory). Round-trips through floe_model_config_parse_json. */
char *floe_model_config_to_json(const floe_model_config *cfg);

/* Total number of parameters (the lm_head counts only when untied). */
uint64_t floe_model_param_count(const floe_model_config *cfg);

#ifdef __cplusplus
}
#endif

#endif
