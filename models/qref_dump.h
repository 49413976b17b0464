/* Every tensor of the reference integer forward, written to a file (docs/quantized-model.md,
 * "Dump"): what a reimplementation of the numeric contract compares itself against, layer by
 * layer, without reading C. */
#ifndef FLOE_MODELS_QREF_DUMP_H
#define FLOE_MODELS_QREF_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_qref_dump_summary {
    size_t tensors;  /* tensors written, the tokens and logits included */
    uint64_t values; /* their values */
    int last_argmax; /* the last position's most likely next token (lowest id of the largest logit) */
} floe_qref_dump_summary;

/* Runs T tokens through floe_qref_forward and writes, atomically, a safetensors file (metadata
 * "format" = "floe-qref-dump", "floe.config", "floe.tokens" = T) holding "tokens" I32 [T], every
 * traced tensor as I32 [T][width] named "model.layers.<l>.<name>" (the names of floe_qtrace_fn, in
 * the order produced; per-token models add each input point's shifts "<name>_k" [T][1]) or
 * "model.<name>" for the head's input, and "logits" I16 [T][vocab]. Returns 0, or
 * -1 with err set (the forward's errors, out of memory, the file). */
int floe_qref_dump(const floe_qmodel *m, const int32_t *tokens, int T, const char *path, floe_qref_dump_summary *sum,
                   floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
