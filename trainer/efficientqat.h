/* EfficientQAT (Chen et al., ACL 2025) end to end, in the two forms Floe runs it (docs/trainer.md,
 * "EfficientQAT"):
 *
 * - On the chip's format (the default): Block-AP (trainer/block_ap.h) on the gain-folded teacher
 *   with the chip's weight quantizer (symmetric, one step per output row, the student's weight
 *   width), then the QAT student takes the trained weights and steps, its codes are frozen
 *   (floe_qat_freeze) and E2E-QP is an ordinary QAT run (floe_qat_run) in which only the step sizes
 *   learn, on the integer-exact forward, with the activation and cache steps learning too. The
 *   result is a quantized model the chip runs, verifiable step by step like SiLQ.
 * - Weight-only (the paper's setting, a study: not deployable): Block-AP with any group size and
 *   asymmetric codes, then E2E-QP on the float path (trainer/e2e_qp.h); activations stay float.
 */
#ifndef FLOE_TRAINER_EFFICIENTQAT_H
#define FLOE_TRAINER_EFFICIENTQAT_H

#include "common/error.h"
#include "models/corpus.h"
#include "trainer/block_ap.h"
#include "trainer/e2e_qp.h"
#include "trainer/qat_run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Chip form, phase 1: Block-AP on tr's teacher with the student's weight width (c->bits, group and
 * asym are overridden: symmetric per output channel), then the student's block weights and their
 * steps := Block-AP's, codes frozen, step floors reset. tr comes from floe_qat_trainer_init (its
 * activation steps calibrated); after this, floe_qat_run performs E2E-QP. */
int floe_efficientqat_block_ap(floe_qat_trainer *tr, const floe_tokens *train, const floe_blockap_cfg *c,
                               floe_blockap_cb cb, void *ctx, floe_err *err);

/* Weight-only form: the state of a run. fp is the teacher (a forward-only model: Block-AP only runs
 * its blocks forwards), q the folded student whose block linears hold w_hat after each step. */
typedef struct floe_eqat_wonly {
    floe_model fp, q;
    floe_e2eqp e2e;
    floe_blockap_cfg bap;
    floe_e2eqp_cfg cfg;
    char teacher[4096];
    char teacher_digest[24]; /* FNV-1a of the teacher's parameters, hex: a resume checks it */
} floe_eqat_wonly;

/* Loads the teacher (its own batch sizes for Block-AP and E2E-QP), folds a copy. */
int floe_eqat_wonly_init(floe_eqat_wonly *w, const char *teacher, const floe_blockap_cfg *bap,
                         const floe_e2eqp_cfg *cfg, floe_err *err);
void floe_eqat_wonly_free(floe_eqat_wonly *w);
/* Phase 1 (Block-AP) and the frozen codes of phase 2 (step 0). */
int floe_eqat_wonly_block_ap(floe_eqat_wonly *w, const floe_tokens *train, floe_blockap_cb cb, void *ctx,
                             floe_err *err);
/* Instead of phase 1: a saved E2E-QP state (resume). The file must be of this teacher's config and,
 * when it records one (metadata floe.teacher_digest), of this teacher's parameters. */
int floe_eqat_wonly_resume(floe_eqat_wonly *w, const char *state, floe_err *err);

/* The E2E-QP state file of a weight-only run: the teacher path, bits, group and asymmetry it was
 * made with (to rebuild the run), and its step. -1 if the file is not one, or when a tensor does not
 * match its floe.config (floe_e2eqp_check_file), an integer is outside its range (the context beyond
 * the config's, a step beyond the schedule, a value beyond int) or a float is not finite: checked
 * before the caller sizes a run by it. */
int floe_eqat_wonly_state_info(const char *path, char *teacher, size_t teacher_n, floe_blockap_cfg *bap,
                               floe_e2eqp_cfg *cfg, int *step, floe_err *err);
/* Whether path is a safetensors file with the metadata of such a state (floe.e2eqp.step), without
 * checking it (floe_eqat_wonly_state_info does): which resume path a file asks for. */
int floe_eqat_wonly_is_state(const char *path);

/* Block-AP's per-block report as CSV rows (layer, mse_init, mse_init_heldout, mse, mse_heldout,
 * steps, tokens, seconds), collected by floe_blockap_log_cb and written atomically. */
typedef struct floe_blockap_log {
    char *text;
    size_t len, cap;
    int verbose; /* also print a line per block */
} floe_blockap_log;

void floe_blockap_log_cb(void *log, const floe_blockap_report *r);
int floe_blockap_log_write(const floe_blockap_log *log, const char *path, floe_err *err);
void floe_blockap_log_free(floe_blockap_log *log);

#ifdef __cplusplus
}
#endif

#endif
