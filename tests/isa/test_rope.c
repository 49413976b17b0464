#include "tests/test_util.h"

#include <math.h>

#include "common/rng.h"
#include "isa/rope.h"

static void test_tables_and_identity(void **state)
{
    (void)state;
    floe_rope_table t;
    floe_err err;
    assert_int_equal(floe_rope_table_build(&t, 128, 16, 10000.0, &err), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(t.cos[i], 16384); /* position 0: no rotation */
        assert_int_equal(t.sin[i], 0);
    }
    for (int p = 0; p < 128; p++)
        for (int i = 0; i < 8; i++) {
            double a = p * pow(10000.0, -(2.0 * i) / 16);
            assert_true(fabs(t.cos[p * 8 + i] - cos(a) * 16384) <= 0.5);
            assert_true(fabs(t.sin[p * 8 + i] - sin(a) * 16384) <= 0.5);
        }
    int16_t x[16], x0[16];
    for (int i = 0; i < 16; i++)
        x0[i] = x[i] = (int16_t)(i * 1000 - 8000);
    floe_rope_rotate_i16(x, &t, 0);
    assert_memory_equal(x, x0, sizeof x);
    floe_rope_table_free(&t);
}

static void test_rotation_accuracy_and_saturation(void **state)
{
    (void)state;
    floe_rope_table t;
    assert_int_equal(floe_rope_table_build(&t, 256, 64, 10000.0, NULL), 0);
    floe_rng r;
    floe_rng_seed(&r, 31);
    int16_t x[64], o[64];
    for (int it = 0; it < 3000; it++) {
        int pos = (int)floe_rng_below(&r, 256);
        for (int i = 0; i < 64; i++)
            o[i] = x[i] = (int16_t)floe_rng_range(&r, -16384, 16383);
        floe_rope_rotate_i16(x, &t, pos);
        for (int i = 0; i < 32; i++) {
            double a = pos * pow(10000.0, -(2.0 * i) / 64);
            assert_true(fabs(x[i] - (o[i] * cos(a) - o[i + 32] * sin(a))) <= 2.0);
            assert_true(fabs(x[i + 32] - (o[i + 32] * cos(a) + o[i] * sin(a))) <= 2.0);
        }
    }
    /* a rotation of a full-scale vector by 45 degrees would exceed int16: saturates */
    for (int i = 0; i < 64; i++)
        x[i] = 32767;
    floe_rope_rotate_i16(x, &t, 1); /* frequency 0 rotates by 1 rad: |cos + sin| > 1 */
    assert_int_equal(x[32], 32767);
    floe_rope_table_free(&t);
}

static void test_errors(void **state)
{
    (void)state;
    floe_rope_table t;
    floe_err err;
    assert_int_equal(floe_rope_table_build(&t, 16, 7, 10000.0, &err), -1);
    assert_non_null(strstr(err.msg, "head_dim"));
    assert_int_equal(floe_rope_table_build(&t, 0, 8, 10000.0, &err), -1);
    assert_non_null(strstr(err.msg, "positions"));
    assert_int_equal(floe_rope_table_build(&t, 16, 8, 0.5, &err), -1);
    assert_non_null(strstr(err.msg, "theta"));
    floe_rope_table_free(&t); /* safe after a failed build */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_and_identity),
        cmocka_unit_test(test_rotation_accuracy_and_saturation),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
