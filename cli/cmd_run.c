/* `floe run`: Floe's main job on built-in defaults, writing everything to one output folder.
 *
 *   [1] the numeric core's self-check (every integer operation against double precision);
 *   [2] an FP teacher trained on the corpus (config S, fortunes, 3000 steps: about 8 minutes on
 *       2 cores), its checkpoint, training log and loss curves;
 *   [3] SiLQ QAT of the teacher at W4A8KV8 (100 steps), every step's model compiled, simulated and
 *       compared bit for bit with the training forward on the machine, its cost logged per step;
 *   [4] the QAT model deployed: verified on a longer prompt, then floe deploy-check (fit, chips,
 *       memory per core, decode latency, many users served, energy per token);
 *   [5] its cost on the chip: per-core and per-layer profiles, a timeline, plots.
 * With --train-steps 0, [2] and [3] are skipped and [4], [5] use a random-weights model. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/numerics_plot.h"
#include "cli/qat_args.h"
#include "common/atomic_file.h"
#include "common/path.h"
#include "isa/numerics_check.h"
#include "isa/numerics_report.h"
#include "compiler/compile.h"
#include "sim/profile_plot.h"
#include "sim/report.h"
#include "models/qmodel_io.h"
#include "common/gnuplot.h"
#include "trainer/log_plot.h"
#include "trainer/qat_run.h"
#include "verify/qat_verify.h"
#include "trainer/qeval.h"
#include "trainer/train.h"
#include "verify/deploy_check.h"
#include "verify/verify.h"

static const char *join(char *buf, size_t n, const char *dir, const char *name)
{
    return floe_path_join(buf, n, dir, name) == 0 ? buf : "";
}

/* Stage 3: the compiled model's run with profiles and a trace (inputs: the embedded prompt). */
static int profile_run(const floe_qmodel *m, const floe_machine *mach, const floe_energy_table *e, const int32_t *tok,
                       int T, const char *out, FILE *summary, floe_err *err)
{
    floe_compile_opts o = {.tokens = T};
    floe_program *p;
    floe_compile_report rep;
    if (floe_compile_prefill(m, mach, &o, &p, &rep, err) != 0)
        return -1;
    floe_sim *s = NULL;
    int rc = -1;
    char a[4200], b[4200], c[4200];
    if (floe_sim_new(&s, mach, e, err) != 0 || floe_sim_load(s, p, err) != 0)
        goto done;
    const floe_symbol *xs = floe_program_symbol(p, rep.in_x, rep.in_y, "x", 1);
    int d = m->cfg.d_model;
    int16_t *emb = malloc(sizeof(int16_t) * (size_t)T * d);
    if (!emb || !xs) {
        free(emb);
        floe_err_set(err, "out of memory");
        goto done;
    }
    for (int t = 0; t < T; t++)
        memcpy(emb + (size_t)t * d, m->embed + (size_t)tok[t] * d, sizeof(int16_t) * d);
    rc = floe_memory_write(floe_sim_memory(s, rep.in_x, rep.in_y), xs->value, emb, sizeof(int16_t) * (size_t)T * d, err);
    free(emb);
    if (rc != 0)
        goto done;
    floe_sim_options so = {1, join(a, sizeof a, out, "chip_timeline.json"), 200000, 0};
    rc = -1;
    if (floe_sim_run(s, &so, err) != 0 || floe_sim_write_core_csv(s, join(b, sizeof b, out, "chip_cores.csv"), err) != 0 ||
        floe_sim_write_region_csv(s, join(c, sizeof c, out, "chip_layers.csv"), err) != 0)
        goto done;
    floe_sim_print_summary(s, stdout);
    floe_sim_print_summary(s, summary);
    if (floe_gnuplot_optional(floe_plot_regions(c, join(a, sizeof a, out, "chip_layers.png"), err), err) != 0 ||
        floe_gnuplot_optional(floe_plot_core_heatmap(b, join(a, sizeof a, out, "chip_cores_vmm.png"), "vmm", err),
                              err) != 0)
        goto done;
    rc = 0;
done:
    floe_sim_free(s);
    floe_program_free(p);
    floe_compile_report_free(&rep);
    return rc;
}

