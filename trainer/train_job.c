/* `floe train` as one library call (trainer/train_job.h). */
#include "trainer/train_job.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/safetensors.h"

typedef struct {
    FILE *log;
    int total;
} step_ctx;

static void on_step(void *vctx, const floe_step_stats *st, double val_loss, double tps)
{
    const step_ctx *c = vctx;
    if (!c->log)
        return;
    fprintf(c->log, "step %d/%d  loss %.4f  lr %.3e  grad_norm %.3f  %.0f tok/s", st->step, c->total, (double)st->loss,
            (double)st->lr, st->grad_norm, tps);
    if (!isnan(val_loss))
        fprintf(c->log, "  val_loss %.4f", val_loss);
    fputc('\n', c->log);
    fflush(c->log);
}

/* A resumed run keeps its settings: one given anyway must agree with the checkpoint. */
static int agree(const char *opt, double given, int same, double stored, floe_err *err)
{
    if (given >= 0 && !same)
        return floe_err_set(err, "--%s %.9g differs from the checkpoint's %.9g (a resumed run keeps its settings)", opt,
                            given, stored);
    return 0;
}

/* The config and schedule of a resumed run, and the corpus it was started on (into corpus_buf). */
static int resume_cfg(const floe_train_job *j, floe_model_config *mc, floe_train_cfg *cfg, int *start, char *corpus_buf,
                      size_t corpus_n, floe_err *err)
{
    const floe_train_settings *s = &j->set;
    if (floe_ckpt_read_cfg(j->resume, mc, cfg, start, err) != 0)
        return -1;
    if (j->model) {
        floe_model_config given;
        if (floe_model_config_load(j->model, &given, err) != 0)
            return -1;
        char *a = floe_model_config_to_json(&given), *b = floe_model_config_to_json(mc);
        int same = a && b && strcmp(a, b) == 0;
        free(a), free(b);
        if (!same)
            return floe_err_set(err, "--model %s: %s holds another model config", j->model, j->resume);
    }
    if (agree("batch", (double)s->batch, s->batch == cfg->batch, cfg->batch, err) ||
        agree("context", (double)s->context, s->context == cfg->context, cfg->context, err) ||
        agree("warmup", (double)s->warmup, s->warmup == cfg->warmup, cfg->warmup, err) ||
        agree("accum", (double)s->accum, s->accum == cfg->accum, cfg->accum, err) ||
        agree("seed", (double)s->seed, (uint64_t)s->seed == cfg->seed, (double)cfg->seed, err) ||
        agree("lr", s->lr, (float)s->lr == cfg->lr, (double)cfg->lr, err) ||
        agree("clip", s->clip, (float)s->clip == cfg->clip, (double)cfg->clip, err))
        return -1;
    if (s->moments && floe_moments_parse(s->moments) != cfg->moments_bf16)
        return floe_err_set(err, "--moments %s differs from the checkpoint's %s (a resumed run keeps its settings)",
                            s->moments, floe_moments_name(cfg->moments_bf16));
    if (s->steps > 0)
        cfg->steps = (int)s->steps;
    floe_st_file f;
    if (!j->corpus && floe_st_open(&f, j->resume, err) == 0) {
        const char *c = floe_st_meta_get(&f, "floe.corpus");
        snprintf(corpus_buf, corpus_n, "%s", c ? c : "");
        floe_st_close(&f);
    }
    return 0;
}

