/* The FP training loop: AdamW with decoupled weight decay, linear warmup + cosine schedule, global
 * gradient-norm clipping, gradient accumulation, evaluation, checkpoints and bit-identical resume.
 *
 * State of a run = parameters, AdamW moments m and v, and the step count. Nothing else: the batch of
 * micro-step j of step s is floe_batch_sample(train, seed, s * accum + j, ...), a pure function of
 * (seed, position), so resuming needs no replay, and the learning rate is a function of the step.
 *
 * Checkpoint (docs/trainer.md): two safetensors files, each written atomically:
 *   NAME.safetensors        the model only (floe_st_save_params: Hugging Face Llama names, F32,
 *                           metadata floe.config, floe.step, floe.seed), loadable by PyTorch tools;
 *   NAME.optim.safetensors  "optimizer.m.<param name>" and "optimizer.v.<param name>" (F32, the
 *                           parameter's shape), metadata floe.step, floe.data_position, every
 *                           training hyperparameter (floe.train.*) and floe.model_digest, the FNV-1a
 *                           of the model file's parameter bytes: a model and optimizer file from
 *                           different saves are refused.
 * The optimizer file is written first, so a crash in between leaves an orphan optimizer file and
 * the previous complete checkpoint.
 */
#ifndef FLOE_TRAINER_TRAIN_H
#define FLOE_TRAINER_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "models/corpus.h"
#include "trainer/adamw.h"
#include "trainer/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_train_cfg {
    int steps;      /* optimizer steps of the whole run (the schedule's length) */
    int batch;      /* sequences per micro-batch */
    int context;    /* tokens per sequence */
    int accum;      /* micro-batches per optimizer step */
    float lr;       /* peak learning rate */
    float min_lr;   /* floor of the cosine */
    int warmup;     /* linear warmup steps */
    float clip;     /* global gradient-norm limit (0: none) */
    uint64_t seed;  /* initial parameters and batch sampling */
    floe_adamw_cfg adamw;
    int moments_bf16; /* AdamW moments stored as bfloat16 (floe_adamw_update_bf16): half the optimizer
                         state, for models whose float moments do not fit (0: float) */
} floe_train_cfg;

/* How AdamW's moments of the weights are stored: float, bfloat16 (floe_adamw_update_bf16), or 8 bits
 * in scaled blocks (floe_adamw_update_q8; floe qat only). */
enum { FLOE_MOMENTS_F32 = 0, FLOE_MOMENTS_BF16 = 1, FLOE_MOMENTS_Q8 = 2 };
/* The moments' storage by name: "f32", "bf16", "q8" -> FLOE_MOMENTS_*, anything else (NULL
 * included) -> -1. */
int floe_moments_parse(const char *name);
/* Its name: "f32", "bf16" or "q8". */
const char *floe_moments_name(int moments);
/* The metadata key naming the moments' storage in a checkpoint; written only for moments that are not
 * float, so float runs' checkpoints are as they were before the option. */
#define FLOE_MOMENTS_KEY "floe.adamw.moments"

/* Defaults for a model config: batch 8, context = the config's, accum 1, lr 2e-3, min_lr lr/10,
 * warmup 100, clip 1, seed 1, 3000 steps; AdamW floe_adamw_defaults(). */
floe_train_cfg floe_train_defaults(const floe_model_config *mc);

typedef struct floe_trainer {
    floe_model model;
    floe_train_cfg cfg;
    float *m, *v;        /* AdamW moments, table layout (NULL with cfg.moments_bf16) */
    uint16_t *m16, *v16; /* the same as bfloat16 with cfg.moments_bf16 (else NULL) */
    int step;         /* optimizer steps done */
    int32_t *rows;    /* one micro-batch of rows of T+1 ids */
    int32_t *inp, *tgt;
} floe_trainer;

/* Allocates the model for cfg's batch and context and initialises the parameters (floe_param_init
 * with cfg->seed); moments zero, step 0. The model has the chunked LM head at every size
 * (floe_model_init_chunked with the default chunk): model.logits and probs are unavailable. */
int floe_trainer_init(floe_trainer *tr, const floe_model_config *mc, const floe_train_cfg *cfg, floe_err *err);
void floe_trainer_free(floe_trainer *tr);

typedef struct floe_step_stats {
    int step;         /* steps done after this one (1 for the first) */
    float loss;       /* mean over the step's micro-batches */
    float lr;
    double grad_norm; /* before clipping */
} floe_step_stats;

/* One optimizer step on the training split. */
int floe_trainer_step(floe_trainer *tr, const floe_tokens *train, floe_step_stats *st, floe_err *err);

typedef struct floe_eval_result {
    double loss;     /* mean nats per predicted token (per byte with the byte tokenizer) */
    double ppl;      /* exp(loss) */
    double accuracy; /* fraction of positions whose most likely token is the target */
    size_t tokens;   /* predicted positions */
} floe_eval_result;

/* Loss, perplexity and accuracy over every validation window (floe_val_iter), with batches of up to
 * the model's maxB rows of T tokens (T <= maxT). Either head: the top-1 ids of a chunked one, a scan
 * of the logits of a whole one (the same ids). */
int floe_model_evaluate(floe_model *m, const floe_tokens *val, int T, floe_eval_result *r, floe_err *err);
/* The same over the first max_windows windows (whole batches of them: up to maxB - 1 more; 0: all). */
int floe_model_evaluate_windows(floe_model *m, const floe_tokens *val, int T, size_t max_windows, floe_eval_result *r,
                                floe_err *err);