typedef struct train_progress {
    int steps;
} train_progress;

static void train_step(void *ctx, const floe_step_stats *st, double val_loss, double tps)
{
    const train_progress *tp = ctx;
    if (st->step % 100 == 0 || st->step == tp->steps || val_loss == val_loss) {
        printf("  step %d/%d  loss %.4f  %.0f tok/s", st->step, tp->steps, (double)st->loss, tps);
        if (val_loss == val_loss) /* evaluated at this step */
            printf("  val_loss %.4f", val_loss);
        printf("\n");
        fflush(stdout);
    }
}

/* Stage [2]: the FP teacher. */
static int train_teacher(const char *model, const char *corpus, int steps, const char *out, FILE *sum, char *ckpt,
                         size_t ckpt_n, floe_err *err)
{
    floe_model_config mc;
    floe_tokens train, val;
    if (floe_model_config_load(model, &mc, err) != 0 || floe_train_data(corpus, &train, &val, err) != 0)
        return -1;
    if (floe_tokens_check_vocab(&train, mc.vocab_size, err) != 0) {
        floe_tokens_free(&train);
        floe_tokens_free(&val);
        return -1;
    }
    floe_train_cfg cfg = floe_train_defaults(&mc);
    cfg.steps = steps;
    if (cfg.warmup > steps / 10)
        cfg.warmup = steps / 10;
    floe_trainer tr;
    int rc = -1;
    char dir[4200], last[4200] = "", csv[4300], png[4300];
    if (floe_trainer_init(&tr, &mc, &cfg, err) != 0)
        goto out_tokens;
    join(dir, sizeof dir, out, "teacher");
    train_progress tp = {steps};
    char tok_label[40];
    floe_tokens_tokenizer_label(&train, tok_label, sizeof tok_label);
    const char *meta[] = {"floe.corpus", corpus ? corpus : "fortunes", "floe.tokenizer", tok_label};
    floe_run_opts o = {dir, 0, 0, steps >= 6 ? steps / 6 : 0, NULL, meta, 2, train_step, &tp, 0};
    if (floe_train_run(&tr, &train, &val, &o, last, sizeof last, err) != 0)
        goto out;
    join(csv, sizeof csv, dir, "train.csv");
    if (floe_gnuplot_optional(floe_plot_train_log(csv, join(png, sizeof png, out, "train_loss.png"), err), err) != 0)
        goto out;
    printf("teacher: %s; log %s\n", last, csv);
    snprintf(ckpt, ckpt_n, "%s", last);
    fprintf(sum, "\n[2] FP teacher: config %s, corpus %s, %d steps: checkpoint %s (losses in %s)\n", mc.name,
            corpus ? corpus : "fortunes", steps, last, csv);
    rc = 0;
out:
    floe_trainer_free(&tr);
out_tokens:
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}

/* Stage [4]'s deployability report: `floe deploy-check` on the QAT model, its output kept in
 * OUT/deploy_check.txt (stdout is pointed at the file, written atomically, for the call), then shown
 * and summarised. */
/* [4] the deployment check of the QAT model with `floe deploy-check`'s defaults (verify/deploy_check.h):
 * its report on stdout, in the summary and in DIR/deploy_check.txt. */
