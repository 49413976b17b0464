#include "tests/test_util.h"

#include "isa/saturate.h"

static void test_saturating_casts(void **state)
{
    (void)state;
    for (int64_t v = -70000; v <= 70000; v++) {
        int64_t e4 = v < -8 ? -8 : v > 7 ? 7 : v;
        int64_t e8 = v < -128 ? -128 : v > 127 ? 127 : v;
        int64_t e16 = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
        assert_int_equal(floe_sat_i4(v), e4);
        assert_int_equal(floe_sat_i8(v), e8);
        assert_int_equal(floe_sat_i16(v), e16);
    }
    assert_int_equal(floe_sat_i32(INT64_MAX), INT32_MAX);
    assert_int_equal(floe_sat_i32(INT64_MIN), INT32_MIN);
    assert_int_equal(floe_sat_i32((int64_t)INT32_MAX + 1), INT32_MAX);
    assert_int_equal(floe_sat_i32(-5), -5);
    for (int bits = 2; bits <= 32; bits++) {
        int64_t hi = ((int64_t)1 << (bits - 1)) - 1;
        assert_int_equal(floe_sat_bits(INT64_MAX, bits), hi);
        assert_int_equal(floe_sat_bits(INT64_MIN, bits), -hi - 1);
        assert_int_equal(floe_sat_bits(hi, bits), hi);
        assert_int_equal(floe_sat_bits(-hi - 1, bits), -hi - 1);
    }
    assert_int_equal(floe_clamp_i32(5, 0, 3), 3);
    assert_int_equal(floe_clamp_i32(-5, 0, 3), 0);
}

static void test_int4_pack_exhaustive(void **state)
{
    (void)state;
    /* every pair of int4 values round-trips, and every byte unpacks to its two nibbles */
    for (int lo = -8; lo <= 7; lo++)
        for (int hi = -8; hi <= 7; hi++) {
            uint8_t b = floe_pack_i4((int8_t)lo, (int8_t)hi);
            assert_int_equal(floe_unpack_i4_lo(b), lo);
            assert_int_equal(floe_unpack_i4_hi(b), hi);
            assert_int_equal(b, (uint8_t)((lo & 15) | ((hi & 15) << 4)));
        }
    for (int b = 0; b < 256; b++)
        assert_int_equal(floe_pack_i4(floe_unpack_i4_lo((uint8_t)b), floe_unpack_i4_hi((uint8_t)b)), b);
}

static void test_int4_arrays(void **state)
{
    (void)state;
    int8_t src[7] = {-8, 7, 3, -1, 100, -100, 5}; /* out-of-range values saturate */
    uint8_t packed[4];
    int8_t back[7];
    floe_pack_i4_array(packed, src, 7);
    assert_int_equal(packed[3] >> 4, 0); /* odd tail: high nibble zero */
    floe_unpack_i4_array(back, packed, 7);
    int8_t expect[7] = {-8, 7, 3, -1, 7, -8, 5};
    assert_memory_equal(back, expect, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saturating_casts),
        cmocka_unit_test(test_int4_pack_exhaustive),
        cmocka_unit_test(test_int4_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
