/* The whole Llama-style decoder (design.md, "Reference model") on the float layers, llm.c style.
 *
 * One flat float buffer each for parameters, gradients and activations, allocated once for a
 * largest batch B x T (floe_model_init); forward and backward then run on any B' <= B, T' <= T
 * without allocating. Parameters follow models/param_names.h (Hugging Face names and offsets), so
 * a checkpoint is floe_st_save_params(model.params) and the gradient of a tensor sits at the same
 * offset in model.grads.
 *
 *   x = embed(tokens) * em
 *   per block:  x += rm * o(attn(rope(q(n1)), rope(k(n1)), v(n1)))   n1 = rmsnorm(x, input_layernorm)
 *               x += rm * down(silu(gate(n2)) * up(n2))                n2 = rmsnorm(x, post_attention_layernorm)
 *   logits = (rmsnorm(x, norm) @ W^T) / ls     W = embed_tokens (tied) or lm_head
 *   loss = mean cross-entropy over the B*T positions
 * attn's scores are q.k * am. A Llama has em = rm = ls = 1 (the multiplications are skipped, not done
 * by 1) and am = 1/sqrt(head_dim); a Granite config gives embedding_multiplier, residual_multiplier,
 * logits_scaling and attention_multiplier (docs/hf-models.md). RMSNorm uses the config's rms_eps and
 * RoPE the config's scaling (trainer/rope.h).
 *
 * Gradients accumulate (+=) into model.grads across backward calls: zero them with
 * floe_model_zero_grad once per optimizer step and pass dloss = 1/accum to sum micro-batches.
 * Every result is the same bits for any OpenMP thread count (each layer is: docs/trainer.md).
 *
 * A forward-only model (floe_model_init_forward: teachers, evaluation, sampling) holds the parameters
 * and one forward's working set only: no gradients, one block's activations shared by every block,
 * two residual slots. Its logits and losses are the training model's bits; it cannot run a backward.
 */
#ifndef FLOE_TRAINER_MODEL_H
#define FLOE_TRAINER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "models/model_config.h"
#include "models/param_names.h"
#include "trainer/adamw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_model {
    floe_model_config cfg;
    floe_param_table table;
    float *params; /* table.total floats */
    float *grads;  /* table.total floats, same layout; NULL for a forward-only model */
    int forward_only; /* floe_model_init_forward: one block's activations, no gradients, no backward */
    int maxB, maxT;
    int head_rows; /* 0: the whole head ([N, V] logits); > 0: the chunked head, rows per chunk */
    int *top1;     /* chunked head: per position, the first index of the largest logit [maxB*maxT]; else NULL */
    float *acts;  /* forward activations for maxB x maxT (layout in model.c) */
    float *dacts; /* backward scratch: activation gradients; NULL for a forward-only model */
    size_t n_acts, n_dacts;
    float *rope_cos, *rope_sin; /* [maxT, head_dim/2] */
    int *inputs, *targets;      /* copies of the last forward's tokens [maxB*maxT] */
    int B, T;                   /* shape of the last forward */
    int have_targets;           /* the last forward computed a loss (backward needs it) */
    float loss;                 /* mean loss of the last forward */
    /* floe_model_hold_bf16: the parameters as bfloat16 (params is then NULL), one block's widened to
     * float at a time in wblock (block wblock_layer, -1: none), the final norm's gain in wfinal */
    uint16_t *params16;
    float *wblock, *wfinal;
    int wblock_layer;
    int head_by_caller; /* floe_model_set_head_by_caller */
} floe_model;

/* Allocates everything for batches up to maxB x maxT (maxT <= cfg->context). The parameters are
 * zero: fill them with floe_param_init or a checkpoint. Returns -1 with err set on a bad size or out of memory. */
int floe_model_init(floe_model *m, const floe_model_config *cfg, int maxB, int maxT, floe_err *err);

/* The same model with a chunked LM head, for training (docs/trainer.md, "Real shapes"): the head and
 * the cross-entropy run head_rows positions at a time through one [head_rows, vocab] float buffer
 * (owned by the model, inside m->acts), keeping per position only its loss, the max and sum of exp of
 * its logits and its top-1 id; the backward recomputes each chunk's logits (one more head matmul)
 * and forms their gradient in the same buffer. No [N, vocab] buffer exists: floe_model_logits and
 * floe_model_probs return NULL, and a forward without targets stops at the final norm. With
 * head_rows a multiple of 128 (trainer/matmul.c's sgemm row block) every logit comes from the same
 * sgemm call as in the whole head, so loss, losses and top-1 are its bits; otherwise they equal its
 * to float rounding. Gradients equal the whole head's to float rounding (the head weight's gradient
 * sums chunk by chunk), and are the same bits on any thread count.
 * head_rows: rows per chunk; 0 picks floe_model_head_rows(cfg, maxB * maxT); larger than
 * maxB * maxT is clipped to it. -1 with err on head_rows < 0, or as floe_model_init. */
