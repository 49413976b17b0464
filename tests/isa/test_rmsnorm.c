#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "isa/recip.h"
#include "isa/rmsnorm.h"

static void test_definition(void **state)
{
    (void)state;
    /* the steps of docs/numerics.md, written out */
    floe_rng r;
    floe_rng_seed(&r, 41);
    enum { D = 96 };
    int16_t q[D];
    int32_t y[D];
    floe_requant_mult c[D];
    for (int row = 0; row < 2000; row++) {
        for (int i = 0; i < D; i++) {
            q[i] = (int16_t)floe_rng_range(&r, -32768, 32767);
            floe_requant_mult_from_real(1.0 + 100.0 * floe_rng_uniform(&r), &c[i]);
        }
        uint64_t eq = 1 + floe_rng_below(&r, 1000);
        int per_channel = row & 1;
        floe_rmsnorm_row(y, q, D, eq, c, per_channel, -128, 127);
        uint64_t s = eq;
        for (int i = 0; i < D; i++)
            s += (uint64_t)((int64_t)q[i] * q[i]);
        floe_requant_mult rs = floe_rsqrt_u64(s);
        for (int i = 0; i < D; i++) {
            floe_requant_mult m = floe_requant_mult_mul(rs, c[per_channel ? i : 0]);
            assert_int_equal(y[i], floe_requant(q[i], m, -128, 127));
        }
    }
}

static void test_accuracy_against_real_rmsnorm(void **state)
{
    (void)state;
    floe_rng r;
    floe_rng_seed(&r, 42);
    enum { D = 128 };
    int16_t q[D];
    int32_t y[D];
    double s_x = 1.0 / 512, s_y = 3.0 / 127, eps = 1e-5;
    floe_requant_mult c;
    assert_int_equal(floe_requant_mult_from_real(sqrt((double)D) / s_y, &c), 0);
    uint64_t eq = floe_rmsnorm_eps_q(eps, D, s_x);
    assert_int_equal(eq, (uint64_t)floor(eps * D * 512 * 512 + 0.5));
    for (int row = 0; row < 1000; row++) {
        int amp = (int)floe_rng_range(&r, 64, 32767);
        double ss = 0;
        for (int i = 0; i < D; i++) {
            q[i] = (int16_t)floe_rng_range(&r, -amp, amp);
            ss += (q[i] * s_x) * (q[i] * s_x);
        }
        floe_rmsnorm_row(y, q, D, eq, &c, 0, -128, 127);
        double inv = 1.0 / sqrt(ss / D + eps);
        for (int i = 0; i < D; i++) {
            double want = fmax(-128, fmin(127, q[i] * s_x * inv / s_y));
            assert_true(fabs(y[i] - want) <= 0.5 + 1e-3);
        }
    }
    assert_int_equal(floe_rmsnorm_eps_q(0.0, 10, 1.0), 1); /* never zero: rsqrt(0) is not a number */
    assert_int_equal(floe_rmsnorm_eps_q(1e30, 10, 1e-30), (uint64_t)1 << 62);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_definition),
        cmocka_unit_test(test_accuracy_against_real_rmsnorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
