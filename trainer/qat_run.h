/* SiLQ quantization-aware training: the loop, its checkpoints and its log (docs/trainer.md).
 *
 * Each step: a batch of the training split (its own sampling stream, a pure function of (seed,
 * step) as in FP training), the frozen FP teacher's logits, the student's integer-exact forward,
 * the distillation loss, the STE/LSQ backward, global gradient-norm clipping (weights and steps
 * together), AdamW on the weights (lr) and on the logarithms of the steps (lr_steps), no weight decay, linear warmup
 * then cosine to min_lr_frac * lr. The state of a run is the student's parameters and steps, the
 * fixed 16-bit steps, both optimizers' moments and the step count: a checkpoint holds all of them
 * in one safetensors file (written atomically), so a killed run resumes with identical bits.
 */
#ifndef FLOE_TRAINER_QAT_RUN_H
#define FLOE_TRAINER_QAT_RUN_H

#include <stdint.h>

#include "common/error.h"
#include "models/corpus.h"
#include "trainer/model.h"
#include "trainer/qat_init.h"
#include "trainer/qat_model.h"
#include "trainer/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The method a run trains with: SiLQ (weights and steps, distillation) or EfficientQAT's E2E-QP
 * phase (codes frozen after Block-AP, only the steps learn: trainer/efficientqat.h). */
typedef enum floe_qat_method { FLOE_QAT_SILQ, FLOE_QAT_EFFICIENTQAT } floe_qat_method;

/* "silq" / "efficientqat" and back; parse returns -1 for another name. */
const char *floe_qat_method_name(floe_qat_method m);
int floe_qat_method_parse(const char *name, floe_qat_method *out);

typedef struct floe_qat_cfg {
    floe_qat_method method;
    int steps;         /* optimizer steps of the run (the schedule's length) */
    int batch, context;
    int accum;         /* micro-batches of `batch` sequences summed into one optimizer step */
    float lr;          /* weights' peak learning rate */
    float lr_steps;    /* step sizes' peak learning rate, on ln(step): a relative change per update */
    float min_lr_frac; /* the cosine's floor, as a fraction of the peak */
    int warmup;
    float clip;        /* global gradient-norm limit (0: none) */
    float tau, alpha;  /* distillation temperature and cross-entropy mix */
    uint64_t seed;     /* batch sampling */
    int moments;       /* how the weights' AdamW moments are stored (FLOE_MOMENTS_*, trainer/train.h):
                          float, bfloat16 (half their memory) or 8 bits in scaled blocks (a quarter) */
    floe_qinit_cfg init;
} floe_qat_cfg;

floe_qat_cfg floe_qat_defaults(const floe_model_config *mc);

/* Per-step verification on the simulated chip (issue: every QAT step proven deployable): after the
 * step's forward and before its update, the model that forward ran is compiled and simulated on the
 * first `tokens` tokens of the batch's first sequence and compared bit for bit with the training
 * forward. The check itself lives in floe_verify (verify/qat_verify.h) so the trainer library stays
 * free of the simulator; a verify function returning -1 stops the step with its mismatch report. */
typedef struct floe_qat_verify_stats {
    int done;                 /* verified at this step */
    uint64_t compared;        /* values compared */
    uint64_t cycles;          /* the prefill of `tokens` tokens on the chip */
    double latency_s_per_token, energy_j_per_token;
    uint64_t mem_high_water;  /* bytes, the fullest core */
    double host_seconds;      /* what the verification cost here */
} floe_qat_verify_stats;

typedef int (*floe_qat_verify_fn)(void *ctx, const floe_qmodel *m, const int32_t *tokens, int n,
                                  const int16_t *train_logits, floe_qat_verify_stats *st, floe_err *err);

