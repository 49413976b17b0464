/* Knowledge-distillation loss (SiLQ): KL divergence from the frozen teacher's next-token
 * distribution to the student's, at temperature tau, mixed with the ordinary cross-entropy:
 *
 *   loss = (1 - alpha) * tau^2 * mean_i KL(softmax(t_i / tau) || softmax(z_i / tau))
 *        + alpha * mean_i CE(softmax(z_i), target_i)
 *   dL/dz_i = (1 - alpha) * tau * (p_i^tau - q_i^tau) / N + alpha * (p_i - onehot_i) / N
 *
 * (the tau^2 factor keeps the gradient's size independent of tau, as Hinton et al.). z: student
 * logits, t: teacher logits, both [N, V]; targets may be NULL when alpha = 0. Rows run in parallel;
 * the mean is summed in row order (the same bits for any thread count).
 */
#ifndef FLOE_TRAINER_DISTILL_H
#define FLOE_TRAINER_DISTILL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_distill_result {
    double loss, kl, ce; /* kl and ce are the unweighted means (ce: NaN without targets) */
} floe_distill_result;

/* dlogits = dloss * dL/dz (overwritten; it may be z itself: each row of z is read whole before that
 * row of dlogits is written, so the student's logits need no second [N, V] buffer). row_scratch:
 * [2 N] doubles. */
floe_distill_result floe_distill(float *dlogits, const float *z, const float *t, const int *targets, int N, int V,
                                 float tau, float alpha, float dloss, double *row_scratch);

/* The same in two passes, so that the gradient can be formed a slice of the vocabulary at a time (the
 * QAT head's backward) and no [N, V] float buffer of student logits or gradients is needed. The
 * student's logits are z, or (z NULL) the codes zc times zscale, the float the student's logit view
 * holds. floe_distill_rows computes the loss and, per row, the log-partitions of t / tau, z / tau
 * and z into row_stats [3 N]; floe_distill_cols then writes columns c0..c0+cn-1 of dL/dz into d
 * (row i at d + i * ldd) from the teacher's logits of those columns, t (row i at t + i * ldt: the whole
 * logits give t = logits + c0, ldt = V). Each value has the bits floe_distill gives it; row_scratch: [2 N]. */
floe_distill_result floe_distill_rows(double *row_stats, const float *z, const int16_t *zc, float zscale,
                                      const float *t, const int *targets, int N, int V, float tau, float alpha,
                                      double *row_scratch);
void floe_distill_cols(float *d, int ldd, int c0, int cn, const float *z, const int16_t *zc, float zscale,
                       const float *t, int ldt, const int *targets, int N, int V, float tau, float alpha, float dloss,
                       const double *row_stats);

/* The teacher's logits of vocabulary columns c0 .. c0+cn-1 for all N rows into out [N, cn]. */
typedef void (*floe_distill_teacher_fn)(void *ctx, int c0, int cn, float *out);

/* floe_distill_rows with the teacher's logits formed a slice of the vocabulary at a time (tf, into
 * tbuf [N, slice]; slices of `slice` columns from column 0), so that no [N, V] teacher buffer is
 * needed: the teacher's log-partition and the KL are accumulated over the slices online (a running
 * max per row, the sums rescaled when it grows; KL as E_p[t/tau - z/tau] - log Z_t + log Z_s). The
 * student's terms and the cross-entropy have floe_distill_rows's bits; the teacher's and the KL equal
 * them to double rounding. Follow with floe_distill_cols on the same slices. row_scratch: [2 N].
 * A NaN loss when N doubles cannot be allocated. */
floe_distill_result floe_distill_rows_online(double *row_stats, const float *z, const int16_t *zc, float zscale,
                                             floe_distill_teacher_fn tf, void *ctx, float *tbuf, int slice,
                                             const int *targets, int N, int V, float tau, float alpha,
                                             double *row_scratch);

#ifdef __cplusplus
}
#endif

#endif
