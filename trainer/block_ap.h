/* EfficientQAT phase 1, Block-AP (Chen et al., ACL 2025; docs/trainer.md "EfficientQAT"), and the
 * weight-only model file shared by the weight-only methods.
 *
 * Block-AP trains, block by block in order, ALL linear weights of the block and their quantizers'
 * steps s (and zero points z when asymmetric) to minimise
 *     MSE( qblock_l(x_q), fpblock_l(x_fp) )
 * where x_fp is the FP teacher's residual entering block l (FP chain) and x_q the residual after the
 * already-quantized blocks 0..l-1 (quantized chain), over calibration sequences drawn from the training
 * split with their own seeded stream. The student is the teacher with its RMSNorm gains folded
 * (floe_model_fold_block_norms): the gains stay 1 and are not trained, because the chip quantizes
 * W * g per output row, so training the folded W' covers what training g would.
 *
 * Optimiser: AdamW without weight decay, per block a cosine from lr to lr * min_lr_ratio over the
 * block's steps (no warmup), separate learning rates for the weights and for s, z. Everything is the
 * same bits for any OpenMP thread count.
 *
 * The linears of block l are wq[7 l + j], j in floe_blockap_kinds order: q, k, v, o, gate, up, down.
 */
#ifndef FLOE_TRAINER_BLOCK_AP_H
#define FLOE_TRAINER_BLOCK_AP_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/corpus.h"
#include "models/qmodel.h"
#include "trainer/model.h"
#include "trainer/wquant.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOE_BLOCK_LINEARS 7

/* q, k, v, o, gate, up, down */
extern const floe_param_kind floe_blockap_kinds[FLOE_BLOCK_LINEARS];

/* The tensor of linear i (= 7 l + j) of a model. */
float *floe_blockap_weight(const floe_model *m, int i);
const floe_param *floe_blockap_param(const floe_model *m, int i);

/* Allocates wq[0 .. 7 n_layers) for the model's linears (floe_wquant_init; s = 1, z = 0) at `bits`,
 * or, widths not NULL, at each linear's width in widths (floe_qconfig_linear_wbits_of; mixed
 * precision). On error nothing stays allocated. floe_wquants_free frees n of them. */
int floe_wquants_init(floe_wquant *wq, const floe_model *m, int bits, const floe_qconfig *widths, int group, int asym,
                      floe_err *err);
void floe_wquants_free(floe_wquant *wq, int n);

/* Every block linear of m := floe_wquant_forward(wq[i], W) (fake-quantized in place). */
void floe_wquants_apply(const floe_wquant *wq, floe_model *m);

typedef struct floe_blockap_cfg {
    int bits;             /* 2..8 */
    const floe_qconfig *widths; /* mixed precision: each linear at its width here (NULL: all at `bits`) */
    int group;            /* columns per group; 0 = per output channel (the chip's) */
    int asym;             /* 1 = asymmetric (EfficientQAT's), 0 = symmetric (the chip's) */
    int samples;          /* calibration sequences */
    int heldout;          /* held-out sequences for the report only (0: none) */
    int context;          /* tokens per sequence (0: the student's maxT) */
    int epochs;           /* passes over the calibration set per block */
    int batch;            /* sequences per step */
    float lr_qparams;     /* peak lr of s and z */
    float lr_weights;     /* peak lr of the weights (0: weights frozen, only s, z train) */
    float min_lr_ratio;   /* cosine floor = lr * this (1/20) */
    float beta1, beta2, eps; /* AdamW (0.9, 0.999, 1e-8: PyTorch's, as the paper) */
    uint64_t seed;        /* calibration windows (seed), held-out windows (its own stream), shuffles */
} floe_blockap_cfg;

/* Floe's defaults for a bit width (docs/trainer.md: the paper's values and why ours differ): asym,
 * group 128 (64 at 2 bits), samples 128, heldout 32, context 0, epochs 2, batch 2, lr_qparams 1e-3,
 * lr_weights 1e-3 at 2 bits, 5e-4 at 3, 1e-4 at 4 and more, min_lr_ratio 1/20, seed 1. */
floe_blockap_cfg floe_blockap_defaults(int bits);

typedef struct floe_blockap_report {
    int layer, n_layers;
    double mse_init;         /* calibration set, right after the quantizer init */
    double mse_init_heldout; /* held-out set (NaN without one) */
    double mse;              /* calibration set after training */
    double mse_heldout;
    int steps;               /* optimizer steps of this block */
    size_t tokens;           /* training tokens of this block (steps x batch x context) */
    double seconds;          /* wall time of this block */
} floe_blockap_report;

typedef void (*floe_blockap_cb)(void *ctx, const floe_blockap_report *r);

/* Runs Block-AP. fp: the teacher (its parameters are not changed; its activations are used as
 * scratch). q: in, a copy of the teacher with folded gains (same config); out, the trained master
 * weights of the block linears (the rest untouched). wq: n_layers * 7 uninitialised quantizers, out:
 * the trained ones (free with floe_wquants_free); the quantized block weights are then
 * floe_wquant_forward(wq[i], W_i) and the codes floe_wquant_codes(wq[i], W_i). Both models need
 * maxB >= batch and maxT >= context. Init: min-max (asym) or MSE clipping (sym) from q's weights.
 * cb (may be NULL) after each block. Returns -1 with err set (and wq freed) on a bad setting. */
int floe_block_ap(floe_model *fp, floe_model *q, floe_wquant *wq, const floe_tokens *train, const floe_blockap_cfg *c,
                  floe_blockap_cb cb, void *ctx, floe_err *err);

/* The weight-only model file: floe_st_save_params of m's parameters (whose block linears the caller
 * has replaced by w_hat, e.g. floe_wquants_apply), so `floe eval --ckpt FILE` evaluates it with float
 * activations, with metadata floe.method, floe.weight_only = "1", floe.wbits, floe.group, floe.asym,
 * floe.teacher (may be NULL: not written) plus the caller's pairs. Atomic. */
int floe_weight_only_save(const char *path, const floe_model *m, const char *method, int bits, int group, int asym,
                          const char *teacher, const char *const *extra, size_t n_extra, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