int floe_model_init_chunked(floe_model *m, const floe_model_config *cfg, int maxB, int maxT, int head_rows,
                            floe_err *err);

/* The default chunk: FLOE_HEAD_CHUNK_FLOATS / vocab rows rounded down to a multiple of 128, at least
 * 128 (a buffer of at most 96 MiB for a vocabulary up to 196,608: 512 rows of smollm2's 49,152 words,
 * 128 of Llama 3's 128,256), at most maxN. Depends on the config and maxN only, never on the thread count. */
#define FLOE_HEAD_CHUNK_FLOATS (24LL << 20)
int floe_model_head_rows(const floe_model_config *cfg, int maxN);

/* A model that only runs forwards (teachers, calibration, evaluation, sampling): the parameters
 * (zero, as floe_model_init), no gradients (grads and dacts NULL), and activations for one forward:
 * the residual stream in two slots (residual l lives in slot l % 2), one block's activations that
 * every block overwrites in turn, attention's scratch, the final norm and the whole head's logits
 * [maxB*maxT, vocab]. No probabilities are kept (floe_model_probs returns NULL); a forward with
 * targets forms the losses from the logits FLOE_MODEL_LOSS_ROWS rows at a time in a buffer of its own
 * (the logits are kept) and fills floe_model_top1. Logits, losses and loss are the training model's
 * bits on the same parameters and tokens, on any thread count (the same kernels; only the buffers'
 * addresses differ). Taps: floe_model_get_taps(m, l) is valid only for the last block computed (use
 * floe_model_forward_tapped); floe_model_residual(m, l) and floe_model_residual(m, l + 2) are the
 * same buffer. floe_model_backward and floe_model_block_backward refuse it (return -1, touch
 * nothing); floe_model_zero_grad does nothing. Errors as floe_model_init. */
int floe_model_init_forward(floe_model *m, const floe_model_config *cfg, int maxB, int maxT, floe_err *err);
#define FLOE_MODEL_LOSS_ROWS 64

/* A forward-only model's parameters held as bfloat16 where that is exact (a teacher read from a BF16
 * file, as Hugging Face ships Llama 3.2): half their memory, and the same logits, losses and taps,
 * bit for bit. Each block's tensors are widened to float into one block-sized buffer just before the
 * block runs, the embedding rows as they are looked up and the head's rows by the head; the widening
 * is exact, so every kernel sees the floats it saw before. Returns 1 when the parameters are now held
 * so (params is then NULL: read them through the model's functions only), 0 when some parameter is not
 * a bfloat16 value (nothing changes: the float model is kept), -1 with err on a training model or out
 * of memory (nothing changes). Costs a pass over the parameters per forward (docs/trainer.md, "QAT
 * memory"). */
int floe_model_hold_bf16(floe_model *m, floe_err *err);

/* A forward-only model (nothing on a training model): from now on a forward without targets stops at the final norm, and the caller forms the logits it
 * needs (floe_model_head_cols): the [N, V] logits buffer is given back to the system (its pages
 * released) and a forward without targets leaves it untouched (its content is then undefined). */
void floe_model_set_head_by_caller(floe_model *m);

/* The final norm's output [B*T, C] of the last forward (the head's input). */
const float *floe_model_final_norm(const floe_model *m);

/* Columns v0 .. v0+vn-1 of the last forward's logits for its first n positions: out [n, vn] =
 * final_norm @ W[v0 : v0+vn]^T (/ logits_scaling), the head's weight rows widened into wbuf [vn, C]
 * when the model holds bfloat16 (wbuf may be NULL otherwise). Every call with the same v0, vn and n
 * gives the same bits on any thread count (floe_matmul_forward's row blocks); they equal the whole
 * head's logits to float rounding. */
void floe_model_head_cols(const floe_model *m, float *out, float *wbuf, int v0, int vn, int n);

/* Floats a model holds: parameters, gradients and both activation buffers (its memory / 4 bytes, less
 * the small integer and RoPE tables). */
size_t floe_model_floats(const floe_model *m);
void floe_model_free(floe_model *m);

/* Forward over B x T tokens (int32 ids in [0, vocab), row-major [B, T]). With targets, computes the
 * cross-entropy and returns the mean loss; with targets NULL only the logits (returns 0).
 * B <= maxB, T <= maxT, ids in range: checked by the caller (floe_model_check_ids). */
float floe_model_forward(floe_model *m, const int32_t *tokens, const int32_t *targets, int B, int T);

/* Logits [B, T, vocab] of the last forward; NULL for a chunked head (none are kept). */
const float *floe_model_logits(const floe_model *m);
/* Per-position losses [B*T] of the last forward with targets (its probabilities are in probs). */
const float *floe_model_losses(const floe_model *m);
/* Probabilities [B, T, vocab] of the last forward with targets; NULL for a chunked head and a
 * forward-only model. */
