/* `floe plot` for the training log (floe train's train.csv): train and validation loss curves. */
#ifndef FLOE_TRAINER_LOG_PLOT_H
#define FLOE_TRAINER_LOG_PLOT_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The header line of train.csv (with its newline). */
#define FLOE_TRAIN_LOG_HEADER "step,tokens,loss,val_loss,lr,grad_norm,tokens_per_s,seconds\n"

/* 1 if header_line (the file's first line) is that of a training log. */
int floe_train_log_is_header(const char *header_line);

/* Loss (nats per token) against step: every step's training loss, its moving average over 50 steps,
 * and the validation loss where evaluated. Errors name the file and line. */
int floe_plot_train_log(const char *csv, const char *png, floe_err *err);

/* Renders floe qat's qat.csv: KL per step with the steps verified on the chip marked, validation
 * perplexity, and the chip's latency and energy per token at each verified step. */
int floe_plot_qat_log(const char *csv, const char *png, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
