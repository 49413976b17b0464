/* Model configs: built-ins, Hugging Face config.json parsing, validation errors, JSON round trip. */
#include "tests/test_util.h"

#include "common/atomic_file.h"
#include "models/model_config.h"

static void test_builtins(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    assert_int_equal(c.vocab_size, 256);
    assert_int_equal(c.d_model, 64);
    assert_int_equal(c.n_heads, 4);
    assert_int_equal(c.n_kv_heads, 2); /* grouped-query attention in the test model */
    assert_int_equal(c.head_dim, 16);
    assert_true(c.tied_embeddings);
    assert_true(c.rope_theta == 10000.0 && c.rms_eps == 1e-5);
    /* tiny by hand: 256*64 + 2*(2*64 + 64*64 + 2*32*64 + 64*64 + 3*64*172) + 64 */
    assert_int_equal(floe_model_param_count(&c), 107328);

    assert_int_equal(floe_model_config_builtin("S", &c, &err), 0);
    assert_int_equal(c.d_model, 256);
    assert_int_equal(c.n_layers, 4);
    assert_int_equal(c.ffn_dim, 688);
    assert_int_equal(c.context, 128);
    assert_int_equal(floe_model_param_count(&c), 3229952);

    assert_int_equal(floe_model_config_builtin("M", &c, &err), 0);
    assert_int_equal(c.d_model, 512);
    assert_int_equal(c.n_layers, 8);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.ffn_dim, 1376);
    assert_int_equal(c.context, 256);

    assert_int_equal(floe_model_config_builtin("granite-8b", &c, &err), 0);
    assert_int_equal(c.n_layers, 40);
    assert_int_equal(c.head_dim, 128);
    assert_false(c.tied_embeddings);
    uint64_t d = 4096, v = 49155, kv = 1024, f = 12800;
    assert_true(floe_model_param_count(&c) == 2 * v * d + 40 * (2 * d + 2 * d * d + 2 * d * kv + 3 * d * f) + d);

    /* NorthPole's 16-card LLM: a 3B-class model (about 3.6e9 parameters with its untied head) */
    assert_int_equal(floe_model_config_builtin("northpole-3b", &c, &err), 0);
    assert_int_equal(c.n_layers, 14);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.ffn_dim, 14336);
    v = 49152, f = 14336;
    assert_true(floe_model_param_count(&c) == 2 * v * d + 14 * (2 * d + 2 * d * d + 2 * d * kv + 3 * d * f) + d);

    /* Hugging Face's published parameter counts: SmolLM2-135M 134,515,008; Llama-3.2-1B 1,235,814,400 */
    assert_int_equal(floe_model_config_builtin("smollm2-135m", &c, &err), 0);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.n_kv_heads, 3);
    assert_true(c.rope_theta == 100000.0 && c.rope_scaling == FLOE_ROPE_DEFAULT && c.tied_embeddings);
    assert_true(floe_model_param_count(&c) == 134515008u);
    assert_int_equal(floe_model_config_builtin("llama-3.2-1b", &c, &err), 0);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.context, 131072);
    assert_true(c.rope_theta == 500000.0 && c.rope_scaling == FLOE_ROPE_LLAMA3 && c.rope_factor == 32.0);
    assert_true(c.rope_low_freq_factor == 1.0 && c.rope_high_freq_factor == 4.0 && c.rope_original_context == 8192);
    assert_true(floe_model_param_count(&c) == 1235814400u);

    assert_int_equal(floe_model_config_builtin_count(), 7);
    assert_null(floe_model_config_builtin_name(7));
    assert_int_equal(floe_model_config_builtin("huge", &c, &err), -1);
    assert_non_null(strstr(err.msg, "'huge'"));
    assert_non_null(strstr(err.msg, "tiny"));
}

static const char *write_json(const char *name, const char *text)
{
    static char path[4300];
    snprintf(path, sizeof path, "%s/config.json", floe_test_tmpdir(name));
    floe_err err;
    if (floe_write_file_atomic(path, text, strlen(text), &err))
        fail_msg("%s", err.msg);
    return path;
}

