#include "trainer/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isa/elem.h"
#include "models/qref.h"

typedef struct capture {
    int n_layers;
    int32_t **out; /* [n_layers] the "out" tensor of each layer; owned */
    int32_t *logits;
    int failed;
} capture;

static void keep(void *ctx, const char *name, int layer, const int32_t *data, size_t rows, size_t width)
{
    capture *c = ctx;
    int32_t **dst = strcmp(name, "out") == 0 && layer >= 0 ? &c->out[layer] : strcmp(name, "logits") == 0 ? &c->logits : NULL;
    if (!dst)
        return;
    *dst = malloc(sizeof(int32_t) * rows * width);
    if (!*dst) {
        c->failed = 1;
        return;
    }
    memcpy(*dst, data, sizeof(int32_t) * rows * width);
}

static void capture_free(capture *c)
{
    for (int l = 0; l < c->n_layers; l++)
        free(c->out[l]);
    free(c->out);
    free(c->logits);
}

/* Compares int16 values in simulated memory with the reference; fills res on the first difference. */
static int compare(floe_verify_result *res, const floe_memory *mem, uint32_t addr, const int32_t *ref, int T, int width,
                   const char *what, unsigned x, unsigned y)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < width; i++) {
            int32_t got = floe_elem_load(mem->bytes + addr, FLOE_DT_I16, (size_t)t * width + i);
            int32_t want = ref[(size_t)t * width + i];
            res->compared++;
            if (got != want) {
                snprintf(res->mismatch, sizeof res->mismatch,
                         "%s differs at position %d, index %d: chip (core %u, %u) %d, reference %d", what, t, i, x, y,
                         got, want);
                return 0;
            }
        }
    return 1;
}

int floe_verify_prefill(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, floe_verify_result *res, floe_err *err)
{
    memset(res, 0, sizeof *res);
    floe_compile_opts o = {T};
    floe_program *p = NULL;
    floe_compile_report rep;
    if (floe_compile_prefill(m, mach, &o, &p, &rep, err) != 0)
        return -1;
    int rc = floe_verify_program(m, mach, e, tokens, T, p, &rep, res, err);
    res->compile = rep;
    floe_program_free(p);
    return rc;
}

int floe_verify_program(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                        const int32_t *tokens, int T, const floe_program *p, const floe_compile_report *rep,
                        floe_verify_result *res, floe_err *err)
{
    floe_compile_report keep_rep = res->compile;
    memset(res, 0, sizeof *res);
    res->compile = keep_rep;
    const floe_model_config *cf = &m->cfg;
    capture cap = {cf->n_layers, calloc((size_t)cf->n_layers, sizeof(int32_t *)), NULL, 0};
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)T * cf->vocab_size);
    floe_sim *s = NULL;
    int rc = -1;
    if (!cap.out || !logits) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    if (floe_qref_forward(m, tokens, T, logits, keep, &cap, err) != 0)
        goto out;
    if (cap.failed) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    if (floe_sim_new(&s, mach, e, err) != 0 || floe_sim_load(s, p, err) != 0)
        goto out;
    /* the host's embedding lookup, into region "x" of the first core */
    const floe_symbol *xs = floe_program_symbol(p, rep->in_x, rep->in_y, "x", 1);
    floe_memory *in = floe_sim_memory(s, rep->in_x, rep->in_y);
    if (!xs || !in) {
        floe_err_set(err, "verify: the program has no input region 'x'");
        goto out;
    }
    int16_t *emb = malloc(sizeof(int16_t) * (size_t)T * cf->d_model);
    if (!emb) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    for (int t = 0; t < T; t++)
        memcpy(emb + (size_t)t * cf->d_model, m->embed + (size_t)tokens[t] * cf->d_model, sizeof(int16_t) * cf->d_model);
    int wrc = floe_memory_write(in, xs->value, emb, sizeof(int16_t) * (size_t)T * cf->d_model, err);
    free(emb);
    if (wrc != 0)
        goto out;
    floe_sim_options so = {1, NULL, 0, 0}; /* strict: a read of uninitialised memory is a compiler bug */
    if (floe_sim_run(s, &so, err) != 0)
        goto out;
    res->sim = *floe_sim_result_get(s);
    res->match = 1;
    for (int l = 0; l < cf->n_layers && res->match; l++) {
        const floe_core_use *cu = &rep->cores[l];
        const floe_symbol *sym = floe_program_symbol(p, cu->x, cu->y, "x", 1);
        char what[64];
        snprintf(what, sizeof what, "layer %d output (residual stream)", l);
        res->match = compare(res, floe_sim_memory(s, cu->x, cu->y), sym->value, cap.out[l], T, cf->d_model, what,
                             cu->x, cu->y);
    }
    if (res->match) {
        const floe_symbol *sym = floe_program_symbol(p, rep->out_x, rep->out_y, "logits", 6);
        res->match = compare(res, floe_sim_memory(s, rep->out_x, rep->out_y), sym->value, cap.logits, T, cf->vocab_size,
                             "logits", rep->out_x, rep->out_y);
    }
    rc = 0;
