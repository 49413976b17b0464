/* Decoding with a KV cache (trainer/kv_decode.h): the logits of a prefill and of every later step
 * equal the full forward's over the same tokens (Llama, Granite's multipliers, llama3 RoPE), the
 * same bits on 1 and 2 threads; a refilled window starts over at position 0. */
#include "tests/trainer/trainer_test.h"

#include <omp.h>
#include <string.h>

#include "common/rng.h"
#include "trainer/kv_decode.h"
#include "trainer/sample.h"

static floe_model_config config(int variant)
{
    floe_model_config c;
    floe_err err;
    assert_int_equal(floe_model_config_builtin("tiny", &c, &err), 0);
    c.context = 48;
    if (variant == 1) {
        c.family = FLOE_FAMILY_GRANITE;
        c.embedding_multiplier = 12.0, c.residual_multiplier = 0.22, c.attention_multiplier = 0.0625;
        c.logits_scaling = 8.0;
    } else if (variant == 2) {
        c.rope_scaling = FLOE_ROPE_LLAMA3;
        c.rope_factor = 8.0, c.rope_low_freq_factor = 1.0, c.rope_high_freq_factor = 4.0;
        c.rope_original_context = 16;
        c.tied_embeddings = 0;
    }
    return c;
}

/* max |a - b| over max |b| */
static double rel_err(const float *a, const float *b, int n)
{
    double e = 0, s = 0;
    for (int i = 0; i < n; i++)
        e = fmax(e, fabs((double)a[i] - b[i])), s = fmax(s, fabs((double)b[i]));
    return e / (s > 0 ? s : 1);
}

static void check_variant(int variant)
{
    floe_model_config c = config(variant);
    floe_model m;
    floe_err err;
    assert_int_equal(floe_model_init(&m, &c, 1, c.context, &err), 0);
    floe_param_init(&m.table, m.params, 11 + (uint64_t)variant);
    enum { N = 40, P = 7 };
    int32_t ids[N];
    floe_rng r;
    floe_rng_seed(&r, 5);
    for (int i = 0; i < N; i++)
        ids[i] = (int32_t)floe_rng_below(&r, (uint64_t)c.vocab_size);
    floe_decoder d;
    assert_int_equal(floe_decoder_init(&d, &m, &err), 0);
    float *dec = falloc((size_t)N * c.vocab_size);
    memcpy(dec + (size_t)(P - 1) * c.vocab_size, floe_decoder_prefill(&d, ids, P),
           (size_t)c.vocab_size * sizeof(float));
    for (int t = P; t < N; t++)
        memcpy(dec + (size_t)t * c.vocab_size, floe_decoder_step(&d, ids[t]), (size_t)c.vocab_size * sizeof(float));
    assert_int_equal(d.pos, N);
    floe_model_forward(&m, ids, NULL, 1, N);
    const float *full = floe_model_logits(&m);
    for (int t = P - 1; t < N; t++) {
        double e = rel_err(dec + (size_t)t * c.vocab_size, full + (size_t)t * c.vocab_size, c.vocab_size);
        if (e > 1e-5)
            fail_msg("variant %d, position %d: decoded logits differ by %.3g of the largest", variant, t, e);
    }
    /* 1 and 2 threads: the same bits */
    float *two = falloc((size_t)c.vocab_size);
    omp_set_num_threads(1);
    floe_decoder_prefill(&d, ids, P);
    for (int t = P; t < N - 1; t++)
        floe_decoder_step(&d, ids[t]);
    const float *one = floe_decoder_step(&d, ids[N - 1]);
    memcpy(two, one, (size_t)c.vocab_size * sizeof(float));
    omp_set_num_threads(2);
    floe_decoder_prefill(&d, ids, P);
    for (int t = P; t < N - 1; t++)
        floe_decoder_step(&d, ids[t]);
    assert_memory_equal(floe_decoder_step(&d, ids[N - 1]), two, (size_t)c.vocab_size * sizeof(float));
    free(two);
    free(dec);
    floe_decoder_free(&d);
    floe_model_free(&m);
}

static void test_llama(void **state)
{
    (void)state;
    check_variant(0);
}

static void test_granite(void **state)
{
    (void)state;
    check_variant(1);
}

static void test_llama3_rope(void **state)
{
    (void)state;
    check_variant(2);
}

static void test_pick(void **state)
{
    (void)state;
    const float z[4] = {0.5f, 2.0f, 2.0f, -1.0f};
    floe_rng r;
    floe_rng_seed(&r, 1);
    assert_int_equal(floe_sample_pick(z, 4, 0.0, &r), 1); /* greedy: the first of equal ones */
    int seen[4] = {0};
    for (int i = 0; i < 2000; i++)
        seen[floe_sample_pick(z, 4, 1.0, &r)]++;
    assert_true(seen[1] > 600 && seen[2] > 600 && seen[0] > 100 && seen[3] > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama),
        cmocka_unit_test(test_granite),
        cmocka_unit_test(test_llama3_rope),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
