/* F16 and BF16 conversions: exhaustive over all 65536 bit patterns, against an independent ldexp
 * definition, and round-to-nearest-even on ties. */
#include "tests/test_util.h"

#include <math.h>

#include "models/half.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float from(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_f16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        float f = floe_f16_to_f32((uint16_t)h);
        if (e == 31) {
            if (m == 0)
                assert_true(isinf(f) && (s ? f < 0 : f > 0));
            else {
                assert_true(isnan(f));
                assert_true(isnan(floe_f16_to_f32(floe_f32_to_f16(f))));
            }
            continue;
        }
        double want = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
        if (s)
            want = -want;
        if ((double)f != want || (bits(f) >> 31) != (uint32_t)s)
            fail_msg("f16 %04x -> %.9g, want %.9g", h, (double)f, want);
        if (floe_f32_to_f16(f) != h)
            fail_msg("f16 %04x does not round-trip (got %04x)", h, floe_f32_to_f16(f));
    }
}

static void test_f16_rounding(void **state)
{
    (void)state;
    assert_int_equal(floe_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(floe_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(floe_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(floe_f32_to_f16(65520.0f), 0x7c00); /* ties to even -> overflow */
    assert_int_equal(floe_f32_to_f16(-1e10f), 0xfc00);
    assert_int_equal(floe_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);          /* tie, even stays */
    assert_int_equal(floe_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);      /* tie, odd rounds up */
    assert_int_equal(floe_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01); /* above the tie */
    assert_int_equal(floe_f32_to_f16(0x1p-24f), 0x0001);                 /* smallest subnormal */
    assert_int_equal(floe_f32_to_f16(0x1p-25f), 0x0000);                 /* tie with zero */
    assert_int_equal(floe_f32_to_f16(0x1.8p-25f), 0x0001);
    assert_int_equal(floe_f32_to_f16(0x1.8p-24f), 0x0002);               /* 1.5 units: tie -> even 2 */
    assert_int_equal(floe_f32_to_f16(0x1.ffcp-15f), 0x0400); /* tie above the largest subnormal (odd) -> 2^-14 */
    assert_int_equal(floe_f32_to_f16(0x1.ff8p-15f), 0x03ff);
    assert_int_equal(floe_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(floe_f32_to_f16(from(0x7fc00000u)) & 0x7e00, 0x7e00);
    /* Every float rounds to one of its two f16 neighbours, the nearer one. */
    for (uint32_t u = 0x33000000u; u < 0x47800000u; u += 4099) {
        float f = from(u);
        uint16_t h = floe_f32_to_f16(f);
        double got = floe_f16_to_f32(h);
        if (h < 0x7c00) {
            double lo = floe_f16_to_f32((uint16_t)(h ? h - 1 : 0)), hi = floe_f16_to_f32((uint16_t)(h + 1));
            assert_true(fabs(got - f) <= fabs(lo - f) && fabs(got - f) <= fabs(hi - f));
        }
    }
}

static void test_bf16(void **state)
{
    (void)state;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = floe_bf16_to_f32((uint16_t)b);
        assert_int_equal(bits(f), b << 16);
        if (isnan(f))
            assert_true(isnan(floe_bf16_to_f32(floe_f32_to_bf16(f))));
        else
            assert_int_equal(floe_f32_to_bf16(f), b);
    }
    assert_int_equal(floe_f32_to_bf16(from(0x3f808000u)), 0x3f80); /* tie, even stays */
    assert_int_equal(floe_f32_to_bf16(from(0x3f818000u)), 0x3f82); /* tie, odd rounds up */
    assert_int_equal(floe_f32_to_bf16(from(0x3f808001u)), 0x3f81);
    assert_int_equal(floe_f32_to_bf16(from(0x7f7fffffu)), 0x7f80); /* overflow -> inf */
    assert_int_equal(floe_f32_to_bf16(from(0x7f800001u)) & 0x7fc0, 0x7fc0); /* NaN stays NaN */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test(test_f16_rounding),
        cmocka_unit_test(test_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
