/* `floe model`: model configurations and checkpoints at a glance.
 *   floe model list                        the built-in configs and their parameter counts
 *   floe model show <name|config.json|DIR> a config, its parameter count and tensor table
 *   floe model inspect <file.safetensors>  a checkpoint's tensors and metadata
 *   floe model init <name|config.json> <out.safetensors>   a freshly initialised checkpoint */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "models/model_config.h"
#include "models/param_names.h"
#include "models/safetensors.h"

static void print_count(const char *label, uint64_t n)
{
    printf("%-18s %" PRIu64 " (%.2f M)\n", label, n, (double)n / 1e6);
}

static int show(const char *what, int json)
{
    floe_model_config c;
    floe_err err;
    if (floe_model_config_load(what, &c, &err))
        return floe_cmd_fail("model", "%s", err.msg);
    if (json) {
        char *s = floe_model_config_to_json(&c);
        if (!s)
            return floe_cmd_fail("model", "out of memory");
        printf("%s\n", s);
        free(s);
        return 0;
    }
    printf("model              %s\n", c.name);
    printf("family             %s\n", floe_model_family_name(c.family));
    printf("vocab_size         %d\n", c.vocab_size);
    printf("d_model            %d\n", c.d_model);
    printf("n_layers           %d\n", c.n_layers);
    printf("n_heads            %d\n", c.n_heads);
    printf("n_kv_heads         %d\n", c.n_kv_heads);
    printf("head_dim           %d\n", c.head_dim);
    printf("ffn_dim            %d\n", c.ffn_dim);
    printf("context            %d\n", c.context);
    printf("rope_theta         %g\n", c.rope_theta);
    if (c.rope_scaling == FLOE_ROPE_LLAMA3)
        printf("rope_scaling       llama3: factor %g, low_freq_factor %g, high_freq_factor %g, original context %d\n",
               c.rope_factor, c.rope_low_freq_factor, c.rope_high_freq_factor, c.rope_original_context);
    if (c.family == FLOE_FAMILY_GRANITE)
        printf("multipliers        embedding %g, residual %g, attention %g, logits scaling %g\n",
               c.embedding_multiplier, c.residual_multiplier, c.attention_multiplier, c.logits_scaling);
    printf("rms_eps            %g\n", c.rms_eps);
    printf("tied_embeddings    %s\n", c.tied_embeddings ? "yes" : "no");
    print_count("parameters", floe_model_param_count(&c));
    printf("fp32 size          %.1f MiB\n", (double)floe_model_param_count(&c) * 4.0 / (1 << 20));
    floe_param_table t;
    if (floe_param_table_init(&t, &c, &err))
        return floe_cmd_fail("model", "%s", err.msg);
    printf("\n%-52s %-14s %14s %14s\n", "tensor", "shape", "elements", "offset");
    for (size_t i = 0; i < t.count; i++) {
        const floe_param *p = &t.params[i];
        char shape[48];
        if (p->ndim == 2)
            snprintf(shape, sizeof shape, "[%zu, %zu]", p->shape[0], p->shape[1]);
        else
            snprintf(shape, sizeof shape, "[%zu]", p->shape[0]);
        printf("%-52s %-14s %14zu %14zu\n", p->name, shape, p->numel, p->offset);
    }
    printf("%-52s %-14s %14zu\n", "total", "", t.total);
    floe_param_table_free(&t);
    return 0;
}

static int list(void)
{
    printf("%-12s %8s %7s %6s %5s %6s %8s %14s\n", "name", "d_model", "layers", "heads", "kv", "ffn", "context",
           "parameters");
    for (int i = 0; i < floe_model_config_builtin_count(); i++) {
        floe_model_config c;
        floe_err err;
        if (floe_model_config_builtin(floe_model_config_builtin_name(i), &c, &err))
            return floe_cmd_fail("model", "%s", err.msg);
        printf("%-12s %8d %7d %6d %5d %6d %8d %14" PRIu64 "\n", c.name, c.d_model, c.n_layers, c.n_heads,
               c.n_kv_heads, c.ffn_dim, c.context, floe_model_param_count(&c));
    }
    return 0;
}

