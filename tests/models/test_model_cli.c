/* `floe model` and `floe corpus` from the command line. */
#include "tests/test_util.h"

#include "common/atomic_file.h"
#include "models/safetensors.h"

static char out[1 << 17];

static void test_model_show(void **state)
{
    (void)state;
    const char *floe = floe_test_exe();
    assert_int_equal(floe_test_run(out, sizeof out, "%s model show tiny", floe), 0);
    assert_non_null(strstr(out, "107328"));
    assert_non_null(strstr(out, "model.layers.1.mlp.down_proj.weight"));
    assert_non_null(strstr(out, "[32, 64]")); /* k_proj under GQA */
    assert_null(strstr(out, "lm_head.weight"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s model show granite-8b", floe), 0);
    assert_non_null(strstr(out, "lm_head.weight"));
    assert_non_null(strstr(out, "8372187136"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s model list", floe), 0);
    assert_non_null(strstr(out, "granite-8b"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s model show S --json", floe), 0);
    assert_non_null(strstr(out, "\"hidden_size\":\t256"));

    /* a config.json by path, and errors */
    const char *dir = floe_test_tmpdir("model_cli");
    char path[4300];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *js = "{\"hidden_size\": 128, \"num_hidden_layers\": 3, \"num_attention_heads\": 4,"
                     " \"intermediate_size\": 256, \"vocab_size\": 1000}";
    floe_err err;
    assert_int_equal(floe_write_file_atomic(path, js, strlen(js), &err), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s model show %s", floe, path), 0);
    assert_non_null(strstr(out, "model.layers.2.self_attn.o_proj.weight"));
    assert_non_null(strstr(out, "lm_head.weight")); /* Hugging Face default: untied */
    assert_int_equal(floe_test_run(out, sizeof out, "%s model show nosuch", floe), 1);
    assert_non_null(strstr(out, "unknown model 'nosuch'"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s model frob", floe), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s model", floe), 2);
    assert_int_equal(floe_test_run(out, sizeof out, "%s model --help", floe), 0);
    assert_non_null(strstr(out, "inspect"));

    /* inspect a checkpoint */
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    float a[4] = {1, 2, 3, 4};
    floe_st_entry e = {"w", FLOE_ST_F32, 2, {2, 2}, a};
    const char *meta[] = {"format", "pt"};
    assert_int_equal(floe_st_write(path, &e, 1, meta, 1, &err), 0);
    assert_int_equal(floe_test_run(out, sizeof out, "%s model inspect %s", floe, path), 0);
    assert_non_null(strstr(out, "metadata format = pt"));
    assert_non_null(strstr(out, "[2, 2]"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s model inspect %s/none", floe, dir), 1);
    assert_non_null(strstr(out, "/none"));

    /* init writes a checkpoint that loads into the same config's table */
    snprintf(path, sizeof path, "%s/init.safetensors", dir);
    assert_int_equal(floe_test_run(out, sizeof out, "%s model init tiny %s --seed 4", floe, path), 0);
    assert_non_null(strstr(out, "107328 parameters"));
    floe_model_config c;
    floe_param_table t;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    assert_int_equal(floe_param_table_init(&t, &c, &err), 0);
    float *p = malloc(t.total * sizeof *p), *q = malloc(t.total * sizeof *q);
    assert_int_equal(floe_st_load_params(path, &t, p, &err), 0);
    floe_param_init(&t, q, 4);
    assert_memory_equal(p, q, t.total * sizeof *p);
    free(p);
    free(q);
    floe_param_table_free(&t);
    assert_int_equal(floe_test_run(out, sizeof out, "%s model init tiny %s/no/such/dir/x.safetensors", floe, dir), 1);
}

static void test_corpus_cmd(void **state)
{
    (void)state;
    assert_int_equal(floe_test_run(out, sizeof out, "%s corpus --corpus generated:2000:1", floe_test_exe()), 0);
    assert_non_null(strstr(out, "189261"));
    assert_non_null(strstr(out, "10146"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s corpus --corpus /nonexistent", floe_test_exe()), 1);
    assert_non_null(strstr(out, "scripts/setup.sh"));
    assert_int_equal(floe_test_run(out, sizeof out, "%s corpus --corpus generated:0", floe_test_exe()), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_show),
        cmocka_unit_test(test_corpus_cmd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
