#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "isa/requant.h"

__extension__ typedef __int128 i128;

/* floor(a / 2^s) on 128-bit integers, written without shifts of negative values */
static i128 floor_div_pow2(i128 a, int s)
{
    i128 d = (i128)1 << s;
    i128 q = a / d;
    if (a % d != 0 && a < 0)
        q -= 1;
    return q;
}

static void test_arithmetic_shift_is_floor(void **state)
{
    (void)state;
    /* the requant code relies on >> of a negative int64 being floor division */
    for (int64_t a = -1000; a <= 1000; a++)
        for (int s = 0; s < 12; s++)
            assert_true((a >> s) == (int64_t)floor_div_pow2(a, s));
}

static void test_exact_rounding_property(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 1);
    for (int i = 0; i < 500000; i++) {
        floe_requant_mult q;
        q.m = (int32_t)floe_rng_range(&r, 0, INT32_MAX);
        q.shift = (int32_t)floe_rng_range(&r, 0, 62);
        int32_t acc = (int32_t)floe_rng_u64(&r);
        if (i < 1000)
            acc = i & 1 ? INT32_MIN : INT32_MAX;
        int64_t got = floe_requant_raw(acc, q);
        i128 p = (i128)acc * q.m;
        /* definition: floor((acc*m + 2^(s-1)) / 2^s) */
        i128 want = q.shift ? floor_div_pow2(p + ((i128)1 << (q.shift - 1)), q.shift) : p;
        assert_true(got == (int64_t)want);
        /* within half an LSB of the exact rational, ties upwards */
        i128 twice_err = 2 * ((i128)got * ((i128)1 << q.shift)) - 2 * p; /* 2^(s+1) * (got - exact) */
        i128 half = (i128)1 << q.shift;
        assert_true(twice_err <= half && twice_err > -half);
    }
}

static void test_monotonic_and_saturation(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 2);
    for (int t = 0; t < 200; t++) {
        floe_requant_mult q;
        q.m = (int32_t)floe_rng_range(&r, 1 << 30, INT32_MAX);
        q.shift = (int32_t)floe_rng_range(&r, 20, 40);
        int32_t prev = INT32_MIN;
        int32_t start = (int32_t)floe_rng_range(&r, INT32_MIN, INT32_MAX - 200000);
        for (int32_t a = start; a < start + 200000; a += 7) {
            int32_t y = floe_requant(a, q, -128, 127);
            assert_true(y >= prev);
            assert_true(y >= -128 && y <= 127);
            prev = y;
        }
    }
    floe_requant_mult one = {1 << 30, 30};
    assert_int_equal(floe_requant(1000, one, -128, 127), 127);
    assert_int_equal(floe_requant(-1000, one, -128, 127), -128);
    assert_int_equal(floe_requant(INT32_MIN, one, -128, 127), -128);
    assert_int_equal(floe_requant(INT32_MAX, one, -128, 127), 127);
    assert_int_equal(floe_requant_bits(-9, one, 4), -8);
    assert_int_equal(floe_requant_bits(8, one, 4), 7);
    /* ties go up: 3 * 0.5 = 1.5 -> 2, -3 * 0.5 = -1.5 -> -1 */
    floe_requant_mult half = {1 << 30, 31};
    assert_int_equal(floe_requant_raw(3, half), 2);
    assert_int_equal(floe_requant_raw(-3, half), -1);
    assert_int_equal(floe_requant_raw(-1, half), 0);
}

