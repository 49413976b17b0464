#include "verify/qat_verify.h"

#include <stdlib.h>

#include "compiler/compile.h"
#include "models/qref.h"
#include "verify/verify.h"

/* -1 with err naming what differed, and the tensor saved to chip->dump when one is asked for. */
static int mismatch(const floe_qat_chip *chip, const char *what, const floe_verify_dump *dump, floe_err *err)
{
    floe_err derr;
    if (chip->dump && floe_verify_dump_write(dump, chip->dump, &derr) == 0)
        return floe_err_set(err, "chip and reference differ: %s (the tensor, chip vs reference: %s)", what, chip->dump);
    return floe_err_set(err, "chip and reference differ: %s", what);
}

/* A model that needs several chips: the multi-chip pipeline's check (every chip's layer outputs and
 * every head slice's logits), the prefill of n tokens. */
static int verify_over_chips(const floe_qat_chip *chip, const floe_qmodel *m, const int32_t *tokens, int n,
                             floe_qat_verify_stats *st, floe_err *err)
{
    floe_verify_opts o = {.tokens = n};
    floe_verify_run_result vr;
    if (floe_verify_run(m, chip->mach, chip->energy, tokens, &o, &vr, err) != 0)
        return -1;
    int rc = vr.match ? 0 : mismatch(chip, vr.mismatch, &vr.dump, err);
    st->compared = vr.compared + (uint64_t)n * m->cfg.vocab_size;
    st->cycles = vr.prefill.cycles;
    st->latency_s_per_token = vr.prefill.latency_s / n;
    st->energy_j_per_token = chip->energy ? vr.prefill.energy_j / n : 0.0;
    st->mem_high_water = vr.mem_max;
    floe_verify_run_result_free(&vr);
    return rc;
}

int floe_qat_verify_chip(void *ctx, const floe_qmodel *m, const int32_t *tokens, int n, const int16_t *train_logits,
                         floe_qat_verify_stats *st, floe_err *err)
{
    const floe_qat_chip *chip = ctx;
    const int V = m->cfg.vocab_size;
    /* by causality the first n positions of the training sequence are a prefill of n tokens */
    int16_t *ref = malloc(sizeof(int16_t) * (size_t)n * V);
    if (!ref)
        return floe_err_set(err, "out of memory");
    if (floe_qref_forward(m, tokens, n, ref, NULL, NULL, err) != 0) {
        free(ref);
        return -1;
    }
    for (size_t i = 0; i < (size_t)n * V; i++)
        if (ref[i] != train_logits[i]) {
            int pos = (int)(i / (size_t)V), tok = (int)(i % (size_t)V);
            floe_err_set(err, "logits [position %d, token %d]: training forward %d, reference forward %d", pos, tok,
                         train_logits[i], ref[i]);
            free(ref);
            return -1;
        }
    free(ref);
    floe_compile_opts co = {.tokens = n};
    floe_err one;
    if (floe_compile_check_one_chip(&m->cfg, &m->q, chip->mach, &co, &one) != 0)
        return verify_over_chips(chip, m, tokens, n, st, err);
    floe_verify_result vr;
    if (floe_verify_prefill(m, chip->mach, chip->energy, tokens, n, &vr, err) != 0)
        return -1;
    int rc = vr.match ? 0 : mismatch(chip, vr.mismatch, &vr.dump, err);
    st->compared = vr.compared + (uint64_t)n * V;
    st->cycles = vr.sim.cycles;
    st->latency_s_per_token = vr.sim.seconds / n;
    st->energy_j_per_token = vr.sim.have_energy ? vr.sim.energy.total_j / n : 0.0;
    st->mem_high_water = vr.sim.mem_high_water_max;
    floe_verify_result_free(&vr);
    return rc;
}
