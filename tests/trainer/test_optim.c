#include "tests/trainer/trainer_test.h"

#include "models/half.h"
#include "trainer/adamw.h"
#include "trainer/grad_clip.h"
#include "trainer/lr_schedule.h"

/* First step from zero moments, by hand: m = (1-b1) g, v = (1-b2) g^2, so m_hat = g, v_hat = g^2 and
 * p' = p - lr (g / (|g| + eps) + wd p). Second step checked against the formula in double. */
static void test_adamw_steps(void **state)
{
    (void)state;
    float p[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    const float g1[4] = {0.1f, -0.2f, 0.0f, 4.0f};
    const float g2[4] = {-0.3f, 0.1f, 0.2f, 1.0f};
    float m[4] = {0}, v[4] = {0};
    const float lr = 0.01f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    floe_adamw_update(p, g1, m, v, 4, 1, lr, b1, b2, eps, wd);
    const double want1[4] = {1.0 - 0.01 * (1.0 + 0.1), -2.0 - 0.01 * (-1.0 - 0.2), 0.5 - 0.01 * (0.0 + 0.05),
                             3.0 - 0.01 * (1.0 + 0.3)};
    assert_close("step1", p, want1, 4, 1e-6);

    double pd[4], md[4], vd[4];
    for (int i = 0; i < 4; i++) {
        pd[i] = p[i];
        md[i] = (1 - (double)b1) * g1[i];
        vd[i] = (1 - (double)b2) * g1[i] * g1[i];
    }
    floe_adamw_update(p, g2, m, v, 4, 2, lr, b1, b2, eps, wd);
    double want2[4];
    for (int i = 0; i < 4; i++) {
        md[i] = b1 * md[i] + (1 - (double)b1) * g2[i];
        vd[i] = b2 * vd[i] + (1 - (double)b2) * g2[i] * g2[i];
        double mh = md[i] / (1 - pow(b1, 2)), vh = vd[i] / (1 - pow(b2, 2));
        want2[i] = pd[i] - lr * (mh / (sqrt(vh) + eps) + wd * pd[i]);
    }
    assert_close("step2", p, want2, 4, 1e-6);
}

/* bfloat16 moments: from moments that bfloat16 holds exactly, the parameters move as the float
 * update moves them, and the moments stored are the float update's rounded by floe_f32_to_bf16;
 * the serial and the OpenMP path (n above 65536) alike. */
static void test_adamw_bf16(void **state)
{
    (void)state;
    const size_t sizes[2] = {1000, 70000};
    for (int k = 0; k < 2; k++) {
        size_t n = sizes[k];
        float *p = malloc(n * sizeof(float)), *p16 = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
        float *m = malloc(n * sizeof(float)), *v = malloc(n * sizeof(float));
        uint16_t *m16 = malloc(n * sizeof(uint16_t)), *v16 = malloc(n * sizeof(uint16_t));
        assert_true(p && p16 && g && m && v && m16 && v16);
        uint32_t x = 12345;
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            float r = (float)(x >> 8) / 16777216.0f - 0.5f;
            p[i] = p16[i] = r * 2.0f;
            g[i] = r * 0.01f * (float)(1 + i % 7);
            m16[i] = floe_f32_to_bf16(r * 0.003f);
            v16[i] = floe_f32_to_bf16(r * r * 1e-5f);
            m[i] = floe_bf16_to_f32(m16[i]);
            v[i] = floe_bf16_to_f32(v16[i]);
        }
        floe_adamw_update(p, g, m, v, n, 3, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);
        floe_adamw_update_bf16(p16, g, m16, v16, n, 3, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f);
        assert_memory_equal(p, p16, n * sizeof(float));
        size_t rounded = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(m16[i], floe_f32_to_bf16(m[i]));
            assert_int_equal(v16[i], floe_f32_to_bf16(v[i]));
            rounded += floe_bf16_to_f32(m16[i]) != m[i];
        }
        assert_true(rounded > n / 2); /* the stored moments really are narrower */
        free(p), free(p16), free(g), free(m), free(v), free(m16), free(v16);
    }
}

