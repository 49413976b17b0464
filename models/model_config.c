#include "models/model_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file_read.h"
#include "models/hf_folder.h"

/* config.json files are small; anything bigger is not a config. */
#define CONFIG_MAX_BYTES (4u << 20)

typedef struct builtin {
    const char *name;
    int vocab, d, layers, heads, kv_heads, ffn, context, tied;
    double rope_theta; /* 0: 10000 */
    double llama3[4];  /* RoPE llama3 scaling: factor, low, high frequency factors, original context (0: none) */
} builtin;

/* tiny: 4 query heads over 2 KV heads so tests exercise grouped-query attention. granite-8b: the
 * shape of an 8B Granite model (Granite-3.3-8B), for latency/energy estimates with random weights.
 * northpole-3b: the 3B-class shape of NorthPole's 16-card LLM run (a model derived from
 * Granite-8B-Code-Base: d 4096, 14 layers, 32 heads over 8 KV heads, FFN 14336, vocabulary 49152;
 * docs/results.md compares its deployment with the published figures). smollm2-135m and llama-3.2-1b:
 * the shapes of Hugging Face's SmolLM2-135M and Meta's Llama-3.2-1B (random weights unless loaded), for
 * training at real size (docs/trainer.md, "Real shapes"). */
static const builtin builtins[] = {
    {"tiny", 256, 64, 2, 4, 2, 172, 64, 1, 0, {0}},
    {"S", 256, 256, 4, 4, 4, 688, 128, 1, 0, {0}},
    {"M", 256, 512, 8, 8, 8, 1376, 256, 1, 0, {0}},
    {"granite-8b", 49155, 4096, 40, 32, 8, 12800, 4096, 0, 0, {0}},
    {"northpole-3b", 49152, 4096, 14, 32, 8, 14336, 4096, 0, 0, {0}},
    {"smollm2-135m", 49152, 576, 30, 9, 3, 1536, 2048, 1, 100000.0, {0}},
    {"llama-3.2-1b", 128256, 2048, 16, 32, 8, 8192, 131072, 1, 500000.0, {32.0, 1.0, 4.0, 8192.0}},
};
#define N_BUILTINS ((int)(sizeof builtins / sizeof builtins[0]))

int floe_model_config_builtin_count(void) { return N_BUILTINS; }

const char *floe_model_config_builtin_name(int i) { return i >= 0 && i < N_BUILTINS ? builtins[i].name : NULL; }

int floe_model_config_builtin(const char *name, floe_model_config *cfg, floe_err *err)
{
    for (int i = 0; i < N_BUILTINS; i++) {
        const builtin *b = &builtins[i];
        if (strcmp(b->name, name) != 0)
            continue;
        memset(cfg, 0, sizeof *cfg);
        snprintf(cfg->name, sizeof cfg->name, "%s", b->name);
        cfg->vocab_size = b->vocab;
        cfg->d_model = b->d;
        cfg->n_layers = b->layers;
        cfg->n_heads = b->heads;
        cfg->n_kv_heads = b->kv_heads;
        cfg->head_dim = b->d / b->heads;
        cfg->ffn_dim = b->ffn;
        cfg->context = b->context;
        cfg->rope_theta = b->rope_theta > 0 ? b->rope_theta : 10000.0;
        cfg->rms_eps = 1e-5;
        cfg->tied_embeddings = b->tied;
        floe_model_config_llama_defaults(cfg);
        if (b->llama3[0] > 0) {
            cfg->rope_scaling = FLOE_ROPE_LLAMA3;
            cfg->rope_factor = b->llama3[0];
            cfg->rope_low_freq_factor = b->llama3[1];
            cfg->rope_high_freq_factor = b->llama3[2];
            cfg->rope_original_context = (int)b->llama3[3];
        }
        return floe_model_config_validate(cfg, name, err);
    }
    char names[256] = "";
    for (int i = 0; i < N_BUILTINS; i++) {
        strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, builtins[i].name, sizeof names - strlen(names) - 1);
    }
    return floe_err_set(err, "unknown model '%s' (built-in models: %s; or give a config.json path)", name, names);
}

