/* `floe ptq`: post-training quantization baselines on the same integer forward (docs/trainer.md). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/qat_args.h"
#include "models/qmodel_io.h"
#include "trainer/qat_init.h"
#include "trainer/qeval.h"

int floe_cmd_ptq(int argc, char **argv)
{
    const char *method = NULL, *teacher = NULL, *corpus = NULL, *out = NULL;
    long long threads = 0, batch = 8;
    int eval = 0;
    floe_qat_bits_opts bits = FLOE_QAT_BITS_DEFAULTS;
    floe_qinit_opts init = FLOE_QINIT_OPTS_DEFAULTS;
    const floe_opt opts[] = {
        {"method", FLOE_ARG_STRING, &method, "NAME", "rtn (absmax steps) or calib (MSE weights, percentile "
                                                      "activations); required", 0, 0, 0},
        {"teacher", FLOE_ARG_STRING, &teacher, "CKPT", "the FP checkpoint to quantize (required)", 0, 0, 't'},
        FLOE_QAT_BITS_OPTS(bits),
        {"percentile", FLOE_ARG_DOUBLE, &init.percentile, "P", "calib: percentile of |x| (default: 99.99 at 8 bits, 99.9 at 4)", 1, 100, 0},
        {"headroom", FLOE_ARG_DOUBLE, &init.headroom, "X", "16-bit steps cover X times the largest value (default 2)",
         1, 1e6, 0},
        {"calib-batches", FLOE_ARG_INT, &init.batches, "N", "calibration batches (default 4)", 1, 1e6, 0},
        {"batch", FLOE_ARG_INT, &batch, "B", "sequences per calibration batch (default 8)", 1, 65536, 'b'},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "calibration/validation data (default: the teacher's)", 0, 0, 0},
        {"eval", FLOE_ARG_FLAG, &eval, NULL, "also score the result on the validation split (integer forward)", 0, 0, 'e'},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads", 1, 1024, 'j'},
        {"out", FLOE_ARG_STRING, &out, "FILE", "the quantized model (.safetensors, required)", 0, 0, 'o'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"ptq", NULL,
                                "Post-training quantization of an FP checkpoint: RTN or calibrated, same integer forward.",
                                "The result is what `floe qat` starts from with --init rtn|calib.", opts, 0, 0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!method || !teacher || !out)
        return floe_cmd_fail("ptq", "--method rtn|calib, --teacher CKPT and --out FILE are required");
    init.init = method;
    floe_qconfig qc;
    floe_qinit_cfg ic;
    if (floe_qat_bits_resolve(&bits, &qc, "ptq") != 0 || floe_qinit_opts_resolve(&init, &ic, "ptq") != 0)
        return 2;
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_err err;
    floe_model_config mc;
    char corpus_buf[1024];
    if (floe_teacher_info(teacher, &mc, corpus_buf, sizeof corpus_buf, &err) != 0)
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
    if (floe_qat_init(&s, &t.cfg, &qc, 1, 1, &err) != 0) {
        floe_cmd_fail("ptq", "%s", err.msg);
        goto out;
    }
    have_s = 1;
    if (floe_qat_init_from_teacher(&s, &t, &train, &ic, &err) != 0) {
        floe_cmd_fail("ptq", "%s: %s", teacher, err.msg);
        goto out;
    }
    const char *kv[] = {"floe.method", method, "floe.teacher", teacher, "floe.corpus", corpus ? corpus : "fortunes"};
    if (floe_qmodel_save(&s.qm, out, kv, 3, &err) != 0) {
        floe_cmd_fail("ptq", "%s", err.msg);
        goto out;
    }
    printf("%s PTQ of %s at W%dA%dKV%d (head W%d%s%.0d): %s\n", method, teacher, qc.wbits, qc.abits, qc.kvbits,
           qc.head_bits, qc.act_scaling == FLOE_ACT_PER_TOKEN ? "; per-token inputs, K " : "", qc.act_kmax, out);
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
