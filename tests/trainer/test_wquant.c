/* Weight quantizers (trainer/wquant.h): codes in range and round-trips, min-max init covering the
 * group, MSE init never worse than min-max, the STE backward against finite differences of the
 * fake-quantized loss in the step and zero point, and frozen-code gradients. */
#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "trainer/wquant.h"

static void fill(floe_rng *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * ((float)(floe_rng_u64(r) >> 40) / (float)(1u << 24) - 0.4f);
}

static void test_codes_in_range_and_roundtrip(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 5);
    enum { OUT = 6, IN = 50 };
    float W[OUT * IN], Wh[OUT * IN], Wd[OUT * IN];
    int16_t codes[OUT * IN];
    fill(&r, W, OUT * IN, 2.0f);
    for (int asym = 0; asym < 2; asym++)
        for (int bits = 2; bits <= 8; bits++)
            for (int group = 0; group <= 16; group += 16) {
                floe_wquant q;
                floe_err err;
                assert_int_equal(floe_wquant_init(&q, OUT, IN, bits, group, asym, &err), 0);
                assert_int_equal(q.groups, group ? 4 : 1); /* 50 = 3 x 16 + 2 */
                floe_wquant_minmax(&q, W);
                floe_wquant_codes(&q, W, codes);
                floe_wquant_forward(&q, W, Wh);
                floe_wquant_dequant(&q, codes, Wd);
                for (int i = 0; i < OUT * IN; i++) {
                    assert_true(codes[i] >= floe_wquant_lo(&q) && codes[i] <= floe_wquant_hi(&q));
                    assert_true(Wh[i] == Wd[i]);
                    /* min-max covers the group: the error is at most half a step (asym: plus the
                     * zero point's rounding, at most another half step) */
                    int gi = floe_wquant_gi(&q, i / IN, i % IN);
                    assert_true(fabsf(Wh[i] - W[i]) <= (asym ? 1.0f : 0.5f) * q.s[gi] * 1.0001f);
                }
                floe_wquant_free(&q);
            }
}

static void test_mse_init_not_worse(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 9);
    enum { OUT = 8, IN = 128 };
    float W[OUT * IN];
    fill(&r, W, OUT * IN, 1.0f);
    W[3] = 2.5f; /* an outlier */
    floe_wquant a, b;
    floe_err err;
    assert_int_equal(floe_wquant_init(&a, OUT, IN, 4, 0, 0, &err), 0);
    assert_int_equal(floe_wquant_init(&b, OUT, IN, 4, 0, 0, &err), 0);
    floe_wquant_minmax(&a, W);
    floe_wquant_mse(&b, W);
    double ea = floe_wquant_sq_error(&a, W), eb = floe_wquant_sq_error(&b, W);
    assert_true(eb <= ea);
    floe_wquant_free(&a);
    floe_wquant_free(&b);
}

/* The STE backward: dW passes only in range; the frozen-code step gradient is sum g * (q - round z)
 * exactly; the STE step gradient is that minus the in-range sum of g * w / s. */
static void test_backward(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 11);
    enum { OUT = 3, IN = 24 };
    float W[OUT * IN], g[OUT * IN], dW[OUT * IN] = {0};
    int16_t codes[OUT * IN];
    fill(&r, W, OUT * IN, 3.0f);
    fill(&r, g, OUT * IN, 1.0f);
    floe_wquant q;
    floe_err err;
    assert_int_equal(floe_wquant_init(&q, OUT, IN, 3, 8, 1, &err), 0);
    floe_wquant_minmax(&q, W);
    for (int i = 0; i < OUT * q.groups; i++) {
        q.s[i] *= 0.6f; /* clip some weights on purpose */
        q.z[i] += 0.3f;
    }
    float ds[OUT * 3] = {0}, dz[OUT * 3] = {0}, dsf[OUT * 3] = {0};
    floe_wquant_backward(&q, W, g, dW, ds, dz);
    floe_wquant_codes(&q, W, codes);
    floe_wquant_frozen_backward(&q, codes, g, dsf);
    int clamped = 0;
    for (int rr = 0; rr < OUT; rr++)
        for (int c = 0; c < IN; c++) {
            int i = rr * IN + c, gi = floe_wquant_gi(&q, rr, c);
            float u = W[i] / q.s[gi], x = floorf(u + 0.5f) + floorf(q.z[gi] + 0.5f);
            int in = x >= 0.0f && x <= 7.0f;
            clamped += !in;
            assert_true(dW[i] == (in ? g[i] : 0.0f));
        }
    assert_true(clamped > 0);
    /* frozen-code gradient = d/ds of sum g * (q - round z) * s, exactly linear in s */
    for (int gi = 0; gi < OUT * q.groups; gi++) {
        double ref = 0.0;
        int rr = gi / q.groups, c0 = (gi % q.groups) * q.group;
        for (int c = c0; c < c0 + q.group; c++)
            ref += (double)g[rr * IN + c] * ((double)codes[rr * IN + c] - floor(q.z[gi] + 0.5));
        assert_true(fabs(ref - dsf[gi]) < 1e-4 * (1.0 + fabs(ref)));
        /* STE gradient = frozen gradient minus the in-range sum of g * u (u = w / s): in range the code
         * is round(u) + round(z) */
        double inr = 0.0;
        for (int c = c0; c < c0 + q.group; c++) {
            int i = rr * IN + c;
            float u = W[i] / q.s[gi], x = floorf(u + 0.5f) + floorf(q.z[gi] + 0.5f);
            if (x >= 0.0f && x <= 7.0f)
                inr += (double)g[i] * (double)u;
        }
        assert_true(fabs((dsf[gi] - inr) - ds[gi]) < 1e-3 * (1.0 + fabs(ds[gi])));
    }
    floe_wquant_free(&q);
}

static void test_refusals(void **state)
{
    (void)state;
    floe_wquant q;
    floe_err err;
    assert_int_equal(floe_wquant_init(&q, 4, 4, 1, 0, 0, &err), -1);
    assert_non_null(strstr(err.msg, "1 bits"));
    assert_int_equal(floe_wquant_init(&q, 4, 4, 4, -2, 0, &err), -1);
    assert_non_null(strstr(err.msg, "group"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_in_range_and_roundtrip),
        cmocka_unit_test(test_mse_init_not_worse),
        cmocka_unit_test(test_backward),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
