/* A whole `floe qat` run as one call (docs/trainer.md): the teacher's config and corpus, the data,
 * the student, EfficientQAT's Block-AP phase where the method has it, the training loop with its
 * checkpoints, log and plot, and the quantized model; or EfficientQAT's weight-only study
 * (floe_qat_weight_only_run). A resumed run takes its settings from its checkpoint.
 *
 * The job prints its narrative (what it runs, a line per step, where it wrote what) to `log`; errors
 * come back in err, naming the file, tensor or setting. Chip verification stays outside the trainer
 * library: the caller passes the verify function (verify/qat_verify.h) and its context. */
#ifndef FLOE_TRAINER_QAT_JOB_H
#define FLOE_TRAINER_QAT_JOB_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "models/qmodel.h"
#include "trainer/efficientqat.h"
#include "trainer/qat_run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hyperparameters as the user gave them; a negative value: not given (the method's default, or on
 * resume the checkpoint's). */
typedef struct floe_qat_settings {
    long long steps, batch, accum, context, warmup, seed;
    double lr, lr_steps, clip, tau, alpha;
    const char *moments; /* "f32", "bf16" or "q8" (floe_qat_cfg.moments); NULL: not given */
} floe_qat_settings;

#define FLOE_QAT_SETTINGS_UNSET                                                                                        \
    {                                                                                                                  \
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, NULL                                                               \
    }

/* The longest output folder path a job takes (its files' names are joined to it). */
#define FLOE_QAT_OUT_MAX 4000

typedef struct floe_qat_job {
    floe_qat_method method;
    const char *teacher; /* FP checkpoint or model folder; NULL on resume: the checkpoint's */
    const char *corpus;  /* NULL: the teacher's */
    const char *out;     /* output folder */
    const char *resume;  /* qat-<step>.safetensors (weight-only: e2eqp-<step>.safetensors), or NULL */
    floe_qconfig qc;     /* new runs: the widths, checked against the contract */
    floe_qinit_cfg init; /* new runs: how the steps start */
    floe_qat_settings set;
    floe_blockap_cfg bap; /* efficientqat: Block-AP (and the weight-only study's grouping) */
    int stop_after, ckpt_every, eval_every;
    size_t eval_windows;
    /* per-step verification on the chip: NULL verify for none */
    floe_qat_verify_fn verify;
    void *verify_ctx;
    const char *verify_on; /* the machine's name, for the log */
    int verify_every, verify_tokens;
    FILE *log; /* the run's narrative; NULL: silent */
} floe_qat_job;

/* Runs the job to its end (or to stop_after, with a checkpoint). Writes OUT/qat.csv, qat.png,
 * qat-<step>.safetensors, qmodel.safetensors and, with EfficientQAT, blockap.csv. Returns 0, or -1
 * with err set; the files already written stay valid (each is written atomically). */
int floe_qat_job_run(const floe_qat_job *j, floe_err *err);

/* EfficientQAT's weight-only study (activations float, not a chip model): Block-AP then E2E-QP, or
 * E2E-QP resumed from a state file; writes OUT/blockap.csv, e2eqp.csv, e2eqp-<step>.safetensors and
 * model.safetensors (`floe eval --ckpt`) and logs the validation perplexity. j->bap carries the bits,
 * grouping and symmetry; j->set the E2E-QP schedule. */
int floe_qat_weight_only_run(const floe_qat_job *j, floe_err *err);

/* One step's progress line, as the job logs it. */
void floe_qat_step_print(FILE *f, const floe_qat_stats *st, int total, const floe_eval_result *val,
                         double tokens_per_s);

#ifdef __cplusplus
}
#endif

#endif
