/* `floe qat`: SiLQ quantization-aware training from an FP teacher (docs/trainer.md). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/qat_args.h"
#include "common/path.h"
#include "trainer/qat_job.h"
#include "verify/qat_verify.h"

int floe_cmd_qat(int argc, char **argv)
{
    const char *method = "silq", *teacher = NULL, *corpus = NULL, *out = "floe-qat", *resume = NULL;
    long long threads = 0, ckpt_every = 0, eval_every = 0, eval_windows = 0, stop_after = 0;
    long long verify_every = 1, verify_tokens = 8;
    const char *machine = NULL, *energy = NULL;
    floe_qat_settings set = FLOE_QAT_SETTINGS_UNSET;
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
        {"steps", FLOE_ARG_INT, &set.steps, "N", "QAT steps (default 100)", 1, 1e9, 0},
        {"batch", FLOE_ARG_INT, &set.batch, "B", "sequences per micro-batch (default 8)", 1, 65536, 'b'},
        {"grad-accum", FLOE_ARG_INT, &set.accum, "N", "micro-batches summed into one step (default 1)", 1, 65536, 0},
        {"moments", FLOE_ARG_STRING, &set.moments, "f32|bf16|q8",
         "the weights' AdamW moments as float, bfloat16 (half their memory) or 8 bits in scaled blocks (a quarter); "
         "default f32",
         0, 0, 0},
        {"context", FLOE_ARG_INT, &set.context, "T", "tokens per sequence (default: the model's context)", 1, 1 << 22,
         0},
        {"lr", FLOE_ARG_DOUBLE, &set.lr, "X", "weights' peak learning rate (default 3e-4)", 0, 10, 0},
        {"lr-steps", FLOE_ARG_DOUBLE, &set.lr_steps, "X", "step sizes' peak learning rate on ln(step) (default 3e-2)",
         0, 10, 0},
        {"warmup", FLOE_ARG_INT, &set.warmup, "N", "linear warmup steps (default 10)", 0, 1e9, 0},
        {"clip", FLOE_ARG_DOUBLE, &set.clip, "X", "global gradient-norm limit, 0 for none (default 1)", 0, 1e9, 0},
        {"tau", FLOE_ARG_DOUBLE, &set.tau, "X", "distillation temperature (default 1)", 1e-3, 1e3, 0},
        {"alpha", FLOE_ARG_DOUBLE, &set.alpha, "X", "cross-entropy share of the loss, 0..1 (default 0.5)", 0, 1, 0},
        {"seed", FLOE_ARG_INT, &set.seed, "N", "batch sampling (default 1)", 0, 9.007e15, 0},
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
    floe_qat_job j = {.teacher = teacher,
                      .corpus = corpus,
                      .out = out,
                      .resume = resume,
                      .set = set,
                      .stop_after = (int)stop_after,
                      .ckpt_every = (int)ckpt_every,
                      .eval_every = (int)eval_every,
                      .eval_windows = (size_t)eval_windows,
                      .log = stdout};
    if (floe_qat_method_parse(method, &j.method) != 0)
        return floe_cmd_fail("qat", "--method %s: supported are silq and efficientqat", method);
    if (threads > 0)
        omp_set_num_threads((int)threads);
    if (resume && !weight_only && floe_eqat_wonly_is_state(resume))
        weight_only = 1, j.method = FLOE_QAT_EFFICIENTQAT; /* a weight-only run's state file resumes that run */
    if ((weight_only || group >= 0 || sym || asym) && j.method != FLOE_QAT_EFFICIENTQAT)
        return floe_cmd_fail("qat", "--weight-only, --group, --sym and --asym belong to --method efficientqat");
    if ((group >= 0 || sym || asym) && !weight_only)
        return floe_cmd_fail("qat", "--group, --sym and --asym need --weight-only: the chip runs symmetric codes with "
                                    "one step per output channel (docs/quantized-model.md)");
    if (sym && asym)
        return floe_cmd_fail("qat", "--sym and --asym exclude each other");
    if (weight_only && set.moments)
        return floe_cmd_fail("qat",
                             "--moments: the weight-only study keeps no moments of the weights (it trains steps)");
    j.bap = floe_blockap_defaults((int)bits.wbits);
    if (bap_samples > 0)
        j.bap.samples = (int)bap_samples;
    if (bap_epochs > 0)
        j.bap.epochs = (int)bap_epochs;
    if (bap_batch > 0)
        j.bap.batch = (int)bap_batch;
    if (bap_context > 0)
        j.bap.context = (int)bap_context;
    if (bap_lr >= 0)
        j.bap.lr_qparams = (float)bap_lr;
    if (bap_lr_w >= 0)
        j.bap.lr_weights = (float)bap_lr_w;
    floe_err err;
    if (weight_only) {
        if (machine)
            return floe_cmd_fail("qat", "--weight-only models keep float activations and do not run on the chip: "
                                        "drop --machine, or drop --weight-only to train the chip's format");
        if (bits.wbits < 2 || bits.wbits > 8)
            return floe_cmd_fail("qat", "--wbits %lld: weight-only studies take 2 to 8 bits", bits.wbits);
        if (bits.wbits_layer)
            return floe_cmd_fail("qat", "--wbits-layer is for the chip's format: weight-only studies quantize every "
                                        "layer at --wbits");
        if (group >= 0)
            j.bap.group = (int)group;
        j.bap.asym = !sym;
        if (floe_qat_weight_only_run(&j, &err) != 0)
            return floe_cmd_fail("qat", "%s", err.msg);
        return 0;
    }
    if (!resume &&
        (floe_qat_bits_resolve(&bits, &j.qc, "qat") != 0 || floe_qinit_opts_resolve(&init, &j.init, "qat") != 0))
        return 2;
    floe_machine mach;
    floe_energy_table etab;
    if (machine && (rc = floe_cli_load_machine("qat", machine, energy, &mach, &etab)) >= 0)
        return rc;
    char dump[4300];
    if (floe_path_join(dump, sizeof dump, out, "verify-mismatch.csv") != 0)
        dump[0] = '\0';
    floe_qat_chip chip = {machine ? &mach : NULL, energy ? &etab : NULL, dump[0] ? dump : NULL};
    if (machine) {
        j.verify = floe_qat_verify_chip, j.verify_ctx = &chip, j.verify_on = machine;
        j.verify_every = (int)verify_every, j.verify_tokens = (int)verify_tokens;
    }
    if (floe_qat_job_run(&j, &err) != 0)
        return floe_cmd_fail("qat", "%s", err.msg);
    return 0;
}
