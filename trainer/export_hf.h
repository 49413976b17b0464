/* `floe export --hf`: a model as a Hugging Face folder (models/hf_export.h, docs/hf-models.md). */
#ifndef FLOE_TRAINER_EXPORT_HF_H
#define FLOE_TRAINER_EXPORT_HF_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_export_hf_info {
    int quantized;   /* 1: a quantized model, exported dequantized; 0: a float checkpoint or folder */
    uint64_t params; /* parameters written */
    char name[64];   /* the model's config name */
} floe_export_hf_info;

/* Writes `in` (a quantized model file as floe export / floe ptq / floe qat write it, a float
 * checkpoint of floe train, or a Hugging Face folder) as the folder `dir`, with the tokenizer when
 * one is given (a tokenizer.json or a folder holding one); the weights as F32, or with bf16 as BF16
 * (rounded to nearest even). */
int floe_export_hf(const char *in, const char *dir, const char *tokenizer, int bf16, floe_export_hf_info *info,
                   floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