typedef struct floe_qat_trainer {
    floe_qat s;
    floe_model teacher;
    floe_qat_cfg cfg;
    float *m, *v, *ms, *vs; /* AdamW moments: parameters (float moments only, else NULL), steps */
    uint16_t *m16, *v16;    /* the parameters' moments as bfloat16 (FLOE_MOMENTS_BF16, else NULL) */
    int8_t *m8;             /* FLOE_MOMENTS_Q8 (else NULL): m's codes, v's codes, and per block of */
    uint8_t *v8;            /* FLOE_ADAMW_Q8_BLOCK values their scales */
    float *m8s, *v8s;
    int step;
    int32_t *rows, *inp, *tgt;
    double *rowbuf, *rowstats; /* [2 N], [3 N]: the distillation's per-row sums and log-partitions */
    float *tlogits,
        *twbuf; /* [N, slice] the teacher's logits of a vocabulary slice; [slice, C] its head rows (bfloat16 teacher) */
    char teacher_path[4096];
    uint64_t teacher_digest;
    floe_qat_verify_fn verify;  /* NULL: no verification */
    void *verify_ctx;
    int verify_every, verify_tokens;
} floe_qat_trainer;

typedef struct floe_qat_stats {
    int step;
    double loss, kl, ce; /* this step's distillation loss, its KL and the student's cross-entropy */
    float lr;
    double grad_norm;
    floe_qat_verify_stats verify;
} floe_qat_stats;

/* Loads the teacher checkpoint, allocates the student for cfg's batch and context and initialises
 * it from the teacher (floe_qat_init_from_teacher: this is the PTQ model). Errors name the file. */
int floe_qat_trainer_init(floe_qat_trainer *tr, const char *teacher_ckpt, const floe_qconfig *qc,
                          const floe_qat_cfg *cfg, const floe_tokens *train, floe_err *err);
void floe_qat_trainer_free(floe_qat_trainer *tr);

int floe_qat_step(floe_qat_trainer *tr, const floe_tokens *train, floe_qat_stats *st, floe_err *err);

/* The checkpoint (one file) and its resume: load refuses another teacher (digest), another config,
 * bit widths or shapes, naming the tensor or key. */
int floe_qat_save(const floe_qat_trainer *tr, const char *path, floe_err *err);
int floe_qat_load(floe_qat_trainer *tr, const char *path, floe_err *err);
/* Writes the quantized model of a QAT checkpoint (floe export): codes, steps, derived constants. */
int floe_qat_export(const char *ckpt, const char *out, floe_err *err);
/* The teacher path, bit widths and schedule stored in a QAT checkpoint (to rebuild the trainer). */
int floe_qat_ckpt_info(const char *path, char *teacher, size_t teacher_n, floe_qconfig *qc, floe_qat_cfg *cfg,
                       int *step, floe_err *err);

typedef struct floe_qat_run_opts {
    const char *out_dir;  /* qat.csv, checkpoints and qmodel.safetensors; NULL: none */
    int stop_after;       /* stop once this many steps are done (0: cfg.steps) */
    int ckpt_every;       /* also checkpoint every N steps (0: only at the end) */
    int eval_every;       /* integer-forward validation every N steps (0: at the end only) */
    size_t eval_windows;  /* validation windows per evaluation (0: all) */
    const char *const *meta; /* extra metadata for qmodel.safetensors */
    size_t n_meta;
    void (*on_step)(void *ctx, const floe_qat_stats *st, const floe_eval_result *val, double tokens_per_s);
    void *ctx;
} floe_qat_run_opts;

/* Runs from tr->step to the end; writes OUT/qat.csv (step,tokens,loss,kl,ce,val_loss,val_ppl,lr,
 * grad_norm,tokens_per_s,seconds; rewritten atomically, earlier rows kept on resume),
 * OUT/qat-<step>.safetensors and OUT/qmodel.safetensors (the exported quantized model) at the end.
 * With verification, qat.csv also has verified, sim_cycles, latency_us_per_token, energy_uj_per_token,
 * mem_high_water, verify_seconds (empty on steps not verified). */
int floe_qat_run(floe_qat_trainer *tr, const floe_tokens *train, const floe_tokens *val, const floe_qat_run_opts *o,
                 floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
