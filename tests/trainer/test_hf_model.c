/* Hugging Face model folders through the float model: the committed fixtures (tests/fixtures/hf/,
 * scripts/hf_fixtures.py, transformers 5.17.0) give transformers' FP32 logits.
 *
 * llama-tiny: sharded BF16 Llama with llama3 RoPE scaling (factor 8, original context 16, so the
 * 24-token reference prompt reaches past the original context); granite-tiny: F16 Granite with
 * its four multipliers, tied head, rms_eps 1e-6. Tolerance: the max abs difference within 1e-5 of the
 * largest |logit| (float32 both sides, differing only in summation order and RoPE's angle precision:
 * Floe computes angles in double, transformers in float32). Measured: docs/hf-models.md. */
#include "tests/trainer/trainer_test.h"

#include "models/safetensors.h"
#include "trainer/model.h"
#include "trainer/train.h"

static void check_fixture(const char *name)
{
    char dir[4096], ref[4200];
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/hf/%s", src ? src : ".", name);
    snprintf(ref, sizeof ref, "%s/reference.safetensors", dir);
    floe_err err;
    floe_st_file f;
    if (floe_st_open(&f, ref, &err) != 0)
        fail_msg("%s", err.msg);
    int ii = floe_st_find(&f, "input_ids"), li = floe_st_find(&f, "logits");
    assert_true(ii >= 0 && li >= 0);
    int T = (int)f.tensors[ii].shape[0], V = (int)f.tensors[li].shape[1];
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    float *want = falloc((size_t)T * V);
    assert_int_equal(floe_st_read_raw(&f, (size_t)ii, ids, (size_t)T * 4, &err), 0);
    assert_int_equal(floe_st_read_f32(&f, (size_t)li, want, (size_t)T * V, &err), 0);
    floe_st_close(&f);

    floe_model m;
    if (floe_model_load(&m, dir, 1, T, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(m.cfg.vocab_size, V);
    assert_int_equal(floe_model_check_ids(&m, ids, (size_t)T, &err), 0);
    floe_model_forward(&m, ids, NULL, 1, T);
    const float *got = floe_model_logits(&m);
    double maxdiff = 0, maxabs = 0;
    for (size_t i = 0; i < (size_t)T * V; i++) {
        maxdiff = fmax(maxdiff, fabs((double)got[i] - want[i]));
        maxabs = fmax(maxabs, fabs((double)want[i]));
    }
    print_message("%s: %d tokens, max |logit| %.4f, max abs difference %.3g (%.3g relative)\n", name, T, maxabs,
                  maxdiff, maxdiff / maxabs);
    assert_true(maxabs > 0.1);
    if (!(maxdiff <= 1e-5 * maxabs))
        fail_msg("%s: logits differ from transformers' by %g (max |logit| %g)", name, maxdiff, maxabs);

    /* the same weights read as a plain Llama (multipliers and RoPE scaling dropped) would not pass */
    floe_model plain;
    floe_model_config pc = m.cfg;
    floe_model_config_llama_defaults(&pc);
    assert_int_equal(floe_model_init(&plain, &pc, 1, T, &err), 0);
    memcpy(plain.params, m.params, m.table.total * sizeof(float));
    floe_model_forward(&plain, ids, NULL, 1, T);
    double plaindiff = 0;
    for (size_t i = 0; i < (size_t)T * V; i++)
        plaindiff = fmax(plaindiff, fabs((double)floe_model_logits(&plain)[i] - want[i]));
    print_message("%s read as a plain Llama: max abs difference %.3g\n", name, plaindiff);
    assert_true(plaindiff > 100 * 1e-5 * maxabs);
    floe_model_free(&plain);
    floe_model_free(&m);
    free(ids);
    free(want);
}

static void test_llama_tiny(void **state)
{
    (void)state;
    check_fixture("llama-tiny");
}

static void test_granite_tiny(void **state)
{
    (void)state;
    check_fixture("granite-tiny");
}

/* The command line: floe eval --model DIR scores a folder; floe ptq --teacher DIR quantizes a Granite
 * and a llama3-RoPE Llama, and floe verify finds the compiled chip bit-identical to the integer forward
 * of each (docs/hf-models.md, "The integer contract"). */
static void test_cli(void **state)
{
    (void)state;
    char out[8192], dir[4096];
    const char *src = getenv("FLOE_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/hf", src ? src : ".");
    int rc = floe_test_run(out, sizeof out, "%s eval --model %s/granite-tiny --context 32 --corpus generated:4000",
                           floe_test_exe(), dir);
    if (rc != 0 || !strstr(out, "perplexity"))
        fail_msg("eval: rc %d: %s", rc, out);
    rc = floe_test_run(out, sizeof out, "%s eval --model %s/granite-tiny --ckpt x.safetensors", floe_test_exe(), dir);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "give one of --ckpt FILE or --model DIR"));
    const char *tmp = floe_test_tmpdir("hf-ptq");
    const char *names[2] = {"granite-tiny", "llama-tiny"};
    for (int i = 0; i < 2; i++) {
        rc = floe_test_run(out, sizeof out,
                           "%s ptq --method calib --teacher %s/%s --corpus generated:400 --calib-batches 1 -b 2 "
                           "--out %s/%s.safetensors",
                           floe_test_exe(), dir, names[i], tmp, names[i]);
        if (rc != 0)
            fail_msg("ptq %s: rc %d: %s", names[i], rc, out);
        rc = floe_test_run(out, sizeof out, "%s verify --qmodel %s/%s.safetensors -m %s/configs/small.csv --decode 2",
                           floe_test_exe(), tmp, names[i], src ? src : ".");
        if (rc != 0 || !strstr(out, "bit-identical"))
            fail_msg("verify %s: rc %d: %s", names[i], rc, out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_llama_tiny), cmocka_unit_test(test_granite_tiny),
                                       cmocka_unit_test(test_cli)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
