#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "isa/quantize.h"

static void test_round_half_up(void **state)
{
    (void)state;
    assert_int_equal(floe_round_clamp_f(0.5f, -100, 100), 1);
    assert_int_equal(floe_round_clamp_f(-0.5f, -100, 100), 0);
    assert_int_equal(floe_round_clamp_f(1.5f, -100, 100), 2);
    assert_int_equal(floe_round_clamp_f(-1.5f, -100, 100), -1);
    assert_int_equal(floe_round_clamp_f(2.5f, -100, 100), 3);
    assert_int_equal(floe_round_clamp_f(-2.5f, -100, 100), -2);
    assert_int_equal(floe_round_clamp_f(0.49999997f, -100, 100), 0); /* naive floorf(x + 0.5f) gives 1 */
    assert_int_equal(floe_round_clamp_d(0.49999999999999994, -100, 100), 0);
    assert_int_equal(floe_round_clamp_f(NAN, -8, 7), 0);
    assert_int_equal(floe_round_clamp_f(NAN, 1, 7), 1);
    assert_int_equal(floe_round_clamp_f(INFINITY, -8, 7), 7);
    assert_int_equal(floe_round_clamp_f(-INFINITY, -8, 7), -8);
    assert_int_equal(floe_round_clamp_f(1e30f, -8, 7), 7);
}

static void test_qrange(void **state)
{
    (void)state;
    int32_t lo, hi;
    assert_int_equal(floe_qrange(4, 1, &lo, &hi), 0);
    assert_int_equal(lo, -8);
    assert_int_equal(hi, 7);
    assert_int_equal(floe_qrange(8, 1, &lo, &hi), 0);
    assert_int_equal(lo, -128);
    assert_int_equal(hi, 127);
    assert_int_equal(floe_qrange(8, 0, &lo, &hi), 0);
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 255);
    assert_int_equal(floe_qrange(2, 1, &lo, &hi), 0);
    assert_int_equal(lo, -2);
    assert_int_equal(hi, 1);
    assert_int_equal(floe_qrange(1, 1, &lo, &hi), -1);
    assert_int_equal(floe_qrange(17, 1, &lo, &hi), -1);
}

static void test_matches_exact_reference(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 5);
    int32_t q[64];
    float v[64], vh[64];
    for (int t = 0; t < 20000; t++) {
        double frac = floe_rng_uniform(&r);
        float step = (float)ldexp(0.5 + frac, (int)floe_rng_range(&r, -10, 2));
        for (int i = 0; i < 64; i++)
            v[i] = (float)(floe_rng_normal(&r) * 100.0 * step);
        floe_quantize_array_f(q, v, 64, step, -128, 127);
        for (int i = 0; i < 64; i++) {
            float x = v[i] / step;
            /* exact: the integer nearest to x, ties up, then clamped */
            double want = floor((double)x + 0.5);
            want = want < -128 ? -128 : want > 127 ? 127 : want;
            assert_int_equal(q[i], (int32_t)want);
        }
        floe_dequantize_array_f(vh, q, 64, step);
        memcpy(v, vh, sizeof v);
        floe_fake_quantize_array_f(v, 64, step, -128, 127); /* idempotent on the grid */
        assert_memory_equal(v, vh, sizeof v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_half_up),
        cmocka_unit_test(test_qrange),
        cmocka_unit_test(test_matches_exact_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
