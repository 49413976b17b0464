/* The per-step verification of QAT (floe qat --verify-every): the model a QAT step's forward ran,
 * compiled for a machine and simulated, compared bit for bit with the plain reference forward
 * (every layer's output and the logits, verify/verify.h) and the reference's logits with the
 * training forward's, so chip = reference = training forward. A floe_qat_verify_fn. */
#ifndef FLOE_VERIFY_QAT_VERIFY_H
#define FLOE_VERIFY_QAT_VERIFY_H

#include "isa/energy_table.h"
#include "isa/machine.h"
#include "trainer/qat_run.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_qat_chip {
    const floe_machine *mach;
    const floe_energy_table *energy; /* may be NULL: no energy figures */
    const char *dump;                /* may be NULL: on a mismatch, the differing tensor as CSV here */
} floe_qat_chip;

/* ctx: a floe_qat_chip. train_logits: the training forward's logits, rows 0..n-1 of its first
 * sequence ([n][vocab] int16). -1 with err naming layer, tensor, index and both values on a mismatch,
 * or why the model could not run (does not fit, ...). */
int floe_qat_verify_chip(void *ctx, const floe_qmodel *m, const int32_t *tokens, int n, const int16_t *train_logits,
                         floe_qat_verify_stats *st, floe_err *err);

#ifdef __cplusplus
}
#endif

#endif