static int check_range(long long v, long long lo, long long hi, const char *src, const char *field,
                       floe_err *err)
{
    if (v < lo || v > hi)
        return floe_err_set(err, "%s: %s = %lld: expected an integer in [%lld, %lld]", src, field, v, lo, hi);
    return 0;
}

void floe_model_config_llama_defaults(floe_model_config *c)
{
    c->family = FLOE_FAMILY_LLAMA;
    c->embedding_multiplier = 1.0;
    c->residual_multiplier = 1.0;
    c->attention_multiplier = c->head_dim > 0 ? 1.0 / sqrt((double)c->head_dim) : 1.0;
    c->logits_scaling = 1.0;
    c->rope_scaling = FLOE_ROPE_DEFAULT;
    c->rope_factor = c->rope_low_freq_factor = c->rope_high_freq_factor = 0.0;
    c->rope_original_context = 0;
}

const char *floe_model_family_name(floe_model_family f) { return f == FLOE_FAMILY_GRANITE ? "granite" : "llama"; }

/* A multiplier must be a positive finite number (1e-6 .. 1e6: far around any published value). */
static int check_multiplier(double v, const char *src, const char *field, floe_err *err)
{
    if (!(v >= 1e-6 && v <= 1e6))
        return floe_err_set(err, "%s: %s = %g: expected a number in [1e-6, 1e6]", src, field, v);
    return 0;
}

static int validate_extensions(const floe_model_config *c, const char *src, floe_err *err)
{
    if (c->family != FLOE_FAMILY_LLAMA && c->family != FLOE_FAMILY_GRANITE)
        return floe_err_set(err, "%s: family = %d: expected llama or granite", src, (int)c->family);
    if (c->family == FLOE_FAMILY_GRANITE &&
        (check_multiplier(c->embedding_multiplier, src, "embedding_multiplier", err) ||
         check_multiplier(c->residual_multiplier, src, "residual_multiplier", err) ||
         check_multiplier(c->attention_multiplier, src, "attention_multiplier", err) ||
         check_multiplier(c->logits_scaling, src, "logits_scaling", err)))
        return -1;
    if (c->rope_scaling == FLOE_ROPE_DEFAULT)
        return 0;
    if (c->rope_scaling != FLOE_ROPE_LLAMA3)
        return floe_err_set(err, "%s: rope_scaling = %d: expected none or llama3", src, (int)c->rope_scaling);
    if (!(c->rope_factor >= 1.0 && c->rope_factor <= 1e6))
        return floe_err_set(err, "%s: rope_scaling.factor = %g: expected a number in [1, 1e6]", src, c->rope_factor);
    if (!(c->rope_low_freq_factor > 0.0 && c->rope_low_freq_factor <= 1e6))
        return floe_err_set(err, "%s: rope_scaling.low_freq_factor = %g: expected a number in (0, 1e6]", src,
                            c->rope_low_freq_factor);
    /* the smooth band divides by high - low */
    if (!(c->rope_high_freq_factor > c->rope_low_freq_factor && c->rope_high_freq_factor <= 1e6))
        return floe_err_set(err, "%s: rope_scaling.high_freq_factor = %g: expected a number above low_freq_factor = %g",
                            src, c->rope_high_freq_factor, c->rope_low_freq_factor);
    return check_range(c->rope_original_context, 1, FLOE_MODEL_MAX_CONTEXT, src,
                       "rope_scaling.original_max_position_embeddings", err);
}

