/* The plain reference integer forward of a quantized model (docs/quantized-model.md): straight loops,
 * one definition per line of that page, no fast paths. The trainer's QAT forward, the compiler's
 * programs and the simulated chip are checked against it. */
#ifndef FLOE_MODELS_QREF_H
#define FLOE_MODELS_QREF_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called for every intermediate tensor as it is produced: name ("attn_in", "q", "k", "v", "kc",
 * "attn_out", "attn_res", "mlp_in", "gate", "up", "act", "down_in", "out"; then "head_in" and
 * "logits" with layer -1), row-major [T][width] values widened to int32. */
typedef void (*floe_qtrace_fn)(void *ctx, const char *name, int layer, const int32_t *data, size_t rows,
                               size_t width);

/* Runs T tokens (a causal prefill; position t sees tokens 0..t) and writes logits [T][vocab] int16
 * codes (step s_logit). `trace` may be NULL. Refuses tokens outside the vocabulary, T beyond the
 * context, and a model whose constants were not derived. */
int floe_qref_forward(const floe_qmodel *m, const int32_t *tokens, int T, int16_t *logits, floe_qtrace_fn trace,
                      void *ctx, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
