/* Hugging Face model folders (models/hf_folder.h): the committed fixtures (tests/fixtures/hf/, made by
 * scripts/hf_fixtures.py) load with every tensor checked; folders broken one way at a time are refused
 * with the file and tensor named; Granite and llama3 configs parse and round-trip. The logits of the
 * loaded models against transformers' are checked in tests/trainer/test_hf_model.c. */
#include "tests/test_util.h"

#include <math.h>

#include "models/half.h"
#include "models/hf_folder.h"
#include "models/model_config.h"
#include "models/qmodel.h"
#include "models/safetensors.h"

static const char *fixture(const char *name)
{
    static char path[4096];
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/hf/%s", src ? src : ".", name);
    return path;
}

static void sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("failed: %s", cmd);
}

/* Loads dir; returns the rc and leaves the message in err. */
static int load(const char *dir, floe_model_config *c, float **params, floe_err *err)
{
    *params = NULL;
    if (floe_hf_folder_config(dir, c, err) != 0)
        return -1;
    floe_param_table t;
    assert_int_equal(floe_param_table_init(&t, c, err), 0);
    *params = calloc(t.total, sizeof(float));
    assert_non_null(*params);
    int rc = floe_hf_folder_load_params(dir, c, &t, *params, err);
    floe_param_table_free(&t);
    return rc;
}

static void expect_refused(const char *dir, const char *text)
{
    floe_model_config c;
    float *p;
    floe_err err;
    assert_int_equal(load(dir, &c, &p, &err), -1);
    free(p);
    if (!strstr(err.msg, text))
        fail_msg("expected '%s' in: %s", text, err.msg);
}

