/* `floe train`: the FP trainer (docs/trainer.md): progress per step, CSV log, checkpoints, resume. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "models/safetensors.h"
#include "trainer/train.h"

typedef struct {
    int total;
} progress_ctx;

static void on_step(void *vctx, const floe_step_stats *st, double val_loss, double tps)
{
    const progress_ctx *c = vctx;
    printf("step %d/%d  loss %.4f  lr %.3e  grad_norm %.3f  %.0f tok/s", st->step, c->total, (double)st->loss,
           (double)st->lr, st->grad_norm, tps);
    if (!isnan(val_loss))
        printf("  val_loss %.4f", val_loss);
    putchar('\n');
    fflush(stdout);
}

/* A --resume run takes its settings from the checkpoint; an option given anyway must agree. */
static int agree_int(const char *opt, long long given, long long stored)
{
    if (given >= 0 && given != stored)
        return floe_cmd_fail("train", "--%s %lld differs from the checkpoint's %lld (a resumed run keeps its settings)",
                             opt, given, stored);
    return 0;
}

static int agree_float(const char *opt, double given, float stored)
{
    if (given >= 0 && (float)given != stored)
        return floe_cmd_fail("train", "--%s %g differs from the checkpoint's %.9g (a resumed run keeps its settings)",
                             opt, given, (double)stored);
    return 0;
}