static void test_hf_config_json(void **state)
{
    (void)state;
    const char *path = write_json("cfg_hf", "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 2048,"
                                            " \"num_hidden_layers\": 16, \"num_attention_heads\": 32,"
                                            " \"num_key_value_heads\": 8, \"intermediate_size\": 8192,"
                                            " \"vocab_size\": 128256, \"max_position_embeddings\": 131072,"
                                            " \"rope_theta\": 500000.0, \"rms_norm_eps\": 1e-05,"
                                            " \"tie_word_embeddings\": true, \"hidden_act\": \"silu\","
                                            " \"rope_scaling\": null, \"head_dim\": 64}");
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_load(path, &c, &err), 0);
    assert_int_equal(c.d_model, 2048);
    assert_int_equal(c.n_layers, 16);
    assert_int_equal(c.n_heads, 32);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.ffn_dim, 8192);
    assert_int_equal(c.vocab_size, 128256);
    assert_int_equal(c.context, 131072);
    assert_true(c.rope_theta == 500000.0);
    assert_true(c.rms_eps == 1e-5);
    assert_true(c.tied_embeddings);
    assert_string_equal(c.name, "config.json");

    /* Optional keys take Hugging Face LlamaConfig's defaults. */
    path = write_json("cfg_min", "{\"hidden_size\": 64, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                                 " \"intermediate_size\": 100, \"vocab_size\": 256}");
    assert_int_equal(floe_model_config_read(path, &c, &err), 0);
    assert_int_equal(c.n_kv_heads, 2);
    assert_int_equal(c.context, 2048);
    assert_false(c.tied_embeddings);
    assert_true(c.rms_eps == 1e-6);
    assert_true(c.rope_theta == 10000.0);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < floe_model_config_builtin_count(); i++) {
        floe_model_config a, b;
        floe_err err;
        assert_int_equal(floe_model_config_builtin(floe_model_config_builtin_name(i), &a, &err), 0);
        char *s = floe_model_config_to_json(&a);
        assert_non_null(s);
        assert_int_equal(floe_model_config_parse_json(s, strlen(s), "mem", &b, &err), 0);
        free(s);
        assert_string_equal(a.name, b.name);
        assert_memory_equal(&a.vocab_size, &b.vocab_size, sizeof a - offsetof(floe_model_config, vocab_size));
    }
}

/* Each bad config: the message names the file and the key or rule at fault. */
static void expect_bad(const char *json, const char *needle)
{
    const char *path = write_json("cfg_bad", json);
    floe_model_config c;
    floe_err err;
    if (floe_model_config_read(path, &c, &err) != -1)
        fail_msg("accepted: %s", json);
    if (!strstr(err.msg, path) || !strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s' for %s", err.msg, needle, json);
}

#define BASE "\"num_hidden_layers\": 2, \"intermediate_size\": 100, \"vocab_size\": 256"

static void test_validation_errors(void **state)
{
    (void)state;
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"intermediate_size\": 100, \"vocab_size\": 256}",
               "missing key 'num_hidden_layers'");
    expect_bad("{\"hidden_size\": \"64\", \"num_attention_heads\": 4, " BASE "}", "'hidden_size': expected an integer");
    expect_bad("{\"hidden_size\": 64.5, \"num_attention_heads\": 4, " BASE "}", "'hidden_size'");
    expect_bad("{\"hidden_size\": 1e300, \"num_attention_heads\": 4, " BASE "}", "'hidden_size'");
    expect_bad("{\"hidden_size\": 66, \"num_attention_heads\": 4, " BASE "}", "not divisible by n_heads");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_key_value_heads\": 3, " BASE "}",
               "not divisible by n_kv_heads");
    expect_bad("{\"hidden_size\": 60, \"num_attention_heads\": 4, " BASE "}", "must be even");
    expect_bad("{\"hidden_size\": -64, \"num_attention_heads\": 4, " BASE "}", "d_model (hidden_size) = -64");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 0, " BASE "}", "n_heads");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"num_hidden_layers\": 2,"
               " \"intermediate_size\": 100, \"vocab_size\": 100000000}",
               "vocab_size");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"head_dim\": 32, " BASE "}", "'head_dim'");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"tie_word_embeddings\": 1, " BASE "}",
               "'tie_word_embeddings'");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"rms_norm_eps\": 0, " BASE "}", "rms_eps");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"rope_theta\": \"x\", " BASE "}", "'rope_theta'");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"rope_scaling\": {\"type\": \"linear\"}, " BASE "}",
               "'rope_scaling'");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"hidden_act\": \"gelu\", " BASE "}", "'hidden_act'");
    expect_bad("{\"hidden_size\": 64, \"num_attention_heads\": 4, \"attention_bias\": true, " BASE "}",
               "'attention_bias'");
    expect_bad("[1, 2]", "expected a JSON object");
    expect_bad("{\"hidden_size\": 64,", "not valid JSON");

    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_load("/nonexistent/config.json", &c, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/config.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_hf_config_json),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_validation_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