static void test_from_real(void **state)
{
    (void)state;
    floe_requant_mult q;
    assert_int_equal(floe_requant_mult_from_real(1.0, &q), 0);
    assert_int_equal(q.m, 1 << 30);
    assert_int_equal(q.shift, 30);
    assert_int_equal(floe_requant_mult_from_real(0.0, &q), 0);
    assert_int_equal(q.m, 0);
    assert_int_equal(floe_requant_mult_from_real(-1.0, &q), -1);
    assert_int_equal(floe_requant_mult_from_real(NAN, &q), -1);
    assert_int_equal(floe_requant_mult_from_real(INFINITY, &q), -1);
    assert_int_equal(floe_requant_mult_from_real(0x1p31, &q), -1);
    assert_int_equal(floe_requant_mult_from_real(0x1.fffffp30, &q), 0);
    assert_int_equal(q.shift, 0);
    /* rounding up into 2^31 renormalises */
    assert_int_equal(floe_requant_mult_from_real(1.0 - 0x1p-40, &q), 0);
    assert_int_equal(q.m, 1 << 30);
    assert_int_equal(q.shift, 30);
    /* tiny multipliers denormalise at shift 62 */
    assert_int_equal(floe_requant_mult_from_real(0x1p-40, &q), 0);
    assert_int_equal(q.shift, 62);
    assert_int_equal(q.m, 1 << 22);
    assert_int_equal(floe_requant_mult_from_real(0x1p-70, &q), 0);
    assert_int_equal(q.m, 0);
    /* relative error below 2^-31 over a wide range */
    floe_rng r;
    floe_rng_seed(&r, 3);
    for (int i = 0; i < 100000; i++) {
        double frac = floe_rng_uniform(&r);
        double M = ldexp(1.0 + frac, (int)floe_rng_range(&r, -31, 29));
        assert_int_equal(floe_requant_mult_from_real(M, &q), 0);
        assert_true(q.m >= (1 << 30));
        assert_true(fabs(floe_requant_mult_to_real(q) - M) <= M * 0x1p-31);
    }
}

static void test_mult_mul(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 4);
    for (int i = 0; i < 200000; i++) {
        floe_requant_mult a, b;
        a.m = (int32_t)floe_rng_range(&r, 0, INT32_MAX);
        a.shift = (int32_t)floe_rng_range(&r, 0, 62);
        b.m = (int32_t)floe_rng_range(&r, 0, INT32_MAX);
        b.shift = (int32_t)floe_rng_range(&r, 0, 62);
        floe_requant_mult c = floe_requant_mult_mul(a, b);
        assert_true(c.m >= 0 && c.shift >= 0 && c.shift <= 62);
        long double exact = ldexpl((long double)a.m * b.m, -(a.shift + b.shift));
        long double got = ldexpl(c.m, -c.shift);
        if (c.m == INT32_MAX && c.shift == 0) {
            assert_true(exact >= 0x1p31L - 1);
            continue;
        }
        /* one rounding: within half an LSB of c's own mantissa */
        assert_true(fabsl(got - exact) <= ldexpl(0.5L, -c.shift) * (1 + 1e-15L));
        if (c.shift < 62 && c.m != 0)
            assert_true(c.m >= (1 << 30)); /* normalised unless denormal */
    }
    floe_requant_mult one = {1 << 30, 30}, half = {1 << 30, 31};
    floe_requant_mult c = floe_requant_mult_mul(one, half);
    assert_int_equal(c.m, 1 << 30);
    assert_int_equal(c.shift, 31);
}

static void test_matrix_per_channel(void **state)
{
    (void)state;
    int32_t acc[6] = {100, 200, 300, -100, -200, -300};
    floe_requant_mult m[3] = {{1 << 30, 31}, {1 << 30, 32}, {1 << 30, 33}};
    int32_t out[6];
    floe_requant_matrix(out, acc, 2, 3, m, 1, -128, 127);
    int32_t want[6] = {50, 50, 38, -50, -50, -37};
    assert_memory_equal(out, want, sizeof want);
    floe_requant_matrix(out, acc, 2, 3, m, 0, -128, 127);
    int32_t want1[6] = {50, 100, 127, -50, -100, -128};
    assert_memory_equal(out, want1, sizeof want1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arithmetic_shift_is_floor),
        cmocka_unit_test(test_exact_rounding_property),
        cmocka_unit_test(test_monotonic_and_saturation),
        cmocka_unit_test(test_from_real),
        cmocka_unit_test(test_mult_mul),
        cmocka_unit_test(test_matrix_per_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
