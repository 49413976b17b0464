/* `floe qat` as one library call (trainer/qat_job.h). */
#include "trainer/qat_job.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "common/path.h"
#include "common/gnuplot.h"
#include "trainer/log_plot.h"
#include "trainer/run_log.h"
#include "trainer/train.h"

void floe_qat_step_print(FILE *f, const floe_qat_stats *st, int total, const floe_eval_result *val, double tokens_per_s)
{
    if (!f)
        return;
    fprintf(f, "step %d/%d  loss %.4f  kl %.4f  ce %.4f  lr %.2e  grad_norm %.3f  %.0f tok/s", st->step, total,
            st->loss, st->kl, st->ce, (double)st->lr, st->grad_norm, tokens_per_s);
    if (st->verify.done)
        fprintf(f, "  chip: verified, %.2f us/token, %.1f uJ/token", 1e6 * st->verify.latency_s_per_token,
                1e6 * st->verify.energy_j_per_token);
    if (val)
        fprintf(f, "  val_loss %.4f  val_ppl %.4f", val->loss, val->ppl);
    fputc('\n', f);
    fflush(f);
}

/* The schedule of a new run: the method's defaults for the teacher's shape, then what was given. */
static floe_qat_cfg new_run_cfg(const floe_qat_job *j, const floe_model_config *mc)
{
    const floe_qat_settings *s = &j->set;
    floe_qat_cfg cfg = floe_qat_defaults(mc);
    cfg.init = j->init;
    cfg.method = j->method;
    if (j->method == FLOE_QAT_EFFICIENTQAT) {
        cfg.alpha = 1.0f; /* E2E-QP's loss: the ordinary next-token cross-entropy */
        cfg.lr = 0.0f;    /* the weights are frozen */
        cfg.lr_steps = 1e-2f;
    }
    if (s->steps > 0)
        cfg.steps = (int)s->steps;
    if (s->batch > 0)
        cfg.batch = (int)s->batch;
    if (s->accum > 0)
        cfg.accum = (int)s->accum;
    if (s->moments)
        cfg.moments = floe_moments_parse(s->moments);
    if (s->context > 0)
        cfg.context = (int)s->context;
    if (s->lr >= 0)
        cfg.lr = (float)s->lr;
    if (s->lr_steps >= 0)
        cfg.lr_steps = (float)s->lr_steps;
    if (s->warmup >= 0)
        cfg.warmup = (int)s->warmup;
    if (s->clip >= 0)
        cfg.clip = (float)s->clip;
    if (s->tau > 0)
        cfg.tau = (float)s->tau;
    if (s->alpha >= 0)
        cfg.alpha = (float)s->alpha;
    if (s->seed >= 0)
        cfg.seed = (uint64_t)s->seed;
    return cfg;
}

typedef struct {
    FILE *log;
    int total;
} step_ctx;

static void on_step(void *vctx, const floe_qat_stats *st, const floe_eval_result *val, double tps)
{
    const step_ctx *c = vctx;
    floe_qat_step_print(c->log, st, c->total, val, tps);
}

/* EfficientQAT's first phase on the chip's format, with its per-block report in OUT/blockap.csv. */
static int run_block_ap(const floe_qat_job *j, floe_qat_trainer *tr, int wbits, const floe_tokens *train, floe_err *err)
{
    const floe_blockap_cfg *bap = &j->bap;
    floe_blockap_log blog = {NULL, 0, 0, 1};
    char bpath[4300];
    double t0 = floe_now_s();
    floe_log_printf(
        j->log,
        "[1/2] Block-AP at W%d per output channel (the chip's quantizer): %d calibration sequences, %d epochs, "
        "batch %d, lr %g (steps) and %g (weights)\n",
        wbits, bap->samples, bap->epochs, bap->batch, (double)bap->lr_qparams, (double)bap->lr_weights);
    floe_path_join(bpath, sizeof bpath, j->out, "blockap.csv"); /* fits: floe_qat_job_run checked */
    int bad = floe_efficientqat_block_ap(tr, train, bap, floe_blockap_log_cb, &blog, err) != 0 ||
              floe_mkdir_p(j->out, err) != 0 || floe_blockap_log_write(&blog, bpath, err) != 0;
    floe_blockap_log_free(&blog);
    if (bad) {
        char m[FLOE_ERR_MSG_MAX];
        snprintf(m, sizeof m, "%s", err->msg);
        return floe_err_set(err, "Block-AP: %s", m);
    }
    floe_log_printf(j->log,
                    "Block-AP: %.1f s, per-block report %s; [2/2] E2E-QP: codes frozen, steps trained end to end\n",
                    floe_now_s() - t0, bpath);
    return 0;
}

