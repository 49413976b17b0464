/* The memory layout of elements: every value of every narrow type, agreement with floe_pack_i4, and
 * stores that leave neighbours alone. */
#include "tests/test_util.h"

#include "isa/elem.h"
#include "isa/insn.h"
#include "isa/saturate.h"

static void test_every_value(void **state)
{
    (void)state;
    for (int dt = FLOE_DT_I2; dt <= FLOE_DT_I16; dt++) {
        int bits = floe_dtype_bits((floe_dtype)dt);
        for (int32_t v = -(1 << (bits - 1)); v < (1 << (bits - 1)); v++)
            for (size_t i = 0; i < 8; i++) {
                uint8_t buf[16];
                memset(buf, 0xA5, sizeof buf);
                uint8_t before[16];
                memcpy(before, buf, sizeof buf);
                floe_elem_store(buf, (floe_dtype)dt, i, v);
                assert_int_equal(floe_elem_load(buf, (floe_dtype)dt, i), v);
                /* the other elements are unchanged */
                for (size_t j = 0; j < 8; j++)
                    if (j != i)
                        assert_int_equal(floe_elem_load(buf, (floe_dtype)dt, j), floe_elem_load(before, (floe_dtype)dt, j));
            }
    }
    uint8_t b[4];
    floe_elem_store(b, FLOE_DT_I32, 0, INT32_MIN);
    assert_int_equal(floe_elem_load(b, FLOE_DT_I32, 0), INT32_MIN);
    assert_int_equal(b[3], 0x80);
}

static void test_int4_matches_pack(void **state)
{
    (void)state;
    for (int lo = -8; lo < 8; lo++)
        for (int hi = -8; hi < 8; hi++) {
            uint8_t byte = floe_pack_i4((int8_t)lo, (int8_t)hi);
            assert_int_equal(floe_elem_load(&byte, FLOE_DT_I4, 0), lo);
            assert_int_equal(floe_elem_load(&byte, FLOE_DT_I4, 1), hi);
        }
    uint8_t i2 = 0xE4; /* elements 0, 1, -2, -1 */
    assert_int_equal(floe_elem_load(&i2, FLOE_DT_I2, 0), 0);
    assert_int_equal(floe_elem_load(&i2, FLOE_DT_I2, 1), 1);
    assert_int_equal(floe_elem_load(&i2, FLOE_DT_I2, 2), -2);
    assert_int_equal(floe_elem_load(&i2, FLOE_DT_I2, 3), -1);
    uint8_t i16[2] = {0x34, 0x82};
    assert_int_equal(floe_elem_load(i16, FLOE_DT_I16, 0), (int16_t)0x8234);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_value),
        cmocka_unit_test(test_int4_matches_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