static int deploy_check(const char *qpath, const floe_machine *mach, const floe_energy_table *e, const char *machine,
                        const char *out, FILE *sum, floe_err *err)
{
    floe_qmodel m;
    if (floe_qmodel_load(&m, qpath, err) != 0)
        return -1;
    floe_model_config cf = m.cfg;
    floe_qconfig q = m.q;
    floe_qmodel_free(&m);
    floe_deploy_check_opts o = floe_deploy_check_defaults();
    o.qmodel = qpath;
    floe_deploy_report rep;
    int rc = floe_deploy_check(&cf, &q, mach, e, &o, &rep, err);
    if (rc == 0 && !rep.fits)
        rc = floe_err_set(err, "deploy-check of %s: it does not fit: %s", qpath, rep.unfit);
    char path[4300];
    join(path, sizeof path, out, "deploy_check.txt");
    floe_afile af;
    floe_err werr;
    if (floe_afile_open(&af, path, &werr) != 0)
        return rc != 0 ? -1 : floe_err_set(err, "%s", werr.msg);
    FILE *outs[3] = {af.fp, stdout, sum};
    fprintf(sum, "\n[4] deploy-check (%s)\n", path);
    for (int i = 0; i < 3; i++) {
        floe_deploy_header_print(outs[i], &cf, &q, mach, machine);
        floe_deploy_report_print(outs[i], &rep, &cf, mach, &o);
    }
    if (floe_afile_commit(&af, &werr) != 0 && rc == 0)
        return floe_err_set(err, "%s", werr.msg);
    return rc;
}

typedef struct qat_progress {
    int steps, verified;
    double sim_us, sim_uj;
} qat_progress;

static void qat_step(void *ctx, const floe_qat_stats *st, const floe_eval_result *val, double tps)
{
    qat_progress *q = ctx;
    q->verified += st->verify.done;
    q->sim_us = 1e6 * st->verify.latency_s_per_token;
    q->sim_uj = 1e6 * st->verify.energy_j_per_token;
    if (st->step % 10 == 0 || st->step == q->steps || val) {
        printf("  step %d/%d  kl %.4f  %.0f tok/s  verified on the chip: %d/%d steps bit-exact  %.2f us/token  "
               "%.1f uJ/token", st->step, q->steps, st->kl, tps, q->verified, st->step, q->sim_us, q->sim_uj);
        if (val)
            printf("  val_ppl %.3f", val->ppl);
        printf("\n");
        fflush(stdout);
    }
}

/* Stage [3]: SiLQ QAT of the teacher with every step verified on the machine. Writes OUT/qat/. */
static int qat_teacher(const char *teacher, const char *corpus, int steps, const floe_qconfig *qcp,
                       const floe_machine *mach, const floe_energy_table *e, const char *out, FILE *sum, FILE *csv,
                       char *qpath, size_t qn, floe_err *err)
{
    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, err) != 0)
        return -1;
    floe_model_config mc;
    int rc = -1;
    floe_qat_trainer tr;
    int have = 0;
    char dir[4200], log[4300], png[4300];
    floe_train_cfg tcfg;
    int tsteps;
    if (floe_ckpt_read_cfg(teacher, &mc, &tcfg, &tsteps, err) != 0 ||
        floe_tokens_check_vocab(&train, mc.vocab_size, err) != 0)
        goto out;
    floe_qconfig qc = *qcp;
    char label[256];
    floe_qconfig_label(&qc, label, sizeof label);
    floe_qat_cfg cfg = floe_qat_defaults(&mc);
    cfg.steps = steps;
    double ratio = (double)steps * cfg.batch * cfg.context / ((double)tsteps * tcfg.batch * tcfg.context * tcfg.accum);
    if (floe_qat_trainer_init(&tr, teacher, &qc, &cfg, &train, err) != 0)
        goto out;
    have = 1;
    char dump[4300];
    floe_qat_chip chip = {mach, e, join(dump, sizeof dump, out, "verify-mismatch.csv")};
    tr.verify = floe_qat_verify_chip;
    tr.verify_ctx = &chip;
    tr.verify_every = 1;
    tr.verify_tokens = 8;
    join(dir, sizeof dir, out, "qat");
    qat_progress qp = {steps, 0, 0, 0};
    const char *meta[] = {"floe.corpus", corpus ? corpus : "fortunes"};
    floe_qat_run_opts o = {dir, 0, 0, steps >= 2 ? steps / 2 : 0, 0, meta, 1, qat_step, &qp};
    if (floe_qat_run(&tr, &train, &val, &o, err) != 0)
        goto out;
    join(log, sizeof log, dir, "qat.csv");
    if (floe_gnuplot_optional(floe_plot_qat_log(log, join(png, sizeof png, out, "qat_loss.png"), err), err) != 0)
        goto out;
    join(qpath, qn, dir, "qmodel.safetensors");
    /* the teacher and the student on the whole validation split */
    floe_eval_result rt, rs;
    floe_qfwd f;
    if (floe_model_evaluate(&tr.teacher, &val, cfg.context, &rt, err) != 0 ||
        floe_qfwd_init(&f, &mc, cfg.batch, cfg.context, err) != 0)
        goto out;
    int erc = floe_qmodel_evaluate(&f, &tr.s.qm, &val, 0, &rs, err);
    floe_qfwd_free(&f);
    if (erc != 0)
        goto out;
    printf("QAT: %d steps, every one verified bit-exact on the chip; validation perplexity teacher %.3f, "
           "%s student %.3f (%+.2f%%)\n", steps, rt.ppl, label, rs.ppl, 100.0 * (rs.ppl / rt.ppl - 1.0));
    fprintf(sum, "\n[3] SiLQ QAT %s: %d steps (%.1f%% of the teacher's tokens), %d/%d steps verified bit-exact on "
                 "the chip (%d tokens each)\n    validation perplexity: teacher %.3f, student %.3f (%+.2f%%); "
                 "model %s, log %s\n",
            label, steps, 100.0 * ratio, qp.verified, steps, tr.verify_tokens, rt.ppl, rs.ppl, 100.0 * (rs.ppl / rt.ppl - 1.0), qpath,
            log);
    fprintf(csv, "teacher_val_ppl,%.4f\nstudent_val_ppl,%.4f\nqat_steps,%d\nqat_token_ratio,%.4f\nqat_steps_verified,%d\n",
            rt.ppl, rs.ppl, steps, ratio, qp.verified);
    rc = 0;
