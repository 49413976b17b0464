/* The quantized-model file (docs/quantized-model.md, "File"): safetensors with the integer codes,
 * step sizes, derived integer constants and tables, and quantization metadata. Written atomically.
 *
 * Reading checks everything a chip or a verifier relies on: the metadata (format, version, config,
 * bit widths), every expected tensor's presence, dtype and shape, no unexpected tensor, every code
 * within its bit width, and that the stored integer constants are exactly those the steps give
 * (floe_qmodel_derive): a file that was edited or written by another numerics version is refused
 * naming the tensor. Every tensor's name, dtype and shape is checked against floe.config before
 * anything sized by the config is allocated or computed, so the work is bounded by the file's size
 * (a small file whose config declares a huge model is refused naming the first tensor it lacks). */
#ifndef FLOE_MODELS_QMODEL_IO_H
#define FLOE_MODELS_QMODEL_IO_H

#include "common/error.h"
#include "models/qmodel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_QMODEL_FORMAT "floe-qmodel"
#define FLOE_QMODEL_VERSION "1"
/* Files with per-layer weight bits (floe.wbits_layers) are version 2, so that a reader without mixed
 * precision refuses them by version; this Floe reads both. */
#define FLOE_QMODEL_VERSION_MIXED "2"
/* Files where some linear's weight bits differ from its layer's ("L.NAME=B" items in
 * floe.wbits_layers) are version 3, for the same reason; this Floe reads all three. */
#define FLOE_QMODEL_VERSION_LINEAR "3"

/* The model must be derived. extra_meta: (key, value) pairs flattened, may be NULL. */
int floe_qmodel_save(const floe_qmodel *m, const char *path, const char *const *extra_meta, size_t n_extra,
                     floe_err *err);
/* Loads and validates; the result is derived. */
int floe_qmodel_load(floe_qmodel *m, const char *path, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