/* "NAME.safetensors" -> "NAME.optim.safetensors" (anything else: PATH.optim.safetensors) into out. */
int floe_ckpt_optim_path(char *out, size_t n, const char *model_path);

/* Writes the checkpoint (model file at path, optimizer file next to it). extra: caller's metadata
 * pairs for the model file (e.g. floe.corpus). */
int floe_trainer_save(const floe_trainer *tr, const char *path, const char *const *extra, size_t n_extra,
                      floe_err *err);

/* Reads the model config and training config stored in a checkpoint pair, and its step. */
int floe_ckpt_read_cfg(const char *path, floe_model_config *mc, floe_train_cfg *cfg, int *step, floe_err *err);

/* Loads a checkpoint pair into an initialised trainer of the same model config: parameters, moments,
 * step. Every tensor is checked by name and shape; errors name the file and tensor. */
int floe_trainer_load(floe_trainer *tr, const char *path, floe_err *err);

/* Loads a model config and parameters from a model checkpoint (floe.config metadata), or from a
 * Hugging Face model folder when path is a directory (models/hf_folder.h), into a new model for
 * batches up to maxB x maxT (maxT 0: the config's context). */
int floe_model_load(floe_model *m, const char *path, int maxB, int maxT, floe_err *err);

/* The same into a forward-only model (floe_model_init_forward: no gradients, one block's activations):
 * for teachers, calibration, evaluation and sampling. The same checks and errors as floe_model_load. */
int floe_model_load_forward(floe_model *m, const char *path, int maxB, int maxT, floe_err *err);

/* The model config (floe.config) and the corpus spec (floe.corpus, "" if none) of an FP checkpoint,
 * or the config of a Hugging Face model folder (corpus ""). */
int floe_teacher_info(const char *path, floe_model_config *mc, char *corpus, size_t corpus_n, floe_err *err);

/* Writes one step for cross-checking against other frameworks: safetensors with "inputs" and
 * "targets" (I32 [accum*batch, context]), every parameter under its Hugging Face name (the values
 * the step started from), "grad.<name>" (the gradient before clipping, mean over micro-batches),
 * "loss" (F32 scalar) and metadata floe.config, floe.step, floe.lr. Runs the step's forward and
 * backward without updating anything. */
int floe_trainer_dump_step(floe_trainer *tr, const floe_tokens *train, const char *path, floe_err *err);



/* --- the whole run (what `floe train` does) ------------------------------------------------------ */

/* A corpus (floe_corpus_open's spec: NULL or "fortunes", "generated[:N[:SEED]]", a folder) as byte
 * tokens, split into train and validation; or, when the spec is a file starting with a token file's
 * magic (models/token_file.h), that file's splits as memory-mapped views. On error nothing is left
 * allocated. Callers check the stream's vocabulary against their model (floe_tokens_check_vocab). */
int floe_train_data(const char *corpus, floe_tokens *train, floe_tokens *val, floe_err *err);

/* A checkpoint trained on one tokenizer is not evaluated or distilled on another's tokens: -1 with
 * err naming both when the model file at path records floe.tokenizer (floe train writes it) and it
 * differs from the stream's floe_tokens_tokenizer_label. Folders and files without the key pass. */
int floe_ckpt_check_tokenizer(const char *path, const floe_tokens *s, floe_err *err);

/* A teacher's data (QAT, EfficientQAT): floe_train_data of corpus, checked against the teacher's
 * vocabulary (mc) and the tokenizer its checkpoint records; errors are prefixed by the corpus ("fortunes"
 * when NULL). On error nothing is left allocated. */
int floe_teacher_data(const char *teacher, const floe_model_config *mc, const char *corpus, floe_tokens *train,
                      floe_tokens *val, floe_err *err);

typedef struct floe_run_opts {
    const char *out_dir;        /* checkpoints and train.csv go here (created); NULL: neither */
    int stop_after;             /* stop once this many steps are done (0: cfg.steps), as if interrupted */
    int ckpt_every;             /* also checkpoint every N steps (0: only at the end) */
    int eval_every;             /* validation loss every N steps (0: only at the end); needs val */
    const char *dump_step;      /* if set, write the first step of this run there (floe_trainer_dump_step) */
    const char *const *meta;    /* extra metadata pairs for the model checkpoints (floe.corpus ...) */
    size_t n_meta;
    /* called after every step; val_loss is NaN when not evaluated at this step */
    void (*on_step)(void *ctx, const floe_step_stats *st, double val_loss, double tokens_per_s);
    void *ctx;
    size_t eval_windows; /* validation windows per evaluation, the first ones (0: all) */
} floe_run_opts;

/* Runs from tr->step (0, or a loaded checkpoint's) to the end. Writes OUT/ckpt-<step>.safetensors
 * (+ .optim.safetensors) every ckpt_every steps and at the end, and OUT/train.csv
 * (step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,seconds), rewritten atomically at every
 * evaluation, checkpoint and at the end; a resumed run keeps the earlier rows up to its step.
 * *last (may be NULL) receives the path of the last checkpoint. */
int floe_train_run(floe_trainer *tr, const floe_tokens *train, const floe_tokens *val, const floe_run_opts *o,
                   char *last, size_t last_n, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
