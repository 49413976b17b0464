/* EfficientQAT's weight-only study as one library call (trainer/qat_job.h). */
#include <stdio.h>
#include <string.h>

#include "common/path.h"
#include "trainer/qat_job.h"
#include "trainer/run_log.h"
#include "trainer/train.h"

#define E2E_HEADER "step,tokens,loss,lr,grad_norm,seconds\n"

typedef struct {
    FILE *log;
    floe_run_log rows;
    double t0, seconds0, tokens_per_step;
    int total;
    floe_err err;
    int failed;
} e2e_ctx;

static void on_e2e(void *vctx, const floe_e2eqp_stats *s)
{
    e2e_ctx *c = vctx;
    double secs = c->seconds0 + floe_now_s() - c->t0;
    floe_log_printf(c->log, "E2E-QP step %d/%d  loss %.4f  lr %.2e  grad_norm %.3f\n", s->step, c->total,
                    (double)s->loss, (double)s->lr, s->grad_norm);
    char line[256];
    snprintf(line, sizeof line, "%d,%.0f,%.6f,%.6g,%.6g,%.3f\n", s->step, s->step * c->tokens_per_step, (double)s->loss,
             (double)s->lr, s->grad_norm, secs);
    if (!c->failed && floe_run_log_add(&c->rows, line, &c->err) != 0)
        c->failed = 1;
}

/* E2E-QP's schedule: the defaults at the study's width, then what was given. */
static floe_e2eqp_cfg e2e_cfg(const floe_qat_job *j)
{
    const floe_qat_settings *s = &j->set;
    floe_e2eqp_cfg e = floe_e2eqp_defaults(j->bap.bits);
    if (s->steps > 0)
        e.steps = (int)s->steps;
    if (s->batch > 0)
        e.batch = (int)s->batch;
    if (s->context > 0)
        e.context = (int)s->context;
    if (s->lr >= 0)
        e.lr = (float)s->lr, e.min_lr = (float)s->lr / 20.0f;
    if (s->warmup >= 0)
        e.warmup = (int)s->warmup;
    if (s->clip >= 0)
        e.clip = (float)s->clip;
    if (s->seed >= 0)
        e.seed = (uint64_t)s->seed;
    return e;
}