static void test_adamw_decay_policy(void **state)
{
    (void)state;
    floe_adamw_cfg c = floe_adamw_defaults();
    assert_true(floe_adamw_tensor_decay(&c, FLOE_DECAY_MATRIX) == c.weight_decay);
    assert_true(floe_adamw_tensor_decay(&c, FLOE_DECAY_EMBEDDING) == c.weight_decay);
    assert_true(floe_adamw_tensor_decay(&c, FLOE_DECAY_NORM) == 0.0f);
    c.decay_embeddings = 0;
    c.decay_norms = 1;
    assert_true(floe_adamw_tensor_decay(&c, FLOE_DECAY_EMBEDDING) == 0.0f);
    assert_true(floe_adamw_tensor_decay(&c, FLOE_DECAY_NORM) == c.weight_decay);
}

static void test_cosine_schedule(void **state)
{
    (void)state;
    const float hi = 3e-3f, lo = 3e-4f;
    assert_true(floe_lr_cosine(0, 10, 100, hi, lo) == hi / 10);
    assert_true(fabsf(floe_lr_cosine(4, 10, 100, hi, lo) - hi * 0.5f) < 1e-9f);
    assert_true(floe_lr_cosine(9, 10, 100, hi, lo) == hi);
    assert_true(floe_lr_cosine(10, 10, 100, hi, lo) == hi);
    assert_true(fabsf(floe_lr_cosine(55, 10, 100, hi, lo) - (hi + lo) / 2) < 1e-9f); /* halfway */
    assert_true(floe_lr_cosine(100, 10, 100, hi, lo) == lo);
    assert_true(floe_lr_cosine(1000, 10, 100, hi, lo) == lo);
    assert_true(floe_lr_cosine(0, 0, 100, hi, lo) == hi); /* no warmup */
    float prev = hi;
    for (int s = 10; s <= 100; s++) {
        float x = floe_lr_cosine(s, 10, 100, hi, lo);
        assert_true(x <= prev && x >= lo);
        prev = x;
    }
}

static void test_clip(void **state)
{
    (void)state;
    const size_t n = 100003;
    float *g = falloc(n), *g2 = falloc(n);
    floe_rng r;
    floe_rng_seed(&r, 8);
    rand_fill(g, n, &r, 1.0);
    memcpy(g2, g, n * sizeof(float));
    double ref = 0;
    for (size_t i = 0; i < n; i++)
        ref += (double)g[i] * g[i];
    ref = sqrt(ref);
    double norm = floe_grad_clip(g, n, 1.0f);
    assert_true(fabs(norm - ref) <= 1e-12 * ref);
    double after = sqrt(floe_sumsq(g, n));
    assert_true(fabs(after - 1.0) < 1e-5);
    for (size_t i = 0; i < n; i += 997)
        assert_true(g[i] == g2[i] * (float)(1.0 / norm));
    /* Below the threshold nothing changes. */
    memcpy(g, g2, n * sizeof(float));
    assert_true(floe_grad_clip(g, n, (float)(ref * 2)) == norm);
    assert_memory_equal(g, g2, n * sizeof(float));
    /* Tiny and empty buffers. */
    float one[1] = {-3.0f};
    assert_true(floe_grad_clip(one, 1, 1.5f) == 3.0);
    assert_true(one[0] == -1.5f);
    assert_true(floe_sumsq(one, 0) == 0.0);
    floe_scale(g, n, 0.5f);
    assert_true(g[5] == g2[5] * 0.5f);
    free(g), free(g2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_steps),
        cmocka_unit_test(test_adamw_bf16),
        cmocka_unit_test(test_adamw_decay_policy),
        cmocka_unit_test(test_cosine_schedule),
        cmocka_unit_test(test_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
