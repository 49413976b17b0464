/* Models as Hugging Face folders (docs/hf-models.md, "Export"): what `floe export --hf` writes.
 *
 * A folder holds config.json (LlamaForCausalLM, or GraniteForCausalLM for a Granite config),
 * model.safetensors (F32 or BF16, the Hugging Face tensor names of models/param_names.h) and, when a
 * tokenizer is given, its tokenizer.json and tokenizer_config.json, so transformers'
 * AutoModelForCausalLM and AutoTokenizer load it as it is. Every file is written atomically.
 *
 * A quantized model is exported as its dequantized weights: a weight row is its codes times its step
 * (W[n][i] = code * s_w[n]), the embedding its int16 codes times s_res (divided by a Granite's
 * embedding_multiplier, which the quantized table carries: docs/quantized-model.md), the RMSNorm gains 1 (they are
 * folded into the following weights; SmoothQuant's per-channel factors where the model has them),
 * the LM head untied. That float model is the integer model without its activation quantization:
 * the two agree to within the activations' rounding (docs/hf-models.md gives the measured agreement).
 */
#ifndef FLOE_MODELS_HF_EXPORT_H
#define FLOE_MODELS_HF_EXPORT_H

#include "common/error.h"
#include "models/model_config.h"
#include "models/param_names.h"
#include "models/qmodel.h"
#include "models/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The float weights of a quantized model: *cfg is the model's config with an untied head, *t its
 * parameter table and *params (t->total floats, malloc'ed) the dequantized weights. The caller frees
 * params and the table (floe_param_table_free). */
int floe_qmodel_dequantize(const floe_qmodel *m, floe_model_config *cfg, floe_param_table *t, float **params,
                           floe_err *err);

/* Writes the folder `dir` (created when missing; existing files of these names are replaced): config,
 * weights (as dtype: FLOE_ST_F32, or FLOE_ST_BF16 rounded to nearest even) and, unless tokenizer is
 * NULL, the tokenizer (a tokenizer.json, or a folder holding one and perhaps a tokenizer_config.json).
 * meta_kv: n_meta extra (key, value) metadata pairs for the safetensors header. */
int floe_hf_folder_write(const char *dir, const floe_model_config *cfg, const floe_param_table *t, const float *params,
                         floe_st_dtype dtype, const char *tokenizer, const char *const *meta_kv, size_t n_meta,
                         floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
