/* `floe sample`: generate text from a checkpoint (docs/trainer.md). */
#include <omp.h>
#include <stdio.h>

#include "cli/args.h"
#include "trainer/sample.h"

int floe_cmd_sample(int argc, char **argv)
{
    const char *ckpt = NULL, *prompt = "%\n", *tokenizer = NULL;
    long long n_tokens = 400, seed = 1, threads = 0;
    double temperature = 0.8;
    const floe_opt opts[] = {
        {"ckpt", FLOE_ARG_STRING, &ckpt, "FILE", "model checkpoint (.safetensors, required)", 0, 0, 'c'},
        {"prompt", FLOE_ARG_STRING, &prompt, "TEXT",
         "text to continue (default \"%\\n\", the fortune separator: a new fortune)", 0, 0, 'p'},
        {"tokenizer", FLOE_ARG_STRING, &tokenizer, "T",
         "the model's tokenizer.json or folder (default: bytes, as floe train's corpora)", 0, 0, 0},
        {"tokens", FLOE_ARG_INT, &n_tokens, "N", "tokens to generate (default 400)", 1, 1e7, 'n'},
        {"temperature", FLOE_ARG_DOUBLE, &temperature, "X", "softmax temperature, 0 for greedy (default 0.8)", 0, 100,
         't'},
        {"seed", FLOE_ARG_INT, &seed, "N", "sampling seed (default 1)", 0, 9.007e15, 0},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "sample",
        NULL,
        "Generate text from a checkpoint.",
        "Each token runs through a KV cache (the prompt once, then one row per token). When the\n"
        "cache is full, the last half of the window runs again as a new prompt.",
        opts,
        0,
        0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!ckpt)
        return floe_cmd_fail("sample", "--ckpt FILE is required");
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_sample_opts so = {ckpt, tokenizer, prompt, n_tokens, temperature, (uint64_t)seed};
    floe_err err;
    if (floe_sample_run(&so, stdout, &err) != 0)
        return floe_cmd_fail("sample", "%s", err.msg);
    return 0;
}
