/* `floe qat`: SiLQ quantization-aware training from an FP teacher (docs/trainer.md). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/qat_args.h"
#include "models/safetensors.h"
#include "common/path.h"
#include "cli/qat_weight_only.h"
#include "trainer/efficientqat.h"
#include "trainer/log_plot.h"
#include "trainer/run_log.h"
#include "trainer/qat_run.h"
#include "verify/qat_verify.h"

typedef struct {
    int total;
} progress_ctx;

static void on_step(void *vctx, const floe_qat_stats *st, const floe_eval_result *val, double tps)
{
    const progress_ctx *c = vctx;
    printf("step %d/%d  loss %.4f  kl %.4f  ce %.4f  lr %.2e  grad_norm %.3f  %.0f tok/s", st->step, c->total,
           st->loss, st->kl, st->ce, (double)st->lr, st->grad_norm, tps);
    if (st->verify.done)
        printf("  chip: verified, %.2f us/token, %.1f uJ/token", 1e6 * st->verify.latency_s_per_token,
               1e6 * st->verify.energy_j_per_token);
    if (val)
        printf("  val_loss %.4f  val_ppl %.4f", val->loss, val->ppl);
    putchar('\n');
    fflush(stdout);
}

int floe_cmd_qat(int argc, char **argv)
{
    const char *method = "silq", *teacher = NULL, *corpus = NULL, *out = "floe-qat", *resume = NULL;
    long long steps = -1, batch = -1, accum = -1, context = -1, warmup = -1, seed = -1, threads = 0, ckpt_every = 0;
    long long eval_every = 0, eval_windows = 0, stop_after = 0, verify_every = 1, verify_tokens = 8;
    const char *machine = NULL, *energy = NULL;
    double lr = -1, lr_steps = -1, clip = -1, tau = -1, alpha = -1;
    /* EfficientQAT */
    long long bap_samples = -1, bap_epochs = -1, bap_batch = -1, bap_context = -1, group = -1;
    double bap_lr = -1, bap_lr_w = -1;
    int weight_only = 0, sym = 0, asym = 0;
    floe_qat_bits_opts bits = FLOE_QAT_BITS_DEFAULTS;
    floe_qinit_opts init = FLOE_QINIT_OPTS_DEFAULTS;
    const floe_opt opts[] = {
        {"method", FLOE_ARG_STRING, &method, "NAME",
         "silq (default: weights and steps, distillation) or efficientqat (Block-AP, then E2E-QP: steps only)", 0, 0,
         0},
        {"teacher", FLOE_ARG_STRING, &teacher, "CKPT",
         "the FP teacher checkpoint or Hugging Face model folder (required)", 0, 0, 't'},
        FLOE_QAT_BITS_OPTS(bits),
        FLOE_QINIT_OPTS(init),
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "training data (default: the teacher's corpus)", 0, 0, 0},
        {"steps", FLOE_ARG_INT, &steps, "N", "QAT steps (default 100)", 1, 1e9, 0},
        {"batch", FLOE_ARG_INT, &batch, "B", "sequences per micro-batch (default 8)", 1, 65536, 'b'},
        {"grad-accum", FLOE_ARG_INT, &accum, "N", "micro-batches summed into one step (default 1)", 1, 65536, 0},
        {"context", FLOE_ARG_INT, &context, "T", "tokens per sequence (default: the model's context)", 1, 1 << 22, 0},
        {"lr", FLOE_ARG_DOUBLE, &lr, "X", "weights' peak learning rate (default 3e-4)", 0, 10, 0},
        {"lr-steps", FLOE_ARG_DOUBLE, &lr_steps, "X", "step sizes' peak learning rate on ln(step) (default 3e-2)", 0,
         10, 0},
        {"warmup", FLOE_ARG_INT, &warmup, "N", "linear warmup steps (default 10)", 0, 1e9, 0},
        {"clip", FLOE_ARG_DOUBLE, &clip, "X", "global gradient-norm limit, 0 for none (default 1)", 0, 1e9, 0},
        {"tau", FLOE_ARG_DOUBLE, &tau, "X", "distillation temperature (default 1)", 1e-3, 1e3, 0},
        {"alpha", FLOE_ARG_DOUBLE, &alpha, "X", "cross-entropy share of the loss, 0..1 (default 0.5)", 0, 1, 0},
        {"seed", FLOE_ARG_INT, &seed, "N", "batch sampling (default 1)", 0, 9.007e15, 0},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {"out", FLOE_ARG_STRING, &out, "DIR", "qat.csv, checkpoints, qmodel.safetensors (default floe-qat)", 0, 0, 'o'},
        {"ckpt-every", FLOE_ARG_INT, &ckpt_every, "N", "checkpoint every N steps, 0: only at the end", 0, 1e9, 0},
        {"eval-every", FLOE_ARG_INT, &eval_every, "N", "integer-forward validation every N steps (0: at the end)", 0,
         1e9, 0},
        {"eval-windows", FLOE_ARG_INT, &eval_windows, "N", "validation windows per evaluation (0: all)", 0, 1e12, 0},
        {"machine", FLOE_ARG_STRING, &machine, "CSV",
         "verify steps on this machine: compile, simulate, compare bit for bit with the training forward", 0, 0, 'm'},
        {"energy", FLOE_ARG_STRING, &energy, "CSV", "energy table, for energy per token in the log", 0, 0, 0},
        {"verify-every", FLOE_ARG_INT, &verify_every, "N", "with --machine: verify every N-th step (default 1)", 1, 1e9,
         0},
        {"verify-tokens", FLOE_ARG_INT, &verify_tokens, "K", "with --machine: tokens per verification (default 8)", 1,
         1 << 20, 0},
        {"resume", FLOE_ARG_STRING, &resume, "CKPT",
         "continue a run from its qat-<step>.safetensors (weight-only: e2eqp-<step>.safetensors)", 0, 0, 0},
        {"block-samples", FLOE_ARG_INT, &bap_samples, "N", "efficientqat: Block-AP calibration sequences (default 128)",
         1, 1e7, 0},
        {"block-epochs", FLOE_ARG_INT, &bap_epochs, "N", "efficientqat: Block-AP passes per block (default 2)", 1, 1e4,
         0},
        {"block-batch", FLOE_ARG_INT, &bap_batch, "B", "efficientqat: Block-AP sequences per step (default 2)", 1,
         65536, 0},
        {"block-context", FLOE_ARG_INT, &bap_context, "T",
         "efficientqat: Block-AP tokens per sequence (default: the "
         "run's context)",
         1, 1 << 22, 0},
        {"block-lr", FLOE_ARG_DOUBLE, &bap_lr, "X", "efficientqat: Block-AP learning rate of steps and zero points", 0,
         10, 0},
        {"block-lr-w", FLOE_ARG_DOUBLE, &bap_lr_w, "X", "efficientqat: Block-AP learning rate of the weights", 0, 10,
         0},
        {"weight-only", FLOE_ARG_FLAG, &weight_only, NULL,
         "efficientqat: the paper's setting, activations float (a study: not a chip model)", 0, 0, 0},
        {"group", FLOE_ARG_INT, &group, "G",
         "--weight-only: columns per weight group, 0 per output channel (default "
         "128, 64 at 2 bits)",
         0, 1 << 20, 0},
        {"sym", FLOE_ARG_FLAG, &sym, NULL, "--weight-only: symmetric codes (default: asymmetric, as EfficientQAT)", 0,
         0, 0},
        {"asym", FLOE_ARG_FLAG, &asym, NULL,
         "--weight-only: asymmetric codes with a zero point (the default; as in floe "
         "ptq)",
         0, 0, 0},
        {"stop-after", FLOE_ARG_INT, &stop_after, "N", "stop (with a checkpoint) once N steps are done", 0, 1e9, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "qat", NULL, "Quantization-aware training (SiLQ: LSQ + STE, knowledge distillation, integer-exact forward).",
        "Initialises the student from the teacher (--init calib: MSE weight steps, percentile activation\n"
        "steps; rtn: absmax), then trains it. Prints a line per step; writes DIR/qat.csv, DIR/qat-<step>.\n"
        "safetensors (resumable, bit-identical) and DIR/qmodel.safetensors (the quantized model, as\n"
        "`floe export` writes it).",
        opts, 0, 0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    floe_err err;
    floe_qat_method qm;
    if (floe_qat_method_parse(method, &qm) != 0)
        return floe_cmd_fail("qat", "--method %s: supported are silq and efficientqat", method);
    if (threads > 0)
        omp_set_num_threads((int)threads);
    if (resume && !weight_only && floe_eqat_wonly_is_state(resume)) /* a weight-only run's state resumes that run */
        weight_only = 1, qm = FLOE_QAT_EFFICIENTQAT;
    if ((weight_only || group >= 0 || sym || asym) && qm != FLOE_QAT_EFFICIENTQAT)
        return floe_cmd_fail("qat", "--weight-only, --group, --sym and --asym belong to --method efficientqat");
    if ((group >= 0 || sym || asym) && !weight_only)
        return floe_cmd_fail("qat", "--group, --sym and --asym need --weight-only: the chip runs symmetric codes with "
                                    "one step per output channel (docs/quantized-model.md)");
    if (sym && asym)
        return floe_cmd_fail("qat", "--sym and --asym exclude each other");
    floe_blockap_cfg bap = floe_blockap_defaults((int)bits.wbits);
    if (bap_samples > 0) bap.samples = (int)bap_samples;
    if (bap_epochs > 0) bap.epochs = (int)bap_epochs;
    if (bap_batch > 0) bap.batch = (int)bap_batch;
    if (bap_context > 0) bap.context = (int)bap_context;
    if (bap_lr >= 0) bap.lr_qparams = (float)bap_lr;
    if (bap_lr_w >= 0) bap.lr_weights = (float)bap_lr_w;
    if (weight_only) {
        if (machine)
            return floe_cmd_fail("qat", "--weight-only models keep float activations and do not run on the chip: "
                                        "drop --machine, or drop --weight-only to train the chip's format");
        if (bits.wbits < 2 || bits.wbits > 8)
            return floe_cmd_fail("qat", "--wbits %lld: weight-only studies take 2 to 8 bits", bits.wbits);
        if (bits.wbits_layer)
            return floe_cmd_fail("qat", "--wbits-layer is for the chip's format: weight-only studies quantize every "
                                        "layer at --wbits");
        if (group >= 0) bap.group = (int)group;
        bap.asym = !sym;
        floe_qat_wonly_args wa = {teacher, corpus, out, resume, bap, floe_e2eqp_defaults((int)bits.wbits),
                                  (int)stop_after, (int)ckpt_every, steps > 0 ? (int)steps : 0};
        if (steps > 0) wa.e2e.steps = (int)steps;
        if (batch > 0) wa.e2e.batch = (int)batch;
        if (context > 0) wa.e2e.context = (int)context;
        if (lr >= 0) wa.e2e.lr = (float)lr, wa.e2e.min_lr = (float)lr / 20.0f;
        if (warmup >= 0) wa.e2e.warmup = (int)warmup;
        if (clip >= 0) wa.e2e.clip = (float)clip;
        if (seed >= 0) wa.e2e.seed = (uint64_t)seed;
        return floe_qat_weight_only(&wa);
    }
    floe_qconfig qc;
    floe_qat_cfg cfg;
    char teacher_buf[4096];
    int start = 0;
    if (resume) {
        if (floe_qat_ckpt_info(resume, teacher_buf, sizeof teacher_buf, &qc, &cfg, &start, &err) != 0)
            return floe_cmd_fail("qat", "%s", err.msg);
        if (!teacher)
            teacher = teacher_buf;
    } else if (!teacher)
        return floe_cmd_fail("qat", "--teacher CKPT is required (an FP checkpoint from floe train)");
    /* the teacher's config and corpus from its metadata */
    char corpus_buf[1024] = "";
    floe_model_config mc;
    if (floe_teacher_info(teacher, &mc, corpus_buf, sizeof corpus_buf, &err) != 0)
        return floe_cmd_fail("qat", "%s", err.msg);
    if (resume) {
        if (steps > 0)
            cfg.steps = (int)steps;
        if (accum > 0 && accum != cfg.accum)
            return floe_cmd_fail("qat", "%s: --grad-accum %lld, but the run was started with %d", resume, accum,
                                 cfg.accum);
    } else {
        if (floe_qat_bits_resolve(&bits, &qc, "qat") != 0 || floe_qinit_opts_resolve(&init, &cfg.init, "qat") != 0)
            return 2;
        floe_qinit_cfg ic = cfg.init;
        cfg = floe_qat_defaults(&mc);
        cfg.init = ic;
        cfg.method = qm;
        if (qm == FLOE_QAT_EFFICIENTQAT) {
            cfg.alpha = 1.0f;    /* E2E-QP's loss: the ordinary next-token cross-entropy */
            cfg.lr = 0.0f;       /* the weights are frozen */
            cfg.lr_steps = 1e-2f;
        }
        if (steps > 0) cfg.steps = (int)steps;
        if (batch > 0) cfg.batch = (int)batch;
        if (accum > 0)
            cfg.accum = (int)accum;
        if (context > 0) cfg.context = (int)context;
        if (lr >= 0) cfg.lr = (float)lr;
        if (lr_steps >= 0) cfg.lr_steps = (float)lr_steps;
        if (warmup >= 0) cfg.warmup = (int)warmup;
        if (clip >= 0) cfg.clip = (float)clip;
        if (tau > 0) cfg.tau = (float)tau;
        if (alpha >= 0) cfg.alpha = (float)alpha;
        if (seed >= 0) cfg.seed = (uint64_t)seed;
    }
    if (!corpus && corpus_buf[0])
        corpus = corpus_buf;
    if (floe_qconfig_check_layers(&qc, mc.n_layers, mc.name, resume ? resume : "--wbits-layer", &err) != 0)
        return floe_cmd_fail("qat", "%s", err.msg);
    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, &err) != 0)
        return floe_cmd_fail("qat", "%s", err.msg);
    if (floe_tokens_check_vocab(&train, mc.vocab_size, &err) != 0 ||
        floe_ckpt_check_tokenizer(teacher, &train, &err) != 0) {
        floe_tokens_free(&train);
        floe_tokens_free(&val);
        return floe_cmd_fail("qat", "%s: %s", corpus, err.msg);
    }
    floe_machine mach;
    floe_energy_table etab;
    if (machine && (rc = floe_cli_load_machine("qat", machine, energy, &mach, &etab)) >= 0) {
        floe_tokens_free(&train);
        floe_tokens_free(&val);
        return rc;
    }
    char dump[4300];
    if (floe_path_join(dump, sizeof dump, out, "verify-mismatch.csv") != 0)
        dump[0] = '\0';
    floe_qat_chip chip = {machine ? &mach : NULL, energy ? &etab : NULL, dump[0] ? dump : NULL};
    floe_qat_trainer tr;
    rc = 1;
    char lw[8192];
    if (floe_qconfig_format_layer_wbits(&qc, lw, sizeof lw) != 0)
        lw[0] = '\0';
    printf("teacher %s (%s); W%dA%dKV%d, head W%d%s%.0d%s%s; corpus %s\n", teacher, mc.name, qc.wbits, qc.abits,
           qc.kvbits, qc.head_bits, qc.act_scaling == FLOE_ACT_PER_TOKEN ? ", per-token inputs K " : "", qc.act_kmax,
           lw[0] ? ", layer weight bits " : "", lw, corpus ? corpus : "fortunes");
    fflush(stdout);
    if (floe_qat_trainer_init(&tr, teacher, &qc, &cfg, &train, &err) != 0) {
        floe_cmd_fail("qat", "%s", err.msg);
        goto out_tokens;
    }
    if (resume && floe_qat_load(&tr, resume, &err) != 0) {
        floe_cmd_fail("qat", "%s", err.msg);
        goto out;
    }
    if (cfg.method == FLOE_QAT_EFFICIENTQAT && !tr.s.frozen) {
        /* phase 1; a resumed run has its frozen codes in the checkpoint */
        floe_blockap_log blog = {NULL, 0, 0, 1};
        char bpath[4300];
        double t0 = floe_now_s();
        printf("[1/2] Block-AP at W%d per output channel (the chip's quantizer): %d calibration sequences, %d epochs, "
               "batch %d, lr %g (steps) and %g (weights)\n",
               qc.wbits, bap.samples, bap.epochs, bap.batch, (double)bap.lr_qparams, (double)bap.lr_weights);
        fflush(stdout);
        int bad = floe_efficientqat_block_ap(&tr, &train, &bap, floe_blockap_log_cb, &blog, &err) != 0 ||
                  floe_mkdir_p(out, &err) != 0 || floe_path_join(bpath, sizeof bpath, out, "blockap.csv") != 0 ||
                  floe_blockap_log_write(&blog, bpath, &err) != 0;
        floe_blockap_log_free(&blog);
        if (bad) {
            floe_cmd_fail("qat", "Block-AP: %s", err.msg);
            goto out;
        }
        printf("Block-AP: %.1f s, per-block report %s; [2/2] E2E-QP: codes frozen, steps trained end to end\n",
               floe_now_s() - t0, bpath);
    }
    if (machine) {
        tr.verify = floe_qat_verify_chip;
        tr.verify_ctx = &chip;
        tr.verify_every = (int)verify_every;
        tr.verify_tokens = (int)verify_tokens;
        printf("verifying every %d step(s) on %s: %d tokens compiled, simulated and compared bit for bit\n",
               tr.verify_every, machine, tr.verify_tokens);
    }
    printf(
        "steps %d (from %d), batch %d x context %d x accum %d, lr %g (steps %g), warmup %d, clip %g, tau %g, alpha %g, "
        "%d threads\n",
        cfg.steps, start, cfg.batch, cfg.context, cfg.accum, (double)cfg.lr, (double)cfg.lr_steps, cfg.warmup,
        (double)cfg.clip, (double)cfg.tau, (double)cfg.alpha, omp_get_max_threads());
    fflush(stdout);
    progress_ctx pc = {cfg.steps};
    const char *meta[] = {"floe.corpus", corpus ? corpus : "fortunes"};
    floe_qat_run_opts o = {out, (int)stop_after, (int)ckpt_every, (int)eval_every, (size_t)eval_windows,
                           meta, 1, on_step, &pc};
    if (floe_qat_run(&tr, &train, &val, &o, &err) != 0) {
        floe_cmd_fail("qat", "%s", err.msg);
        goto out;
    }
    char csv[4300], png[4300];
    if (floe_path_join(csv, sizeof csv, out, "qat.csv") != 0 || floe_path_join(png, sizeof png, out, "qat.png") != 0 ||
        floe_plot_qat_log(csv, png, &err) != 0) {
        floe_cmd_fail("qat", "%s", err.msg);
        goto out;
    }
    printf("quantized model %s/qmodel.safetensors; log %s, plot %s\n", out, csv, png);
    rc = 0;
out:
    floe_qat_trainer_free(&tr);
out_tokens:
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
