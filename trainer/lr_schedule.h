/* Learning rate: linear warmup, then cosine decay to a floor.
 *   step < warmup:           max_lr * (step + 1) / warmup
 *   warmup <= step < total:  min_lr + (max_lr - min_lr) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2
 *   step >= total:           min_lr
 * Steps count from 0; step == warmup gives max_lr exactly, step == total gives min_lr. */
#ifndef FLOE_TRAINER_LR_SCHEDULE_H
#define FLOE_TRAINER_LR_SCHEDULE_H

#ifdef __cplusplus
extern "C" {
#endif

float floe_lr_cosine(int step, int warmup, int total, float max_lr, float min_lr);

#ifdef __cplusplus
}
#endif

#endif
