/* A whole `floe train` run as one call (docs/trainer.md): the model config (or a checkpoint's, on
 * resume), the corpus, the trainer, the loop with its checkpoints and log. The job prints its
 * narrative (the run's settings, a line per step, the last checkpoint) to `log`; errors come back in
 * err, naming the file or the setting. */
#ifndef FLOE_TRAINER_TRAIN_JOB_H
#define FLOE_TRAINER_TRAIN_JOB_H

#include <stdio.h>

#include "common/error.h"
#include "trainer/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hyperparameters as the user gave them; a negative value: not given (the defaults, or on resume the
 * checkpoint's, which a given value must then equal; only steps may change on resume). */
typedef struct floe_train_settings {
    long long steps, batch, context, warmup, accum, seed;
    double lr, clip;
    const char *moments; /* AdamW moments: "f32" or "bf16" (floe_train_cfg.moments_bf16); NULL: not given */
} floe_train_settings;

#define FLOE_TRAIN_SETTINGS_UNSET                                                                                      \
    {                                                                                                                  \
        -1, -1, -1, -1, -1, -1, -1, -1, NULL                                                                           \
    }

typedef struct floe_train_job {
    const char *model;     /* a built-in name or config.json; with resume optional, and then must agree */
    const char *corpus;    /* NULL: fortunes (on resume: the run's) */
    const char *out;       /* output folder */
    const char *resume;    /* a checkpoint of the run to continue, or NULL */
    const char *dump_step; /* write the run's first step there (floe_trainer_dump_step), or NULL */
    floe_train_settings set;
    int stop_after, ckpt_every, eval_every;
    FILE *log;           /* the run's narrative; NULL: silent */
    size_t eval_windows; /* validation windows per evaluation, the first ones (0: all) */
} floe_train_job;

/* Runs the job to its end (or to stop_after, with a checkpoint). Returns 0, or -1 with err set. */
int floe_train_job_run(const floe_train_job *j, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
