#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "isa/softmax.h"

static void test_table_reproducible_from_libm(void **state)
{
    (void)state;
    /* The committed table equals round_half_up(2^15 * 2^(-r/256)) from double precision, and every
     * entry is far from a rounding tie, so any correct exp2 reproduces it. */
    for (int r = 0; r < 256; r++) {
        double x = ldexp(exp2(-r / 256.0), 15);
        double fl = floor(x);
        assert_true(fabs((x - fl) - 0.5) > 1e-4);
        assert_int_equal(floe_exp2_table[r], (uint16_t)fl + ((x - fl) >= 0.5));
    }
}

static void test_exp2_exhaustive(void **state)
{
    (void)state;
    assert_int_equal(floe_exp2_neg(0), 32768);
    assert_int_equal(floe_exp2_neg(5), 32768); /* positive inputs saturate */
    assert_int_equal(floe_exp2_neg(-256), 16384);
    assert_int_equal(floe_exp2_neg(INT32_MIN), 0);
    uint32_t prev = 32768;
    for (int32_t x = 0; x >= -20 * 256; x--) {
        uint32_t y = floe_exp2_neg(x);
        assert_true(y <= prev); /* monotonic */
        prev = y;
        /* the definition, written out */
        uint32_t u = (uint32_t)-x, n = u >> 8, t = floe_exp2_table[u & 255];
        uint32_t want = n == 0 ? t : n >= 17 ? 0 : (t + (1u << (n - 1))) >> n;
        assert_int_equal(y, want);
        assert_true(fabs((double)y - ldexp(exp2(x / 256.0), 15)) <= 0.75);
    }
    assert_int_equal(floe_exp2_neg(-17 * 256), 0);
}

static void test_softmax_properties(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 21);
    int32_t z[300], z2[300];
    int16_t p[300], p2[300];
    for (int row = 0; row < 3000; row++) {
        size_t n = 1 + (size_t)floe_rng_below(&r, 300);
        int32_t shift = (int32_t)floe_rng_range(&r, -100000, 100000);
        for (size_t i = 0; i < n; i++) {
            z[i] = (int32_t)floe_rng_range(&r, -4000, 4000);
            z2[i] = z[i] + shift;
        }
        floe_softmax_row(p, z, n);
        floe_softmax_row(p2, z2, n);
        assert_memory_equal(p, p2, n * sizeof *p); /* invariant to a common shift */
        int64_t sum = 0;
        size_t imax = 0;
        for (size_t i = 0; i < n; i++) {
            assert_true(p[i] >= 0);
            sum += p[i];
            if (z[i] > z[imax])
                imax = i;
            for (size_t j = 0; j < n; j++) /* order-preserving */
                if (z[i] > z[j])
                    assert_true(p[i] >= p[j]);
        }
        assert_true(llabs(sum - 32768) <= (int64_t)n);
        assert_true(p[imax] > 0);
    }
    int32_t one = 123;
    floe_softmax_row(p, &one, 1);
    assert_int_equal(p[0], 32767); /* 1.0 saturates */
    int32_t flat[4] = {7, 7, 7, 7};
    floe_softmax_row(p, flat, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(p[i], 8192);
    int32_t extreme[3] = {INT32_MAX, INT32_MIN, 0};
    floe_softmax_row(p, extreme, 3);
    assert_int_equal(p[0], 32767);
    assert_int_equal(p[1], 0);
    assert_int_equal(p[2], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_reproducible_from_libm),
        cmocka_unit_test(test_exp2_exhaustive),
        cmocka_unit_test(test_softmax_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
