/* Training at real shapes: seconds per optimizer step, tokens/s and peak resident memory of FP
 * training (floe_trainer_step) or SiLQ QAT (floe_qat_step, W4A8KV8 defaults) of a built-in model
 * (smollm2-135m, llama-3.2-1b, ...) at batch 1 x context T with gradient accumulation.
 * One process per measurement, so the peak (getrusage) is that run's alone.
 * Usage: bench_train_shapes fp MODEL [T 2048] [accum 1] [steps 2] [save CKPT]
 *        bench_train_shapes qat MODEL T accum steps TEACHER_CKPT
 * fp with CKPT also writes its parameters there: the teacher a qat run needs. fp-bf16 and qat-bf16:
 * with AdamW's moments as bfloat16 (floe train / floe qat --moments bf16); qat-q8 with 8-bit moments
 * (floe qat --moments q8). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "models/corpus.h"
#include "trainer/qat_run.h"
#include "trainer/train.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static void report(const char *what, const char *model, int T, int accum, int steps, double first, double rest)
{
    double per = steps > 1 ? rest / (steps - 1) : first, tokens = (double)T * accum;
    printf("%s %s  batch 1 x context %d x accum %d  threads %d  first step %.1f s  step %.1f s  %.1f tokens/s  "
           "peak RSS %.0f MiB\n",
           what, model, T, accum, omp_get_max_threads(), first, per, tokens / per, peak_mib());
}

static int fail(const floe_err *err)
{
    fprintf(stderr, "bench_train_shapes: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    const int fp = argc > 1 && (strcmp(argv[1], "fp") == 0 || strcmp(argv[1], "fp-bf16") == 0);
    const int qat =
        argc > 1 && (strcmp(argv[1], "qat") == 0 || strcmp(argv[1], "qat-bf16") == 0 || strcmp(argv[1], "qat-q8") == 0);
    const int bf16 = argc > 1 && strstr(argv[1], "-bf16") != NULL, q8 = argc > 1 && strstr(argv[1], "-q8") != NULL;
    if (argc < 3 || (!fp && !qat) || (qat && argc < 7)) {
        fprintf(stderr, "usage: bench_train_shapes fp|fp-bf16 MODEL [T] [accum] [steps] [save CKPT]\n"
                        "       bench_train_shapes qat|qat-bf16|qat-q8 MODEL T accum steps TEACHER_CKPT\n");
        return 2;
    }
    const char *model = argv[2];
    int T = argc > 3 ? atoi(argv[3]) : 2048, accum = argc > 4 ? atoi(argv[4]) : 1, steps = argc > 5 ? atoi(argv[5]) : 2;
    const char *ckpt = argc > 6 ? argv[6] : NULL;
    if (T < 1 || accum < 1 || steps < 1) {
        fprintf(stderr, "bench_train_shapes: T, accum and steps must be >= 1\n");
        return 2;
    }
    floe_model_config mc;
    floe_corpus c;
    floe_tokens train;
    floe_err err;
    /* the generated corpus: speed does not depend on the text */
    if (floe_model_config_builtin(model, &mc, &err) != 0 || floe_corpus_open(&c, "generated", &err) != 0 ||
        floe_tokens_encode(&train, floe_tokenizer_byte(), c.train, c.n_train, &err) != 0)
        return fail(&err);
    double first = 0, rest = 0;
    if (fp) {
        floe_train_cfg cfg = floe_train_defaults(&mc);
        cfg.batch = 1, cfg.context = T, cfg.accum = accum, cfg.steps = steps, cfg.warmup = 1;
        cfg.moments_bf16 = bf16;
        floe_trainer tr;
        if (floe_trainer_init(&tr, &mc, &cfg, &err) != 0)
            return fail(&err);
        for (int i = 0; i < steps; i++) {
            double t0 = now_s();
            if (floe_trainer_step(&tr, &train, NULL, &err) != 0)
                return fail(&err);
            *(i ? &rest : &first) += now_s() - t0;
        }
        report(bf16 ? "fp-bf16" : "fp ", model, T, accum, steps, first, rest);
        if (ckpt && floe_trainer_save(&tr, ckpt, NULL, 0, &err) != 0)
            return fail(&err);
        floe_trainer_free(&tr);
    } else {
        floe_qconfig qc = floe_qconfig_default();
        floe_qat_cfg cfg = floe_qat_defaults(&mc);
        cfg.batch = 1, cfg.context = T, cfg.accum = accum, cfg.steps = steps, cfg.warmup = 1;
        cfg.init.batches = 1;
        cfg.moments = q8 ? FLOE_MOMENTS_Q8 : bf16 ? FLOE_MOMENTS_BF16 : FLOE_MOMENTS_F32;
        floe_qat_trainer tr;
        double t0 = now_s();
        if (floe_qat_trainer_init(&tr, ckpt, &qc, &cfg, &train, &err) != 0)
            return fail(&err);
        printf("qat init (teacher load, PTQ calibration) %.1f s\n", now_s() - t0);
        for (int i = 0; i < steps; i++) {
            t0 = now_s();
            if (floe_qat_step(&tr, &train, NULL, &err) != 0)
                return fail(&err);
            *(i ? &rest : &first) += now_s() - t0;
        }
        report(argv[1], model, T, accum, steps, first, rest);
        floe_qat_trainer_free(&tr);
    }
    floe_tokens_free(&train);
    floe_corpus_free(&c);
    return 0;
}