static int new_cfg(const floe_train_job *j, floe_model_config *mc, floe_train_cfg *cfg, floe_err *err)
{
    const floe_train_settings *s = &j->set;
    if (!j->model)
        return floe_err_set(err, "--model is required (tiny, S, M or a config.json), or --resume CKPT");
    if (floe_model_config_load(j->model, mc, err) != 0)
        return -1;
    *cfg = floe_train_defaults(mc);
    if (s->steps > 0)
        cfg->steps = (int)s->steps;
    if (s->batch > 0)
        cfg->batch = (int)s->batch;
    if (s->context > 0)
        cfg->context = (int)s->context;
    if (s->lr > 0)
        cfg->lr = (float)s->lr, cfg->min_lr = (float)s->lr / 10.0f;
    if (s->warmup >= 0)
        cfg->warmup = (int)s->warmup;
    if (s->accum > 0)
        cfg->accum = (int)s->accum;
    if (s->clip >= 0)
        cfg->clip = (float)s->clip;
    if (s->seed >= 0)
        cfg->seed = (uint64_t)s->seed;
    if (s->moments)
        cfg->moments_bf16 = floe_moments_parse(s->moments);
    return 0;
}

int floe_train_job_run(const floe_train_job *j, floe_err *err)
{
    floe_model_config mc;
    floe_train_cfg cfg;
    int start = 0;
    char corpus_buf[1024] = "";
    const char *corpus = j->corpus;
    if (j->set.moments && floe_moments_parse(j->set.moments) == FLOE_MOMENTS_Q8)
        return floe_err_set(err, "--moments q8: floe train keeps f32 or bf16 moments (8-bit moments are floe qat's)");
    if (j->set.moments && floe_moments_parse(j->set.moments) < 0)
        return floe_err_set(err, "--moments '%s': expected f32 or bf16", j->set.moments);
    if (j->resume ? resume_cfg(j, &mc, &cfg, &start, corpus_buf, sizeof corpus_buf, err) : new_cfg(j, &mc, &cfg, err))
        return -1;
    if (!corpus && corpus_buf[0])
        corpus = corpus_buf;
    floe_tokens train, val;
    floe_trainer tr;
    int rc = -1;
    if (floe_train_data(corpus, &train, &val, err) != 0)
        return -1;
    if (floe_tokens_check_vocab(&train, mc.vocab_size, err) != 0) {
        floe_err_prefix(err, "%s: ", corpus ? corpus : "fortunes");
        goto out_tokens;
    }
    if (floe_trainer_init(&tr, &mc, &cfg, err) != 0)
        goto out_tokens;
    if (j->resume && floe_trainer_load(&tr, j->resume, err) != 0)
        goto out;
    if (j->log) {
        fprintf(j->log, "model %s: %llu parameters; corpus %s: %zu train, %zu validation tokens\n", mc.name,
                (unsigned long long)floe_model_param_count(&mc), corpus ? corpus : "fortunes", train.n, val.n);
        fprintf(j->log,
                "steps %d (from %d), batch %d x context %d x accum %d, lr %g -> %g, warmup %d, clip %g, seed %llu, "
                "moments %s, %d threads\n",
                cfg.steps, start, cfg.batch, cfg.context, cfg.accum, (double)cfg.lr, (double)cfg.min_lr, cfg.warmup,
                (double)cfg.clip, (unsigned long long)cfg.seed, floe_moments_name(cfg.moments_bf16),
                omp_get_max_threads());
        fflush(j->log);
    }
    step_ctx sc = {j->log, cfg.steps};
    char tok_label[40];
    floe_tokens_tokenizer_label(&train, tok_label, sizeof tok_label);
    const char *meta[] = {"floe.corpus", corpus ? corpus : "fortunes", "floe.tokenizer", tok_label};
    floe_run_opts o = {j->out, j->stop_after, j->ckpt_every, j->eval_every,  j->dump_step, meta,
                       2,      on_step,       &sc,           j->eval_windows};
    char last[4200] = "";
    if (floe_train_run(&tr, &train, &val, &o, last, sizeof last, err) != 0)
        goto out;
    if (j->log && last[0])
        fprintf(j->log, "checkpoint %s\n", last);
    if (j->log && j->dump_step)
        fprintf(j->log, "dumped step %d to %s\n", start, j->dump_step);
    rc = 0;
out:
    floe_trainer_free(&tr);
out_tokens:
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
