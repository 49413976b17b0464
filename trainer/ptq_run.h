/* `floe ptq` as a library (docs/trainer.md, "Initialisation and the PTQ baselines", "GPTQ",
 * "SmoothQuant", "Weight-only PTQ"): a teacher and its data in, a quantized model (or, weight-only, an
 * FP checkpoint of dequantized weights) out, with the calibration's cost and, if asked, the result's
 * validation score. */
#ifndef FLOE_TRAINER_PTQ_RUN_H
#define FLOE_TRAINER_PTQ_RUN_H

#include <stddef.h>

#include "common/error.h"
#include "models/qmodel.h"
#include "trainer/ptq.h"
#include "trainer/qforward.h"
#include "trainer/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum floe_ptq_method { FLOE_PTQ_RTN, FLOE_PTQ_CALIB, FLOE_PTQ_GPTQ, FLOE_PTQ_SMOOTHQUANT } floe_ptq_method;

/* "rtn", "calib", "gptq", "smoothquant" -> method; -1 otherwise. */
int floe_ptq_method_parse(const char *name, floe_ptq_method *out);
const char *floe_ptq_method_name(floe_ptq_method m);

typedef struct floe_ptq_run_opts {
    floe_ptq_method method;
    const char *teacher; /* FP checkpoint or Hugging Face folder */
    const char *corpus;  /* NULL: the teacher's */
    const char *out;     /* the quantized model (weight-only: an FP checkpoint) */
    int batch;           /* sequences per calibration batch */
    floe_qconfig q;      /* the chip path's widths (ignored weight-only) */
    floe_qinit_cfg init; /* calibration (its method is rtn for FLOE_PTQ_RTN, else calib) */
    floe_gptq_cfg gptq;
    floe_gptq_hsrc hsrc;
    double alpha;           /* smoothquant: migration strength in (0, 1] */
    int smooth_norms;       /* smoothquant: also migrate at the norms (per-channel multipliers) */
    int weight_only;        /* rtn|gptq: only the blocks' linear weights, an FP checkpoint out */
    int wbits, group, asym; /* weight-only */
    int eval;               /* also score the result on the validation split */
} floe_ptq_run_opts;

typedef struct floe_ptq_report {
    floe_model_config cfg; /* the teacher's */
    char corpus[1024];     /* the data used ("fortunes" for the default) */
    const char *unit;      /* what the data's ids are: "token" (a token file) or "byte" */
    size_t calib_tokens;   /* tokens the method read (RTN reads none) */
    double seconds;        /* the method's wall time */
    int evaluated;
    floe_eval_result val;               /* when evaluated */
    uint64_t khist[5][FLOE_QFWD_KHIST]; /* when evaluated on the chip path: per-token shifts (qforward.h) */
} floe_ptq_report;

/* Runs the method and writes o->out atomically. Returns 0, or -1 with err. */
int floe_ptq_run(const floe_ptq_run_opts *o, floe_ptq_report *rep, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
