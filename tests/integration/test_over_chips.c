/* Groups that do not fit a chip (docs/compiler.md, "A layer over two chips", "The LM head over
 * several chips"): a layer's attention half and its MLP half get chips of their own; an LM head is cut
 * into vocabulary slices, a chip each. The residual stream is handed from chip to chip (PCIe inside a
 * server, Ethernet between servers), and every layer output and logit still equals the reference, in
 * prefill and decode, per tensor and per token. */
#include "tests/integration/machine_util.h"

#include "common/rng.h"
#include "compiler/compile.h"
#include "verify/verify.h"

static void test_halves_bit_exact(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_small_six(&mach, &e);
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig mixes[2] = {floe_qconfig_default(), floe_qconfig_default()};
    mixes[1].act_scaling = FLOE_ACT_PER_TOKEN;
    mixes[1].act_kmax = 8;
    int32_t tok[11];
    floe_rng r;
    floe_rng_seed(&r, 4);
    for (int t = 0; t < 11; t++)
        tok[t] = (int32_t)floe_rng_below(&r, (uint64_t)c.vocab_size);
    /* 5000 bytes of weights per core: a layer needs 9 cores, its halves 3 and 6 */
    floe_plan_summary ps;
    floe_compile_opts o = {.tokens = 8, .kv_tokens = 11, .core_weight_bytes = 5000, .users = 2};
    if (floe_compile_plan(&c, &mixes[0], &mach, &o, &ps, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(ps.layer_halves, 2);
    assert_int_equal(ps.chips, 2 * c.n_layers + 1);
    for (int i = 0; i < 2; i++) {
        floe_qmodel m;
        assert_int_equal(floe_qmodel_random(&m, &c, &mixes[i], 12 + (uint64_t)i, &err), 0);
        floe_verify_opts vo = {.tokens = 8, .decode = 3, .core_weight_bytes = 5000, .users = 2};
        floe_verify_run_result res;
        if (floe_verify_run(&m, &mach, &e, tok, &vo, &res, &err) != 0)
            fail_msg("%s", err.msg);
        if (!res.match)
            fail_msg("%s", res.mismatch);
        assert_int_equal(res.chips, 2 * c.n_layers + 1);
        assert_true(res.compared == (uint64_t)2 * 11 * (c.d_model * c.n_layers + c.vocab_size)); /* 2 users */
        print_message("tiny in halves%s: %d chips, %llu values equal; prefill %.2f us, decode %.2f us per token\n",
                      i ? " per token" : "", res.chips, (unsigned long long)res.compared, res.prefill.latency_s * 1e6,
                      res.decode.latency_s * 1e6);
        floe_verify_run_result_free(&res);
        floe_qmodel_free(&m);
    }
}

/* The plan alone (no weights, as deploy-check and floe design count chips) of layers at different
 * widths plans each layer at its own: the chips of the model's own plan, and more cores than all at
 * the narrowest. Layers 2 and 3 are wider than layer 1 here, whose plan the other layers reuse only
 * where their widths equal it. */
static void test_plan_mixed_widths(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_small_six(&mach, &e);
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    c.n_layers = 4;
    floe_qconfig q = floe_qconfig_default();
    q.wbits = 2;
    assert_int_equal(floe_qconfig_parse_layer_wbits(&q, "3=4,2.down_proj=4,2.gate_proj=8", "x", &err), 0);
    floe_compile_opts o = {.tokens = 8, .kv_tokens = 11, .core_weight_bytes = 12000};
    floe_plan_summary ps;
    if (floe_compile_plan(&c, &q, &mach, &o, &ps, &err) != 0)
        fail_msg("%s", err.msg);
    floe_qmodel m;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 3, &err), 0);
    floe_pipeline_plan *pp;
    if (floe_compile_pipeline_plan(&m, &mach, &o, &pp, &err) != 0)
        fail_msg("%s", err.msg);
    print_message("plan only: %d chips, the model's plan: %d chips, %d groups\n", ps.chips,
                  floe_pipeline_plan_chips(pp), floe_pipeline_plan_groups(pp));
    assert_int_equal(ps.chips, floe_pipeline_plan_chips(pp));
    floe_qconfig u = q; /* all at W2: fewer cores, so the widths of layers 2 and 3 count */
    floe_qconfig_clear_wbits(&u);
    floe_plan_summary pu;
    assert_int_equal(floe_compile_plan(&c, &u, &mach, &o, &pu, &err), 0);
    assert_true(pu.cores < ps.cores);
    print_message("plan only: %llu cores, all at W2 %llu\n", (unsigned long long)ps.cores,
                  (unsigned long long)pu.cores);
    floe_pipeline_plan_free(pp);
    floe_qmodel_free(&m);
}

