#include "tests/test_util.h"

#include <math.h>

#include "isa/lut.h"
#include "isa/silu.h"

static double identity(double x, const void *ctx)
{
    (void)ctx;
    return x;
}

static double cube(double x, const void *ctx)
{
    (void)ctx;
    return x * x * x;
}

static void test_lut8_exhaustive(void **state)
{
    (void)state;
    floe_lut8 t;
    floe_lut8_build(&t, identity, NULL, 1.0, 1.0, 16);
    for (int x = -128; x < 128; x++)
        assert_int_equal(floe_lut8_apply(&t, (int8_t)x), x);
    floe_lut8_build(&t, cube, NULL, 1.0, 1.0, 16); /* saturates to int16 */
    assert_int_equal(floe_lut8_apply(&t, 127), 32767);
    assert_int_equal(floe_lut8_apply(&t, -128), -32768);
    assert_int_equal(floe_lut8_apply(&t, 10), 1000);
    floe_silu_lut8_build(&t, 1.0 / 16, 1.0 / 4096, 16);
    for (int x = -128; x < 128; x++) {
        double want = floe_silu_ref(x / 16.0) * 4096;
        assert_true(fabs(floe_lut8_apply(&t, (int8_t)x) - want) <= 0.5);
    }
    floe_silu_lut8_build(&t, 1.0 / 16, 1.0 / 16, 8); /* int8 output range */
    for (int x = -128; x < 128; x++)
        assert_true(floe_lut8_apply(&t, (int8_t)x) >= -128 && floe_lut8_apply(&t, (int8_t)x) <= 127);
}

static void test_lut16_definition_exhaustive(void **state)
{
    (void)state;
    floe_lut16 t;
    floe_silu_lut16_build(&t, 1.0 / 2048, 1.0 / 2048, 16);
    for (int x = -32768; x < 32768; x++) {
        /* the interpolation written out in 64-bit with explicit floor */
        int64_t u = x + 32768, k = u / 256, f = u % 256;
        int64_t d = (int64_t)t.v[k + 1] - t.v[k];
        int64_t num = d * f + 128;
        int64_t fl = num >= 0 ? num / 256 : -((-num + 255) / 256);
        int64_t y = t.v[k] + fl;
        y = y < -32768 ? -32768 : y > 32767 ? 32767 : y;
        int32_t got = floe_lut16_apply(&t, (int16_t)x);
        assert_int_equal(got, y);
        assert_true(fabs(got - floe_silu_ref(x / 2048.0) * 2048) <= 2.0);
    }
    /* linear functions are reproduced exactly between knots */
    floe_lut16_build(&t, identity, NULL, 1.0 / 4, 1.0 / 4, 16);
    for (int x = -32768; x < 32768; x += 13)
        assert_int_equal(floe_lut16_apply(&t, (int16_t)x), x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lut8_exhaustive),
        cmocka_unit_test(test_lut16_definition_exhaustive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
