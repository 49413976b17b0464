#include "tests/trainer/trainer_test.h"

#include <omp.h>

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

/* 8-bit moments: the codes' values (m: 0 and +-2^-17 .. 1 rising; v: 0 .. 1 rising, 248 is 1); from
 * zero moments, after each of 5 steps every stored moment is the float update's within 1/16 of
 * itself (plus the block's smallest step), no v that is not zero is stored as zero, the parameters
 * move as with float moments to within the moments' rounding, and 1 and 2 threads give the same bits
 * (n above 65536 takes the OpenMP path). */
static void test_adamw_q8(void **state)
{
    (void)state;
    for (int c = 1; c < 128; c++) {
        assert_true(floe_adamw_q8_m((int8_t)c, 1.0f) > floe_adamw_q8_m((int8_t)(c - 1), 1.0f));
        assert_true(floe_adamw_q8_m((int8_t)-c, 2.0f) == -floe_adamw_q8_m((int8_t)c, 2.0f));
    }
    for (int c = 1; c < 256; c++)
        assert_true(floe_adamw_q8_v((uint8_t)c, 1.0f) > floe_adamw_q8_v((uint8_t)(c - 1), 1.0f));
    assert_true(floe_adamw_q8_m(0, 1.0f) == 0.0f && floe_adamw_q8_m(120, 1.0f) == 1.0f);
    assert_true(floe_adamw_q8_m(1, 1.0f) == ldexpf(1.0f, -17) && floe_adamw_q8_v(1, 1.0f) == ldexpf(1.0f, -33));
    assert_true(floe_adamw_q8_v(248, 3.0f) == 3.0f);
    assert_true(floe_adamw_q8_m(-128, 1.0f) == -floe_adamw_q8_m(127, 1.0f)); /* a file's -128: bounded */
    {
        float p1 = 0.5f, g1 = 0.1f, s1 = 1.0f, s2 = 1.0f;
        int8_t c1 = -128;
        uint8_t c2 = 248;
        floe_adamw_update_q8(&p1, &g1, &c1, &c2, &s1, &s2, 1, 3, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f);
        assert_true(isfinite(p1) && c1 > -128);
    }
    const size_t n = 70000, nb = floe_adamw_q8_blocks(n);
    assert_int_equal(nb, (n + 255) / 256);
    float *p = malloc(n * sizeof(float)), *pq = malloc(n * sizeof(float)), *pq1 = malloc(n * sizeof(float));
    float *g = malloc(n * sizeof(float)), *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    int8_t *m8 = calloc(n, 1), *m8b = calloc(n, 1);
    uint8_t *v8 = calloc(n, 1), *v8b = calloc(n, 1);
    float *ms = calloc(nb, sizeof(float)), *vs = calloc(nb, sizeof(float));
    float *msb = calloc(nb, sizeof(float)), *vsb = calloc(nb, sizeof(float));
    assert_true(p && pq && pq1 && g && m && v && m8 && m8b && v8 && v8b && ms && vs && msb && vsb);
    uint32_t x = 777;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = pq[i] = pq1[i] = (float)(x >> 8) / 16777216.0f - 0.5f;
    }
    for (int step = 1; step <= 5; step++) {
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            float r = (float)(x >> 8) / 16777216.0f - 0.5f;
            /* magnitudes over five decades, some exactly zero */
            g[i] = i % 97 == 0 ? 0.0f : r * powf(10.0f, -(float)(i % 5)) * 0.01f;
        }
        floe_adamw_update(p, g, m, v, n, step, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f);
        omp_set_num_threads(2);
        floe_adamw_update_q8(pq, g, m8, v8, ms, vs, n, step, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f);
        omp_set_num_threads(1);
        floe_adamw_update_q8(pq1, g, m8b, v8b, msb, vsb, n, step, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f);
        omp_set_num_threads(2);
        assert_memory_equal(pq, pq1, n * sizeof(float));
        assert_memory_equal(m8, m8b, n);
        assert_memory_equal(v8, v8b, n);
        for (size_t i = 0; i < n; i++) {
            const size_t b = i / FLOE_ADAMW_Q8_BLOCK;
            if (step == 1) { /* from zero moments: the stored values round the float update's */
                float mq = floe_adamw_q8_m(m8[i], ms[b]), vq = floe_adamw_q8_v(v8[i], vs[b]);
                assert_true(fabsf(mq - m[i]) <= fabsf(m[i]) / 8.0f + ldexpf(ms[b], -17));
                assert_true(fabsf(vq - v[i]) <= v[i] / 8.0f + ldexpf(vs[b], -33));
            }
            assert_true((v8[i] != 0) == (v[i] > 0.0f)); /* a v above zero is never stored as zero */
        }
    }
    /* five steps of lr 1e-3: each parameter moved about 5e-3; the 8-bit run within a fifth of that */
    size_t far = 0;
    for (size_t i = 0; i < n; i++)
        far += fabsf(pq[i] - p[i]) > 1e-3f;
    assert_true(far < n / 100);
    /* then 30 steps without gradient: v falls by 5% a step, less than a code; stochastic rounding
     * follows it (the mean of the stored v within 3% of the float one's), where rounding to nearest
     * would keep every v where it was */
    memset(g, 0, n * sizeof(float));
    for (int step = 6; step <= 35; step++) {
        floe_adamw_update(p, g, m, v, n, step, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f);
        floe_adamw_update_q8(pq, g, m8, v8, ms, vs, n, step, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.0f);
    }
    double sum_v = 0, sum_q = 0;
    for (size_t i = 0; i < n; i++) {
        sum_v += v[i];
        sum_q += floe_adamw_q8_v(v8[i], vs[i / FLOE_ADAMW_Q8_BLOCK]);
    }
    print_message("v after 30 steps without gradient: 8-bit / float mean %.4f\n", sum_q / sum_v);
    assert_true(fabs(sum_q / sum_v - 1.0) < 0.03);
    free(p), free(pq), free(pq1), free(g), free(m), free(v), free(m8), free(m8b), free(v8), free(v8b);
    free(ms), free(vs), free(msb), free(vsb);
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
        cmocka_unit_test(test_adamw_steps),     cmocka_unit_test(test_adamw_bf16),
        cmocka_unit_test(test_adamw_q8),        cmocka_unit_test(test_adamw_decay_policy),
        cmocka_unit_test(test_cosine_schedule), cmocka_unit_test(test_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