/* A half that does not fit a chip either: the refusal names both the layer and the half. */
static void test_halves_refused(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_small_six(&mach, &e);
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    floe_qconfig q = floe_qconfig_default();
    floe_plan_summary ps;
    floe_compile_opts o = {.tokens = 8, .kv_tokens = 11, .core_weight_bytes = 3000, .users = 1};
    assert_int_equal(floe_compile_plan(&c, &q, &mach, &o, &ps, &err), -1);
    assert_non_null(strstr(err.msg, "layer 0"));
    assert_non_null(strstr(err.msg, "over two chips: its"));
    assert_non_null(strstr(err.msg, "a chip has 6"));
}

/* tiny with a vocabulary of 1024 and an 8-bit head: the head needs 14 weight cores of 5000 bytes,
 * so it is cut into vocabulary slices on chips of 6 cores; every slice's logits equal the
 * reference's columns. */
static void test_head_slices(void **state)
{
    (void)state;
    floe_machine mach;
    floe_energy_table e;
    load_small_six(&mach, &e);
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    c.vocab_size = 1024;
    floe_qconfig q = floe_qconfig_default();
    q.head_bits = 8;
    floe_plan_summary ps;
    floe_compile_opts o = {.tokens = 8, .kv_tokens = 11, .core_weight_bytes = 5000, .users = 2};
    if (floe_compile_plan(&c, &q, &mach, &o, &ps, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(ps.head_slices >= 3);
    floe_qmodel m;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 21, &err), 0);
    int32_t tok[11];
    for (int t = 0; t < 11; t++)
        tok[t] = (int32_t)((t * 397 + 5) % c.vocab_size);
    floe_verify_opts vo = {.tokens = 8, .decode = 3, .core_weight_bytes = 5000, .users = 2};
    floe_verify_run_result res;
    if (floe_verify_run(&m, &mach, &e, tok, &vo, &res, &err) != 0)
        fail_msg("%s", err.msg);
    if (!res.match)
        fail_msg("%s", res.mismatch);
    assert_true(res.compared == (uint64_t)2 * 11 * (c.d_model * c.n_layers + c.vocab_size)); /* 2 users */
    print_message("tiny, vocabulary 1024: the head in %d slices, %d chips, %llu values equal\n", ps.head_slices,
                  res.chips, (unsigned long long)res.compared);
    floe_verify_run_result_free(&res);
    floe_qmodel_free(&m);
    /* the prefill pipeline returns one stage's output: it refuses a sliced head (a vocabulary of 8192
     * needs 9 cores of 64 KiB), naming the way */
    c.vocab_size = 8192;
    assert_int_equal(floe_qmodel_random(&m, &c, &q, 22, &err), 0);
    floe_verify_system_result sr;
    assert_int_equal(floe_verify_pipeline(&m, &mach, &e, tok, 8, 2, &sr, &err), -1);
    assert_non_null(strstr(err.msg, "vocabulary slices"));
    floe_qmodel_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_halves_bit_exact),
        cmocka_unit_test(test_halves_refused),
        cmocka_unit_test(test_head_slices),
        cmocka_unit_test(test_plan_mixed_widths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
