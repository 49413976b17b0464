/* QAT speed: one SiLQ step (teacher forward, integer-exact student forward, distillation, STE/LSQ
 * backward, clipping, both AdamW updates) at W4A8KV8 on config S (8 x 128) and M (8 x 256) with
 * 2 threads, against one FP training step of the same config and batch. FP and QAT steps
 * alternate (after a warm-up of each), so a drifting load on a shared machine hits both alike.
 * Prints medians of tokens/s, the QAT/FP time ratio (of the medians, and the median and range of
 * the per-pair ratios), and where a QAT step's time goes (teacher forward, student forward,
 * student backward).
 * Usage: bench_qat [steps (default 8)] [threads (default 2)] [S|M (default both)] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/safetensors.h"
#include "trainer/distill.h"
#include "trainer/qat_run.h"
#include "trainer/run_log.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static int run(const char *name, int B, int T, int reps, const floe_tokens *train)
{
    floe_model_config mc;
    floe_err err;
    if (floe_model_config_builtin(name, &mc, &err) != 0)
        return fprintf(stderr, "bench_qat: %s\n", err.msg), 1;
    /* FP step time, and a teacher checkpoint from it */
    floe_train_cfg tc = floe_train_defaults(&mc);
    tc.batch = B;
    tc.context = T;
    tc.steps = reps + 1;
    floe_trainer tr;
    if (floe_trainer_init(&tr, &mc, &tc, &err) != 0)
        return fprintf(stderr, "bench_qat: %s\n", err.msg), 1;
    double *fp = malloc(sizeof(double) * (size_t)reps), *q = malloc(sizeof(double) * (size_t)reps);
    double *tf = malloc(sizeof(double) * (size_t)reps), *sf = malloc(sizeof(double) * (size_t)reps);
    double *sb = malloc(sizeof(double) * (size_t)reps);
    char path[] = "/tmp/floe-bench-qat-teacher.safetensors";
    floe_trainer_step(&tr, train, NULL, &err); /* warm-up, and a teacher to start from */
    if (floe_trainer_save(&tr, path, NULL, 0, &err) != 0)
        return fprintf(stderr, "bench_qat: %s\n", err.msg), 1;
    floe_qat_trainer qt;
    floe_qconfig qc = floe_qconfig_default();
    floe_qat_cfg c = floe_qat_defaults(&mc);
    c.batch = B;
    c.context = T;
    c.steps = reps + 1;
    if (floe_qat_trainer_init(&qt, path, &qc, &c, train, &err) != 0)
        return fprintf(stderr, "bench_qat: %s\n", err.msg), 1;
    if (floe_qat_step(&qt, train, NULL, &err) != 0) /* warm-up */
        return fprintf(stderr, "bench_qat: %s\n", err.msg), 1;
    /* FP and QAT steps alternate, so both see the same machine (a shared host's load drifts) */
    double *ratio = malloc(sizeof(double) * (size_t)reps);
    for (int i = 0; i < reps; i++) {
        double t0 = floe_now_s();
        floe_trainer_step(&tr, train, NULL, &err);
        double t1 = floe_now_s();
        if (floe_qat_step(&qt, train, NULL, &err) != 0)
            return fprintf(stderr, "bench_qat: %s\n", err.msg), 1;
        double t2 = floe_now_s();
        fp[i] = t1 - t0, q[i] = t2 - t1, ratio[i] = q[i] / fp[i];
    }
    floe_trainer_free(&tr);
    /* the parts, on the last batch; the backward's dL/dlogits: zeros (the products cost the same) */
    float *dl = calloc((size_t)B * T * mc.vocab_size, sizeof(float));
    if (!dl)
        return fprintf(stderr, "bench_qat: out of memory\n"), 1;
    for (int i = 0; i < reps; i++) {
        double t0 = floe_now_s();
        floe_model_forward(&qt.teacher, qt.inp, NULL, B, T);
        double t1 = floe_now_s();
        floe_qat_forward(&qt.s, qt.inp, B, T, &err);
        double t2 = floe_now_s();
        floe_qat_backward(&qt.s, dl);
        double t3 = floe_now_s();
        tf[i] = t1 - t0, sf[i] = t2 - t1, sb[i] = t3 - t2;
    }
    /* median() sorts in place: ratio[0] and ratio[reps - 1] are then the smallest and largest */
    double mfp = median(fp, reps), mq = median(q, reps), mr = median(ratio, reps), tok = (double)B * T;
    printf("%-2s %2d x %3d, %d threads: FP step %7.1f ms (%6.0f tok/s)   QAT step %7.1f ms (%6.0f tok/s)   "
           "QAT/FP %.2f (median of the %d step pairs %.2f, range %.2f-%.2f)\n",
           name, B, T, omp_get_max_threads(), 1e3 * mfp, tok / mfp, 1e3 * mq, tok / mq, mq / mfp, reps, mr,
           ratio[0], ratio[reps - 1]);
    printf("   QAT parts: teacher forward %.1f ms, student forward (integer-exact) %.1f ms, student backward %.1f ms\n",
           1e3 * median(tf, reps), 1e3 * median(sf, reps), 1e3 * median(sb, reps));
    fflush(stdout);
    floe_qat_trainer_free(&qt);
    remove(path);
    free(fp), free(q), free(tf), free(sf), free(sb), free(ratio), free(dl);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 8, threads = argc > 2 ? atoi(argv[2]) : 2;
    omp_set_num_threads(threads);
    floe_tokens train, val;
    floe_err err;
    if (floe_train_data("generated:2000", &train, &val, &err) != 0)
        return fprintf(stderr, "bench_qat: %s\n", err.msg), 1;
    const char *only = argc > 3 ? argv[3] : "";
    int rc = (only[0] != 'M' && run("S", 8, 128, reps, &train)) ||
             (only[0] != 'S' && run("M", 8, 256, reps > 4 ? reps / 2 : reps, &train));
    floe_tokens_free(&train);
    floe_tokens_free(&val);
    return rc;
}
