/* `floe ptq`: post-training quantization on the same integer forward (docs/trainer.md): the RTN and
 * calib baselines, GPTQ and SmoothQuant, and weight-only RTN/GPTQ (an FP checkpoint of dequantized
 * weights). */
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/qat_args.h"
#include "models/qmodel_io.h"
#include "models/safetensors.h"
#include "trainer/ptq.h"
#include "trainer/qat_init.h"
#include "trainer/qeval.h"
#include "trainer/train.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { M_RTN, M_CALIB, M_GPTQ, M_SMOOTH };

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
        {"headroom", FLOE_ARG_DOUBLE, &init.headroom, "X", "16-bit steps cover X times the largest value (default 2)",
         1, 1e6, 0},
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
    int m = strcmp(method, "rtn") == 0 ? M_RTN
            : strcmp(method, "calib") == 0 ? M_CALIB
            : strcmp(method, "gptq") == 0 ? M_GPTQ
            : strcmp(method, "smoothquant") == 0 ? M_SMOOTH
                                                 : -1;
    if (m < 0)
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
    if (weight_only && m != M_RTN && m != M_GPTQ)
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
    floe_qconfig qc;
    floe_qinit_cfg ic;
    init.init = m == M_RTN ? "rtn" : "calib";
    if ((!weight_only && floe_qat_bits_resolve(&bits, &qc, "ptq") != 0) || floe_qinit_opts_resolve(&init, &ic, "ptq") != 0)
        return 2;
    const floe_gptq_cfg gc = {damp, (int)block, act_order};
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_err err;
    floe_model_config mc;
    char corpus_buf[1024];
    if (floe_teacher_info(teacher, &mc, corpus_buf, sizeof corpus_buf, &err) != 0)
        return floe_cmd_fail("ptq", "%s", err.msg);
    if (!weight_only && floe_qconfig_check_layers(&qc, mc.n_layers, mc.name, "--wbits-layer", &err) != 0)
        return floe_cmd_fail("ptq", "%s", err.msg);
    if (!corpus && corpus_buf[0])
        corpus = corpus_buf;
    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, &err) != 0)
        return floe_cmd_fail("ptq", "%s", err.msg);
    floe_model t;
    floe_qat s;
    int have_t = 0, have_s = 0;
    rc = 1;
    if (floe_model_load(&t, teacher, (int)batch, 0, &err) != 0) {
        floe_cmd_fail("ptq", "teacher %s: %s", teacher, err.msg);
        goto out;
    }
    have_t = 1;
    if (floe_tokens_check_vocab(&train, t.cfg.vocab_size, &err) != 0 ||
        floe_ckpt_check_tokenizer(teacher, &train, &err) != 0) {
        floe_cmd_fail("ptq", "%s: %s", corpus ? corpus : "fortunes", err.msg);
        goto out;
    }
    const double t0 = now_s();
    /* tokens the method reads (RTN reads none; calib also reads them for its activation steps) */
    size_t calib_tokens = (size_t)ic.batches * t.maxB * t.maxT;
    if (weight_only) {
        floe_wo_cfg wc = {m == M_GPTQ, (int)bits.wbits, group < 0 ? 0 : (int)group, asym, gc, ic.batches, ic.seed};
        if (floe_ptq_weight_only(&t, &train, &wc, &err) != 0) {
            floe_cmd_fail("ptq", "%s: %s", teacher, err.msg);
            goto out;
        }
        const double wall = now_s() - t0;
        char wb[16], gb[16];
        snprintf(wb, sizeof wb, "%d", wc.bits);
        snprintf(gb, sizeof gb, "%d", wc.group);
        const char *kv[] = {"floe.method",  method, "floe.weight_only", "1",          "floe.wbits", wb,
                            "floe.group",   gb,     "floe.asym",        asym ? "1" : "0", "floe.teacher", teacher,
                            "floe.corpus", corpus ? corpus : "fortunes"};
        if (floe_st_save_params(out, &t.cfg, &t.table, t.params, kv, 7, &err) != 0) {
            floe_cmd_fail("ptq", "%s", err.msg);
            goto out;
        }
        printf("weight-only %s PTQ of %s at W%d %s %s: %s\n", method, teacher, wc.bits,
               wc.group ? "group" : "per-channel", asym ? "asym" : "sym", out);
        if (wc.group)
            printf("group        %d\n", wc.group);
        printf("calibration  %zu tokens, %.2f s\n", m == M_GPTQ ? calib_tokens : (size_t)0, wall);
        if (eval) {
            floe_eval_result r;
            if (floe_model_evaluate(&t, &val, t.maxT, &r, &err) != 0) {
                floe_cmd_fail("ptq", "evaluating: %s", err.msg);
                goto out;
            }
            printf("validation   loss %.4f nats/byte, perplexity %.3f, accuracy %.4f (%zu tokens)\n", r.loss, r.ppl,
                   r.accuracy, r.tokens);
        }
        rc = 0;
        goto out;
    }
    if (floe_qat_init(&s, &t.cfg, &qc, 1, 1, &err) != 0) {
        floe_cmd_fail("ptq", "%s", err.msg);
        goto out;
    }
    have_s = 1;
    if ((m == M_GPTQ     ? floe_ptq_gptq(&s, &t, &train, &ic, &gc, hsrc, &err)
         : m == M_SMOOTH ? floe_ptq_smoothquant(&s, &t, &train, &ic, alpha, !no_smooth_norms, &err)
                         : floe_qat_init_from_teacher(&s, &t, &train, &ic, &err)) != 0) {
        floe_cmd_fail("ptq", "%s: %s", teacher, err.msg);
        goto out;
    }
    const double wall = now_s() - t0;
    char ab[32], db[32];
    snprintf(ab, sizeof ab, "%g", alpha);
    snprintf(db, sizeof db, "%g", damp);
    const char *kv[] = {"floe.method", method, "floe.teacher", teacher, "floe.corpus", corpus ? corpus : "fortunes",
                        m == M_SMOOTH ? "floe.smoothquant_alpha" : "floe.gptq_damp", m == M_SMOOTH ? ab : db};
    if (floe_qmodel_save(&s.qm, out, kv, m == M_GPTQ || m == M_SMOOTH ? 4 : 3, &err) != 0) {
        floe_cmd_fail("ptq", "%s", err.msg);
        goto out;
    }
    char lw[8192];
    if (floe_qconfig_format_layer_wbits(&qc, lw, sizeof lw) != 0)
        lw[0] = '\0';
    printf("%s PTQ of %s at W%dA%dKV%d (head W%d%s%.0d%s%s): %s\n", method, teacher, qc.wbits, qc.abits, qc.kvbits,
           qc.head_bits, qc.act_scaling == FLOE_ACT_PER_TOKEN ? "; per-token inputs, K " : "", qc.act_kmax,
           lw[0] ? "; layer weight bits " : "", lw, out);
    printf("calibration  %zu tokens, %.2f s\n", m == M_RTN ? (size_t)0 : calib_tokens, wall);
    if (eval) {
        floe_qfwd f;
        floe_eval_result r;
        if (floe_qfwd_init(&f, &s.cfg, (int)batch, s.cfg.context, &err) != 0 ||
            floe_qmodel_evaluate(&f, &s.qm, &val, 0, &r, &err) != 0) {
            floe_cmd_fail("ptq", "evaluating: %s", err.msg);
            goto out;
        }
        printf("validation   loss %.4f nats/byte, perplexity %.3f, accuracy %.4f (%zu tokens)\n", r.loss, r.ppl,
               r.accuracy, r.tokens);
        floe_qfwd_khist_print(&f, qc.act_kmax);
        floe_qfwd_free(&f);
    }
    rc = 0;
out:
    if (have_s)
        floe_qat_free(&s);
    if (have_t)
        floe_model_free(&t);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