out:
    floe_sim_free(s);
    capture_free(&cap);
    free(logits);
    return rc;
}

void floe_verify_result_free(floe_verify_result *res) { floe_compile_report_free(&res->compile); }

/* ---- multi-chip ---------------------------------------------------------------------------- */

typedef struct stage_check {
    const floe_chip_program *chips;
    const capture *cap;
    int T, d;
    floe_verify_system_result *res;
} stage_check;

static void check_stage(void *ctx, int s, const uint8_t *out, size_t n)
{
    stage_check *sc = ctx;
    const floe_chip_program *cp = &sc->chips[s];
    int last_layer = cp->last_slot - 1; /* a chip without the head ends with a layer's residual stream */
    if (!sc->res->match || last_layer >= sc->cap->n_layers || n < (size_t)2 * sc->T * sc->d)
        return;
    for (int i = 0; i < sc->T * sc->d; i++) {
        int32_t got = floe_elem_load(out, FLOE_DT_I16, (size_t)i), want = sc->cap->out[last_layer][i];
        sc->res->compared++;
        if (got != want) {
            sc->res->match = 0;
            snprintf(sc->res->mismatch, sizeof sc->res->mismatch,
                     "chip %d hand-off (layer %d output) differs at position %d, index %d: chip %d, reference %d", s,
                     last_layer, i / sc->d, i % sc->d, got, want);
            return;
        }
    }
}

int floe_verify_pipeline(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e,
                         const int32_t *tokens, int T, int users, floe_verify_system_result *res, floe_err *err)
{
    memset(res, 0, sizeof *res);
    const floe_model_config *cf = &m->cfg;
    capture cap = {cf->n_layers, calloc((size_t)cf->n_layers, sizeof(int32_t *)), NULL, 0};
    int16_t *logits = malloc(sizeof(int16_t) * (size_t)T * cf->vocab_size),
            *chip_logits = malloc(sizeof(int16_t) * (size_t)T * cf->vocab_size),
            *emb = malloc(sizeof(int16_t) * (size_t)T * cf->d_model);
    floe_chip_program *chips = NULL;
    floe_stage *stages = NULL;
    int n = 0, rc = -1;
    if (!cap.out || !logits || !chip_logits || !emb) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    if (floe_qref_forward(m, tokens, T, logits, keep, &cap, err) != 0)
        goto out;
    floe_compile_opts o = {T};
    if (floe_compile_pipeline(m, mach, &o, &chips, &n, err) != 0)
        goto out;
    stages = calloc((size_t)n, sizeof *stages);
    if (!stages || cap.failed) {
        floe_err_set(err, "verify: out of memory");
        goto out;
    }
    for (int k = 0; k < n; k++) {
        const floe_compile_report *r = &chips[k].report;
        stages[k] = (floe_stage){chips[k].prog, r->in_x, r->in_y, r->out_x, r->out_y,
                                 chips[k].last_slot > cf->n_layers ? "logits" : "x"};
    }
    for (int t = 0; t < T; t++)
        memcpy(emb + (size_t)t * cf->d_model, m->embed + (size_t)tokens[t] * cf->d_model, sizeof(int16_t) * cf->d_model);
    res->chips = n;
    res->match = 1;
    stage_check sc = {chips, &cap, T, cf->d_model, res};
    if (floe_system_pipeline_cb(mach, e, stages, n, emb, sizeof(int16_t) * (size_t)T * cf->d_model, chip_logits,
                                sizeof(int16_t) * (size_t)T * cf->vocab_size, users, check_stage, &sc, &res->system,
                                err) != 0)
        goto out;
    for (int i = 0; res->match && i < T * cf->vocab_size; i++) {
        res->compared++;
        if (chip_logits[i] != logits[i]) {
            res->match = 0;
            snprintf(res->mismatch, sizeof res->mismatch, "logits differ at position %d, index %d: chip %d, reference %d",
                     i / cf->vocab_size, i % cf->vocab_size, chip_logits[i], logits[i]);
        }
    }
    rc = 0;
out:
    floe_chip_programs_free(chips, n);
    free(stages);
    capture_free(&cap);
    free(logits);
    free(chip_logits);
    free(emb);
    return rc;
}

void floe_verify_system_result_free(floe_verify_system_result *res) { floe_system_result_free(&res->system); }
