/* Bit-exact verification of a quantized model on the simulated chip (docs/compiler.md, "Verification"):
 * the same tokens run through the plain reference integer forward (models/qref.h) and through the
 * compiled program on the simulator; every layer's output (the residual stream) and the logits are
 * compared value by value. */
#ifndef FLOE_TRAINER_VERIFY_H
#define FLOE_TRAINER_VERIFY_H

#include <stdint.h>

#include "common/error.h"
#include "isa/energy_table.h"
#include "isa/machine.h"
#include "models/compile.h"
#include "models/qmodel.h"
#include "sim/sim.h"
#include "sim/system.h"

typedef struct floe_verify_result {
    int match;                  /* 1: every compared value is equal */
    uint64_t compared;          /* values compared */
    char mismatch[512];         /* when not: layer, tensor, position, index and both values */
    floe_sim_result sim;        /* what the run cost */
    floe_compile_report compile;/* owned: floe_verify_result_free */
} floe_verify_result;

/* Returns 0 when the comparison ran (match or not: see res->match), -1 when it could not run (the
 * model does not fit, a fault, a deadlock) with err set. */
int floe_verify_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, floe_verify_result *res, floe_err *err);
void floe_verify_result_free(floe_verify_result *res);

/* The checking half alone: runs an already compiled program (with its compile report) against the
 * reference. floe_verify_prefill compiles, then calls this. res->compile is left untouched. */
int floe_verify_program(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, const floe_program *p, const floe_compile_report *rep,
                        floe_verify_result *res, floe_err *err);

/* A model too large for one chip: a multi-chip pipeline (floe_compile_pipeline) run over the system's
 * chip links (sim/system.h). Each chip's hand-off (the residual stream after its last layer) and the
 * logits are compared with the reference; the system timing is for `users` users back to back. */
typedef struct floe_verify_system_result {
    int match;
    uint64_t compared;
    char mismatch[512];
    int chips;
    floe_system_result system; /* owned: floe_verify_system_result_free */
} floe_verify_system_result;

int floe_verify_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                         const int32_t *tokens, int T, int users, floe_verify_system_result *res, floe_err *err);
void floe_verify_system_result_free(floe_verify_system_result *res);

#endif