int floe_model_config_validate(const floe_model_config *c, const char *src, floe_err *err)
{
    if (check_range(c->vocab_size, 1, FLOE_MODEL_MAX_VOCAB, src, "vocab_size", err) ||
        check_range(c->d_model, 1, FLOE_MODEL_MAX_DIM, src, "d_model (hidden_size)", err) ||
        check_range(c->n_layers, 1, FLOE_MODEL_MAX_LAYERS, src, "n_layers (num_hidden_layers)", err) ||
        check_range(c->n_heads, 1, FLOE_MODEL_MAX_HEADS, src, "n_heads (num_attention_heads)", err) ||
        check_range(c->n_kv_heads, 1, FLOE_MODEL_MAX_HEADS, src, "n_kv_heads (num_key_value_heads)", err) ||
        check_range(c->ffn_dim, 1, FLOE_MODEL_MAX_FFN, src, "ffn_dim (intermediate_size)", err) ||
        check_range(c->context, 1, FLOE_MODEL_MAX_CONTEXT, src, "context (max_position_embeddings)", err))
        return -1;
    if (c->d_model % c->n_heads != 0)
        return floe_err_set(err, "%s: d_model (hidden_size) = %d is not divisible by n_heads (num_attention_heads) = %d",
                            src, c->d_model, c->n_heads);
    if (c->head_dim != c->d_model / c->n_heads)
        return floe_err_set(err, "%s: head_dim = %d, expected d_model / n_heads = %d", src, c->head_dim,
                            c->d_model / c->n_heads);
    if (c->head_dim % 2 != 0)
        return floe_err_set(err, "%s: head_dim = %d must be even (RoPE rotates pairs of dimensions)", src,
                            c->head_dim);
    if (c->n_heads % c->n_kv_heads != 0)
        return floe_err_set(err,
                            "%s: n_heads (num_attention_heads) = %d is not divisible by n_kv_heads "
                            "(num_key_value_heads) = %d",
                            src, c->n_heads, c->n_kv_heads);
    if (!(c->rope_theta > 1.0 && c->rope_theta < 1e12))
        return floe_err_set(err, "%s: rope_theta = %g: expected a number in (1, 1e12)", src, c->rope_theta);
    if (!(c->rms_eps > 0.0 && c->rms_eps < 1.0))
        return floe_err_set(err, "%s: rms_eps (rms_norm_eps) = %g: expected a number in (0, 1)", src, c->rms_eps);
    if (c->tied_embeddings != 0 && c->tied_embeddings != 1)
        return floe_err_set(err, "%s: tied_embeddings = %d: expected 0 or 1", src, c->tied_embeddings);
    return validate_extensions(c, src, err);
}

uint64_t floe_model_param_count(const floe_model_config *c)
{
    uint64_t d = (uint64_t)c->d_model, v = (uint64_t)c->vocab_size, f = (uint64_t)c->ffn_dim;
    uint64_t q = (uint64_t)c->n_heads * (uint64_t)c->head_dim, kv = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
    uint64_t layer = 2 * d /* two RMSNorm gains */ + d * q + 2 * d * kv + q * d + 3 * d * f;
    return v * d + (uint64_t)c->n_layers * layer + d + (c->tied_embeddings ? 0 : v * d);
}

/* --- config.json ------------------------------------------------------------------------------ */

/* An integer-valued JSON number under `key`; *present = 0 if the key is absent (or null). */
static int json_int(const cJSON *root, const char *key, int required, long long *out, int *present,
                    const char *src, floe_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    *present = it && !cJSON_IsNull(it);
    if (!*present)
        return required ? floe_err_set(err, "%s: missing key '%s'", src, key) : 0;
    if (!cJSON_IsNumber(it))
        return floe_err_set(err, "%s: key '%s': expected an integer", src, key);
    double v = it->valuedouble;
    if (!(v == floor(v)) || fabs(v) > 9007199254740992.0)
        return floe_err_set(err, "%s: key '%s' = %g: expected an integer", src, key, v);
    if (v > (double)INT32_MAX || v < (double)INT32_MIN)
        return floe_err_set(err, "%s: key '%s' = %.0f: out of range", src, key, v);
    *out = (long long)v;
    return 0;
}

static int json_num(const cJSON *root, const char *key, double *out, const char *src, floe_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsNumber(it))
        return floe_err_set(err, "%s: key '%s': expected a number", src, key);
    *out = it->valuedouble;
    return 0;
}

static int json_bool(const cJSON *root, const char *key, int *out, const char *src, floe_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsBool(it))
        return floe_err_set(err, "%s: key '%s': expected true or false", src, key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return 0;
}

