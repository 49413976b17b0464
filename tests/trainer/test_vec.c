#include "tests/trainer/trainer_test.h"

#include "trainer/vec.h"

/* floe_expf against exp in double at 2^19 + 1 evenly spaced points of [-87, 88] (an exhaustive run
 * over every float there gave a maximum of 1.03e-7, at x = 59.265), and its clamping outside. */
static void test_expf(void **state)
{
    (void)state;
    double worst = 0;
    const int n = 1 << 19;
    for (int k = 0; k <= n; k++) {
        float x = (float)(-87.0 + 175.0 * k / n);
        double e = exp((double)x);
        worst = fmax(worst, fabs((double)floe_expf(x) - e) / e);
    }
    assert_true(worst < 2e-7);
    assert_true(floe_expf(0.0f) == 1.0f);
    /* Clamped, finite, monotone at the ends. */
    assert_true(floe_expf(-1000.0f) == floe_expf(-87.0f) && floe_expf(-87.0f) > 0.0f);
    assert_true(floe_expf(1000.0f) == floe_expf(88.0f) && isfinite(floe_expf(88.0f)));
    assert_true(floe_expf(-INFINITY) == floe_expf(-87.0f));
    assert_true(isnan(floe_expf(NAN))); /* a diverged run stays visible (and UBSan-clean) */
}

/* Reductions: close to double, and the same bits whatever the alignment of the data in memory
 * (the lane of an element depends on its index only). */
static void test_reductions(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 4);
    float buf[301], a[300], b[300], c[300];
    rand_fill(a, 300, &r, 1.0);
    rand_fill(b, 300, &r, 1.0);
    rand_fill(c, 300, &r, 1.0);
    for (int n = 1; n <= 300; n += 7) {
        double d = 0, d3 = 0, s = 0, m = -INFINITY;
        for (int i = 0; i < n; i++) {
            d += (double)a[i] * b[i];
            d3 += (double)a[i] * b[i] * c[i];
            s += a[i];
            m = fmax(m, a[i]);
        }
        assert_true(fabs(floe_dot(a, b, n) - d) < 1e-5 * n);
        assert_true(fabs(floe_dot3(a, b, c, n) - d3) < 1e-5 * n);
        assert_true(fabs(floe_sum(a, n) - s) < 1e-5 * n);
        assert_true(floe_max(a, n) == (float)m);
        memcpy(buf + 1, a, (size_t)n * sizeof(float)); /* misaligned copy */
        float x = floe_sum(a, n), y = floe_sum(buf + 1, n);
        assert_memory_equal(&x, &y, sizeof x);
    }
}

/* floe_split: parts tile [0, n) in order, cut at multiples of align. */
static void test_split(void **state)
{
    (void)state;
    const int ns[] = {0, 1, 31, 32, 33, 144, 1000, 1024};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
        for (int parts = 1; parts <= 5; parts++) {
            int next = 0;
            for (int p = 0; p < parts; p++) {
                int lo, hi;
                floe_split(ns[k], parts, p, 32, &lo, &hi);
                assert_int_equal(lo, next);
                assert_true(hi >= lo && hi <= ns[k]);
                assert_true(lo % 32 == 0 || lo == ns[k]);
                next = hi;
            }
            assert_int_equal(next, ns[k]);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expf),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
