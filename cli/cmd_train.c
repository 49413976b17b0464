/* `floe train`: the FP trainer (docs/trainer.md): progress per step, CSV log, checkpoints, resume. */
#include <omp.h>

#include "cli/args.h"
#include "trainer/train_job.h"

int floe_cmd_train(int argc, char **argv)
{
    const char *model = NULL, *corpus = NULL, *out = "floe-train", *resume = NULL, *dump = NULL;
    long long threads = 0, ckpt_every = 1000, eval_every = 500, stop_after = 0, eval_windows = 0;
    floe_train_settings set = FLOE_TRAIN_SETTINGS_UNSET;
    const floe_opt opts[] = {
        {"model", FLOE_ARG_STRING, &model, "NAME|FILE", "tiny, S, M or a Hugging Face config.json (required)", 0, 0,
         'm'},
        {"corpus", FLOE_ARG_STRING, &corpus, "SPEC", "fortunes (default), generated[:N[:SEED]] or a folder", 0, 0, 0},
        {"steps", FLOE_ARG_INT, &set.steps, "N", "optimizer steps (default 3000)", 1, 1e9, 0},
        {"batch", FLOE_ARG_INT, &set.batch, "B", "sequences per micro-batch (default 8)", 1, 65536, 'b'},
        {"context", FLOE_ARG_INT, &set.context, "T", "tokens per sequence (default: the model's context)", 1, 1 << 22,
         0},
        {"lr", FLOE_ARG_DOUBLE, &set.lr, "X", "peak learning rate (default 2e-3; floor lr/10)", 1e-9, 10, 0},
        {"warmup", FLOE_ARG_INT, &set.warmup, "N", "linear warmup steps (default 100)", 0, 1e9, 0},
        {"accum", FLOE_ARG_INT, &set.accum, "N", "micro-batches per step (default 1)", 1, 65536, 0},
        {"grad-accum", FLOE_ARG_INT, &set.accum, "N", "the same as --accum", 1, 65536, 0},
        {"clip", FLOE_ARG_DOUBLE, &set.clip, "X", "global gradient-norm limit, 0 for none (default 1)", 0, 1e9, 0},
        {"moments", FLOE_ARG_STRING, &set.moments, "f32|bf16",
         "AdamW moments as float or bfloat16 (half the optimizer state; default f32)", 0, 0, 0},
        {"seed", FLOE_ARG_INT, &set.seed, "N", "initial weights and batch sampling (default 1)", 0, 9.007e15, 0},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {"out", FLOE_ARG_STRING, &out, "DIR", "checkpoints and train.csv (default floe-train)", 0, 0, 'o'},
        {"ckpt-every", FLOE_ARG_INT, &ckpt_every, "N", "checkpoint every N steps, 0: only at the end (default 1000)", 0,
         1e9, 0},
        {"eval-every", FLOE_ARG_INT, &eval_every, "N",
         "validation loss every N steps, 0: only at the end (default 500)", 0, 1e9, 0},
        {"eval-windows", FLOE_ARG_INT, &eval_windows, "N",
         "validation windows per evaluation, the first ones (default 0: all)", 0, 1e12, 0},
        {"resume", FLOE_ARG_STRING, &resume, "CKPT", "continue a run from its checkpoint (bit-identical)", 0, 0, 0},
        {"stop-after", FLOE_ARG_INT, &stop_after, "N", "stop (with a checkpoint) once N steps are done", 0, 1e9, 0},
        {"dump-step", FLOE_ARG_STRING, &dump, "FILE",
         "write the run's first step (inputs, parameters, gradients, loss) as safetensors", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "train", NULL, "Train a model in float32 (AdamW, warmup + cosine, clipping, accumulation).",
        "Prints a line per step; writes DIR/train.csv (step,tokens,loss,val_loss,lr,grad_norm,\n"
        "tokens_per_s,seconds) and DIR/ckpt-<step>.safetensors (+ .optim.safetensors, the optimizer\n"
        "state). With --resume, the model, corpus and hyperparameters come from the checkpoint;\n"
        "--steps may extend the run (the cosine then stretches: no longer identical to a straight run).",
        opts, 0, 0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_train_job j = {model,
                        corpus,
                        out,
                        resume,
                        dump,
                        set,
                        (int)stop_after,
                        (int)ckpt_every,
                        (int)eval_every,
                        stdout,
                        (size_t)eval_windows};
    floe_err err;
    if (floe_train_job_run(&j, &err) != 0)
        return floe_cmd_fail("train", "%s", err.msg);
    return 0;
}