int floe_cmd_train(int argc, char **argv)
{
    const char *model = NULL, *corpus = NULL, *out = "floe-train", *resume = NULL, *dump = NULL;
    long long steps = -1, batch = -1, context = -1, warmup = -1, accum = -1, seed = -1, threads = 0;
    long long ckpt_every = 1000, eval_every = 500, stop_after = 0;
    double lr = -1, clip = -1;
    const floe_opt opts[] = {
        {"model", FLOE_ARG_STRING, &model, "NAME|FILE", "tiny, S, M or a Hugging Face config.json (required)", 0, 0,
         'm'},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "fortunes (default), generated[:N[:SEED]] or a folder", 0, 0, 0},
        {"steps", FLOE_ARG_INT, &steps, "N", "optimizer steps (default 3000)", 1, 1e9, 0},
        {"batch", FLOE_ARG_INT, &batch, "B", "sequences per micro-batch (default 8)", 1, 65536, 'b'},
        {"context", FLOE_ARG_INT, &context, "T", "tokens per sequence (default: the model's context)", 1, 1 << 22, 0},
        {"lr", FLOE_ARG_DOUBLE, &lr, "X", "peak learning rate (default 2e-3; floor lr/10)", 1e-9, 10, 0},
        {"warmup", FLOE_ARG_INT, &warmup, "N", "linear warmup steps (default 100)", 0, 1e9, 0},
        {"accum", FLOE_ARG_INT, &accum, "N", "micro-batches per step (default 1)", 1, 65536, 0},
        {"grad-accum", FLOE_ARG_INT, &accum, "N", "the same as --accum", 1, 65536, 0},
        {"clip", FLOE_ARG_DOUBLE, &clip, "X", "global gradient-norm limit, 0 for none (default 1)", 0, 1e9, 0},
        {"seed", FLOE_ARG_INT, &seed, "N", "initial weights and batch sampling (default 1)", 0, 9.007e15, 0},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {"out", FLOE_ARG_STRING, &out, "DIR", "checkpoints and train.csv (default floe-train)", 0, 0, 'o'},
        {"ckpt-every", FLOE_ARG_INT, &ckpt_every, "N", "checkpoint every N steps, 0: only at the end (default 1000)", 0,
         1e9, 0},
        {"eval-every", FLOE_ARG_INT, &eval_every, "N",
         "validation loss every N steps, 0: only at the end (default 500)", 0, 1e9, 0},
        {"resume", FLOE_ARG_STRING, &resume, "CKPT", "continue a run from its checkpoint (bit-identical)", 0, 0, 0},
        {"stop-after", FLOE_ARG_INT, &stop_after, "N", "stop (with a checkpoint) once N steps are done", 0, 1e9, 0},
        {"dump-step", FLOE_ARG_STRING, &dump, "FILE",
         "write the run's first step (inputs, parameters, gradients, loss) as safetensors", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "train", NULL, "Train a model in float32 (AdamW, warmup + cosine, clipping, accumulation).",
        "Prints a line per step; writes DIR/train.csv (step,tokens,loss,val_loss,lr,grad_norm,\n"
        "tokens_per_s,seconds) and DIR/ckpt-<step>.safetensors (+ .optim.safetensors, the optimizer\n"
        "state). With --resume, the model, corpus and hyperparameters come from the checkpoint;\n"
        "--steps may extend the run (the cosine then stretches: no longer identical to a straight run).",
        opts, 0, 0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!model && !resume)
        return floe_cmd_fail("train", "--model is required (tiny, S, M or a config.json), or --resume CKPT");
    if (threads > 0)
        omp_set_num_threads((int)threads);

    floe_err err;
    floe_model_config mc;
    floe_train_cfg cfg;
    int start = 0;
    char corpus_buf[1024] = "";
    if (resume) {
        if (floe_ckpt_read_cfg(resume, &mc, &cfg, &start, &err) != 0)
            return floe_cmd_fail("train", "%s", err.msg);
        if (model) {
            floe_model_config given;
            if (floe_model_config_load(model, &given, &err) != 0)
                return floe_cmd_fail("train", "%s", err.msg);
            char *a = floe_model_config_to_json(&given), *b = floe_model_config_to_json(&mc);
            int same = a && b && strcmp(a, b) == 0;
            free(a), free(b);
            if (!same)
                return floe_cmd_fail("train", "--model %s: %s holds another model config", model, resume);
        }
        if (agree_int("batch", batch, cfg.batch) || agree_int("context", context, cfg.context) ||
            agree_int("warmup", warmup, cfg.warmup) || agree_int("accum", accum, cfg.accum) ||
            agree_int("seed", seed, (long long)cfg.seed) || agree_float("lr", lr, cfg.lr) ||
            agree_float("clip", clip, cfg.clip))
            return 1;
        if (steps > 0)
            cfg.steps = (int)steps;
        floe_st_file f; /* the corpus the run was started on */
        if (!corpus && floe_st_open(&f, resume, &err) == 0) {
            const char *c = floe_st_meta_get(&f, "floe.corpus");
            snprintf(corpus_buf, sizeof corpus_buf, "%s", c ? c : "");
            floe_st_close(&f);
            corpus = corpus_buf[0] ? corpus_buf : NULL;
        }
    } else {
        if (floe_model_config_load(model, &mc, &err) != 0)
            return floe_cmd_fail("train", "%s", err.msg);
        cfg = floe_train_defaults(&mc);
        if (steps > 0)
            cfg.steps = (int)steps;
        if (batch > 0)
            cfg.batch = (int)batch;
        if (context > 0)
            cfg.context = (int)context;
        if (lr > 0) {
            cfg.lr = (float)lr;
            cfg.min_lr = (float)lr / 10.0f;
        }
        if (warmup >= 0)
            cfg.warmup = (int)warmup;
        if (accum > 0)
            cfg.accum = (int)accum;
        if (clip >= 0)
            cfg.clip = (float)clip;
        if (seed >= 0)
            cfg.seed = (uint64_t)seed;
    }

    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, &err) != 0)
        return floe_cmd_fail("train", "%s", err.msg);
    if (floe_tokens_check_vocab(&train, mc.vocab_size, &err) != 0) {
        floe_tokens_free(&train);
        floe_tokens_free(&val);
        return floe_cmd_fail("train", "%s: %s", corpus, err.msg);
    }

    floe_trainer tr;
    rc = 1;
    if (floe_trainer_init(&tr, &mc, &cfg, &err) != 0) {
        floe_cmd_fail("train", "%s", err.msg);
        goto out_tokens;
    }
    if (resume && floe_trainer_load(&tr, resume, &err) != 0) {
        floe_cmd_fail("train", "%s", err.msg);
        goto out;
    }
    printf("model %s: %llu parameters; corpus %s: %zu train, %zu validation tokens\n", mc.name,
           (unsigned long long)floe_model_param_count(&mc), corpus ? corpus : "fortunes", train.n, val.n);
    printf("steps %d (from %d), batch %d x context %d x accum %d, lr %g -> %g, warmup %d, clip %g, seed %llu, "
           "%d threads\n",
           cfg.steps, start, cfg.batch, cfg.context, cfg.accum, (double)cfg.lr, (double)cfg.min_lr, cfg.warmup,
           (double)cfg.clip, (unsigned long long)cfg.seed, omp_get_max_threads());
    fflush(stdout);
    progress_ctx pc = {cfg.steps};
    char tok_label[40];
    floe_tokens_tokenizer_label(&train, tok_label, sizeof tok_label);
    const char *meta[] = {"floe.corpus", corpus ? corpus : "fortunes", "floe.tokenizer", tok_label};
    floe_run_opts o = {out, (int)stop_after, (int)ckpt_every, (int)eval_every, dump, meta, 2, on_step, &pc};
    char last[4200] = "";
    if (floe_train_run(&tr, &train, &val, &o, last, sizeof last, &err) != 0) {
        floe_cmd_fail("train", "%s", err.msg);
        goto out;
    }
    if (last[0])
        printf("checkpoint %s\n", last);
    if (dump)
        printf("dumped step %d to %s\n", start, dump);
    rc = 0;
out:
    floe_trainer_free(&tr);
out_tokens:
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
