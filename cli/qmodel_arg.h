/* Where a command's quantized model comes from: a file written by `floe export`/`floe ptq`
 * (--qmodel FILE), or a model config with random weights (--model NAME|config.json, --seed N,
 * --wbits/--abits/--kvbits), as cost studies of real shapes need. */
#ifndef FLOE_CLI_QMODEL_ARG_H
#define FLOE_CLI_QMODEL_ARG_H

#include "cli/args.h"
#include "models/qmodel.h"

typedef struct floe_qmodel_args {
    const char *qmodel, *model;
    long long seed, wbits, abits, kvbits, head_bits;
    const char *act_scaling; /* random weights: per-tensor (default) or per-token */
    long long act_kmax;
    const char *wbits_layer; /* random weights: per-layer weight bits "L=B,..." */
} floe_qmodel_args;

#define FLOE_QMODEL_ARGS_INIT {NULL, NULL, 1, 4, 8, 8, 8, "per-tensor", 0, NULL}

/* The option table entries (10), to splice into a command's table. */
/* clang-format off */
#define FLOE_QMODEL_OPTS(a)                                                                                   \
    {"qmodel", FLOE_ARG_STRING, &(a).qmodel, "FILE", "the quantized model (floe export / floe ptq)", 0, 0, 0},   \
        {"model", FLOE_ARG_STRING, &(a).model, "NAME", "or: a model config (tiny, S, M, granite-8b, config.json) with random weights", 0, 0, 0}, \
        {"seed", FLOE_ARG_INT, &(a).seed, "N", "random weights: seed (default 1)", 0, 1e18, 0},             \
        {"wbits", FLOE_ARG_INT, &(a).wbits, "B", "random weights: weight bits 2, 4 or 8 (default 4)", 0, 0, 0}, \
        {"abits", FLOE_ARG_INT, &(a).abits, "B", "random weights: activation bits 4 or 8 (default 8)", 0, 0, 0}, \
        {"kvbits", FLOE_ARG_INT, &(a).kvbits, "B", "random weights: KV-cache bits 4 or 8 (default 8)", 0, 0, 0}, \
        {"head-bits", FLOE_ARG_INT, &(a).head_bits, "B", "random weights: LM-head weight bits 4 or 8 (default 8)", 0, 0, 0}, \
        {"act-scaling", FLOE_ARG_STRING, &(a).act_scaling, "S", "random weights: linear-layer input scaling per-tensor " \
                                                                "(default) or per-token", 0, 0, 0},                \
        {"act-kmax", FLOE_ARG_INT, &(a).act_kmax, "K", "random weights, per-token: the largest shift (1..8, default 4)", 0, 0, 0}, \
        {"wbits-layer", FLOE_ARG_STRING, &(a).wbits_layer, "L=B,..", "random weights: weight bits of single layers, " \
                                                                      "or linears, e.g. 0=8,39=8,5.q_proj=2 (others: --wbits)", 0, 0, 0}
/* clang-format on */

/* Loads or builds the model; prints the error naming the command and returns the exit code (1 or 2),
 * or -1 on success. */
int floe_qmodel_from_args(const char *cmd, const floe_qmodel_args *a, floe_qmodel *m);

/* Only the shape and bit widths (no weights): from --model, or read from --qmodel's file. Returns the
 * exit code on error, -1 on success. */
int floe_qshape_from_args(const char *cmd, const floe_qmodel_args *a, floe_model_config *cfg, floe_qconfig *q);

#endif
