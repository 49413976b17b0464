/* `floe ptq` as a library (trainer/ptq_run.h). */
#include "trainer/ptq_run.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "models/qmodel_io.h"
#include "models/safetensors.h"
#include "trainer/qeval.h"

static const char *const method_names[] = {"rtn", "calib", "gptq", "smoothquant"};

int floe_ptq_method_parse(const char *name, floe_ptq_method *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, method_names[i]) == 0) {
            *out = (floe_ptq_method)i;
            return 0;
        }
    return -1;
}

const char *floe_ptq_method_name(floe_ptq_method m) { return (unsigned)m < 4 ? method_names[m] : "?"; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Weight-only: the teacher's blocks quantized in place, saved as an FP checkpoint. */
static int run_weight_only(const floe_ptq_run_opts *o, floe_model *t, const floe_tokens *train, const floe_tokens *val,
                           floe_ptq_report *rep, floe_err *err)
{
    floe_wo_cfg wc = {o->method == FLOE_PTQ_GPTQ, o->wbits, o->group, o->asym, o->gptq, o->init.batches, o->init.seed};
    double t0 = now_s();
    if (floe_ptq_weight_only(t, train, &wc, err) != 0)
        return floe_err_prefix(err, "%s", o->teacher);
    rep->seconds = now_s() - t0;
    if (!wc.gptq)
        rep->calib_tokens = 0;
    char wb[16], gb[16];
    snprintf(wb, sizeof wb, "%d", wc.bits);
    snprintf(gb, sizeof gb, "%d", wc.group);
    const char *kv[] = {"floe.method",      floe_ptq_method_name(o->method),
                        "floe.weight_only", "1",
                        "floe.wbits",       wb,
                        "floe.group",       gb,
                        "floe.asym",        o->asym ? "1" : "0",
                        "floe.teacher",     o->teacher,
                        "floe.corpus",      rep->corpus};
    if (floe_st_save_params(o->out, &t->cfg, &t->table, t->params, kv, 7, err) != 0)
        return -1;
    if (o->eval) {
        if (floe_model_evaluate(t, val, t->maxT, &rep->val, err) != 0)
            return floe_err_prefix(err, "evaluating");
        rep->evaluated = 1;
    }
    return 0;
}

/* The chip path: a student quantized from the teacher by the method, saved as a quantized model. */
static int run_chip(const floe_ptq_run_opts *o, floe_model *t, const floe_tokens *train, const floe_tokens *val,
                    floe_ptq_report *rep, floe_err *err)
{
    floe_qat s;
    if (floe_qat_init(&s, &t->cfg, &o->q, 1, 1, err) != 0)
        return -1;
    int rc = -1;
    double t0 = now_s();
    int m = o->method;
    if ((m == FLOE_PTQ_GPTQ          ? floe_ptq_gptq(&s, t, train, &o->init, &o->gptq, o->hsrc, err)
         : m == FLOE_PTQ_SMOOTHQUANT ? floe_ptq_smoothquant(&s, t, train, &o->init, o->alpha, o->smooth_norms, err)
                                     : floe_qat_init_from_teacher(&s, t, train, &o->init, err)) != 0) {
        floe_err_prefix(err, "%s", o->teacher);
        goto out;
    }
    rep->seconds = now_s() - t0;
    if (m == FLOE_PTQ_RTN)
        rep->calib_tokens = 0;
    char ab[32], db[32];
    snprintf(ab, sizeof ab, "%g", o->alpha);
    snprintf(db, sizeof db, "%g", o->gptq.damp);
    const char *kv[] = {"floe.method",
                        floe_ptq_method_name(o->method),
                        "floe.teacher",
                        o->teacher,
                        "floe.corpus",
                        rep->corpus,
                        m == FLOE_PTQ_SMOOTHQUANT ? "floe.smoothquant_alpha" : "floe.gptq_damp",
                        m == FLOE_PTQ_SMOOTHQUANT ? ab : db};
    if (floe_qmodel_save(&s.qm, o->out, kv, m == FLOE_PTQ_GPTQ || m == FLOE_PTQ_SMOOTHQUANT ? 4 : 3, err) != 0)
        goto out;
    if (o->eval) {
        floe_qfwd f;
        if (floe_qfwd_init(&f, &s.cfg, o->batch, s.cfg.context, err) != 0)
            goto out;
        int bad = floe_qmodel_evaluate(&f, &s.qm, val, 0, &rep->val, err) != 0;
        memcpy(rep->khist, f.khist, sizeof rep->khist);
        floe_qfwd_free(&f);
        if (bad) {
            floe_err_prefix(err, "evaluating");
            goto out;
        }
        rep->evaluated = 1;
    }
    rc = 0;
out:
    floe_qat_free(&s);
    return rc;
}

int floe_ptq_run(const floe_ptq_run_opts *o, floe_ptq_report *rep, floe_err *err)
{
    memset(rep, 0, sizeof *rep);
    char corpus_buf[sizeof rep->corpus];
    if (floe_teacher_info(o->teacher, &rep->cfg, corpus_buf, sizeof corpus_buf, err) != 0)
        return -1;
    if (!o->weight_only &&
        floe_qconfig_check_layers(&o->q, rep->cfg.n_layers, rep->cfg.name, "--wbits-layer", err) != 0)
        return -1;
    const char *corpus = o->corpus ? o->corpus : corpus_buf[0] ? corpus_buf : NULL;
    snprintf(rep->corpus, sizeof rep->corpus, "%s", corpus ? corpus : "fortunes");
    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, err) != 0)
        return -1;
    rep->unit = val.vocab ? "token" : "byte"; /* a token file's ids are tokens, the byte corpora's bytes */
    floe_model t;
    int rc = -1;
    if (floe_model_load_forward(&t, o->teacher, o->batch, 0, err) != 0) {
        floe_err_prefix(err, "teacher %s", o->teacher);
        goto out_tokens;
    }
    if (floe_tokens_check_vocab(&train, t.cfg.vocab_size, err) != 0 ||
        floe_ckpt_check_tokenizer(o->teacher, &train, err) != 0) {
        floe_err_prefix(err, "%s", rep->corpus);
        floe_model_free(&t);
        goto out_tokens;
    }
    rep->calib_tokens = (size_t)o->init.batches * t.maxB * t.maxT; /* RTN reads none: reset by the runs */
    rc = o->weight_only ? run_weight_only(o, &t, &train, &val, rep, err) : run_chip(o, &t, &train, &val, rep, err);
    floe_model_free(&t);
out_tokens:
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