/* Features of other architectures that this reference model does not have: refuse them rather than
 * silently describe a different network. */
static int check_unsupported(const cJSON *root, const char *src, floe_err *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (it && !cJSON_IsNull(it) && !(cJSON_IsString(it) && strcmp(it->valuestring, "silu") == 0))
        return floe_err_set(err, "%s: key 'hidden_act': only \"silu\" (SwiGLU) is supported", src);
    const char *bias_keys[] = {"attention_bias", "mlp_bias"};
    for (int i = 0; i < 2; i++) {
        it = cJSON_GetObjectItemCaseSensitive(root, bias_keys[i]);
        if (it && cJSON_IsTrue(it))
            return floe_err_set(err, "%s: key '%s': biases are not supported (the reference model has none)", src,
                                bias_keys[i]);
    }
    return 0;
}

/* The family from 'architectures' (first entry) and 'model_type'; a config naming neither is a Llama
 * (as Floe's own config.json files before 2026-12-06). Both, when present, must agree. */
static int parse_family(const cJSON *root, floe_model_family *fam, const char *src, floe_err *err)
{
    static const struct {
        const char *arch, *type;
        floe_model_family family;
    } known[] = {{"LlamaForCausalLM", "llama", FLOE_FAMILY_LLAMA},
                 {"GraniteForCausalLM", "granite", FLOE_FAMILY_GRANITE}};
    int by_arch = -1, by_type = -1;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    if (a && !cJSON_IsNull(a)) {
        const cJSON *first = cJSON_IsArray(a) ? cJSON_GetArrayItem(a, 0) : NULL;
        if (!cJSON_IsString(first) || cJSON_GetArraySize(a) != 1)
            return floe_err_set(err, "%s: key 'architectures': expected an array of one string", src);
        for (int i = 0; i < 2; i++)
            if (strcmp(first->valuestring, known[i].arch) == 0)
                by_arch = i;
        if (by_arch < 0)
            return floe_err_set(err,
                                "%s: key 'architectures': \"%s\" is not supported (Floe reads LlamaForCausalLM and "
                                "GraniteForCausalLM)",
                                src, first->valuestring);
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsString(t))
            return floe_err_set(err, "%s: key 'model_type': expected a string", src);
        for (int i = 0; i < 2; i++)
            if (strcmp(t->valuestring, known[i].type) == 0)
                by_type = i;
        if (by_type < 0)
            return floe_err_set(err, "%s: key 'model_type': \"%s\" is not supported (Floe reads llama and granite)",
                                src, t->valuestring);
    }
    if (by_arch >= 0 && by_type >= 0 && by_arch != by_type)
        return floe_err_set(err, "%s: key 'model_type': \"%s\" contradicts 'architectures' \"%s\"", src,
                            known[by_type].type, known[by_arch].arch);
    int k = by_arch >= 0 ? by_arch : by_type;
    *fam = k >= 0 ? known[k].family : FLOE_FAMILY_LLAMA;
    return 0;
}

static const char *const granite_keys[] = {"embedding_multiplier", "residual_multiplier", "attention_multiplier",
                                           "logits_scaling"};

/* Granite's multipliers (GraniteConfig's defaults, all 1, for absent keys); a Llama naming one is
 * refused: reading it as a Llama would silently drop the multiplier. */
static int parse_multipliers(const cJSON *root, floe_model_config *c, const char *src, floe_err *err)
{
    double *dst[] = {&c->embedding_multiplier, &c->residual_multiplier, &c->attention_multiplier, &c->logits_scaling};
    for (int i = 0; i < 4; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, granite_keys[i]);
        if (c->family != FLOE_FAMILY_GRANITE) {
            if (it && !cJSON_IsNull(it))
                return floe_err_set(err,
                                    "%s: key '%s': a Granite multiplier in a Llama config (model_type is not "
                                    "\"granite\")",
                                    src, granite_keys[i]);
            continue;
        }
        *dst[i] = 1.0;
        if (json_num(root, granite_keys[i], dst[i], src, err))
            return -1;
    }
    return 0;
}

