/* Options shared by `floe qat` and `floe ptq`: the bit widths of the quantized model and how its
 * steps are initialised (trainer/qat_init.h). */
#ifndef FLOE_CLI_QAT_ARGS_H
#define FLOE_CLI_QAT_ARGS_H

#include "cli/args.h"
#include "models/qmodel.h"
#include "trainer/qat_init.h"

typedef struct floe_qat_bits_opts {
    long long wbits, abits, kvbits, head_bits;
    const char *act_scaling; /* per-tensor (default) or per-token */
    long long act_kmax;      /* per token: K (0: the default) */
    const char *wbits_layer; /* per-layer weight bits "L=B,..." (NULL: none) */
} floe_qat_bits_opts;

#define FLOE_QAT_BITS_DEFAULTS {4, 8, 8, 8, "per-tensor", 0, NULL}

/* clang-format off */
#define FLOE_QAT_BITS_OPTS(b)                                                                                  \
    {"wbits", FLOE_ARG_INT, &(b).wbits, "B", "linear-layer weight bits: 2, 4 or 8 (default 4)", 0, 0, 'w'},      \
        {"abits", FLOE_ARG_INT, &(b).abits, "B", "linear-layer input bits: 4 or 8 (default 8)", 0, 0, 'a'},      \
        {"kvbits", FLOE_ARG_INT, &(b).kvbits, "B", "K and V cache bits: 4 or 8 (default 8)", 0, 0, 0},          \
        {"head-bits", FLOE_ARG_INT, &(b).head_bits, "B", "LM-head weight bits: 4 or 8 (default 8)", 0, 0, 0},   \
        {"wbits-layer", FLOE_ARG_STRING, &(b).wbits_layer, "L=B,..", "weight bits of single decoder layers or "    \
                                                                      "linears, e.g. 0=8,3.down_proj=8 (mixed "    \
                                                                      "precision; others: --wbits)",               \
         0, 0, 0},                                                                                               \
        FLOE_ACT_SCALING_OPTS(b)
/* clang-format on */

/* --act-scaling and --act-kmax (also in cli/qmodel_arg.h's table): docs/numerics.md §10. */
#define FLOE_ACT_SCALING_OPTS(b)                                                                               \
    {"act-scaling", FLOE_ARG_STRING, &(b).act_scaling, "S", "linear-layer input scaling: per-tensor (default) or " \
                                                            "per-token (a power-of-two shift per row)", 0, 0, 0},   \
        {"act-kmax", FLOE_ARG_INT, &(b).act_kmax, "K", "per-token: the largest shift k (1..8, default 4)", 0, 0, 0}

/* Checks the widths against the numeric contract; on error prints it naming cmd and returns -1. */
int floe_qat_bits_resolve(const floe_qat_bits_opts *b, floe_qconfig *out, const char *cmd);

typedef struct floe_qinit_opts {
    const char *init;
    double percentile, headroom;
    long long batches;
    double res_headroom;
} floe_qinit_opts;

/* clang-format off */
#define FLOE_QINIT_OPTS_DEFAULTS {"calib", 0.0, 2.0, 4, 1.0}

#define FLOE_QINIT_OPTS(o)                                                                                      \
    {"init", FLOE_ARG_STRING, &(o).init, "METHOD", "step initialisation: calib (MSE weights, percentile "        \
     "activations; default), rtn (absmax) or gptq (calib, then GPTQ)", 0, 0, 0},                                \
    {"percentile", FLOE_ARG_DOUBLE, &(o).percentile, "P",                                                        \
     "activation calibration percentile of |x| (default: 99.99 at 8 bits, 99.9 at 4)", 1, 100, 0},             \
    {"headroom", FLOE_ARG_DOUBLE, &(o).headroom, "X",                                                            \
     "16-bit steps but the residual's cover X times the largest value (default 2)", 1, 1e6, 0},                 \
    {"res-headroom", FLOE_ARG_DOUBLE, &(o).res_headroom, "X",                                                    \
     "the residual stream's 16-bit step covers X times its largest value (default 1)", 1, 1e6, 0},              \
    {"calib-batches", FLOE_ARG_INT, &(o).batches, "N", "calibration batches (default 4)", 1, 1e6, 0}
/* clang-format on */

int floe_qinit_opts_resolve(const floe_qinit_opts *o, floe_qinit_cfg *out, const char *cmd);

#endif
