/* Hugging Face model folders (docs/hf-models.md): what `save_pretrained` writes for a Llama or a
 * Granite, read into Floe's float parameter buffer (models/param_names.h).
 *
 * A folder holds config.json (models/model_config.h) and either model.safetensors, or
 * model.safetensors.index.json whose "weight_map" maps every tensor name to a shard file in the same
 * folder. Each shard is memory-mapped (read-only, no second copy of the file) and every tensor is
 * converted from F32, F16 or BF16 to float into its place in the buffer, after checking its name,
 * dtype and shape against the parameter table. Refused, with the file and tensor named: a missing
 * file or shard, a shard name that is not a plain file name of the folder ("../x", "a/b"), a tensor
 * the model does not have, one of another dtype or shape, one that appears twice, one the index puts
 * in another shard or that its shard lacks, a parameter found nowhere. Ignored: rotary_emb.inv_freq
 * buffers (older checkpoints; Floe computes RoPE from the config). lm_head.weight in a folder with tied
 * embeddings (transformers omits it) is accepted only when it equals model.embed_tokens.weight bit
 * for bit after conversion: a different head cannot be tied.
 */
#ifndef FLOE_MODELS_HF_FOLDER_H
#define FLOE_MODELS_HF_FOLDER_H

#include <stddef.h>

#include "common/error.h"
#include "models/model_config.h"
#include "models/param_names.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_HF_INDEX_MAX_BYTES (64u << 20) /* an index.json is a name list: 64 MiB is far beyond any */

/* A parsed model.safetensors.index.json (owned arrays; floe_hf_index_free). */
typedef struct floe_hf_index {
    size_t n;      /* weight_map entries */
    char **tensor; /* [n] tensor names, in file order */
    int *shard;    /* [n] index into shards */
    char **shards; /* [n_shards] distinct file names, in order of first appearance */
    size_t n_shards;
} floe_hf_index;

/* Parses an index.json held in json (len bytes); src names it in errors. Every shard must be a plain
 * file name (no '/', '\\', not "." or ".."); tensor names unique. On error nothing is left allocated. */
int floe_hf_index_parse(const char *json, size_t len, const char *src, floe_hf_index *ix, floe_err *err);
void floe_hf_index_free(floe_hf_index *ix);

/* 1 if path is a directory (a model folder), else 0. */
int floe_hf_is_folder(const char *path);

/* The config of folder dir (dir/config.json). */
int floe_hf_folder_config(const char *dir, floe_model_config *cfg, floe_err *err);

/* Fills params (t->total floats, t built from cfg = the folder's config) from the folder's weights.
 * On error params may be partly written. */
int floe_hf_folder_load_params(const char *dir, const floe_model_config *cfg, const floe_param_table *t, float *params,
                               floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