static int inspect(const char *path)
{
    floe_st_file f;
    floe_err err;
    if (floe_st_open(&f, path, &err))
        return floe_cmd_fail("model", "%s", err.msg);
    printf("%s: %zu tensors, %" PRIu64 " bytes (header %" PRIu64 ")\n", path, f.n_tensors, f.file_size,
           f.data_start - 8);
    for (size_t i = 0; i < f.n_meta; i++) {
        const char *v = f.meta[i].value;
        printf("metadata %s = %.*s%s\n", f.meta[i].key, (int)strcspn(v, "\n"), v, strchr(v, '\n') ? " ..." : "");
    }
    for (size_t i = 0; i < f.n_tensors; i++) {
        const floe_st_tensor *t = &f.tensors[i];
        char shape[160];
        size_t k = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->ndim && k < sizeof shape; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%" PRIu64, d ? ", " : "", t->shape[d]);
        if (k < sizeof shape)
            snprintf(shape + k, sizeof shape - k, "]");
        printf("%-52s %-5s %-20s [%" PRIu64 ", %" PRIu64 ")\n", t->name, floe_st_dtype_name(t->dtype), shape,
               t->begin, t->end);
    }
    floe_st_close(&f);
    return 0;
}

static int init(const char *what, const char *out, long long seed)
{
    floe_model_config c;
    floe_err err;
    if (floe_model_config_load(what, &c, &err))
        return floe_cmd_fail("model", "%s", err.msg);
    floe_param_table t;
    if (floe_param_table_init(&t, &c, &err))
        return floe_cmd_fail("model", "%s", err.msg);
    float *p = malloc(t.total * sizeof *p);
    if (!p) {
        floe_param_table_free(&t);
        return floe_cmd_fail("model", "%s: out of memory for %zu parameters", c.name, t.total);
    }
    floe_param_init(&t, p, (uint64_t)seed);
    char seed_s[32];
    snprintf(seed_s, sizeof seed_s, "%lld", seed);
    const char *meta[] = {"floe.init_seed", seed_s};
    int rc = floe_st_save_params(out, &c, &t, p, meta, 1, &err);
    size_t total = t.total;
    free(p);
    floe_param_table_free(&t);
    if (rc)
        return floe_cmd_fail("model", "%s", err.msg);
    printf("%s: %s, %zu parameters, seed %lld\n", out, c.name, total, seed);
    return 0;
}

int floe_cmd_model(int argc, char **argv)
{
    int json = 0;
    long long seed = 1;
    const floe_opt opts[] = {
        {"json", FLOE_ARG_FLAG, &json, NULL, "show: print the config as a Hugging Face config.json instead", 0, 0, 0},
        {"seed", FLOE_ARG_INT, &seed, "S", "init: random seed (default 1)", 0, 9.2e18, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const floe_cmd_spec spec = {
        "model",
        "list | show <name|config.json|DIR> | inspect <file.safetensors> | init <name|config.json|DIR> <out>",
        "Model configurations and checkpoints.",
        "list     the built-in configs (tiny, S, M, granite-8b) and their parameter counts\n"
        "show     a config (built-in name, Hugging Face config.json or model folder): its fields, parameter\n"
        "         count and tensor table (Hugging Face Llama names, shapes, offsets into the flat\n"
        "         parameter buffer)\n"
        "inspect  a safetensors file's metadata and tensors (dtype, shape, data offsets)\n"
        "init     write a checkpoint of freshly initialised F32 weights (GPT-2 style, --seed)\n"
        "See docs/models.md.",
        opts,
        1,
        3};
    char *posv[3];
    int npos, rc = floe_args_parse_or_exit(&spec, argc, argv, posv, &npos);
    if (rc < 0) {
        const char *sub = posv[0];
        if (strcmp(sub, "list") == 0 && npos == 1)
            rc = list();
        else if (strcmp(sub, "show") == 0 && npos == 2)
            rc = show(posv[1], json);
        else if (strcmp(sub, "inspect") == 0 && npos == 2)
            rc = inspect(posv[1]);
        else if (strcmp(sub, "init") == 0 && npos == 3)
            rc = init(posv[1], posv[2], seed);
        else {
            fprintf(stderr, "floe model: error: expected 'list', 'show <name|config.json>', 'inspect <file>' or "
                            "'init <name|config.json> <out>' "
                            "(see 'floe model --help')\n");
            rc = 2;
        }
    }
    return rc;
}