int floe_qat_weight_only_run(const floe_qat_job *a, floe_err *err)
{
    floe_eqat_wonly w;
    floe_blockap_cfg bap = a->bap;
    floe_e2eqp_cfg e2e = e2e_cfg(a);
    char teacher[4096], path[4300], log_path[4300];
    int start = 0;
    if (strlen(a->out) > FLOE_QAT_OUT_MAX)
        return floe_err_set(err, "%s: the output folder's path is too long", a->out);
    snprintf(teacher, sizeof teacher, "%s", a->teacher ? a->teacher : "");
    if (a->resume) {
        if (floe_eqat_wonly_state_info(a->resume, teacher, sizeof teacher, &bap, &e2e, &start, err) != 0)
            return -1;
        if (a->set.steps > 0)
            e2e.steps = (int)a->set.steps;
    }
    if (!teacher[0])
        return floe_err_set(err, "--teacher CKPT is required (an FP checkpoint from floe train)");
    floe_model_config mc;
    char corpus_buf[1024] = "";
    const char *corpus = a->corpus;
    if (floe_teacher_info(teacher, &mc, corpus_buf, sizeof corpus_buf, err) != 0)
        return -1;
    if (!corpus && corpus_buf[0])
        corpus = corpus_buf;
    floe_tokens train, val;
    if (floe_teacher_data(teacher, &mc, corpus, &train, &val, err) != 0)
        return -1;
    int rc = -1, have_w = 0;
    e2e_ctx ec;
    memset(&ec, 0, sizeof ec);
    ec.log = a->log;
    floe_blockap_log blog = {NULL, 0, 0, 1};
    if (floe_mkdir_p(a->out, err) != 0)
        goto out;
    floe_path_join(log_path, sizeof log_path, a->out, "e2eqp.csv"); /* fits: checked above */
    floe_log_printf(a->log,
                    "EfficientQAT, weight-only study (activations float; not a chip model): teacher %s (%s), W%d, %s, "
                    "%s\n",
                    teacher, mc.name, bap.bits, bap.group ? "group-wise" : "per output channel",
                    bap.asym ? "asymmetric" : "symmetric");
    if (bap.group)
        floe_log_printf(a->log, "group size %d\n", bap.group);
    if (floe_eqat_wonly_init(&w, teacher, &bap, &e2e, err) != 0)
        goto out;
    have_w = 1;
    double t0 = floe_now_s();
    if (a->resume) {
        if (floe_eqat_wonly_resume(&w, a->resume, err) != 0)
            goto out;
        floe_log_printf(a->log, "resumed E2E-QP at step %d from %s\n", w.e2e.step, a->resume);
    } else {
        floe_log_printf(
            a->log,
            "[1/2] Block-AP: %d calibration sequences, %d epochs, batch %d, lr %g (steps, zero points) and %g "
            "(weights)\n",
            bap.samples, bap.epochs, bap.batch, (double)bap.lr_qparams, (double)bap.lr_weights);
        if (floe_eqat_wonly_block_ap(&w, &train, floe_blockap_log_cb, &blog, err) != 0) {
            floe_err_prefix(err, "Block-AP: ");
            goto out;
        }
        floe_path_join(path, sizeof path, a->out, "blockap.csv");
        if (floe_blockap_log_write(&blog, path, err) != 0)
            goto out;
        floe_log_printf(a->log, "Block-AP: %.1f s; per-block report %s\n", floe_now_s() - t0, path);
    }
    ec.total = e2e.steps;
    ec.tokens_per_step = (double)e2e.batch * (e2e.context > 0 ? e2e.context : mc.context);
    if (floe_run_log_load(&ec.rows, log_path, w.e2e.step, &ec.seconds0, err) != 0)
        goto out;
    floe_log_printf(a->log, "[2/2] E2E-QP: steps %d (from %d), batch %d, lr %g, warmup %d, clip %g\n", e2e.steps,
                    w.e2e.step, e2e.batch, (double)e2e.lr, e2e.warmup, (double)e2e.clip);
    const char *extra[] = {"floe.teacher", teacher, "floe.teacher_digest", w.teacher_digest};
    int end = a->stop_after > 0 && a->stop_after < e2e.steps ? a->stop_after : e2e.steps;
    ec.t0 = floe_now_s();
    while (w.e2e.step < end) {
        int next = end;
        if (a->ckpt_every > 0) {
            int c = (w.e2e.step / a->ckpt_every + 1) * a->ckpt_every;
            next = c < end ? c : end;
        }
        if (floe_e2eqp_run(&w.e2e, &w.q, &train, &e2e, next, on_e2e, &ec, err) != 0) {
            floe_err_prefix(err, "E2E-QP: ");
            goto out;
        }
        char name[64];
        snprintf(name, sizeof name, "e2eqp-%06d.safetensors", w.e2e.step);
        floe_path_join(path, sizeof path, a->out, name);
        if (ec.failed || floe_e2eqp_save(&w.e2e, &w.q, &e2e, path, extra, 2, err) != 0 ||
            floe_run_log_write(&ec.rows, log_path, E2E_HEADER, err) != 0) {
            if (ec.failed)
                *err = ec.err;
            goto out;
        }
    }
    if (w.e2e.step < e2e.steps) {
        floe_log_printf(a->log, "stopped after step %d: resume with --resume %s\n", w.e2e.step, path);
        rc = 0;
        goto out;
    }
    /* the weight-only model and its perplexity with float activations */
    char steps[24];
    snprintf(steps, sizeof steps, "%d", w.e2e.step);
    const char *meta[] = {"floe.qat_steps", steps, "floe.corpus", corpus ? corpus : "fortunes"};
    floe_eval_result r;
    floe_path_join(path, sizeof path, a->out, "model.safetensors");
    if (floe_weight_only_save(path, &w.q, "efficientqat", bap.bits, bap.group, bap.asym, teacher, meta, 2, err) != 0 ||
        floe_model_evaluate(&w.q, &val, w.q.maxT, &r, err) != 0)
        goto out;
    floe_log_printf(a->log,
                    "validation   loss %.4f nats/byte, perplexity %.3f, accuracy %.4f (%zu tokens), weights quantized, "
                    "activations float\n",
                    r.loss, r.ppl, r.accuracy, r.tokens);
    floe_log_printf(a->log, "weight-only model %s (floe eval --ckpt); log %s\n", path, log_path);
    rc = 0;
out:
    if (have_w)
        floe_eqat_wonly_free(&w);
    floe_blockap_log_free(&blog);
    floe_run_log_free(&ec.rows);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