/* A string member of obj (NULL if absent). */
static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* RoPE: transformers 4's 'rope_theta' + 'rope_scaling' {rope_type|type, factor, ...} or transformers 5's
 * 'rope_parameters' {rope_theta, rope_type, factor, ...}. Types "default" (none) and "llama3" only. */
static int parse_rope(const cJSON *root, floe_model_config *c, const char *src, floe_err *err)
{
    if (json_num(root, "rope_theta", &c->rope_theta, src, err))
        return -1;
    static const char *const keys[] = {"rope_scaling", "rope_parameters"};
    for (int k = 0; k < 2; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, keys[k]);
        if (!o || cJSON_IsNull(o))
            continue;
        if (!cJSON_IsObject(o))
            return floe_err_set(err, "%s: key '%s': expected an object or null", src, keys[k]);
        char in[512]; /* errors inside name the object: "config.json: 'rope_scaling': key 'factor' ..." */
        snprintf(in, sizeof in, "%s: '%s'", src, keys[k]);
        if (json_num(o, "rope_theta", &c->rope_theta, in, err))
            return -1;
        const char *type = json_str(o, "rope_type");
        if (!type)
            type = json_str(o, "type");
        if (!type)
            return floe_err_set(err, "%s: key '%s': no 'rope_type'", src, keys[k]);
        if (strcmp(type, "default") == 0)
            continue;
        if (strcmp(type, "llama3") != 0)
            return floe_err_set(err,
                                "%s: key '%s': rope_type \"%s\" is not supported (expected \"default\" or "
                                "\"llama3\")",
                                src, keys[k], type);
        long long orig = 0;
        int have = 0;
        c->rope_scaling = FLOE_ROPE_LLAMA3;
        if (json_num(o, "factor", &c->rope_factor, in, err) ||
            json_num(o, "low_freq_factor", &c->rope_low_freq_factor, in, err) ||
            json_num(o, "high_freq_factor", &c->rope_high_freq_factor, in, err) ||
            json_int(o, "original_max_position_embeddings", 1, &orig, &have, in, err))
            return -1;
        c->rope_original_context = (int)orig;
        if (c->rope_factor == 0.0 || c->rope_low_freq_factor == 0.0 || c->rope_high_freq_factor == 0.0)
            return floe_err_set(err, "%s: key '%s': llama3 needs factor, low_freq_factor and high_freq_factor", src,
                                keys[k]);
    }
    return 0;
}

int floe_model_config_parse_json(const char *json, size_t len, const char *src, floe_model_config *cfg,
                                 floe_err *err)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return floe_err_set(err, "%s: not valid JSON", src);
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        floe_err_set(err, "%s: expected a JSON object", src);
        goto out;
    }
    floe_model_config c;
    memset(&c, 0, sizeof c);
    long long v = 0;
    int have = 0;
    struct {
        const char *key;
        int *dst;
        int required;
    } ints[] = {
        {"vocab_size", &c.vocab_size, 1},
        {"hidden_size", &c.d_model, 1},
        {"num_hidden_layers", &c.n_layers, 1},
        {"num_attention_heads", &c.n_heads, 1},
        {"intermediate_size", &c.ffn_dim, 1},
        {"num_key_value_heads", &c.n_kv_heads, 0},
        {"max_position_embeddings", &c.context, 0},
    };
    /* Hugging Face LlamaConfig defaults for the optional keys. */
    c.context = 2048;
    c.rope_theta = 10000.0;
    c.rms_eps = 1e-6;
    c.tied_embeddings = 0;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if (json_int(root, ints[i].key, ints[i].required, &v, &have, src, err))
            goto out;
        if (have)
            *ints[i].dst = (int)v;
    }
    if (c.n_kv_heads == 0)
        c.n_kv_heads = c.n_heads;
    if (c.n_heads > 0)
        c.head_dim = c.d_model / c.n_heads;
    if (json_int(root, "head_dim", 0, &v, &have, src, err))
        goto out;
    if (have && c.n_heads > 0 && v != c.head_dim) {
        floe_err_set(err, "%s: key 'head_dim' = %lld: expected hidden_size / num_attention_heads = %d", src, v,
                     c.head_dim);
        goto out;
    }
    floe_model_config_llama_defaults(&c);
    if (parse_family(root, &c.family, src, err) || parse_multipliers(root, &c, src, err) ||
        parse_rope(root, &c, src, err) || json_num(root, "rms_norm_eps", &c.rms_eps, src, err) ||
        json_bool(root, "tie_word_embeddings", &c.tied_embeddings, src, err) || check_unsupported(root, src, err))
        goto out;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "_name_or_path");
    const char *base = strrchr(src, '/');
    snprintf(c.name, sizeof c.name, "%s",
             cJSON_IsString(nm) && nm->valuestring[0] ? nm->valuestring : (base ? base + 1 : src));
    if (floe_model_config_validate(&c, src, err))
        goto out;
    *cfg = c;
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

