/* EfficientQAT on the float path (weight-only): validation perplexity of a teacher's weight-only
 * quantization after min-max/MSE init (RTN), after Block-AP, after Block-AP + E2E-QP, with the wall
 * time and training tokens of each phase (docs/trainer.md, "EfficientQAT").
 *
 * Usage: bench_efficientqat TEACHER.safetensors [options]
 *   --bits N --group N --asym 0|1          quantizer (default: floe_blockap_defaults(bits))
 *   --samples N --epochs N --batch N       Block-AP calibration
 *   --lr-s X --lr-w X                      Block-AP learning rates (s/z, weights)
 *   --e2e-steps N --e2e-batch N --e2e-lr X --e2e-clip X   E2E-QP (steps 0: skip)
 *   --no-bap                               E2E-QP straight from the init
 *   --corpus SPEC  -j N  --save FILE       (FILE: the final weight-only model)
 * One thread by default. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainer/block_ap.h"
#include "trainer/e2e_qp.h"
#include "trainer/train.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_block(void *ctx, const floe_blockap_report *r)
{
    (void)ctx;
    printf("  block %d/%d: mse init %.4e (held-out %.4e) -> %.4e (held-out %.4e), %d steps, %.1f s\n", r->layer,
           r->n_layers, r->mse_init, r->mse_init_heldout, r->mse, r->mse_heldout, r->steps, r->seconds);
    fflush(stdout);
}

static void on_step(void *ctx, const floe_e2eqp_stats *s)
{
    int every = *(const int *)ctx;
    if (s->step % every == 0 || s->step == 1)
        printf("  e2e step %d: loss %.4f lr %.2e |ds| %.3e\n", s->step, (double)s->loss, (double)s->lr, s->grad_norm);
    fflush(stdout);
}

static double eval_ppl(floe_model *ev, const floe_tokens *val, floe_err *err)
{
    floe_eval_result r;
    if (floe_model_evaluate(ev, val, ev->cfg.context, &r, err) != 0)
        return NAN;
    return r.ppl;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_efficientqat TEACHER.safetensors [options] (see the source)\n");
        return 2;
    }
    const char *teacher = argv[1], *corpus = NULL, *save = NULL;
    int bits = 4, threads = 1, no_bap = 0;
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--bits"))
            bits = atoi(argv[i + 1]);
    floe_blockap_cfg bc = floe_blockap_defaults(bits);
    floe_e2eqp_cfg ec = floe_e2eqp_defaults(bits);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-bap")) {
            no_bap = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "bench_efficientqat: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--bits"))
            continue;
        else if (!strcmp(a, "--group"))
            bc.group = atoi(v);
        else if (!strcmp(a, "--asym"))
            bc.asym = atoi(v);
        else if (!strcmp(a, "--samples"))
            bc.samples = atoi(v);
        else if (!strcmp(a, "--epochs"))
            bc.epochs = atoi(v);
        else if (!strcmp(a, "--batch"))
            bc.batch = atoi(v);
        else if (!strcmp(a, "--lr-s"))
            bc.lr_qparams = (float)atof(v);
        else if (!strcmp(a, "--lr-w"))
            bc.lr_weights = (float)atof(v);
        else if (!strcmp(a, "--e2e-steps"))
            ec.steps = atoi(v);
        else if (!strcmp(a, "--e2e-batch"))
            ec.batch = atoi(v);
        else if (!strcmp(a, "--e2e-lr"))
            ec.lr = (float)atof(v), ec.min_lr = ec.lr / 20.0f;
        else if (!strcmp(a, "--e2e-clip"))
            ec.clip = (float)atof(v);
        else if (!strcmp(a, "--corpus"))
            corpus = v;
        else if (!strcmp(a, "--save"))
            save = v;
        else if (!strcmp(a, "-j"))
            threads = atoi(v);
        else {
            fprintf(stderr, "bench_efficientqat: unknown option %s\n", a);
            return 2;
        }
    }
    omp_set_num_threads(threads);
    floe_err err;
    floe_tokens train, val;
    if (floe_train_data(corpus, &train, &val, &err) != 0) {
        fprintf(stderr, "bench_efficientqat: %s\n", err.msg);
        return 1;
    }
    floe_model fp, q, ev;
    int maxB = bc.batch > 16 ? bc.batch : 16;
    if (ec.batch > maxB)
        maxB = ec.batch;
    if (floe_model_load(&fp, teacher, bc.batch, 0, &err) != 0 || floe_model_load(&q, teacher, bc.batch, 0, &err) != 0 ||
        floe_model_load(&ev, teacher, maxB, 0, &err) != 0) {
        fprintf(stderr, "bench_efficientqat: %s\n", err.msg);
        return 1;
    }
    const size_t P = q.table.total * sizeof(float);
    const int T = ev.cfg.context;
    double ppl_fp = eval_ppl(&ev, &val, &err);
    floe_model_fold_block_norms(&q);
    memcpy(ev.params, q.params, P);
    double ppl_fold = eval_ppl(&ev, &val, &err);
    printf("teacher %s: FP ppl %.4f (folded %.4f); W%d group %d %s; threads %d\n", teacher, ppl_fp, ppl_fold, bits,
           bc.group, bc.asym ? "asym" : "sym", threads);

    /* RTN: the init alone */
    int nq = q.cfg.n_layers * FLOE_BLOCK_LINEARS;
    floe_wquant *wq = calloc((size_t)nq, sizeof *wq);
    if (floe_wquants_init(wq, &q, bc.bits, NULL, bc.group, bc.asym, &err) != 0) {
        fprintf(stderr, "bench_efficientqat: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < nq; i++) {
        if (bc.asym)
            floe_wquant_minmax(&wq[i], floe_blockap_weight(&q, i));
        else
            floe_wquant_mse(&wq[i], floe_blockap_weight(&q, i));
    }
    memcpy(ev.params, q.params, P);
    floe_wquants_apply(wq, &ev);
    double ppl_rtn = eval_ppl(&ev, &val, &err);
    printf("RTN (%s init): ppl %.4f\n", bc.asym ? "min-max" : "MSE", ppl_rtn);
    fflush(stdout);

    double t_bap = 0, ppl_bap = NAN;
    size_t tok_bap = 0;
    if (!no_bap) {
        floe_wquants_free(wq, nq);
        double t0 = now_s();
        if (floe_block_ap(&fp, &q, wq, &train, &bc, on_block, NULL, &err) != 0) {
            fprintf(stderr, "bench_efficientqat: %s\n", err.msg);
            return 1;
        }
        t_bap = now_s() - t0;
        tok_bap = (size_t)bc.samples * bc.epochs * T * q.cfg.n_layers;
        memcpy(ev.params, q.params, P);
        floe_wquants_apply(wq, &ev);
        ppl_bap = eval_ppl(&ev, &val, &err);
        printf("Block-AP (samples %d, epochs %d, batch %d, lr s %.1e w %.1e): ppl %.4f, %.1f s, %zu tokens (all blocks)\n",
               bc.samples, bc.epochs, bc.batch, (double)bc.lr_qparams, (double)bc.lr_weights, ppl_bap, t_bap, tok_bap);
        fflush(stdout);
    }
    double ppl_e2e = NAN, t_e2e = 0;
    if (ec.steps > 0) {
        floe_e2eqp st;
        memcpy(ev.params, q.params, P);
        if (floe_e2eqp_init(&st, &ev, wq, &err) != 0) {
            fprintf(stderr, "bench_efficientqat: %s\n", err.msg);
            return 1;
        }
        int every = ec.steps / 10 > 0 ? ec.steps / 10 : 1;
        double t0 = now_s();
        if (floe_e2eqp_run(&st, &ev, &train, &ec, 0, on_step, &every, &err) != 0) {
            fprintf(stderr, "bench_efficientqat: %s\n", err.msg);
            return 1;
        }
        t_e2e = now_s() - t0;
        ppl_e2e = eval_ppl(&ev, &val, &err);
        printf("E2E-QP (steps %d, batch %d, lr %.1e, clip %.2g): ppl %.4f, %.1f s, %zu tokens\n", ec.steps, ec.batch,
               (double)ec.lr, (double)ec.clip, ppl_e2e, t_e2e, (size_t)ec.steps * ec.batch * (size_t)(ec.context ? ec.context : T));
        floe_e2eqp_free(&st);
    }
    if (save) {
        if (ec.steps <= 0) {
            memcpy(ev.params, q.params, P);
            floe_wquants_apply(wq, &ev);
        }
        if (floe_weight_only_save(save, &ev, "efficientqat", bc.bits, bc.group, bc.asym, teacher, NULL, 0, &err) != 0) {
            fprintf(stderr, "bench_efficientqat: %s\n", err.msg);
            return 1;
        }
        printf("saved %s\n", save);
    }
    printf("SUMMARY W%d g%d %s: fp %.4f rtn %.4f bap %.4f (%.0f s) e2e %.4f (%.0f s)\n", bits, bc.group,
           bc.asym ? "asym" : "sym", ppl_fp, ppl_rtn, ppl_bap, t_bap, ppl_e2e, t_e2e);
    floe_wquants_free(wq, nq);
    free(wq);
    floe_model_free(&fp);
    floe_model_free(&q);
    floe_model_free(&ev);
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return 0;
}
