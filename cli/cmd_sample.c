/* `floe sample`: generate text from a checkpoint (docs/trainer.md). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "common/rng.h"
#include "trainer/train.h"

/* Next token from the logits: argmax at temperature 0, else a draw from softmax(z / temperature). */
static int pick(const float *z, int V, double temperature, floe_rng *r)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        if (z[j] > z[best])
            best = j;
    if (temperature <= 0.0)
        return best;
    double sum = 0.0;
    for (int j = 0; j < V; j++)
        sum += exp(((double)z[j] - z[best]) / temperature);
    double u = floe_rng_uniform(r) * sum, acc = 0.0;
    for (int j = 0; j < V; j++) {
        acc += exp(((double)z[j] - z[best]) / temperature);
        if (u < acc)
            return j;
    }
    return best;
}

int floe_cmd_sample(int argc, char **argv)
{
    const char *ckpt = NULL, *prompt = "%\n";
    long long n_tokens = 400, seed = 1, threads = 0;
    double temperature = 0.8;
    const floe_opt opts[] = {
        {"ckpt", FLOE_ARG_STRING, &ckpt, "FILE", "model checkpoint (.safetensors, required)", 0, 0, 'c'},
        {"prompt", FLOE_ARG_STRING, &prompt, "TEXT",
         "text to continue (default \"%\\n\", the fortune separator: a new fortune)", 0, 0, 'p'},
        {"tokens", FLOE_ARG_INT, &n_tokens, "N", "tokens to generate (default 400)", 1, 1e7, 'n'},
        {"temperature", FLOE_ARG_DOUBLE, &temperature, "X", "softmax temperature, 0 for greedy (default 0.8)", 0, 100,
         't'},
        {"seed", FLOE_ARG_INT, &seed, "N", "sampling seed (default 1)", 0, 9.007e15, 0},
        {"threads", FLOE_ARG_INT, &threads, "N", "OpenMP threads (default: OMP_NUM_THREADS or all cores)", 1, 1024,
         'j'},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {"sample", NULL, "Generate text from a checkpoint.",
                                "The model sees at most its context: older tokens slide out of the window.", opts, 0,
                                0};
    char *pos[1];
    int npos = 0, rc = floe_args_parse_or_exit(&spec, argc, argv, pos, &npos);
    if (rc >= 0)
        return rc;
    if (!ckpt)
        return floe_cmd_fail("sample", "--ckpt FILE is required");
    if (!prompt[0])
        return floe_cmd_fail("sample", "--prompt: empty (the model needs at least one token to continue)");
    if (threads > 0)
        omp_set_num_threads((int)threads);
    floe_err err;
    floe_model m;
    if (floe_model_load(&m, ckpt, 1, 0, &err) != 0)
        return floe_cmd_fail("sample", "%s", err.msg);
    const floe_tokenizer *tok = floe_tokenizer_byte();
    size_t np = strlen(prompt), cap = np + (size_t)n_tokens;
    int32_t *ids = malloc(cap * sizeof *ids);
    if (!ids) {
        floe_model_free(&m);
        return floe_cmd_fail("sample", "out of memory");
    }
    size_t n = tok->encode(tok, (const uint8_t *)prompt, np, ids, cap);
    if (floe_model_check_ids(&m, ids, n, &err) != 0) {
        free(ids);
        floe_model_free(&m);
        return floe_cmd_fail("sample", "--prompt: %s", err.msg);
    }
    floe_rng r;
    floe_rng_seed(&r, (uint64_t)seed);
    fputs(prompt, stdout);
    for (long long i = 0; i < n_tokens; i++) {
        size_t T = n < (size_t)m.maxT ? n : (size_t)m.maxT;
        floe_model_forward(&m, ids + n - T, NULL, 1, (int)T);
        const float *z = floe_model_logits(&m) + (T - 1) * (size_t)m.cfg.vocab_size;
        ids[n] = pick(z, m.cfg.vocab_size, temperature, &r);
        uint8_t byte;
        size_t len;
        if (tok->decode(tok, ids + n, 1, &byte, 1, &len, &err) == 0 && len == 1)
            putchar(byte);
        fflush(stdout);
        n++;
    }
    putchar('\n');
    free(ids);
    floe_model_free(&m);
    return 0;
}