const float *floe_model_probs(const floe_model *m);
/* Chunked head and forward-only model: per position [B*T], the first id of the largest logit in the
 * last forward with targets (next-token accuracy without the logits). NULL for the training model's
 * whole head (scan its logits). */
const int *floe_model_top1(const floe_model *m);

/* Read-only views of the last forward's activations at the points a quantized model quantizes
 * (for calibration). Each is [B*T, width] row-major for the last forward's B x T. */
typedef struct floe_model_taps {
    const float *x;      /* [N, C] residual stream entering the layer (layer n_layers: after the last) */
    const float *rstd1;  /* [N] 1 / rms of x (input_layernorm) */
    const float *q, *k;  /* [N, Q], [N, KV] after RoPE */
    const float *v;      /* [N, KV] */
    const float *atty;   /* [N, Q] attention output (o_proj's input) */
    const float *xmid;   /* [N, C] residual after attention */
    const float *rstd2;  /* [N] 1 / rms of xmid */
    const float *gate, *up, *swi; /* [N, F]: gate, up, silu(gate) * up (down_proj's input) */
} floe_model_taps;

/* Layer l's taps (0 <= l < n_layers); for l = n_layers only x (the final residual) and rstd1 (the
 * final norm's) are set. A forward-only model keeps only the last block's: there, read taps inside
 * floe_model_forward_tapped's callback. */
floe_model_taps floe_model_get_taps(const floe_model *m, int l);

/* Called by floe_model_forward_tapped with l = 0 .. n_layers-1 right after block l (tp: layer l's
 * taps) and with l = n_layers after the final norm (tp->x and tp->rstd1 only), before the head. tp's
 * buffers are borrowed until the callback returns (the next block overwrites them on a forward-only
 * model); the callback must not run the model. */
typedef void (*floe_model_tap_fn)(void *ctx, int l, const floe_model_taps *tp);

/* floe_model_forward calling fn(ctx, l, &taps) after each block and after the final norm: the way to
 * read every layer's taps that works on both kinds of model (calibration). fn NULL: floe_model_forward.
 * The same bits as floe_model_forward. */
float floe_model_forward_tapped(floe_model *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                                floe_model_tap_fn fn, void *ctx);

/* Backward of the last forward (which must have had targets): model.grads += d(dloss * loss).
 * Returns 0, or -1 without touching anything on a forward-only model (no gradients to write). A
 * forward without targets leaves nothing to do (returns 0). */
int floe_model_backward(floe_model *m, float dloss);

/* --- one block at a time (Block-AP, per-block studies) -------------------------------------------
 * floe_model_forward is embed, floe_model_block_forward for l = 0..n_layers-1, final norm and head;
 * floe_model_backward is the head's backward, floe_model_block_backward for l = n_layers-1..0, the
 * embedding's backward. The same code, so the bits are the same either way. */

/* The [B*T, C] residual stream entering block l (l = n_layers: leaving the last block), row-major for
 * the current B x T. Writable: a caller may fill residual l and run the blocks from l on. */
float *floe_model_residual(floe_model *m, int l);
/* Residual l -> residual l+1 for B x T tokens (B <= maxB, T <= maxT), saving block l's activations
 * for floe_model_block_backward; sets m->B, m->T. */
void floe_model_block_forward(floe_model *m, int l, int B, int T);
/* Backward of block l's last forward (same B x T, block l's activations not overwritten since):
 * dres [B*T, C] is dL/d residual l+1 on entry and dL/d residual l on return; block l's parameter
 * gradients accumulate (+=) into model.grads. dres must not alias the model's buffers, except the
 * backward's own running gradient (what floe_model_backward passes). Returns 0, or -1 without
 * touching anything (dres included) on a forward-only model. */
int floe_model_block_backward(floe_model *m, int l, float *dres);

/* The exact FP rewrite of design.md ("RMSNorm gains may be folded"): per block, q, k, v weights
 * W[o][i] *= input_layernorm[i], gate, up weights *= post_attention_layernorm[i], then both gains
 * := 1. The final norm and the head are untouched. Logits are unchanged up to float rounding. */
void floe_model_fold_block_norms(floe_model *m);

/* Zeroes model.grads; nothing on a forward-only model (grads NULL). */
void floe_model_zero_grad(floe_model *m);

/* -1 with err naming the position if an id is outside [0, vocab). */
int floe_model_check_ids(const floe_model *m, const int32_t *ids, size_t n, floe_err *err);

/* The weight-decay class of a parameter tensor. */
floe_decay_class floe_model_decay_class(floe_param_kind kind);

/* Floating-point operations of one training step (forward + backward) on B x T tokens: 6 per
 * parameter per token (matmuls, LM head included) plus attention's score and value products over
 * the causal triangle. For GFLOP/s figures. */
double floe_model_train_flops(const floe_model_config *cfg, int B, int T);

#ifdef __cplusplus
}
#endif

#endif
