/* Training speed of the whole FP trainer: one optimizer step (forward, backward, clipping, AdamW)
 * of config S (batch 8 x context 128) and M (batch 8 x context 256) on 1 and 2 OpenMP threads.
 * Prints the median over repeated steps (after one warm-up step) of tokens/s and the achieved
 * GFLOP/s (floe_model_train_flops: 6 per parameter per token plus causal attention).
 * Usage: bench_train [steps for S (default 10)] [steps for M (default 4)] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/corpus.h"
#include "trainer/train.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run(const char *name, int B, int T, int threads, int reps, const floe_tokens *train)
{
    floe_model_config mc;
    floe_err err;
    if (floe_model_config_builtin(name, &mc, &err) != 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    floe_train_cfg cfg = floe_train_defaults(&mc);
    cfg.batch = B;
    cfg.context = T;
    cfg.steps = reps + 1;
    floe_trainer tr;
    if (floe_trainer_init(&tr, &mc, &cfg, &err) != 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    omp_set_num_threads(threads);
    double *dt = malloc((size_t)reps * sizeof *dt);
    for (int i = -1; i < reps; i++) {
        double t0 = now_s();
        if (floe_trainer_step(&tr, train, NULL, &err) != 0) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            return 1;
        }
        if (i >= 0)
            dt[i] = now_s() - t0;
    }
    qsort(dt, (size_t)reps, sizeof *dt, cmp_double);
    double med = dt[reps / 2], tokens = (double)B * T;
    double flops = floe_model_train_flops(&mc, B, T);
    printf("%-2s  B %d  T %3d  threads %d  step %7.1f ms (min %7.1f, max %7.1f)  %7.0f tokens/s  %6.1f GFLOP/s\n",
           name, B, T, threads, 1e3 * med, 1e3 * dt[0], 1e3 * dt[reps - 1], tokens / med, flops / med * 1e-9);
    fflush(stdout);
    free(dt);
    floe_trainer_free(&tr);
    return 0;
}

int main(int argc, char **argv)
{
    int reps_s = argc > 1 ? atoi(argv[1]) : 10, reps_m = argc > 2 ? atoi(argv[2]) : 4;
    if (reps_s < 1 || reps_m < 1) {
        fprintf(stderr, "usage: bench_train [steps for S] [steps for M]\n");
        return 2;
    }
    floe_corpus c;
    floe_tokens train;
    floe_err err;
    /* the generated corpus: no package needed, and speed does not depend on the text */
    if (floe_corpus_open(&c, "generated", &err) != 0 ||
        floe_tokens_encode(&train, floe_tokenizer_byte(), c.train, c.n_train, &err) != 0) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    printf("median of %d (S) and %d (M) optimizer steps after one warm-up step\n", reps_s, reps_m);
    int rc = 0;
    for (int threads = 1; threads <= 2; threads++)
        rc |= run("S", 8, 128, threads, reps_s, &train);
    for (int threads = 1; threads <= 2; threads++)
        rc |= run("M", 8, 256, threads, reps_m, &train);
    floe_tokens_free(&train);
    floe_corpus_free(&c);
    return rc;
}