int floe_model_config_read(const char *path, floe_model_config *cfg, floe_err *err)
{
    char *data;
    size_t len;
    if (floe_read_file(path, CONFIG_MAX_BYTES, &data, &len, err))
        return -1;
    int rc = floe_model_config_parse_json(data, len, path, cfg, err);
    free(data);
    return rc;
}

int floe_model_config_load(const char *name_or_path, floe_model_config *cfg, floe_err *err)
{
    for (int i = 0; i < N_BUILTINS; i++)
        if (strcmp(builtins[i].name, name_or_path) == 0)
            return floe_model_config_builtin(name_or_path, cfg, err);
    if (floe_hf_is_folder(name_or_path))
        return floe_hf_folder_config(name_or_path, cfg, err);
    if (strchr(name_or_path, '/') || strstr(name_or_path, ".json"))
        return floe_model_config_read(name_or_path, cfg, err);
    return floe_model_config_builtin(name_or_path, cfg, err);
}

/* A double as the shortest of %.15g, %.16g, %.17g that reads back to the same bits: cJSON's own
 * printing accepts a 15-digit form within an epsilon, which loses the last bits of e.g. 8.022222222222222
 * (found by fuzz/fuzz_hf_json.c). Values cJSON printed exactly come out as the same text. */
static void add_double(cJSON *o, const char *key, double v)
{
    char buf[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    cJSON_AddRawToObject(o, key, buf);
}

char *floe_model_config_to_json(const floe_model_config *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int granite = c->family == FLOE_FAMILY_GRANITE;
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    if (arch)
        cJSON_AddItemToArray(arch, cJSON_CreateString(granite ? "GraniteForCausalLM" : "LlamaForCausalLM"));
    cJSON_AddStringToObject(o, "model_type", floe_model_family_name(c->family));
    cJSON_AddStringToObject(o, "_name_or_path", c->name);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "hidden_size", c->d_model);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "intermediate_size", c->ffn_dim);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->context);
    add_double(o, "rope_theta", c->rope_theta);
    add_double(o, "rms_norm_eps", c->rms_eps);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied_embeddings);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddBoolToObject(o, "attention_bias", 0);
    cJSON_AddBoolToObject(o, "mlp_bias", 0);
    if (c->rope_scaling == FLOE_ROPE_LLAMA3) {
        cJSON *r = cJSON_AddObjectToObject(o, "rope_scaling");
        if (r) {
            cJSON_AddStringToObject(r, "rope_type", "llama3");
            add_double(r, "factor", c->rope_factor);
            add_double(r, "low_freq_factor", c->rope_low_freq_factor);
            add_double(r, "high_freq_factor", c->rope_high_freq_factor);
            cJSON_AddNumberToObject(r, "original_max_position_embeddings", c->rope_original_context);
        }
    } else
        cJSON_AddNullToObject(o, "rope_scaling");
    if (granite) {
        const double v[] = {c->embedding_multiplier, c->residual_multiplier, c->attention_multiplier,
                            c->logits_scaling};
        for (int i = 0; i < 4; i++)
            add_double(o, granite_keys[i], v[i]);
    }
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}