int floe_qat_job_run(const floe_qat_job *j, floe_err *err)
{
    floe_qconfig qc = j->qc;
    floe_qat_cfg cfg;
    const char *teacher = j->teacher, *corpus = j->corpus;
    char teacher_buf[4096], corpus_buf[1024] = "";
    int start = 0;
    if (strlen(j->out) > FLOE_QAT_OUT_MAX)
        return floe_err_set(err, "%s: the output folder's path is too long", j->out);
    if (j->set.moments && floe_moments_parse(j->set.moments) < 0)
        return floe_err_set(err, "--moments '%s': expected f32, bf16 or q8", j->set.moments);
    if (j->resume) {
        if (floe_qat_ckpt_info(j->resume, teacher_buf, sizeof teacher_buf, &qc, &cfg, &start, err) != 0)
            return -1;
        if (!teacher)
            teacher = teacher_buf;
    } else if (!teacher)
        return floe_err_set(err, "--teacher CKPT is required (an FP checkpoint from floe train)");
    floe_model_config mc; /* the teacher's config and corpus from its metadata */
    if (floe_teacher_info(teacher, &mc, corpus_buf, sizeof corpus_buf, err) != 0)
        return -1;
    if (j->resume) {
        if (j->set.steps > 0)
            cfg.steps = (int)j->set.steps;
        if (j->set.accum > 0 && j->set.accum != cfg.accum)
            return floe_err_set(err, "%s: --grad-accum %lld, but the run was started with %d", j->resume, j->set.accum,
                                cfg.accum);
        if (j->set.moments && floe_moments_parse(j->set.moments) != cfg.moments)
            return floe_err_set(err, "%s: --moments %s, but the run was started with %s", j->resume, j->set.moments,
                                floe_moments_name(cfg.moments));
    } else
        cfg = new_run_cfg(j, &mc);
    if (!corpus && corpus_buf[0])
        corpus = corpus_buf;
    if (floe_qconfig_check_layers(&qc, mc.n_layers, mc.name, j->resume ? j->resume : "--wbits-layer", err) != 0)
        return -1;
    floe_tokens train, val;
    if (floe_teacher_data(teacher, &mc, corpus, &train, &val, err) != 0)
        return -1;
    char lw[8192];
    if (floe_qconfig_format_layer_wbits(&qc, lw, sizeof lw) != 0)
        lw[0] = '\0';
    floe_log_printf(j->log, "teacher %s (%s); W%dA%dKV%d, head W%d%s%.0d%s%s; corpus %s\n", teacher, mc.name, qc.wbits,
                    qc.abits, qc.kvbits, qc.head_bits,
                    qc.act_scaling == FLOE_ACT_PER_TOKEN ? ", per-token inputs K " : "", qc.act_kmax,
                    lw[0] ? ", layer weight bits " : "", lw, corpus ? corpus : "fortunes");
    floe_qat_trainer tr;
    int rc = -1;
    if (floe_qat_trainer_init(&tr, teacher, &qc, &cfg, &train, err) != 0)
        goto out_tokens;
    if (j->resume && floe_qat_load(&tr, j->resume, err) != 0)
        goto out;
    /* phase 1; a resumed run has its frozen codes in the checkpoint */
    if (cfg.method == FLOE_QAT_EFFICIENTQAT && !tr.s.frozen && run_block_ap(j, &tr, qc.wbits, &train, err) != 0)
        goto out;
    if (j->verify) {
        tr.verify = j->verify;
        tr.verify_ctx = j->verify_ctx;
        tr.verify_every = j->verify_every;
        tr.verify_tokens = j->verify_tokens;
        floe_log_printf(j->log,
                        "verifying every %d step(s) on %s: %d tokens compiled, simulated and compared bit for bit\n",
                        tr.verify_every, j->verify_on ? j->verify_on : "the machine", tr.verify_tokens);
    }
    floe_log_printf(
        j->log,
        "steps %d (from %d), batch %d x context %d x accum %d, lr %g (steps %g), warmup %d, clip %g, tau %g, "
        "alpha %g, moments %s, %d threads\n",
        cfg.steps, start, cfg.batch, cfg.context, cfg.accum, (double)cfg.lr, (double)cfg.lr_steps, cfg.warmup,
        (double)cfg.clip, (double)cfg.tau, (double)cfg.alpha, floe_moments_name(cfg.moments), omp_get_max_threads());
    step_ctx sc = {j->log, cfg.steps};
    const char *meta[] = {"floe.corpus", corpus ? corpus : "fortunes"};
    floe_qat_run_opts o = {j->out, j->stop_after, j->ckpt_every, j->eval_every, j->eval_windows, meta, 1, on_step, &sc};
    char csv[4300], png[4300];
    floe_path_join(csv, sizeof csv, j->out, "qat.csv");
    floe_path_join(png, sizeof png, j->out, "qat.png");
    if (floe_qat_run(&tr, &train, &val, &o, err) != 0 ||
        floe_gnuplot_optional(floe_plot_qat_log(csv, png, err), err) != 0)
        goto out;
    floe_log_printf(j->log, "quantized model %s/qmodel.safetensors; log %s, plot %s\n", j->out, csv, png);
    rc = 0;
out:
    floe_qat_trainer_free(&tr);
out_tokens:
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