out:
    if (have)
        floe_qat_trainer_free(&tr);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}

int floe_cmd_run(int argc, char **argv)
{
    const char *out = "floe-out", *machine = FLOE_CONFIG_DIR "/northpole.csv",
               *energy = FLOE_CONFIG_DIR "/energy-northpole.csv", *model = "S", *corpus = NULL;
    long long train_steps = 3000, qat_steps = 100;
    floe_qat_bits_opts bits = FLOE_QAT_BITS_DEFAULTS;
    const floe_opt opts[] = {
        {"out", FLOE_ARG_STRING, &out, "DIR", "output folder (default: floe-out)", 0, 0, 'o'},
        {"machine", FLOE_ARG_STRING, &machine, "CSV", "machine description (default: configs/northpole.csv)", 0, 0, 0},
        {"energy", FLOE_ARG_STRING, &energy, "CSV", "energy table (default: configs/energy-northpole.csv)", 0, 0, 0},
        {"model", FLOE_ARG_STRING, &model, "NAME", "model config (default: S)", 0, 0, 0},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "training corpus (default: fortunes; generated[:N[:SEED]] for tests)", 0, 0, 0},
        {"train-steps", FLOE_ARG_INT, &train_steps, "N", "teacher training steps (default 3000; 0 skips training and QAT)", 0, 1e9, 0},
        {"qat-steps", FLOE_ARG_INT, &qat_steps, "N", "SiLQ QAT steps, each verified on the chip (default 100)", 1, 1e9, 0},
        FLOE_QAT_BITS_OPTS(bits),
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"run", NULL, "Run Floe's main job on built-in defaults.",
                                "[1] numeric core self-check; [2] an FP teacher trained on the corpus (about 8 minutes for\n"
                                "S on 2 cores); [3] SiLQ QAT (W4A8KV8 unless --wbits etc.), every step verified bit for bit on the simulated\n"
                                "chip and priced; [4] the quantized model deployed and deploy-checked: fit, chips, memory,\n"
                                "decode latency, many users served (tokens/s, inter-token latency), energy;\n"
                                "[5] its cost on the chip: profiles, timeline, plots.\n"
                                "Outputs in DIR: summary.txt, summary.csv, numerics_accuracy.csv, numerics_*.png, teacher/\n"
                                "(checkpoint, train.csv), train_loss.png, qat/ (qat.csv, qmodel.safetensors), qat_loss.png,\n"
                                "deploy_check.txt,\n"
                                "chip_cores.csv, chip_layers.csv, chip_layers.png, chip_cores_vmm.png, chip_timeline.json.",
                                opts, 0, 0};
    char *pos[1];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    floe_qconfig qc;
    if (floe_qat_bits_resolve(&bits, &qc, "run") != 0)
        return 2;
    char label[256];
    floe_qconfig_label(&qc, label, sizeof label);

    floe_err err;
    if (floe_mkdir_p(out, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    char path[4200];
    floe_afile af;
    if (floe_afile_open(&af, join(path, sizeof path, out, "summary.txt"), &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    FILE *sum = af.fp;
    fprintf(sum, "Floe main job summary\n");
#define FAIL(...)                                                                                        \
    do {                                                                                                 \
        floe_afile_abort(&af);                                                                           \
        return floe_cmd_fail("run", __VA_ARGS__);                                                        \
    } while (0)

    printf("[1/5] numeric core: accuracy of every integer operation against double precision\n");
    fflush(stdout);
    floe_accuracy_row rows[FLOE_ACCURACY_ROWS];
    floe_numerics_accuracy(rows);
    int bad = floe_accuracy_print(stdout, rows, FLOE_ACCURACY_ROWS);
    uint64_t digest = floe_numerics_digest();
    printf("numerics digest: %016" PRIx64 "\n", digest);
    fprintf(sum, "\n[1] numeric core\n");
    floe_accuracy_print(sum, rows, FLOE_ACCURACY_ROWS);
    fprintf(sum, "digest %016" PRIx64 "\n", digest);
    if (floe_accuracy_write_csv(join(path, sizeof path, out, "numerics_accuracy.csv"), rows, FLOE_ACCURACY_ROWS,
                                &err) != 0 ||
        floe_gnuplot_optional(floe_numerics_plot(out, &err), &err) != 0)
        FAIL("%s", err.msg);
    if (bad)
        FAIL("%d numeric operation(s) exceed their documented error bound", bad);

    floe_machine mach;
    floe_energy_table e;
    floe_model_config cfg;
    if (floe_machine_load(machine, &mach, &err) != 0 || floe_energy_table_load(energy, &e, &err) != 0 ||
        floe_model_config_load(model, &cfg, &err) != 0 ||
        floe_qconfig_check_layers(&qc, cfg.n_layers, cfg.name, "--wbits-layer", &err) != 0)
        FAIL("%s", err.msg);
    floe_afile cf;
    if (floe_afile_open(&cf, join(path, sizeof path, out, "summary.csv"), &err) != 0)
        FAIL("%s", err.msg);
    fprintf(cf.fp, "key,value\nnumerics_digest,%016" PRIx64 "\n", digest);
#undef FAIL
#define FAIL(...)                                                                                        \
    do {                                                                                                 \
        floe_afile_abort(&af);                                                                           \
        floe_afile_abort(&cf);                                                                           \
        return floe_cmd_fail("run", __VA_ARGS__);                                                        \
    } while (0)
    floe_qmodel m;
    char teacher[4200] = "", qpath[4300] = "";
    if (train_steps > 0) {
        printf("\n[2/5] FP teacher: config %s trained for %lld steps on %s\n", model, train_steps,
               corpus ? corpus : "Debian's fortunes");
        fflush(stdout);
        if (train_teacher(model, corpus, (int)train_steps, out, sum, teacher, sizeof teacher, &err) != 0)
            FAIL("%s", err.msg);
        printf("\n[3/5] SiLQ QAT at %s for %lld steps; each step's model compiled for %s, simulated and\n"
               "      compared bit for bit with the training forward (8 tokens), its cost logged\n",
               label, qat_steps, machine);
        fflush(stdout);
        if (qat_teacher(teacher, corpus, (int)qat_steps, &qc, &mach, &e, out, sum, cf.fp, qpath, sizeof qpath, &err) != 0)
            FAIL("%s", err.msg);
        if (floe_qmodel_load(&m, qpath, &err) != 0)
            FAIL("%s", err.msg);
    } else {
        if (floe_qmodel_random(&m, &cfg, &qc, 1, &err) != 0)
            FAIL("%s", err.msg);
    }
    const char *prompt = "Floe: the model trained is the model deployed, bit for bit.";
    int T = (int)strlen(prompt) < cfg.context ? (int)strlen(prompt) : cfg.context;
    int32_t tok[128];
    if (T > 128)
        T = 128;
    for (int t = 0; t < T; t++)
        tok[t] = (unsigned char)prompt[t] % (unsigned)cfg.vocab_size;

    printf("\n[4/5] deployed: config %s (%s, %s) compiled for %s, %d tokens,\n"
           "      reference integer forward vs the simulated chip, every layer output and every logit\n",
           cfg.name, label, qpath[0] ? "the QAT model" : "random weights", machine, T);
    fflush(stdout);
    floe_verify_result vr;
    if (floe_verify_prefill(&m, &mach, &e, tok, T, &vr, &err) != 0) {
        floe_qmodel_free(&m);
        FAIL("%s", err.msg);
    }
    if (!vr.match) {
        fprintf(sum, "\n[4] verification FAILED: %s\n", vr.mismatch);
        floe_verify_result_free(&vr);
        floe_qmodel_free(&m);
        FAIL("verification failed: %s", vr.mismatch);
    }
    const floe_compile_report *cr = &vr.compile;
    double lat = vr.sim.seconds / T, ej = vr.sim.energy.total_j / T;
    printf("verified: %llu values bit-identical on %zu cores; memory per core %llu .. %llu bytes (mean %.0f);\n"
           "prefill %.2f us per token, %.2f uJ per token\n",
           (unsigned long long)vr.compared, cr->ncores, (unsigned long long)cr->mem_min, (unsigned long long)cr->mem_max,
           (double)cr->mem_total / (double)cr->ncores, 1e6 * lat, 1e6 * ej);
    fprintf(sum, "\n[4] deployed: config %s, %d tokens: %llu values bit-identical on %zu cores of %s; memory per core "
                 "min %llu, mean %.0f, max %llu bytes; %.2f us and %.2f uJ per token (prefill)\n",
            cfg.name, T, (unsigned long long)vr.compared, cr->ncores, machine, (unsigned long long)cr->mem_min,
            (double)cr->mem_total / (double)cr->ncores, (unsigned long long)cr->mem_max, 1e6 * lat, 1e6 * ej);
    fprintf(cf.fp, "verified_values,%llu\ncores,%zu\nmem_min_bytes,%llu\nmem_max_bytes,%llu\nlatency_us_per_token,%.4f\n"
                   "energy_uj_per_token,%.4f\n",
            (unsigned long long)vr.compared, cr->ncores, (unsigned long long)cr->mem_min,
            (unsigned long long)cr->mem_max, 1e6 * lat, 1e6 * ej);
    floe_verify_result_free(&vr);
    if (qpath[0] && deploy_check(qpath, &mach, &e, machine, out, sum, &err) != 0) {
        floe_qmodel_free(&m);
        FAIL("%s", err.msg);
    }

    printf("\n[5/5] its cost on the chip\n");
    fflush(stdout);
    fprintf(sum, "\n[5] chip profile\n");
    if (profile_run(&m, &mach, &e, tok, T, out, sum, &err) != 0) {
        floe_qmodel_free(&m);
        FAIL("%s", err.msg);
    }
    floe_qmodel_free(&m);
    fprintf(sum, "\nresult: ok\n");
    if (floe_afile_commit(&cf, &err) != 0 || floe_afile_commit(&af, &err) != 0)
        return floe_cmd_fail("run", "%s", err.msg);
    printf("\nresults in %s/: summary.txt, summary.csv, numerics_accuracy.csv, numerics_*.png, teacher/, train_loss.png,\n"
           "qat/, qat_loss.png, chip_cores.csv, chip_layers.csv, chip_layers.png, chip_cores_vmm.png, chip_timeline.json (ui.perfetto.dev)\n",
           out);
    return 0;
}
