/* `floe ptq`: post-training quantization on the same integer forward (docs/trainer.md): the RTN and
 * calib baselines, GPTQ and SmoothQuant, and weight-only RTN/GPTQ (an FP checkpoint of dequantized
 * weights). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/qat_args.h"
#include "trainer/ptq_run.h"

/* A bad option: the message, exit status 2 (as the argument parser). */
#define USAGE(...) return (floe_cmd_fail("ptq", __VA_ARGS__), 2)

int floe_cmd_ptq(int argc, char **argv)
{
    const char *method = NULL, *teacher = NULL, *corpus = NULL, *out = NULL, *hsrc_name = "student";
    long long threads = 0, batch = 8, block = 128, group = -1;
    double damp = 0.01, alpha = 0.5;
    int eval = 0, act_order = 0, weight_only = 0, asym = 0, no_smooth_norms = 0;
    floe_qat_bits_opts bits = FLOE_QAT_BITS_DEFAULTS;
    floe_qinit_opts init = FLOE_QINIT_OPTS_DEFAULTS;
    const floe_opt opts[] = {
        {"method", FLOE_ARG_STRING, &method, "NAME",
         "rtn (absmax steps), calib (MSE weights, percentile "
         "activations), gptq or smoothquant; required",
         0, 0, 0},
        {"teacher", FLOE_ARG_STRING, &teacher, "CKPT",
         "the FP checkpoint or Hugging Face model folder to quantize (required)", 0, 0, 't'},
        FLOE_QAT_BITS_OPTS(bits),
        {"percentile", FLOE_ARG_DOUBLE, &init.percentile, "P",
         "calib: percentile of |x| (default: 99.99 at 8 bits, 99.9 at 4)", 1, 100, 0},
        {"headroom", FLOE_ARG_DOUBLE, &init.headroom, "X",
         "16-bit steps but the residual's cover X times the largest value (default 2)", 1, 1e6, 0},
        {"res-headroom", FLOE_ARG_DOUBLE, &init.res_headroom, "X",
         "the residual stream's 16-bit step covers X times its largest value (default 1)", 1, 1e6, 0},
        {"calib-batches", FLOE_ARG_INT, &init.batches, "N", "calibration batches (default 4)", 1, 1e6, 0},
        {"batch", FLOE_ARG_INT, &batch, "B", "sequences per calibration batch (default 8)", 1, 65536, 'b'},
        {"damp", FLOE_ARG_DOUBLE, &damp, "F",
         "gptq: damping, a fraction of the mean Hessian diagonal in (0, 1] "
         "(default 0.01)",
         0, 0, 0},
        {"block", FLOE_ARG_INT, &block, "N", "gptq: lazy-update block in columns (default 128)", 0, 0, 0},
        {"act-order", FLOE_ARG_FLAG, &act_order, NULL,
         "gptq: quantize columns in order of decreasing Hessian "
         "diagonal",
         0, 0, 0},
        {"gptq-hessian", FLOE_ARG_STRING, &hsrc_name, "SRC",
         "gptq on the chip path: student (the integer forward's "
         "int8 inputs, sequential; default) or teacher (the FP "
         "teacher's inputs)",
         0, 0, 0},
        {"alpha", FLOE_ARG_DOUBLE, &alpha, "A", "smoothquant: migration strength in (0, 1] (default 0.5)", 0, 0, 0},
        {"no-smooth-norms", FLOE_ARG_FLAG, &no_smooth_norms, NULL,
         "smoothquant: migrate only at o_proj's and "
         "down_proj's inputs (no per-channel RMSNorm "
         "multipliers)",
         0, 0, 0},
        {"weight-only", FLOE_ARG_FLAG, &weight_only, NULL,
         "rtn|gptq: quantize only the blocks' linear weights "
         "(--wbits 2..8, --group, --asym) and write an FP "
         "checkpoint of the dequantized weights",
         0, 0, 0},
        {"group", FLOE_ARG_INT, &group, "G",
         "weight-only: group size along the input (default 0 = per output "
         "channel)",
         0, 0, 0},
        {"asym", FLOE_ARG_FLAG, &asym, NULL, "weight-only: asymmetric codes with a zero point (EfficientQAT's)", 0, 0,
         0},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "calibration/validation data (default: the teacher's)", 0, 0, 0},
        {"eval", FLOE_ARG_FLAG, &eval, NULL, "also score the result on the validation split", 0, 0, 'e'},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads", 1, 1024, 'j'},
        {"out", FLOE_ARG_STRING, &out, "FILE",
         "the quantized model (.safetensors, required); with --weight-only an "
         "FP checkpoint for `floe eval --ckpt`",
         0, 0, 'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"ptq", NULL,
                                "Post-training quantization of an FP checkpoint: RTN, calibrated, GPTQ or SmoothQuant "
                                "on the chip's integer forward, or weight-only RTN/GPTQ.",
                                "The chip-path result is what `floe qat` starts from with --init rtn|calib (a GPTQ or "
                                "SmoothQuant model evaluates and verifies like any quantized model).",
                                opts, 0, 0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!method || !teacher || !out)
        return floe_cmd_fail("ptq", "--method rtn|calib|gptq|smoothquant, --teacher CKPT and --out FILE are required");
    floe_ptq_method m;
    if (floe_ptq_method_parse(method, &m) != 0)
        USAGE("--method %s: expected rtn, calib, gptq or smoothquant", method);
    floe_gptq_hsrc hsrc;
    if (floe_gptq_hsrc_parse(hsrc_name, &hsrc) != 0)
        USAGE("--gptq-hessian %s: expected student or teacher", hsrc_name);
    if (!(damp > 0.0 && damp <= 1.0))
        USAGE("--damp %g: expected a fraction of the mean Hessian diagonal in (0, 1]", damp);
    if (block < 1 || block > 1 << 20)
        USAGE("--block %lld: expected 1 to 1048576 columns", block);
    if (!(alpha > 0.0 && alpha <= 1.0))
        USAGE("--alpha %g: expected a migration strength in (0, 1]", alpha);
    if (weight_only && m != FLOE_PTQ_RTN && m != FLOE_PTQ_GPTQ)
        USAGE("--weight-only works with --method rtn or gptq, not %s", method);
    if (!weight_only && (group >= 0 || asym))
        USAGE("--group and --asym need --weight-only (the chip path is symmetric, one step per "
                                    "output channel)");
    if (weight_only && (bits.wbits < 2 || bits.wbits > 8))
        USAGE("--wbits %lld: weight-only supports 2 to 8 bits", bits.wbits);
    if (weight_only && bits.wbits_layer)
        USAGE("--wbits-layer is for the chip's format: --weight-only quantizes every layer at --wbits");
    if (group < -1 || group > 1 << 20)
        USAGE("--group %lld: expected 0 (per output channel) or a group size", group);
    floe_ptq_run_opts o = {.method = m,
                           .teacher = teacher,
                           .corpus = corpus,
                           .out = out,
                           .batch = (int)batch,
                           .gptq = {damp, (int)block, act_order},
                           .hsrc = hsrc,
                           .alpha = alpha,
                           .smooth_norms = !no_smooth_norms,
                           .weight_only = weight_only,
                           .wbits = (int)bits.wbits,
                           .group = group < 0 ? 0 : (int)group,
                           .asym = asym,
                           .eval = eval};
    init.init = m == FLOE_PTQ_RTN ? "rtn" : "calib";
    if ((!weight_only && floe_qat_bits_resolve(&bits, &o.q, "ptq") != 0) ||
        floe_qinit_opts_resolve(&init, &o.init, "ptq") != 0)
        return 2;
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_err err;
    floe_ptq_report r;
    if (floe_ptq_run(&o, &r, &err) != 0)
        return floe_cmd_fail("ptq", "%s", err.msg);
    if (weight_only) {
        printf("weight-only %s PTQ of %s at W%d %s %s: %s\n", method, teacher, o.wbits,
               o.group ? "group" : "per-channel", asym ? "asym" : "sym", out);
        if (o.group)
            printf("group        %d\n", o.group);
    } else {
        const floe_qconfig *qc = &o.q;
        char lw[8192];
        if (floe_qconfig_format_layer_wbits(qc, lw, sizeof lw) != 0)
            lw[0] = '\0';
        printf("%s PTQ of %s at W%dA%dKV%d (head W%d%s%.0d%s%s): %s\n", method, teacher, qc->wbits, qc->abits,
               qc->kvbits, qc->head_bits, qc->act_scaling == FLOE_ACT_PER_TOKEN ? "; per-token inputs, K " : "",
               qc->act_kmax, lw[0] ? "; layer weight bits " : "", lw, out);
    }
    printf("calibration  %zu tokens, %.2f s\n", r.calib_tokens, r.seconds);
    if (r.evaluated) {
        printf("validation   loss %.4f nats/%s, perplexity %.3f, accuracy %.4f (%zu tokens)\n", r.val.loss, r.unit,
               r.val.ppl, r.val.accuracy, r.val.tokens);
        if (!weight_only)
            floe_qfwd_khist_print_counts(r.khist, o.q.act_kmax);
    }
    return 0;
}