static void test_fixtures_load(void **state)
{
    (void)state;
    floe_model_config c;
    float *p;
    floe_err err;
    if (load(fixture("llama-tiny"), &c, &p, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c.family, FLOE_FAMILY_LLAMA);
    assert_int_equal(c.vocab_size, 701);
    assert_int_equal(c.n_kv_heads, 2);
    assert_false(c.tied_embeddings);
    assert_int_equal(c.rope_scaling, FLOE_ROPE_LLAMA3);
    assert_true(c.rope_theta == 500000.0 && c.rope_factor == 8.0 && c.rope_low_freq_factor == 1.0 &&
                c.rope_high_freq_factor == 4.0 && c.rope_original_context == 16);
    /* BF16 widened exactly: the embedding equals the safetensors reader's own conversion */
    floe_st_file f;
    char shard[4200];
    snprintf(shard, sizeof shard, "%s/model-00001-of-00006.safetensors", fixture("llama-tiny"));
    assert_int_equal(floe_st_open(&f, shard, &err), 0);
    int i = floe_st_find(&f, "model.embed_tokens.weight");
    assert_true(i >= 0);
    float *all = calloc(701 * 64, sizeof(float));
    assert_int_equal(floe_st_read_f32(&f, (size_t)i, all, 701 * 64, &err), 0);
    floe_st_close(&f);
    assert_memory_equal(all, p, 701 * 64 * sizeof(float));
    free(all);
    free(p);

    if (load(fixture("granite-tiny"), &c, &p, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(c.family, FLOE_FAMILY_GRANITE);
    assert_true(c.tied_embeddings);
    assert_true(c.embedding_multiplier == 12.0 && c.residual_multiplier == 0.22 && c.attention_multiplier == 0.0625 &&
                c.logits_scaling == 8.0);
    assert_true(c.rms_eps == 1e-6);
    assert_int_equal(c.rope_scaling, FLOE_ROPE_DEFAULT);
    free(p);
}

/* A copy of llama-tiny (sharded) in a fresh folder. */
static const char *copy_llama(const char *name)
{
    const char *dir = floe_test_tmpdir(name);
    const char *src = fixture("llama-tiny");
    sh("cp '%s'/config.json '%s'/model*.safetensors* '%s'/", src, src, dir);
    return dir;
}

static void test_sharded_refusals(void **state)
{
    (void)state;
    const char *dir = copy_llama("hf-missing-shard");
    sh("rm '%s'/model-00003-of-00006.safetensors", dir);
    expect_refused(dir, "shard 'model-00003-of-00006.safetensors' of ");

    dir = copy_llama("hf-escape");
    sh("sed -i 's|\"model.norm.weight\": \"model-00006|\"model.norm.weight\": \"../model-00006|' "
       "'%s'/model.safetensors.index.json",
       dir);
    expect_refused(dir, "weight_map: tensor 'model.norm.weight': shard '../model-00006-of-00006.safetensors' is not "
                        "a file name in the model folder");

    /* the index names a tensor its shard lacks */
    dir = copy_llama("hf-index-extra");
    sh("sed -i 's|\"model.norm.weight\": |\"model.layers.0.mlp.extra.weight\": \"model-00001-of-00006.safetensors\", "
       "\"model.norm.weight\": |' '%s'/model.safetensors.index.json",
       dir);
    expect_refused(dir, "tensor 'model.layers.0.mlp.extra.weight' is not in shard 'model-00001-of-00006.safetensors'");

    /* the index puts a tensor in another shard than the one holding it */
    dir = copy_llama("hf-index-moved");
    sh("sed -i 's|\"model.norm.weight\": \"model-00006|\"model.norm.weight\": \"model-00005|' "
       "'%s'/model.safetensors.index.json",
       dir);
    expect_refused(dir, "model-00005-of-00006.safetensors: tensor 'model.norm.weight' is not in shard "
                        "'model-00005-of-00006.safetensors' (");

    /* a parameter in no shard */
    dir = copy_llama("hf-index-missing");
    sh("sed -i '/\"model.norm.weight\"/d; s|\"model.layers.1.self_attn.v_proj.weight\": "
       "\"model-00003-of-00006.safetensors\",|"
       "\"model.layers.1.self_attn.v_proj.weight\": \"model-00003-of-00006.safetensors\"|' "
       "'%s'/model.safetensors.index.json",
       dir);
    expect_refused(dir, "model-00006-of-00006.safetensors: tensor 'model.norm.weight' is not in ");

    dir = copy_llama("hf-no-weights");
    sh("rm '%s'/model*.safetensors*", dir);
    expect_refused(dir, "no model.safetensors and no model.safetensors.index.json");
}

/* Writes dir/model.safetensors from granite-tiny's tensors, F32, with one change:
 * kind 0 none, 1 first layernorm as I32, 2 q_proj transposed, 3 an extra tensor, 4 o_proj dropped,
 * 5 lm_head = embed (tied: accepted), 6 lm_head = embed with one value changed. */
static const char *write_granite(const char *name, int kind)
{
    const char *dir = floe_test_tmpdir(name);
    static char out[4200];
    snprintf(out, sizeof out, "%s", dir);
    sh("cp '%s'/config.json '%s'/", fixture("granite-tiny"), out);
    floe_model_config c;
    float *p;
    floe_err err;
    if (load(fixture("granite-tiny"), &c, &p, &err) != 0)
        fail_msg("%s", err.msg);
    floe_param_table t;
    assert_int_equal(floe_param_table_init(&t, &c, &err), 0);
    floe_st_entry *e = calloc(t.count + 2, sizeof *e);
    size_t n = 0;
    float *head = NULL;
    for (size_t i = 0; i < t.count; i++) {
        const floe_param *q = &t.params[i];
        if (kind == 4 && strcmp(q->name, "model.layers.1.self_attn.o_proj.weight") == 0)
            continue;
        floe_st_entry x = {q->name, FLOE_ST_F32, q->ndim, {q->shape[0], q->shape[1]}, p + q->offset};
        if (kind == 1 && strcmp(q->name, "model.layers.0.input_layernorm.weight") == 0)
            x.dtype = FLOE_ST_I32;
        if (kind == 2 && strcmp(q->name, "model.layers.0.self_attn.k_proj.weight") == 0)
            x.shape[0] = q->shape[1], x.shape[1] = q->shape[0];
        e[n++] = x;
    }
    if (kind == 3)
        e[n++] = (floe_st_entry){"model.layers.0.self_attn.q_norm.weight", FLOE_ST_F32, 1, {64}, p};
    if (kind >= 5) {
        head = malloc(701 * 64 * sizeof(float));
        memcpy(head, p, 701 * 64 * sizeof(float));
        if (kind == 6)
            head[100] = nextafterf(head[100], 1.0f);
        e[n++] = (floe_st_entry){"lm_head.weight", FLOE_ST_F32, 2, {701, 64}, head};
    }
    char path[4300];
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    if (floe_st_write(path, e, n, NULL, 0, &err) != 0)
        fail_msg("%s", err.msg);
    free(head);
    free(e);
    free(p);
    floe_param_table_free(&t);
    return out;
}

static void test_single_file_refusals(void **state)
{
    (void)state;
    floe_model_config c;
    float *p, *ref;
    floe_err err;
    /* F32 rewrite of the F16 fixture: the same values */
    assert_int_equal(load(write_granite("hf-f32", 0), &c, &p, &err), 0);
    assert_int_equal(load(fixture("granite-tiny"), &c, &ref, &err), 0);
    assert_memory_equal(p, ref, 114816 * sizeof(float));
    free(p);
    assert_int_equal(load(write_granite("hf-tied-equal", 5), &c, &p, &err), 0);
    free(p);
    free(ref);
    expect_refused(write_granite("hf-dtype", 1),
                   "model.safetensors: tensor 'model.layers.0.input_layernorm.weight': dtype I32, expected F32, F16 "
                   "or BF16");
    expect_refused(write_granite("hf-shape", 2),
                   "model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight': shape [64, 16], expected "
                   "[16, 64]");
    expect_refused(write_granite("hf-unknown", 3),
                   "model.safetensors: tensor 'model.layers.0.self_attn.q_norm.weight' is not a parameter of this "
                   "granite model");
    expect_refused(write_granite("hf-missing", 4),
                   "tensor 'model.layers.1.self_attn.o_proj.weight' missing (not in model.safetensors)");
    expect_refused(write_granite("hf-tied-differs", 6),
                   "lm_head.weight differs from model.embed_tokens.weight, but config.json ties them");
}

static void test_architecture_refused(void **state)
{
    (void)state;
    const char *dir = write_granite("hf-arch", 0);
    sh("sed -i 's|GraniteForCausalLM|MistralForCausalLM|' '%s'/config.json", dir);
    expect_refused(dir, "config.json: key 'architectures': \"MistralForCausalLM\" is not supported (Floe reads "
                        "LlamaForCausalLM and GraniteForCausalLM)");
    sh("sed -i 's|MistralForCausalLM|LlamaForCausalLM|' '%s'/config.json", dir);
    expect_refused(dir, "config.json: key 'model_type': \"granite\" contradicts 'architectures' \"LlamaForCausalLM\"");
    sh("sed -i 's|\"granite\"|\"mistral\"|' '%s'/config.json", dir);
    expect_refused(dir, "config.json: key 'model_type': \"mistral\" is not supported (Floe reads llama and granite)");
    /* Granite keys in a config without a model_type or architectures: not silently dropped */
    floe_model_config c;
    floe_err err;
    const char *j = "{\"vocab_size\": 8, \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                    "\"intermediate_size\": 8, \"rms_norm_eps\": 1e-5, \"residual_multiplier\": 0.5}";
    assert_int_equal(floe_model_config_parse_json(j, strlen(j), "x.json", &c, &err), -1);
    assert_string_equal(err.msg, "x.json: key 'residual_multiplier': a Granite multiplier in a Llama config "
                                 "(model_type is not \"granite\")");
    const char *y = "{\"vocab_size\": 8, \"hidden_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
                    "\"intermediate_size\": 8, \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}}";
    assert_int_equal(floe_model_config_parse_json(y, strlen(y), "y.json", &c, &err), -1);
    assert_string_equal(err.msg, "y.json: key 'rope_scaling': rope_type \"yarn\" is not supported (expected "
                                 "\"default\" or \"llama3\")");
}

static int same_config(const floe_model_config *a, const floe_model_config *b)
{
    return a->family == b->family && a->vocab_size == b->vocab_size && a->d_model == b->d_model &&
           a->n_layers == b->n_layers && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
           a->head_dim == b->head_dim && a->ffn_dim == b->ffn_dim && a->context == b->context &&
           a->rope_theta == b->rope_theta && a->rms_eps == b->rms_eps && a->tied_embeddings == b->tied_embeddings &&
           a->embedding_multiplier == b->embedding_multiplier && a->residual_multiplier == b->residual_multiplier &&
           a->attention_multiplier == b->attention_multiplier && a->logits_scaling == b->logits_scaling &&
           a->rope_scaling == b->rope_scaling && a->rope_factor == b->rope_factor &&
           a->rope_low_freq_factor == b->rope_low_freq_factor && a->rope_high_freq_factor == b->rope_high_freq_factor &&
           a->rope_original_context == b->rope_original_context;
}

/* Both fixtures' configs survive floe_model_config_to_json (what every Floe checkpoint and quantized
 * model stores), and transformers 4's rope_theta + rope_scaling reads as transformers 5's
 * rope_parameters. */
static void test_config_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"granite-tiny", "llama-tiny"};
    for (int k = 0; k < 2; k++) {
        floe_model_config a, b;
        floe_err err;
        assert_int_equal(floe_model_config_load(fixture(names[k]), &a, &err), 0);
        char *j = floe_model_config_to_json(&a);
        assert_non_null(j);
        if (floe_model_config_parse_json(j, strlen(j), "round trip", &b, &err) != 0)
            fail_msg("%s\n%s", err.msg, j);
        assert_true(same_config(&a, &b));
        assert_non_null(strstr(j, k == 0 ? "\"GraniteForCausalLM\"" : "\"LlamaForCausalLM\""));
        free(j);
    }
    const char *v4 = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 701, "
                     "\"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
                     "\"num_key_value_heads\": 2, \"head_dim\": 16, \"intermediate_size\": 160, "
                     "\"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0, "
                     "\"rope_scaling\": {\"type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
                     "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16}, "
                     "\"tie_word_embeddings\": false}";
    floe_model_config a, b;
    floe_err err;
    assert_int_equal(floe_model_config_load(fixture("llama-tiny"), &a, &err), 0);
    assert_int_equal(floe_model_config_parse_json(v4, strlen(v4), "v4.json", &b, &err), 0);
    assert_true(same_config(&a, &b));
    /* doubles whose 15-digit form is off by an ulp (cJSON accepts it within an epsilon): written with
     * enough digits to read back exactly (found by fuzz/fuzz_hf_json.c) */
    a.rope_factor = 8.0222222222222222;
    a.rms_eps = 1.0 / 3.0 * 1e-5;
    char *j = floe_model_config_to_json(&a);
    assert_int_equal(floe_model_config_parse_json(j, strlen(j), "round trip", &b, &err), 0);
    assert_true(b.rope_factor == a.rope_factor && b.rms_eps == a.rms_eps);
    free(j);
}

/* The integer contract computes both fixtures (docs/quantized-model.md, "Granite and llama3 RoPE"): a
 * Granite's multipliers are folded into the derived multipliers (residual_multiplier into o_proj's and
 * down_proj's rows, 1 / logits_scaling into the LM head's, attention_multiplier in place of
 * 1 / sqrt(head_dim) in the scores'), llama3's frequencies into the RoPE tables; a Llama's are as before. */
static void test_integer_contract(void **state)
{
    (void)state;
    floe_model_config c;
    floe_qmodel q, p;
    floe_err err;
    floe_qconfig qc = floe_qconfig_default();
    assert_int_equal(floe_model_config_load(fixture("granite-tiny"), &c, &err), 0);
    assert_string_equal(c.name, "granite-tiny"); /* no _name_or_path: the folder's name */
    assert_int_equal(floe_qmodel_random(&q, &c, &qc, 3, &err), 0);
    floe_model_config plain = c;
    floe_model_config_llama_defaults(&plain);
    assert_int_equal(floe_qmodel_random(&p, &plain, &qc, 3, &err), 0); /* the same steps and codes */
    const floe_qlayer *L = &q.layers[1];
    floe_requant_mult want;
    assert_int_equal(floe_requant_mult_from_real((double)L->s_o_in * L->o.s_w[5] * 0.22 / q.s_res, &want), 0);
    assert_true(L->o.m[5].m == want.m && L->o.m[5].shift == want.shift);
    assert_int_equal(floe_requant_mult_from_real((double)L->s_down_in * L->down.s_w[0] * 0.22 / q.s_res, &want), 0);
    assert_true(L->down.m[0].m == want.m && L->down.m[0].shift == want.shift);
    assert_int_equal(floe_requant_mult_from_real((double)q.s_head_in * q.head.s_w[7] * (1.0 / 8.0) / q.s_logit, &want),
                     0);
    assert_true(q.head.m[7].m == want.m && q.head.m[7].shift == want.shift);
    assert_int_equal(
        floe_requant_mult_from_real((double)L->s_q * L->s_kc * 1.4426950408889634074 * 256.0 * 0.0625, &want), 0);
    assert_true(L->m_score.m == want.m && L->m_score.shift == want.shift);
    /* read as a Llama: 1 / sqrt(16) = 0.25 in the scores, nothing in o, down and the head */
    assert_true(p.layers[1].m_score.shift == L->m_score.shift - 2 && p.layers[1].m_score.m == L->m_score.m);
    assert_true(p.layers[1].q.m[3].m == L->q.m[3].m && p.layers[1].o.m[5].m != L->o.m[5].m);
    floe_qmodel_free(&q);
    floe_qmodel_free(&p);

    assert_int_equal(floe_model_config_load(fixture("llama-tiny"), &c, &err), 0);
    assert_int_equal(floe_qmodel_random(&q, &c, &qc, 3, &err), 0);
    plain = c;
    plain.rope_scaling = FLOE_ROPE_DEFAULT;
    assert_int_equal(floe_qmodel_random(&p, &plain, &qc, 3, &err), 0);
    /* the last pair (the lowest frequency, wavelength far above the original context 16) turns at
     * theta^(-2(h-1)/hd) / factor */
    const int h = c.head_dim / 2, pos = 200;
    double a = pos * (pow(500000.0, -2.0 * (h - 1) / c.head_dim) / 8.0);
    assert_int_equal(q.rope.sin[pos * h + h - 1], (int)floor(sin(a) * 16384.0 + 0.5));
    assert_int_not_equal(q.rope.sin[pos * h + h - 1], p.rope.sin[pos * h + h - 1]);
    floe_qmodel_free(&q);
    floe_qmodel_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_load),        cmocka_unit_test(test_sharded_refusals),
        cmocka_unit_test(test_single_file_refusals), cmocka_unit_test(test_architecture_refused),
        cmocka_unit_test(test_config_round_trip),    cmocka_unit_test(test_integer_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
