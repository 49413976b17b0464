/* The parameter table: Hugging Face names, [out, in] shapes and dense offsets, tied and untied. */
#include "tests/test_util.h"

#include <math.h>

#include "models/param_names.h"

static void test_tiny_table(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_param_table t;
    assert_int_equal(floe_param_table_init(&t, &c, &err), 0);
    assert_int_equal(t.count, 2 + 2 * 9); /* tied: no lm_head */
    assert_int_equal(t.total, floe_model_param_count(&c));
    static const char *const expect[] = {
        "model.embed_tokens.weight",
        "model.layers.0.input_layernorm.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight",
        "model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.self_attn.o_proj.weight",
        "model.layers.0.post_attention_layernorm.weight",
        "model.layers.0.mlp.gate_proj.weight",
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.1.input_layernorm.weight",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        assert_string_equal(t.params[i].name, expect[i]);
    assert_string_equal(t.params[t.count - 1].name, "model.norm.weight");
    size_t off = 0;
    for (size_t i = 0; i < t.count; i++) { /* dense, in order */
        assert_int_equal(t.params[i].offset, off);
        assert_int_equal(t.params[i].numel, t.params[i].shape[0] * t.params[i].shape[1]);
        off += t.params[i].numel;
        assert_int_equal(floe_param_find(&t, t.params[i].name), (int)i);
    }
    assert_int_equal(off, t.total);
    const floe_param *k = floe_param_get(&t, FLOE_P_K, 1);
    assert_non_null(k);
    assert_string_equal(k->name, "model.layers.1.self_attn.k_proj.weight");
    assert_int_equal(k->shape[0], 32); /* n_kv_heads * head_dim: [out, in] */
    assert_int_equal(k->shape[1], 64);
    const floe_param *down = floe_param_get(&t, FLOE_P_DOWN, 0);
    assert_int_equal(down->shape[0], 64);
    assert_int_equal(down->shape[1], 172);
    const floe_param *n = floe_param_get(&t, FLOE_P_ATTN_NORM, 1);
    assert_int_equal(n->ndim, 1);
    assert_int_equal(n->shape[0], 64);
    assert_int_equal(floe_param_get(&t, FLOE_P_FINAL_NORM, -1)->offset, t.total - 64);
    assert_null(floe_param_get(&t, FLOE_P_LM_HEAD, -1));
    assert_null(floe_param_get(&t, FLOE_P_Q, 2));
    assert_null(floe_param_get(&t, FLOE_P_Q, -1));
    assert_int_equal(floe_param_find(&t, "lm_head.weight"), -1);
    floe_param_table_free(&t);
}

static void test_untied_table(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    c.tied_embeddings = 0;
    c.n_layers = 3;
    floe_param_table t;
    assert_int_equal(floe_param_table_init(&t, &c, &err), 0);
    assert_int_equal(t.count, 3 + 3 * 9);
    assert_int_equal(t.total, floe_model_param_count(&c));
    const floe_param *head = floe_param_get(&t, FLOE_P_LM_HEAD, -1);
    assert_non_null(head);
    assert_string_equal(head->name, "lm_head.weight");
    assert_int_equal(head->shape[0], 256);
    assert_int_equal(head->shape[1], 64);
    assert_int_equal(head->offset + head->numel, t.total);
    assert_string_equal(floe_param_get(&t, FLOE_P_FINAL_NORM, -1)->name, "model.norm.weight");
    assert_string_equal(floe_param_get(&t, FLOE_P_UP, 2)->name, "model.layers.2.mlp.up_proj.weight");
    floe_param_table_free(&t);

    /* A table is refused for an invalid config. */
    c.n_kv_heads = 3;
    assert_int_equal(floe_param_table_init(&t, &c, &err), -1);
    assert_non_null(strstr(err.msg, "n_kv_heads"));
}

static void test_granite_shapes(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("granite-8b", &c, &err), 0);
    floe_param_table t;
    assert_int_equal(floe_param_table_init(&t, &c, &err), 0);
    assert_int_equal(t.count, 3 + 40 * 9);
    const floe_param *v = floe_param_get(&t, FLOE_P_V, 39);
    assert_int_equal(v->shape[0], 1024);
    assert_int_equal(v->shape[1], 4096);
    assert_int_equal(floe_param_get(&t, FLOE_P_GATE, 0)->shape[0], 12800);
    assert_int_equal(t.total, floe_model_param_count(&c));
    floe_param_table_free(&t);
}

static double std_of(const float *w, size_t n)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
    }
    double m = s / (double)n;
    return sqrt(s2 / (double)n - m * m);
}

static void test_init(void **state)
{
    (void)state;
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("S", &c, &err), 0);
    floe_param_table t;
    assert_int_equal(floe_param_table_init(&t, &c, &err), 0);
    float *a = malloc(t.total * sizeof *a), *b = malloc(t.total * sizeof *b);
    floe_param_init(&t, a, 5);
    floe_param_init(&t, b, 5);
    assert_memory_equal(a, b, t.total * sizeof *a); /* deterministic */
    floe_param_init(&t, b, 6);
    assert_memory_not_equal(a, b, t.total * sizeof *a);
    const floe_param *n = floe_param_get(&t, FLOE_P_MLP_NORM, 3);
    for (size_t i = 0; i < n->numel; i++)
        assert_true(a[n->offset + i] == 1.0f);
    const floe_param *q = floe_param_get(&t, FLOE_P_Q, 0), *o = floe_param_get(&t, FLOE_P_O, 0);
    assert_true(fabs(std_of(a + q->offset, q->numel) - 0.02) < 0.001);
    assert_true(fabs(std_of(a + o->offset, o->numel) - 0.02 / sqrt(8.0)) < 0.0005);
    /* tensor i's values do not depend on the others: same block in a deeper model is the same */
    floe_model_config c2 = c;
    c2.n_layers = 6;
    floe_param_table t2;
    assert_int_equal(floe_param_table_init(&t2, &c2, &err), 0);
    float *d = malloc(t2.total * sizeof *d);
    floe_param_init(&t2, d, 5);
    const floe_param *q2 = floe_param_get(&t2, FLOE_P_Q, 0);
    assert_memory_equal(a + q->offset, d + q2->offset, q->numel * sizeof *a);
    free(a);
    free(b);
    free(d);
    floe_param_table_free(&t);
    floe_param_table_free(&t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_table),
        cmocka_unit_test(test_untied_table),
        cmocka_unit_test(test_granite_shapes),
        cmocka_unit_test(test_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
